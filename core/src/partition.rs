//! Partitions: a stream may split its work (date windows, ad accounts, portals) into
//! partitions that run concurrently. Their pages are merged into one stream whose
//! checkpoints carry every partition's position, so a commit after any page is a
//! consistent resume point.

use std::collections::BTreeMap;

use futures::StreamExt;

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
pub fn merge_partitions(
    partitions: Vec<Partition>,
    concurrency: usize,
    prior: Option<serde_json::Value>,
) -> PageStream {
    let mut positions: BTreeMap<String, serde_json::Value> = prior
        .as_ref()
        .and_then(|p| p.get(PARTITIONS_KEY))
        .and_then(|m| m.as_object())
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let tagged = futures::stream::iter(partitions.into_iter().map(|p| {
        let id = p.id;
        p.pages.map(move |r| r.map(|page| (id.clone(), page)))
    }))
    .flatten_unordered(concurrency.max(1));
    tagged
        .map(move |item: Result<(String, Page)>| {
            let (id, mut page) = item?;
            positions.insert(id, page.checkpoint.take());
            page.checkpoint = serde_json::json!({ PARTITIONS_KEY: positions.clone() });
            Ok(page)
        })
        .boxed()
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
}
