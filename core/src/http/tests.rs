//! Client behaviour against a scripted local server (127.0.0.1, free port).

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap as AxHeaders, StatusCode as AxStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};

use super::*;

/// One scripted reply.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: body.to_string(),
    }
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    seen_auth: Mutex<Vec<String>>,
    seen_query: Mutex<Vec<String>>,
    token_calls: Mutex<u32>,
}

async fn handler(
    State(s): State<Arc<Script>>,
    headers: AxHeaders,
    uri: axum::http::Uri,
) -> Response {
    s.seen_auth.lock().unwrap().push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
    );
    s.seen_query
        .lock()
        .unwrap()
        .push(uri.query().unwrap_or("").to_string());
    let r = s
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(reply(200, r#"{"ok":true}"#));
    let mut resp = (AxStatus::from_u16(r.status).unwrap(), r.body).into_response();
    for (k, v) in r.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

async fn token(State(s): State<Arc<Script>>, body: String) -> Response {
    let mut n = s.token_calls.lock().unwrap();
    *n += 1;
    assert!(body.contains("grant_type=refresh_token"), "{body}");
    if body.contains("refresh_token=bad") {
        return (
            AxStatus::BAD_REQUEST,
            r#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#,
        )
            .into_response();
    }
    format!(r#"{{"access_token":"access-{n}","expires_in":3600,"instance_url":"http://x"}}"#)
        .into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(2)).await;
    "{}"
}

async fn short_token(State(s): State<Arc<Script>>) -> String {
    let mut n = s.token_calls.lock().unwrap();
    *n += 1;
    // Expires within the client's refresh margin: every use refreshes it first.
    format!(r#"{{"access_token":"short-{n}","expires_in":30}}"#)
}

async fn serve(script: Arc<Script>) -> String {
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/short", post(short_token))
        .route("/slow", axum::routing::get(slow))
        .route("/{*rest}", any(handler))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn fast() -> HttpSettings {
    HttpSettings {
        timeout_secs: 5.0,
        max_retries: 3,
        backoff_initial_ms: 1,
        backoff_max_ms: 5,
        max_retry_after_secs: 30,
        quota_reserve_percent: 10.0,
    }
}

async fn client(script: &Arc<Script>, auth: Auth) -> (HttpClient, String) {
    let base = serve(script.clone()).await;
    let mut cfg = HttpClientConfig::new("test", "src", &base, auth, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    (HttpClient::new(cfg).unwrap(), base)
}

fn push(script: &Script, replies: Vec<Reply>) {
    script.replies.lock().unwrap().extend(replies);
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
    let script = Arc::new(Script::default());
    let mut throttled = reply(
        429,
        r#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT"}"#,
    );
    throttled.headers.push(("retry-after", "1".into()));
    push(&script, vec![throttled, reply(200, r#"{"n":1}"#)]);
    let (c, base) = client(&script, Auth::Bearer(Secret::new("tok"))).await;
    let start = std::time::Instant::now();
    let r = c
        .execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap();
    assert_eq!(&r.body[..], br#"{"n":1}"#);
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        start.elapsed()
    );
    let s = c.stats().snapshot();
    assert_eq!((s.requests, s.retries, s.throttled), (2, 1, 1));
    assert_eq!(script.seen_auth.lock().unwrap()[0], "Bearer tok");
}

#[tokio::test]
async fn retries_5xx_and_garbled_bodies() {
    let script = Arc::new(Script::default());
    push(
        &script,
        vec![
            reply(503, "<html>Service Unavailable</html>"),
            reply(200, r#"{"results":[{"id":"1"},{"#),
            reply(200, r#"{"results":[]}"#),
        ],
    );
    let (c, base) = client(&script, Auth::None).await;
    let check = |r: &ApiResponse| -> Result<usize> {
        serde_json::from_slice::<serde_json::Value>(&r.body)
            .map(|_| r.body.len())
            .map_err(|e| {
                Error::new(ErrorKind::Decode, "bad json")
                    .with_retryable(true)
                    .with_source(e)
            })
    };
    let n = c
        .execute_checked(&ApiRequest::get(format!("{base}/x")), &check)
        .await
        .unwrap();
    assert_eq!(n, 14);
    assert_eq!(c.stats().snapshot().retries, 2);
}

#[tokio::test]
async fn gives_up_after_max_retries_with_clear_error() {
    let script = Arc::new(Script::default());
    push(
        &script,
        (0..10).map(|_| reply(502, "bad gateway")).collect(),
    );
    let (c, base) = client(&script, Auth::None).await;
    let err = c
        .execute(&ApiRequest::get(format!("{base}/crm/v3/objects/contacts")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(
        err.to_string(),
        "gave up after 4 attempts; last error: HTTP 502 (source: src, request: GET /crm/v3/objects/contacts)"
    );
    assert_eq!(c.stats().snapshot().requests, 4);
}

#[tokio::test]
async fn unauthorized_fails_at_once_without_leaking_the_token() {
    let script = Arc::new(Script::default());
    push(
        &script,
        vec![reply(
            401,
            r#"{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}"#,
        )],
    );
    let (c, base) = client(&script, Auth::Bearer(Secret::new("pat-secret-123"))).await;
    let err = c
        .execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("authentication failed (HTTP 401): Authentication credentials not found."),
        "{text}"
    );
    assert!(!text.contains("pat-secret-123"));
    assert_eq!(c.stats().snapshot().requests, 1, "no retry on 401");
}

#[tokio::test]
async fn forbidden_is_fatal() {
    let script = Arc::new(Script::default());
    push(
        &script,
        vec![reply(
            403,
            r#"{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES"}"#,
        )],
    );
    let (c, base) = client(&script, Auth::None).await;
    let err = c
        .execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(
        err.to_string().contains("granted all required scopes"),
        "{err}"
    );
}

#[tokio::test]
async fn long_retry_after_means_quota_exhausted() {
    let script = Arc::new(Script::default());
    let mut r = reply(429, "{}");
    r.headers.push(("retry-after", "86400".into()));
    push(&script, vec![r]);
    let (c, base) = client(&script, Auth::None).await;
    let err = c
        .execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
}

#[tokio::test]
async fn oauth2_refreshes_once_on_401() {
    let script = Arc::new(Script::default());
    push(&script, vec![reply(401, "{}"), reply(200, "{}")]);
    let base = serve(script.clone()).await;
    let auth = Auth::OAuth2(OAuth2::new(
        format!("{base}/oauth/token"),
        "cid",
        Secret::new("csecret"),
        OAuth2Grant::RefreshToken {
            refresh_token: Secret::new("rt"),
        },
    ));
    let mut cfg = HttpClientConfig::new("test", "src", &base, auth, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    let c = HttpClient::new(cfg).unwrap();
    c.execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap();
    assert_eq!(
        *script.token_calls.lock().unwrap(),
        2,
        "initial token, then one refresh"
    );
    let seen = script.seen_auth.lock().unwrap().clone();
    assert_eq!(seen, vec!["Bearer access-1", "Bearer access-2"]);
    // The cached token is reused.
    c.execute(&ApiRequest::get(format!("{base}/y")))
        .await
        .unwrap();
    assert_eq!(*script.token_calls.lock().unwrap(), 2);
    if let Auth::OAuth2(o) = c.auth() {
        assert_eq!(o.token_extra("instance_url").await.unwrap(), "http://x");
    }

    // A second 401 after the refresh is fatal.
    push(&script, vec![reply(401, "{}"), reply(401, "{}")]);
    let err = c
        .execute(&ApiRequest::get(format!("{base}/z")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn auth_extra_fetches_a_token_before_any_request() {
    let script = Arc::new(Script::default());
    let base = serve(script.clone()).await;
    let auth = Auth::OAuth2(OAuth2::new(
        format!("{base}/oauth/token"),
        "cid",
        Secret::new("csecret"),
        OAuth2Grant::RefreshToken {
            refresh_token: Secret::new("rt"),
        },
    ));
    let mut cfg = HttpClientConfig::new("test", "src", &base, auth, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    let c = HttpClient::new(cfg).unwrap();
    // Salesforce: the API host comes from the token response, before the first request.
    assert_eq!(
        c.auth_extra("instance_url").await.unwrap(),
        Some(serde_json::json!("http://x"))
    );
    assert_eq!(c.auth_extra("missing").await.unwrap(), None);
    assert_eq!(
        *script.token_calls.lock().unwrap(),
        1,
        "the token is cached"
    );
    assert_eq!(c.stats().snapshot().requests, 0, "no API request was sent");
    let plain = HttpClient::new(HttpClientConfig::new(
        "test",
        "src",
        &base,
        Auth::Bearer(Secret::new("t")),
        RateLimit::new(1000, 1.0),
    ))
    .unwrap();
    assert_eq!(plain.auth_extra("instance_url").await.unwrap(), None);
}

#[tokio::test]
async fn oauth2_refusal_is_a_clear_auth_error() {
    let script = Arc::new(Script::default());
    let base = serve(script.clone()).await;
    let auth = Auth::OAuth2(OAuth2::new(
        format!("{base}/oauth/token"),
        "cid",
        Secret::new("csecret"),
        OAuth2Grant::RefreshToken {
            refresh_token: Secret::new("bad"),
        },
    ));
    let mut cfg = HttpClientConfig::new("test", "src", &base, auth, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    let c = HttpClient::new(cfg).unwrap();
    let err = c
        .execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(
        err.to_string()
            .contains("invalid_grant: refresh token revoked"),
        "{err}"
    );
    assert!(!err.to_string().contains("csecret"));
}

#[tokio::test]
async fn api_key_in_query_is_sent_but_never_shown() {
    let script = Arc::new(Script::default());
    push(&script, vec![reply(400, r#"{"message":"bad filter"}"#)]);
    let (c, base) = client(
        &script,
        Auth::Query {
            name: "api_token".into(),
            value: Secret::new("k3y"),
        },
    )
    .await;
    let err = c
        .execute(&ApiRequest::get(format!("{base}/v1/deals")).with_query("start", "0"))
        .await
        .unwrap_err();
    assert_eq!(
        script.seen_query.lock().unwrap()[0],
        "start=0&api_token=k3y"
    );
    assert_eq!(
        err.to_string(),
        "API error HTTP 400: bad filter (status: 400, source: src, request: GET /v1/deals)"
    );
}

#[tokio::test]
async fn basic_and_header_auth() {
    let script = Arc::new(Script::default());
    let (c, base) = client(
        &script,
        Auth::Basic {
            user: Secret::new("key"),
            password: Some(Secret::new("X")),
        },
    )
    .await;
    c.execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap();
    assert_eq!(script.seen_auth.lock().unwrap()[0], "Basic a2V5Olg=");
}

#[tokio::test]
async fn connection_refused_is_retried_then_network_error() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let base = format!("http://{addr}");
    let mut cfg =
        HttpClientConfig::new("test", "src", &base, Auth::None, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    let c = HttpClient::new(cfg).unwrap();
    let err = c
        .execute(&ApiRequest::get(format!("{base}/x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert_eq!(c.stats().snapshot().retries, 3);
}

#[test]
fn retry_after_parses_seconds_and_http_dates() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", "7".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    let later = SystemTime::now() + Duration::from_secs(120);
    h.insert(
        "retry-after",
        httpdate::fmt_http_date(later).parse().unwrap(),
    );
    let d = retry_after(&h).unwrap();
    assert!(
        d > Duration::from_secs(115) && d <= Duration::from_secs(120),
        "{d:?}"
    );
    h.insert(
        "retry-after",
        "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
    );
    assert_eq!(
        retry_after(&h),
        Some(Duration::ZERO),
        "a past date means now"
    );
    h.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(retry_after(&h), None);
}

#[test]
fn backoff_grows_and_is_capped() {
    let s = HttpSettings {
        backoff_initial_ms: 100,
        backoff_max_ms: 1000,
        ..HttpSettings::default()
    };
    for _ in 0..50 {
        let b0 = s.backoff(0).as_millis();
        assert!((50..=100).contains(&b0), "{b0}");
        let b3 = s.backoff(3).as_millis();
        assert!((400..=800).contains(&b3), "{b3}");
        assert!(s.backoff(30).as_millis() <= 1000);
    }
}

#[test]
fn requests_round_trip_through_json_without_credentials() {
    let r = ApiRequest::post_json(
        "http://h/crm/v3/objects/contacts/search",
        serde_json::json!({"after":"200"}),
    )
    .with_query("a", "b")
    .in_scope("search");
    let text = serde_json::to_string(&r).unwrap();
    let back: ApiRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    assert_eq!(r.describe(), "POST /crm/v3/objects/contacts/search");
}

#[tokio::test]
async fn period_quota_reserve_stops_after_the_response_that_crossed_it() {
    let script = Arc::new(Script::default());
    let with_quota = |remaining: u64| {
        let mut r = reply(200, "{}");
        r.headers.push(("x-daily", "1000".into()));
        r.headers.push(("x-daily-remaining", remaining.to_string()));
        r
    };
    push(
        &script,
        vec![with_quota(500), with_quota(99), with_quota(98)],
    );
    let base = serve(script.clone()).await;
    let mut cfg =
        HttpClientConfig::new("test", "src", &base, Auth::None, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    cfg.quota_headers = Some(QuotaHeaders {
        limit: "x-daily",
        remaining: "x-daily-remaining",
    });
    let c = HttpClient::new(cfg).unwrap();
    c.execute(&ApiRequest::get(format!("{base}/a")))
        .await
        .unwrap();
    // 99 of 1000 is under the 10% reserve: this response is still used...
    c.execute(&ApiRequest::get(format!("{base}/b")))
        .await
        .unwrap();
    // ...but no further request is sent.
    let err = c
        .execute(&ApiRequest::get(format!("{base}/c")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert!(err.to_string().starts_with("quota reserve reached: 99 of 1000 requests left for the period (reserve 10%); resume later"), "{err}");
    assert_eq!(c.stats().snapshot().requests, 2);
}

#[tokio::test]
async fn a_quota_reader_parses_a_packed_budget_header() {
    fn usage(h: &HeaderMap) -> Option<(u64, u64)> {
        let v = h.get("x-usage")?.to_str().ok()?;
        let (used, max) = v.split_once('/')?;
        let (used, max): (u64, u64) = (used.parse().ok()?, max.parse().ok()?);
        Some((max.saturating_sub(used), max))
    }
    let script = Arc::new(Script::default());
    let with_usage = |used: u64| {
        let mut r = reply(200, "{}");
        r.headers.push(("x-usage", format!("{used}/200")));
        r
    };
    push(
        &script,
        vec![with_usage(100), with_usage(181), with_usage(182)],
    );
    let base = serve(script.clone()).await;
    let mut cfg =
        HttpClientConfig::new("test", "src", &base, Auth::None, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    cfg.quota_reader = Some(usage);
    let c = HttpClient::new(cfg).unwrap();
    for path in ["a", "b"] {
        c.execute(&ApiRequest::get(format!("{base}/{path}")))
            .await
            .unwrap();
    }
    let err = c
        .execute(&ApiRequest::get(format!("{base}/c")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert!(
        err.to_string()
            .starts_with("quota reserve reached: 19 of 200"),
        "{err}"
    );
    assert_eq!(c.stats().snapshot().requests, 2);
}

#[tokio::test]
async fn oauth2_refreshes_before_expiry() {
    let script = Arc::new(Script::default());
    let base = serve(script.clone()).await;
    let auth = Auth::OAuth2(OAuth2::new(
        format!("{base}/oauth/short"),
        "cid",
        Secret::new("csecret"),
        OAuth2Grant::RefreshToken {
            refresh_token: Secret::new("rt"),
        },
    ));
    let mut cfg = HttpClientConfig::new("test", "src", &base, auth, RateLimit::new(1000, 1.0));
    cfg.settings = fast();
    let c = HttpClient::new(cfg).unwrap();
    c.execute(&ApiRequest::get(format!("{base}/a")))
        .await
        .unwrap();
    c.execute(&ApiRequest::get(format!("{base}/b")))
        .await
        .unwrap();
    assert_eq!(*script.token_calls.lock().unwrap(), 2);
    assert_eq!(
        script.seen_auth.lock().unwrap().clone(),
        vec!["Bearer short-1", "Bearer short-2"]
    );
    assert_eq!(c.stats().snapshot().auth_refreshes, 0, "no 401 was needed");
}

#[tokio::test]
async fn per_request_timeout_is_retried_then_reported() {
    let script = Arc::new(Script::default());
    let base = serve(script.clone()).await;
    let mut cfg =
        HttpClientConfig::new("test", "src", &base, Auth::None, RateLimit::new(1000, 1.0));
    cfg.settings = HttpSettings {
        timeout_secs: 0.2,
        max_retries: 1,
        ..fast()
    };
    let c = HttpClient::new(cfg).unwrap();
    let started = std::time::Instant::now();
    let err = c
        .execute(&ApiRequest::get(format!("{base}/slow")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(c.stats().snapshot().requests, 2);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout cut the wait short"
    );
}

#[derive(Debug)]
struct Pacing;

impl ResponseClassifier for Pacing {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        default_verdict(status, headers, body)
    }
    fn pause(&self, headers: &HeaderMap) -> Option<Duration> {
        let usage: u64 = headers.get("x-usage")?.to_str().ok()?.parse().ok()?;
        (usage >= 80).then(|| Duration::from_millis(300))
    }
}

#[tokio::test]
async fn a_classifier_can_pause_the_scope_from_usage_headers() {
    let script = Arc::new(Script::default());
    script.replies.lock().unwrap().push_back(Reply {
        status: 200,
        headers: vec![("x-usage", "90".into())],
        body: "{}".into(),
    });
    let base = serve(script.clone()).await;
    let mut cfg = HttpClientConfig::new(
        "pacing",
        "src",
        &base,
        Auth::None,
        RateLimit::new(1000, 1.0),
    );
    cfg.classifier = Arc::new(Pacing);
    cfg.settings = fast();
    let c = HttpClient::new(cfg).unwrap();
    c.execute(&ApiRequest::get(format!("{base}/a")))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    c.execute(&ApiRequest::get(format!("{base}/b")))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert!(c.stats().snapshot().throttle_wait_ms >= 250);
    // Low usage does not pause.
    let started = std::time::Instant::now();
    c.execute(&ApiRequest::get(format!("{base}/c")))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(250));
}
