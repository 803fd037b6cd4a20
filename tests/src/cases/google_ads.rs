//! Google Ads as seen by the conformance suite: the paged stream is
//! `campaign_performance_daily` (one searchStream request per account and 30-day window), and
//! "changes" are restated conversions on recent days plus one new day.

use chrono::{Duration, NaiveDate};
use revline_sandbox::{
    FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, Vendor, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The configured `end_date`: 530 days after the world's first day, 30 days past the world's
/// initial today, so days that mutations add later are still in range. Derived from the first
/// day (which mutations do not move) so the credentials and the expectations agree.
pub const END_DAYS_AFTER_START: i64 = 530;
/// The connector's default look-back.
pub const LOOKBACK_DAYS: i64 = 14;

/// The Google Ads connector against the sandbox's Google Ads emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct GoogleAdsCase;

/// Per (campaign index, day): whether it had any activity (the rows a daily campaign report has).
pub fn campaign_days(world: &World, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, u32, u64)> {
    let google: Vec<u32> = world.paid_campaigns("google").map(|c| c.index).collect();
    let mut out = Vec::new();
    let mut day = from.max(world.first_day());
    while day <= to.min(world.today()) {
        let md = world.marketing_day(day);
        for &c in &google {
            let ads: Vec<_> = md.ads.iter().filter(|a| a.key.campaign == c).collect();
            if ads.iter().any(|a| a.impressions > 0) {
                out.push((day, c, ads.iter().map(|a| a.conversions).sum()));
            }
        }
        day += Duration::days(1);
    }
    out
}

fn end_date(world: &World) -> NaiveDate {
    world.first_day() + Duration::days(END_DAYS_AFTER_START)
}

/// Clicks on Google ads over the days `click_view` loads (the 90 days up to `end_date`).
pub fn clicks(world: &World, end: NaiveDate) -> u64 {
    let google: Vec<u32> = world.paid_campaigns("google").map(|c| c.index).collect();
    let mut n = 0;
    let mut day = end - Duration::days(89);
    while day <= world.today() {
        if day > world.today() - Duration::days(90) {
            n += world
                .marketing_day(day)
                .ads
                .iter()
                .filter(|a| google.contains(&a.key.campaign))
                .map(|a| a.clicks)
                .sum::<u64>();
        }
        day += Duration::days(1);
    }
    n
}

impl ConnectorCase for GoogleAdsCase {
    fn connector(&self) -> &'static str {
        "google_ads"
    }

    fn world(&self) -> WorldConfig {
        // 8 campaigns: two Google search campaigns, split over the two client accounts.
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
        let cfg = &sandbox.config().google_ads;
        let url = sandbox.base_url(Vendor::GoogleAds);
        let (first, end) = {
            let w = sandbox.world();
            let w = w.read();
            (w.first_day(), end_date(&w))
        };
        let refresh = if valid {
            cfg.oauth.refresh_token.as_str()
        } else {
            "1//revoked-refresh-token"
        };
        format!(
            "base_url = \"{url}\"\ndeveloper_token = \"{dev}\"\nlogin_customer_id = \"{manager}\"\n\
             start_date = \"{first}\"\nend_date = \"{end}\"\n\
             rate_limit = {{ requests = 1000, per_seconds = 1 }}\n\
             oauth = {{ client_id = \"{id}\", client_secret = \"{secret}\", refresh_token = \"{refresh}\", token_url = \"{url}/token\" }}\n",
            dev = cfg.developer_token.as_deref().unwrap_or(""),
            manager = cfg.manager_customer_id,
            id = cfg.oauth.client_id,
            secret = cfg.oauth.client_secret,
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let campaigns: Vec<_> = world.paid_campaigns("google").collect();
        let groups: u64 = campaigns
            .iter()
            .map(|c| world.ad_groups_of(c).len() as u64)
            .sum();
        vec![
            ("campaigns", campaigns.len() as u64),
            ("ad_groups", groups),
            (
                "campaign_performance_daily",
                campaign_days(world, world.first_day(), world.today()).len() as u64,
            ),
            (
                "ad_group_performance_daily",
                world.active_ad_group_days("google"),
            ),
            ("click_view", clicks(world, end_date(world))),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "campaign_performance_daily",
            // Only this stream's GAQL has campaign status followed by metrics.
            route: "campaign.status, metrics.impressions",
            key: &["date", "customer_id", "campaign_id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("google_ads.campaign_daily.search_stream")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        // Late conversions on recent days, then a new day.
        let restated = world.restate_ad_conversions("google", 7, 6);
        world.advance_days(1);
        let mut ids: Vec<String> = restated
            .iter()
            .map(|r| {
                let id = world.campaigns()[r.key.campaign as usize].id;
                format!("{}|{id}", r.day)
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        let cursor = NaiveDate::parse_from_str(cursor.as_str().expect("a date cursor"), "%Y-%m-%d")
            .expect("YYYY-MM-DD");
        // The look-back window up to the cursor, plus every day after it.
        let from = cursor - Duration::days(LOOKBACK_DAYS - 1);
        campaign_days(world, from, world.today()).len() as u64
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
            "SELECT CAST(date AS VARCHAR), campaign_id, CAST(conversions AS BIGINT) \
             FROM google_ads.campaign_performance_daily WHERE {conds} ORDER BY 1, 2"
        );
        let by_id: std::collections::HashMap<u32, u64> =
            world.campaigns().iter().map(|c| (c.index, c.id)).collect();
        let mut expected: Vec<String> = ids
            .iter()
            .map(|id| {
                let (day, campaign) = id.split_once('|').expect("day|campaign");
                let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("date");
                let conv = campaign_days(world, d, d)
                    .into_iter()
                    .find(|(_, c, _)| by_id[c].to_string() == campaign)
                    .map(|(_, _, n)| n)
                    .expect("the restated day has a row");
                format!("{day}|{campaign}|{conv}")
            })
            .collect();
        expected.sort();
        (sql, expected)
    }

    fn rejected_credentials(&self) -> (&'static str, u64) {
        // A revoked refresh token: the token endpoint refuses, no API request is sent.
        (
            "OAuth2 token refresh was refused (invalid_grant: Token has been expired or revoked.)",
            0,
        )
    }
}
