//! The Google Ads emulator over HTTP: OAuth grants, searchStream shapes, access rules,
//! quota errors and agreement with the world.

mod common;

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use common::*;
use revline_sandbox::google::{SERVICE_ACCOUNT_EMAIL, SERVICE_ACCOUNT_KEY_PEM};
use revline_sandbox::{
    Fault, FaultPlan, FaultRule, GoogleAdsConfig, RateLimitEmulation, Sandbox, SandboxConfig,
    Schedule, Vendor, WorldConfig,
};
use serde_json::{Value, json};

const VERSION: &str = "v26";

fn start(config: GoogleAdsConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 1_500,
            ..WorldConfig::default()
        },
        google_ads: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn post_form(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = c
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn token(c: &reqwest::Client, sb: &Sandbox) -> String {
    let o = &sb.config().google_ads.oauth;
    let (status, v) = post_form(
        c,
        &format!("{}/token", sb.base_url(Vendor::GoogleAds)),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &o.client_id),
            ("client_secret", &o.client_secret),
            ("refresh_token", &o.refresh_token),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn stream(
    c: &reqwest::Client,
    sb: &Sandbox,
    token: &str,
    customer: &str,
    login: Option<&str>,
    query: &str,
) -> Reply {
    let mut req = c
        .post(format!(
            "{}/{VERSION}/customers/{customer}/googleAds:searchStream",
            sb.base_url(Vendor::GoogleAds)
        ))
        .bearer_auth(token)
        .header("developer-token", "sandbox-developer-token")
        .json(&json!({ "query": query }));
    if let Some(l) = login {
        req = req.header("login-customer-id", l);
    }
    let r = req.send().await.unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

fn results(v: &Value) -> Vec<Value> {
    v.as_array()
        .expect("searchStream answers an array of batches")
        .iter()
        .flat_map(|b| b["results"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn jwt(claims: Value) -> String {
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let der: String = SERVICE_ACCOUNT_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let key = RsaKeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn token_endpoint_accepts_refresh_tokens_and_service_account_jwts() {
    let sb = start(GoogleAdsConfig::default());
    let c = client();
    let url = format!("{}/token", sb.base_url(Vendor::GoogleAds));
    let o = sb.config().google_ads.oauth.clone();
    let (status, v) = post_form(
        &c,
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &o.client_id),
            ("client_secret", &o.client_secret),
            ("refresh_token", "1//revoked"),
        ],
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));

    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, scope: &str, life: i64| json!({"iss": SERVICE_ACCOUNT_EMAIL, "scope": scope, "aud": aud, "iat": now, "exp": now + life});
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let scope = "https://www.googleapis.com/auth/adwords";
    let (status, v) = post_form(
        &c,
        &url,
        &[
            ("grant_type", grant),
            ("assertion", &jwt(claims(&url, scope, 3600))),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["access_token"].as_str().unwrap().starts_with("ya29."));
    assert_eq!(v["expires_in"], 3599);
    for (bad, why) in [
        (claims("http://elsewhere/token", scope, 3600), "audience"),
        (
            claims(
                &url,
                "https://www.googleapis.com/auth/analytics.readonly",
                3600,
            ),
            "scope",
        ),
        (claims(&url, scope, 7200), "short-lived"),
    ] {
        let (status, v) =
            post_form(&c, &url, &[("grant_type", grant), ("assertion", &jwt(bad))]).await;
        assert_eq!(status, 400);
        assert!(
            v["error_description"].as_str().unwrap().contains(why) || why == "scope",
            "{v}"
        );
    }
    // A tampered signature.
    let mut t = jwt(claims(&url, scope, 3600));
    t.push('A');
    let (status, v) = post_form(&c, &url, &[("grant_type", grant), ("assertion", &t)]).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid JWT Signature."))
    );
    let stats = sb.stats();
    assert_eq!(stats.route("google_ads.oauth.jwt_bearer"), 1);
    assert_eq!(stats.route("google_ads.oauth.refused"), 5);
}

#[tokio::test]
async fn manager_lists_clients_and_guards_access() {
    let sb = start(GoogleAdsConfig::default());
    let c = client();
    let t = token(&c, &sb).await;
    let r = stream(
        &c,
        &sb,
        &t,
        "1112223334",
        None,
        "SELECT customer_client.id, customer_client.manager, customer_client.level, customer_client.currency_code \
         FROM customer_client WHERE customer_client.level <= 1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = results(&r.json());
    assert_eq!(rows.len(), 3);
    let clients: Vec<&str> = rows
        .iter()
        .filter(|r| r["customerClient"]["manager"] == false)
        .map(|r| r["customerClient"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(clients, vec!["1234567890", "2345678901"]);
    assert_eq!(rows[1]["customerClient"]["level"], "1", "int64 as a string");

    // A client account needs the manager as login-customer-id.
    let q = "SELECT campaign.id FROM campaign";
    let r = stream(&c, &sb, &t, "1234567890", None, q).await;
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(
        v[0]["error"]["status"], "PERMISSION_DENIED",
        "errors come wrapped in an array"
    );
    assert_eq!(
        v[0]["error"]["details"][0]["errors"][0]["errorCode"]["authorizationError"],
        "USER_PERMISSION_DENIED"
    );
    assert_eq!(
        stream(&c, &sb, &t, "1234567890", Some("111-222-3334"), q)
            .await
            .status,
        200
    );
    // Metrics on the manager fail.
    let r = stream(
        &c,
        &sb,
        &t,
        "1112223334",
        None,
        "SELECT metrics.clicks FROM customer WHERE segments.date DURING LAST_7_DAYS",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()[0]["error"]["details"][0]["errors"][0]["errorCode"]["queryError"],
        "REQUESTED_METRICS_FOR_MANAGER"
    );
    // Unknown fields, bad auth and a missing developer token.
    let r = stream(
        &c,
        &sb,
        &t,
        "1234567890",
        Some("1112223334"),
        "SELECT campaign.bogus FROM campaign",
    )
    .await;
    assert_eq!(
        r.json()[0]["error"]["details"][0]["errors"][0]["errorCode"]["queryError"],
        "UNRECOGNIZED_FIELD"
    );
    assert_eq!(
        stream(&c, &sb, "ya29.forged", "1234567890", Some("1112223334"), q)
            .await
            .status,
        401
    );
    let r = c
        .post(format!(
            "{}/{VERSION}/customers/1234567890/googleAds:searchStream",
            sb.base_url(Vendor::GoogleAds)
        ))
        .bearer_auth(&t)
        .header("login-customer-id", "1112223334")
        .json(&json!({"query": q}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v[0]["error"]["details"][0]["errors"][0]["errorCode"]["authenticationError"],
        "DEVELOPER_TOKEN_INVALID"
    );
    // Retired versions answer 404.
    let r = c
        .post(format!(
            "{}/v14/customers/1234567890/googleAds:searchStream",
            sb.base_url(Vendor::GoogleAds)
        ))
        .bearer_auth(&t)
        .header("developer-token", "sandbox-developer-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn daily_rows_have_vendor_types_and_agree_with_the_world() {
    let sb = start(GoogleAdsConfig::default());
    let c = client();
    let t = token(&c, &sb).await;
    let world = sb.world();
    let today = world.read().today();
    let from = today - Duration::days(29);
    let q = format!(
        "SELECT customer.id, customer.currency_code, campaign.id, campaign.name, campaign.status, segments.date, \
         metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value \
         FROM campaign WHERE segments.date BETWEEN '{from}' AND '{today}'"
    );
    let mut rows = Vec::new();
    for cid in ["1234567890", "2345678901"] {
        let r = stream(&c, &sb, &t, cid, Some("1112223334"), &q).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        let last = v.as_array().unwrap().last().unwrap();
        assert!(last["queryResourceConsumption"].is_string());
        assert!(
            last["fieldMask"]
                .as_str()
                .unwrap()
                .contains("metrics.costMicros")
        );
        rows.extend(results(&v));
    }
    // Two Google campaigns (one per client account), every day of the window.
    assert_eq!(rows.len(), 60);
    let mut cost = 0u64;
    let mut clicks = 0u64;
    let mut conversions = 0.0;
    let mut missing_conversions = 0;
    for r in &rows {
        assert!(r["campaign"]["id"].is_string() && r["metrics"]["impressions"].is_string());
        cost += r["metrics"]["costMicros"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        clicks += r["metrics"]["clicks"]
            .as_str()
            .map_or(0, |s| s.parse().unwrap());
        match &r["metrics"]["conversions"] {
            Value::Null => missing_conversions += 1,
            v => conversions += v.as_f64().expect("conversions is a JSON number"),
        }
        assert_eq!(r["customer"]["currencyCode"], "USD");
        assert!(
            r["campaign"]["resourceName"]
                .as_str()
                .unwrap()
                .starts_with("customers/")
        );
    }
    assert!(missing_conversions > 0, "zero metrics are left out");
    // The same numbers from the world.
    let w = world.read();
    let google: HashSet<u32> = w.paid_campaigns("google").map(|c| c.index).collect();
    let (mut wc, mut wk, mut wv) = (0u64, 0u64, 0.0);
    let mut day = from;
    while day <= today {
        for a in w
            .marketing_day(day)
            .ads
            .iter()
            .filter(|a| google.contains(&a.key.campaign))
        {
            wc += a.cost_micros;
            wk += a.clicks;
            wv += a.conversions as f64;
        }
        day += Duration::days(1);
    }
    assert_eq!((cost, clicks, conversions), (wc, wk, wv));
    assert_eq!(
        sb.stats()
            .records("google_ads.campaign_daily.search_stream"),
        60
    );
}

#[tokio::test]
async fn click_view_is_one_day_per_query_and_holds_the_crm_gclids() {
    let sb = start(GoogleAdsConfig::default());
    let c = client();
    let t = token(&c, &sb).await;
    // People who sign up today after clicking a Google ad: the CRM keeps their gclid.
    let (day, gclids) = {
        let w = sb.world();
        let mut w = w.write();
        let added = w.add_people(60);
        let ids: Vec<String> = added
            .iter()
            .map(|id| w.person_by_id(*id).unwrap())
            .filter(|p| {
                p.campaign
                    .is_some_and(|c| w.campaigns()[c as usize].utm_source == "google")
            })
            .filter_map(|p| p.click_id)
            .collect();
        assert!(!ids.is_empty());
        (w.today(), ids)
    };
    let q = format!(
        "SELECT click_view.gclid, campaign.id, ad_group.id, segments.date FROM click_view WHERE segments.date = '{day}'"
    );
    let mut seen = HashSet::new();
    for cid in ["1234567890", "2345678901"] {
        let r = stream(&c, &sb, &t, cid, Some("1112223334"), &q).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for row in results(&r.json()) {
            assert_eq!(row["segments"]["date"], day.to_string());
            seen.insert(row["clickView"]["gclid"].as_str().unwrap().to_string());
        }
    }
    for g in &gclids {
        assert!(
            seen.contains(g),
            "the CRM's gclid {g} is a click of the day"
        );
    }
    let r = stream(
        &c,
        &sb,
        &t,
        "1234567890",
        Some("1112223334"),
        &format!(
            "SELECT click_view.gclid FROM click_view WHERE segments.date BETWEEN '{day}' AND '{}'",
            day + Duration::days(1)
        ),
    )
    .await;
    assert_eq!(r.status, 400, "one day per query");
    // Clicks older than 90 days are gone.
    let old_day = day - Duration::days(120);
    let r = stream(
        &c,
        &sb,
        &t,
        "1234567890",
        Some("1112223334"),
        &format!("SELECT click_view.gclid FROM click_view WHERE segments.date = '{old_day}'"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(results(&r.json()).is_empty());
    assert!(sb.stats().records("google_ads.click_view.search_stream") >= gclids.len() as u64);
}

#[tokio::test]
async fn quotas_answer_resource_exhausted_with_retry_delays() {
    let sb = start(GoogleAdsConfig {
        daily_operations: Some(2),
        ..GoogleAdsConfig::default()
    });
    let c = client();
    let t = token(&c, &sb).await;
    let q = "SELECT campaign.id FROM campaign";
    for _ in 0..2 {
        assert_eq!(
            stream(&c, &sb, &t, "1234567890", Some("1112223334"), q)
                .await
                .status,
            200
        );
    }
    let r = stream(&c, &sb, &t, "1234567890", Some("1112223334"), q).await;
    assert_eq!(r.status, 429);
    let v = r.json();
    assert_eq!(v[0]["error"]["status"], "RESOURCE_EXHAUSTED");
    let e = &v[0]["error"]["details"][0]["errors"][0];
    assert_eq!(e["errorCode"]["quotaError"], "RESOURCE_EXHAUSTED");
    let delay = e["details"]["quotaErrorDetails"]["retryDelay"]
        .as_str()
        .unwrap();
    let secs: u64 = delay.trim_end_matches('s').parse().unwrap();
    assert!(secs >= 3_600, "a daily quota waits hours: {delay}");
    assert!(
        r.header("retry-after").is_none(),
        "Google Ads sends no Retry-After"
    );

    let sb = start(GoogleAdsConfig {
        rate_limit: Some(RateLimitEmulation {
            max: 2,
            interval_ms: 60_000,
        }),
        ..GoogleAdsConfig::default()
    });
    let t = token(&c, &sb).await;
    for _ in 0..2 {
        assert_eq!(
            stream(&c, &sb, &t, "1234567890", Some("1112223334"), q)
                .await
                .status,
            200
        );
    }
    let r = stream(&c, &sb, &t, "1234567890", Some("1112223334"), q).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json()[0]["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]["retryDelay"],
        "1s"
    );
}

#[tokio::test]
async fn faults_match_the_query_text_and_use_google_shapes() {
    let sb = start(GoogleAdsConfig::default());
    sb.set_faults(FaultPlan::single(FaultRule::new(
        Fault::TooManyRequests {
            retry_after: Some(2),
        },
        Some("FROM ad_group"),
        Schedule::Always,
    )));
    let c = client();
    let t = token(&c, &sb).await;
    let ok = stream(
        &c,
        &sb,
        &t,
        "1234567890",
        Some("1112223334"),
        "SELECT campaign.id FROM campaign",
    )
    .await;
    assert_eq!(ok.status, 200);
    let r = stream(
        &c,
        &sb,
        &t,
        "1234567890",
        Some("1112223334"),
        "SELECT ad_group.id FROM ad_group",
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json()[0]["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]["retryDelay"],
        "2s"
    );
    assert_eq!(sb.stats().fault("too_many_requests"), 1);
}
