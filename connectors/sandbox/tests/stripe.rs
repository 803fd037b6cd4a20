//! The Stripe emulator over HTTP: auth, list envelopes and paging, `created` windows,
//! parameter errors, nested lists, the event log, throttling and fault shapes.

mod common;

use std::collections::HashSet;

use common::{Reply, client};
use revline_sandbox::world::billing::SubscriptionStatus;
use revline_sandbox::{
    Fault, FaultPlan, FaultRule, Sandbox, SandboxConfig, Schedule, StripeConfig, Vendor,
    WorldConfig,
};
use serde_json::Value;

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

fn world() -> WorldConfig {
    WorldConfig {
        deals: 300,
        companies: 60,
        ..WorldConfig::default()
    }
}

fn sandbox(stripe: StripeConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: world(),
        stripe,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn get(c: &reqwest::Client, sb: &Sandbox, path: &str) -> Reply {
    let resp = c
        .get(format!("{}{path}", sb.base_url(Vendor::Stripe)))
        .bearer_auth(sb.stripe_key())
        .send()
        .await
        .expect("request succeeds");
    reply(resp).await
}

/// Pages a list to the end with `starting_after`; returns every object and the page count.
async fn walk(c: &reqwest::Client, sb: &Sandbox, path: &str) -> (Vec<Value>, usize) {
    let mut all: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit=100");
        if let Some(last) = all.last() {
            url.push_str(&format!("&starting_after={}", last["id"].as_str().unwrap()));
        }
        let r = get(c, sb, &url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["object"], "list");
        assert_eq!(v["url"], path.split('?').next().unwrap());
        pages += 1;
        let data = v["data"].as_array().unwrap().clone();
        let more = v["has_more"].as_bool().unwrap();
        all.extend(data);
        if !more {
            break;
        }
    }
    (all, pages)
}

#[tokio::test]
async fn lists_page_newest_first_and_match_the_world() {
    let sb = sandbox(StripeConfig::default());
    let c = client();
    let w = sb.world();
    let (invoices, pages) = walk(&c, &sb, "/v1/invoices").await;
    let b_invoices = w.read().billing().invoices().len();
    assert_eq!(invoices.len(), b_invoices);
    assert!(pages >= 3, "{pages}");
    let created: Vec<i64> = invoices
        .iter()
        .map(|i| i["created"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|p| p[0] >= p[1]), "newest first");
    let ids: HashSet<&str> = invoices.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), invoices.len());
    // Values: integer minor units, lower-case currency, unix seconds, nested lines.
    let inv = &invoices[0];
    assert!(inv["amount_due"].is_i64() && inv["currency"].as_str().unwrap().len() == 3);
    assert!(inv["id"].as_str().unwrap().starts_with("in_1"));
    assert_eq!(inv["lines"]["object"], "list");
    let line_sum: i64 = inv["lines"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(line_sum, inv["total"].as_i64().unwrap());
    let (charges, _) = walk(&c, &sb, "/v1/charges").await;
    assert_eq!(charges.len(), w.read().billing().charges().len());
    assert!(charges.iter().any(|c| c["currency"] == "jpy"));
    let (customers, _) = walk(&c, &sb, "/v1/customers").await;
    assert_eq!(customers.len(), w.read().billing().customers().len());
    let (refunds, _) = walk(&c, &sb, "/v1/refunds").await;
    assert_eq!(refunds.len(), w.read().billing().refunds().len());
    let (products, _) = walk(&c, &sb, "/v1/products").await;
    assert_eq!(products.len(), 6);
    let (prices, _) = walk(&c, &sb, "/v1/prices").await;
    assert_eq!(prices.len(), w.read().billing().prices().len());

    // Subscriptions leave out canceled ones unless status=all.
    let all_subs = w.read().billing().subscriptions().to_vec();
    let canceled = all_subs
        .iter()
        .filter(|s| s.status == SubscriptionStatus::Canceled)
        .count();
    assert!(canceled > 0);
    let (default_subs, _) = walk(&c, &sb, "/v1/subscriptions").await;
    assert_eq!(default_subs.len(), all_subs.len() - canceled);
    let (subs, _) = walk(&c, &sb, "/v1/subscriptions?status=all").await;
    assert_eq!(subs.len(), all_subs.len());
    let s = &subs[0];
    assert_eq!(s["items"]["data"][0]["object"], "subscription_item");
    assert_eq!(
        s["items"]["data"][0]["price"]["recurring"]["interval"],
        "month"
    );
}

#[tokio::test]
async fn created_windows_and_cursors() {
    let sb = sandbox(StripeConfig::default());
    let c = client();
    let (all, _) = walk(&c, &sb, "/v1/charges").await;
    let t: Vec<i64> = all.iter().map(|x| x["created"].as_i64().unwrap()).collect();
    let (lo, hi) = (t[t.len() * 3 / 4], t[t.len() / 4]);
    let (window, _) = walk(
        &c,
        &sb,
        &format!("/v1/charges?created%5Bgte%5D={lo}&created%5Blt%5D={hi}"),
    )
    .await;
    let want = t.iter().filter(|x| **x >= lo && **x < hi).count();
    assert_eq!(window.len(), want);
    assert!(window.iter().all(|x| {
        let v = x["created"].as_i64().unwrap();
        v >= lo && v < hi
    }));
    // ending_before gives the page just newer than the cursor.
    let mid = all[50]["id"].as_str().unwrap();
    let r = get(&c, &sb, &format!("/v1/charges?limit=5&ending_before={mid}")).await;
    let v = r.json();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = all[45..50]
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want);
    assert_eq!(v["has_more"], true);
}

#[tokio::test]
async fn parameter_errors_are_stripe_shaped() {
    let sb = sandbox(StripeConfig::default());
    let c = client();
    for (path, param, code) in [
        (
            "/v1/charges?limit=101",
            "limit",
            Some("parameter_invalid_integer"),
        ),
        (
            "/v1/charges?limit=abc",
            "limit",
            Some("parameter_invalid_integer"),
        ),
        ("/v1/charges?foo=1", "foo", Some("parameter_unknown")),
        (
            "/v1/charges?starting_after=ch_nope",
            "starting_after",
            Some("resource_missing"),
        ),
        (
            "/v1/charges?created%5Bgte%5D=x",
            "created[gte]",
            Some("parameter_invalid_integer"),
        ),
        ("/v1/charges?expand%5B%5D=data.customer", "expand[]", None),
    ] {
        let r = get(&c, &sb, path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let e = &r.json()["error"];
        assert_eq!(e["type"], "invalid_request_error", "{path}");
        assert_eq!(e["param"], param, "{path}");
        assert_eq!(e.get("code").and_then(Value::as_str), code, "{path}");
        assert!(r.header("request-id").unwrap().starts_with("req_"));
    }
    let r = get(&c, &sb, "/v1/nope").await;
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unrecognized request URL (GET: /v1/nope)")
    );
}

#[tokio::test]
async fn auth_by_bearer_or_basic_and_401_body() {
    let sb = sandbox(StripeConfig::default());
    let c = client();
    let url = format!("{}/v1/products", sb.base_url(Vendor::Stripe));
    let basic = c
        .get(&url)
        .basic_auth(sb.stripe_key(), None::<&str>)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let wrong = reply(
        c.get(&url)
            .bearer_auth("sk_test_51WrongKey0000000000001234")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let msg = wrong.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(msg, "Invalid API Key provided: sk_test_********1234");
    let none = reply(c.get(&url).send().await.unwrap()).await;
    assert_eq!(none.status, 401);
    assert!(none.body.contains("You did not provide an API key"));
}

#[tokio::test]
async fn nested_lines_page_through_their_endpoint() {
    let sb = sandbox(StripeConfig {
        embedded_list_limit: 1,
        ..StripeConfig::default()
    });
    let c = client();
    let (invoices, _) = walk(&c, &sb, "/v1/invoices").await;
    let inv = invoices
        .iter()
        .find(|i| i["lines"]["has_more"] == true)
        .expect("a first invoice has a true-up line");
    assert_eq!(inv["lines"]["data"].as_array().unwrap().len(), 1);
    let first = inv["lines"]["data"][0]["id"].as_str().unwrap();
    let url = inv["lines"]["url"].as_str().unwrap();
    let r = get(&c, &sb, &format!("{url}?limit=10&starting_after={first}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rest = r.json();
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["data"][0]["type"], "invoiceitem");
    assert_eq!(sb.stats().route("stripe.invoice_lines.list"), 1);
}

#[tokio::test]
async fn events_record_mutations_with_snapshots() {
    let sb = sandbox(StripeConfig::default());
    let c = client();
    let r = get(&c, &sb, "/v1/events?limit=100").await;
    assert_eq!(
        r.json()["data"].as_array().unwrap().len(),
        0,
        "no history yet"
    );
    let since = sb.world().read().now_ms() / 1000;
    let touched = sb.world().write().touch_billing_customers(3);
    sb.world().write().issue_invoices(2);
    let r = get(
        &c,
        &sb,
        &format!("/v1/events?types%5B%5D=customer.updated&created%5Bgt%5D={since}"),
    )
    .await;
    let v = r.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let w = sb.world();
    let newest = touched.last().unwrap();
    assert_eq!(
        data[0]["data"]["object"]["email"],
        w.read().billing().customers()[*newest as usize].email
    );
    assert!(data.iter().all(|e| e["type"] == "customer.updated"));
    let r = get(&c, &sb, "/v1/events?types%5B%5D=invoice.*&limit=100").await;
    let kinds: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert!(kinds.iter().all(|k| k.starts_with("invoice.")));
}

#[tokio::test]
async fn rate_limit_lock_timeouts_and_faults() {
    let sb = sandbox(StripeConfig {
        rate_limit: Some(5),
        lock_timeout_every: Some(3),
        ..StripeConfig::default()
    });
    let c = client();
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..8 {
        let r = get(&c, &sb, "/v1/products?limit=1").await;
        statuses.push(r.status);
        bodies.push(r);
    }
    // Requests 3 and 6 hit a lock; of the rest, 5 per second pass.
    assert_eq!(bodies[2].json()["error"]["code"], "lock_timeout");
    assert_eq!(bodies[2].header("stripe-rate-limited-reason"), None);
    let limited: Vec<&Reply> = bodies
        .iter()
        .filter(|r| r.status == 429 && r.json()["error"]["code"] == "rate_limit")
        .collect();
    assert_eq!(limited.len(), 1, "{statuses:?}");
    assert_eq!(
        limited[0].header("stripe-rate-limited-reason"),
        Some("global-rate")
    );
    assert_eq!(limited[0].header("stripe-should-retry"), Some("true"));
    assert!(sb.max_requests_in_window(Vendor::Stripe, std::time::Duration::from_secs(1)) >= 8);

    let sb = Sandbox::start(SandboxConfig {
        faults: FaultPlan {
            rules: vec![
                FaultRule::new(Fault::Status { code: 500 }, None, Schedule::Nth(vec![1])),
                FaultRule::new(
                    Fault::TooManyRequests {
                        retry_after: Some(2),
                    },
                    None,
                    Schedule::Nth(vec![2]),
                ),
                FaultRule::new(Fault::Unauthorized, None, Schedule::Nth(vec![3])),
            ],
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let r = get(&c, &sb, "/v1/products").await;
    assert_eq!(
        (r.status, r.json()["error"]["type"].as_str()),
        (500, Some("api_error"))
    );
    let r = get(&c, &sb, "/v1/products").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    let r = get(&c, &sb, "/v1/products").await;
    assert_eq!(r.status, 401);
    assert_eq!(get(&c, &sb, "/v1/products").await.status, 200);
}
