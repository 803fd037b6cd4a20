//! Server lifecycle and scale: drop closes the port, a million-person world is cheap, and a
//! rough throughput measurement (run with `--release -- --ignored --nocapture`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use revline_sandbox::world::PERSON_ID_BASE;

#[test]
fn drop_stops_the_server() {
    let sb = sandbox(10);
    let addr = sb.addr(revline_sandbox::Vendor::Hubspot);
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(sb);
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "nothing listens after drop"
    );
}

#[tokio::test]
async fn shutdown_closes_open_connections() {
    let sb = sandbox(10);
    let c = client();
    assert_eq!(get(&c, &sb, "/crm/v3/owners").await.status, 200);
    let url = sb.hubspot_url();
    sb.shutdown();
    // The pooled keep-alive connection was closed by the server too.
    assert!(c.get(format!("{url}/crm/v3/owners")).send().await.is_err());
}

#[tokio::test]
async fn million_person_world_serves_deep_pages_fast() {
    let t = Instant::now();
    let sb = sandbox(1_000_000);
    let started = t.elapsed();
    assert!(started < Duration::from_secs(2), "start took {started:?}");
    let c = client();
    // Page 9,000 of 100 starts at person index 899,900.
    let after = PERSON_ID_BASE + 899_900;
    let t = Instant::now();
    let r = get(
        &c,
        &sb,
        &format!("/crm/v3/objects/contacts?limit=100&after={after}"),
    )
    .await;
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    let v = r.json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    assert_eq!(results[0]["id"], after.to_string());
    assert_eq!(v["paging"]["next"]["after"], (after + 100).to_string());
    assert!(took < Duration::from_millis(500), "page 9000 took {took:?}");
    // The last page has no paging.
    let r = get(
        &c,
        &sb,
        &format!(
            "/crm/v3/objects/contacts?limit=100&after={}",
            PERSON_ID_BASE + 999_950
        ),
    )
    .await;
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 50);
    assert!(v.get("paging").is_none());
    // An incremental search over a million people only looks at the edited ones.
    let since = sb.world().read().now_ms();
    let touched = sb.world().write().touch_people(300);
    let t = Instant::now();
    let r = search(
        &c,
        &sb,
        "contacts",
        serde_json::json!({
            "filterGroups":[{"filters":[{"propertyName":"lastmodifieddate","operator":"GT","value":since}]}],
            "sorts":[{"propertyName":"lastmodifieddate","direction":"ASCENDING"}],
            "limit": 200
        }),
    )
    .await;
    let took = t.elapsed();
    let v = r.json();
    assert_eq!(v["total"], 300);
    assert_eq!(v["results"][0]["id"], touched[0].to_string());
    assert!(
        took < Duration::from_millis(500),
        "incremental search took {took:?}"
    );
}

/// Pages through 200,000 contacts with all properties and prints records/s. Meaningful only
/// in release mode: `cargo test -p revline-sandbox --release --test lifecycle -- --ignored
/// --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "benchmark; run explicitly in release mode"]
async fn throughput() {
    let n = 200_000;
    let sb = sandbox(1_000_000);
    let c = client();
    let all = "associatedcompanyid,createdate,email,firstname,hs_analytics_source,\
               hs_analytics_source_data_1,hs_email_optout,hs_google_click_id,hs_object_id,\
               jobtitle,lastmodifieddate,lastname,lifecyclestage,trial_start_date";
    let t = Instant::now();
    let mut after = PERSON_ID_BASE;
    let mut records = 0u64;
    let mut bytes = 0usize;
    while records < n {
        let url = format!(
            "{}/crm/v3/objects/contacts?limit=100&properties={all}&after={after}",
            sb.hubspot_url()
        );
        let body = c
            .get(url)
            .bearer_auth(sb.hubspot_token())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes += body.len();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        records += v["results"].as_array().unwrap().len() as u64;
        after = v["paging"]["next"]["after"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "HTTP: {records} contacts in {secs:.2}s = {:.0} records/s ({:.1} MB/s, {} bytes/record, \
         client parses with serde_json::Value)",
        records as f64 / secs,
        bytes as f64 / secs / 1e6,
        bytes as u64 / records
    );
}
