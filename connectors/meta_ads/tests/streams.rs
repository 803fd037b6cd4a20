//! Meta streams against the sandbox's Meta emulator, below the runner: objects with utm tags
//! and paging.next, direct insights with empty pages, async report jobs (and resuming one),
//! usage-header pacing that keeps clear of the 80000 throttle, the 28-day look-back, and a
//! rejected token.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, Decimal128Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use chrono::{Duration, TimeZone, Utc};
use futures::StreamExt;
use revline_core::rest::collect_pages;
use revline_core::{
    ConnectorFactory, ErrorKind, Page, ReadRequest, SourceContext, Stream, SyncMode,
};
use revline_meta_ads::MetaFactory;
use revline_sandbox::{
    MetaConfig, RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig,
};

fn sandbox(config: MetaConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 300,
            ..WorldConfig::default()
        },
        meta: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn options(sb: &Sandbox) -> serde_json::Value {
    serde_json::json!({
        "access_token": sb.config().meta.access_token,
        "ad_account_ids": [format!("act_{}", sb.config().meta.ad_account_id)],
        "end_date": sb.world().read().today().to_string(),
        "async_poll_ms": 5,
        "usage_pause_secs": 0.2,
    })
}

fn connector(sb: &Sandbox, options: serde_json::Value) -> Arc<dyn revline_core::Connector> {
    let mut ctx = SourceContext::new("meta_ads", options);
    ctx.base_url = Some(sb.base_url(Vendor::Meta));
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(1000, 1.0));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    MetaFactory.build(ctx).expect("connector builds")
}

fn stream(c: &Arc<dyn revline_core::Connector>, name: &str) -> Arc<dyn Stream> {
    c.streams()
        .into_iter()
        .find(|s| s.descriptor().name == name)
        .expect("stream exists")
}

fn request(s: &dyn Stream, mode: SyncMode, state: Option<serde_json::Value>) -> ReadRequest {
    ReadRequest {
        mode,
        state,
        start_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
        schema: Arc::new(s.descriptor().schema.clone()),
    }
}

fn concat(pages: &[Page]) -> RecordBatch {
    let batches: Vec<RecordBatch> = pages.iter().map(|p| p.batch.clone()).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn ints(b: &RecordBatch, name: &str) -> Vec<i64> {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect()
}

#[tokio::test]
async fn objects_follow_paging_next_and_ads_carry_utm_tags() {
    let sb = sandbox(MetaConfig::default());
    let mut opts = options(&sb);
    opts["page_size"] = serde_json::json!(2);
    let c = connector(&sb, opts);
    let s = stream(&c, "ads");
    let pages = collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
        .await
        .unwrap();
    assert_eq!(pages.len(), 3, "6 ads, 2 per page");
    let b = concat(&pages);
    assert_eq!(b.num_rows(), 6);
    let ids: HashSet<i64> = ints(&b, "id").into_iter().collect();
    assert_eq!(ids.len(), 6);
    let col = |n: &str| {
        b.column_by_name(n)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .clone()
    };
    let campaign = sb
        .world()
        .read()
        .paid_campaigns("facebook")
        .next()
        .unwrap()
        .utm_campaign
        .clone();
    for i in 0..6 {
        assert_eq!(col("utm_source").value(i), "facebook");
        assert_eq!(col("utm_medium").value(i), "paid_social");
        assert_eq!(
            col("utm_campaign").value(i),
            campaign,
            "the CRM's utm_campaign"
        );
        assert!(col("creative__url_tags").value(i).contains("utm_content="));
    }
    assert_eq!(sb.stats().route("meta.ads.list"), 3);
}

#[tokio::test]
async fn direct_insights_continue_through_empty_pages() {
    let sb = sandbox(MetaConfig {
        empty_page_every: Some(3),
        ..MetaConfig::default()
    });
    let mut opts = options(&sb);
    opts["async_min_days"] = serde_json::json!(1000);
    opts["page_size"] = serde_json::json!(40);
    let c = connector(&sb, opts);
    let s = stream(&c, "ad_insights_daily");
    let pages = collect_pages(&*s, request(&*s, SyncMode::Incremental, None))
        .await
        .unwrap();
    assert!(
        pages
            .iter()
            .any(|p| p.batch.num_rows() == 0 && p.checkpoint.get("partitions").is_some()),
        "empty pages kept going"
    );
    let b = concat(&pages);
    let w = sb.world();
    let w = w.read();
    assert_eq!(b.num_rows() as u64, w.active_ad_days("facebook"));
    let keys: HashSet<(i32, i64)> = {
        let d = b
            .column_by_name("date")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Date32Array>()
            .unwrap()
            .clone();
        let ad = ints(&b, "ad_id");
        (0..b.num_rows()).map(|i| (d.value(i), ad[i])).collect()
    };
    assert_eq!(keys.len(), b.num_rows(), "every row once");
    // Leads and purchases derived from `actions` agree with the world.
    let fb: Vec<u32> = w.paid_campaigns("facebook").map(|c| c.index).collect();
    let (mut leads, mut purchases) = (0u64, 0u64);
    let mut day = w.first_day();
    while day <= w.today() {
        for a in w
            .marketing_day(day)
            .ads
            .iter()
            .filter(|a| fb.contains(&a.key.campaign))
        {
            leads += a.leads;
            purchases += a.purchases;
        }
        day += Duration::days(1);
    }
    assert_eq!(ints(&b, "leads").iter().sum::<i64>() as u64, leads);
    assert_eq!(ints(&b, "purchases").iter().sum::<i64>() as u64, purchases);
    let spend = b
        .column_by_name("spend")
        .unwrap()
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(spend.scale(), 2);
    assert_eq!(sb.stats().route("meta.insights.async_create"), 0);
}

#[tokio::test]
async fn long_windows_run_as_async_jobs_and_a_job_is_resumed() {
    let sb = sandbox(MetaConfig::default());
    let mut opts = options(&sb);
    opts["page_size"] = serde_json::json!(10);
    opts["concurrency"] = serde_json::json!(1);
    let c = connector(&sb, opts);
    let s = stream(&c, "campaign_insights_daily");
    let all = collect_pages(&*s, request(&*s, SyncMode::Incremental, None))
        .await
        .unwrap();
    let windows = 17;
    let stats = sb.stats();
    assert_eq!(stats.route("meta.insights.async_create"), windows);
    assert!(
        stats.route("meta.insights.async_status") >= 2 * windows,
        "each job polled to completion"
    );
    assert_eq!(stats.route("meta.insights.campaign"), 0, "no direct reads");
    let total = all.iter().map(|p| p.batch.num_rows()).sum::<usize>();
    assert_eq!(
        total as u64,
        stats.records("meta.insights.async_results.campaign")
    );

    // Stop after the first results page of the first job, then resume: the job is reused.
    let state = all[0].checkpoint.clone();
    let position = state["partitions"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert!(
        position["job"].is_string() && position["after"].is_string(),
        "{position}"
    );
    sb.reset_stats();
    let rest = collect_pages(&*s, request(&*s, SyncMode::Incremental, Some(state)))
        .await
        .unwrap();
    assert_eq!(sb.stats().route("meta.insights.async_create"), windows - 1);
    assert_eq!(
        all[0].batch.num_rows() + rest.iter().map(|p| p.batch.num_rows()).sum::<usize>(),
        total
    );
}

#[tokio::test]
async fn usage_headers_slow_requests_before_the_throttle() {
    // 8 calls per 1.5 s; the connector holds back 1.5 s from 60 % usage on.
    let sb = sandbox(MetaConfig {
        rate_limit: Some(RateLimitEmulation {
            max: 8,
            interval_ms: 1_500,
        }),
        ..MetaConfig::default()
    });
    let mut opts = options(&sb);
    opts["usage_pause_percent"] = serde_json::json!(60);
    opts["usage_pause_secs"] = serde_json::json!(1.5);
    opts["page_size"] = serde_json::json!(1);
    let c = connector(&sb, opts);
    let s = stream(&c, "adsets");
    let started = std::time::Instant::now();
    let pages = collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.batch.num_rows()).sum::<usize>(), 3);
    let s = stream(&c, "ads");
    collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
        .await
        .unwrap();
    assert_eq!(sb.stats().route("meta.throttled"), 0, "never throttled");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1_400),
        "it held back"
    );
}

#[tokio::test]
async fn the_look_back_is_28_days_and_a_bad_token_fails_clearly() {
    let sb = sandbox(MetaConfig::default());
    let today = sb.world().read().today();
    let c = connector(&sb, options(&sb));
    let s = stream(&c, "campaign_insights_daily");
    let pages = collect_pages(
        &*s,
        request(
            &*s,
            SyncMode::Incremental,
            Some(serde_json::json!({"cursor": today.to_string()})),
        ),
    )
    .await
    .unwrap();
    let b = concat(&pages);
    assert_eq!(b.num_rows(), 28, "one campaign, 28 days");

    let mut opts = options(&sb);
    opts["access_token"] = serde_json::json!("EAAB-revoked");
    let c = connector(&sb, opts);
    let s = stream(&c, "campaigns");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::FullRefresh, None))
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let msg = err.to_string();
    assert!(
        msg.contains("Meta rejected the access token") && msg.contains("code 190"),
        "{msg}"
    );
    assert!(
        !msg.contains("EAAB-revoked"),
        "the token is not echoed: {msg}"
    );
}
