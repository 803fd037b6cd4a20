//! Salesforce end to end (runner, lake, emulator): the daily API allocation. A run stops
//! gracefully at the reserve (or at a 403 REQUEST_LIMIT_EXCEEDED): what it read is committed
//! with its state, the run is partial (exit status 3), the emulator never sees more requests
//! than the budget allows, and the next run continues where it stopped.

use std::sync::Arc;
use std::time::Duration;

use revline::config::Config;
use revline::progress::Silent;
use revline::runner::{RunOptions, RunReport, StreamStatus, run};
use revline_core::lake::Lake;
use revline_sandbox::{SalesforceConfig, Sandbox, SandboxConfig, Vendor, WorldConfig};

struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(sf: SalesforceConfig, http: &str) -> Setup {
        let sandbox = Sandbox::start(SandboxConfig {
            world: WorldConfig {
                people: 3_000,
                ..WorldConfig::default()
            },
            salesforce: sf,
            ..SandboxConfig::default()
        })
        .expect("sandbox starts");
        let cfg = sandbox.salesforce_config().clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("revline.toml"),
            format!(
                "[lake]\npath = \"lake\"\n\n[run]\ncommit_interval_secs = 0\n\n\
                 [sources.salesforce]\nconnector = \"salesforce\"\nbase_url = \"{}\"\n\
                 client_id = \"{}\"\nclient_secret = \"{}\"\nrefresh_token = \"{}\"\nbatch_size = 200\n\
                 [sources.salesforce.http]\nbackoff_initial_ms = 5\nbackoff_max_ms = 20\n{http}\n",
                sandbox.salesforce_url(),
                cfg.client_id,
                cfg.client_secret,
                cfg.refresh_token
            ),
        )
        .unwrap();
        Setup { sandbox, dir }
    }

    async fn run(&self) -> RunReport {
        let config = Config::load(&self.dir.path().join("revline.toml")).unwrap();
        run(&config, &RunOptions::default(), Arc::new(Silent))
            .await
            .unwrap()
    }

    async fn count(&self, table: &str) -> i64 {
        let config = Config::load(&self.dir.path().join("revline.toml")).unwrap();
        let lake = Lake::open(self.dir.path().join("lake").to_str().unwrap()).unwrap();
        let b = revline::query::query(
            &config,
            &lake,
            &format!("SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}"),
        )
        .await
        .unwrap();
        let n = arrow::compute::cast(b[0].column(0), &arrow::datatypes::DataType::Int64).unwrap();
        let d = arrow::compute::cast(b[0].column(1), &arrow::datatypes::DataType::Int64).unwrap();
        let n = n
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        let d = d
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(n, d, "no duplicate ids in {table}");
        n
    }
}

fn assert_partial(report: &RunReport) {
    assert!(report.partial(), "a graceful stop, not a failure");
    assert!(!report.succeeded());
    let stopped: Vec<_> = report
        .streams()
        .filter(|s| s.status == StreamStatus::Partial)
        .collect();
    assert!(!stopped.is_empty());
    for s in &stopped {
        assert_eq!(
            s.error_kind.as_deref(),
            Some("quota_exhausted"),
            "{:?}",
            s.error
        );
    }
    assert!(report.streams().all(|s| s.status != StreamStatus::Failed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_stops_at_the_reserve_commits_and_the_next_run_continues() {
    // 40 requests left today out of 100; the default reserve is 10% (10 requests).
    let s = Setup::new(
        SalesforceConfig {
            daily_limit: 100,
            daily_used: 60,
            ..SalesforceConfig::default()
        },
        "",
    );
    let first = s.run().await;
    assert_partial(&first);
    let msg = first
        .streams()
        .find(|s| s.status == StreamStatus::Partial)
        .and_then(|s| s.error.clone())
        .unwrap();
    assert!(msg.contains("quota reserve reached"), "{msg}");
    assert!(msg.contains("resume later"), "{msg}");
    // The budget held at the emulator: it never hit the org's limit, and no more requests
    // arrived than the allowance minus the reserve (plus the requests already in flight).
    let used = s.sandbox.salesforce().daily_used();
    assert!(used < 100, "the limit was never reached: {used}");
    assert!(used <= 91 + 4, "stopped at the reserve: {used}");
    let day = Duration::from_secs(86_400);
    assert!(s.sandbox.max_requests_in_window(Vendor::Salesforce, day) <= 40);
    let committed = s.count("salesforce.leads").await;
    assert!(committed > 0 && committed < 3_000, "{committed}");

    // A new day: the next run continues from the committed state.
    s.sandbox.salesforce().set_daily_used(0);
    s.sandbox.reset_stats();
    let second = s.run().await;
    assert!(
        second.succeeded(),
        "{:?}",
        second
            .streams()
            .filter_map(|s| s.error.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(s.count("salesforce.leads").await, 3_000);
    assert_eq!(
        s.sandbox.stats().records("salesforce.lead.query_all") as i64,
        3_000 - committed,
        "only the rest was read"
    );
    let world = s.sandbox.world();
    assert_eq!(
        s.count("salesforce.contacts").await as u64,
        world.read().converted_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limit_exceeded_stops_gracefully_too() {
    // No reserve: the org's own 403 REQUEST_LIMIT_EXCEEDED (TotalRequests) ends the run.
    let s = Setup::new(
        SalesforceConfig {
            daily_limit: 100,
            daily_used: 80,
            ..SalesforceConfig::default()
        },
        "quota_reserve_percent = 0",
    );
    let first = s.run().await;
    assert_partial(&first);
    let msg = first
        .streams()
        .find(|s| s.status == StreamStatus::Partial)
        .and_then(|s| s.error.clone())
        .unwrap();
    assert!(msg.contains("REQUEST_LIMIT_EXCEEDED"), "{msg}");
    assert_eq!(
        first.sources[0].http.retries, 0,
        "a spent quota is not retried"
    );
    let committed = s.count("salesforce.leads").await;
    s.sandbox.salesforce().set_daily_used(0);
    let second = s.run().await;
    assert!(second.succeeded());
    assert_eq!(s.count("salesforce.leads").await, 3_000);
    assert!(committed < 3_000);
}
