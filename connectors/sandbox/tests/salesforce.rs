//! The Salesforce emulator over HTTP: OAuth2 grants and `instance_url`, SOQL paging with
//! locators and batch sizes, `queryAll` and deletions, `describe`, the daily allocation,
//! expired sessions, error bodies and fault shapes.

mod common;

use common::client;
use revline_sandbox::{
    Fault, FaultPlan, FaultRule, SalesforceConfig, Sandbox, SandboxConfig, Schedule, WorldConfig,
};
use serde_json::Value;

fn sandbox(sf: SalesforceConfig, faults: FaultPlan) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 3_000,
            ..WorldConfig::default()
        },
        salesforce: sf,
        faults,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn token(c: &reqwest::Client, sb: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let r = c
        .post(format!("{}/services/oauth2/token", sb.salesforce_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn session(c: &reqwest::Client, sb: &Sandbox) -> (String, String) {
    let cfg = sb.salesforce_config();
    let (status, v) = token(
        c,
        sb,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &cfg.client_id),
            ("client_secret", &cfg.client_secret),
            ("refresh_token", &cfg.refresh_token),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    (
        v["access_token"].as_str().unwrap().to_string(),
        v["instance_url"].as_str().unwrap().to_string(),
    )
}

struct Reply {
    status: u16,
    limit_info: Option<String>,
    body: Value,
}

async fn get(c: &reqwest::Client, url: &str, token: &str, batch: Option<u32>) -> Reply {
    let mut req = c.get(url).bearer_auth(token);
    if let Some(b) = batch {
        req = req.header("Sforce-Query-Options", format!("batchSize={b}"));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let limit_info = r
        .headers()
        .get("sforce-limit-info")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        limit_info,
        body,
    }
}

fn q(instance: &str, endpoint: &str, soql: &str) -> String {
    let encoded: String = soql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{instance}/services/data/v60.0/{endpoint}?q={encoded}")
}

/// Every record of a query, following `nextRecordsUrl`.
async fn walk(
    c: &reqwest::Client,
    instance: &str,
    token: &str,
    url: String,
    batch: Option<u32>,
) -> (Vec<Value>, usize) {
    let mut records = Vec::new();
    let mut pages = 0;
    let mut next = Some(url);
    let mut total = None;
    while let Some(u) = next.take() {
        let r = get(c, &u, token, batch).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        let v = r.body;
        let t = v["totalSize"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(t), t);
        records.extend(v["records"].as_array().unwrap().iter().cloned());
        match v.get("nextRecordsUrl") {
            Some(n) => {
                assert_eq!(v["done"], false);
                next = Some(format!("{instance}{}", n.as_str().unwrap()));
            }
            None => assert_eq!(v["done"], true),
        }
    }
    assert_eq!(records.len() as u64, total.unwrap());
    (records, pages)
}

#[tokio::test]
async fn grants_issue_sessions_for_the_instance() {
    let sb = sandbox(
        SalesforceConfig {
            instance_url: Some("http://instance.example".into()),
            ..SalesforceConfig::default()
        },
        FaultPlan::none(),
    );
    let c = client();
    let cfg = sb.salesforce_config().clone();
    let (s, v) = token(
        &c,
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cfg.client_id),
            ("client_secret", &cfg.client_secret),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["instance_url"], "http://instance.example");
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["issued_at"].as_str().unwrap().parse::<u64>().is_ok());
    assert!(v.get("expires_in").is_none(), "Salesforce sends no expiry");
    for (form, code) in [
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", cfg.client_id.as_str()),
                ("client_secret", cfg.client_secret.as_str()),
                ("refresh_token", "revoked"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", cfg.client_id.as_str()),
                ("client_secret", "wrong"),
            ],
            "invalid_client",
        ),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
    ] {
        let (s, v) = token(&c, &sb, &form).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(code)), "{v}");
    }
    assert_eq!(sb.salesforce().tokens_issued(), 1);
}

#[tokio::test]
async fn queries_page_with_locators_and_batch_sizes() {
    let sb = sandbox(SalesforceConfig::default(), FaultPlan::none());
    let c = client();
    let (tok, instance) = session(&c, &sb).await;
    assert_eq!(instance, sb.salesforce_url());
    let soql =
        "SELECT Id, Email, SystemModstamp, IsDeleted FROM Lead ORDER BY SystemModstamp ASC, Id ASC";
    let (leads, pages) = walk(&c, &instance, &tok, q(&instance, "query", soql), Some(500)).await;
    assert_eq!(leads.len(), 3_000);
    assert_eq!(pages, 6, "batchSize 500");
    let stamps: Vec<&str> = leads
        .iter()
        .map(|l| l["SystemModstamp"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|p| p[0] <= p[1]), "ordered");
    assert!(stamps[0].ends_with(".000+0000"), "{}", stamps[0]);
    assert_eq!(leads[0]["attributes"]["type"], "Lead");
    assert!(leads[0]["Id"].as_str().unwrap().starts_with("00Q"));
    // The default batch is 2000, and values below 200 are raised to 200.
    let (_, pages) = walk(&c, &instance, &tok, q(&instance, "query", soql), None).await;
    assert_eq!(pages, 2);
    let (_, pages) = walk(&c, &instance, &tok, q(&instance, "query", soql), Some(10)).await;
    assert_eq!(pages, 15);
    assert_eq!(sb.stats().records("salesforce.lead.query"), 9_000);

    // Relationship fields nest the related record; numbers are numbers.
    let (opps, _) = walk(
        &c,
        &instance,
        &tok,
        q(&instance, "query", "SELECT Id, Amount, Probability, CloseDate, Account.Website, Account.Name FROM Opportunity WHERE IsWon = true"),
        None,
    )
    .await;
    let won = sb
        .world()
        .read()
        .deals()
        .iter()
        .filter(|d| d.stage == revline_sandbox::DealStage::ClosedWon)
        .count();
    assert_eq!(opps.len(), won);
    let o = &opps[0];
    assert!(o["Amount"].is_f64() && o["Probability"] == 100.0);
    assert_eq!(o["Account"]["attributes"]["type"], "Account");
    assert!(
        o["Account"]["Website"]
            .as_str()
            .unwrap()
            .starts_with("https://www.")
    );
    assert_eq!(o["CloseDate"].as_str().unwrap().len(), 10);
}

#[tokio::test]
async fn query_all_returns_deleted_rows() {
    let sb = sandbox(SalesforceConfig::default(), FaultPlan::none());
    let archived = sb.world().write().archive_people(7);
    let c = client();
    let (tok, instance) = session(&c, &sb).await;
    let soql = "SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true";
    let (live, _) = walk(&c, &instance, &tok, q(&instance, "query", soql), None).await;
    assert!(live.is_empty(), "query leaves the recycle bin out");
    let (all, _) = walk(&c, &instance, &tok, q(&instance, "queryAll", soql), None).await;
    assert_eq!(all.len(), archived.len());
    assert!(all.iter().all(|r| r["IsDeleted"] == true));
    assert_eq!(sb.stats().route("salesforce.lead.query_all"), 1);
}

#[tokio::test]
async fn describe_limits_and_errors() {
    let sb = sandbox(
        SalesforceConfig {
            daily_limit: 12,
            daily_used: 5,
            locator_ttl_secs: 0,
            ..SalesforceConfig::default()
        },
        FaultPlan::none(),
    );
    let c = client();
    let (tok, instance) = session(&c, &sb).await;
    let r = get(
        &c,
        &format!("{instance}/services/data/v60.0/sobjects/Account/describe"),
        &tok,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.limit_info.as_deref(), Some("api-usage=6/12"));
    let fields = r.body["fields"].as_array().unwrap();
    let by_name = |n: &str| fields.iter().find(|f| f["name"] == n).unwrap().clone();
    assert_eq!(by_name("Stripe_Customer_Id__c")["custom"], true);
    assert_eq!(by_name("AnnualRevenue")["type"], "currency");
    assert_eq!(by_name("OwnerId")["referenceTo"][0], "User");
    assert_eq!(by_name("SystemModstamp")["type"], "datetime");

    let bad = get(
        &c,
        &q(&instance, "query", "SELECT Id, Nope FROM Account"),
        &tok,
        None,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body[0]["errorCode"], "INVALID_FIELD");
    let quoted = get(
        &c,
        &q(
            &instance,
            "query",
            "SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
        ),
        &tok,
        None,
    )
    .await;
    assert!(
        quoted.body[0]["message"]
            .as_str()
            .unwrap()
            .contains("should not be enclosed in quotes")
    );
    // A locator that outlived its time is invalid.
    let first = get(
        &c,
        &q(&instance, "query", "SELECT Id FROM Lead"),
        &tok,
        Some(200),
    )
    .await;
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_string();
    let gone = get(&c, &format!("{instance}{next}"), &tok, None).await;
    assert_eq!(gone.body[0]["errorCode"], "INVALID_QUERY_LOCATOR");
    // The allocation: 12 per day, then 403 REQUEST_LIMIT_EXCEEDED.
    let r = get(
        &c,
        &format!("{instance}/services/data/v60.0/limits"),
        &tok,
        None,
    )
    .await;
    assert_eq!(r.body["DailyApiRequests"]["Max"], 12);
    assert_eq!(r.body["DailyApiRequests"]["Remaining"], 1);
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            get(
                &c,
                &format!("{instance}/services/data/v60.0/limits"),
                &tok,
                None,
            )
            .await,
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status, 403);
    assert_eq!(last.body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(last.body[0]["message"], "TotalRequests Limit exceeded.");
    assert_eq!(last.limit_info.as_deref(), Some("api-usage=12/12"));
    // Expired sessions are 401 INVALID_SESSION_ID.
    sb.salesforce().set_daily_used(0);
    sb.salesforce().expire_sessions();
    let r = get(
        &c,
        &format!("{instance}/services/data/v60.0/limits"),
        &tok,
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body[0]["errorCode"], "INVALID_SESSION_ID");
}

#[tokio::test]
async fn faults_use_salesforce_shapes() {
    let sb = sandbox(
        SalesforceConfig::default(),
        FaultPlan {
            rules: vec![
                FaultRule::new(
                    Fault::TooManyRequests { retry_after: None },
                    Some("/query"),
                    Schedule::Nth(vec![1]),
                ),
                FaultRule::new(
                    Fault::Status { code: 500 },
                    Some("/query"),
                    Schedule::Nth(vec![2]),
                ),
                FaultRule::new(Fault::Unauthorized, Some("/query"), Schedule::Nth(vec![3])),
            ],
        },
    );
    let c = client();
    let (tok, instance) = session(&c, &sb).await;
    let url = q(&instance, "query", "SELECT Id FROM User");
    let r = get(&c, &url, &tok, None).await;
    assert_eq!(
        (r.status, r.body[0]["errorCode"].as_str()),
        (403, Some("REQUEST_LIMIT_EXCEEDED"))
    );
    assert!(
        r.body[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("ConcurrentPerOrgLongTxn")
    );
    let r = get(&c, &url, &tok, None).await;
    assert_eq!(
        (r.status, r.body[0]["errorCode"].as_str()),
        (500, Some("UNKNOWN_EXCEPTION"))
    );
    let r = get(&c, &url, &tok, None).await;
    assert_eq!(
        (r.status, r.body[0]["errorCode"].as_str()),
        (401, Some("INVALID_SESSION_ID"))
    );
    let r = get(&c, &url, &tok, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalSize"], 5);
}
