//! The GA4 Data API emulator over HTTP: runReport shapes, paging against rowCount, empty
//! reports, validation, property access, quota in the body, and agreement with the world.

mod common;

use chrono::Duration;
use common::*;
use revline_sandbox::{
    Fault, FaultPlan, FaultRule, Ga4Config, Sandbox, SandboxConfig, Schedule, Vendor, WorldConfig,
};
use serde_json::{Value, json};

fn start(config: Ga4Config) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 800,
            ..WorldConfig::default()
        },
        ga4: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn token(c: &reqwest::Client, sb: &Sandbox) -> String {
    let o = &sb.config().ga4.oauth;
    let r = c
        .post(format!("{}/token", sb.base_url(Vendor::Ga4)))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", o.client_id.as_str()),
            ("client_secret", o.client_secret.as_str()),
            ("refresh_token", o.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn report(c: &reqwest::Client, sb: &Sandbox, t: &str, property: &str, body: Value) -> Reply {
    let r = c
        .post(format!(
            "{}/v1beta/properties/{property}:runReport",
            sb.base_url(Vendor::Ga4)
        ))
        .bearer_auth(t)
        .json(&body)
        .send()
        .await
        .unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

fn traffic(from: &str, to: &str, limit: u64, offset: u64) -> Value {
    json!({
        "dateRanges": [{"startDate": from, "endDate": to}],
        "dimensions": [{"name": "date"}, {"name": "sessionSource"}, {"name": "sessionMedium"}, {"name": "sessionCampaignName"}],
        "metrics": [{"name": "sessions"}, {"name": "totalUsers"}, {"name": "keyEvents"}, {"name": "totalRevenue"}],
        "limit": limit.to_string(), "offset": offset, "returnPropertyQuota": true,
    })
}

#[tokio::test]
async fn reports_page_against_row_count_and_agree_with_the_world() {
    let sb = start(Ga4Config::default());
    let c = client();
    let t = token(&c, &sb).await;
    let today = sb.world().read().today();
    let from = (today - Duration::days(9)).to_string();
    let to = today.to_string();
    let first = report(&c, &sb, &t, "345678901", traffic(&from, &to, 25, 0)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let v = first.json();
    assert_eq!(v["kind"], "analyticsData#runReport");
    assert_eq!(
        v["metricHeaders"][3],
        json!({"name": "totalRevenue", "type": "TYPE_CURRENCY"})
    );
    let total = v["rowCount"].as_u64().unwrap();
    // 8 campaigns and direct traffic, every day.
    assert_eq!(total, 10 * 9);
    assert_eq!(v["rows"].as_array().unwrap().len(), 25);
    let row = &v["rows"][0];
    assert_eq!(
        row["dimensionValues"][0]["value"].as_str().unwrap().len(),
        8,
        "date as YYYYMMDD"
    );
    assert!(
        row["metricValues"][0]["value"].is_string(),
        "metric values are strings"
    );
    assert_eq!(
        v["propertyQuota"]["tokensPerDay"]["remaining"],
        200_000 - 10
    );
    // Walk the rest with offset += limit while offset < rowCount.
    let mut rows: Vec<Value> = v["rows"].as_array().unwrap().clone();
    let mut offset = 25;
    while offset < total {
        let r = report(&c, &sb, &t, "345678901", traffic(&from, &to, 25, offset)).await;
        let v = r.json();
        assert_eq!(
            v["rowCount"].as_u64(),
            Some(total),
            "rowCount is the total, on every page"
        );
        rows.extend(v["rows"].as_array().unwrap().iter().cloned());
        offset += 25;
    }
    assert_eq!(rows.len() as u64, total);
    let keys: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| r["dimensionValues"].to_string())
        .collect();
    assert_eq!(
        keys.len(),
        rows.len(),
        "stable order: no row twice across pages"
    );
    let direct = rows
        .iter()
        .filter(|r| r["dimensionValues"][1]["value"] == "(direct)")
        .count();
    assert_eq!(direct, 10);
    // Sessions and key events agree with the world.
    let w = sb.world();
    let w = w.read();
    let mut sessions = 0u64;
    let mut events = 0u64;
    let mut d = today - Duration::days(9);
    while d <= today {
        let md = w.marketing_day(d);
        sessions += md.traffic.iter().map(|t| t.sessions).sum::<u64>();
        events += md.traffic.iter().map(|t| t.key_events).sum::<u64>();
        // Landing pages roll up the same sessions.
        assert_eq!(
            md.pages.iter().map(|p| p.sessions).sum::<u64>(),
            md.traffic.iter().map(|t| t.sessions).sum::<u64>()
        );
        d += Duration::days(1);
    }
    let sum = |i: usize| -> u64 {
        rows.iter()
            .map(|r| {
                r["metricValues"][i]["value"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum()
    };
    assert_eq!(sum(0), sessions);
    assert_eq!(sum(2), events);
    assert_eq!(sb.stats().records("ga4.run_report.campaign"), total);
}

#[tokio::test]
async fn empty_reports_validation_and_access() {
    let sb = start(Ga4Config::default());
    let c = client();
    let t = token(&c, &sb).await;
    // Before the site existed: neither rows nor rowCount.
    let r = report(
        &c,
        &sb,
        &t,
        "345678901",
        traffic("2020-01-01", "2020-01-31", 100, 0),
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(
        v.get("rows").is_none() && v.get("rowCount").is_none(),
        "{v}"
    );
    assert!(v["dimensionHeaders"].is_array());
    // Unknown names, too many metrics, bad dates.
    let mut bad = traffic("2024-05-01", "2024-05-02", 10, 0);
    bad["dimensions"][1]["name"] = json!("fooBar");
    let r = report(&c, &sb, &t, "345678901", bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fooBar is not a valid dimension")
    );
    let mut many = traffic("2024-05-01", "2024-05-02", 10, 0);
    many["metrics"] = json!(
        (0..11)
            .map(|_| json!({"name": "sessions"}))
            .collect::<Vec<_>>()
    );
    assert_eq!(report(&c, &sb, &t, "345678901", many).await.status, 400);
    assert_eq!(
        report(
            &c,
            &sb,
            &t,
            "345678901",
            traffic("2024-05-02", "2024-05-01", 10, 0)
        )
        .await
        .status,
        400
    );
    // Another property.
    let r = report(
        &c,
        &sb,
        &t,
        "999",
        traffic("2024-05-01", "2024-05-02", 10, 0),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["status"], "PERMISSION_DENIED");
    // No token.
    assert_eq!(
        report(
            &c,
            &sb,
            "nope",
            "345678901",
            traffic("2024-05-01", "2024-05-02", 10, 0)
        )
        .await
        .status,
        401
    );
    // Metadata lists types.
    let r = c
        .get(format!(
            "{}/v1beta/properties/345678901/metadata",
            sb.base_url(Vendor::Ga4)
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(
        v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["apiName"] == "totalRevenue" && m["type"] == "TYPE_CURRENCY")
    );
}

#[tokio::test]
async fn quota_runs_out_with_resource_exhausted_and_faults_carry_retry_info() {
    let sb = start(Ga4Config {
        tokens_per_day: 25,
        ..Ga4Config::default()
    });
    let c = client();
    let t = token(&c, &sb).await;
    let body = traffic("2024-05-01", "2024-05-03", 100, 0);
    let v = report(&c, &sb, &t, "345678901", body.clone()).await.json();
    assert_eq!(
        v["propertyQuota"]["tokensPerDay"],
        json!({"consumed": 10, "remaining": 15})
    );
    assert_eq!(
        report(&c, &sb, &t, "345678901", body.clone()).await.status,
        200
    );
    let r = report(&c, &sb, &t, "345678901", body.clone()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens per day")
    );

    sb.set_faults(FaultPlan::single(FaultRule::new(
        Fault::TooManyRequests {
            retry_after: Some(2),
        },
        Some("sessionCampaignName"),
        Schedule::Always,
    )));
    let r = report(&c, &sb, &t, "345678901", body).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json()["error"]["details"][0],
        json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"})
    );
}
