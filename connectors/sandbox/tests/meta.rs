//! The Meta Marketing API emulator over HTTP: auth, insights shapes, paging.next (with empty
//! pages), async report jobs, the 400/80000 throttle with usage headers, and agreement with
//! the world.

mod common;

use chrono::Duration;
use common::*;
use revline_sandbox::{
    MetaConfig, RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig,
};
use serde_json::Value;

fn start(config: MetaConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 800,
            ..WorldConfig::default()
        },
        meta: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn call(
    c: &reqwest::Client,
    sb: &Sandbox,
    method: reqwest::Method,
    path_and_query: &str,
) -> Reply {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_string()
    } else {
        format!("{}{path_and_query}", sb.base_url(Vendor::Meta))
    };
    let r = c
        .request(method, url)
        .bearer_auth(&sb.config().meta.access_token)
        .send()
        .await
        .unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

fn insights(from: &str, to: &str, level: &str, limit: u32) -> String {
    let range = format!("%7B%22since%22%3A%22{from}%22%2C%22until%22%3A%22{to}%22%7D");
    format!(
        "/v24.0/act_1020304050/insights?level={level}&fields=campaign_id,campaign_name,ad_id,impressions,clicks,spend,actions,action_values\
         &time_range={range}&time_increment=1&limit={limit}"
    )
}

#[tokio::test]
async fn insights_are_strings_follow_next_and_agree_with_the_world() {
    let sb = start(MetaConfig::default());
    let c = client();
    let today = sb.world().read().today();
    let from = (today - Duration::days(13)).to_string();
    let mut url = insights(&from, &today.to_string(), "ad", 20);
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let r = call(&c, &sb, reqwest::Method::GET, &url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.header("x-business-use-case-usage").is_some());
        assert!(r.header("x-fb-ads-insights-throttle").is_some());
        let v = r.json();
        pages += 1;
        rows.extend(v["data"].as_array().unwrap().iter().cloned());
        match v["paging"]["next"].as_str() {
            Some(n) => {
                assert!(n.starts_with(&sb.base_url(Vendor::Meta)));
                url = n.to_string();
            }
            None => break,
        }
    }
    assert!(pages >= 4);
    let r = &rows[0];
    assert!(r["impressions"].is_string() && r["spend"].is_string() && r["ad_id"].is_string());
    assert_eq!(
        r["date_start"], r["date_stop"],
        "time_increment=1: one day per row"
    );
    let clicks: u64 = rows
        .iter()
        .map(|r| r["clicks"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    let spend: f64 = rows
        .iter()
        .map(|r| r["spend"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    let leads: u64 = rows
        .iter()
        .flat_map(|r| r["actions"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["action_type"] == "lead")
        .map(|a| a["value"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    let w = sb.world();
    let w = w.read();
    let fb: Vec<u32> = w.paid_campaigns("facebook").map(|c| c.index).collect();
    let (mut wc, mut ws, mut wl) = (0u64, 0u64, 0u64);
    for k in 0..14 {
        for a in w
            .marketing_day(today - Duration::days(k))
            .ads
            .iter()
            .filter(|a| fb.contains(&a.key.campaign))
        {
            wc += a.clicks;
            ws += a.cost_micros;
            wl += a.leads;
        }
    }
    assert_eq!(clicks, wc);
    assert!((spend - ws as f64 / 1e6).abs() < 0.01 * rows.len() as f64);
    assert_eq!(leads, wl);
    assert_eq!(sb.stats().records("meta.insights.ad"), rows.len() as u64);
}

#[tokio::test]
async fn empty_pages_still_have_next_and_async_jobs_complete() {
    let sb = start(MetaConfig {
        empty_page_every: Some(2),
        ..MetaConfig::default()
    });
    let c = client();
    let today = sb.world().read().today();
    let from = (today - Duration::days(29)).to_string();
    let v = call(
        &c,
        &sb,
        reqwest::Method::GET,
        &insights(&from, &today.to_string(), "campaign", 10),
    )
    .await
    .json();
    let next = v["paging"]["next"].as_str().unwrap().to_string();
    let v2 = call(&c, &sb, reqwest::Method::GET, &next).await.json();
    assert!(v2["data"].as_array().unwrap().is_empty(), "page 2 is empty");
    assert!(v2["paging"]["next"].is_string(), "and still has next");

    // Async: POST → report_run_id → poll → results.
    let created = call(
        &c,
        &sb,
        reqwest::Method::POST,
        &insights(&from, &today.to_string(), "campaign", 100),
    )
    .await;
    let id = created.json()["report_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let early = call(
        &c,
        &sb,
        reqwest::Method::GET,
        &format!("/v24.0/{id}/insights"),
    )
    .await;
    assert_eq!(early.status, 400, "results before completion are refused");
    let s1 = call(&c, &sb, reqwest::Method::GET, &format!("/v24.0/{id}"))
        .await
        .json();
    assert_eq!(s1["async_status"], "Job Started");
    let s2 = call(&c, &sb, reqwest::Method::GET, &format!("/v24.0/{id}"))
        .await
        .json();
    assert_eq!(
        (
            s2["async_status"].as_str(),
            s2["async_percent_completion"].as_u64()
        ),
        (Some("Job Completed"), Some(100))
    );
    let results = call(
        &c,
        &sb,
        reqwest::Method::GET,
        &format!("/v24.0/{id}/insights?limit=100"),
    )
    .await
    .json();
    assert_eq!(
        results["data"].as_array().unwrap().len(),
        30,
        "one campaign × 30 days"
    );
    assert_eq!(sb.stats().route("meta.insights.async_create"), 1);
}

#[tokio::test]
async fn auth_versions_objects_and_throttling() {
    let sb = start(MetaConfig {
        rate_limit: Some(RateLimitEmulation {
            max: 4,
            interval_ms: 60_000,
        }),
        ..MetaConfig::default()
    });
    let c = client();
    // A bad token: HTTP 400 with code 190.
    let r = c
        .get(format!(
            "{}/v24.0/act_1020304050/campaigns?access_token=nope",
            sb.base_url(Vendor::Meta)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("www-authenticate").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_i64(), v["error"]["type"].as_str()),
        (Some(190), Some("OAuthException"))
    );
    // The token in the query works too.
    let ok = c
        .get(format!(
            "{}/v24.0/act_1020304050/ads?fields=id,name,creative%7Bid,url_tags%7D&access_token={}",
            sb.base_url(Vendor::Meta),
            sb.config().meta.access_token
        ))
        .send()
        .await
        .unwrap();
    let v: Value = ok.json().await.unwrap();
    let tags = v["data"][0]["creative"]["url_tags"].as_str().unwrap();
    assert!(
        tags.starts_with("utm_source=facebook&utm_medium=paid_social&utm_campaign="),
        "{tags}"
    );
    let usage: Value = serde_json::from_str(
        call(
            &c,
            &sb,
            reqwest::Method::GET,
            "/v24.0/act_1020304050/campaigns",
        )
        .await
        .header("x-ad-account-usage")
        .unwrap(),
    )
    .unwrap();
    assert_eq!(usage["acc_id_util_pct"], 50, "two of four calls");
    // An old version.
    let r = call(
        &c,
        &sb,
        reqwest::Method::GET,
        "/v16.0/act_1020304050/campaigns",
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(2635))
    );
    // Past the budget: HTTP 400, code 80000, with the time to regain access.
    call(
        &c,
        &sb,
        reqwest::Method::GET,
        "/v24.0/act_1020304050/adsets",
    )
    .await;
    call(
        &c,
        &sb,
        reqwest::Method::GET,
        "/v24.0/act_1020304050/adsets",
    )
    .await;
    let r = call(
        &c,
        &sb,
        reqwest::Method::GET,
        "/v24.0/act_1020304050/adsets",
    )
    .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(
        (
            v["error"]["code"].as_i64(),
            v["error"]["is_transient"].as_bool()
        ),
        (Some(80000), Some(true))
    );
    let buc: Value = serde_json::from_str(r.header("x-business-use-case-usage").unwrap()).unwrap();
    assert_eq!(buc["1020304050"][0]["call_count"], 100);
    assert_eq!(buc["1020304050"][0]["estimated_time_to_regain_access"], 1);
    assert_eq!(sb.stats().route("meta.throttled"), 1);
}
