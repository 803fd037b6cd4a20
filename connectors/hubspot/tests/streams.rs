//! HubSpot streams against the sandbox's HubSpot emulator, below the runner: the 10,000-result
//! search restart, the same-timestamp tie-break, property splitting, metadata fallback.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use revline_core::rest::collect_pages;
use revline_core::schema::timestamp_type;
use revline_core::{ConnectorFactory, ErrorKind, ReadRequest, SourceContext, Stream, SyncMode};
use revline_hubspot::HubspotFactory;
use revline_sandbox::{Fault, FaultPlan, FaultRule, Sandbox, SandboxConfig, Schedule, WorldConfig};

fn sandbox(people: usize, faults: FaultPlan) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        faults,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn stream(sb: &Sandbox, name: &str, extra: serde_json::Value) -> Arc<dyn Stream> {
    let mut options = serde_json::json!({
        "token": sb.hubspot_token(),
        "search_rate_limit": {"requests": 1000, "per_seconds": 1},
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        options[k] = v.clone();
    }
    let mut ctx = SourceContext::new("hubspot", options);
    ctx.base_url = Some(sb.hubspot_url());
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    let connector = HubspotFactory.build(ctx).expect("connector builds");
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
    let schema = Arc::new(s.resolve_schema().await.expect("schema"));
    let pages = collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema,
        },
    )
    .await
    .expect("read succeeds");
    let last = pages.last().expect("at least one page").checkpoint.clone();
    (pages.into_iter().map(|p| p.batch).collect(), last)
}

fn ids(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let col = b
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..col.len())
                .map(move |i| col.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn cursor_state(sb: &Sandbox) -> serde_json::Value {
    // 30 s after the world's clock, so the default look-back starts exactly at "now".
    let now = sb.world().read().now() + chrono::Duration::seconds(30);
    serde_json::json!({"cursor": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_restarts_from_the_last_timestamp_at_the_10000_cap() {
    let sb = sandbox(10_600, FaultPlan::none());
    let state = cursor_state(&sb);
    let touched: HashSet<String> = sb
        .world()
        .write()
        .touch_people(10_500)
        .into_iter()
        .map(|i| i.to_string())
        .collect();
    let s = stream(&sb, "contacts", serde_json::json!({}));
    let (batches, checkpoint) = read(s.as_ref(), SyncMode::Incremental, Some(state)).await;
    let got = ids(&batches);
    let unique: HashSet<String> = got.iter().cloned().collect();
    assert_eq!(unique, touched, "every changed contact, and only those");
    assert!(
        got.len() <= touched.len() + 5,
        "the restart re-reads at most the last instant: {}",
        got.len()
    );
    let stats = sb.stats();
    assert!(stats.route("hubspot.contacts.search") >= 53, "{stats:?}");
    assert_eq!(stats.route("hubspot.contacts.list"), 0);
    // The finished state's cursor is the newest modification time.
    let newest = sb
        .world()
        .read()
        .people()
        .map(|p| p.modified_ms)
        .max()
        .unwrap();
    let cursor = checkpoint["cursor"].as_str().unwrap();
    assert_eq!(
        revline_core::decode::coerce::parse_timestamp_micros(cursor).unwrap() / 1000,
        newest
    );
    assert!(checkpoint.get("resume").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_sharing_one_timestamp_is_paged_by_object_id() {
    let sb = sandbox(10_300, FaultPlan::none());
    let state = cursor_state(&sb);
    let touched: HashSet<String> = sb
        .world()
        .write()
        .touch_people_at_same_time(10_200)
        .into_iter()
        .map(|i| i.to_string())
        .collect();
    let s = stream(&sb, "contacts", serde_json::json!({}));
    let (batches, _) = read(s.as_ref(), SyncMode::Incremental, Some(state)).await;
    let got = ids(&batches);
    let unique: HashSet<String> = got.iter().cloned().collect();
    assert_eq!(unique.len(), touched.len());
    assert_eq!(unique, touched);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_property_lists_are_split_and_joined_on_id() {
    let sb = sandbox(250, FaultPlan::none());
    let whole = stream(&sb, "contacts", serde_json::json!({}));
    let (expected, _) = read(whole.as_ref(), SyncMode::FullRefresh, None).await;
    let pages_whole = sb.stats().route("hubspot.contacts.list");
    assert_eq!(pages_whole, 3);
    sb.reset_stats();

    let split = stream(&sb, "contacts", serde_json::json!({"max_url_length": 250}));
    let (got, _) = read(split.as_ref(), SyncMode::FullRefresh, None).await;
    let requests = sb.stats().route("hubspot.contacts.list");
    assert!(
        requests >= 6 && requests.is_multiple_of(3),
        "each of 3 pages needs several requests: {requests}"
    );
    let render = |b: &[RecordBatch]| {
        arrow::util::pretty::pretty_format_batches(b)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        render(&got),
        render(&expected),
        "split reads join to the same rows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_columns_come_from_property_metadata() {
    let sb = sandbox(10, FaultPlan::none());
    let s = stream(&sb, "contacts", serde_json::json!({}));
    let schema = s.resolve_schema().await.unwrap().arrow_schema();
    let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
    assert_eq!(ty("lastmodifieddate"), timestamp_type());
    assert_eq!(ty("hs_object_id"), DataType::Int64);
    assert_eq!(ty("associatedcompanyid"), DataType::Int64);
    assert_eq!(ty("hs_email_optout"), DataType::Boolean);
    assert_eq!(ty("trial_start_date"), DataType::Date32);
    assert_eq!(ty("email"), DataType::Utf8);
    assert_eq!(ty("updated_at"), timestamp_type());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_property_metadata_falls_back_to_core_properties_as_text() {
    let faults = FaultPlan::single(FaultRule::new(
        Fault::Status { code: 500 },
        Some("/crm/v3/properties"),
        Schedule::Always,
    ));
    let sb = sandbox(120, faults);
    let s = stream(&sb, "deals", serde_json::json!({}));
    let schema = s.resolve_schema().await.unwrap();
    let amount = schema.column("amount").unwrap();
    assert_eq!(amount.ty, revline_core::ColumnType::Utf8);
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 120);
    let b = &batches[0];
    let amounts = b
        .column_by_name("amount")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(amounts.iter().flatten().all(|a| a.parse::<f64>().is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_do_not_fall_back() {
    let faults = FaultPlan::single(FaultRule::new(
        Fault::Unauthorized,
        Some("/crm/v3/properties"),
        Schedule::Always,
    ));
    let sb = sandbox(10, faults);
    let s = stream(&sb, "contacts", serde_json::json!({}));
    let err = s.resolve_schema().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_properties_narrow_the_columns() {
    let sb = sandbox(10, FaultPlan::none());
    let s = stream(
        &sb,
        "contacts",
        serde_json::json!({"properties": {"contacts": ["email", "lifecyclestage"]}}),
    );
    let schema = s.resolve_schema().await.unwrap();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "id",
            "created_at",
            "updated_at",
            "archived",
            "email",
            "hs_object_id",
            "lastmodifieddate",
            "lifecyclestage"
        ]
    );
    let s = stream(
        &sb,
        "contacts",
        serde_json::json!({"properties": {"contacts": ["emial"]}}),
    );
    let err = s.resolve_schema().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .contains("property `emial` listed for `contacts` does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_are_one_row_per_stage() {
    let sb = sandbox(10, FaultPlan::none());
    let s = stream(&sb, "deal_pipelines", serde_json::json!({}));
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    let b = &batches[0];
    assert_eq!(b.num_rows(), 7);
    let text = arrow::util::pretty::pretty_format_batches(&[b.project(&[0, 3, 6, 7]).unwrap()])
        .unwrap()
        .to_string();
    assert!(
        text.contains("| default     | closedwon             | 1.0         | true      |"),
        "{text}"
    );
    assert!(
        text.contains("| default     | appointmentscheduled  | 0.2         | false     |"),
        "{text}"
    );
}

#[test]
fn missing_or_double_credentials_are_config_errors() {
    let build =
        |opts: serde_json::Value| match HubspotFactory.build(SourceContext::new("crm", opts)) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
    assert!(build(serde_json::json!({})).contains("[sources.crm] missing credentials"));
    assert!(build(serde_json::json!({"token": "a", "token_file": "/x"})).contains("not both"));
    assert!(build(serde_json::json!({"tokn": "a"})).contains("unknown field `tokn`"));
    assert!(
        build(serde_json::json!({"token_file": "/nonexistent/token"}))
            .contains("cannot read secret file /nonexistent/token")
    );
    let ok = build(
        serde_json::json!({"oauth": {"client_id": "c", "client_secret": "s", "refresh_token": "r"}}),
    );
    assert_eq!(ok, "");
}
