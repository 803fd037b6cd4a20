//! Per-source run locks kept in the lake, so overlapping runs (cron firing twice, two
//! schedulers) never load the same source at once, and a lock left by a killed run is taken
//! over safely.
//!
//! A lock is a sequence of files `_revline/locks/<source>/<n>.json`, each created with a
//! create-if-absent put (a conditional put on object stores). The newest file says who holds
//! the lock. Taking it means creating file `n + 1`, which only one contender can do; a holder
//! whose lock was taken over finds file `n + 1` when it checks before committing (fencing).
//! A holder refreshes its heartbeat; a lock is stale when the heartbeat is old, or when the
//! holder ran on this host and its process is gone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Who holds (or held) a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The run holding it.
    pub run_id: String,
    /// Pipeline name from the config.
    pub pipeline: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Start time of that process (clock ticks since boot on Linux), to tell reused pids apart.
    pub pid_start: Option<u64>,
    /// When the lock was taken.
    pub acquired_at: DateTime<Utc>,
    /// Last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// Set when the holder released it.
    pub released: bool,
}

/// Why a lock is free to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vacancy {
    /// Never taken.
    Free,
    /// Released by its holder.
    Released,
    /// The holder's process is gone (same host).
    HolderGone,
    /// No heartbeat for longer than the stale timeout.
    HeartbeatExpired,
}

/// This process's identity for locks.
pub fn this_process() -> (String, u32, Option<u64>) {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string());
    let pid = std::process::id();
    (host, pid, process_start(pid))
}

/// Start time of a process (field 22 of /proc/PID/stat), if readable.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

impl LockInfo {
    /// Whether the lock can be taken now, and why.
    pub fn vacancy(&self, now: DateTime<Utc>, stale_after: Duration) -> Option<Vacancy> {
        if self.released {
            return Some(Vacancy::Released);
        }
        let (host, _, _) = this_process();
        if self.host == host && std::path::Path::new("/proc/self").exists() {
            let alive = process_start(self.pid)
                .is_some_and(|start| self.pid_start.is_none_or(|s| s == start));
            if !alive {
                return Some(Vacancy::HolderGone);
            }
        }
        let age = now.signed_duration_since(self.heartbeat_at);
        if age.to_std().is_ok_and(|a| a > stale_after) {
            return Some(Vacancy::HeartbeatExpired);
        }
        None
    }
}

/// A held lock on one source.
#[derive(Debug)]
pub struct SourceLock {
    store: Arc<dyn ObjectStore>,
    dir: Path,
    source: String,
    seq: u64,
    info: LockInfo,
    /// How the lock was obtained (for logs).
    pub taken_over: Option<(Vacancy, LockInfo)>,
}

fn seq_path(dir: &Path, seq: u64) -> Path {
    dir.clone().join(format!("{seq:020}.json"))
}

async fn latest(store: &dyn ObjectStore, dir: &Path) -> Result<Option<(u64, LockInfo)>> {
    let entries: Vec<_> = store
        .list(Some(dir))
        .try_collect()
        .await
        .map_err(|e| Error::lake("cannot list locks").with_source(e))?;
    let Some(seq) = entries
        .iter()
        .filter_map(|m| {
            m.location
                .filename()?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
    else {
        return Ok(None);
    };
    let bytes = store
        .get(&seq_path(dir, seq))
        .await
        .map_err(|e| Error::lake("cannot read a lock").with_source(e))?
        .bytes()
        .await
        .map_err(|e| Error::lake("cannot read a lock").with_source(e))?;
    let info: LockInfo = serde_json::from_slice(&bytes).map_err(|e| {
        Error::lake(format!("lock file {} is not readable", seq_path(dir, seq))).with_source(e)
    })?;
    Ok(Some((seq, info)))
}

/// An error telling the user another run holds `source`.
fn held(source: &str, by: &LockInfo) -> Error {
    Error::new(
        ErrorKind::Locked,
        format!(
            "source `{source}` is being loaded by run {} (pipeline `{}`, pid {} on {}, since {}, last heartbeat {}); \
             not starting an overlapping run",
            by.run_id,
            by.pipeline,
            by.pid,
            by.host,
            by.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
            by.heartbeat_at.format("%H:%M:%S UTC"),
        ),
    )
}

impl SourceLock {
    /// Takes the lock of `source`, or fails with [`ErrorKind::Locked`] naming the holder.
    pub async fn acquire(
        store: Arc<dyn ObjectStore>,
        source: &str,
        run_id: &str,
        pipeline: &str,
        stale_after: Duration,
    ) -> Result<SourceLock> {
        let dir = Path::from(format!("_revline/locks/{source}"));
        let (host, pid, pid_start) = this_process();
        for _ in 0..5 {
            let now = Utc::now();
            let current = latest(store.as_ref(), &dir).await?;
            let (next, taken_over) = match &current {
                None => (1, None),
                Some((seq, info)) => match info.vacancy(now, stale_after) {
                    Some(v) => (seq + 1, (v != Vacancy::Released).then(|| (v, info.clone()))),
                    None => return Err(held(source, info)),
                },
            };
            let info = LockInfo {
                run_id: run_id.to_string(),
                pipeline: pipeline.to_string(),
                host: host.clone(),
                pid,
                pid_start,
                acquired_at: now,
                heartbeat_at: now,
                released: false,
            };
            let body = serde_json::to_vec_pretty(&info).expect("lock serializes");
            let put = store
                .put_opts(
                    &seq_path(&dir, next),
                    PutPayload::from(body),
                    PutOptions {
                        mode: PutMode::Create,
                        ..Default::default()
                    },
                )
                .await;
            match put {
                Ok(_) => {
                    if let Some((why, prev)) = &taken_over {
                        tracing::warn!(
                            source,
                            previous_run = %prev.run_id,
                            reason = ?why,
                            "took over a stale lock left by an interrupted run"
                        );
                    }
                    let lock = SourceLock {
                        store,
                        dir,
                        source: source.to_string(),
                        seq: next,
                        info,
                        taken_over,
                    };
                    lock.prune().await;
                    return Ok(lock);
                }
                // Someone else created the same sequence number first: look again.
                Err(object_store::Error::AlreadyExists { .. }) => continue,
                Err(e) => {
                    return Err(
                        Error::lake(format!("cannot take the lock of `{source}`")).with_source(e)
                    );
                }
            }
        }
        match latest(store.as_ref(), &dir).await? {
            Some((_, info)) => Err(held(source, &info)),
            None => Err(Error::lake(format!("cannot take the lock of `{source}`"))),
        }
    }

    /// Fails if another run took the lock over (call before each commit).
    pub async fn check(&self) -> Result<()> {
        match latest(self.store.as_ref(), &self.dir).await? {
            Some((seq, _)) if seq == self.seq => Ok(()),
            Some((_, info)) => Err(Error::new(
                ErrorKind::Locked,
                format!(
                    "the lock of `{}` was taken over by run {} (this run's heartbeat was too old); stopping without committing",
                    self.source, info.run_id
                ),
            )),
            None => Err(Error::new(
                ErrorKind::Locked,
                format!("the lock of `{}` disappeared", self.source),
            )),
        }
    }

    /// Refreshes the heartbeat (only while this run still holds the lock).
    pub async fn heartbeat(&mut self) -> Result<()> {
        self.check().await?;
        self.info.heartbeat_at = Utc::now();
        self.write().await
    }

    /// Releases the lock.
    pub async fn release(&mut self) -> Result<()> {
        if self.check().await.is_err() {
            return Ok(()); // not ours any more
        }
        self.info.released = true;
        self.info.heartbeat_at = Utc::now();
        self.write().await
    }

    async fn write(&self) -> Result<()> {
        let body = serde_json::to_vec_pretty(&self.info).expect("lock serializes");
        self.store
            .put(&seq_path(&self.dir, self.seq), PutPayload::from(body))
            .await
            .map(|_| ())
            .map_err(|e| {
                Error::lake(format!("cannot write the lock of `{}`", self.source)).with_source(e)
            })
    }

    /// Deletes lock files older than the last few (they are history only).
    async fn prune(&self) {
        for old in 1..self.seq.saturating_sub(5) {
            let _ = self.store.delete(&seq_path(&self.dir, old)).await;
        }
    }

    /// The lock's holder record.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The source it locks.
    pub fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use object_store::local::LocalFileSystem;

    use super::*;

    fn store(dir: &std::path::Path) -> Arc<dyn ObjectStore> {
        Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap())
    }

    const STALE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn overlapping_run_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut lock = SourceLock::acquire(s.clone(), "hubspot", "run-1", "default", STALE)
            .await
            .unwrap();
        let err = SourceLock::acquire(s.clone(), "hubspot", "run-2", "default", STALE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Locked);
        assert!(
            err.to_string().starts_with(
                "source `hubspot` is being loaded by run run-1 (pipeline `default`, pid"
            ),
            "{err}"
        );
        // Another source is independent.
        SourceLock::acquire(s.clone(), "stripe", "run-2", "default", STALE)
            .await
            .unwrap();
        lock.release().await.unwrap();
        let again = SourceLock::acquire(s, "hubspot", "run-3", "default", STALE)
            .await
            .unwrap();
        assert!(again.taken_over.is_none(), "a released lock is simply free");
    }

    #[tokio::test]
    async fn lock_of_a_dead_process_is_taken_over_and_the_old_holder_is_fenced() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let old = SourceLock::acquire(s.clone(), "hubspot", "run-1", "default", STALE)
            .await
            .unwrap();
        // Pretend the holder was another process on this host that has died.
        let mut dead = old.info().clone();
        dead.pid = 999_999_999;
        dead.pid_start = Some(1);
        s.put(
            &seq_path(&old.dir, old.seq),
            PutPayload::from(serde_json::to_vec(&dead).unwrap()),
        )
        .await
        .unwrap();
        let new = SourceLock::acquire(s.clone(), "hubspot", "run-2", "default", STALE)
            .await
            .unwrap();
        assert_eq!(
            new.taken_over.as_ref().map(|t| t.0),
            Some(Vacancy::HolderGone)
        );
        let err = old.check().await.unwrap_err();
        assert!(
            err.to_string().contains("was taken over by run run-2"),
            "{err}"
        );
        new.check().await.unwrap();
    }

    #[tokio::test]
    async fn expired_heartbeat_makes_a_lock_stale() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut lock = SourceLock::acquire(s.clone(), "hubspot", "run-1", "default", STALE)
            .await
            .unwrap();
        lock.info.host = "another-host".into();
        lock.info.heartbeat_at = Utc::now() - chrono::Duration::seconds(600);
        lock.write().await.unwrap();
        let new = SourceLock::acquire(s.clone(), "hubspot", "run-2", "default", STALE)
            .await
            .unwrap();
        assert_eq!(
            new.taken_over.as_ref().map(|t| t.0),
            Some(Vacancy::HeartbeatExpired)
        );
        // A fresh heartbeat on another host is respected.
        let err = SourceLock::acquire(s, "hubspot", "run-3", "default", STALE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Locked);
    }

    #[tokio::test]
    async fn only_one_of_many_concurrent_contenders_wins() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let attempts = (0..8).map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                SourceLock::acquire(s, "hubspot", &format!("run-{i}"), "p", STALE).await
            })
        });
        let results = futures::future::join_all(attempts).await;
        let winners = results
            .into_iter()
            .filter(|r| r.as_ref().unwrap().is_ok())
            .count();
        assert_eq!(winners, 1);
    }
}
