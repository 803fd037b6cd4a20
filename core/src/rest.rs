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
                let stored = match request.mode {
                    SyncMode::Incremental => state
                        .cursor
                        .as_ref()
                        .zip(cursor_type.as_ref())
                        .and_then(|(c, t)| CursorValue::from_json(c, t)),
                    SyncMode::FullRefresh => None,
                };
                // Timestamps are rendered in the API's format; integer and text cursors as they are.
                let lower = match stored {
                    Some(CursorValue::Timestamp(us)) => {
                        DateTime::from_timestamp_micros(us).map(|t| (Some(t), None))
                    }
                    Some(CursorValue::Date(d)) => Some((
                        Some(DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(d as i64)),
                        None,
                    )),
                    Some(CursorValue::Int(i)) => Some((None, Some(i.to_string()))),
                    Some(CursorValue::Text(t)) => Some((None, Some(t))),
                    None => request.start_date.map(|t| (Some(t), None)),
                };
                if let (Some(inc), Some((instant, raw))) = (&spec.incremental, lower) {
                    let v = match (instant, raw) {
                        (Some(t), _) => inc.format.render(t),
                        (None, Some(r)) => r,
                        (None, None) => unreachable!("one of the two is set"),
                    };
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::Router;
    use axum::extract::{Query, State};
    use axum::routing::get;

    use super::*;
    use crate::http::{Auth, HttpClientConfig, RateLimit};
    use crate::paginate::OffsetPaginator;
    use crate::schema::{Column, ColumnType, StreamSchema};

    /// 25 items with `seq` 1..=25; `?since=N` keeps seq > N; `offset`/`limit` page.
    async fn items(
        State(seen): State<Arc<Mutex<Vec<String>>>>,
        Query(q): Query<Vec<(String, String)>>,
    ) -> String {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        seen.lock().unwrap().push(
            q.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
        );
        let since: i64 = get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
        let offset: usize = get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let limit: usize = get("limit").and_then(|v| v.parse().ok()).unwrap_or(10);
        let all: Vec<i64> = (1..=25).filter(|s| *s > since).collect();
        let page: Vec<String> = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|s| format!(r#"{{"id":"i{s}","seq":{s}}}"#))
            .collect();
        format!(r#"{{"data":[{}],"total":{}}}"#, page.join(","), all.len())
    }

    async fn setup() -> (RestStream, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/items", get(items))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = HttpClient::new(HttpClientConfig::new(
            "t",
            "s",
            &base,
            Auth::None,
            RateLimit::new(1000, 1.0),
        ))
        .unwrap();
        let spec = RestStreamSpec {
            descriptor: StreamDescriptor {
                name: "items".into(),
                description: String::new(),
                schema: StreamSchema::new(vec![
                    Column::new("id", ColumnType::Utf8),
                    Column::new("seq", ColumnType::Int64),
                ])
                .unwrap(),
                primary_key: vec!["id".into()],
                cursor_field: Some("seq".into()),
                sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
            },
            request: ApiRequest::get(format!("{base}/items")),
            records_path: vec!["data".into()],
            paginator: Arc::new(OffsetPaginator {
                offset_param: CursorTarget::Query("offset".into()),
                limit_param: CursorTarget::Query("limit".into()),
                limit: 10,
                total_path: Some("total".into()),
            }),
            incremental: Some(IncrementalParam {
                target: CursorTarget::Query("since".into()),
                format: CursorFormat::EpochSeconds,
            }),
        };
        (RestStream::new(spec, client, BadValuePolicy::Fail), seen)
    }

    fn request(s: &RestStream, mode: SyncMode, state: Option<serde_json::Value>) -> ReadRequest {
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema: Arc::new(s.descriptor().schema.clone()),
        }
    }

    #[tokio::test]
    async fn pages_with_checkpoints_then_resumes_and_goes_incremental() {
        let (s, seen) = setup().await;
        let pages = collect_pages(&s, request(&s, SyncMode::Incremental, None))
            .await
            .unwrap();
        assert_eq!(
            pages.iter().map(|p| p.batch.num_rows()).collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
        // Mid-sync checkpoints say where to resume; the last one holds only the cursor.
        let mid = pages[0].checkpoint.clone();
        assert_eq!(
            mid["resume"]["query"],
            serde_json::json!([["limit", "10"], ["offset", "10"]])
        );
        assert_eq!(mid["pending"], 10);
        assert_eq!(pages[2].checkpoint, serde_json::json!({"cursor": 25}));

        // Resuming from the first page's checkpoint fetches only the rest.
        seen.lock().unwrap().clear();
        let rest = collect_pages(&s, request(&s, SyncMode::Incremental, Some(mid)))
            .await
            .unwrap();
        assert_eq!(rest.iter().map(|p| p.batch.num_rows()).sum::<usize>(), 15);
        assert_eq!(
            seen.lock().unwrap().clone(),
            vec!["limit=10&offset=10", "limit=10&offset=20"]
        );
        assert_eq!(
            rest.last().unwrap().checkpoint,
            serde_json::json!({"cursor": 25})
        );

        // An incremental run sends the integer cursor as it is.
        seen.lock().unwrap().clear();
        let inc = collect_pages(
            &s,
            request(
                &s,
                SyncMode::Incremental,
                Some(serde_json::json!({"cursor": 20})),
            ),
        )
        .await
        .unwrap();
        assert_eq!(inc.iter().map(|p| p.batch.num_rows()).sum::<usize>(), 5);
        assert_eq!(seen.lock().unwrap().clone(), vec!["limit=10&since=20"]);

        // A full refresh ignores the cursor.
        seen.lock().unwrap().clear();
        let full = collect_pages(
            &s,
            request(
                &s,
                SyncMode::FullRefresh,
                Some(serde_json::json!({"cursor": 20})),
            ),
        )
        .await
        .unwrap();
        assert_eq!(full.iter().map(|p| p.batch.num_rows()).sum::<usize>(), 25);
        assert_eq!(seen.lock().unwrap()[0], "limit=10");
    }
}
