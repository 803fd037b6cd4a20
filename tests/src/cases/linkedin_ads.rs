//! LinkedIn as seen by the conformance suite: the paged stream is `campaign_analytics_daily`
//! (30-day windows; the 22 default metrics take two requests per window, joined on the
//! grain); "changes" are late conversions on recent days plus one new day.

use chrono::{Duration, NaiveDate};
use revline_sandbox::linkedin::{analytics_rows, campaign_days};
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The configured `end_date`, counted from the world's first day.
pub const END_DAYS_AFTER_START: i64 = 530;
/// The connector's default look-back.
pub const LOOKBACK_DAYS: i64 = 14;

/// Requests per date range with the default metrics (22 metrics, 18 per request).
pub fn requests_per_range() -> u64 {
    let m: Vec<String> = revline_linkedin_ads::DEFAULT_METRICS
        .iter()
        .map(|s| s.to_string())
        .collect();
    revline_linkedin_ads::chunks(&m, 20).len() as u64
}

/// The LinkedIn connector against the sandbox's LinkedIn emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkedinCase;

impl ConnectorCase for LinkedinCase {
    fn connector(&self) -> &'static str {
        "linkedin_ads"
    }

    fn world(&self) -> WorldConfig {
        WorldConfig {
            people: 300,
            ..WorldConfig::default()
        }
    }

    fn empty_world(&self) -> WorldConfig {
        WorldConfig {
            people: 0,
            deals: 0,
            campaigns: 0,
            ..WorldConfig::default()
        }
    }

    fn sandbox_config(&self, world: WorldConfig, faults: FaultPlan) -> SandboxConfig {
        SandboxConfig {
            world,
            faults,
            ..SandboxConfig::default()
        }
    }

    fn credentials(&self, sandbox: &Sandbox, valid: bool) -> String {
        let cfg = &sandbox.config().linkedin;
        let (first, end) = {
            let w = sandbox.world();
            let w = w.read();
            (
                w.first_day(),
                w.first_day() + Duration::days(END_DAYS_AFTER_START),
            )
        };
        let token = if valid {
            cfg.access_token.as_str()
        } else {
            "AQX-expired-token"
        };
        format!(
            "base_url = \"{}\"\naccess_token = \"{token}\"\nad_account_ids = [\"{}\"]\n\
             start_date = \"{first}\"\nend_date = \"{end}\"\n\
             rate_limit = {{ requests = 1000, per_seconds = 1 }}\n",
            sandbox.base_url(Vendor::Linkedin),
            cfg.ad_account_id,
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let campaigns: Vec<_> = world.paid_campaigns("linkedin").collect();
        let groups: u64 = campaigns
            .iter()
            .map(|c| world.ad_groups_of(c).len() as u64)
            .sum();
        vec![
            ("ad_accounts", 1),
            ("campaign_groups", campaigns.len() as u64),
            ("campaigns", groups),
            (
                "campaign_analytics_daily",
                analytics_rows(world, world.first_day(), world.today()),
            ),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "campaign_analytics_daily",
            route: "adAnalytics",
            key: &["date", "campaign_id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        // Each row is served once per metric request of its range.
        stats.records("linkedin.analytics.campaign") / requests_per_range()
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let restated = world.restate_ad_conversions("linkedin", 7, 4);
        world.advance_days(1);
        let mut ids: Vec<String> = restated
            .iter()
            .map(|r| {
                let c = &world.campaigns()[r.key.campaign as usize];
                format!("{}|{}", r.day, c.id * 100 + u64::from(r.key.ad_group))
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        let cursor = NaiveDate::parse_from_str(cursor.as_str().expect("a date cursor"), "%Y-%m-%d")
            .expect("YYYY-MM-DD");
        analytics_rows(
            world,
            cursor - Duration::days(LOOKBACK_DAYS - 1),
            world.today(),
        )
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let conds = ids
            .iter()
            .map(|id| {
                let (day, campaign) = id.split_once('|').expect("day|campaign");
                format!("(date = DATE '{day}' AND campaign_id = {campaign})")
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!(
            "SELECT CAST(date AS VARCHAR), campaign_id, external_website_conversions FROM linkedin_ads.campaign_analytics_daily WHERE {conds} ORDER BY 1, 2"
        );
        let mut expected: Vec<String> = ids
            .iter()
            .map(|id| {
                let (day, campaign) = id.split_once('|').expect("day|campaign");
                let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("date");
                let conversions = campaign_days(world, d)
                    .into_iter()
                    .find(|(g, _)| g.id.to_string() == campaign)
                    .map(|(_, s)| s.conversions)
                    .expect("the restated day has a row");
                format!("{day}|{campaign}|{conversions}")
            })
            .collect();
        expected.sort();
        (sql, expected)
    }

    fn rejected_credentials(&self) -> (&'static str, u64) {
        (
            "LinkedIn rejected the access token (HTTP 401 INVALID_ACCESS_TOKEN",
            1,
        )
    }
}
