//! The cursor-based incremental exports (`tickets`, `users`).
//!
//! * **First sync / full refresh:** `GET …/cursor.json?start_time=<start_date or 0>`, then
//!   `?cursor=<after_cursor>` until `end_of_stream` is true (a page may be empty before the
//!   end). Every request goes through the `export` quota scope (10 per minute by default).
//! * **Incremental sync:** continues from the `after_cursor` stored with the last commit, so
//!   exactly the records changed since then are read. Without one (a state written by an
//!   older version), it starts from the stored cursor value as `start_time`.
//! * **Resume:** each page's checkpoint holds the next request; an interrupted sync goes on
//!   from the last committed page.
//! * **Deletions:** deleted tickets arrive with status `deleted`; the `_deleted` column is set
//!   from it, so the merged table keeps the row and marks it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::StreamExt;
use revline_core::cursor::{CursorValue, column_max};
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::{decode_error, fetch_pages};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{PageContext, Paginator};
use revline_core::state::SyncState;
use revline_core::{
    Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream, StreamDescriptor, SyncMode,
};

use crate::EXPORT_SCOPE;
use crate::streams::DELETED;

/// State key holding the export's `after_cursor` after each page.
pub const AFTER_CURSOR: &str = "after_cursor";

/// Zendesk refuses a `start_time` less than a minute in the past.
const MIN_START_AGE_SECS: i64 = 61;

/// Follows `after_cursor` until `end_of_stream`.
#[derive(Debug, Default, Clone)]
pub struct ExportPaginator;

impl Paginator for ExportPaginator {
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        let end = page
            .envelope
            .pointer("end_of_stream")
            .and_then(|v| v.as_bool());
        if end == Some(true) {
            return Ok(None);
        }
        let Some(after) = page.envelope.text("after_cursor").filter(|c| !c.is_empty()) else {
            if end.is_none() {
                return Ok(None);
            }
            return Err(Error::new(
                ErrorKind::Api,
                "the export page says more follows (end_of_stream false) but has no after_cursor",
            ));
        };
        if page.request.query_value("cursor") == Some(after.as_str())
            && page.envelope.record_count == 0
        {
            return Err(Error::new(
                ErrorKind::Api,
                "the export returned an empty page with the same cursor; stopping to avoid a loop",
            ));
        }
        let mut next = page.request.clone();
        next.query
            .retain(|(k, _)| k != "start_time" && k != "cursor");
        next.set_query("cursor", after);
        Ok(Some(next))
    }
}

/// An incremental export stream.
pub struct ExportStream {
    descriptor: StreamDescriptor,
    client: HttpClient,
    path: &'static str,
    records: &'static str,
    page_size: u32,
    exclude_deleted: bool,
    policy: BadValuePolicy,
}

impl ExportStream {
    /// The export at `path` (e.g. `/api/v2/incremental/tickets/cursor.json`) whose records
    /// sit under `records`.
    pub fn new(
        descriptor: StreamDescriptor,
        client: HttpClient,
        path: &'static str,
        records: &'static str,
        page_size: u32,
        exclude_deleted: bool,
        policy: BadValuePolicy,
    ) -> Self {
        ExportStream {
            descriptor,
            client,
            path,
            records,
            page_size,
            exclude_deleted,
            policy,
        }
    }

    fn base_request(&self) -> ApiRequest {
        let mut req = ApiRequest::get(self.client.url(self.path))
            .with_query("per_page", self.page_size.to_string())
            .in_scope(EXPORT_SCOPE);
        if self.exclude_deleted && self.records == "tickets" {
            req = req.with_query("exclude_deleted", "true");
        }
        req
    }
}

/// Sets `_deleted` from `status == "deleted"` (a batch without `_deleted` is returned as is).
pub fn mark_deleted(batch: RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let (Ok(del), Some(status)) = (
        schema.index_of(DELETED),
        batch
            .column_by_name("status")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>()),
    ) else {
        return Ok(batch);
    };
    let flags: BooleanArray = (0..status.len())
        .map(|i| Some(!status.is_null(i) && status.value(i) == "deleted"))
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[del] = Arc::new(flags);
    RecordBatch::try_new(schema, columns)
        .map_err(|e| Error::internal(format!("cannot set {DELETED}: {e}")))
}

#[async_trait]
impl Stream for ExportStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let name = self.descriptor.name.clone();
        let mut state = match SyncState::from_value(request.state.as_ref(), &name) {
            Ok(s) => s,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let decoder = match RecordDecoder::new(
            &request.schema,
            &[self.records],
            &self.descriptor.primary_key,
            self.policy,
        ) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let cursor_field = self.descriptor.cursor_field.clone();
        let cursor_type = cursor_field
            .as_deref()
            .and_then(|c| request.schema.column(c))
            .map(|c| c.ty.arrow_type());
        let first = match state
            .resume
            .take()
            .map(serde_json::from_value::<ApiRequest>)
        {
            Some(Ok(resume)) => resume,
            _ => {
                state.mode = Some(request.mode);
                state.pending = None;
                let base = self.base_request();
                let after = state
                    .extra
                    .get(AFTER_CURSOR)
                    .and_then(|v| v.as_str())
                    .filter(|c| !c.is_empty())
                    .map(String::from);
                match (request.mode, after) {
                    (SyncMode::Incremental, Some(c)) => base.with_query("cursor", c),
                    (mode, _) => {
                        let stored = match mode {
                            SyncMode::Incremental => state
                                .cursor
                                .as_ref()
                                .zip(cursor_type.as_ref())
                                .and_then(|(c, t)| CursorValue::from_json(c, t))
                                .and_then(|c| c.as_datetime()),
                            SyncMode::FullRefresh => None,
                        };
                        let start = stored
                            .or(request.start_date)
                            .map_or(0, |t| t.timestamp())
                            .clamp(0, chrono::Utc::now().timestamp() - MIN_START_AGE_SECS);
                        let mut req = base;
                        req.query
                            .insert(0, ("start_time".into(), start.to_string()));
                        req
                    }
                }
            }
        };
        let mode = state.mode.unwrap_or(request.mode);
        let tickets = self.records == "tickets";
        let raw = fetch_pages(
            self.client.clone(),
            first,
            Arc::new(ExportPaginator),
            vec![self.records.to_string()],
            name.clone(),
            1,
        );
        raw.map(move |raw| {
            let raw = raw?;
            let decoded = decoder
                .decode(&raw.body)
                .map_err(|e| decode_error(e, &name, raw.number))?;
            let batch = if tickets {
                mark_deleted(decoded.batch)?
            } else {
                decoded.batch
            };
            if let (Some(f), Some(t)) = (&cursor_field, &cursor_type) {
                state.observe(column_max(&batch, f), t);
            }
            if let Some(after) = raw.envelope.text("after_cursor").filter(|c| !c.is_empty()) {
                state
                    .extra
                    .insert(AFTER_CURSOR.into(), serde_json::Value::String(after));
            }
            match &raw.next {
                Some(next) => {
                    state.resume = Some(serde_json::to_value(next).expect("request serializes"));
                    state.mode = Some(mode);
                }
                None => match &cursor_type {
                    Some(t) => state.finish(t),
                    None => {
                        state.resume = None;
                        state.mode = None;
                    }
                },
            }
            Ok(Page {
                batch,
                checkpoint: state.to_value(),
                fetched_at: raw.fetched_at,
                nulled_values: decoded.nulled_count,
            })
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};
    use revline_core::decode::read_envelope;
    use revline_core::http::HeaderMap;

    fn ctx_next(req: &ApiRequest, body: &str) -> Result<Option<ApiRequest>> {
        let env = read_envelope(body.as_bytes(), &["tickets".to_string()]).unwrap();
        ExportPaginator.next(&PageContext {
            request: req,
            headers: &HeaderMap::new(),
            envelope: &env,
        })
    }

    #[test]
    fn follows_after_cursor_until_end_of_stream() {
        let first = ApiRequest::get("http://x/api/v2/incremental/tickets/cursor.json")
            .with_query("start_time", "0")
            .with_query("per_page", "100");
        let next = ctx_next(
            &first,
            r#"{"tickets":[{"id":1}],"after_cursor":"abc","end_of_stream":false}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            next.query,
            vec![
                ("per_page".to_string(), "100".to_string()),
                ("cursor".to_string(), "abc".to_string())
            ]
        );
        // An empty page before the end still moves on.
        let after_empty = ctx_next(
            &next,
            r#"{"tickets":[],"after_cursor":"abd","end_of_stream":false}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(after_empty.query_value("cursor"), Some("abd"));
        assert!(
            ctx_next(
                &next,
                r#"{"tickets":[],"after_cursor":"abc","end_of_stream":true}"#
            )
            .unwrap()
            .is_none()
        );
        let looped = ctx_next(
            &next,
            r#"{"tickets":[],"after_cursor":"abc","end_of_stream":false}"#,
        );
        assert!(looped.unwrap_err().to_string().contains("same cursor"));
        let missing = ctx_next(&next, r#"{"tickets":[{"id":2}],"end_of_stream":false}"#);
        assert!(missing.unwrap_err().to_string().contains("after_cursor"));
    }

    #[test]
    fn deleted_status_sets_the_flag() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("status", DataType::Utf8, true),
            Field::new(DELETED, DataType::Boolean, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("open"), Some("deleted"), None])),
                Arc::new(BooleanArray::from(vec![None, None, None])),
            ],
        )
        .unwrap();
        let marked = mark_deleted(batch).unwrap();
        let flags = marked
            .column(1)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        assert_eq!(
            flags.iter().collect::<Vec<_>>(),
            vec![Some(false), Some(true), Some(false)]
        );
    }
}
