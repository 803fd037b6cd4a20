//! Stripe streams against the sandbox's Stripe emulator, below the runner: windows read as
//! concurrent partitions, exact decimals by currency, nested lists completed, the event log
//! (updates and deletions), exactly-once boundaries, resume of partitions, basic auth,
//! `lock_timeout` retries and the per-second limit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, BooleanArray, Decimal128Array, Int64Array, RecordBatch, StringArray};
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, ReadRequest, SourceContext, Stream, SyncMode};
use revline_sandbox::stripe::ids::{Kind, id};
use revline_sandbox::world::billing::SubscriptionStatus;
use revline_sandbox::{Sandbox, SandboxConfig, StripeConfig, Vendor, WorldConfig};
use revline_stripe::StripeFactory;

fn sandbox(stripe: StripeConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            deals: 300,
            companies: 60,
            ..WorldConfig::default()
        },
        stripe,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn stream(sb: &Sandbox, name: &str, extra: serde_json::Value) -> Arc<dyn Stream> {
    let mut options = serde_json::json!({ "secret_key": sb.stripe_key() });
    for (k, v) in extra.as_object().into_iter().flatten() {
        options[k] = v.clone();
    }
    let mut ctx = SourceContext::new("stripe", options);
    ctx.base_url = Some(sb.base_url(Vendor::Stripe));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(1000, 1.0));
    let connector = StripeFactory.build(ctx).expect("connector builds");
    connector
        .streams()
        .into_iter()
        .find(|s| s.descriptor().name == name)
        .expect("stream exists")
}

async fn read(
    s: &dyn Stream,
    mode: SyncMode,
    state: Option<serde_json::Value>,
) -> (Vec<RecordBatch>, serde_json::Value) {
    let pages = collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema: Arc::new(s.descriptor().schema.clone()),
        },
    )
    .await
    .expect("read succeeds");
    let last = pages.last().expect("at least one page").checkpoint.clone();
    (pages.into_iter().map(|p| p.batch).collect(), last)
}

fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b
                .column_by_name(col)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..c.len())
                .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ids(batches: &[RecordBatch]) -> Vec<String> {
    strings(batches, "id")
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_reads_every_window_once_with_exact_decimals() {
    let sb = sandbox(StripeConfig::default());
    let s = stream(
        &sb,
        "charges",
        serde_json::json!({"windows": 6, "concurrency": 3}),
    );
    let (batches, state) = read(s.as_ref(), SyncMode::Incremental, None).await;
    let world = sb.world();
    let w = world.read();
    let b = w.billing();
    let got = ids(&batches);
    assert_eq!(got.len(), b.charges().len());
    assert_eq!(
        got.iter().collect::<HashSet<_>>().len(),
        got.len(),
        "no duplicates"
    );
    assert_eq!(
        sb.stats().records("stripe.charges.list"),
        b.charges().len() as u64
    );
    // 6 windows, at least one request each, plus the event-log head.
    assert!(sb.stats().route("stripe.charges.list") >= 6);
    assert_eq!(sb.stats().route("stripe.events.charge.list"), 1);
    // Decimal amounts follow the currency: yen have no minor unit.
    let mut checked_jpy = false;
    for batch in &batches {
        let amount = batch
            .column_by_name("amount")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let dec = batch
            .column_by_name("amount_decimal")
            .unwrap()
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        let cur = batch
            .column_by_name("currency")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for i in 0..batch.num_rows() {
            let factor = if cur.value(i) == "jpy" { 1000 } else { 10 };
            assert_eq!(dec.value(i), i128::from(amount.value(i)) * factor);
            checked_jpy |= cur.value(i) == "jpy";
        }
        assert_eq!(dec.scale(), 3);
    }
    assert!(checked_jpy, "the world bills some customers in yen");
    // The state holds the newest `created` second and the ids read at it; no resume.
    assert!(state.get("resume").is_none(), "{state}");
    let newest = b
        .charges()
        .iter()
        .map(|c| c.created_ms / 1000)
        .max()
        .unwrap();
    assert_eq!(state["created_cursor"]["at"], newest);
    assert!(state["cursor"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_changes_reads_nothing_and_keeps_the_state() {
    let sb = sandbox(StripeConfig::default());
    let s = stream(&sb, "invoices", serde_json::json!({}));
    let (_, state) = read(s.as_ref(), SyncMode::Incremental, None).await;
    sb.reset_stats();
    let (batches, again) = read(s.as_ref(), SyncMode::Incremental, Some(state.clone())).await;
    assert_eq!(
        rows(&batches),
        0,
        "the boundary second's invoices are skipped"
    );
    assert_eq!(again, state, "the state does not move");
    // It did ask: one window from the boundary, and the event log.
    assert_eq!(sb.stats().route("stripe.invoices.list"), 1);
    assert_eq!(sb.stats().route("stripe.events.invoice.list"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_after_creation_arrive_through_events() {
    let sb = sandbox(StripeConfig::default());
    let subs = stream(&sb, "subscriptions", serde_json::json!({}));
    let customers = stream(&sb, "customers", serde_json::json!({}));
    let (first, sub_state) = read(subs.as_ref(), SyncMode::Incremental, None).await;
    assert_eq!(
        rows(&first),
        sb.world().read().billing().subscriptions().len()
    );
    let (_, cust_state) = read(customers.as_ref(), SyncMode::Incremental, None).await;

    let world = sb.world();
    let canceled = world.write().cancel_subscriptions(2);
    let updated = world.write().update_subscriptions(3);
    let deleted = world.write().delete_billing_customers(1);
    let touched = world.write().touch_billing_customers(2);

    let (batches, _) = read(subs.as_ref(), SyncMode::Incremental, Some(sub_state)).await;
    let got: HashMap<String, String> = ids(&batches)
        .into_iter()
        .zip(strings(&batches, "status").into_iter().map(Option::unwrap))
        .collect();
    let b = world.read().billing().clone();
    for i in canceled.iter() {
        assert_eq!(got[&id(Kind::Subscription, u64::from(*i))], "canceled");
    }
    for i in updated.iter() {
        let sid = id(Kind::Subscription, u64::from(*i));
        assert!(got.contains_key(&sid), "{sid} updated");
    }
    // The deleted customer's live subscriptions were canceled too.
    for s in b
        .subscriptions()
        .iter()
        .filter(|s| s.customer == deleted[0])
    {
        if s.status == SubscriptionStatus::Canceled
            && s.canceled_ms == Some(b.customers()[deleted[0] as usize].modified_ms)
        {
            assert_eq!(got[&id(Kind::Subscription, u64::from(s.index))], "canceled");
        }
    }
    // One row per changed subscription, its latest state.
    assert_eq!(got.len(), rows(&batches));

    let (batches, _) = read(customers.as_ref(), SyncMode::Incremental, Some(cust_state)).await;
    let emails: HashMap<String, Option<String>> = ids(&batches)
        .into_iter()
        .zip(strings(&batches, "email"))
        .collect();
    let deleted_flags: HashMap<String, bool> = {
        let mut m = HashMap::new();
        for batch in &batches {
            let idc = batch
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let del = batch
                .column_by_name("_deleted")
                .unwrap()
                .as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap();
            for i in 0..batch.num_rows() {
                m.insert(idc.value(i).to_string(), del.value(i));
            }
        }
        m
    };
    assert!(
        deleted_flags[&id(Kind::Customer, u64::from(deleted[0]))],
        "soft-deleted"
    );
    for t in touched {
        let cid = id(Kind::Customer, u64::from(t));
        assert_eq!(
            emails[&cid].as_deref(),
            Some(b.customers()[t as usize].email.as_str())
        );
        assert!(!deleted_flags[&cid]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_lines_beyond_the_embedded_ones_are_fetched() {
    let sb = sandbox(StripeConfig {
        embedded_list_limit: 1,
        ..StripeConfig::default()
    });
    let s = stream(&sb, "invoices", serde_json::json!({}));
    let (batches, _) = read(s.as_ref(), SyncMode::Incremental, None).await;
    let w = sb.world();
    let w = w.read();
    let b = w.billing();
    let lines: HashMap<String, Option<String>> = ids(&batches)
        .into_iter()
        .zip(strings(&batches, "lines"))
        .collect();
    let mut multi = 0;
    for inv in b.invoices() {
        let want = b.invoice_lines(inv).len();
        let json: serde_json::Value = serde_json::from_str(
            lines[&id(Kind::Invoice, u64::from(inv.index))]
                .as_deref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(json.as_array().unwrap().len(), want);
        multi += usize::from(want > 1);
    }
    assert!(multi > 0);
    assert_eq!(
        sb.stats().route("stripe.invoice_lines.list") as usize,
        multi
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_first_sync_resumes_each_window() {
    let sb = sandbox(StripeConfig::default());
    let s = stream(
        &sb,
        "charges",
        serde_json::json!({"windows": 3, "concurrency": 3}),
    );
    let schema = Arc::new(s.descriptor().schema.clone());
    let mut pages = s.read(ReadRequest {
        mode: SyncMode::Incremental,
        state: None,
        start_date: None,
        schema: schema.clone(),
    });
    use futures::StreamExt;
    // Take two pages, then "crash".
    let mut taken = Vec::new();
    for _ in 0..2 {
        taken.push(pages.next().await.unwrap().unwrap());
    }
    drop(pages);
    let checkpoint = taken.last().unwrap().checkpoint.clone();
    assert!(
        checkpoint["resume"]["partitions"].is_object(),
        "{checkpoint}"
    );
    let (rest, state) = read(s.as_ref(), SyncMode::Incremental, Some(checkpoint)).await;
    let mut all: Vec<String> = ids(&taken.iter().map(|p| p.batch.clone()).collect::<Vec<_>>());
    all.extend(ids(&rest));
    let w = sb.world();
    assert_eq!(
        all.len(),
        w.read().billing().charges().len(),
        "nothing lost"
    );
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        all.len(),
        "nothing twice"
    );
    assert!(state.get("resume").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_lock_timeouts() {
    let sb = sandbox(StripeConfig {
        lock_timeout_every: Some(5),
        ..StripeConfig::default()
    });
    let s = stream(&sb, "invoices", serde_json::json!({"auth": "basic"}));
    let (batches, _) = read(s.as_ref(), SyncMode::Incremental, None).await;
    assert_eq!(rows(&batches), sb.world().read().billing().invoices().len());
    let stats = sb.stats();
    // Every fifth request hit a busy object (429 lock_timeout) and was retried.
    assert!(stats.rate_limited >= 2, "{stats:?}");
    assert_eq!(stats.unauthorized, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_exceed_the_per_second_limit() {
    // The emulator admits 12 requests per rolling second; the connector is told the same.
    let sb = sandbox(StripeConfig {
        rate_limit: Some(12),
        ..StripeConfig::default()
    });
    let mut ctx = SourceContext::new(
        "stripe",
        serde_json::json!({"secret_key": sb.stripe_key(), "windows": 12, "concurrency": 6}),
    );
    ctx.base_url = Some(sb.base_url(Vendor::Stripe));
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(12, 1.0));
    let connector = StripeFactory.build(ctx).unwrap();
    let mut total = 0;
    for name in ["charges", "invoices", "customers"] {
        let s = connector
            .streams()
            .into_iter()
            .find(|s| s.descriptor().name == name)
            .unwrap();
        let (b, _) = read(s.as_ref(), SyncMode::Incremental, None).await;
        total += rows(&b);
    }
    assert!(total > 500);
    let stats = sb.stats();
    assert!(stats.total_requests > 30, "{}", stats.total_requests);
    assert_eq!(stats.rate_limited, 0, "never throttled");
    let peak = sb.max_requests_in_window(Vendor::Stripe, Duration::from_secs(1));
    assert!(peak <= 12, "{peak} requests in one second");
    assert!(peak >= 8, "the budget is used: {peak}");
}
