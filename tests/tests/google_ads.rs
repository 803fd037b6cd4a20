//! Google Ads end to end (runner and lake) against the emulator: restated days replace their
//! rows once, unchanged rows are not rewritten, and a spent daily quota stops the run
//! gracefully with what it read committed.

use revline::runner::{RunOptions, StreamStatus};
use revline_sandbox::{FaultPlan, GoogleAdsConfig, SandboxConfig};
use revline_tests::{ConnectorCase, GoogleAdsCase, Harness};

const CPD: &str = "google_ads.campaign_performance_daily";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restated_day_replaces_its_row_once() {
    let case = GoogleAdsCase;
    let h = Harness::start(&case, case.world(), FaultPlan::none());
    let first = h
        .run(RunOptions {
            stream: Some("campaign_performance_daily".into()),
            ..RunOptions::default()
        })
        .await;
    assert!(
        first.succeeded(),
        "{:?}",
        first.streams().map(|s| &s.error).collect::<Vec<_>>()
    );
    let rows_before = h.scalar(&format!("SELECT COUNT(*) FROM {CPD}")).await;

    // Conversions arrive late for a day inside the look-back window.
    let restated = h
        .sandbox
        .world()
        .write()
        .restate_ad_conversions("google", 5, 1);
    let r = &restated[0];
    let campaign_id = h.sandbox.world().read().campaigns()[r.key.campaign as usize].id;
    let key = format!("date = DATE '{}' AND campaign_id = {campaign_id}", r.day);
    let before = h
        .lines(&format!(
            "SELECT conversions, _extracted_at FROM {CPD} WHERE {key}"
        ))
        .await;
    assert_eq!(before.len(), 1);
    let untouched_before = h
        .lines(&format!(
            "SELECT date, campaign_id, _extracted_at FROM {CPD} WHERE NOT ({key}) ORDER BY 1, 2"
        ))
        .await;

    let second = h
        .run(RunOptions {
            stream: Some("campaign_performance_daily".into()),
            ..RunOptions::default()
        })
        .await;
    assert!(second.succeeded());
    let after = h
        .lines(&format!("SELECT conversions FROM {CPD} WHERE {key}"))
        .await;
    assert_eq!(after.len(), 1, "the restated day is one row, not two");
    let old: f64 = before[0].split('|').next().unwrap().parse().unwrap();
    let new: f64 = after[0].parse().unwrap();
    assert_eq!(
        new,
        old + f64::from(r.added),
        "the new value replaced the old one"
    );
    assert_eq!(
        h.scalar(&format!("SELECT COUNT(*) FROM {CPD}")).await,
        rows_before,
        "restatement adds no rows"
    );
    // Re-read days whose numbers did not change keep their stored rows.
    let untouched_after = h
        .lines(&format!(
            "SELECT date, campaign_id, _extracted_at FROM {CPD} WHERE NOT ({key}) ORDER BY 1, 2"
        ))
        .await;
    assert_eq!(untouched_after, untouched_before);
    // Only the look-back window was read the second time: 14 days, one request per account.
    let r2 = second.streams().next().unwrap();
    assert_eq!(r2.mode, "incremental");
    assert_eq!(r2.records, 28, "14 days × 2 campaigns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_quota_commits_what_was_read_and_stops_gracefully() {
    struct QuotaCase;
    impl ConnectorCase for QuotaCase {
        fn connector(&self) -> &'static str {
            "google_ads"
        }
        fn world(&self) -> revline_sandbox::WorldConfig {
            GoogleAdsCase.world()
        }
        fn empty_world(&self) -> revline_sandbox::WorldConfig {
            GoogleAdsCase.empty_world()
        }
        fn sandbox_config(
            &self,
            world: revline_sandbox::WorldConfig,
            faults: FaultPlan,
        ) -> SandboxConfig {
            SandboxConfig {
                world,
                faults,
                google_ads: GoogleAdsConfig {
                    // The client listing plus five windows.
                    daily_operations: Some(6),
                    ..GoogleAdsConfig::default()
                },
                ..SandboxConfig::default()
            }
        }
        fn credentials(&self, sandbox: &revline_sandbox::Sandbox, valid: bool) -> String {
            format!(
                "{}concurrency = 1\n",
                GoogleAdsCase.credentials(sandbox, valid)
            )
        }
        fn expected_rows(&self, world: &revline_sandbox::World) -> Vec<(&'static str, u64)> {
            GoogleAdsCase.expected_rows(world)
        }
        fn paged_stream(&self) -> revline_tests::PagedStream {
            GoogleAdsCase.paged_stream()
        }
        fn served_records(&self, stats: &revline_sandbox::StatsSnapshot) -> u64 {
            GoogleAdsCase.served_records(stats)
        }
        fn mutate(&self, world: &mut revline_sandbox::World) -> Vec<String> {
            GoogleAdsCase.mutate(world)
        }
        fn expected_incremental(
            &self,
            world: &revline_sandbox::World,
            cursor: &serde_json::Value,
        ) -> u64 {
            GoogleAdsCase.expected_incremental(world, cursor)
        }
        fn verify_changed(
            &self,
            world: &revline_sandbox::World,
            ids: &[String],
        ) -> (String, Vec<String>) {
            GoogleAdsCase.verify_changed(world, ids)
        }
    }
    let case = QuotaCase;
    let h = Harness::start(&case, case.world(), FaultPlan::none())
        .with_run_settings("commit_interval_secs = 0");
    let report = h
        .run(RunOptions {
            stream: Some("campaign_performance_daily".into()),
            ..RunOptions::default()
        })
        .await;
    let s = report.streams().next().unwrap();
    assert_eq!(s.status, StreamStatus::Partial, "{:?}", s.error);
    assert!(report.partial(), "the run exits 3: resume later");
    let msg = s.error.as_deref().unwrap_or_default();
    assert!(msg.contains("quota spent, resume later"), "{msg}");
    assert!(msg.contains("RESOURCE_EXHAUSTED"), "{msg}");
    let committed = h.scalar(&format!("SELECT COUNT(*) FROM {CPD}")).await;
    assert_eq!(committed as u64, s.records);
    assert!(committed > 0, "what was read is committed");
    let state = h
        .lake()
        .read_state("google_ads", "campaign_performance_daily")
        .await
        .unwrap()
        .unwrap()
        .state;
    let done = state["partitions"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| *v == "done")
        .count();
    assert_eq!(
        done, 5,
        "five windows read before the quota ran out: {state}"
    );
    assert!(state["resume"].is_object(), "the next run resumes: {state}");
}
