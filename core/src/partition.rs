//! Partitions: a stream may split its work (date windows, ad accounts, portals) into
//! partitions that run concurrently. Their pages are merged into one stream whose
//! checkpoints carry every partition's position, so a commit after any page is a
//! consistent resume point.

use std::collections::BTreeMap;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

use crate::error::Result;
use crate::stream::{Page, PageStream};

/// One unit of work of a stream.
pub struct Partition {
    /// Stable id (`2024-05`, `act_123`); the key of its position in the state.
    pub id: String,
    /// Its pages; each checkpoint is the partition's own position.
    pub pages: PageStream,
}

/// Key of the per-partition map in a partitioned stream's state.
pub const PARTITIONS_KEY: &str = "partitions";

/// The stored position of partition `id` in a partitioned state.
pub fn partition_state<'a>(
    state: Option<&'a serde_json::Value>,
    id: &str,
) -> Option<&'a serde_json::Value> {
    state?.get(PARTITIONS_KEY)?.get(id)
}

/// Runs up to `concurrency` partitions at once and merges their pages. Each merged page's
/// checkpoint is `{"partitions": {id: position, ...}}`, starting from `prior` so that
/// partitions not run (or not yet reached) keep their stored positions.
///
/// When a partition fails, no new partition or page is started, but the page each other
/// running partition has in flight is still delivered (so it can be committed) before the
/// first error ends the stream: a fast failure never discards slower, good pages.
pub fn merge_partitions(
    partitions: Vec<Partition>,
    concurrency: usize,
    prior: Option<serde_json::Value>,
) -> PageStream {
    let positions: BTreeMap<String, serde_json::Value> = prior
        .as_ref()
        .and_then(|p| p.get(PARTITIONS_KEY))
        .and_then(|m| m.as_object())
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let merger = Merger {
        waiting: partitions.into_iter(),
        running: FuturesUnordered::new(),
        concurrency: concurrency.max(1),
        positions,
        failure: None,
        failed: false,
    };
    futures::stream::unfold(merger, |mut m| async move {
        let page = m.next_page().await?;
        Some((page, m))
    })
    .boxed()
}

type NextPage = futures::future::BoxFuture<'static, (String, Option<Result<Page>>, PageStream)>;

/// State of [`merge_partitions`]: partitions not started yet, and the next page of each
/// running one.
struct Merger {
    waiting: std::vec::IntoIter<Partition>,
    running: FuturesUnordered<NextPage>,
    concurrency: usize,
    positions: BTreeMap<String, serde_json::Value>,
    failure: Option<crate::error::Error>,
    /// Set by the first failure: nothing new starts after it, even once it is reported.
    failed: bool,
}

impl Merger {
    fn poll_next_of(id: String, mut pages: PageStream) -> NextPage {
        async move {
            let item = pages.next().await;
            (id, item, pages)
        }
        .boxed()
    }

    fn fill(&mut self) {
        while !self.failed && self.running.len() < self.concurrency {
            let Some(p) = self.waiting.next() else { break };
            self.running.push(Self::poll_next_of(p.id, p.pages));
        }
    }

    async fn next_page(&mut self) -> Option<Result<Page>> {
        loop {
            self.fill();
            let Some((id, item, pages)) = self.running.next().await else {
                // Everything drained: report the first failure, if any, last.
                return self.failure.take().map(Err);
            };
            match item {
                None => continue,
                Some(Err(e)) => {
                    if !self.failed {
                        self.failed = true;
                        self.failure = Some(e);
                    }
                    continue;
                }
                Some(Ok(mut page)) => {
                    if !self.failed {
                        self.running.push(Self::poll_next_of(id.clone(), pages));
                    }
                    self.positions.insert(id, page.checkpoint.take());
                    page.checkpoint = serde_json::json!({ PARTITIONS_KEY: self.positions.clone() });
                    return Some(Ok(page));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use chrono::Utc;

    use super::*;

    fn page(v: i64, pos: i64) -> Result<Page> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        Ok(Page {
            batch: RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![v]))]).unwrap(),
            checkpoint: serde_json::json!(pos),
            fetched_at: Utc::now(),
            nulled_values: 0,
        })
    }

    #[tokio::test]
    async fn merged_checkpoints_carry_every_partition() {
        let a = Partition {
            id: "a".into(),
            pages: futures::stream::iter(vec![page(1, 1), page(2, 2)]).boxed(),
        };
        let b = Partition {
            id: "b".into(),
            pages: futures::stream::iter(vec![page(3, 10)]).boxed(),
        };
        let prior = serde_json::json!({"partitions": {"c": 99, "a": 0}});
        let pages: Vec<Page> = merge_partitions(vec![a, b], 2, Some(prior))
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(pages.len(), 3);
        let last = &pages.last().unwrap().checkpoint;
        assert_eq!(
            last,
            &serde_json::json!({"partitions": {"a": 2, "b": 10, "c": 99}})
        );
        assert_eq!(
            partition_state(Some(last), "b"),
            Some(&serde_json::json!(10))
        );
    }

    #[tokio::test]
    async fn a_failing_partition_still_delivers_the_others_pages_in_flight() {
        // `b` fails at once; `a`'s first page is slower but already in flight, so it is
        // delivered before the error, and `a`'s second page is never started.
        let slow_a = futures::stream::iter(vec![page(1, 1), page(2, 2)])
            .then(|p| async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                p
            })
            .boxed();
        let a = Partition {
            id: "a".into(),
            pages: slow_a,
        };
        let b = Partition {
            id: "b".into(),
            pages: futures::stream::iter(vec![Err(crate::error::Error::internal("401"))]).boxed(),
        };
        let c = Partition {
            id: "c".into(),
            pages: futures::stream::iter(vec![page(9, 9)]).boxed(),
        };
        let items: Vec<Result<Page>> = merge_partitions(vec![a, b, c], 2, None).collect().await;
        let shown: Vec<String> = items
            .iter()
            .map(|i| match i {
                Ok(p) => p.checkpoint.to_string(),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(
            items.len(),
            2,
            "a.s page in flight, then the error: {shown:?}"
        );
        let first = items[0].as_ref().unwrap();
        assert_eq!(
            first.checkpoint,
            serde_json::json!({"partitions": {"a": 1}})
        );
        let err = items[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("401"), "{err}");
    }
}
