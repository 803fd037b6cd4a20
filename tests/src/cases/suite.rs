//! The conformance cases, generic over [`ConnectorCase`]. Each builds its own sandbox and lake.

use std::collections::BTreeMap;
use std::sync::Arc;

use revline::registry;
use revline::runner::{RunOptions, RunReport, StreamStatus, build_connector};
use revline_core::http::HttpStats;
use revline_core::lake::arrow_schema_of;
use revline_core::schema::with_system_columns;
use revline_sandbox::{Fault, FaultPlan, FaultRule, Schedule};

use crate::{ConnectorCase, Harness};

fn assert_succeeded(report: &RunReport) {
    let failures: Vec<String> = report
        .streams()
        .filter(|s| s.status != StreamStatus::Succeeded)
        .map(|s| {
            format!(
                "{}.{}: {:?} {}",
                s.source,
                s.stream,
                s.status,
                s.error.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        failures.is_empty() && report.succeeded(),
        "streams failed: {failures:#?}"
    );
}

async fn assert_counts_match_world(case: &dyn ConnectorCase, h: &Harness) {
    let expected = case.expected_rows(&h.sandbox.world().read());
    for (stream, n) in expected {
        let got = h
            .scalar(&format!("SELECT COUNT(*) FROM {}.{stream}", case.source()))
            .await;
        assert_eq!(got as u64, n, "row count of {}.{stream}", case.source());
    }
}

async fn assert_keys_unique(case: &dyn ConnectorCase, h: &Harness) {
    let factory = registry::find(case.connector()).expect("registered connector");
    for d in factory.streams() {
        let key = d.primary_key.join(", ");
        let table = format!("{}.{}", case.source(), d.name);
        let dupes = h
            .scalar(&format!(
                "SELECT COUNT(*) FROM (SELECT {key}, COUNT(*) AS n FROM {table} GROUP BY {key} HAVING COUNT(*) > 1)"
            ))
            .await;
        assert_eq!(dupes, 0, "duplicate primary keys in {table}");
        let null_keys = h
            .scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE {}",
                d.primary_key
                    .iter()
                    .map(|k| format!("{k} IS NULL"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ))
            .await;
        assert_eq!(null_keys, 0, "null primary keys in {table}");
    }
}

fn stream_report<'a>(report: &'a RunReport, stream: &str) -> &'a revline::runner::StreamReport {
    report
        .streams()
        .find(|s| s.stream == stream)
        .expect("stream was run")
}

/// Pages to the end; every table's row count equals the world's; nothing is fetched twice.
pub async fn pages_to_the_end_and_counts_match_the_world(case: &dyn ConnectorCase) {
    let h = Harness::start(case, case.world(), FaultPlan::none());
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    assert_counts_match_world(case, &h).await;
    let paged = case.paged_stream();
    let r = stream_report(&report, paged.name);
    assert!(
        r.pages >= 2,
        "{} should take several pages, took {}",
        paged.name,
        r.pages
    );
    let world_rows = case
        .expected_rows(&h.sandbox.world().read())
        .into_iter()
        .find(|(s, _)| *s == paged.name)
        .expect("paged stream listed")
        .1;
    assert_eq!(r.records, world_rows);
    assert_eq!(
        case.served_records(&h.sandbox.stats()),
        world_rows,
        "each record fetched once"
    );
}

/// Primary keys are unique and never null in every table.
pub async fn primary_keys_are_unique(case: &dyn ConnectorCase) {
    let h = Harness::start(case, case.world(), FaultPlan::none());
    assert_succeeded(&h.run(RunOptions::default()).await);
    assert_keys_unique(case, &h).await;
}

/// Each table has exactly the stream's (resolved) declared columns, with their types, plus
/// `_source` and `_extracted_at`.
pub async fn schema_matches_the_declaration(case: &dyn ConnectorCase) {
    let h = Harness::start(case, case.world(), FaultPlan::none());
    assert_succeeded(&h.run(RunOptions::default()).await);
    let config = h.config();
    let src = &config.sources[case.source()];
    let connector =
        build_connector(&config, src, Arc::new(HttpStats::default())).expect("connector builds");
    let lake = h.lake();
    for stream in connector.streams() {
        let name = stream.descriptor().name.clone();
        let declared = with_system_columns(
            &stream
                .resolve_schema()
                .await
                .expect("schema resolves")
                .arrow_schema(),
        );
        let table = lake
            .load(&format!("{}/{name}", case.source()))
            .await
            .expect("loads")
            .unwrap_or_else(|| panic!("table {name} exists"));
        let actual = arrow_schema_of(&table).expect("schema");
        let want: Vec<(String, String)> = declared
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect();
        let got: Vec<(String, String)> = actual
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect();
        assert_eq!(got, want, "schema of {}.{name}", case.source());
        // Every value the source sent is typed: `_source` is the source name everywhere.
        let other = h
            .scalar(&format!(
                "SELECT COUNT(*) FROM {}.{name} WHERE _source <> '{}' OR _extracted_at IS NULL",
                case.source(),
                case.source()
            ))
            .await;
        assert_eq!(other, 0);
    }
}

/// After a full load, a second run fetches only what changed and merges it.
pub async fn resume_from_state_fetches_only_changes(case: &dyn ConnectorCase) {
    let h = Harness::start(case, case.world(), FaultPlan::none());
    assert_succeeded(&h.run(RunOptions::default()).await);
    let paged = case.paged_stream();
    let state = h
        .lake()
        .read_state(case.source(), paged.name)
        .await
        .expect("state readable")
        .expect("state committed");
    let cursor = state
        .state
        .get("cursor")
        .cloned()
        .expect("a cursor after a full sync");
    assert!(
        state.state.get("resume").is_none(),
        "a finished sync has no resume position"
    );

    let ids = case.mutate(&mut h.sandbox.world().write());
    h.sandbox.reset_stats();
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    assert_eq!(stream_report(&report, paged.name).mode, "incremental");
    let expected = case.expected_incremental(&h.sandbox.world().read(), &cursor);
    assert!(expected >= ids.len() as u64);
    assert_eq!(
        case.served_records(&h.sandbox.stats()),
        expected,
        "records fetched by the incremental run"
    );
    assert_counts_match_world(case, &h).await;
    assert_keys_unique(case, &h).await;
    let (sql, rows) = case.verify_changed(&h.sandbox.world().read(), &ids);
    assert_eq!(
        h.lines(&sql).await,
        rows,
        "changed rows carry the new values"
    );
    let new_state = h
        .lake()
        .read_state(case.source(), paged.name)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        new_state.state.get("cursor"),
        Some(&cursor),
        "the cursor moved forward"
    );
}

fn on_paged(case: &dyn ConnectorCase, fault: Fault, nth: u64) -> FaultRule {
    FaultRule::new(
        fault,
        Some(case.paged_stream().route),
        Schedule::Nth(vec![nth]),
    )
}

/// A 429 with `Retry-After: 1` is waited out and the load completes.
pub async fn throttling_with_retry_after_waits_and_succeeds(case: &dyn ConnectorCase) {
    let faults = FaultPlan {
        rules: vec![on_paged(
            case,
            Fault::TooManyRequests {
                retry_after: Some(1),
            },
            2,
        )],
    };
    let h = Harness::start(case, case.world(), faults);
    let started = std::time::Instant::now();
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "Retry-After was honoured"
    );
    assert_eq!(h.sandbox.stats().fault("too_many_requests"), 1);
    assert_eq!(report.sources[0].http.throttled, 1);
    assert_counts_match_world(case, &h).await;
}

/// A 429 without `Retry-After` backs off and the load completes.
pub async fn throttling_without_retry_after_backs_off_and_succeeds(case: &dyn ConnectorCase) {
    let faults = FaultPlan {
        rules: vec![on_paged(
            case,
            Fault::TooManyRequests { retry_after: None },
            2,
        )],
    };
    let h = Harness::start(case, case.world(), faults);
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    assert_eq!(report.sources[0].http.throttled, 1);
    assert!(report.sources[0].http.retries >= 1);
    assert_counts_match_world(case, &h).await;
}

/// 500, 502 and 503 responses, a connection reset and a cut-off body are all retried.
pub async fn server_errors_resets_and_cut_bodies_are_retried(case: &dyn ConnectorCase) {
    let faults = FaultPlan {
        rules: vec![
            on_paged(case, Fault::Status { code: 500 }, 2),
            on_paged(case, Fault::Status { code: 502 }, 3),
            on_paged(case, Fault::Status { code: 503 }, 4),
            on_paged(case, Fault::ConnectionReset, 5),
            on_paged(case, Fault::TruncatedBody, 6),
        ],
    };
    let h = Harness::start(case, case.world(), faults);
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    let stats = h.sandbox.stats();
    for f in [
        "status_500",
        "status_502",
        "status_503",
        "connection_reset",
        "truncated_body",
    ] {
        assert_eq!(stats.fault(f), 1, "fault {f} injected once");
    }
    assert!(
        report.sources[0].http.retries >= 5,
        "{:?}",
        report.sources[0].http
    );
    assert_counts_match_world(case, &h).await;
    assert_keys_unique(case, &h).await;
}

/// A rejected credential fails every stream at once (no retries) with a clear message, and
/// nothing is written to the lake.
pub async fn unauthorized_fails_fast_and_commits_nothing(case: &dyn ConnectorCase) {
    let h = Harness::start_with(case, case.world(), FaultPlan::none(), false);
    let report = h.run(RunOptions::default()).await;
    assert!(!report.succeeded());
    let streams = case.expected_rows(&h.sandbox.world().read()).len();
    assert_eq!(report.streams().count(), streams);
    let (phrase, requests_per_stream) = case.rejected_credentials();
    for s in report.streams() {
        assert_eq!(s.status, StreamStatus::Failed);
        assert_eq!(s.error_kind.as_deref(), Some("auth"), "{:?}", s.error);
        let msg = s.error.as_deref().unwrap_or_default();
        assert!(msg.contains(phrase), "{msg}");
        assert!(
            msg.contains(&format!("source `{}`", case.source()))
                || msg.contains(&format!("source: {}", case.source())),
            "the error names the source: {msg}"
        );
        assert_eq!(s.records, 0);
        assert_eq!(s.commits, 0);
    }
    let http = report.sources[0].http;
    assert_eq!(http.retries, 0, "a rejected credential is not retried");
    assert_eq!(
        http.requests,
        streams as u64 * requests_per_stream,
        "{requests_per_stream} request(s) per stream, then stop"
    );
    // Revline's own tables (`_revline.runs`, the run history) do not count.
    let tables: Vec<(String, String)> = h
        .lake()
        .list_tables()
        .await
        .unwrap()
        .into_iter()
        .filter(|(schema, _)| !schema.starts_with('_'))
        .collect();
    assert!(tables.is_empty(), "no table was created: {tables:?}");
}

/// A source with no records loads empty tables with the declared schema.
pub async fn empty_source_loads_empty_tables(case: &dyn ConnectorCase) {
    let h = Harness::start(case, case.empty_world(), FaultPlan::none());
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    let paged = case.paged_stream();
    assert_eq!(stream_report(&report, paged.name).records, 0);
    assert_counts_match_world(case, &h).await;
    let tables: Vec<String> = h
        .lake()
        .list_tables()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(tables.contains(&paged.name.to_string()), "{tables:?}");
}

/// A load that dies after committing some pages resumes from its checkpoint: the rerun
/// fetches only the rest, and the table ends complete with no duplicates.
pub async fn interrupted_sync_resumes_without_loss_or_duplicates(case: &dyn ConnectorCase) {
    // From its third request on (or the case's own number), the paged stream gets 401s (a refreshed OAuth2 token does
    // not help either), so it fails for good; every page commits.
    let faults = FaultPlan {
        rules: vec![FaultRule::new(
            Fault::Unauthorized,
            Some(case.paged_stream().route),
            Schedule::From(case.interrupt_from_request()),
        )],
    };
    let h =
        Harness::start(case, case.world(), faults).with_run_settings("commit_interval_secs = 0");
    let paged = case.paged_stream();
    let report = h.run(RunOptions::default()).await;
    let r = stream_report(&report, paged.name);
    assert_eq!(r.status, StreamStatus::Failed);
    let committed = h
        .scalar(&format!(
            "SELECT COUNT(*) FROM {}.{}",
            case.source(),
            paged.name
        ))
        .await as u64;
    assert!(committed > 0, "pages before the failure are committed");
    let state = h
        .lake()
        .read_state(case.source(), paged.name)
        .await
        .unwrap()
        .unwrap();
    assert!(
        state.state.get("resume").is_some(),
        "state records where to resume: {}",
        state.state
    );

    h.sandbox.set_faults(FaultPlan::none());
    h.sandbox.reset_stats();
    let report = h.run(RunOptions::default()).await;
    assert_succeeded(&report);
    let total = case
        .expected_rows(&h.sandbox.world().read())
        .into_iter()
        .find(|(s, _)| *s == paged.name)
        .unwrap()
        .1;
    assert_eq!(
        case.served_records(&h.sandbox.stats()),
        total - committed,
        "only the rest is fetched"
    );
    assert_counts_match_world(case, &h).await;
    assert_keys_unique(case, &h).await;
}

/// `--full-refresh` re-reads everything and replaces the tables.
pub async fn full_refresh_replaces_the_tables(case: &dyn ConnectorCase) {
    let h = Harness::start(case, case.world(), FaultPlan::none());
    assert_succeeded(&h.run(RunOptions::default()).await);
    let ids = case.mutate(&mut h.sandbox.world().write());
    h.sandbox.reset_stats();
    let report = h
        .run(RunOptions {
            full_refresh: true,
            ..RunOptions::default()
        })
        .await;
    assert_succeeded(&report);
    let paged = case.paged_stream();
    assert_eq!(stream_report(&report, paged.name).mode, "full_refresh");
    let world = h.sandbox.world();
    let rows: BTreeMap<&str, u64> = case.expected_rows(&world.read()).into_iter().collect();
    assert_eq!(
        case.served_records(&h.sandbox.stats()),
        case.full_read_served(&world.read(), rows[paged.name])
    );
    assert_counts_match_world(case, &h).await;
    assert_keys_unique(case, &h).await;
    let (sql, expected) = case.verify_changed(&world.read(), &ids);
    assert_eq!(h.lines(&sql).await, expected);
}
