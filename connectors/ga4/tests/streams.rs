//! GA4 streams against the sandbox's GA4 emulator, below the runner: offset paging against
//! `rowCount` and resume from an offset, empty reports, custom reports typed from metadata,
//! the look-back window, and stopping before the property's quota runs out.

use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use chrono::{Duration, TimeZone, Utc};
use futures::StreamExt;
use revline_core::rest::collect_pages;
use revline_core::{
    ConnectorFactory, ErrorKind, Page, ReadRequest, SourceContext, Stream, SyncMode,
};
use revline_ga4::Ga4Factory;
use revline_sandbox::{Ga4Config, Sandbox, SandboxConfig, Vendor, WorldConfig};

fn sandbox(config: Ga4Config) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 300,
            ..WorldConfig::default()
        },
        ga4: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn options(sb: &Sandbox) -> serde_json::Value {
    let cfg = &sb.config().ga4;
    let url = sb.base_url(Vendor::Ga4);
    serde_json::json!({
        "property_id": cfg.property_id,
        "end_date": sb.world().read().today().to_string(),
        "oauth": {
            "client_id": cfg.oauth.client_id,
            "client_secret": cfg.oauth.client_secret,
            "refresh_token": cfg.oauth.refresh_token,
            "token_url": format!("{url}/token"),
        },
    })
}

fn connector(sb: &Sandbox, options: serde_json::Value) -> Arc<dyn revline_core::Connector> {
    let mut ctx = SourceContext::new("ga4", options);
    ctx.base_url = Some(sb.base_url(Vendor::Ga4));
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(1000, 1.0));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    Ga4Factory.build(ctx).expect("connector builds")
}

fn stream(c: &Arc<dyn revline_core::Connector>, name: &str) -> Arc<dyn Stream> {
    c.streams()
        .into_iter()
        .find(|s| s.descriptor().name == name)
        .expect("stream exists")
}

async fn request(s: &dyn Stream, mode: SyncMode, state: Option<serde_json::Value>) -> ReadRequest {
    ReadRequest {
        mode,
        state,
        start_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
        schema: Arc::new(s.resolve_schema().await.expect("schema")),
    }
}

fn rows(pages: &[RecordBatch]) -> usize {
    pages.iter().map(RecordBatch::num_rows).sum()
}

#[tokio::test]
async fn pages_by_offset_and_resumes_from_the_stored_offset() {
    let sb = sandbox(Ga4Config::default());
    let mut opts = options(&sb);
    opts["page_size"] = serde_json::json!(50);
    opts["window_days"] = serde_json::json!(400);
    let c = connector(&sb, opts);
    let s = stream(&c, "landing_pages_daily");
    let all = collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None).await)
        .await
        .unwrap();
    let total = all.iter().map(|p| p.batch.num_rows()).sum::<usize>();
    let days = (sb.world().read().today() - sb.world().read().first_day()).num_days() as usize + 1;
    assert_eq!(total, days * 6, "every page, every day");
    // Two windows of 400 days: ceil(rows / 50) requests each.
    let requests = sb.stats().route("ga4.run_report.landing_page") as usize;
    assert_eq!(
        requests,
        (400 * 6usize).div_ceil(50) + ((days - 400) * 6).div_ceil(50)
    );
    let second = &all[1].checkpoint;
    assert!(
        second["partitions"]
            .as_object()
            .unwrap()
            .values()
            .any(|v| v.get("offset").is_some()),
        "a window part-way through records its next offset: {second}"
    );

    // Resume from a checkpoint in the middle of the first window.
    sb.reset_stats();
    let state = all[2].checkpoint.clone();
    let rest = collect_pages(&*s, request(&*s, SyncMode::FullRefresh, Some(state)).await)
        .await
        .unwrap();
    let done_before: usize = all[..3].iter().map(|p| p.batch.num_rows()).sum();
    assert_eq!(
        rows(&rest.iter().map(|p| p.batch.clone()).collect::<Vec<_>>()) + done_before,
        total
    );
    assert_eq!(
        sb.stats().route("ga4.run_report.landing_page") as usize,
        requests - 3
    );
}

#[tokio::test]
async fn traffic_rows_are_typed_and_the_look_back_is_three_days() {
    let sb = sandbox(Ga4Config::default());
    let today = sb.world().read().today();
    let c = connector(&sb, options(&sb));
    let s = stream(&c, "traffic_daily");
    let cursor = today - Duration::days(1);
    let pages = collect_pages(
        &*s,
        request(
            &*s,
            SyncMode::Incremental,
            Some(serde_json::json!({"cursor": cursor.to_string()})),
        )
        .await,
    )
    .await
    .unwrap();
    let batches: Vec<RecordBatch> = pages.iter().map(|p| p.batch.clone()).collect();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    // 3 days up to the cursor, plus today: 8 campaigns and direct traffic each day.
    assert_eq!(b.num_rows(), 4 * 9);
    assert_eq!(
        b.column_by_name("date").unwrap().data_type(),
        &DataType::Date32
    );
    assert_eq!(
        b.column_by_name("sessions").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        b.column_by_name("total_revenue").unwrap().data_type(),
        &DataType::Float64
    );
    let sources = b
        .column_by_name("session_source")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!((0..b.num_rows()).any(|i| sources.value(i) == "(direct)"));
    let sessions = b
        .column_by_name("sessions")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let world_sessions: u64 = (0..4)
        .map(|k| {
            sb.world()
                .read()
                .marketing_day(today - Duration::days(k))
                .traffic
                .iter()
                .map(|t| t.sessions)
                .sum::<u64>()
        })
        .sum();
    assert_eq!(
        sessions.iter().flatten().sum::<i64>() as u64,
        world_sessions
    );
    assert_eq!(
        pages.last().unwrap().checkpoint,
        serde_json::json!({"cursor": today.to_string()})
    );
}

#[tokio::test]
async fn custom_reports_are_typed_from_the_property_metadata() {
    let sb = sandbox(Ga4Config::default());
    let mut opts = options(&sb);
    opts["custom_reports"] = serde_json::json!([
        {"name": "channels_daily", "dimensions": ["sessionDefaultChannelGroup"], "metrics": ["sessions", "engagementRate", "averageSessionDuration"]}
    ]);
    let c = connector(&sb, opts.clone());
    let s = stream(&c, "channels_daily");
    let schema = s.resolve_schema().await.unwrap();
    let cols: Vec<(String, String)> = schema
        .columns()
        .iter()
        .map(|c| (c.name.clone(), format!("{:?}", c.ty)))
        .collect();
    assert_eq!(
        cols,
        [
            ("date".to_string(), "Date".to_string()),
            ("session_default_channel_group".into(), "Utf8".into()),
            ("sessions".into(), "Int64".into()),
            ("engagement_rate".into(), "Float64".into()),
            ("average_session_duration".into(), "Float64".into()),
        ]
    );
    assert_eq!(
        s.descriptor().primary_key,
        ["date", "session_default_channel_group"]
    );
    let mut req = request(&*s, SyncMode::Incremental, None).await;
    req.start_date = Some(
        Utc.from_utc_datetime(
            &(sb.world().read().today() - Duration::days(6))
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        ),
    );
    let pages = collect_pages(&*s, req).await.unwrap();
    let b = &pages[0].batch;
    assert!(b.num_rows() >= 7 * 5, "{}", b.num_rows());
    let rate = b
        .column_by_name("engagement_rate")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!(rate.iter().flatten().all(|r| (0.0..=1.0).contains(&r)));
    assert_eq!(sb.stats().route("ga4.metadata"), 1);

    // A metric the property does not have is a configuration error naming it.
    opts["custom_reports"][0]["metrics"] = serde_json::json!(["sessions", "bogusMetric"]);
    let c = connector(&sb, opts);
    let err = stream(&c, "channels_daily")
        .resolve_schema()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("bogusMetric"), "{err}");
}

#[tokio::test]
async fn the_run_stops_before_the_property_quota_runs_out() {
    // 300 tokens a day, 10 per report: the 10% reserve (30 tokens) is reached after 27 reports.
    let sb = sandbox(Ga4Config {
        tokens_per_day: 300,
        ..Ga4Config::default()
    });
    let mut opts = options(&sb);
    opts["tokens_per_day"] = serde_json::json!(300);
    opts["page_size"] = serde_json::json!(100);
    opts["concurrency"] = serde_json::json!(1);
    let c = connector(&sb, opts);
    let s = stream(&c, "traffic_daily");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::Incremental, None).await)
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted, "{err}");
    assert!(err.to_string().contains("tokensPerDay: 20 of 300"), "{err}");
    assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 28);
    assert_eq!(sb.stats().rate_limited, 0, "stopped before the API refused");
    assert!(items[27].as_ref().unwrap().checkpoint["resume"].is_object());

    // Without the reserve, the API's own 429 (tokens per day) also stops gracefully.
    let sb = sandbox(Ga4Config {
        tokens_per_day: 30,
        ..Ga4Config::default()
    });
    let mut opts = options(&sb);
    opts["concurrency"] = serde_json::json!(1);
    let mut ctx = SourceContext::new("ga4", opts);
    ctx.base_url = Some(sb.base_url(Vendor::Ga4));
    ctx.http.quota_reserve_percent = 0.0;
    let c = Ga4Factory.build(ctx).unwrap();
    let s = stream(&c, "landing_pages_daily");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::Incremental, None).await)
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted, "{err}");
    assert!(err.to_string().contains("resume later"), "{err}");
    assert_eq!(sb.stats().rate_limited, 1, "{:?}", sb.stats());
}
