//! The standard shape of a stream's state: the committed high-water mark, and — while a
//! sync is unfinished — where it stopped, the mark seen so far and the sync's mode.
//! The state is stored in the same Delta commit as the data it describes.

use serde::{Deserialize, Serialize};

use crate::cursor::CursorValue;
use crate::error::{Error, ErrorKind, Result};
use crate::stream::SyncMode;

/// State of a stream between runs and inside a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// High-water mark of the last finished sync: the next incremental run starts here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<serde_json::Value>,
    /// Position inside an unfinished sync (stream-defined: a request, an offset, a filter).
    /// Present only while a sync is in progress; a rerun continues from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<serde_json::Value>,
    /// Largest cursor value seen by the unfinished sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<serde_json::Value>,
    /// Mode of the unfinished sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SyncMode>,
    /// Stream-specific extras (partition positions, tie-breakers).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty", flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl SyncState {
    /// Parses a stored state (`None` or `null` is the empty state).
    pub fn from_value(value: Option<&serde_json::Value>, stream: &str) -> Result<Self> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(SyncState::default()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::State,
                    format!("stored state is not readable: {e}"),
                )
                .with_context("stream", stream)
            }),
        }
    }

    /// As a JSON value for a checkpoint.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("state serializes")
    }

    /// Whether a sync was interrupted and should be continued.
    pub fn in_progress(&self) -> bool {
        self.resume.is_some()
    }

    /// Folds a page's largest cursor value into `pending`.
    pub fn observe(&mut self, value: Option<CursorValue>, data_type: &arrow::datatypes::DataType) {
        let Some(v) = value else { return };
        let merged = match self
            .pending
            .as_ref()
            .and_then(|p| CursorValue::from_json(p, data_type))
        {
            Some(p) => p.max(v),
            None => v,
        };
        self.pending = Some(merged.to_json());
    }

    /// Ends the sync: the cursor becomes the larger of itself and `pending`.
    pub fn finish(&mut self, data_type: &arrow::datatypes::DataType) {
        let cur = self
            .cursor
            .as_ref()
            .and_then(|c| CursorValue::from_json(c, data_type));
        let pend = self
            .pending
            .take()
            .and_then(|p| CursorValue::from_json(&p, data_type));
        self.cursor = match (cur, pend) {
            (Some(a), Some(b)) => Some(a.max(b).to_json()),
            (a, b) => a.or(b).map(|v| v.to_json()),
        };
        self.resume = None;
        self.mode = None;
    }
}

/// Whether a stored state describes an unfinished sync (any stream using [`SyncState`]).
pub fn state_in_progress(state: Option<&serde_json::Value>) -> Option<SyncMode> {
    let s = state?;
    if s.get("resume").is_some_and(|r| !r.is_null()) {
        Some(
            s.get("mode")
                .and_then(|m| serde_json::from_value(m.clone()).ok())
                .unwrap_or(SyncMode::Incremental),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::timestamp_type;

    #[test]
    fn observe_and_finish_move_the_cursor_forward_only() {
        let ty = timestamp_type();
        let mut s = SyncState {
            cursor: Some(serde_json::json!("2024-05-01T00:00:00.000000Z")),
            ..Default::default()
        };
        s.resume = Some(serde_json::json!({"after": "100"}));
        s.mode = Some(SyncMode::Incremental);
        s.observe(Some(CursorValue::Timestamp(1_714_658_591_482_000)), &ty);
        s.observe(Some(CursorValue::Timestamp(1)), &ty);
        assert_eq!(
            s.pending,
            Some(serde_json::json!("2024-05-02T14:03:11.482000Z"))
        );
        assert_eq!(
            state_in_progress(Some(&s.to_value())),
            Some(SyncMode::Incremental)
        );
        s.finish(&ty);
        assert_eq!(
            s.cursor,
            Some(serde_json::json!("2024-05-02T14:03:11.482000Z"))
        );
        assert!(!s.in_progress());
        assert_eq!(
            s.to_value(),
            serde_json::json!({"cursor": "2024-05-02T14:03:11.482000Z"})
        );
    }

    #[test]
    fn unreadable_state_is_a_state_error() {
        let err =
            SyncState::from_value(Some(&serde_json::json!({"mode": 3})), "contacts").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert!(err.to_string().contains("stream: contacts"));
    }
}
