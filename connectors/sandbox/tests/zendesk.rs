//! The Zendesk emulator over HTTP: shapes and value types, export cursors, list paging,
//! errors, auth, rate-limit headers and the export limit.

mod common;

use common::{Reply, client};
use revline_sandbox::zendesk::ids::{org_id, ticket_id, user_id};
use revline_sandbox::{
    RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig, ZendeskConfig,
};
use serde_json::Value;

fn sandbox(people: usize, zendesk: ZendeskConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        zendesk,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn get(sb: &Sandbox, path: &str) -> Reply {
    let (email, token) = sb.zendesk_credentials();
    let resp = client()
        .get(format!("{}{path}", sb.base_url(Vendor::Zendesk)))
        .basic_auth(format!("{email}/token"), Some(token))
        .send()
        .await
        .expect("request succeeds");
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

fn is_iso_z(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    s.len() == 20 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn ticket_export_pages_with_cursors_to_the_end_of_stream() {
    let sb = sandbox(250, ZendeskConfig::default());
    let n = sb.world().read().support().tickets().len();
    let mut url = "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=40".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut last_key = (i64::MIN, 0u64);
    loop {
        let r = get(&sb, &url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.header("x-rate-limit-remaining").is_some());
        let v = r.json();
        pages += 1;
        for t in v["tickets"].as_array().unwrap() {
            assert!(t["id"].is_u64());
            assert!(
                is_iso_z(&t["created_at"]) && is_iso_z(&t["updated_at"]),
                "{t}"
            );
            let gts = t["generated_timestamp"].as_i64().expect("integer seconds");
            let updated = chrono::DateTime::parse_from_rfc3339(t["updated_at"].as_str().unwrap())
                .unwrap()
                .timestamp();
            assert_eq!(gts, updated);
            let key = (gts, t["id"].as_u64().unwrap());
            assert!(key > last_key, "ordered by (generated_timestamp, id)");
            last_key = key;
            assert!(t["requester_id"].is_u64() && t["organization_id"].is_u64());
            assert!(t["tags"].is_array() && t["via"]["channel"].is_string());
            seen.push(key.1);
        }
        if v["end_of_stream"] == true {
            break;
        }
        let after = v["after_url"].as_str().expect("after_url");
        assert!(after.starts_with(&sb.base_url(Vendor::Zendesk)));
        assert!(after.contains("per_page=40"), "{after}");
        url = after
            .strip_prefix(&sb.base_url(Vendor::Zendesk))
            .unwrap()
            .to_string();
    }
    assert_eq!(pages, n.div_ceil(40));
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), n, "every ticket exactly once");
    assert_eq!(sb.stats().records("zendesk.tickets.export"), n as u64);
}

#[tokio::test]
async fn deleted_tickets_are_exported_with_status_deleted() {
    let sb = sandbox(400, ZendeskConfig::default());
    let (deleted, ids) = {
        let w = sb.world();
        let mut w = w.write();
        let ids = w.delete_tickets(3);
        (
            w.support().tickets().iter().filter(|t| t.deleted).count(),
            ids,
        )
    };
    let all = get(&sb, "/api/v2/incremental/tickets/cursor.json?start_time=0")
        .await
        .json();
    let statuses: Vec<(u64, String)> = all["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_u64().unwrap(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|(_, s)| s == "deleted").count(),
        deleted
    );
    for i in ids {
        assert!(statuses.contains(&(ticket_id(i), "deleted".to_string())));
    }
    let live = get(
        &sb,
        "/api/v2/incremental/tickets/cursor.json?start_time=0&exclude_deleted=true",
    )
    .await
    .json();
    assert_eq!(
        live["tickets"].as_array().unwrap().len(),
        statuses.len() - deleted
    );
    // The export's last cursor, replayed after more changes, yields only them.
    let after = all["after_cursor"].as_str().unwrap().to_string();
    let touched = sb.world().write().touch_tickets(4);
    let next = get(
        &sb,
        &format!(
            "/api/v2/incremental/tickets/cursor.json?cursor={}",
            after.replace('=', "%3D")
        ),
    )
    .await
    .json();
    let got: Vec<u64> = next["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        got,
        touched.iter().map(|i| ticket_id(*i)).collect::<Vec<_>>()
    );
    assert_eq!(next["end_of_stream"], true);
}

#[tokio::test]
async fn lists_page_with_has_more_and_after_cursor() {
    let sb = sandbox(400, ZendeskConfig::default());
    let live = sb.world().read().support().live_tickets().count();
    let mut url = "/api/v2/ticket_metrics.json?page%5Bsize%5D=100".to_string();
    let mut count = 0;
    loop {
        let r = get(&sb, &url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.header("ratelimit-reset").is_some());
        let v = r.json();
        for m in v["ticket_metrics"].as_array().unwrap() {
            count += 1;
            let reply = &m["reply_time_in_minutes"];
            assert!(reply["calendar"].is_i64() || reply["calendar"].is_null());
            assert!(m["reopens"].is_u64());
        }
        if v["meta"]["has_more"] != true {
            assert!(v["links"]["next"].is_null());
            break;
        }
        let next = v["links"]["next"].as_str().unwrap();
        url = next
            .strip_prefix(&sb.base_url(Vendor::Zendesk))
            .unwrap()
            .to_string();
    }
    assert_eq!(count, live);

    let orgs = get(&sb, "/api/v2/organizations?page[size]=5").await.json();
    let first = &orgs["organizations"][0];
    let c = sb.world().read().companies()[0].clone();
    assert_eq!(first["id"], org_id(0));
    assert_eq!(first["domain_names"], serde_json::json!([c.domain]));
    assert_eq!(orgs["meta"]["has_more"], true);

    let users = get(&sb, "/api/v2/incremental/users/cursor.json?start_time=0")
        .await
        .json();
    let p = {
        let w = sb.world();
        let w = w.read();
        let t = &w.support().tickets()[0];
        w.person(t.requester).unwrap()
    };
    let u = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == user_id(p.index))
        .expect("the first requester is a user");
    assert_eq!(u["email"], p.email);
    assert_eq!(u["external_id"], p.id.to_string());
    assert_eq!(u["role"], "end-user");

    let bad = get(&sb, "/api/v2/groups?page[size]=500").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "InvalidPaginationParameter");
    let missing = get(&sb, "/api/v2/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "InvalidEndpoint");
}

#[tokio::test]
async fn satisfaction_ratings_filter_by_score_and_time() {
    let sb = sandbox(400, ZendeskConfig::default());
    let (good, bad) = {
        let w = sb.world();
        let w = w.read();
        let rated: Vec<_> = w.support().rated_tickets().filter(|t| !t.deleted).collect();
        let good = rated
            .iter()
            .filter(|t| t.csat.as_ref().unwrap().is_good())
            .count();
        (good, rated.len() - good)
    };
    let count = |v: Value| v["satisfaction_ratings"].as_array().unwrap().len();
    assert_eq!(
        count(
            get(&sb, "/api/v2/satisfaction_ratings?score=bad")
                .await
                .json()
        ),
        bad
    );
    let all = get(&sb, "/api/v2/satisfaction_ratings?score=received")
        .await
        .json();
    assert_eq!(count(all.clone()), (good + bad).min(100));
    let first = &all["satisfaction_ratings"][0];
    assert!(matches!(first["score"].as_str(), Some("good" | "bad")));
    assert!(is_iso_z(&first["updated_at"]));
    let future = get(&sb, "/api/v2/satisfaction_ratings?start_time=4102444800")
        .await
        .json();
    assert_eq!(count(future), 0);
    let wrong = get(&sb, "/api/v2/satisfaction_ratings?score=great").await;
    assert_eq!(wrong.status, 400);
}

#[tokio::test]
async fn auth_and_parameter_errors_use_zendesks_bodies() {
    let sb = sandbox(50, ZendeskConfig::default());
    let resp = client()
        .get(format!("{}/api/v2/groups", sb.base_url(Vendor::Zendesk)))
        .basic_auth("admin@revline-demo.io", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "Couldn't authenticate you"
    );
    let bearer = client()
        .get(format!("{}/api/v2/groups", sb.base_url(Vendor::Zendesk)))
        .bearer_auth(&sb.config().zendesk.oauth_token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);
    let now = chrono::Utc::now().timestamp();
    let recent = get(
        &sb,
        &format!("/api/v2/incremental/tickets/cursor.json?start_time={now}"),
    )
    .await;
    assert_eq!(recent.status, 400);
    assert!(
        recent.body.contains("Too recent start_time"),
        "{}",
        recent.body
    );
    let none = get(&sb, "/api/v2/incremental/tickets/cursor.json").await;
    assert_eq!(none.status, 400);
    let bad_cursor = get(&sb, "/api/v2/incremental/tickets/cursor.json?cursor=zzz").await;
    assert_eq!(bad_cursor.json()["description"], "Invalid cursor");
}

#[tokio::test]
async fn the_export_limit_answers_429_with_retry_after() {
    let sb = sandbox(
        50,
        ZendeskConfig {
            export_rate_limit: Some(RateLimitEmulation {
                max: 3,
                interval_ms: 60_000,
            }),
            ..ZendeskConfig::default()
        },
    );
    for _ in 0..3 {
        let r = get(&sb, "/api/v2/incremental/users/cursor.json?start_time=0").await;
        assert_eq!(r.status, 200);
    }
    let refused = get(&sb, "/api/v2/incremental/tickets/cursor.json?start_time=0").await;
    assert_eq!(refused.status, 429, "both exports share the limit");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
    assert!(
        refused.body.contains("incremental export"),
        "{}",
        refused.body
    );
    // Other endpoints are not affected by the export limit.
    assert_eq!(get(&sb, "/api/v2/groups").await.status, 200);
    let stats = sb.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.route("zendesk.tickets.export"), 1);
    assert_eq!(
        sb.max_route_requests_in_window(
            &["zendesk.tickets.export", "zendesk.users.export"],
            std::time::Duration::from_secs(60)
        ),
        4
    );
}
