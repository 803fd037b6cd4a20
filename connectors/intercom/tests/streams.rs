//! Intercom streams against the sandbox's Intercom emulator, below the runner: the search
//! pages to the end and reads only what changed since the cursor, statistics typed for the
//! models, lists of contacts, companies, admins and teams, and the 10-second window limit
//! respected from the rate-limit headers (no 429, counted at the emulator).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use revline_core::http::HttpStats;
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, Page, ReadRequest, SourceContext, Stream, SyncMode};
use revline_intercom::IntercomFactory;
use revline_sandbox::intercom::ids::{conversation_id, conversation_index};
use revline_sandbox::{
    IntercomConfig, RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig,
};

fn sandbox(people: usize, intercom: IntercomConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        intercom,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn streams(
    sb: &Sandbox,
    extra: serde_json::Value,
    stats: Arc<HttpStats>,
) -> HashMap<String, Arc<dyn Stream>> {
    let mut options = serde_json::json!({"access_token": sb.intercom_token()});
    for (k, v) in extra.as_object().into_iter().flatten() {
        options[k] = v.clone();
    }
    let mut ctx = SourceContext::new("intercom", options);
    ctx.base_url = Some(sb.base_url(Vendor::Intercom));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    ctx.stats = stats;
    IntercomFactory
        .build(ctx)
        .expect("connector builds")
        .streams()
        .into_iter()
        .map(|s| (s.descriptor().name.clone(), s))
        .collect()
}

async fn pages(s: &dyn Stream, mode: SyncMode, state: Option<serde_json::Value>) -> Vec<Page> {
    let schema = Arc::new(s.resolve_schema().await.expect("schema"));
    collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema,
        },
    )
    .await
    .expect("read succeeds")
}

fn batches(p: &[Page]) -> Vec<RecordBatch> {
    p.iter().map(|p| p.batch.clone()).collect()
}

fn col<T: Array + Clone + 'static>(b: &[RecordBatch], name: &str) -> Vec<T> {
    b.iter()
        .map(|b| {
            b.column_by_name(name)
                .unwrap_or_else(|| panic!("column {name}"))
                .as_any()
                .downcast_ref::<T>()
                .unwrap()
                .clone()
        })
        .collect()
}

fn texts(b: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    col::<StringArray>(b, name)
        .iter()
        .flat_map(|a| {
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ints(b: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
    col::<Int64Array>(b, name)
        .iter()
        .flat_map(|a| {
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn times(b: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
    col::<TimestampMicrosecondArray>(b, name)
        .iter()
        .flat_map(|a| {
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The search pages by `starting_after` to the end; statistics are typed and match the
/// world; an incremental run reads exactly the conversations changed since the cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_to_the_end_then_reads_only_changes() {
    let sb = sandbox(250, IntercomConfig::default());
    let s = streams(&sb, serde_json::json!({"page_size": 40}), Arc::default());
    let conv = s["conversations"].as_ref();
    let first = pages(conv, SyncMode::Incremental, None).await;
    let live = sb.world().read().support().live_tickets().count();
    assert_eq!(first.len(), live.div_ceil(40));
    let b = batches(&first);
    let ids = texts(&b, "id");
    assert_eq!(ids.len(), live);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), live);
    assert_eq!(
        sb.stats().records("intercom.conversations.search"),
        live as u64
    );
    {
        let w = sb.world();
        let w = w.read();
        let reply = ints(&b, "statistics__time_to_admin_reply");
        let first_reply = times(&b, "statistics__first_admin_reply_at");
        let rating = ints(&b, "conversation_rating__rating");
        for (k, id) in ids.iter().enumerate() {
            let t = &w.support().tickets()
                [conversation_index(id.as_deref().unwrap()).unwrap() as usize];
            assert_eq!(
                reply[k],
                t.first_response_ms
                    .map(|r| (r - t.created_ms).div_euclid(1000))
            );
            assert_eq!(
                first_reply[k],
                t.first_response_ms.map(|r| r.div_euclid(1000) * 1_000_000)
            );
            assert_eq!(rating[k], t.csat.as_ref().map(|c| i64::from(c.score)));
        }
    }
    let state = first.last().unwrap().checkpoint.clone();
    assert!(state.get("resume").is_none());
    let cursor = chrono::DateTime::parse_from_rfc3339(state["cursor"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let changed = {
        let w = sb.world();
        let mut w = w.write();
        let mut c = w.touch_tickets(5);
        c.extend(w.add_tickets(2));
        c
    };
    sb.reset_stats();
    let inc = pages(conv, SyncMode::Incremental, Some(state)).await;
    let got: BTreeSet<String> = texts(&batches(&inc), "id").into_iter().flatten().collect();
    let w = sb.world();
    let w = w.read();
    let expected: BTreeSet<String> = w
        .support()
        .live_tickets()
        .filter(|t| t.updated_ms.div_euclid(1000) >= cursor)
        .map(|t| conversation_id(t.index))
        .collect();
    assert_eq!(got, expected);
    for i in changed {
        assert!(got.contains(&conversation_id(i)));
    }
    assert!(expected.len() < live / 4);
}

/// Contacts (cursor paging), companies (page URLs), admins and teams render the world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_render_the_world() {
    let sb = sandbox(400, IntercomConfig::default());
    let s = streams(&sb, serde_json::json!({}), Arc::default());
    let contacts = pages(s["contacts"].as_ref(), SyncMode::FullRefresh, None).await;
    let companies = pages(s["companies"].as_ref(), SyncMode::FullRefresh, None).await;
    let admins = pages(s["admins"].as_ref(), SyncMode::FullRefresh, None).await;
    let teams = pages(s["teams"].as_ref(), SyncMode::FullRefresh, None).await;
    let w = sb.world();
    let w = w.read();
    let users = w.support().user_count();
    assert!(contacts.len() >= 2, "several contact pages");
    assert_eq!(texts(&batches(&contacts), "id").len(), users);
    let emails: BTreeSet<String> = texts(&batches(&contacts), "email")
        .into_iter()
        .flatten()
        .collect();
    let want: BTreeSet<String> = w
        .support()
        .users()
        .filter_map(|u| w.person(u.person).map(|p| p.email))
        .collect();
    assert_eq!(emails, want);
    assert_eq!(texts(&batches(&companies), "id").len(), w.companies().len());
    let sites = texts(&batches(&companies), "website");
    assert_eq!(
        sites[0].as_deref(),
        Some(format!("https://{}", w.companies()[0].domain).as_str())
    );
    assert_eq!(
        texts(&batches(&admins), "id").len(),
        w.support().agents().len()
    );
    assert_eq!(
        texts(&batches(&teams), "id").len(),
        w.support().groups().len()
    );
}

/// Against an emulator enforcing 15 requests per 10-second window, a search needing 19
/// requests never gets a 429: the client reads `X-RateLimit-Remaining` and waits for
/// `X-RateLimit-Reset` before the window runs out (counted at the emulator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slows_down_before_the_window_limit() {
    let sb = sandbox(
        250,
        IntercomConfig {
            rate_limit: Some(RateLimitEmulation {
                max: 15,
                interval_ms: 10_000,
            }),
            ..IntercomConfig::default()
        },
    );
    let stats = Arc::new(HttpStats::default());
    // The local budget alone would allow far more: only the headers hold it back.
    let s = streams(&sb, serde_json::json!({"page_size": 10}), stats.clone());
    let live = sb.world().read().support().live_tickets().count();
    assert!(
        live.div_ceil(10) > 15,
        "more requests than one window allows"
    );
    let started = Instant::now();
    let got = pages(s["conversations"].as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(texts(&batches(&got), "id").len(), live);
    let st = sb.stats();
    assert_eq!(
        st.route("intercom.rate_limited"),
        0,
        "no 429 from the window limit"
    );
    assert_eq!(
        st.route("intercom.conversations.search"),
        live.div_ceil(10) as u64
    );
    assert_eq!(stats.snapshot().throttled, 0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited for a window reset"
    );
}
