//! `conversations` through `POST /conversations/search`:
//!
//! ```json
//! {"query":{"operator":"AND","value":[{"field":"updated_at","operator":">","value":1714521599}]},
//!  "sort":{"field":"updated_at","order":"ascending"},
//!  "pagination":{"per_page":150,"starting_after":"WzE3…"}}
//! ```
//!
//! * There is no `>=`: the filter is `updated_at > cursor - 1`, so the cursor's second is read
//!   again (rows are MERGEd on `id`, the newer `updated_at` wins) and nothing changed in that
//!   second after the last sync is missed.
//! * Pages follow `pages.next.starting_after` (written into `pagination.starting_after`) until
//!   `pages.next` is absent.
//! * Each page's checkpoint holds the next request, so an interrupted sync resumes from the
//!   last committed page; the cursor moves to the newest `updated_at` when the sync ends.

use std::sync::Arc;

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

use crate::VERSION;

/// `pages.next.starting_after` into the body's `pagination.starting_after`.
#[derive(Debug, Clone, Default)]
pub struct SearchPaginator;

impl Paginator for SearchPaginator {
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        let Some(after) = page
            .envelope
            .text("pages.next.starting_after")
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        let mut next = page.request.clone();
        let body = next.body.get_or_insert_with(|| serde_json::json!({}));
        if body
            .pointer("/pagination/starting_after")
            .and_then(|v| v.as_str())
            == Some(after.as_str())
        {
            return Err(Error::new(
                ErrorKind::Api,
                "the search returned the same starting_after twice; stopping to avoid a loop",
            ));
        }
        body["pagination"]["starting_after"] = serde_json::Value::String(after);
        Ok(Some(next))
    }
}

/// The search request for conversations updated after `after_secs` (exclusive).
pub fn search_request(client: &HttpClient, after_secs: i64, per_page: u32) -> ApiRequest {
    ApiRequest::post_json(
        client.url("/conversations/search"),
        serde_json::json!({
            "query": {"operator": "AND", "value": [
                {"field": "updated_at", "operator": ">", "value": after_secs}
            ]},
            "sort": {"field": "updated_at", "order": "ascending"},
            "pagination": {"per_page": per_page},
        }),
    )
    .with_header("Intercom-Version", VERSION)
}

/// The `conversations` stream.
pub struct ConversationsStream {
    descriptor: StreamDescriptor,
    client: HttpClient,
    per_page: u32,
    policy: BadValuePolicy,
}

impl ConversationsStream {
    /// The search through `client`.
    pub fn new(client: HttpClient, per_page: u32, policy: BadValuePolicy) -> Self {
        ConversationsStream {
            descriptor: crate::streams::conversations(),
            client,
            per_page,
            policy,
        }
    }
}

#[async_trait]
impl Stream for ConversationsStream {
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
            &["conversations"],
            &self.descriptor.primary_key,
            self.policy,
        ) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let cursor_type = request
            .schema
            .column("updated_at")
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
                let stored = match request.mode {
                    SyncMode::Incremental => state
                        .cursor
                        .as_ref()
                        .zip(cursor_type.as_ref())
                        .and_then(|(c, t)| CursorValue::from_json(c, t))
                        .and_then(|c| c.as_datetime()),
                    SyncMode::FullRefresh => None,
                };
                // No `>=`: one second less keeps the boundary second.
                let after = stored
                    .or(request.start_date)
                    .map_or(0, |t| t.timestamp() - 1)
                    .max(0);
                search_request(&self.client, after, self.per_page)
            }
        };
        let mode = state.mode.unwrap_or(request.mode);
        let raw = fetch_pages(
            self.client.clone(),
            first,
            Arc::new(SearchPaginator),
            vec!["conversations".to_string()],
            name.clone(),
            2,
        );
        raw.map(move |raw| {
            let raw = raw?;
            let decoded = decoder
                .decode(&raw.body)
                .map_err(|e| decode_error(e, &name, raw.number))?;
            if let Some(t) = &cursor_type {
                state.observe(column_max(&decoded.batch, "updated_at"), t);
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
                batch: decoded.batch,
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
    use revline_core::decode::read_envelope;
    use revline_core::http::HeaderMap;

    #[test]
    fn starting_after_goes_into_the_body_until_next_is_absent() {
        let req = ApiRequest::post_json(
            "http://h/conversations/search",
            serde_json::json!({"query": {}, "pagination": {"per_page": 2}}),
        );
        let ctx = |req: &ApiRequest, body: &str| {
            let env = read_envelope(body.as_bytes(), &["conversations".to_string()]).unwrap();
            SearchPaginator.next(&PageContext {
                request: req,
                headers: &HeaderMap::new(),
                envelope: &env,
            })
        };
        let next = ctx(
            &req,
            r#"{"type":"conversation.list","pages":{"type":"pages","page":1,"next":{"page":2,"starting_after":"WzE"}},"conversations":[{"id":"1"}]}"#,
        )
        .unwrap()
        .unwrap();
        let body = next.body.as_ref().unwrap();
        assert_eq!(body["pagination"]["starting_after"], "WzE");
        assert_eq!(body["pagination"]["per_page"], 2);
        assert!(
            ctx(
                &next,
                r#"{"pages":{"type":"pages","page":2},"conversations":[{"id":"2"}]}"#
            )
            .unwrap()
            .is_none()
        );
        let looped = ctx(
            &next,
            r#"{"pages":{"next":{"starting_after":"WzE"}},"conversations":[]}"#,
        );
        assert!(looped.unwrap_err().to_string().contains("twice"));
    }
}
