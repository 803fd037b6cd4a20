//! Pipedrive streams against the sandbox's Pipedrive emulator, below the runner: v2 cursor
//! paging, typed columns, incremental reads with `updated_since`, v1 `start`/`limit` paging,
//! API-token and OAuth auth, the 2-second burst limit (never exceeded when configured; 429s
//! waited out on `x-ratelimit-reset` when not) and resume from a checkpoint.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use futures::StreamExt;
use revline_core::http::RateLimit;
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, ErrorKind, ReadRequest, SourceContext, Stream, SyncMode};
use revline_pipedrive::PipedriveFactory;
use revline_sandbox::pipedrive::{deal_id, person_id};
use revline_sandbox::{PipedriveConfig, Sandbox, SandboxConfig, Vendor, WorldConfig};

fn sandbox(pd: PipedriveConfig, people: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        pipedrive: pd,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn stream_with(
    sb: &Sandbox,
    name: &str,
    options: serde_json::Value,
    rate: Option<RateLimit>,
) -> Arc<dyn Stream> {
    let mut ctx = SourceContext::new("pipedrive", options);
    ctx.base_url = Some(sb.base_url(Vendor::Pipedrive));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    ctx.rate_limit = rate;
    let connector = PipedriveFactory.build(ctx).expect("connector builds");
    connector
        .streams()
        .into_iter()
        .find(|s| s.descriptor().name == name)
        .expect("stream exists")
}

fn stream(sb: &Sandbox, name: &str, page_size: u32) -> Arc<dyn Stream> {
    stream_with(
        sb,
        name,
        serde_json::json!({"api_token": sb.pipedrive_token(), "page_size": page_size}),
        Some(RateLimit::new(1000, 1.0)),
    )
}

async fn try_read(
    s: &dyn Stream,
    mode: SyncMode,
    state: Option<serde_json::Value>,
) -> revline_core::Result<(Vec<RecordBatch>, serde_json::Value)> {
    let schema = Arc::new(s.resolve_schema().await?);
    let pages = collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema,
        },
    )
    .await?;
    let last = pages.last().expect("a page").checkpoint.clone();
    Ok((pages.into_iter().map(|p| p.batch).collect(), last))
}

async fn read(
    s: &dyn Stream,
    mode: SyncMode,
    state: Option<serde_json::Value>,
) -> (Vec<RecordBatch>, serde_json::Value) {
    try_read(s, mode, state).await.expect("read succeeds")
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("type of {name}"))
}

fn ints(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let c = col::<Int64Array>(b, name);
            (0..c.len()).map(|i| c.value(i)).collect::<Vec<_>>()
        })
        .collect()
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = col::<StringArray>(b, name);
            (0..c.len())
                .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_page_through_v2_cursors() {
    let sb = sandbox(PipedriveConfig::default(), 1_200);
    let s = stream(&sb, "persons", 500);
    let (batches, state) = read(s.as_ref(), SyncMode::Incremental, None).await;
    assert_eq!(rows(&batches), 1_200);
    let ids = ints(&batches, "id");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1_200);
    // Three pages of 500 (the last one short), each counted at the emulator.
    let stats = sb.stats();
    assert_eq!(stats.route("pipedrive.persons.list"), 3);
    assert_eq!(stats.records("pipedrive.persons.list"), 1_200);
    // Values are the world's: the primary email, names, organization.
    let emails = strings(&batches, "primary_email");
    let w = sb.world();
    let w = w.read();
    for (i, id) in ids.iter().enumerate().step_by(97) {
        let p = w.person(*id as u64 - 1).unwrap();
        assert_eq!(emails[i].as_deref(), Some(p.email.as_str()));
        assert_eq!(*id as u64, person_id(p.index));
    }
    // Sorted by update_time: the committed cursor is the newest change in the world.
    let newest = w.people().map(|p| p.modified_ms).max().unwrap();
    let cursor = state["cursor"].as_str().expect("a cursor");
    let cursor_ms = revline_core::decode::coerce::parse_timestamp_micros(cursor).unwrap() / 1000;
    assert_eq!(cursor_ms, newest.div_euclid(1000) * 1000, "{state}");
    assert!(state.get("resume").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_are_typed() {
    let sb = sandbox(PipedriveConfig::default(), 400);
    let s = stream(&sb, "deals", 50);
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    let w = sb.world();
    let w = w.read();
    assert_eq!(rows(&batches), w.deals().len());
    assert_eq!(
        sb.stats().route("pipedrive.deals.list"),
        3,
        "120 deals, pages of 50"
    );
    let mut seen = 0;
    for b in &batches {
        let id = col::<Int64Array>(b, "id");
        let value = col::<Decimal128Array>(b, "value");
        let status = col::<StringArray>(b, "status");
        let stage = col::<Int64Array>(b, "stage_id");
        let close = col::<Date32Array>(b, "expected_close_date");
        let add = col::<TimestampMicrosecondArray>(b, "add_time");
        let won = col::<TimestampMicrosecondArray>(b, "won_time");
        let deleted = col::<BooleanArray>(b, "_deleted");
        let custom = col::<StringArray>(b, "custom_fields");
        for i in 0..b.num_rows() {
            let d = &w.deals()[(id.value(i) - 1) as usize];
            assert_eq!(id.value(i) as u64, deal_id(d.index));
            assert_eq!(
                value.value(i),
                d.amount_cents as i128,
                "value in cents at scale 2"
            );
            assert_eq!(
                status.value(i),
                revline_sandbox::pipedrive::deal_status(d.stage)
            );
            assert_eq!(
                stage.value(i) as u64,
                revline_sandbox::pipedrive::stage_id(d.stage)
            );
            assert_eq!(
                i64::from(close.value(i)) * 86_400_000,
                d.close_ms.div_euclid(86_400_000) * 86_400_000
            );
            assert_eq!(add.value(i), d.created_ms.div_euclid(1000) * 1_000_000);
            assert_eq!(
                won.is_valid(i),
                d.stage == revline_sandbox::DealStage::ClosedWon
            );
            assert!(!deleted.value(i));
            assert!(serde_json::from_str::<serde_json::Value>(custom.value(i)).is_ok());
            seen += 1;
        }
    }
    assert_eq!(seen, w.deals().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_reads_only_what_changed_since_the_cursor() {
    let sb = sandbox(PipedriveConfig::default(), 600);
    let s = stream(&sb, "persons", 200);
    let (_, state) = read(s.as_ref(), SyncMode::Incremental, None).await;
    let touched = sb.world().write().touch_people(7);
    let added = sb.world().write().add_people(2);
    sb.reset_stats();
    let (batches, next) = read(s.as_ref(), SyncMode::Incremental, Some(state.clone())).await;
    let got: HashSet<i64> = ints(&batches, "id").into_iter().collect();
    for id in touched.iter().chain(&added) {
        let pid = person_id(id - revline_sandbox::world::PERSON_ID_BASE) as i64;
        assert!(got.contains(&pid), "changed person {pid} is read");
    }
    // Only the changes (and anything sharing the cursor's second) are fetched.
    let cursor_secs =
        revline_core::decode::coerce::parse_timestamp_micros(state["cursor"].as_str().unwrap())
            .unwrap()
            .div_euclid(1_000_000);
    let expected = sb
        .world()
        .read()
        .people()
        .filter(|p| p.modified_ms.div_euclid(1000) >= cursor_secs)
        .count();
    assert_eq!(rows(&batches), expected);
    assert!(expected < 20);
    assert_eq!(sb.stats().route("pipedrive.persons.list"), 1);
    assert_ne!(next["cursor"], state["cursor"], "the cursor moves forward");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_stages_page_with_start_and_limit() {
    let sb = sandbox(PipedriveConfig::default(), 50);
    let s = stream(&sb, "stages", 2);
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(rows(&batches), 5);
    assert_eq!(
        sb.stats().route("pipedrive.stages.list"),
        3,
        "pages of 2, 2, 1"
    );
    assert_eq!(ints(&batches, "deal_probability"), vec![20, 40, 60, 80, 90]);
    assert_eq!(ints(&batches, "order_nr"), vec![1, 2, 3, 4, 5]);
    let p = stream(&sb, "pipelines", 500);
    let (batches, _) = read(p.as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(
        strings(&batches, "name"),
        vec![Some("Sales Pipeline".into())]
    );
    // `2024-01-01 00:00:00` (v1's space-separated UTC) is a timestamp.
    let add = col::<TimestampMicrosecondArray>(&batches[0], "add_time");
    assert_eq!(
        add.value(0),
        sb.world().read().config().start.timestamp_micros()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_and_activities_match_the_world() {
    let sb = sandbox(PipedriveConfig::default(), 100);
    let (orgs, _) = read(
        stream(&sb, "organizations", 500).as_ref(),
        SyncMode::FullRefresh,
        None,
    )
    .await;
    let w = sb.world();
    assert_eq!(rows(&orgs), w.read().companies().len());
    let names = strings(&orgs, "name");
    let ids = ints(&orgs, "id");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            names[i].as_deref(),
            Some(w.read().companies()[(*id - 1) as usize].name.as_str())
        );
    }
    let (acts, _) = read(
        stream(&sb, "activities", 100).as_ref(),
        SyncMode::FullRefresh,
        None,
    )
    .await;
    let world_acts = w.read().activities();
    assert_eq!(rows(&acts), world_acts.len());
    let done: usize = acts
        .iter()
        .map(|b| {
            let d = col::<BooleanArray>(b, "done");
            (0..d.len()).filter(|&i| d.value(i)).count()
        })
        .sum();
    assert_eq!(done, world_acts.iter().filter(|a| a.done).count());
    let types: HashSet<String> = strings(&acts, "type").into_iter().flatten().collect();
    assert!(types.is_subset(&HashSet::from(
        ["call", "meeting", "email", "task"].map(String::from)
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_bearer_is_accepted_and_a_wrong_token_fails() {
    let sb = sandbox(PipedriveConfig::default(), 30);
    let oauth = sb.config().pipedrive.oauth_token.clone();
    let s = stream_with(
        &sb,
        "pipelines",
        serde_json::json!({"access_token": oauth}),
        None,
    );
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(rows(&batches), 1);
    let bad = stream_with(
        &sb,
        "persons",
        serde_json::json!({"api_token": "not-the-token"}),
        None,
    );
    let err = try_read(bad.as_ref(), SyncMode::FullRefresh, None)
        .await
        .expect_err("a wrong token fails");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(
        !err.to_string().contains("not-the-token"),
        "the token never appears in errors"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_burst_limit_is_never_exceeded() {
    // The account allows 10 requests per 2 seconds; the source is configured for it.
    let sb = sandbox(
        PipedriveConfig {
            rate_limit: Some(10),
            ..PipedriveConfig::default()
        },
        600,
    );
    let s = stream_with(
        &sb,
        "persons",
        serde_json::json!({"api_token": sb.pipedrive_token(), "page_size": 25}),
        Some(RateLimit::new(10, 2.0)),
    );
    let started = Instant::now();
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(rows(&batches), 600);
    let stats = sb.stats();
    assert_eq!(stats.route("pipedrive.persons.list"), 24);
    assert_eq!(stats.rate_limited, 0, "no request was refused");
    assert!(sb.max_requests_in_window(Vendor::Pipedrive, Duration::from_secs(2)) <= 10);
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_faster_than_the_plan_follows_the_headers_and_waits_out_429s() {
    // The source believes it may send 200 per 2 s; the account allows 8. The
    // `x-ratelimit-remaining` headers slow it down; any 429 is waited out on
    // `x-ratelimit-reset`. Every record arrives.
    let sb = sandbox(
        PipedriveConfig {
            rate_limit: Some(8),
            ..PipedriveConfig::default()
        },
        400,
    );
    let s = stream_with(
        &sb,
        "persons",
        serde_json::json!({"api_token": sb.pipedrive_token(), "page_size": 25}),
        Some(RateLimit::new(200, 2.0)),
    );
    let started = Instant::now();
    let (batches, _) = read(s.as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(rows(&batches), 400);
    assert_eq!(
        ints(&batches, "id")
            .into_iter()
            .collect::<HashSet<_>>()
            .len(),
        400
    );
    // 16 pages at 8 per 2 s: at least two full windows of waiting.
    assert_eq!(sb.stats().route("pipedrive.persons.list"), 16);
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_read_resumes_from_its_checkpoint() {
    let sb = sandbox(PipedriveConfig::default(), 700);
    let s = stream(&sb, "persons", 200);
    let schema = Arc::new(s.resolve_schema().await.unwrap());
    let mut pages = s.read(ReadRequest {
        mode: SyncMode::Incremental,
        state: None,
        start_date: None,
        schema,
    });
    let first = pages.next().await.unwrap().unwrap();
    drop(pages);
    let checkpoint = first.checkpoint.clone();
    assert!(checkpoint.get("resume").is_some(), "{checkpoint}");
    assert!(
        !checkpoint.to_string().contains(sb.pipedrive_token()),
        "no credential in the state"
    );
    // The dropped read's page producer may still have a request in flight: let it settle so
    // the emulator's counts below are the resumed read's alone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    sb.reset_stats();
    let (rest, _) = read(s.as_ref(), SyncMode::Incremental, Some(checkpoint)).await;
    assert_eq!(
        rows(&rest),
        500,
        "the resumed read starts after the first page"
    );
    assert_eq!(sb.stats().records("pipedrive.persons.list"), 500);
    let mut all = ints(std::slice::from_ref(&first.batch), "id");
    all.extend(ints(&rest, "id"));
    assert_eq!(all.len(), 700);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 700);
}
