//! The Intercom emulator over HTTP: bearer auth and the version header, the conversation
//! search (filters, `starting_after` paging), contacts, companies, admins, teams, errors and
//! the 10-second window limit with its headers.

mod common;

use common::{Reply, client};
use revline_sandbox::{
    IntercomConfig, RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig,
};
use serde_json::{Value, json};

fn sandbox(people: usize, intercom: IntercomConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        intercom,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn send(sb: &Sandbox, path: &str, body: Option<Value>, token: &str, version: &str) -> Reply {
    let url = format!("{}{path}", sb.base_url(Vendor::Intercom));
    let c = client();
    let req = match body {
        Some(b) => c.post(url).json(&b),
        None => c.get(url),
    };
    let resp = req
        .bearer_auth(token)
        .header("Intercom-Version", version)
        .send()
        .await
        .expect("request succeeds");
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

fn search_body(after: i64, per_page: u64, starting_after: Option<&str>) -> Value {
    let mut b = json!({
        "query": {"operator": "AND", "value": [{"field": "updated_at", "operator": ">", "value": after}]},
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": {"per_page": per_page}
    });
    if let Some(s) = starting_after {
        b["pagination"]["starting_after"] = json!(s);
    }
    b
}

#[tokio::test]
async fn search_pages_with_starting_after_in_updated_order() {
    let sb = sandbox(250, IntercomConfig::default());
    let token = sb.intercom_token().to_string();
    let live = sb.world().read().support().live_tickets().count();
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    let mut last = 0;
    let mut pages = 0;
    loop {
        let r = send(
            &sb,
            "/conversations/search",
            Some(search_body(0, 50, after.as_deref())),
            &token,
            "2.11",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.header("x-ratelimit-remaining").is_some());
        let v = r.json();
        assert_eq!(v["type"], "conversation.list");
        assert_eq!(v["total_count"].as_u64(), Some(live as u64));
        pages += 1;
        assert_eq!(v["pages"]["page"].as_u64(), Some(pages));
        for c in v["conversations"].as_array().unwrap() {
            assert!(c["id"].is_string(), "string ids");
            let u = c["updated_at"].as_i64().expect("unix seconds");
            assert!(u >= last);
            last = u;
            assert_eq!(c["statistics"]["type"], "conversation_statistics");
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        match v["pages"]["next"]["starting_after"].as_str() {
            Some(s) => after = Some(s.to_string()),
            None => break,
        }
    }
    assert_eq!(pages as usize, live.div_ceil(50));
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), live);
    // `>` is strict: the newest second filters everything out.
    let r = send(
        &sb,
        "/conversations/search",
        Some(search_body(last, 50, None)),
        &token,
        "2.11",
    )
    .await;
    assert_eq!(r.json()["total_count"], 0);
    assert!(r.json()["pages"].get("next").is_none());
}

#[tokio::test]
async fn errors_are_error_lists() {
    let sb = sandbox(50, IntercomConfig::default());
    let token = sb.intercom_token().to_string();
    let r = send(&sb, "/admins", None, "wrong", "2.11").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["type"], "error.list");
    assert_eq!(r.json()["errors"][0]["code"], "unauthorized");
    let r = send(&sb, "/admins", None, &token, "0.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["code"], "intercom_version_invalid");
    let r = send(
        &sb,
        "/conversations/search",
        Some(search_body(0, 151, None)),
        &token,
        "2.11",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["code"], "parameter_invalid");
    let r = send(&sb, "/nothing", None, &token, "2.11").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errors"][0]["code"], "not_found");
    let me = send(&sb, "/me", None, &token, "2.11").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["type"], "admin");
}

#[tokio::test]
async fn contacts_companies_admins_and_teams() {
    let sb = sandbox(250, IntercomConfig::default());
    let token = sb.intercom_token().to_string();
    let users = sb.world().read().support().user_count();
    let mut n = 0;
    let mut path = "/contacts?per_page=60".to_string();
    loop {
        let r = send(&sb, &path, None, &token, "2.11").await;
        let v = r.json();
        assert_eq!(v["total_count"].as_u64(), Some(users as u64));
        n += v["data"].as_array().unwrap().len();
        match v["pages"]["next"]["starting_after"].as_str() {
            Some(s) => path = format!("/contacts?per_page=60&starting_after={s}"),
            None => break,
        }
    }
    assert_eq!(n, users);
    let r = send(&sb, "/companies?per_page=5", None, &token, "2.11").await;
    let v = r.json();
    let next = v["pages"]["next"].as_str().expect("a next URL");
    assert!(next.ends_with("/companies?per_page=5&page=2"), "{next}");
    let domain = sb.world().read().companies()[0].domain.clone();
    assert_eq!(
        v["data"][0]["website"].as_str(),
        Some(format!("https://{domain}").as_str())
    );
    let admins = send(&sb, "/admins", None, &token, "2.11").await.json();
    assert_eq!(
        admins["admins"].as_array().unwrap().len(),
        sb.world().read().support().agents().len()
    );
    let teams = send(&sb, "/teams", None, &token, "2.11").await.json();
    assert_eq!(teams["type"], "team.list");
}

#[tokio::test]
async fn the_window_limit_answers_429_with_reset_headers() {
    let sb = sandbox(
        20,
        IntercomConfig {
            rate_limit: Some(RateLimitEmulation {
                max: 3,
                interval_ms: 10_000,
            }),
            ..IntercomConfig::default()
        },
    );
    let token = sb.intercom_token().to_string();
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let r = send(&sb, "/teams", None, &token, "2.11").await;
        statuses.push(r.status);
        last = Some(r);
    }
    // Three per window; a window boundary in between can admit the fourth.
    let limited = last.unwrap();
    if statuses == [200, 200, 200, 429] {
        assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(limited.json()["errors"][0]["code"], "rate_limit_exceeded");
        let reset: u64 = limited
            .header("x-ratelimit-reset")
            .unwrap()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(reset >= now && reset <= now + 10, "{reset} vs {now}");
        assert_eq!(sb.stats().route("intercom.rate_limited"), 1);
    } else {
        assert!(
            statuses.iter().filter(|s| **s == 200).count() >= 3,
            "{statuses:?}"
        );
    }
    assert_eq!(limited.header("x-ratelimit-limit"), Some("3"));
}
