//! # revline-tests
//!
//! End-to-end harness: a [`Harness`] starts the sandbox's emulated APIs on 127.0.0.1, writes a
//! config into a temporary folder, runs the real runner in-process and queries the lake.
//! [`conformance_suite!`] applies the same conformance cases to every connector through its
//! emulator; a connector gets the whole suite by implementing [`ConnectorCase`] and adding
//! one line to `tests/tests/conformance.rs`.

pub mod cases;

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use revline::config::Config;
use revline::progress::Silent;
use revline::runner::{RunOptions, RunReport, run};
use revline_core::lake::Lake;
use revline_sandbox::{FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, World, WorldConfig};

pub use cases::freshdesk::FreshdeskCase;
pub use cases::ga4::Ga4Case;
pub use cases::google_ads::GoogleAdsCase;
pub use cases::hubspot::HubspotCase;
pub use cases::intercom::IntercomCase;
pub use cases::linkedin_ads::LinkedinCase;
pub use cases::meta_ads::MetaCase;
pub use cases::pipedrive::PipedriveCase;
pub use cases::salesforce::SalesforceCase;
pub use cases::stripe::StripeCase;
pub use cases::zendesk::ZendeskCase;

/// A stream with several pages, used by the paging, fault and incremental cases.
#[derive(Debug, Clone)]
pub struct PagedStream {
    /// Stream name.
    pub name: &'static str,
    /// Substring of its request paths (where faults are injected).
    pub route: &'static str,
    /// Primary-key columns.
    pub key: &'static [&'static str],
}

/// What the conformance suite needs to know about a connector and its emulator.
pub trait ConnectorCase: Send + Sync + 'static {
    /// Connector name (`connector = "…"`).
    fn connector(&self) -> &'static str;
    /// Source name used in the test config.
    fn source(&self) -> &'static str {
        self.connector()
    }
    /// A world with several pages in [`ConnectorCase::paged_stream`].
    fn world(&self) -> WorldConfig;
    /// A world with no records in the paged stream.
    fn empty_world(&self) -> WorldConfig;
    /// The sandbox configuration for `world` and `faults`.
    fn sandbox_config(&self, world: WorldConfig, faults: FaultPlan) -> SandboxConfig;
    /// Source TOML lines with credentials the emulator accepts (`valid`) or rejects.
    fn credentials(&self, sandbox: &Sandbox, valid: bool) -> String;
    /// Every stream and the number of rows the world says it has.
    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)>;
    /// The multi-page stream.
    fn paged_stream(&self) -> PagedStream;
    /// Records the emulator served for the paged stream (from its stats).
    fn served_records(&self, stats: &StatsSnapshot) -> u64;
    /// The request to the paged stream's route from which the interrupted-sync case fails
    /// every request: late enough that a page with records is served and committed before.
    fn interrupt_from_request(&self) -> u64 {
        3
    }
    /// Changes some records of the paged stream; returns their ids.
    fn mutate(&self, world: &mut World) -> Vec<String>;
    /// How many records an incremental run must fetch, given the committed `cursor`.
    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64;
    /// A query over the paged stream's rows with `ids`, and the world's expected rows as
    /// `key|value` lines in query order.
    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>);
    /// How a run with rejected credentials fails: a phrase every stream's error contains, and
    /// how many API requests each stream makes before failing. The default is a rejected
    /// token (one 401 per stream); OAuth2 sources whose refresh token is revoked fail at the
    /// token endpoint and send none.
    fn rejected_credentials(&self) -> (&'static str, u64) {
        ("authentication failed (HTTP 401)", 1)
    }
    /// Records the emulator serves for the paged stream when a full refresh reads `rows`
    /// records after [`ConnectorCase::mutate`]. Default: exactly `rows` (each record once);
    /// a connector that also notes where a change log ends (Stripe's newest event) adds
    /// what that costs.
    fn full_read_served(&self, world: &World, rows: u64) -> u64 {
        let _ = world;
        rows
    }
}

/// A running sandbox plus a temporary lake and config.
pub struct Harness {
    /// The emulated APIs.
    pub sandbox: Sandbox,
    /// Temporary folder holding `revline.toml` and `lake/`.
    pub dir: tempfile::TempDir,
    source_toml: String,
    run_toml: String,
}

impl Harness {
    /// Starts a sandbox for `case` with `world` and `faults`, with valid credentials.
    pub fn start(case: &dyn ConnectorCase, world: WorldConfig, faults: FaultPlan) -> Harness {
        Self::start_with(case, world, faults, true)
    }

    /// Like [`Harness::start`], choosing valid or invalid credentials.
    pub fn start_with(
        case: &dyn ConnectorCase,
        world: WorldConfig,
        faults: FaultPlan,
        valid: bool,
    ) -> Harness {
        let sandbox = Sandbox::start(case.sandbox_config(world, faults)).expect("sandbox starts");
        let source_toml = format!(
            "[sources.{src}]\nconnector = \"{conn}\"\n{creds}\n\
             [sources.{src}.http]\nbackoff_initial_ms = 5\nbackoff_max_ms = 40\nmax_retries = 6\ntimeout_secs = 10\n",
            src = case.source(),
            conn = case.connector(),
            creds = case.credentials(&sandbox, valid),
        );
        Harness {
            sandbox,
            dir: tempfile::tempdir().expect("temp dir"),
            source_toml,
            run_toml: String::new(),
        }
    }

    /// Adds `[run]` settings (e.g. `commit_interval_secs = 0` to commit after every page).
    pub fn with_run_settings(mut self, toml: &str) -> Self {
        self.run_toml = format!("[run]\n{toml}\n");
        self
    }

    /// Writes and loads the config.
    pub fn config(&self) -> Config {
        let path = self.dir.path().join("revline.toml");
        let text = format!(
            "[lake]\npath = \"lake\"\n\n{}\n{}",
            self.run_toml, self.source_toml
        );
        std::fs::write(&path, text).expect("write config");
        Config::load(&path).expect("valid config")
    }

    /// Runs the pipeline (all streams, or per `opts`).
    pub async fn run(&self, opts: RunOptions) -> RunReport {
        run(&self.config(), &opts, Arc::new(Silent))
            .await
            .expect("run starts")
    }

    /// The lake.
    pub fn lake(&self) -> Lake {
        Lake::open(self.dir.path().join("lake").to_str().expect("utf-8 path")).expect("lake opens")
    }

    /// Runs SQL over the lake.
    pub async fn query(&self, sql: &str) -> Vec<RecordBatch> {
        revline::query::query(&self.config(), &self.lake(), sql)
            .await
            .expect("query runs")
    }

    /// A single integer from a query.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let batches = self.query(sql).await;
        let col = batches[0].column(0);
        arrow::compute::cast(col, &arrow::datatypes::DataType::Int64)
            .expect("integer")
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("int64")
            .value(0)
    }

    /// Query result rows as `a|b|c` lines.
    pub async fn lines(&self, sql: &str) -> Vec<String> {
        let batches = self.query(sql).await;
        let mut out = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(row) {
                            "null".to_string()
                        } else {
                            arrow::util::display::array_value_to_string(c, row)
                                .expect("displayable")
                        }
                    })
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out
    }
}

/// Generates the conformance cases as tests for one connector:
/// `conformance_suite!(hubspot, revline_tests::HubspotCase);`
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $case:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pages_to_the_end_and_counts_match_the_world() {
                $crate::cases::suite::pages_to_the_end_and_counts_match_the_world(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn primary_keys_are_unique() {
                $crate::cases::suite::primary_keys_are_unique(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn schema_matches_the_declaration() {
                $crate::cases::suite::schema_matches_the_declaration(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn resume_from_state_fetches_only_changes() {
                $crate::cases::suite::resume_from_state_fetches_only_changes(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn throttling_with_retry_after_waits_and_succeeds() {
                $crate::cases::suite::throttling_with_retry_after_waits_and_succeeds(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn throttling_without_retry_after_backs_off_and_succeeds() {
                $crate::cases::suite::throttling_without_retry_after_backs_off_and_succeeds(&$case)
                    .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn server_errors_resets_and_cut_bodies_are_retried() {
                $crate::cases::suite::server_errors_resets_and_cut_bodies_are_retried(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn unauthorized_fails_fast_and_commits_nothing() {
                $crate::cases::suite::unauthorized_fails_fast_and_commits_nothing(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn empty_source_loads_empty_tables() {
                $crate::cases::suite::empty_source_loads_empty_tables(&$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn interrupted_sync_resumes_without_loss_or_duplicates() {
                $crate::cases::suite::interrupted_sync_resumes_without_loss_or_duplicates(&$case)
                    .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn full_refresh_replaces_the_tables() {
                $crate::cases::suite::full_refresh_replaces_the_tables(&$case).await;
            }
        }
    };
}
