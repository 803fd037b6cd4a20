//! The paging loop shared by REST streams: a producer task sends one request after another
//! (the paginator needs only the envelope, so it runs ahead of decoding), and pages flow
//! through a bounded channel to the decoder. Cut-off or invalid bodies are retried inside
//! the HTTP client's retry loop.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::Arc;

use crate::decode::{DecodeError, Envelope, read_envelope};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, ApiResponse, HeaderMap, HttpClient};
use crate::paginate::{PageContext, Paginator};

/// A fetched page before decoding.
#[derive(Debug)]
pub struct RawPage {
    /// 1-based page number within this read.
    pub number: u64,
    /// The request that produced it.
    pub request: ApiRequest,
    /// The request for the following page, if any.
    pub next: Option<ApiRequest>,
    /// Response headers.
    pub headers: HeaderMap,
    /// Whole response body.
    pub body: Bytes,
    /// Envelope (paging fields, record count, last record).
    pub envelope: Envelope,
    /// When the response arrived.
    pub fetched_at: DateTime<Utc>,
}

/// Fetches one request with the body checked to be complete JSON (retried otherwise).
pub async fn fetch_one(
    client: &HttpClient,
    request: &ApiRequest,
    records_path: &[String],
    stream: &str,
) -> Result<(ApiResponse, Envelope)> {
    let check = |resp: &ApiResponse| -> Result<(ApiResponse, Envelope)> {
        match read_envelope(&resp.body, records_path) {
            Ok(env) => Ok((resp.clone(), env)),
            Err(e @ DecodeError::Malformed(_)) => Err(e.into_error(stream)),
            Err(e) => Err(e.into_error(stream).with_retryable(false)),
        }
    };
    client.execute_checked(request, &check).await
}

/// Pages from `first` until the paginator stops, fetched up to `prefetch` pages ahead.
pub fn fetch_pages(
    client: HttpClient,
    first: ApiRequest,
    paginator: Arc<dyn Paginator>,
    records_path: Vec<String>,
    stream: String,
    prefetch: usize,
) -> BoxStream<'static, Result<RawPage>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RawPage>>(prefetch.max(1));
    let task = crate::task::spawn_scoped(async move {
        let mut request = Some(first);
        let mut number = 0u64;
        while let Some(req) = request.take() {
            number += 1;
            let fetched = fetch_one(&client, &req, &records_path, &stream).await;
            let (resp, envelope) = match fetched {
                Ok(v) => v,
                Err(e) => {
                    let _ = tx.send(Err(e.with_context("page", number))).await;
                    return;
                }
            };
            let next = match paginator.next(&PageContext {
                request: &req,
                headers: &resp.headers,
                envelope: &envelope,
            }) {
                Ok(n) => n,
                Err(e) => {
                    let _ = tx
                        .send(Err(e
                            .with_context("stream", &stream)
                            .with_context("page", number)))
                        .await;
                    return;
                }
            };
            request = next.clone();
            let page = RawPage {
                number,
                request: req,
                next,
                headers: resp.headers,
                body: resp.body,
                envelope,
                fetched_at: Utc::now(),
            };
            if tx.send(Ok(page)).await.is_err() {
                return; // the reader went away
            }
        }
    });
    let guard = AbortOnDrop(task);
    futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        rx.recv().await.map(|item| (item, (rx, guard)))
    })
    .boxed()
}

/// Aborts a spawned task when dropped, so abandoning a stream stops its producer.
#[derive(Debug)]
pub struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error for a page whose records could not be decoded, naming the stream and page.
pub fn decode_error(e: DecodeError, stream: &str, page: u64) -> Error {
    e.into_error(stream).with_context("page", page)
}
