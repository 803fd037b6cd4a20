//! The LinkedIn Marketing API emulator over HTTP: required headers, Rest.li 2.0 query syntax,
//! adAnalytics shapes (counts as numbers, costs as strings) agreeing with the world, the
//! silent row cap, the 20-field limit, search paging, and the 429 quota answers.

mod common;

use chrono::{Datelike, Duration};
use common::*;
use revline_sandbox::linkedin::{METRICS, analytics_rows, campaign_days};
use revline_sandbox::{LinkedinConfig, Sandbox, SandboxConfig, Vendor, WorldConfig};
use serde_json::Value;

fn start(config: LinkedinConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 400,
            ..WorldConfig::default()
        },
        linkedin: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn call(sb: &Sandbox, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
    let c = client();
    let mut r = c.get(format!("{}{path_and_query}", sb.base_url(Vendor::Linkedin)));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

async fn get(sb: &Sandbox, path_and_query: &str) -> Reply {
    let auth = format!("Bearer {}", sb.config().linkedin.access_token);
    call(
        sb,
        path_and_query,
        &[
            ("Authorization", auth.as_str()),
            ("LinkedIn-Version", "202510"),
            ("X-Restli-Protocol-Version", "2.0.0"),
        ],
    )
    .await
}

fn analytics(from: chrono::NaiveDate, to: chrono::NaiveDate, fields: &str) -> String {
    format!(
        "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY\
         &dateRange=(start:(year:{},month:{},day:{}),end:(year:{},month:{},day:{}))\
         &accounts=List(urn%3Ali%3AsponsoredAccount%3A512345678)&fields={fields}",
        from.year(),
        from.month(),
        from.day(),
        to.year(),
        to.month(),
        to.day()
    )
}

#[tokio::test]
async fn analytics_rows_agree_with_the_world_with_linkedin_types() {
    let sb = start(LinkedinConfig::default());
    let today = sb.world().read().today();
    let from = today - Duration::days(9);
    let r = get(
        &sb,
        &analytics(
            from,
            today,
            "dateRange,pivotValues,impressions,clicks,costInLocalCurrency,externalWebsiteConversions",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let els = v["elements"].as_array().unwrap();
    let w = sb.world();
    let w = w.read();
    assert_eq!(els.len() as u64, analytics_rows(&w, from, today));
    assert!(els.len() >= 20, "3 LinkedIn campaigns over 10 days");
    let first = &els[0];
    assert!(first["impressions"].is_u64(), "counts are numbers: {first}");
    assert!(
        first["costInLocalCurrency"].is_string(),
        "costs are strings"
    );
    assert!(
        first.get("landingPageClicks").is_none(),
        "unrequested fields are left out"
    );
    let urn = first["pivotValues"][0].as_str().unwrap();
    assert!(urn.starts_with("urn:li:sponsoredCampaign:"), "{urn}");
    let day = from;
    let rows = campaign_days(&w, day);
    let (g, s) = &rows[0];
    assert_eq!(urn, format!("urn:li:sponsoredCampaign:{}", g.id));
    assert_eq!(first["impressions"].as_u64().unwrap(), s.impressions);
    assert_eq!(
        first["dateRange"]["start"],
        serde_json::json!({"year": day.year(), "month": day.month(), "day": day.day()})
    );
    let cost: f64 = first["costInLocalCurrency"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - s.cost_micros as f64 / 1e6).abs() < 0.0001);
    assert_eq!(sb.stats().route("linkedin.analytics.campaign"), 1);
    assert_eq!(
        sb.stats().records("linkedin.analytics.campaign"),
        els.len() as u64
    );
}

#[tokio::test]
async fn the_cap_truncates_silently_and_fields_are_limited() {
    let sb = start(LinkedinConfig {
        row_cap: 10,
        ..LinkedinConfig::default()
    });
    let today = sb.world().read().today();
    let r = get(
        &sb,
        &analytics(
            today - Duration::days(29),
            today,
            "dateRange,pivotValues,clicks",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["elements"].as_array().unwrap().len(),
        10,
        "cut at the cap"
    );
    assert!(
        v["paging"]["links"].as_array().unwrap().is_empty(),
        "no next link"
    );

    let mut fields = vec!["dateRange", "pivotValues"];
    fields.extend(METRICS.iter().take(19));
    let r = get(&sb, &analytics(today, today, &fields.join(","))).await;
    assert_eq!(r.status, 400, "21 fields");
    assert!(r.body.contains("at most 20"), "{}", r.body);
    let r = get(&sb, &analytics(today, today, "dateRange,pivotValues,bogus")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Invalid field: bogus"));
    // Encoded Rest.li structure is rejected.
    let encoded = analytics(today, today, "dateRange,pivotValues,clicks")
        .replace("dateRange=(start:(", "dateRange=%28start%3A%28");
    let r = get(&sb, &encoded).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("ILLEGAL_ARGUMENT"));
}

#[tokio::test]
async fn headers_auth_paging_and_quotas() {
    let sb = start(LinkedinConfig {
        daily_quota: Some(5),
        ..LinkedinConfig::default()
    });
    let auth = format!("Bearer {}", sb.config().linkedin.access_token);
    let r = call(
        &sb,
        "/rest/adAccounts?q=search",
        &[("Authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(r.status, 401);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["serviceErrorCode"], 65600);
    assert_eq!(v["code"], "INVALID_ACCESS_TOKEN");
    let r = call(
        &sb,
        "/rest/adAccounts?q=search",
        &[("Authorization", auth.as_str())],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("VERSION_MISSING"));
    let r = call(
        &sb,
        "/rest/adAccounts?q=search",
        &[
            ("Authorization", auth.as_str()),
            ("LinkedIn-Version", "202301"),
            ("X-Restli-Protocol-Version", "2.0.0"),
        ],
    )
    .await;
    assert_eq!(r.status, 426);
    assert!(r.body.contains("202301 is not active"));

    // Campaigns (ad groups of the LinkedIn campaign), two per page.
    let r = get(
        &sb,
        "/rest/adAccounts/512345678/adCampaigns?q=search&pageSize=2",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["elements"].as_array().unwrap().len(), 2);
    let e = &v["elements"][0];
    assert!(
        e["campaignGroup"]
            .as_str()
            .unwrap()
            .starts_with("urn:li:sponsoredCampaignGroup:")
    );
    assert!(e["dailyBudget"]["amount"].is_string());
    let token = v["metadata"]["nextPageToken"].as_str().unwrap().to_string();
    let r = get(
        &sb,
        &format!("/rest/adAccounts/512345678/adCampaigns?q=search&pageSize=2&pageToken={token}"),
    )
    .await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["elements"].as_array().unwrap().len(), 1, "3 campaigns");
    assert!(v["metadata"].get("nextPageToken").is_none());
    let r = get(&sb, "/rest/adAccounts/999/adCampaigns?q=search").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("ACCESS_DENIED"));

    // 3 calls so far count against the daily quota of 5 (failed auth and version checks do not).
    let r = get(&sb, "/rest/adAccounts?q=search").await;
    assert_eq!(r.status, 200);
    let r = get(&sb, "/rest/adAccounts?q=search").await;
    assert_eq!(r.status, 200);
    let r = get(&sb, "/rest/adAccounts?q=search").await;
    assert_eq!(r.status, 429);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "TOO_MANY_REQUESTS");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("APPLICATION DAY limit")
    );
    assert!(
        r.headers.get("retry-after").is_none(),
        "LinkedIn sends no rate headers"
    );
    assert_eq!(sb.stats().route("linkedin.throttled"), 1);
}
