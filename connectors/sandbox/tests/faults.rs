//! Every fault kind, observed from a real HTTP client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use revline_sandbox::{Fault, FaultPlan, FaultRule, Schedule};

const CONTACTS: &str = "/crm/v3/objects/contacts";

fn on_contacts(fault: Fault, schedule: Schedule) -> FaultPlan {
    FaultPlan::single(FaultRule::new(fault, Some(CONTACTS), schedule))
}

#[tokio::test]
async fn too_many_requests_with_and_without_retry_after() {
    let sb = sandbox(20);
    let c = client();
    sb.set_faults(FaultPlan {
        rules: vec![
            FaultRule::new(
                Fault::TooManyRequests {
                    retry_after: Some(2),
                },
                Some(CONTACTS),
                Schedule::Nth(vec![1]),
            ),
            FaultRule::new(
                Fault::TooManyRequests { retry_after: None },
                Some(CONTACTS),
                Schedule::Nth(vec![2]),
            ),
        ],
    });
    let r = get(&c, &sb, CONTACTS).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let v = r.json();
    assert_eq!(v["errorType"], "RATE_LIMIT");
    assert_eq!(v["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(
        v["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    let r = get(&c, &sb, CONTACTS).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), None);
    // Third request is served normally; other routes were never affected.
    assert_eq!(get(&c, &sb, CONTACTS).await.status, 200);
    assert_eq!(get(&c, &sb, "/crm/v3/owners").await.status, 200);
    let s = sb.stats();
    assert_eq!(s.fault("too_many_requests"), 2);
    assert_eq!(s.rate_limited, 2);
    assert_eq!(s.route("hubspot.contacts.list"), 1);
    assert_eq!(s.total_requests, 4);
}

#[tokio::test]
async fn gateway_errors_are_html_and_500_is_json() {
    let sb = sandbox(20);
    let c = client();
    sb.set_faults(FaultPlan {
        rules: vec![
            FaultRule::new(Fault::Status { code: 503 }, None, Schedule::Nth(vec![1])),
            FaultRule::new(Fault::Status { code: 502 }, None, Schedule::Nth(vec![2])),
            FaultRule::new(Fault::Status { code: 500 }, None, Schedule::Nth(vec![3])),
        ],
    });
    let r = get(&c, &sb, CONTACTS).await;
    assert_eq!(r.status, 503);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.contains("503 Service Unavailable"));
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
    let r = get(&c, &sb, CONTACTS).await;
    assert_eq!(r.status, 502);
    assert!(r.body.starts_with("<!DOCTYPE html>"));
    let r = get(&c, &sb, CONTACTS).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["status"], "error");
    let s = sb.stats();
    assert_eq!(
        (
            s.fault("status_503"),
            s.fault("status_502"),
            s.fault("status_500")
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn connection_reset_is_a_client_error() {
    let sb = sandbox(20);
    let c = client();
    // Warm a pooled keep-alive connection first: the reset must also work mid-connection.
    assert_eq!(get(&c, &sb, CONTACTS).await.status, 200);
    sb.set_faults(on_contacts(Fault::ConnectionReset, Schedule::Nth(vec![1])));
    let err = c
        .get(format!("{}{CONTACTS}", sb.hubspot_url()))
        .bearer_auth(sb.hubspot_token())
        .send()
        .await
        .expect_err("the connection is dropped without a response");
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    // The next request (new connection) succeeds.
    assert_eq!(get(&c, &sb, CONTACTS).await.status, 200);
    assert_eq!(sb.stats().fault("connection_reset"), 1);
}

#[tokio::test]
async fn truncated_body_fails_json_parsing() {
    let sb = sandbox(20);
    let c = client();
    let full = get(&c, &sb, "/crm/v3/objects/contacts?limit=20").await;
    sb.set_faults(on_contacts(Fault::TruncatedBody, Schedule::Always));
    let r = get(&c, &sb, "/crm/v3/objects/contacts?limit=20").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        r.body.len()
    );
    assert_eq!(r.body.len(), full.body.len() / 2);
    assert!(full.body.starts_with(&r.body));
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
    assert_eq!(sb.stats().fault("truncated_body"), 1);
}

#[tokio::test]
async fn unauthorized_fault_and_latency() {
    let sb = sandbox(20);
    let c = client();
    sb.set_faults(FaultPlan {
        rules: vec![
            FaultRule::new(Fault::Latency { ms: 150 }, None, Schedule::Every(2)),
            FaultRule::new(Fault::Unauthorized, Some("/owners"), Schedule::Always),
        ],
    });
    let t = Instant::now();
    assert_eq!(get(&c, &sb, CONTACTS).await.status, 200);
    let fast = t.elapsed();
    let t = Instant::now();
    assert_eq!(get(&c, &sb, CONTACTS).await.status, 200);
    let slow = t.elapsed();
    assert!(slow >= Duration::from_millis(150), "{slow:?}");
    assert!(fast < Duration::from_millis(150), "{fast:?}");
    let r = get(&c, &sb, "/crm/v3/owners").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["category"], "INVALID_AUTHENTICATION");
    let s = sb.stats();
    assert_eq!(s.fault("latency"), 1);
    assert_eq!(s.fault("unauthorized"), 1);
    assert_eq!(s.unauthorized, 1);
    sb.set_faults(FaultPlan::none());
    assert_eq!(get(&c, &sb, "/crm/v3/owners").await.status, 200);
    sb.reset_stats();
    assert_eq!(sb.stats().total_requests, 0);
}

#[tokio::test]
async fn probability_schedule_is_deterministic() {
    let plan = on_contacts(
        Fault::Status { code: 503 },
        Schedule::Probability { p: 0.3, seed: 11 },
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sb = sandbox(10);
        let c = client();
        sb.set_faults(plan.clone());
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(get(&c, &sb, CONTACTS).await.status);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let fails = runs[0].iter().filter(|s| **s == 503).count();
    assert!((4..=20).contains(&fails), "{fails}");
}

#[test]
fn connection_reset_sends_rst() {
    use std::io::{Read, Write};
    let sb = sandbox(5);
    sb.set_faults(on_contacts(Fault::ConnectionReset, Schedule::Always));
    let mut s = std::net::TcpStream::connect(sb.addr(revline_sandbox::Vendor::Hubspot)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {CONTACTS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        sb.hubspot_token()
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).expect_err("reset, not a clean EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
}
