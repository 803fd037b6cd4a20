//! Google Ads streams against the sandbox's Google Ads emulator, below the runner: manager
//! fan-out, the look-back window, windows as partitions and resume, RESOURCE_EXHAUSTED with
//! `retryDelay`, the daily-quota stop, service-account auth and access errors.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, Date32Array, Decimal128Array, Float64Array, Int64Array};
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, TimeZone, Utc};
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, ErrorKind, ReadRequest, SourceContext, Stream, SyncMode};
use revline_google_ads::GoogleAdsFactory;
use revline_sandbox::google::service_account_json;
use revline_sandbox::{
    Fault, FaultPlan, FaultRule, GoogleAdsConfig, Sandbox, SandboxConfig, Schedule, Vendor,
    WorldConfig,
};

fn sandbox(config: GoogleAdsConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 300,
            ..WorldConfig::default()
        },
        google_ads: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn options(sb: &Sandbox) -> serde_json::Value {
    let cfg = &sb.config().google_ads;
    let url = sb.base_url(Vendor::GoogleAds);
    let today = sb.world().read().today();
    serde_json::json!({
        "developer_token": cfg.developer_token,
        "login_customer_id": "111-222-3334",
        "end_date": today.to_string(),
        "oauth": {
            "client_id": cfg.oauth.client_id,
            "client_secret": cfg.oauth.client_secret,
            "refresh_token": cfg.oauth.refresh_token,
            "token_url": format!("{url}/token"),
        },
    })
}

fn connector(sb: &Sandbox, options: serde_json::Value) -> Arc<dyn revline_core::Connector> {
    let mut ctx = SourceContext::new("google_ads", options);
    ctx.base_url = Some(sb.base_url(Vendor::GoogleAds));
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(1000, 1.0));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    ctx.start_date = Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
    GoogleAdsFactory.build(ctx).expect("connector builds")
}

fn stream(c: &Arc<dyn revline_core::Connector>, name: &str) -> Arc<dyn Stream> {
    c.streams()
        .into_iter()
        .find(|s| s.descriptor().name == name)
        .expect("stream exists")
}

async fn read(
    s: &dyn Stream,
    mode: SyncMode,
    state: Option<serde_json::Value>,
) -> revline_core::Result<(Vec<RecordBatch>, Vec<serde_json::Value>)> {
    let schema = Arc::new(s.resolve_schema().await?);
    let pages = collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
            schema,
        },
    )
    .await?;
    Ok((
        pages.iter().map(|p| p.batch.clone()).collect(),
        pages.into_iter().map(|p| p.checkpoint).collect(),
    ))
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn dates(batches: &[RecordBatch]) -> BTreeSet<i32> {
    batches
        .iter()
        .flat_map(|b| {
            let d = b
                .column_by_name("date")
                .unwrap()
                .as_any()
                .downcast_ref::<Date32Array>()
                .unwrap()
                .clone();
            (0..d.len()).map(move |i| d.value(i)).collect::<Vec<_>>()
        })
        .collect()
}

fn day(d: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(i64::from(d))
}

#[tokio::test]
async fn manager_fans_out_over_its_clients_and_lists_them_once() {
    let sb = sandbox(GoogleAdsConfig::default());
    let c = connector(&sb, options(&sb));
    let (campaigns, _) = read(&*stream(&c, "campaigns"), SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let (groups, _) = read(&*stream(&c, "ad_groups"), SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert_eq!(rows(&campaigns), 2);
    assert_eq!(rows(&groups), 6);
    let customers: HashSet<i64> = campaigns
        .iter()
        .flat_map(|b| {
            let col = b
                .column_by_name("customer_id")
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            (0..col.len())
                .map(move |i| col.value(i))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(customers, HashSet::from([1234567890, 2345678901]));
    let stats = sb.stats();
    assert_eq!(
        stats.route("google_ads.customer_client.search_stream"),
        1,
        "listed once per connector"
    );
    assert_eq!(
        stats.route("google_ads.campaign.search_stream"),
        2,
        "one query per client account"
    );
    assert_eq!(
        stats.route("google_ads.oauth.refresh_token"),
        1,
        "the token is cached"
    );
    // The suffix carries the utm tags people were attributed with in the CRM.
    let suffix = campaigns[0]
        .column_by_name("final_url_suffix")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    assert!(
        suffix.starts_with("utm_source=google&utm_medium=cpc&utm_campaign="),
        "{suffix}"
    );
}

#[tokio::test]
async fn reports_are_typed_and_match_the_world() {
    let sb = sandbox(GoogleAdsConfig::default());
    let c = connector(&sb, options(&sb));
    let (batches, checkpoints) = read(
        &*stream(&c, "campaign_performance_daily"),
        SyncMode::Incremental,
        None,
    )
    .await
    .unwrap();
    let world = sb.world();
    let w = world.read();
    let google: Vec<u32> = w.paid_campaigns("google").map(|c| c.index).collect();
    let mut expected_cost = 0i128;
    let mut expected_rows = 0;
    let mut d = w.first_day();
    while d <= w.today() {
        let md = w.marketing_day(d);
        for c in &google {
            let ads: Vec<_> = md.ads.iter().filter(|a| a.key.campaign == *c).collect();
            if ads.iter().any(|a| a.impressions > 0) {
                expected_rows += 1;
            }
            expected_cost += ads.iter().map(|a| a.cost_micros as i128).sum::<i128>();
        }
        d += chrono::Duration::days(1);
    }
    assert_eq!(rows(&batches), expected_rows);
    let mut cost = 0i128;
    let mut micros = 0i128;
    let mut zero_conversions = 0;
    for b in &batches {
        let c = b
            .column_by_name("cost")
            .unwrap()
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        let m = b
            .column_by_name("cost_micros")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let conv = b
            .column_by_name("conversions")
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(
            c.null_count() + m.null_count() + conv.null_count(),
            0,
            "missing metrics are zero"
        );
        assert_eq!(c.scale(), 6);
        for i in 0..b.num_rows() {
            cost += c.value(i);
            micros += i128::from(m.value(i));
            if conv.value(i) == 0.0 {
                zero_conversions += 1;
            }
        }
    }
    assert_eq!(cost, expected_cost, "cost = cost_micros / 10^6, exactly");
    assert_eq!(micros, expected_cost);
    assert!(zero_conversions > 0);
    // Windows ran as partitions: 18 windows × 2 accounts, then a finishing page.
    assert_eq!(
        sb.stats().route("google_ads.campaign_daily.search_stream"),
        2 * 17
    );
    let last = checkpoints.last().unwrap();
    assert_eq!(last, &serde_json::json!({"cursor": w.today().to_string()}));
    let mid = &checkpoints[checkpoints.len() / 2];
    assert!(mid["resume"]["start"].is_string(), "{mid}");
    assert!(mid["partitions"].as_object().unwrap().len() >= 2, "{mid}");
}

#[tokio::test]
async fn incremental_runs_read_only_the_look_back_window() {
    let sb = sandbox(GoogleAdsConfig::default());
    let today = sb.world().read().today();
    let mut opts = options(&sb);
    opts["lookback_days"] = serde_json::json!(14);
    let c = connector(&sb, opts);
    let s = stream(&c, "ad_group_performance_daily");
    let cursor = today - chrono::Duration::days(3);
    let (batches, checkpoints) = read(
        &*s,
        SyncMode::Incremental,
        Some(serde_json::json!({"cursor": cursor.to_string()})),
    )
    .await
    .unwrap();
    let seen = dates(&batches);
    assert_eq!(
        day(*seen.first().unwrap()),
        cursor - chrono::Duration::days(13)
    );
    assert_eq!(day(*seen.last().unwrap()), today);
    assert_eq!(
        seen.len(),
        17,
        "14 look-back days up to the cursor, then the 3 after it"
    );
    // One window per account.
    assert_eq!(
        sb.stats().route("google_ads.ad_group_daily.search_stream"),
        2
    );
    assert_eq!(checkpoints.last().unwrap()["cursor"], today.to_string());
}

#[tokio::test]
async fn an_interrupted_read_resumes_and_skips_finished_windows() {
    let sb = sandbox(GoogleAdsConfig::default());
    let c = connector(&sb, options(&sb));
    let s = stream(&c, "campaign_performance_daily");
    // Windows after the fifth request fail for good.
    sb.set_faults(FaultPlan::single(FaultRule::new(
        Fault::Status { code: 400 },
        Some("campaign.status, metrics.impressions"),
        Schedule::From(6),
    )));
    let schema = Arc::new(s.resolve_schema().await.unwrap());
    let pages: Vec<revline_core::Result<revline_core::Page>> =
        futures::StreamExt::collect(s.read(ReadRequest {
            mode: SyncMode::Incremental,
            state: None,
            start_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
            schema,
        }))
        .await;
    assert!(pages.last().unwrap().is_err());
    let ok: Vec<_> = pages.iter().filter_map(|p| p.as_ref().ok()).collect();
    assert!(!ok.is_empty());
    let state = ok.last().unwrap().checkpoint.clone();
    let done: usize = state["partitions"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| *v == "done")
        .count();
    assert_eq!(done, ok.len());
    let first_rows: usize = ok.iter().map(|p| p.batch.num_rows()).sum();

    sb.set_faults(FaultPlan::none());
    // Requests abandoned with the failed read may still be answered; let them land first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sb.reset_stats();
    let (batches, checkpoints) = read(&*s, SyncMode::Incremental, Some(state)).await.unwrap();
    assert_eq!(
        sb.stats().route("google_ads.campaign_daily.search_stream") as usize,
        2 * 17 - done,
        "finished windows are not read again"
    );
    let (all, _) = read(&*s, SyncMode::FullRefresh, None).await.unwrap();
    assert_eq!(first_rows + rows(&batches), rows(&all));
    assert!(checkpoints.last().unwrap().get("resume").is_none());
}

#[tokio::test]
async fn resource_exhausted_waits_its_retry_delay_and_a_daily_quota_stops_gracefully() {
    let sb = sandbox(GoogleAdsConfig::default());
    sb.set_faults(FaultPlan::single(FaultRule::new(
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
        Some("FROM campaign WHERE campaign.status"),
        Schedule::Nth(vec![1]),
    )));
    let c = connector(&sb, options(&sb));
    let started = Instant::now();
    let (batches, _) = read(&*stream(&c, "campaigns"), SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "retryDelay 1s honoured"
    );
    assert_eq!(rows(&batches), 2);
    assert_eq!(sb.stats().rate_limited, 1);

    // Three operations left for the day: the fourth is told to wait until midnight Pacific.
    let sb = sandbox(GoogleAdsConfig {
        daily_operations: Some(4),
        ..GoogleAdsConfig::default()
    });
    let mut opts = options(&sb);
    opts["concurrency"] = serde_json::json!(1);
    let c = connector(&sb, opts);
    let s = stream(&c, "campaign_performance_daily");
    let schema = Arc::new(s.resolve_schema().await.unwrap());
    let pages: Vec<revline_core::Result<revline_core::Page>> =
        futures::StreamExt::collect(s.read(ReadRequest {
            mode: SyncMode::Incremental,
            state: None,
            start_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
            schema,
        }))
        .await;
    let err = pages.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("resume later") && msg.contains("RESOURCE_EXHAUSTED"),
        "{msg}"
    );
    // One listing plus three windows were answered; their pages carry resumable checkpoints.
    let ok: Vec<_> = pages.iter().filter_map(|p| p.as_ref().ok()).collect();
    assert_eq!(ok.len(), 3);
    assert!(ok.last().unwrap().checkpoint["resume"].is_object());
}

#[tokio::test]
async fn service_account_keys_authenticate_with_a_signed_jwt() {
    let sb = sandbox(GoogleAdsConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sa.json");
    std::fs::write(
        &key,
        service_account_json(&format!("{}/token", sb.base_url(Vendor::GoogleAds))),
    )
    .unwrap();
    let mut opts = options(&sb);
    opts.as_object_mut().unwrap().remove("oauth");
    opts["service_account_key_file"] = serde_json::json!(key);
    let c = connector(&sb, opts);
    c.check().await.unwrap();
    for name in ["campaigns", "ad_groups"] {
        let (b, _) = read(&*stream(&c, name), SyncMode::FullRefresh, None)
            .await
            .unwrap();
        assert!(rows(&b) > 0);
    }
    let stats = sb.stats();
    assert_eq!(
        stats.route("google_ads.oauth.jwt_bearer"),
        1,
        "one token, cached for every stream"
    );
    assert_eq!(stats.route("google_ads.oauth.refresh_token"), 0);
    assert_eq!(stats.unauthorized, 0);
}

#[tokio::test]
async fn access_errors_are_clear() {
    let sb = sandbox(GoogleAdsConfig::default());
    // A client account reached without its manager.
    let mut opts = options(&sb);
    opts.as_object_mut().unwrap().remove("login_customer_id");
    opts["customer_ids"] = serde_json::json!(["123-456-7890"]);
    let c = connector(&sb, opts);
    let err = read(&*stream(&c, "campaigns"), SyncMode::FullRefresh, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let msg = err.to_string();
    assert!(
        msg.contains("USER_PERMISSION_DENIED") && msg.contains("login_customer_id"),
        "{msg}"
    );
    assert!(msg.contains("customer: 1234567890"), "{msg}");
    // A retired API version.
    let mut opts = options(&sb);
    opts["api_version"] = serde_json::json!("v19");
    let c = connector(&sb, opts);
    let err = c.check().await.unwrap_err();
    assert!(err.to_string().contains("api_version"), "{err}");
    // Neither accounts nor a manager.
    let mut opts = options(&sb);
    opts.as_object_mut().unwrap().remove("login_customer_id");
    let mut ctx = SourceContext::new("google_ads", opts);
    ctx.base_url = Some(sb.base_url(Vendor::GoogleAds));
    let err = GoogleAdsFactory.build(ctx).err().expect("config error");
    assert_eq!(err.kind(), ErrorKind::Config);
}
