//! Zendesk end to end (runner, lake, emulator): Zendesk's real 10-per-minute limit of the
//! incremental exports, counted at the emulator over a run that needs more than ten export
//! requests; and deleted tickets marked in the lake, not lost.

use std::sync::Arc;
use std::time::Duration;

use revline::config::Config;
use revline::progress::Silent;
use revline::runner::{RunOptions, RunReport, StreamStatus, run};
use revline_core::lake::Lake;
use revline_sandbox::zendesk::ids::ticket_id;
use revline_sandbox::{
    RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig, ZendeskConfig,
};

const EXPORTS: &[&str] = &["zendesk.tickets.export", "zendesk.users.export"];

struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(people: usize, zendesk: ZendeskConfig, extra: &str) -> Setup {
        let sandbox = Sandbox::start(SandboxConfig {
            world: WorldConfig {
                people,
                ..WorldConfig::default()
            },
            zendesk,
            ..SandboxConfig::default()
        })
        .expect("sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let (email, token) = sandbox.zendesk_credentials();
        std::fs::write(
            dir.path().join("revline.toml"),
            format!(
                "[lake]\npath = \"lake\"\n\n[sources.zendesk]\nconnector = \"zendesk\"\n\
                 base_url = \"{}\"\nemail = \"{email}\"\napi_token = \"{token}\"\n{extra}\n",
                sandbox.base_url(Vendor::Zendesk),
            ),
        )
        .unwrap();
        Setup { sandbox, dir }
    }

    async fn run(&self) -> RunReport {
        let config = Config::load(&self.dir.path().join("revline.toml")).unwrap();
        let report = run(&config, &RunOptions::default(), Arc::new(Silent))
            .await
            .unwrap();
        let failed: Vec<String> = report
            .streams()
            .filter(|s| s.status != StreamStatus::Succeeded)
            .map(|s| format!("{}: {:?}", s.stream, s.error))
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
        report
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let config = Config::load(&self.dir.path().join("revline.toml")).unwrap();
        let lake = Lake::open(self.dir.path().join("lake").to_str().unwrap()).unwrap();
        let batches = revline::query::query(&config, &lake, sql).await.unwrap();
        let col =
            arrow::compute::cast(batches[0].column(0), &arrow::datatypes::DataType::Int64).unwrap();
        col.as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    }
}

/// The connector's default export budget against an emulator enforcing Zendesk's limit of 10
/// export requests per minute: tickets and users need 13 export requests together, none is
/// refused, and no 60-second window ever holds more than 10 (this test takes about 1.5 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_never_exceed_ten_requests_in_any_minute() {
    let s = Setup::new(
        100,
        ZendeskConfig {
            export_rate_limit: Some(RateLimitEmulation {
                max: 10,
                interval_ms: 60_000,
            }),
            ..ZendeskConfig::default()
        },
        "export_page_size = 12\nstreams = [\"tickets\", \"users\"]\n",
    );
    let started = std::time::Instant::now();
    let report = s.run().await;
    let stats = s.sandbox.stats();
    let exports = stats.route(EXPORTS[0]) + stats.route(EXPORTS[1]);
    assert!(
        exports > 10,
        "the run needs more than ten export requests: {exports}"
    );
    assert_eq!(stats.rate_limited, 0, "no export request was refused");
    assert_eq!(report.sources[0].http.throttled, 0);
    let max = s
        .sandbox
        .max_route_requests_in_window(EXPORTS, Duration::from_secs(60));
    assert!(max <= 10, "{max} export requests within one minute");
    assert!(
        max >= 8,
        "paced close to the limit, not far below it: {max}"
    );
    // Pacing, not a stall: a burst of two, then one request every 60/7 s.
    assert!(
        started.elapsed() < Duration::from_secs_f64(8.6 * exports as f64),
        "{:?}",
        started.elapsed()
    );
    let w = s.sandbox.world();
    let (tickets, users) = {
        let w = w.read();
        (
            w.support().tickets().len() as i64,
            (w.support().user_count() + w.support().agents().len()) as i64,
        )
    };
    assert_eq!(
        s.scalar("SELECT COUNT(*) FROM zendesk.tickets").await,
        tickets
    );
    assert_eq!(s.scalar("SELECT COUNT(*) FROM zendesk.users").await, users);
}

/// Tickets deleted upstream stay in the lake, marked with `_deleted` and status `deleted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_tickets_are_marked_not_lost() {
    let s = Setup::new(
        250,
        ZendeskConfig::default(),
        "export_rate_limit = { requests = 1000, per_seconds = 1 }\n",
    );
    s.run().await;
    let total = s.scalar("SELECT COUNT(*) FROM zendesk.tickets").await;
    let before = s
        .scalar("SELECT COUNT(*) FROM zendesk.tickets WHERE _deleted")
        .await;
    let deleted = s.sandbox.world().write().delete_tickets(4);
    s.run().await;
    assert_eq!(
        s.scalar("SELECT COUNT(*) FROM zendesk.tickets").await,
        total,
        "no row was lost"
    );
    assert_eq!(
        s.scalar("SELECT COUNT(*) FROM zendesk.tickets WHERE _deleted")
            .await,
        before + 4
    );
    let list = deleted
        .iter()
        .map(|i| ticket_id(*i).to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        s.scalar(&format!(
            "SELECT COUNT(*) FROM zendesk.tickets WHERE id IN ({list}) AND status = 'deleted' AND _deleted"
        ))
        .await,
        4
    );
    // Their metrics are gone upstream, and the full-refresh metrics table follows.
    assert_eq!(
        s.scalar(&format!(
            "SELECT COUNT(*) FROM zendesk.ticket_metrics WHERE ticket_id IN ({list})"
        ))
        .await,
        0
    );
}
