//! Spawning helper tasks that keep the caller's context: its tracing span (so every log line
//! names the run, source and stream) and its per-stream request accounting.

use std::future::Future;

use tracing::Instrument;

/// Like `tokio::spawn`, but the task runs inside the current tracing span and per-stream
/// HTTP accounting scope. Connectors spawn their page producers with this.
pub fn spawn_scoped<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let span = tracing::Span::current();
    match crate::http::current_stream_stats() {
        Some(stats) => tokio::spawn(crate::http::with_stream_stats(stats, fut.instrument(span))),
        None => tokio::spawn(fut.instrument(span)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::http::{HttpStats, current_stream_stats, with_stream_stats};

    #[tokio::test]
    async fn spawned_tasks_inherit_the_stream_scope() {
        let stats = Arc::new(HttpStats::default());
        let inner = with_stream_stats(stats.clone(), async {
            spawn_scoped(async { current_stream_stats().is_some() })
                .await
                .unwrap()
        })
        .await;
        assert!(inner);
        assert!(
            spawn_scoped(async { current_stream_stats().is_none() })
                .await
                .unwrap()
        );
    }
}
