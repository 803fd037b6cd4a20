//! Freshdesk streams against the sandbox's Freshdesk emulator, below the runner: the ticket
//! listing's page ceiling and restart (requests and records counted at the emulator), resume
//! across a restart, incremental syncs, the conversation fan-out over changed tickets only,
//! and values checked against the world.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int64Array, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, Page, ReadRequest, SourceContext, Stream, SyncMode};
use revline_freshdesk::FreshdeskFactory;
use revline_sandbox::freshdesk::ids::{ticket_id, ticket_index};
use revline_sandbox::{FreshdeskConfig, Sandbox, SandboxConfig, Vendor, WorldConfig};

fn sandbox(people: usize, freshdesk: FreshdeskConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        freshdesk,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn streams(sb: &Sandbox, extra: serde_json::Value) -> HashMap<String, Arc<dyn Stream>> {
    let mut options = serde_json::json!({
        "api_key": sb.freshdesk_api_key(),
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        options[k] = v.clone();
    }
    let mut ctx = SourceContext::new("freshdesk", options);
    ctx.base_url = Some(sb.base_url(Vendor::Freshdesk));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(10_000, 1.0));
    FreshdeskFactory
        .build(ctx)
        .expect("connector builds")
        .streams()
        .into_iter()
        .map(|s| (s.descriptor().name.clone(), s))
        .collect()
}

async fn pages(s: &dyn Stream, mode: SyncMode, state: Option<serde_json::Value>) -> Vec<Page> {
    let schema = Arc::new(s.resolve_schema().await.expect("schema"));
    collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema,
        },
    )
    .await
    .expect("read succeeds")
}

fn ints(batches: &[RecordBatch], col: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("column {col}"))
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn times(batches: &[RecordBatch], col: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("column {col}"))
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn bools(batches: &[RecordBatch], col: &str) -> Vec<Option<bool>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap()
                .as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn batches(pages: &[Page]) -> Vec<RecordBatch> {
    pages.iter().map(|p| p.batch.clone()).collect()
}

/// What the emulator must see for a listing of tickets whose updated seconds are `secs`
/// (ascending), `per_page` per page, stopping at `max_pages` and restarted from the last
/// second seen: (requests, records served).
fn simulate(secs: &[i64], per_page: usize, max_pages: usize) -> (u64, u64) {
    let (mut requests, mut served) = (0u64, 0u64);
    let mut since = i64::MIN;
    loop {
        let rest: Vec<i64> = secs.iter().copied().filter(|s| *s >= since).collect();
        let mut restart = None;
        for page in 1..=max_pages {
            requests += 1;
            let from = (page - 1) * per_page;
            let n = rest.len().saturating_sub(from).min(per_page);
            served += n as u64;
            let more = rest.len() > from + n;
            if more && page < max_pages {
                continue;
            }
            if page == max_pages && n == per_page {
                restart = Some(rest[from + n - 1]);
            }
            break;
        }
        match restart {
            Some(s) => since = s,
            None => return (requests, served),
        }
    }
}

fn live_secs(sb: &Sandbox) -> Vec<i64> {
    let w = sb.world();
    let w = w.read();
    let mut secs: Vec<(i64, u32)> = w
        .support()
        .live_tickets()
        .map(|t| (t.updated_ms.div_euclid(1000), t.index))
        .collect();
    secs.sort_unstable();
    secs.into_iter().map(|(s, _)| s).collect()
}

/// The listing stops at its page ceiling (3 here, 300 at Freshdesk): the stream restarts
/// from the last `updated_at` seen, the emulator serves the overlap again, and the stream
/// writes every ticket exactly once. Requests and records are counted at the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_ceiling_restarts_from_the_last_updated_at_without_duplicates() {
    let sb = sandbox(
        250,
        FreshdeskConfig {
            max_pages: 3,
            ..FreshdeskConfig::default()
        },
    );
    let s = streams(&sb, serde_json::json!({"page_size": 20, "max_pages": 3}));
    let secs = live_secs(&sb);
    let live = secs.len();
    assert!(live > 120, "a world needing restarts: {live}");
    let got = pages(s["tickets"].as_ref(), SyncMode::Incremental, None).await;
    let b = batches(&got);
    let mut ids: Vec<i64> = ints(&b, "id").into_iter().flatten().collect();
    assert_eq!(ids.len(), live, "every live ticket written once");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), live, "no duplicates");
    let (requests, served) = simulate(&secs, 20, 3);
    let stats = sb.stats();
    assert_eq!(stats.route("freshdesk.tickets.list_with_include"), requests);
    assert_eq!(stats.records("freshdesk.tickets.list_with_include"), served);
    assert!(requests >= 6, "at least one restart: {requests} requests");
    assert!(served > live as u64, "the overlap was served again");
    assert_eq!(got.len() as u64, requests);
    // Restarts begin at page 1 from an updated_since past the first sync's start.
    let restarts = got
        .iter()
        .filter(|p| {
            p.checkpoint["resume"]["query"]
                .as_array()
                .is_some_and(|q| q.contains(&serde_json::json!(["page", "1"])))
        })
        .count();
    assert!(restarts >= 1);
    // The final state holds only the cursor: the newest updated_at.
    let last = got.last().unwrap().checkpoint.clone();
    assert!(
        last.get("resume").is_none() && last.get("boundary").is_none(),
        "{last}"
    );
    let newest = *secs.last().unwrap();
    let cursor = chrono::DateTime::parse_from_rfc3339(last["cursor"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(cursor, newest);
}

/// A sync interrupted right after a restart resumes from the checkpoint, which remembers the
/// tickets of the restart's second: together the two runs write every ticket once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_restart_keeps_dropping_the_overlap() {
    let sb = sandbox(
        250,
        FreshdeskConfig {
            max_pages: 2,
            ..FreshdeskConfig::default()
        },
    );
    let s = streams(&sb, serde_json::json!({"page_size": 25, "max_pages": 2}));
    let live = live_secs(&sb).len();
    let all = pages(s["tickets"].as_ref(), SyncMode::Incremental, None).await;
    // The page whose checkpoint says "restart": page 2 (the ceiling).
    let k = all
        .iter()
        .position(|p| {
            p.checkpoint.get("boundary").is_some() && {
                p.checkpoint["resume"]["query"]
                    .as_array()
                    .is_some_and(|q| q.contains(&serde_json::json!(["page", "1"])))
            }
        })
        .expect("a restart checkpoint");
    let mut ids: Vec<i64> = ints(&batches(&all[..=k]), "id")
        .into_iter()
        .flatten()
        .collect();
    let rest = pages(
        s["tickets"].as_ref(),
        SyncMode::Incremental,
        Some(all[k].checkpoint.clone()),
    )
    .await;
    ids.extend(ints(&batches(&rest), "id").into_iter().flatten());
    assert_eq!(ids.len(), live);
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        live,
        "no ticket written twice across the resume"
    );
    assert_eq!(
        rest.last().unwrap().checkpoint,
        all.last().unwrap().checkpoint,
        "the same final cursor"
    );
}

/// An incremental sync lists from the stored cursor and reads exactly the tickets changed
/// since (its second included); the changed values come through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_reads_the_changed_tickets_with_their_stats() {
    let sb = sandbox(250, FreshdeskConfig::default());
    let s = streams(&sb, serde_json::json!({}));
    let first = pages(s["tickets"].as_ref(), SyncMode::Incremental, None).await;
    let state = first.last().unwrap().checkpoint.clone();
    let cursor = chrono::DateTime::parse_from_rfc3339(state["cursor"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let changed = {
        let w = sb.world();
        let mut w = w.write();
        let mut c = w.touch_tickets(6);
        c.extend(w.add_tickets(2));
        c
    };
    sb.reset_stats();
    let inc = pages(s["tickets"].as_ref(), SyncMode::Incremental, Some(state)).await;
    let b = batches(&inc);
    let ids: BTreeSet<i64> = ints(&b, "id").into_iter().flatten().collect();
    let w = sb.world();
    let w = w.read();
    let expected: BTreeSet<i64> = w
        .support()
        .live_tickets()
        .filter(|t| t.updated_ms.div_euclid(1000) >= cursor)
        .map(|t| ticket_id(t.index) as i64)
        .collect();
    assert_eq!(ids, expected);
    for i in &changed {
        assert!(ids.contains(&(ticket_id(*i) as i64)), "changed ticket {i}");
    }
    assert_eq!(
        sb.stats().records("freshdesk.tickets.list_with_include"),
        expected.len() as u64
    );
    // Stats are typed timestamps matching the world.
    let id_col = ints(&b, "id");
    let fr = times(&b, "stats__first_responded_at");
    let status = ints(&b, "status");
    for (k, id) in id_col.iter().enumerate() {
        let t = &w.support().tickets()[ticket_index(id.unwrap() as u64).unwrap() as usize];
        assert_eq!(
            fr[k],
            t.first_response_ms
                .map(|ms| ms.div_euclid(1000) * 1_000_000)
        );
        assert_eq!(
            status[k],
            Some(revline_sandbox::freshdesk::ids::status_code(t.status))
        );
    }
}

/// Conversations fan out over the tickets changed since the stream's last sync only: one
/// conversation request per changed ticket, counted at the emulator; the first public agent
/// reply is the ticket's first response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_fan_out_over_changed_tickets_only() {
    let sb = sandbox(250, FreshdeskConfig::default());
    let s = streams(&sb, serde_json::json!({"page_size": 50}));
    let conv = s["conversations"].as_ref();
    let first = pages(conv, SyncMode::Incremental, None).await;
    let (live, expected_rows) = {
        let w = sb.world();
        let w = w.read();
        let live: Vec<_> = w.support().live_tickets().cloned().collect();
        let rows: usize = live.iter().map(|t| w.ticket_messages(t).len() - 1).sum();
        (live, rows)
    };
    let b = batches(&first);
    let ids = ints(&b, "id");
    assert_eq!(ids.len(), expected_rows);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        expected_rows,
        "unique conversation ids"
    );
    let stats = sb.stats();
    assert_eq!(
        stats.route("freshdesk.conversations.list"),
        live.len() as u64
    );
    assert_eq!(
        stats.route("freshdesk.tickets.list"),
        live.len().div_ceil(50) as u64,
        "bare listings (one credit each)"
    );
    // First response from the conversations equals the world's.
    let tickets = ints(&b, "ticket_id");
    let incoming = bools(&b, "incoming");
    let private = bools(&b, "private");
    let created = times(&b, "created_at");
    for t in live.iter().take(40) {
        let tid = ticket_id(t.index) as i64;
        let first_reply = (0..tickets.len())
            .filter(|&i| {
                tickets[i] == Some(tid) && incoming[i] == Some(false) && private[i] == Some(false)
            })
            .filter_map(|i| created[i])
            .min();
        assert_eq!(
            first_reply,
            t.first_response_ms
                .map(|ms| ms.div_euclid(1000) * 1_000_000),
            "ticket {tid}"
        );
    }
    // Change three tickets: the next sync visits those (and any of the cursor's second).
    let state = first.last().unwrap().checkpoint.clone();
    let cursor = chrono::DateTime::parse_from_rfc3339(state["cursor"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let changed = sb.world().write().touch_tickets(3);
    sb.reset_stats();
    let inc = pages(conv, SyncMode::Incremental, Some(state)).await;
    let w = sb.world();
    let w = w.read();
    let visit: Vec<_> = w
        .support()
        .live_tickets()
        .filter(|t| t.updated_ms.div_euclid(1000) >= cursor)
        .collect();
    assert!(visit.len() >= changed.len());
    assert!(visit.len() < live.len() / 4, "only changed tickets");
    assert_eq!(
        sb.stats().route("freshdesk.conversations.list"),
        visit.len() as u64
    );
    let rows: usize = visit.iter().map(|t| w.ticket_messages(t).len() - 1).sum();
    assert_eq!(ints(&batches(&inc), "id").len(), rows);
}
