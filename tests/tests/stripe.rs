//! Stripe end to end (runner, lake, emulator): a rerun without upstream changes rewrites
//! nothing, deletions are marked, and the per-second limit holds at the emulator while
//! windows and streams run concurrently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use revline::config::Config;
use revline::progress::Silent;
use revline::runner::{RunOptions, RunReport, StreamStatus, run};
use revline_core::lake::Lake;
use revline_sandbox::stripe::ids::{Kind, id};
use revline_sandbox::{Sandbox, SandboxConfig, StripeConfig, Vendor, WorldConfig};

struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(stripe: StripeConfig, extra: &str) -> Setup {
        let sandbox = Sandbox::start(SandboxConfig {
            world: WorldConfig {
                people: 250,
                companies: 60,
                deals: 300,
                ..WorldConfig::default()
            },
            stripe,
            ..SandboxConfig::default()
        })
        .expect("sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("revline.toml"),
            format!(
                "[lake]\npath = \"lake\"\n\n[sources.stripe]\nconnector = \"stripe\"\n\
                 base_url = \"{}\"\nsecret_key = \"{}\"\n{extra}\n",
                sandbox.base_url(Vendor::Stripe),
                sandbox.stripe_key()
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

    fn lake(&self) -> Lake {
        Lake::open(self.dir.path().join("lake").to_str().unwrap()).unwrap()
    }

    async fn query_lines(&self, sql: &str) -> Vec<String> {
        let config = Config::load(&self.dir.path().join("revline.toml")).unwrap();
        let batches = revline::query::query(&config, &self.lake(), sql)
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| arrow::util::display::array_value_to_string(c, row).unwrap())
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out
    }

    /// Every stream's table version and the files under its folder (data and log).
    async fn snapshot(&self) -> BTreeMap<String, (i64, Vec<PathBuf>)> {
        let lake = self.lake();
        let mut out = BTreeMap::new();
        for (source, stream) in lake.list_tables().await.unwrap() {
            if source != "stripe" {
                continue; // the run history
            }
            let table = lake
                .load(&format!("{source}/{stream}"))
                .await
                .unwrap()
                .unwrap();
            let version = table.version().unwrap() as i64;
            let mut files = Vec::new();
            list_files(
                &self.dir.path().join("lake").join(&source).join(&stream),
                &mut files,
            );
            files.sort();
            out.insert(stream, (version, files));
        }
        out
    }
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            list_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_without_upstream_changes_adds_no_rows_and_rewrites_nothing() {
    let s = Setup::new(StripeConfig::default(), "");
    let first = s.run().await;
    assert!(first.records() > 500);
    let before = s.snapshot().await;
    assert_eq!(before.len(), 7, "{:?}", before.keys());

    s.sandbox.reset_stats();
    let second = s.run().await;
    assert_eq!(second.records(), 0, "nothing new was read");
    for r in second.streams() {
        assert_eq!(r.mode, "incremental", "{}", r.stream);
        assert_eq!(r.commits, 0, "{} committed", r.stream);
    }
    assert!(s.sandbox.stats().total_requests >= 14, "it did ask Stripe");
    assert_eq!(s.snapshot().await, before, "same versions, same files");

    // A change upstream moves only the tables it touches.
    let paid = s.sandbox.world().write().refund_charges(1);
    s.run().await;
    let after = s.snapshot().await;
    for (stream, (version, _)) in &after {
        let changed = matches!(stream.as_str(), "charges" | "refunds");
        assert_eq!(
            *version > before[stream].0,
            changed,
            "{stream}: version {} → {version}",
            before[stream].0
        );
    }
    let rid = id(Kind::Refund, u64::from(paid[0]));
    let lines = s
        .query_lines(&format!(
            "SELECT r.id, c.refunded, c.amount_refunded = c.amount FROM stripe.refunds r \
             JOIN stripe.charges c ON c.id = r.charge_id WHERE r.id = '{rid}'"
        ))
        .await;
    assert_eq!(lines, vec![format!("{rid}|true|true")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_customers_are_marked_not_lost_and_amounts_are_exact() {
    let s = Setup::new(StripeConfig::default(), "");
    s.run().await;
    let count = |lines: Vec<String>| lines[0].parse::<i64>().unwrap();
    let customers = count(s.query_lines("SELECT COUNT(*) FROM stripe.customers").await);
    let deleted = s.sandbox.world().write().delete_billing_customers(1);
    s.run().await;
    assert_eq!(
        count(s.query_lines("SELECT COUNT(*) FROM stripe.customers").await),
        customers,
        "the row stays"
    );
    let cid = id(Kind::Customer, u64::from(deleted[0]));
    assert_eq!(
        s.query_lines(&format!(
            "SELECT _deleted FROM stripe.customers WHERE id = '{cid}'"
        ))
        .await,
        vec!["true"]
    );
    assert_eq!(
        count(
            s.query_lines("SELECT COUNT(*) FROM stripe.customers WHERE _deleted")
                .await
        ),
        1
    );
    // Their subscriptions were canceled with them.
    let live = s
        .query_lines(&format!(
            "SELECT COUNT(*) FROM stripe.subscriptions WHERE customer_id = '{cid}' \
             AND status <> 'canceled'"
        ))
        .await;
    assert_eq!(live, vec!["0"]);
    // Decimals agree with minor units in every currency, yen included.
    let bad = s
        .query_lines(
            "SELECT COUNT(*) FROM stripe.charges WHERE \
             (currency = 'jpy' AND CAST(amount_decimal AS BIGINT) <> amount) OR \
             (currency <> 'jpy' AND CAST(amount_decimal * 100 AS BIGINT) <> amount)",
        )
        .await;
    assert_eq!(bad, vec!["0"]);
    let jpy = count(
        s.query_lines("SELECT COUNT(*) FROM stripe.charges WHERE currency = 'jpy'")
            .await,
    );
    assert!(jpy > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_second_limit_holds_at_the_emulator() {
    let s = Setup::new(
        StripeConfig {
            rate_limit: Some(20),
            ..StripeConfig::default()
        },
        "windows = 12\nconcurrency = 6\n[sources.stripe.rate_limit]\nrequests = 20\nper_seconds = 1\n",
    );
    let report = s.run().await;
    assert!(report.records() > 500);
    let stats = s.sandbox.stats();
    assert!(stats.total_requests > 60, "{}", stats.total_requests);
    assert_eq!(stats.rate_limited, 0, "never throttled");
    assert_eq!(report.sources[0].http.throttled, 0);
    let peak = s
        .sandbox
        .max_requests_in_window(Vendor::Stripe, Duration::from_secs(1));
    assert!(peak <= 20, "{peak} requests within one second");
    assert!(peak >= 15, "the budget is used: {peak}");
}
