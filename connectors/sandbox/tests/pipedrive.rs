//! The Pipedrive emulator over HTTP: auth (header, query parameter, OAuth bearer), v2 cursor
//! paging and `updated_since`, validation errors, v1 `start`/`limit` pagination, the
//! 2-second burst limit with its headers and 429 body, and fault shapes.

mod common;

use std::collections::HashSet;

use common::client;
use revline_sandbox::pipedrive::person_id;
use revline_sandbox::{
    Fault, FaultPlan, FaultRule, PipedriveConfig, Sandbox, SandboxConfig, Schedule, Vendor,
    WorldConfig,
};
use serde_json::Value;

fn sandbox(pd: PipedriveConfig, people: usize, faults: FaultPlan) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        pipedrive: pd,
        faults,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn get(
    c: &reqwest::Client,
    sb: &Sandbox,
    path_and_query: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = c
        .get(format!(
            "{}{path_and_query}",
            sb.base_url(Vendor::Pipedrive)
        ))
        .header("x-api-token", sb.pipedrive_token())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_header_query_or_bearer() {
    let sb = sandbox(PipedriveConfig::default(), 20, FaultPlan::none());
    let c = client();
    let base = sb.base_url(Vendor::Pipedrive);
    let ok = c
        .get(format!(
            "{base}/api/v1/pipelines?api_token={}",
            sb.pipedrive_token()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let ok = c
        .get(format!("{base}/api/v2/deals"))
        .bearer_auth(&sb.config().pipedrive.oauth_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let denied = c
        .get(format!("{base}/api/v2/deals"))
        .header("x-api-token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 401);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "unauthorized access");
    assert_eq!(body["errorCode"], 401);
    assert!(
        body["error_info"]
            .as_str()
            .unwrap()
            .contains("developers.pipedrive.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_cursors_page_every_person_once_and_filter_by_update_time() {
    let sb = sandbox(PipedriveConfig::default(), 250, FaultPlan::none());
    let c = client();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut last_update = String::new();
    loop {
        let q = match &cursor {
            Some(c) => format!("&cursor={c}"),
            None => String::new(),
        };
        let (status, _, body) = get(
            &c,
            &sb,
            &format!("/api/v2/persons?limit=100&sort_by=update_time&sort_direction=asc{q}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true);
        pages += 1;
        for p in body["data"].as_array().unwrap() {
            assert!(seen.insert(p["id"].as_u64().unwrap()), "no duplicates");
            let t = p["update_time"].as_str().unwrap().to_string();
            assert!(t.ends_with('Z') && t.len() == 20, "{t}");
            assert!(t >= last_update, "sorted by update_time");
            last_update = t;
            assert!(p["emails"][0]["primary"].as_bool().unwrap());
            assert!(p["org_id"].is_u64(), "flat integer ids");
        }
        match body["additional_data"]["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => {
                assert!(body["additional_data"]["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(sb.stats().records("pipedrive.persons.list"), 250);

    // Touched people are exactly what `updated_since` (their time) returns.
    let before = sb.world().read().now();
    let touched = sb.world().write().touch_people(4);
    let since = (before + chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let (_, _, body) = get(&c, &sb, &format!("/api/v2/persons?updated_since={since}")).await;
    let got: HashSet<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    let want: HashSet<u64> = touched
        .iter()
        .map(|id| person_id(id - revline_sandbox::world::PERSON_ID_BASE))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_refused_like_pipedrive() {
    let sb = sandbox(PipedriveConfig::default(), 20, FaultPlan::none());
    let c = client();
    for q in [
        "/api/v2/persons?limit=501",
        "/api/v2/persons?cursor=nothex",
        "/api/v2/deals?updated_since=2024-05-01",
        "/api/v2/deals?sort_by=title",
        "/api/v2/deals?status=closed",
    ] {
        let (status, _, body) = get(&c, &sb, q).await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["success"], false);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("Validation failed"),
            "{body}"
        );
    }
    let (status, _, body) = get(&c, &sb, "/api/v2/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(body["errorCode"], 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_pagination_uses_start_and_next_start() {
    let sb = sandbox(PipedriveConfig::default(), 20, FaultPlan::none());
    let c = client();
    let (_, _, body) = get(&c, &sb, "/v1/stages?start=0&limit=2").await;
    let pg = &body["additional_data"]["pagination"];
    assert_eq!(pg["more_items_in_collection"], true);
    assert_eq!(pg["next_start"], 2);
    assert_eq!(body["data"][0]["name"], "Appointment Scheduled");
    assert_eq!(body["data"][0]["add_time"], "2024-01-01 00:00:00");
    let (_, _, body) = get(&c, &sb, "/api/v1/stages?start=4&limit=2").await;
    let pg = &body["additional_data"]["pagination"];
    assert_eq!(pg["more_items_in_collection"], false);
    assert!(pg.get("next_start").is_none());
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["deal_probability"], 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_burst_limit_counts_a_rolling_two_second_window() {
    let sb = sandbox(
        PipedriveConfig {
            rate_limit: Some(3),
            ..PipedriveConfig::default()
        },
        20,
        FaultPlan::none(),
    );
    let c = client();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (status, h, _) = get(&c, &sb, "/v1/pipelines").await;
        assert_eq!(status, 200);
        assert_eq!(h["x-ratelimit-limit"], "3");
        remaining.push(h["x-ratelimit-remaining"].to_str().unwrap().to_string());
    }
    assert_eq!(remaining, vec!["2", "1", "0"]);
    let (status, h, body) = get(&c, &sb, "/v1/pipelines").await;
    assert_eq!(status, 429);
    assert!(
        h.get("retry-after").is_none(),
        "Pipedrive sends no Retry-After"
    );
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&reset));
    assert_eq!(body["error"], "Request over limit");
    assert_eq!(body["errorCode"], 429);
    tokio::time::sleep(std::time::Duration::from_millis(2_050)).await;
    let (status, _, _) = get(&c, &sb, "/v1/pipelines").await;
    assert_eq!(status, 200, "the window rolled on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_use_pipedrive_shapes() {
    let faults = FaultPlan {
        rules: vec![
            FaultRule::new(
                Fault::TooManyRequests {
                    retry_after: Some(1),
                },
                Some("/api/v2/deals"),
                Schedule::Nth(vec![1]),
            ),
            FaultRule::new(
                Fault::Status { code: 500 },
                Some("/api/v2/persons"),
                Schedule::Nth(vec![1]),
            ),
        ],
    };
    let sb = sandbox(PipedriveConfig::default(), 20, faults);
    let c = client();
    let (status, h, body) = get(&c, &sb, "/api/v2/deals").await;
    assert_eq!(status, 429);
    assert_eq!(h["x-ratelimit-reset"], "1");
    assert_eq!(body["error"], "Request over limit");
    let (status, _, body) = get(&c, &sb, "/api/v2/persons").await;
    assert_eq!(status, 500);
    assert_eq!(body["success"], false);
    assert!(
        body.get("error").is_none(),
        "5xx bodies may have no error text"
    );
    let (status, _, _) = get(&c, &sb, "/api/v2/deals").await;
    assert_eq!(status, 200);
}
