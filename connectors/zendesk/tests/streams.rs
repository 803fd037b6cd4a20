//! Zendesk streams against the sandbox's Zendesk emulator, below the runner: the export
//! limit counted at the emulator, incremental exports from the stored cursor, deleted
//! tickets, and values (metrics, ratings, users, organizations) checked against the world.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, BooleanArray, Int64Array, ListArray, StringArray};
use arrow::record_batch::RecordBatch;
use revline_core::http::HttpStats;
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, ReadRequest, SourceContext, Stream, SyncMode};
use revline_sandbox::zendesk::ids::{org_id, ticket_id, ticket_index, user_id};
use revline_sandbox::{
    RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig, ZendeskConfig,
};
use revline_zendesk::{AFTER_CURSOR, ZendeskFactory};

const EXPORTS: &[&str] = &["zendesk.tickets.export", "zendesk.users.export"];

fn sandbox(people: usize, zendesk: ZendeskConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        zendesk,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn streams_with(
    sb: &Sandbox,
    extra: serde_json::Value,
    stats: Arc<HttpStats>,
) -> HashMap<String, Arc<dyn Stream>> {
    let (email, token) = sb.zendesk_credentials();
    let mut options = serde_json::json!({
        "email": email,
        "api_token": token,
        "export_rate_limit": {"requests": 1000, "per_seconds": 1},
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        options[k] = v.clone();
    }
    let mut ctx = SourceContext::new("zendesk", options);
    ctx.base_url = Some(sb.base_url(Vendor::Zendesk));
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    ctx.stats = stats;
    ZendeskFactory
        .build(ctx)
        .expect("connector builds")
        .streams()
        .into_iter()
        .map(|s| (s.descriptor().name.clone(), s))
        .collect()
}

fn streams(sb: &Sandbox, extra: serde_json::Value) -> HashMap<String, Arc<dyn Stream>> {
    streams_with(sb, extra, Arc::new(HttpStats::default()))
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

fn ints(batches: &[RecordBatch], col: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("column {col}"))
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn texts(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("column {col}"))
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn flags(batches: &[RecordBatch], col: &str) -> Vec<Option<bool>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap()
                .as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ids(batches: &[RecordBatch]) -> Vec<u64> {
    ints(batches, "id")
        .into_iter()
        .map(|v| v.expect("id") as u64)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_budget_keeps_every_window_under_the_limit_for_both_exports() {
    // The emulator enforces 10 export requests per 3-second window (Zendesk: per minute);
    // the connector is told the same limit. Tickets and users share the export scope.
    let limit = RateLimitEmulation {
        max: 10,
        interval_ms: 3_000,
    };
    let sb = sandbox(
        250,
        ZendeskConfig {
            export_rate_limit: Some(limit),
            ..ZendeskConfig::default()
        },
    );
    let s = streams(
        &sb,
        serde_json::json!({
            "export_page_size": 5,
            "export_rate_limit": {"requests": 10, "per_seconds": 3},
        }),
    );
    let started = Instant::now();
    let (tickets, users) = tokio::join!(
        read(s["tickets"].as_ref(), SyncMode::Incremental, None),
        read(s["users"].as_ref(), SyncMode::Incremental, None)
    );
    let elapsed = started.elapsed();
    let w = sb.world();
    let w = w.read();
    assert_eq!(ids(&tickets.0).len(), w.support().tickets().len());
    assert_eq!(
        ids(&users.0).len(),
        w.support().user_count() + w.support().agents().len()
    );
    let stats = sb.stats();
    let requests = stats.route("zendesk.tickets.export") + stats.route("zendesk.users.export");
    assert!(requests >= 60, "{requests} export requests");
    assert_eq!(
        stats.rate_limited, 0,
        "the emulator never had to refuse one"
    );
    let max = sb.max_route_requests_in_window(EXPORTS, Duration::from_secs(3));
    assert!(
        (8..=10).contains(&max),
        "at most 10 export requests in any 3 s window, and close to it: {max}"
    );
    // Paced, not stalled: about 3/9 s per request after the burst.
    assert!(
        elapsed < Duration::from_secs_f64(requests as f64 * 0.5),
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_429_waits_for_retry_after_and_the_sync_completes() {
    // A client told the wrong (too high) budget hits the emulator's limit: Zendesk answers
    // 429 with Retry-After, the client waits that long and finishes without loss.
    let sb = sandbox(
        250,
        ZendeskConfig {
            export_rate_limit: Some(RateLimitEmulation {
                max: 10,
                interval_ms: 2_000,
            }),
            ..ZendeskConfig::default()
        },
    );
    let http = Arc::new(HttpStats::default());
    let s = streams_with(
        &sb,
        serde_json::json!({"export_page_size": 15}),
        http.clone(),
    );
    let started = Instant::now();
    let (tickets, _) = read(s["tickets"].as_ref(), SyncMode::Incremental, None).await;
    let n = sb.world().read().support().tickets().len();
    let got: BTreeSet<u64> = ids(&tickets).into_iter().collect();
    assert_eq!(got.len(), n, "every ticket once");
    let stats = sb.stats();
    assert!(stats.rate_limited >= 1, "the emulator throttled");
    assert_eq!(http.snapshot().throttled, stats.rate_limited);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured: {:?}",
        started.elapsed()
    );
    // Every page was asked for once more per refusal.
    assert_eq!(
        stats.route("zendesk.tickets.export"),
        n.div_ceil(15) as u64 + stats.rate_limited
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_export_continues_from_the_stored_after_cursor() {
    let sb = sandbox(250, ZendeskConfig::default());
    let s = streams(&sb, serde_json::json!({"export_page_size": 50}));
    let tickets = s["tickets"].as_ref();
    let (first, state) = read(tickets, SyncMode::Incremental, None).await;
    assert_eq!(
        ids(&first).len(),
        sb.world().read().support().tickets().len()
    );
    assert!(state.get("resume").is_none(), "{state}");
    let after = state[AFTER_CURSOR]
        .as_str()
        .expect("after_cursor kept")
        .to_string();
    assert!(state["cursor"].is_string());

    // Nothing changed: one request, nothing read, the same cursor.
    sb.reset_stats();
    let (none, same) = read(tickets, SyncMode::Incremental, Some(state.clone())).await;
    assert_eq!(ids(&none).len(), 0);
    assert_eq!(sb.stats().route("zendesk.tickets.export"), 1);
    assert_eq!(same[AFTER_CURSOR], after);

    let (touched, added, deleted) = {
        let w = sb.world();
        let mut w = w.write();
        (w.touch_tickets(6), w.add_tickets(2), w.delete_tickets(2))
    };
    sb.reset_stats();
    let (changed, next) = read(tickets, SyncMode::Incremental, Some(state)).await;
    let mut expected: Vec<u64> = touched
        .iter()
        .chain(&added)
        .chain(&deleted)
        .map(|i| ticket_id(*i))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut got = ids(&changed);
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected, "exactly the changed tickets");
    assert_eq!(
        sb.stats().records("zendesk.tickets.export"),
        expected.len() as u64
    );
    assert_ne!(next[AFTER_CURSOR], after);
    // Deleted tickets arrive with status `deleted` and are marked, not dropped.
    let status = texts(&changed, "status");
    let del = flags(&changed, "_deleted");
    for (k, id) in ids(&changed).iter().enumerate() {
        let is_deleted = deleted.iter().any(|i| ticket_id(*i) == *id);
        assert_eq!(del[k], Some(is_deleted), "ticket {id}");
        assert_eq!(status[k].as_deref() == Some("deleted"), is_deleted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_tickets_are_exported_marked_unless_excluded() {
    let sb = sandbox(400, ZendeskConfig::default());
    let w = sb.world();
    let deleted: BTreeSet<u64> = w
        .read()
        .support()
        .tickets()
        .iter()
        .filter(|t| t.deleted)
        .map(|t| ticket_id(t.index))
        .collect();
    assert!(!deleted.is_empty(), "the world has deleted tickets");
    let s = streams(&sb, serde_json::json!({}));
    let (all, _) = read(s["tickets"].as_ref(), SyncMode::FullRefresh, None).await;
    let marked: BTreeSet<u64> = ids(&all)
        .into_iter()
        .zip(flags(&all, "_deleted"))
        .filter(|(_, d)| *d == Some(true))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(marked, deleted);
    let s = streams(&sb, serde_json::json!({"exclude_deleted": true}));
    let (live, _) = read(s["tickets"].as_ref(), SyncMode::FullRefresh, None).await;
    assert_eq!(ids(&live).len(), ids(&all).len() - deleted.len());
    assert!(flags(&live, "_deleted").iter().all(|d| *d == Some(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_ratings_users_and_organizations_match_the_world() {
    let sb = sandbox(400, ZendeskConfig::default());
    let s = streams(&sb, serde_json::json!({"page_size": 100}));
    let (m, _) = read(s["ticket_metrics"].as_ref(), SyncMode::FullRefresh, None).await;
    let (u, _) = read(s["users"].as_ref(), SyncMode::Incremental, None).await;
    let (o, _) = read(s["organizations"].as_ref(), SyncMode::FullRefresh, None).await;
    let (g, _) = read(s["groups"].as_ref(), SyncMode::FullRefresh, None).await;
    let (r, _) = read(
        s["satisfaction_ratings"].as_ref(),
        SyncMode::Incremental,
        None,
    )
    .await;
    let w = sb.world();
    let w = w.read();
    let support = w.support();

    let ticket_ids = ints(&m, "ticket_id");
    let reply = ints(&m, "reply_time_in_minutes__calendar");
    let reply_business = ints(&m, "reply_time_in_minutes__business");
    let full = ints(&m, "full_resolution_time_in_minutes__calendar");
    let first = ints(&m, "first_resolution_time_in_minutes__calendar");
    let reopens = ints(&m, "reopens");
    assert_eq!(ticket_ids.len(), support.live_tickets().count());
    let mut answered = 0;
    for (k, id) in ticket_ids.iter().enumerate() {
        let t = &support.tickets()[ticket_index(id.unwrap() as u64).unwrap() as usize];
        assert!(!t.deleted);
        assert_eq!(reply[k], t.reply_minutes(), "ticket {id:?}");
        assert_eq!(full[k], t.full_resolution_minutes());
        assert_eq!(first[k], t.first_resolution_minutes());
        assert_eq!(reopens[k], Some(i64::from(t.reopens)));
        if let (Some(c), Some(b)) = (reply[k], reply_business[k]) {
            assert!(b <= c);
            answered += 1;
        }
    }
    assert!(answered > 200);

    let scores = texts(&r, "score");
    let rated: Vec<_> = support.rated_tickets().filter(|t| !t.deleted).collect();
    assert_eq!(scores.len(), rated.len());
    for (k, tid) in ints(&r, "ticket_id").iter().enumerate() {
        let t = &support.tickets()[ticket_index(tid.unwrap() as u64).unwrap() as usize];
        let good = t.csat.as_ref().unwrap().is_good();
        assert_eq!(
            scores[k].as_deref(),
            Some(if good { "good" } else { "bad" })
        );
    }
    assert!(scores.iter().any(|s| s.as_deref() == Some("bad")));

    let emails: HashMap<i64, Option<String>> = ints(&u, "id")
        .into_iter()
        .map(Option::unwrap)
        .zip(texts(&u, "email"))
        .collect();
    for t in support.tickets() {
        let p = w.person(t.requester).unwrap();
        assert_eq!(
            emails[&(user_id(t.requester) as i64)].as_deref(),
            Some(p.email.as_str())
        );
    }

    assert_eq!(ints(&o, "id").len(), w.companies().len());
    let mut k = 0;
    for b in &o {
        let d = b
            .column_by_name("domain_names")
            .unwrap()
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        let id = b
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        for row in 0..b.num_rows() {
            let c = &w.companies()[k];
            assert_eq!(id.value(row) as u64, org_id(c.index));
            let list = d.value(row);
            let list = list.as_any().downcast_ref::<StringArray>().unwrap();
            assert_eq!(list.value(0), c.domain);
            k += 1;
        }
    }
    assert_eq!(
        texts(&g, "name"),
        vec![
            Some("Support".to_string()),
            Some("Billing".to_string()),
            Some("Technical".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_bearer_token_and_start_date() {
    let sb = sandbox(250, ZendeskConfig::default());
    let mut ctx = SourceContext::new(
        "zendesk",
        serde_json::json!({
            "oauth_token": ZendeskConfig::default().oauth_token,
            "export_rate_limit": {"requests": 1000, "per_seconds": 1},
        }),
    );
    ctx.base_url = Some(sb.base_url(Vendor::Zendesk));
    let connector = ZendeskFactory.build(ctx).unwrap();
    connector
        .check()
        .await
        .expect("the bearer token is accepted");
    let tickets = connector
        .streams()
        .into_iter()
        .find(|s| s.descriptor().name == "tickets")
        .unwrap();
    // A first sync reads from start_date: only tickets changed since then.
    let w = sb.world();
    let support_times: Vec<i64> = w
        .read()
        .support()
        .tickets()
        .iter()
        .map(|t| t.updated_ms)
        .collect();
    let mut sorted = support_times.clone();
    sorted.sort_unstable();
    let cut_ms = sorted[sorted.len() / 2];
    let start = chrono::DateTime::from_timestamp_millis(cut_ms).unwrap();
    let schema = Arc::new(tickets.resolve_schema().await.unwrap());
    let pages = collect_pages(
        tickets.as_ref(),
        ReadRequest {
            mode: SyncMode::Incremental,
            state: None,
            start_date: Some(start),
            schema,
        },
    )
    .await
    .unwrap();
    let got: usize = pages.iter().map(|p| p.batch.num_rows()).sum();
    let cut = cut_ms.div_euclid(1000);
    let expected = support_times
        .iter()
        .filter(|t| t.div_euclid(1000) >= cut)
        .count();
    assert_eq!(got, expected);

    // A revoked token fails with Zendesk's message and no retry.
    let mut ctx = SourceContext::new("zendesk", serde_json::json!({"oauth_token": "revoked"}));
    ctx.base_url = Some(sb.base_url(Vendor::Zendesk));
    let err = ZendeskFactory
        .build(ctx)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Couldn't authenticate you"),
        "{err}"
    );
}
