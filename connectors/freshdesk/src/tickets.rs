//! The ticket listing and its page ceiling.
//!
//! * `GET /api/v2/tickets?updated_since=…&order_by=updated_at&order_type=asc&per_page=100&page=N`
//!   is followed through its `Link: <…>; rel="next"` header.
//! * **Page ceiling:** the listing stops at page 300 (no `Link`, and a later page is a 400).
//!   When page 300 is full, [`TicketPaginator`] restarts at page 1 with `updated_since` set to
//!   the `updated_at` of the last ticket seen. The restarted listing repeats the tickets of
//!   that second; [`Boundary`] remembers which ones were already written (in the checkpoint,
//!   so a resumed sync still knows) and drops them.
//! * **Incremental:** the next sync lists from the committed `updated_at` cursor (Freshdesk's
//!   `updated_since` is inclusive, so that second is read again and merged on `id`).
//! * **Resume:** each page's checkpoint holds the next request and the boundary.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int64Array, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use revline_core::cursor::{CursorValue, column_max};
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::{decode_error, fetch_pages};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{LinkHeaderPaginator, PageContext, Paginator};
use revline_core::state::SyncState;
use revline_core::{
    Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream, StreamDescriptor, SyncMode,
};
use serde::{Deserialize, Serialize};

/// State key of the boundary (tickets already written at the last `updated_at` second).
pub const BOUNDARY: &str = "boundary";

/// `updated_since` of a first sync without `start_date` (before any Freshdesk account).
pub const EPOCH_SINCE: &str = "2000-01-01T00:00:00Z";

/// The ticket listing's request for tickets updated at or after `since`.
pub fn listing_request(
    client: &HttpClient,
    since: &str,
    include: &[String],
    per_page: u32,
) -> ApiRequest {
    let mut req = ApiRequest::get(client.url("/api/v2/tickets"))
        .with_query("updated_since", since)
        .with_query("order_by", "updated_at")
        .with_query("order_type", "asc");
    if !include.is_empty() {
        req = req.with_query("include", include.join(","));
    }
    req.with_query("per_page", per_page.to_string())
        .with_query("page", "1")
}

/// Follows `Link`; at the page ceiling, restarts from the last ticket's `updated_at`.
#[derive(Debug, Clone)]
pub struct TicketPaginator {
    /// Last page the listing serves (300).
    pub max_pages: u32,
    /// `per_page` of the requests.
    pub per_page: u32,
}

impl Paginator for TicketPaginator {
    fn next(&self, page: &PageContext<'_>) -> Result<Option<ApiRequest>> {
        if let Some(next) = LinkHeaderPaginator.next(page)? {
            return Ok(Some(next));
        }
        let number: u32 = page
            .request
            .query_value("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        if number < self.max_pages || (page.envelope.record_count as u32) < self.per_page {
            return Ok(None);
        }
        // The ceiling with a full last page: more tickets may follow.
        let last = page
            .envelope
            .last_record_value()
            .and_then(|r| {
                r.get("updated_at")
                    .and_then(|v| v.as_str())
                    .map(String::from)
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Api,
                    "the last ticket of the listing's last page has no updated_at to restart from",
                )
            })?;
        if page.request.query_value("updated_since") == Some(last.as_str()) {
            return Err(Error::new(
                ErrorKind::Api,
                format!(
                    "more than {} tickets share updated_at {last}: the listing cannot get past them",
                    u64::from(self.max_pages) * u64::from(self.per_page)
                ),
            ));
        }
        tracing::debug!(
            updated_since = %last,
            "ticket listing reached page {number}: restarting from the last updated_at"
        );
        let mut next = page.request.clone();
        next.set_query("updated_since", last);
        next.set_query("page", "1");
        Ok(Some(next))
    }
}

/// The tickets written at the latest `updated_at` second of an unfinished sync: a restarted
/// listing repeats them, and they are dropped the second time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boundary {
    /// `updated_at` in microseconds.
    pub at: i64,
    /// Ticket ids written with that `updated_at`.
    pub ids: BTreeSet<i64>,
}

impl Boundary {
    /// Reads it from a state's extras.
    pub fn from_state(state: &SyncState) -> Option<Boundary> {
        state
            .extra
            .get(BOUNDARY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Whether ticket `id` at `at` (µs) is new (and records it); `false` for a repeat.
    pub fn admit(boundary: &mut Option<Boundary>, id: i64, at: i64) -> bool {
        match boundary {
            Some(b) if b.at == at => b.ids.insert(id),
            Some(b) if b.at > at => true,
            _ => {
                *boundary = Some(Boundary {
                    at,
                    ids: BTreeSet::from([id]),
                });
                true
            }
        }
    }

    /// Drops the rows already written (same id and `updated_at`), then records the rows at the
    /// newest second of what is left. `ids` and `at` are the batch's key and cursor columns.
    pub fn filter(
        boundary: &mut Option<Boundary>,
        batch: RecordBatch,
        id_col: &str,
        at_col: &str,
    ) -> Result<RecordBatch> {
        let (Some(ids), Some(ats)) = (
            batch
                .column_by_name(id_col)
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .cloned(),
            batch
                .column_by_name(at_col)
                .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
                .cloned(),
        ) else {
            return Ok(batch);
        };
        let seen = |i: usize| {
            boundary.as_ref().is_some_and(|b| {
                !ids.is_null(i)
                    && !ats.is_null(i)
                    && ats.value(i) == b.at
                    && b.ids.contains(&ids.value(i))
            })
        };
        let keep: BooleanArray = (0..batch.num_rows()).map(|i| Some(!seen(i))).collect();
        let dropped = keep.false_count();
        let batch = if dropped == 0 {
            batch
        } else {
            tracing::debug!(dropped, "tickets repeated by a restarted listing dropped");
            arrow::compute::filter_record_batch(&batch, &keep)
                .map_err(|e| Error::internal(format!("cannot drop repeated tickets: {e}")))?
        };
        let (ids, ats) = (
            batch
                .column_by_name(id_col)
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .expect("kept column"),
            batch
                .column_by_name(at_col)
                .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
                .expect("kept column"),
        );
        for i in 0..batch.num_rows() {
            if ids.is_null(i) || ats.is_null(i) {
                continue;
            }
            Boundary::admit(boundary, ids.value(i), ats.value(i));
        }
        Ok(batch)
    }
}

/// The `updated_since` a sync starts from: the committed cursor (incremental), else
/// `start_date`, else [`EPOCH_SINCE`].
pub fn start_since(
    state: &SyncState,
    mode: SyncMode,
    start_date: Option<DateTime<Utc>>,
    cursor_type: Option<&arrow::datatypes::DataType>,
) -> String {
    let stored = match mode {
        SyncMode::Incremental => state
            .cursor
            .as_ref()
            .zip(cursor_type)
            .and_then(|(c, t)| CursorValue::from_json(c, t))
            .and_then(|c| c.as_datetime()),
        SyncMode::FullRefresh => None,
    };
    match stored.or(start_date) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => EPOCH_SINCE.to_string(),
    }
}

/// The `tickets` stream.
pub struct TicketsStream {
    descriptor: StreamDescriptor,
    client: HttpClient,
    include: Vec<String>,
    per_page: u32,
    max_pages: u32,
    policy: BadValuePolicy,
}

impl TicketsStream {
    /// The listing through `client`.
    pub fn new(
        client: HttpClient,
        include: Vec<String>,
        per_page: u32,
        max_pages: u32,
        policy: BadValuePolicy,
    ) -> Self {
        TicketsStream {
            descriptor: crate::streams::tickets(),
            client,
            include,
            per_page,
            max_pages,
            policy,
        }
    }
}

#[async_trait]
impl Stream for TicketsStream {
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
            &[],
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
        let mut boundary = None;
        let first = match state
            .resume
            .take()
            .map(serde_json::from_value::<ApiRequest>)
        {
            Some(Ok(resume)) => {
                boundary = Boundary::from_state(&state);
                resume
            }
            _ => {
                state.mode = Some(request.mode);
                state.pending = None;
                state.extra.remove(BOUNDARY);
                let since = start_since(
                    &state,
                    request.mode,
                    request.start_date,
                    cursor_type.as_ref(),
                );
                listing_request(&self.client, &since, &self.include, self.per_page)
            }
        };
        let mode = state.mode.unwrap_or(request.mode);
        let raw = fetch_pages(
            self.client.clone(),
            first,
            Arc::new(TicketPaginator {
                max_pages: self.max_pages,
                per_page: self.per_page,
            }),
            Vec::new(),
            name.clone(),
            2,
        );
        raw.map(move |raw| {
            let raw = raw?;
            let decoded = decoder
                .decode(&raw.body)
                .map_err(|e| decode_error(e, &name, raw.number))?;
            let batch = Boundary::filter(&mut boundary, decoded.batch, "id", "updated_at")?;
            if let Some(t) = &cursor_type {
                state.observe(column_max(&batch, "updated_at"), t);
            }
            match &raw.next {
                Some(next) => {
                    state.resume = Some(serde_json::to_value(next).expect("request serializes"));
                    state.mode = Some(mode);
                    if let Some(b) = &boundary {
                        state.extra.insert(
                            BOUNDARY.into(),
                            serde_json::to_value(b).expect("boundary serializes"),
                        );
                    }
                }
                None => {
                    state.extra.remove(BOUNDARY);
                    match &cursor_type {
                        Some(t) => state.finish(t),
                        None => {
                            state.resume = None;
                            state.mode = None;
                        }
                    }
                }
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
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use revline_core::decode::read_envelope;
    use revline_core::http::HeaderMap;

    fn next(req: &ApiRequest, link: Option<&str>, body: &str) -> Result<Option<ApiRequest>> {
        let env = read_envelope(body.as_bytes(), &[]).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(l) = link {
            headers.insert("link", l.parse().unwrap());
        }
        TicketPaginator {
            max_pages: 3,
            per_page: 2,
        }
        .next(&PageContext {
            request: req,
            headers: &headers,
            envelope: &env,
        })
    }

    fn req(page: u32) -> ApiRequest {
        ApiRequest::get("http://h/api/v2/tickets")
            .with_query("updated_since", "2024-05-01T00:00:00Z")
            .with_query("per_page", "2")
            .with_query("page", page.to_string())
    }

    const FULL: &str = r#"[{"id":1,"updated_at":"2024-05-02T10:00:00Z"},{"id":2,"updated_at":"2024-05-02T10:11:00Z"}]"#;

    #[test]
    fn link_then_restart_at_the_ceiling() {
        let n = next(
            &req(1),
            Some("<http://h/api/v2/tickets?updated_since=2024-05-01T00%3A00%3A00Z&per_page=2&page=2>; rel=\"next\""),
            FULL,
        )
        .unwrap()
        .unwrap();
        assert_eq!(n.query_value("page"), Some("2"));
        // The last page before the ceiling without a link: done.
        assert!(next(&req(2), None, FULL).unwrap().is_none());
        // The ceiling, full: restart from the last updated_at at page 1.
        let r = next(&req(3), None, FULL).unwrap().unwrap();
        assert_eq!(r.query_value("updated_since"), Some("2024-05-02T10:11:00Z"));
        assert_eq!(r.query_value("page"), Some("1"));
        // The ceiling, short: the end.
        assert!(
            next(
                &req(3),
                None,
                r#"[{"id":1,"updated_at":"2024-05-02T10:00:00Z"}]"#
            )
            .unwrap()
            .is_none()
        );
        // A restart that cannot move is an error, not a loop.
        let stuck = ApiRequest::get("http://h/api/v2/tickets")
            .with_query("updated_since", "2024-05-02T10:11:00Z")
            .with_query("page", "3");
        let err = next(&stuck, None, FULL).unwrap_err();
        assert!(err.to_string().contains("share updated_at"), "{err}");
    }

    fn batch(rows: &[(i64, i64)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new(
                "updated_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn the_overlap_of_a_restart_is_dropped() {
        let mut b = None;
        let first = Boundary::filter(
            &mut b,
            batch(&[(1, 10), (2, 20), (3, 20)]),
            "id",
            "updated_at",
        )
        .unwrap();
        assert_eq!(first.num_rows(), 3);
        assert_eq!(
            b,
            Some(Boundary {
                at: 20,
                ids: BTreeSet::from([2, 3])
            })
        );
        // The restart from 20 repeats 2 and 3, then goes on; 4 shares the second.
        let again = Boundary::filter(
            &mut b,
            batch(&[(2, 20), (3, 20), (4, 20), (5, 30)]),
            "id",
            "updated_at",
        )
        .unwrap();
        let ids = again
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.values().to_vec(), vec![4, 5]);
        assert_eq!(
            b,
            Some(Boundary {
                at: 30,
                ids: BTreeSet::from([5])
            })
        );
        // A ticket changed again (newer updated_at) is never dropped.
        let newer = Boundary::filter(&mut b, batch(&[(5, 31)]), "id", "updated_at").unwrap();
        assert_eq!(newer.num_rows(), 1);
    }
}
