//! A declarative REST stream: path, parameters, record selector, paginator, schema and an
//! optional incremental parameter are data; the paging loop, decoding and checkpoints are
//! shared. Most simple endpoints need nothing more.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::cursor::{CursorValue, column_max};
use crate::decode::{BadValuePolicy, RecordDecoder};
use crate::error::Result;
use crate::fetch::{decode_error, fetch_pages};
use crate::http::{ApiRequest, HttpClient};
use crate::paginate::{CursorTarget, Paginator};
use crate::state::SyncState;
use crate::stream::{Page, PageStream, ReadRequest, Stream, StreamDescriptor, SyncMode};

/// How a cursor value is written into the request of an incremental sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorFormat {
    /// `2024-05-02T14:03:11Z`.
    Rfc3339,
    /// Unix seconds.
    EpochSeconds,
    /// Unix milliseconds.
    EpochMillis,
    /// `2024-05-02`.
    Date,
}

impl CursorFormat {
    /// Renders an instant.
    pub fn render(&self, t: DateTime<Utc>) -> String {
        match self {
            CursorFormat::Rfc3339 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            CursorFormat::EpochSeconds => t.timestamp().to_string(),
            CursorFormat::EpochMillis => t.timestamp_millis().to_string(),
            CursorFormat::Date => t.format("%Y-%m-%d").to_string(),
        }
    }
}

/// The filter an incremental sync adds to the first request.
#[derive(Debug, Clone)]
pub struct IncrementalParam {
    /// Where the lower bound goes.
    pub target: CursorTarget,
    /// How it is written.
    pub format: CursorFormat,
}

/// Everything a declarative REST stream needs.
#[derive(Debug, Clone)]
pub struct RestStreamSpec {
    /// Name, schema, key, cursor, modes.
    pub descriptor: StreamDescriptor,
    /// First request (before paging and incremental parameters).
    pub request: ApiRequest,
    /// Path of the records array in the body (empty: the body is the array).
    pub records_path: Vec<String>,
    /// How to get the next page.
    pub paginator: Arc<dyn Paginator>,
    /// The lower-bound filter for incremental syncs.
    pub incremental: Option<IncrementalParam>,
}

/// A [`Stream`] from a [`RestStreamSpec`].
#[derive(Debug, Clone)]
pub struct RestStream {
    spec: Arc<RestStreamSpec>,
    client: HttpClient,
    policy: BadValuePolicy,
    prefetch: usize,
}

impl RestStream {
    /// A stream that sends its requests through `client`.
    pub fn new(spec: RestStreamSpec, client: HttpClient, policy: BadValuePolicy) -> Self {
        RestStream {
            spec: Arc::new(spec),
            client,
            policy,
            prefetch: 2,
        }
    }
}

#[async_trait]
impl Stream for RestStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.spec.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let spec = self.spec.clone();
        let name = spec.descriptor.name.clone();
        let mut state = match SyncState::from_value(request.state.as_ref(), &name) {
            Ok(s) => s,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let decoder = match RecordDecoder::new(
            &request.schema,
            &spec
                .records_path
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &spec.descriptor.primary_key,
            self.policy,
        ) {
            Ok(d) => d,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let cursor_field = spec.descriptor.cursor_field.clone();
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
                let mut first = spec.paginator.first(spec.request.clone());
                state.mode = Some(request.mode);
                state.pending = None;
                let lower = match request.mode {
                    SyncMode::Incremental => state
                        .cursor
                        .as_ref()
                        .zip(cursor_type.as_ref())
                        .and_then(|(c, t)| CursorValue::from_json(c, t))
                        .and_then(|c| c.as_datetime())
                        .or(request.start_date),
                    SyncMode::FullRefresh => request.start_date,
                };
                if let (Some(inc), Some(lower)) = (&spec.incremental, lower) {
                    let v = inc.format.render(lower);
                    match &inc.target {
                        CursorTarget::Query(name) => first.set_query(name, v),
                        CursorTarget::Body(key) => {
                            if let Some(obj) = first
                                .body
                                .get_or_insert_with(|| serde_json::json!({}))
                                .as_object_mut()
                            {
                                obj.insert(key.clone(), serde_json::Value::String(v));
                            }
                        }
                    }
                }
                first
            }
        };
        let mode = state.mode.unwrap_or(request.mode);
        let raw = fetch_pages(
            self.client.clone(),
            first,
            spec.paginator.clone(),
            spec.records_path.clone(),
            name.clone(),
            self.prefetch,
        );
        raw.map(move |raw| {
            let raw = raw?;
            let decoded = decoder
                .decode(&raw.body)
                .map_err(|e| decode_error(e, &name, raw.number))?;
            if let (Some(f), Some(t)) = (&cursor_field, &cursor_type) {
                state.observe(column_max(&decoded.batch, f), t);
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
                        state.pending = None;
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

/// Reads a stream to the end, returning its pages (for tests and small streams).
pub async fn collect_pages(stream: &dyn Stream, request: ReadRequest) -> Result<Vec<Page>> {
    let mut out = Vec::new();
    let mut pages = stream.read(request);
    while let Some(p) = pages.next().await {
        out.push(p?);
    }
    Ok(out)
}
