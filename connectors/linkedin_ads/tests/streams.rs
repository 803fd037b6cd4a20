//! LinkedIn streams against the sandbox's LinkedIn emulator, below the runner: objects paged
//! by pageToken, analytics agreeing with the world (metrics split over two requests and
//! joined on the grain, exact decimal costs), the row-cap split, resuming a window, the
//! 14-day look-back, the daily quota stopping the run, and rejected tokens and versions.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, Date32Array, Decimal128Array, Int64Array};
use arrow::record_batch::RecordBatch;
use chrono::{Duration, TimeZone, Utc};
use futures::StreamExt;
use revline_core::rest::collect_pages;
use revline_core::{
    ConnectorFactory, ErrorKind, Page, ReadRequest, SourceContext, Stream, SyncMode,
};
use revline_linkedin_ads::LinkedinFactory;
use revline_sandbox::linkedin::{analytics_rows, campaign_days};
use revline_sandbox::{LinkedinConfig, Sandbox, SandboxConfig, Vendor, WorldConfig};

fn sandbox(config: LinkedinConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 300,
            ..WorldConfig::default()
        },
        linkedin: config,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn options(sb: &Sandbox) -> serde_json::Value {
    serde_json::json!({
        "access_token": sb.config().linkedin.access_token,
        "ad_account_ids": [format!("urn:li:sponsoredAccount:{}", sb.config().linkedin.ad_account_id)],
        "end_date": sb.world().read().today().to_string(),
    })
}

fn connector(sb: &Sandbox, options: serde_json::Value) -> Arc<dyn revline_core::Connector> {
    let mut ctx = SourceContext::new("linkedin_ads", options);
    ctx.base_url = Some(sb.base_url(Vendor::Linkedin));
    ctx.rate_limit = Some(revline_core::http::RateLimit::new(1000, 1.0));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    LinkedinFactory.build(ctx).expect("connector builds")
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
        start_date: Some(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()),
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
        .map(|v| v.expect("no nulls"))
        .collect()
}

fn keys(b: &RecordBatch) -> HashSet<(i32, i64)> {
    let d = b
        .column_by_name("date")
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap()
        .clone();
    let c = ints(b, "campaign_id");
    (0..b.num_rows()).map(|i| (d.value(i), c[i])).collect()
}

#[tokio::test]
async fn objects_page_by_token_and_link_to_their_groups() {
    let sb = sandbox(LinkedinConfig::default());
    let mut opts = options(&sb);
    opts["page_size"] = serde_json::json!(2);
    let c = connector(&sb, opts);
    let s = stream(&c, "campaigns");
    let pages = collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
        .await
        .unwrap();
    assert_eq!(pages.len(), 2, "3 campaigns, 2 per page");
    let b = concat(&pages);
    let (group, groups) = {
        let w = sb.world();
        let w = w.read();
        let group = w.paid_campaigns("linkedin").next().unwrap().clone();
        let groups = w.ad_groups_of(&group);
        (group, groups)
    };
    let expected: HashSet<i64> = groups.iter().map(|g| g.id as i64).collect();
    assert_eq!(ints(&b, "id").into_iter().collect::<HashSet<_>>(), expected);
    assert!(
        ints(&b, "campaign_group_id")
            .iter()
            .all(|g| *g == group.id as i64)
    );
    assert!(ints(&b, "account_id").iter().all(|a| *a == 512_345_678));
    let budget = b
        .column_by_name("daily_budget__amount")
        .unwrap()
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(
        budget.value(0),
        groups[0].daily_budget_cents as i128,
        "budgets are exact"
    );
    assert_eq!(sb.stats().route("linkedin.campaigns.list"), 2);

    let s = stream(&c, "campaign_groups");
    let b = concat(
        &collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
            .await
            .unwrap(),
    );
    assert_eq!(ints(&b, "id"), vec![group.id as i64]);
    let names = b
        .column_by_name("name")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert_eq!(names.value(0), group.name, "the CRM campaign's name");
    let s = stream(&c, "ad_accounts");
    let b = concat(
        &collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
            .await
            .unwrap(),
    );
    assert_eq!(ints(&b, "id"), vec![512_345_678]);
}

#[tokio::test]
async fn analytics_join_two_requests_per_range_and_agree_with_the_world() {
    let sb = sandbox(LinkedinConfig::default());
    let c = connector(&sb, options(&sb));
    let s = stream(&c, "campaign_analytics_daily");
    let pages = collect_pages(&*s, request(&*s, SyncMode::Incremental, None))
        .await
        .unwrap();
    let b = concat(&pages);
    let w = sb.world();
    let w = w.read();
    let rows = analytics_rows(&w, w.first_day(), w.today());
    assert!(rows > 1000, "{rows}");
    assert_eq!(b.num_rows() as u64, rows);
    assert_eq!(keys(&b).len(), b.num_rows(), "every (date, campaign) once");
    let stats = sb.stats();
    assert_eq!(
        stats.records("linkedin.analytics.campaign"),
        2 * rows,
        "22 metrics: every row comes in two requests of at most 20 fields"
    );
    assert_eq!(stats.route("linkedin.analytics.campaign") % 2, 0);
    // Sums over the whole history agree with the world, for a metric of each request.
    let (mut impressions, mut conversions, mut leads, mut cost) = (0u64, 0u64, 0u64, 0u64);
    let mut day = w.first_day();
    while day <= w.today() {
        for (_, s) in campaign_days(&w, day) {
            impressions += s.impressions;
            conversions += s.conversions;
            leads += s.leads;
            // LinkedIn prints costs to 1/10,000.
            cost += (s.cost_micros + 50) / 100;
        }
        day += Duration::days(1);
    }
    let sum = |n: &str| ints(&b, n).iter().sum::<i64>() as u64;
    assert_eq!(sum("impressions"), impressions);
    assert_eq!(sum("external_website_conversions"), conversions);
    assert_eq!(sum("one_click_leads"), leads, "second request's metric");
    let costs = b
        .column_by_name("cost_in_local_currency")
        .unwrap()
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(costs.scale(), 18);
    let total: i128 = costs.iter().map(|v| v.unwrap()).sum();
    assert_eq!(
        total,
        cost as i128 * 100_000_000_000_000,
        "exact decimal costs"
    );
}

#[tokio::test]
async fn responses_at_the_row_cap_are_split_until_under_it() {
    // 3 campaigns a day: a 30-day window (≤ 90 rows) is over a cap of 7 until it is split
    // into ranges of at most 2 days.
    let sb = sandbox(LinkedinConfig {
        row_cap: 7,
        ..LinkedinConfig::default()
    });
    let mut opts = options(&sb);
    opts["row_cap"] = serde_json::json!(7);
    opts["metrics"] = serde_json::json!(["impressions", "clicks", "costInUsd"]);
    let c = connector(&sb, opts);
    let s = stream(&c, "campaign_analytics_daily");
    let pages = collect_pages(&*s, request(&*s, SyncMode::Incremental, None))
        .await
        .unwrap();
    let b = concat(&pages);
    let expected = {
        let w = sb.world();
        let w = w.read();
        analytics_rows(&w, w.first_day(), w.today())
    };
    assert_eq!(b.num_rows() as u64, expected);
    assert_eq!(keys(&b).len(), b.num_rows(), "nothing twice, nothing lost");
    assert!(pages.iter().all(|p| p.batch.num_rows() < 7));
    assert!(pages.len() > 200, "ranges of 1-2 days: {}", pages.len());
    // Resume from the middle of a window: the window restarts at the first unwritten day.
    let mid = pages
        .iter()
        .position(|p| {
            p.checkpoint["partitions"]
                .as_object()
                .is_some_and(|m| m.values().any(|v| v.get("next").is_some()))
        })
        .expect("a position inside a window");
    let written: usize = pages[..=mid].iter().map(|p| p.batch.num_rows()).sum();
    let rest = collect_pages(
        &*s,
        request(
            &*s,
            SyncMode::Incremental,
            Some(pages[mid].checkpoint.clone()),
        ),
    )
    .await
    .unwrap();
    let rest_rows: usize = rest.iter().map(|p| p.batch.num_rows()).sum();
    assert_eq!(written + rest_rows, b.num_rows());
    let mut all = keys(&concat(&pages[..=mid]));
    for k in keys(&concat(&rest)) {
        assert!(all.insert(k), "{k:?} read twice");
    }

    // A single day over the cap cannot be split: a clear error.
    let sb = sandbox(LinkedinConfig {
        row_cap: 2,
        ..LinkedinConfig::default()
    });
    let mut opts = options(&sb);
    opts["row_cap"] = serde_json::json!(2);
    let c = connector(&sb, opts);
    let s = stream(&c, "campaign_analytics_daily");
    let err = collect_pages(&*s, request(&*s, SyncMode::Incremental, None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be split further"), "{err}");
}

#[tokio::test]
async fn the_look_back_is_14_days() {
    let sb = sandbox(LinkedinConfig::default());
    let today = sb.world().read().today();
    let c = connector(&sb, options(&sb));
    let s = stream(&c, "campaign_analytics_daily");
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
    let w = sb.world();
    let w = w.read();
    assert_eq!(
        b.num_rows() as u64,
        analytics_rows(&w, today - Duration::days(13), today)
    );
    assert_eq!(b.num_rows(), 42, "3 campaigns × 14 days");
}

#[tokio::test]
async fn daily_quota_stops_the_run_and_bad_credentials_fail_clearly() {
    let sb = sandbox(LinkedinConfig {
        daily_quota: Some(3),
        ..LinkedinConfig::default()
    });
    let mut opts = options(&sb);
    opts["concurrency"] = serde_json::json!(1);
    let c = connector(&sb, opts);
    let s = stream(&c, "campaign_analytics_daily");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::Incremental, None))
        .collect()
        .await;
    let err = items.iter().find_map(|i| i.as_ref().err()).expect("stops");
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted, "{err}");
    assert!(err.to_string().contains("midnight UTC"), "{err}");
    assert_eq!(sb.stats().route("linkedin.throttled"), 1, "not retried");

    let sb = sandbox(LinkedinConfig::default());
    let mut opts = options(&sb);
    opts["access_token"] = serde_json::json!("AQX-revoked");
    let c = connector(&sb, opts);
    let s = stream(&c, "campaigns");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::FullRefresh, None))
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let msg = err.to_string();
    assert!(msg.contains("INVALID_ACCESS_TOKEN"), "{msg}");
    assert!(
        !msg.contains("AQX-revoked"),
        "the token is not echoed: {msg}"
    );

    let mut opts = options(&sb);
    opts["api_version"] = serde_json::json!("202301");
    let c = connector(&sb, opts);
    let s = stream(&c, "ad_accounts");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::FullRefresh, None))
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("202301"), "{err}");
}

#[tokio::test]
async fn oauth_refresh_token_is_exchanged_once_and_bad_refresh_credentials_fail_clearly() {
    let sb = sandbox(LinkedinConfig::default());
    let li = sb.config().linkedin.clone();
    let dir = tempfile::tempdir().unwrap();
    let refresh_file = dir.path().join("linkedin_refresh");
    std::fs::write(&refresh_file, format!("{}\n", li.refresh_token)).unwrap();
    let mut opts = options(&sb);
    opts.as_object_mut().unwrap().remove("access_token");
    opts["oauth"] = serde_json::json!({
        "client_id": li.client_id,
        "client_secret": li.client_secret,
        "refresh_token_file": refresh_file,
    });
    let c = connector(&sb, opts.clone());
    for name in ["ad_accounts", "campaign_groups", "campaigns"] {
        let s = stream(&c, name);
        let pages = collect_pages(&*s, request(&*s, SyncMode::FullRefresh, None))
            .await
            .unwrap();
        assert!(concat(&pages).num_rows() > 0, "{name}");
    }
    assert_eq!(
        sb.stats().route("linkedin.token"),
        1,
        "one access token, cached for every stream"
    );
    assert_eq!(sb.stats().route("linkedin.campaigns.list"), 1);

    // A revoked refresh token: an auth error that names the OAuth error, never the secret.
    let mut bad = opts.clone();
    bad["oauth"]["refresh_token_file"] = serde_json::Value::Null;
    bad["oauth"]["refresh_token"] = serde_json::json!("AQW-revoked-refresh");
    let c = connector(&sb, bad);
    let s = stream(&c, "campaigns");
    let items: Vec<revline_core::Result<Page>> = s
        .read(request(&*s, SyncMode::FullRefresh, None))
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("invalid_request"), "{msg}");
    assert!(!msg.contains("AQW-revoked-refresh"), "not echoed: {msg}");
    assert!(!msg.contains(&li.client_secret), "not echoed: {msg}");

    // Both kinds of credential, or an incomplete [oauth]: config errors naming the keys.
    let mut both = opts.clone();
    both["access_token"] = serde_json::json!(li.access_token);
    let mut ctx = SourceContext::new("linkedin_ads", both);
    ctx.base_url = Some(sb.base_url(Vendor::Linkedin));
    let err = LinkedinFactory.build(ctx).err().expect("refused");
    assert_eq!(
        err.message(),
        "[sources.linkedin_ads] set either `access_token` (or `access_token_file`) or `[oauth]`, not both"
    );
    let mut partial = opts;
    partial["oauth"]["refresh_token_file"] = serde_json::Value::Null;
    let ctx = SourceContext::new("linkedin_ads", partial);
    let err = LinkedinFactory.build(ctx).err().expect("refused");
    assert_eq!(
        err.message(),
        "[sources.linkedin_ads] oauth: `refresh_token` (or `refresh_token_file`) is required"
    );
}
