//! Meta as seen by the conformance suite: the paged stream is `campaign_insights_daily`, read
//! through async report jobs (30-day windows); "changes" are late conversions (leads) on
//! recent days plus one new day.

use chrono::{Duration, NaiveDate};
use revline_sandbox::meta::CAMPAIGN_ID_BASE;
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The configured `end_date`, counted from the world's first day (see the Google Ads case).
pub const END_DAYS_AFTER_START: i64 = 530;
/// The connector's default look-back.
pub const LOOKBACK_DAYS: i64 = 28;

/// The Meta connector against the sandbox's Meta emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct MetaCase;

/// `(day, Meta campaign id, leads)` of every campaign-day with impressions.
pub fn campaign_days(world: &World, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, u64, u64)> {
    let fb: Vec<(u32, u64)> = world
        .paid_campaigns("facebook")
        .map(|c| (c.index, c.id))
        .collect();
    let mut out = Vec::new();
    let mut day = from.max(world.first_day());
    while day <= to.min(world.today()) {
        let md = world.marketing_day(day);
        for &(i, id) in &fb {
            let ads: Vec<_> = md.ads.iter().filter(|a| a.key.campaign == i).collect();
            if ads.iter().map(|a| a.impressions).sum::<u64>() > 0 {
                out.push((
                    day,
                    CAMPAIGN_ID_BASE + id,
                    ads.iter().map(|a| a.leads).sum(),
                ));
            }
        }
        day += Duration::days(1);
    }
    out
}

impl ConnectorCase for MetaCase {
    fn connector(&self) -> &'static str {
        "meta_ads"
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
        let cfg = &sandbox.config().meta;
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
            "EAAB-expired-token"
        };
        format!(
            "base_url = \"{}\"\naccess_token = \"{token}\"\nad_account_ids = [\"act_{}\"]\n\
             start_date = \"{first}\"\nend_date = \"{end}\"\nasync_poll_ms = 5\nusage_pause_secs = 0.5\n\
             rate_limit = {{ requests = 1000, per_seconds = 1 }}\n",
            sandbox.base_url(Vendor::Meta),
            cfg.ad_account_id,
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let campaigns: Vec<_> = world.paid_campaigns("facebook").collect();
        let groups: Vec<_> = campaigns
            .iter()
            .flat_map(|c| world.ad_groups_of(c))
            .collect();
        let ads: u64 = groups.iter().map(|g| world.ads_of(g).len() as u64).sum();
        vec![
            ("campaigns", campaigns.len() as u64),
            ("adsets", groups.len() as u64),
            ("ads", ads),
            (
                "campaign_insights_daily",
                campaign_days(world, world.first_day(), world.today()).len() as u64,
            ),
            ("ad_insights_daily", world.active_ad_days("facebook")),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "campaign_insights_daily",
            route: "level=campaign",
            key: &["date", "campaign_id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("meta.insights.async_results.campaign")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let restated = world.restate_ad_conversions("facebook", 7, 4);
        world.advance_days(1);
        let mut ids: Vec<String> = restated
            .iter()
            .map(|r| {
                format!(
                    "{}|{}",
                    r.day,
                    CAMPAIGN_ID_BASE + world.campaigns()[r.key.campaign as usize].id
                )
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        let cursor = NaiveDate::parse_from_str(cursor.as_str().expect("a date cursor"), "%Y-%m-%d")
            .expect("YYYY-MM-DD");
        campaign_days(
            world,
            cursor - Duration::days(LOOKBACK_DAYS - 1),
            world.today(),
        )
        .len() as u64
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
            "SELECT CAST(date AS VARCHAR), campaign_id, leads FROM meta_ads.campaign_insights_daily WHERE {conds} ORDER BY 1, 2"
        );
        let mut expected: Vec<String> = ids
            .iter()
            .map(|id| {
                let (day, campaign) = id.split_once('|').expect("day|campaign");
                let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("date");
                let leads = campaign_days(world, d, d)
                    .into_iter()
                    .find(|(_, c, _)| c.to_string() == campaign)
                    .map(|(_, _, l)| l)
                    .expect("the restated day has a row");
                format!("{day}|{campaign}|{leads}")
            })
            .collect();
        expected.sort();
        (sql, expected)
    }

    fn rejected_credentials(&self) -> (&'static str, u64) {
        ("Meta rejected the access token (HTTP 400 code 190", 1)
    }
}
