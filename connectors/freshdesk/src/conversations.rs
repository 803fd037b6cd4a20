//! `conversations`: a child stream of the ticket listing. It lists the tickets changed since
//! its own cursor (without `include`, one API credit per page), and for each of them reads
//! `GET /api/v2/tickets/{id}/conversations` (paged by `Link`), several tickets at a time.
//! Only changed tickets are visited: a new reply or note changes its ticket's `updated_at`.
//!
//! One page of tickets makes one page of conversations; its checkpoint holds the next ticket
//! listing request, the largest ticket `updated_at` so far and the restart boundary, so an
//! interrupted sync goes on from the last committed ticket page. The cursor is the tickets'
//! `updated_at` watermark. A ticket deleted between the listing and its conversation request
//! (404) is skipped.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use revline_core::cursor::CursorValue;
use revline_core::decode::coerce::parse_timestamp_micros;
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::{RawPage, decode_error, fetch_one, fetch_pages};
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{LinkHeaderPaginator, PageContext, Paginator};
use revline_core::schema::timestamp_type;
use revline_core::state::SyncState;
use revline_core::{
    Error, ErrorKind, Page, PageStream, ReadRequest, Result, Stream, StreamDescriptor,
};
use serde::Deserialize;

use crate::tickets::{BOUNDARY, Boundary, TicketPaginator, listing_request, start_since};

/// A response body.
type Body = Vec<u8>;

/// The fields of a listed ticket the fan-out needs.
#[derive(Debug, Deserialize)]
struct TicketRef {
    id: i64,
    updated_at: String,
}

/// The `conversations` stream.
pub struct ConversationsStream {
    descriptor: StreamDescriptor,
    client: HttpClient,
    per_page: u32,
    max_pages: u32,
    concurrency: usize,
    policy: BadValuePolicy,
}

impl ConversationsStream {
    /// The fan-out through `client`, `concurrency` tickets at a time.
    pub fn new(
        client: HttpClient,
        per_page: u32,
        max_pages: u32,
        concurrency: usize,
        policy: BadValuePolicy,
    ) -> Self {
        ConversationsStream {
            descriptor: crate::streams::conversations(),
            client,
            per_page,
            max_pages,
            concurrency: concurrency.max(1),
            policy,
        }
    }
}

/// Every conversation page of one ticket; `None` if the ticket is gone (404).
async fn ticket_conversations(
    client: HttpClient,
    ticket: i64,
    per_page: u32,
) -> Result<Option<Vec<Body>>> {
    let mut req = Some(
        ApiRequest::get(client.url(&format!("/api/v2/tickets/{ticket}/conversations")))
            .with_query("per_page", per_page.to_string()),
    );
    let mut bodies = Vec::new();
    while let Some(r) = req.take() {
        let (resp, envelope) = match fetch_one(&client, &r, &[], "conversations").await {
            Ok(v) => v,
            Err(e) if e.context_value("status") == Some("404") => {
                tracing::debug!(ticket, "ticket gone before its conversations were read");
                return Ok(None);
            }
            Err(e) => return Err(e.with_context("ticket_id", ticket)),
        };
        req = LinkHeaderPaginator.next(&PageContext {
            request: &r,
            headers: &resp.headers,
            envelope: &envelope,
        })?;
        bodies.push(resp.body.to_vec());
    }
    Ok(Some(bodies))
}

struct Fanout {
    raw: BoxStream<'static, Result<RawPage>>,
    client: HttpClient,
    decoder: RecordDecoder,
    state: SyncState,
    boundary: Option<Boundary>,
    mode: revline_core::SyncMode,
    per_page: u32,
    concurrency: usize,
    name: String,
    done: bool,
}

impl Fanout {
    async fn step(&mut self) -> Option<Result<Page>> {
        if self.done {
            return None;
        }
        let raw = match self.raw.next().await? {
            Ok(r) => r,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let out = self.page(raw).await;
        if out.is_err() {
            self.done = true;
        }
        Some(out)
    }

    async fn page(&mut self, raw: RawPage) -> Result<Page> {
        let tickets: Vec<TicketRef> = serde_json::from_slice(&raw.body).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!("the ticket listing is not an array of tickets: {e}"),
            )
            .with_context("stream", &self.name)
            .with_context("page", raw.number)
        })?;
        let mut changed = Vec::with_capacity(tickets.len());
        let mut newest: Option<i64> = None;
        for t in &tickets {
            let at = parse_timestamp_micros(&t.updated_at).ok_or_else(|| {
                Error::new(
                    ErrorKind::Decode,
                    format!(
                        "ticket {} has an unreadable updated_at `{}`",
                        t.id, t.updated_at
                    ),
                )
                .with_context("stream", &self.name)
            })?;
            newest = Some(newest.map_or(at, |n| n.max(at)));
            if Boundary::admit(&mut self.boundary, t.id, at) {
                changed.push(t.id);
            }
        }
        let client = self.client.clone();
        let per_page = self.per_page;
        let fetched: Vec<Result<Option<Vec<Body>>>> = futures::stream::iter(changed)
            .map(|id| ticket_conversations(client.clone(), id, per_page))
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut nulled = 0;
        for bodies in fetched {
            for body in bodies?.into_iter().flatten() {
                let d = self
                    .decoder
                    .decode(&body)
                    .map_err(|e| decode_error(e, &self.name, raw.number))?;
                nulled += d.nulled_count;
                batches.push(d.batch);
            }
        }
        let batch = arrow::compute::concat_batches(self.decoder.schema(), &batches)
            .map_err(|e| Error::internal(format!("cannot join conversation pages: {e}")))?;
        let ty = timestamp_type();
        self.state.observe(newest.map(CursorValue::Timestamp), &ty);
        match &raw.next {
            Some(next) => {
                self.state.resume = Some(serde_json::to_value(next).expect("request serializes"));
                self.state.mode = Some(self.mode);
                if let Some(b) = &self.boundary {
                    self.state.extra.insert(
                        BOUNDARY.into(),
                        serde_json::to_value(b).expect("boundary serializes"),
                    );
                }
            }
            None => {
                self.state.extra.remove(BOUNDARY);
                self.state.finish(&ty);
                self.done = true;
            }
        }
        Ok(Page {
            batch,
            checkpoint: self.state.to_value(),
            fetched_at: raw.fetched_at,
            nulled_values: nulled,
        })
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
            &[],
            &self.descriptor.primary_key,
            self.policy,
        ) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
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
                    Some(&timestamp_type()),
                );
                listing_request(&self.client, &since, &[], self.per_page)
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
            1,
        );
        let fanout = Fanout {
            raw,
            client: self.client.clone(),
            decoder,
            state,
            boundary,
            mode,
            per_page: self.per_page,
            concurrency: self.concurrency,
            name,
            done: false,
        };
        futures::stream::unfold(fanout, |mut f| async move {
            let item = f.step().await?;
            Some((item, f))
        })
        .boxed()
    }
}
