//! Marketing performance, vendor-neutral: the ad groups and ads of the world's campaigns, what
//! each ad did on each day (impressions, clicks, cost, conversions) and the web sessions the
//! campaigns brought to the site, by day, traffic source and landing page.
//!
//! Everything agrees with the people of the world: a person whose campaign is `c` and who was
//! created on day `d` clicked an ad of `c` on `d` (paid-search people with their gclid-like
//! click id), started a session from `c`'s utm tags and converted (one conversion, one key
//! event) on that day; the value of a conversion is the amount of the person's won deals.
//! Clicks, sessions and impressions beyond the people are generated per `(ad, day)` from the
//! seed. Nothing is stored: a day is recomputed on demand from `(seed, day)` plus the people
//! created that day, so months of daily rows cost nothing until rendered.
//!
//! Reports are **restated**: [`World::restate_ad_conversions`] adds late conversions to recent
//! days and [`World::restate_sessions`] late sessions, as ad platforms and analytics do while
//! attribution settles; [`World::advance_days`] starts new days.
//!
//! Which network a campaign runs on is its `utm_source` (`google`, `facebook`, `linkedin`,
//! `bing`); only paid campaigns ([`Channel::PaidSearch`], [`Channel::PaidSocial`]) have ads.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::rng::{Rng, mix64};
use super::{Campaign, Channel, DAY_MS, DealStage, Person, World};

/// Random-stream tags of the marketing model (distinct from the other entity kinds).
const TAG_AD_DAY: u64 = 121;
const TAG_ASSIGN: u64 = 122;
const TAG_TRAFFIC: u64 = 123;
const TAG_PAGE: u64 = 124;
const TAG_CLICK: u64 = 125;
const TAG_RESTATE: u64 = 126;
const TAG_CELL: u64 = 127;

/// The site the campaigns send traffic to.
pub const SITE: &str = "www.revline-demo.io";

const THEMES: &[&str] = &[
    "Core Terms",
    "Decision Makers",
    "Competitor Alternatives",
    "Free Trial",
    "Demo Request",
    "Lookalike Audiences",
    "Retargeting",
    "Long Tail",
];

const PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/demo",
    "/product/revenue-analytics",
    "/blog/revops-playbook",
    "/signup",
];

/// Size of the marketing model (`[world.marketing]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketingConfig {
    /// Ad groups (ad sets) per paid campaign. Default `3`.
    pub ad_groups_per_campaign: u32,
    /// Ads (creatives) per ad group. Default `2`.
    pub ads_per_ad_group: u32,
    /// Landing pages of the site (the first six are real-looking pages, the rest blog posts).
    /// Every page gets some direct traffic every day. Default `6`.
    pub landing_pages: u32,
}

impl Default for MarketingConfig {
    fn default() -> Self {
        MarketingConfig {
            ad_groups_per_campaign: 3,
            ads_per_ad_group: 2,
            landing_pages: 6,
        }
    }
}

/// Late numbers added by the restatement mutations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Restatements {
    /// `(ad key, day)` → (extra conversions, extra value in cents).
    ads: HashMap<(AdKey, i64), (u32, u64)>,
    /// `(campaign or direct, day)` → (extra sessions, extra key events).
    traffic: HashMap<(Option<u32>, i64), (u64, u32)>,
}

/// An ad's position: campaign index, ad group index within it, ad index within that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdKey {
    /// Campaign index.
    pub campaign: u32,
    /// Ad group index within the campaign.
    pub ad_group: u32,
    /// Ad index within the ad group.
    pub ad: u32,
}

/// An ad group (Google Ads ad group, Meta ad set, LinkedIn campaign).
#[derive(Clone, Debug, PartialEq)]
pub struct AdGroup {
    /// Campaign index.
    pub campaign: u32,
    /// Index within the campaign.
    pub index: u32,
    /// Numeric id (`campaign id × 100 + index`), unique.
    pub id: u64,
    /// Name, e.g. `Brand Search Q1 2024 – Core Terms`.
    pub name: String,
    /// Daily budget in cents.
    pub daily_budget_cents: u64,
}

/// An ad (creative) with its landing URL and utm tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Ad {
    /// Position.
    pub key: AdKey,
    /// Numeric id (`ad group id × 100 + index`), unique.
    pub id: u64,
    /// Name, e.g. `Core Terms – Variant A`.
    pub name: String,
    /// Headline text.
    pub headline: String,
    /// Index of its landing page in [`World::landing_pages`].
    pub landing_page: u32,
    /// `utm_content` of the ad, e.g. `core_terms_a`.
    pub utm_content: String,
    /// The landing URL with every utm parameter.
    pub final_url: String,
}

impl Ad {
    /// The utm query parameters only (`utm_source=…&utm_medium=…&…`), as ad platforms keep
    /// them in tracking templates and URL tags.
    pub fn url_tags(&self) -> &str {
        self.final_url.split_once('?').map_or("", |(_, q)| q)
    }
}

/// One ad on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct AdDay {
    /// Which ad.
    pub key: AdKey,
    /// Impressions.
    pub impressions: u64,
    /// Clicks (including the people's).
    pub clicks: u64,
    /// Spend in micros of the account currency (USD).
    pub cost_micros: u64,
    /// Conversions: the people converted through this ad that day, plus restated ones.
    pub conversions: u64,
    /// Value of the conversions in cents (won deal amounts of the people, plus restated).
    pub conversion_value_cents: u64,
    /// Leads among the conversions (every people conversion is a lead; restated ones too).
    pub leads: u64,
    /// Purchases among the conversions: people with a won deal.
    pub purchases: u64,
    /// Indices of the people who clicked and converted.
    pub people: Vec<u64>,
}

/// Sessions of one traffic source (a campaign, or direct) on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficDay {
    /// Campaign index; `None` is direct traffic.
    pub campaign: Option<u32>,
    /// Sessions.
    pub sessions: u64,
    /// Engaged sessions.
    pub engaged_sessions: u64,
    /// Users.
    pub total_users: u64,
    /// First-time users.
    pub new_users: u64,
    /// Key events (conversions): the people created that day from this source (+ restated).
    pub key_events: u64,
    /// Revenue in cents: the won deal amounts of those people.
    pub revenue_cents: u64,
}

/// Sessions that started on one landing page on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct PageDay {
    /// Page index.
    pub page: u32,
    /// Sessions.
    pub sessions: u64,
    /// Engaged sessions.
    pub engaged_sessions: u64,
    /// Users.
    pub total_users: u64,
    /// First-time users.
    pub new_users: u64,
    /// Key events.
    pub key_events: u64,
    /// Revenue in cents.
    pub revenue_cents: u64,
}

/// Sessions of one traffic source on one landing page on one day: the finest grain of the
/// web analytics; [`TrafficDay`] and [`PageDay`] are its rollups.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionCell {
    /// Campaign index; `None` is direct traffic.
    pub campaign: Option<u32>,
    /// Landing page index.
    pub page: u32,
    /// Sessions.
    pub sessions: u64,
    /// Engaged sessions.
    pub engaged_sessions: u64,
    /// Users.
    pub total_users: u64,
    /// First-time users.
    pub new_users: u64,
    /// Key events: the people created that day from this source who landed here.
    pub key_events: u64,
    /// Revenue in cents: the won deal amounts of those people.
    pub revenue_cents: u64,
}

impl TrafficDay {
    fn from_cell(c: &SessionCell) -> TrafficDay {
        TrafficDay {
            campaign: c.campaign,
            sessions: c.sessions,
            engaged_sessions: c.engaged_sessions,
            total_users: c.total_users,
            new_users: c.new_users,
            key_events: c.key_events,
            revenue_cents: c.revenue_cents,
        }
    }

    fn add(&mut self, c: &SessionCell) {
        self.sessions += c.sessions;
        self.engaged_sessions += c.engaged_sessions;
        self.total_users += c.total_users;
        self.new_users += c.new_users;
        self.key_events += c.key_events;
        self.revenue_cents += c.revenue_cents;
    }
}

/// Everything the marketing model says about one day.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketingDay {
    /// The day.
    pub day: NaiveDate,
    /// Every ad of every paid campaign running that day, in key order.
    pub ads: Vec<AdDay>,
    /// One row per campaign running that day (paid or not), then direct traffic.
    pub traffic: Vec<TrafficDay>,
    /// One row per landing page (every page has direct visits every day).
    pub pages: Vec<PageDay>,
    /// Sessions by traffic source and landing page, sources in the order of `traffic`.
    pub cells: Vec<SessionCell>,
}

/// One click on an ad: its click id and, if it converted, the person.
#[derive(Clone, Debug, PartialEq)]
pub struct AdClick {
    /// gclid-like click id.
    pub click_id: String,
    /// The person who clicked and converted (their CRM click id), if any.
    pub person: Option<u64>,
}

/// A late conversion added by [`World::restate_ad_conversions`].
#[derive(Clone, Debug, PartialEq)]
pub struct RestatedAd {
    /// The day restated.
    pub day: NaiveDate,
    /// The ad.
    pub key: AdKey,
    /// Conversions added.
    pub added: u32,
}

pub(crate) fn day_index(day: NaiveDate) -> i64 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

pub(crate) fn day_of(ms: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + Duration::days(ms.div_euclid(DAY_MS))
}

fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn is_paid(c: &Campaign) -> bool {
    matches!(c.channel, Channel::PaidSearch | Channel::PaidSocial)
}

/// Per-click cost range in micros, by network.
fn cpc_range(c: &Campaign) -> (i64, i64) {
    match c.utm_source {
        "linkedin" => (4_500_000, 11_000_000),
        "facebook" => (600_000, 2_600_000),
        _ => (800_000, 4_800_000),
    }
}

impl World {
    /// The marketing model's size.
    pub fn marketing_config(&self) -> &MarketingConfig {
        &self.config.marketing
    }

    /// Today: the day of the mutation clock. Reports end here; later days have no data.
    pub fn today(&self) -> NaiveDate {
        day_of(self.clock_ms)
    }

    /// The first day anything happened (the world's start): the site's first day of traffic.
    pub fn first_day(&self) -> NaiveDate {
        day_of(self.start_ms)
    }

    /// The first day campaign `c` ran.
    pub fn campaign_first_day(&self, c: &Campaign) -> NaiveDate {
        day_of(c.start_ms)
    }

    /// Whether campaign `c` ran on `day` (from its start to today).
    pub fn campaign_runs_on(&self, c: &Campaign, day: NaiveDate) -> bool {
        day >= self.campaign_first_day(c) && day <= self.today()
    }

    /// Campaigns with ads (paid search and paid social) on network `utm_source`.
    pub fn paid_campaigns<'a>(
        &'a self,
        utm_source: &'a str,
    ) -> impl Iterator<Item = &'a Campaign> + 'a {
        self.campaigns
            .iter()
            .filter(move |c| is_paid(c) && c.utm_source == utm_source)
    }

    /// The ad groups of campaign `c` (none for unpaid campaigns).
    pub fn ad_groups_of(&self, c: &Campaign) -> Vec<AdGroup> {
        if !is_paid(c) {
            return Vec::new();
        }
        (0..self.config.marketing.ad_groups_per_campaign)
            .map(|j| {
                let theme = THEMES[j as usize % THEMES.len()];
                let round = j as usize / THEMES.len();
                let theme = if round == 0 {
                    theme.to_string()
                } else {
                    format!("{theme} {}", round + 1)
                };
                let mut r =
                    Rng::for_entity(self.config.seed, TAG_AD_DAY, c.id * 100 + u64::from(j));
                AdGroup {
                    campaign: c.index,
                    index: j,
                    id: c.id * 100 + u64::from(j),
                    name: format!("{} – {theme}", c.name),
                    daily_budget_cents: (20 + r.below(180)) * 500,
                }
            })
            .collect()
    }

    /// The ads of ad group `g`.
    pub fn ads_of(&self, g: &AdGroup) -> Vec<Ad> {
        let c = &self.campaigns[g.campaign as usize];
        let theme = g
            .name
            .rsplit_once(" – ")
            .map_or(g.name.as_str(), |(_, t)| t)
            .to_string();
        (0..self.config.marketing.ads_per_ad_group)
            .map(|k| {
                let variant = (b'A' + (k % 26) as u8) as char;
                let suffix = if k < 26 {
                    variant.to_string()
                } else {
                    format!("{variant}{}", k / 26 + 1)
                };
                let utm_content = format!("{}_{}", slug(&theme), suffix.to_lowercase());
                let page = (mix64(g.id ^ u64::from(k) ^ self.config.seed) % PAGES.len() as u64)
                    .min(u64::from(self.config.marketing.landing_pages.max(1) - 1))
                    as u32;
                let final_url = format!(
                    "https://{SITE}{}?utm_source={}&utm_medium={}&utm_campaign={}&utm_content={utm_content}",
                    self.landing_page_path(page),
                    c.utm_source,
                    c.utm_medium,
                    c.utm_campaign
                );
                Ad {
                    key: AdKey {
                        campaign: g.campaign,
                        ad_group: g.index,
                        ad: k,
                    },
                    id: g.id * 100 + u64::from(k),
                    name: format!("{theme} – Variant {suffix}"),
                    headline: format!("{} | Revline", theme),
                    landing_page: page,
                    utm_content,
                    final_url,
                }
            })
            .collect()
    }

    /// The ad at `key`.
    pub fn ad(&self, key: AdKey) -> Option<Ad> {
        let c = self.campaigns.get(key.campaign as usize)?;
        let g = self
            .ad_groups_of(c)
            .into_iter()
            .nth(key.ad_group as usize)?;
        self.ads_of(&g).into_iter().nth(key.ad as usize)
    }

    /// Number of landing pages.
    pub fn landing_page_count(&self) -> u32 {
        self.config.marketing.landing_pages.max(1)
    }

    /// Path of landing page `i`, e.g. `/pricing` or `/blog/post-7`.
    pub fn landing_page_path(&self, i: u32) -> String {
        match PAGES.get(i as usize) {
            Some(p) => (*p).to_string(),
            None => format!("/blog/post-{}", i + 1 - PAGES.len() as u32),
        }
    }

    /// People created on `day` (archived ones included: their visit happened), in index order.
    pub fn people_created_on(&self, day: NaiveDate) -> Vec<Person> {
        let lo = day_index(day) * DAY_MS;
        let hi = lo + DAY_MS;
        let mut out: Vec<Person> = self
            .base_people_in_window(Some(lo), Some(hi - 1))
            .filter_map(|i| self.person(i))
            .filter(|p| p.created_ms >= lo && p.created_ms < hi)
            .collect();
        let base = self.base_people;
        let mut added: Vec<Person> = self
            .patches
            .keys()
            .filter(|&&i| i >= base)
            .filter_map(|&i| self.person(i))
            .filter(|p| p.created_ms >= lo && p.created_ms < hi)
            .collect();
        added.sort_by_key(|p| p.index);
        out.extend(added);
        out
    }

    fn won_cents(&self, person: u64) -> u64 {
        self.deals_of_person(person)
            .iter()
            .map(|&d| &self.deals[d as usize])
            .filter(|d| d.stage == DealStage::ClosedWon)
            .map(|d| d.amount_cents)
            .sum()
    }

    /// Which ad a person of a paid campaign clicked: a deterministic ad group and ad.
    fn assigned_ad(&self, p: &Person) -> Option<AdKey> {
        let c = &self.campaigns[p.campaign? as usize];
        if !is_paid(c) {
            return None;
        }
        let m = &self.config.marketing;
        if m.ad_groups_per_campaign == 0 || m.ads_per_ad_group == 0 {
            return None;
        }
        let mut r = Rng::for_entity(self.config.seed, TAG_ASSIGN, p.index);
        Some(AdKey {
            campaign: c.index,
            ad_group: r.below(u64::from(m.ad_groups_per_campaign)) as u32,
            ad: r.below(u64::from(m.ads_per_ad_group)) as u32,
        })
    }

    /// Generated traffic of an ad on a day before the people: (impressions, clicks, cpc micros).
    fn ad_base(&self, c: &Campaign, ad_id: u64, day: i64) -> (u64, u64, i64) {
        let mut r = Rng::for_entity(self.config.seed, TAG_AD_DAY, mix64(ad_id) ^ (day as u64));
        let (impressions, ctr_bp) = match c.channel {
            Channel::PaidSearch => (40 + r.below(360), 200 + r.below(600)),
            _ => (300 + r.below(2_700), 40 + r.below(110)),
        };
        // Roughly one day in twelve an ad does not serve at all.
        if r.chance(0.08) {
            return (0, 0, 0);
        }
        let clicks = impressions * ctr_bp / 10_000;
        let (lo, hi) = cpc_range(c);
        (impressions, clicks, r.range(lo, hi) / 10_000 * 10_000)
    }

    /// Everything about `day`: ads of every paid campaign, traffic by source, sessions by page.
    /// Days after [`World::today`] (and before the world's start) are empty.
    pub fn marketing_day(&self, day: NaiveDate) -> MarketingDay {
        let mut out = MarketingDay {
            day,
            ads: Vec::new(),
            traffic: Vec::new(),
            pages: Vec::new(),
            cells: Vec::new(),
        };
        if day > self.today() || day < self.first_day() {
            return out;
        }
        let d = day_index(day);
        let people = self.people_created_on(day);
        // People by ad and by traffic source.
        let mut by_ad: HashMap<AdKey, Vec<u64>> = HashMap::new();
        let mut by_source: HashMap<Option<u32>, Vec<u64>> = HashMap::new();
        for p in &people {
            if let Some(k) = self.assigned_ad(p) {
                by_ad.entry(k).or_default().push(p.index);
            }
            by_source.entry(p.campaign).or_default().push(p.index);
        }
        let pages = self.landing_page_count() as usize;
        for c in &self.campaigns {
            if !self.campaign_runs_on(c, day) {
                continue;
            }
            // Clicks and converting people by landing page, for the sessions below.
            let mut page_clicks = vec![0u64; pages];
            let mut page_people: Vec<Vec<u64>> = vec![Vec::new(); pages];
            for g in self.ad_groups_of(c) {
                for ad in self.ads_of(&g) {
                    let (mut impressions, base_clicks, cpc) = self.ad_base(c, ad.id, d);
                    let people = by_ad.remove(&ad.key).unwrap_or_default();
                    let clicks = base_clicks + people.len() as u64;
                    impressions = impressions.max(clicks * 4);
                    let value: u64 = people.iter().map(|&i| self.won_cents(i)).sum();
                    let purchases =
                        people.iter().filter(|&&i| self.won_cents(i) > 0).count() as u64;
                    let (extra, extra_value) = self
                        .restated
                        .ads
                        .get(&(ad.key, d))
                        .copied()
                        .unwrap_or((0, 0));
                    let cpc = if cpc == 0 { cpc_range(c).0 } else { cpc };
                    page_clicks[ad.landing_page as usize] += clicks;
                    page_people[ad.landing_page as usize].extend(&people);
                    out.ads.push(AdDay {
                        key: ad.key,
                        impressions,
                        clicks,
                        cost_micros: clicks * cpc as u64,
                        conversions: people.len() as u64 + u64::from(extra),
                        conversion_value_cents: value + extra_value,
                        leads: people.len() as u64 + u64::from(extra),
                        purchases,
                        people,
                    });
                }
            }
            let people = by_source.remove(&Some(c.index)).unwrap_or_default();
            let mut r = Rng::for_entity(
                self.config.seed,
                TAG_TRAFFIC,
                (d as u64) << 16 | u64::from(c.index & 0xFFFF),
            );
            let mut sessions = vec![0u64; pages];
            if is_paid(c) {
                // Most ad clicks become sessions (some bounce before the tag fires).
                for (p, clicks) in page_clicks.iter().enumerate() {
                    sessions[p] = clicks - clicks / (8 + r.below(8));
                }
            } else {
                // Other campaigns send their visitors to one page a day.
                let page = (mix64(u64::from(c.index) ^ d as u64 ^ self.config.seed) % pages as u64)
                    as usize;
                sessions[page] = 10 + r.below(90);
                page_people[page] = people.clone();
            }
            self.push_cells(&mut out.cells, Some(c.index), d, sessions, page_people);
        }
        // Direct traffic: some visits on every page, most on the home page, where the direct
        // sign-ups land.
        let mut sessions = vec![0u64; pages];
        let mut page_people: Vec<Vec<u64>> = vec![Vec::new(); pages];
        for (p, s) in sessions.iter_mut().enumerate() {
            let mut r = Rng::for_entity(self.config.seed, TAG_PAGE, (d as u64) << 20 | p as u64);
            *s = 1 + r.below(12);
        }
        let mut r = Rng::for_entity(self.config.seed, TAG_TRAFFIC, (d as u64) << 16 | 0xFFFF);
        sessions[0] += 40 + r.below(160);
        page_people[0] = by_source.remove(&None).unwrap_or_default();
        self.push_cells(&mut out.cells, None, d, sessions, page_people);
        // The two rollups every report agrees with.
        for cell in &out.cells {
            match out.traffic.last_mut() {
                Some(t) if t.campaign == cell.campaign => t.add(cell),
                _ => out.traffic.push(TrafficDay::from_cell(cell)),
            }
        }
        out.pages = (0..pages as u32)
            .map(|page| {
                let mut p = PageDay {
                    page,
                    sessions: 0,
                    engaged_sessions: 0,
                    total_users: 0,
                    new_users: 0,
                    key_events: 0,
                    revenue_cents: 0,
                };
                for c in out.cells.iter().filter(|c| c.page == page) {
                    p.sessions += c.sessions;
                    p.engaged_sessions += c.engaged_sessions;
                    p.total_users += c.total_users;
                    p.new_users += c.new_users;
                    p.key_events += c.key_events;
                    p.revenue_cents += c.revenue_cents;
                }
                p
            })
            .filter(|p| p.sessions > 0)
            .collect();
        out
    }

    /// Cells of one traffic source: its sessions and converting people by page, plus any
    /// restated sessions (on its first page with visits); pages without visits are left out.
    fn push_cells(
        &self,
        out: &mut Vec<SessionCell>,
        campaign: Option<u32>,
        d: i64,
        mut sessions: Vec<u64>,
        people: Vec<Vec<u64>>,
    ) {
        let (extra_sessions, extra_events) = self
            .restated
            .traffic
            .get(&(campaign, d))
            .copied()
            .unwrap_or((0, 0));
        // Every converting visitor had a session.
        for (s, p) in sessions.iter_mut().zip(&people) {
            *s = (*s).max(p.len() as u64);
        }
        let first = sessions.iter().position(|s| *s > 0);
        for (page, (s, p)) in sessions.into_iter().zip(people).enumerate() {
            let (extra_s, extra_k) = if Some(page) == first {
                (extra_sessions, extra_events)
            } else {
                (0, 0)
            };
            let sessions = s + extra_s;
            if sessions == 0 {
                continue;
            }
            let mut r = Rng::for_entity(
                self.config.seed,
                TAG_CELL,
                mix64((d as u64) << 20 | page as u64) ^ u64::from(campaign.map_or(0xFFFF, |c| c)),
            );
            let total_users = (sessions * (82 + r.below(12)) / 100)
                .max(p.len() as u64)
                .max(1);
            out.push(SessionCell {
                campaign,
                page: page as u32,
                sessions,
                engaged_sessions: sessions * (52 + r.below(25)) / 100,
                total_users,
                new_users: total_users * (55 + r.below(30)) / 100,
                key_events: p.len() as u64 + u64::from(extra_k),
                revenue_cents: p.iter().map(|&i| self.won_cents(i)).sum(),
            });
        }
    }

    /// The clicks of ad `key` on `day`: generated click ids, then the converting people's own
    /// click ids (for paid-search people, the gclid the CRM captured).
    pub fn ad_clicks(&self, key: AdKey, day: NaiveDate) -> Vec<AdClick> {
        let Some(ad) = self.ad(key) else {
            return Vec::new();
        };
        let c = &self.campaigns[key.campaign as usize];
        if !self.campaign_runs_on(c, day) {
            return Vec::new();
        }
        let d = day_index(day);
        let (_, base, _) = self.ad_base(c, ad.id, d);
        let mut out: Vec<AdClick> = (0..base)
            .map(|n| {
                let mut r = Rng::for_entity(
                    self.config.seed,
                    TAG_CLICK,
                    mix64(ad.id ^ (d as u64) << 32) ^ n,
                );
                AdClick {
                    click_id: super::gclid((r.next_u64(), r.next_u64(), r.next_u64())),
                    person: None,
                }
            })
            .collect();
        for p in self.people_created_on(day) {
            if self.assigned_ad(&p) == Some(key) {
                out.push(AdClick {
                    click_id: p.click_id.clone().unwrap_or_else(|| {
                        let mut r = Rng::for_entity(self.config.seed, TAG_CLICK, !p.index);
                        super::gclid((r.next_u64(), r.next_u64(), r.next_u64()))
                    }),
                    person: Some(p.id),
                });
            }
        }
        out
    }

    /// Ad-group days with any activity among the campaigns of network `utm_source`: the rows
    /// of a daily ad-group report over the whole history.
    pub fn active_ad_group_days(&self, utm_source: &str) -> u64 {
        let mut n = 0;
        let mut day = self.first_day();
        while day <= self.today() {
            let md = self.marketing_day(day);
            let mut groups: Vec<(u32, u32)> = md
                .ads
                .iter()
                .filter(|a| {
                    a.impressions > 0
                        && self.campaigns[a.key.campaign as usize].utm_source == utm_source
                })
                .map(|a| (a.key.campaign, a.key.ad_group))
                .collect();
            groups.dedup();
            n += groups.len() as u64;
            day += Duration::days(1);
        }
        n
    }

    /// Ad days with any activity among the campaigns of network `utm_source`: the rows of a
    /// daily ad-level report over the whole history.
    pub fn active_ad_days(&self, utm_source: &str) -> u64 {
        let mut n = 0;
        let mut day = self.first_day();
        while day <= self.today() {
            n += self
                .marketing_day(day)
                .ads
                .iter()
                .filter(|a| {
                    a.impressions > 0
                        && self.campaigns[a.key.campaign as usize].utm_source == utm_source
                })
                .count() as u64;
            day += Duration::days(1);
        }
        n
    }

    // ----- mutation ----------------------------------------------------------------------

    /// Moves the clock `days` days forward: new days of reports begin (with no new people).
    pub fn advance_days(&mut self, days: u32) {
        self.clock_ms += i64::from(days) * DAY_MS;
    }

    /// Late conversions: adds 1–3 conversions (and value) to `count` distinct ads of network
    /// `utm_source` on days among the last `within_days` days (today included) on which they
    /// served. Returns what was restated, most recent day first.
    pub fn restate_ad_conversions(
        &mut self,
        utm_source: &str,
        within_days: u32,
        count: usize,
    ) -> Vec<RestatedAd> {
        let today = self.today();
        let mut candidates: Vec<(NaiveDate, AdKey)> = Vec::new();
        for back in 0..i64::from(within_days) {
            let day = today - Duration::days(back);
            let md = self.marketing_day(day);
            for a in md.ads {
                let c = &self.campaigns[a.key.campaign as usize];
                if c.utm_source == utm_source && a.clicks > 0 {
                    candidates.push((day, a.key));
                }
            }
        }
        let mut r = self.mutation_rng();
        let mut out = Vec::new();
        let mut rr = Rng::for_entity(self.config.seed, TAG_RESTATE, self.mutations);
        while out.len() < count && !candidates.is_empty() {
            let i = r.below(candidates.len() as u64) as usize;
            let (day, key) = candidates.swap_remove(i);
            let added = 1 + rr.below(3) as u32;
            let value = u64::from(added) * (50 + rr.below(450)) * 100;
            let e = self.restated.ads.entry((key, day_index(day))).or_default();
            e.0 += added;
            e.1 += value;
            out.push(RestatedAd { day, key, added });
        }
        self.tick();
        out.sort_by(|a, b| b.day.cmp(&a.day).then(a.key.cmp(&b.key)));
        out
    }

    /// Late sessions: adds sessions and one key event to `count` distinct (source, day) pairs
    /// among the last `within_days` days. Returns `(day, campaign index or None for direct)`.
    pub fn restate_sessions(
        &mut self,
        within_days: u32,
        count: usize,
    ) -> Vec<(NaiveDate, Option<u32>)> {
        let today = self.today();
        let mut candidates: Vec<(NaiveDate, Option<u32>)> = Vec::new();
        for back in 0..i64::from(within_days) {
            let day = today - Duration::days(back);
            if day < self.first_day() {
                break;
            }
            candidates.push((day, None));
            for c in &self.campaigns {
                if self.campaign_runs_on(c, day) {
                    candidates.push((day, Some(c.index)));
                }
            }
        }
        let mut r = self.mutation_rng();
        let mut out = Vec::new();
        while out.len() < count && !candidates.is_empty() {
            let i = r.below(candidates.len() as u64) as usize;
            let (day, src) = candidates.swap_remove(i);
            let e = self
                .restated
                .traffic
                .entry((src, day_index(day)))
                .or_default();
            e.0 += 5 + r.below(40);
            e.1 += 1;
            out.push((day, src));
        }
        self.tick();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    fn world() -> World {
        World::new(WorldConfig {
            people: 2_000,
            ..WorldConfig::default()
        })
    }

    #[test]
    fn days_agree_with_people_and_levels_agree() {
        let w = world();
        let start = w.first_day();
        let mut people_seen = 0u64;
        let mut paid_people = 0u64;
        let mut day = start;
        while day <= w.today() {
            let md = w.marketing_day(day);
            let created = w.people_created_on(day);
            people_seen += created.len() as u64;
            // Every person converts once in the traffic of their campaign (or direct).
            let events: u64 = md.traffic.iter().map(|t| t.key_events).sum();
            assert_eq!(events, created.len() as u64, "{day}");
            // Paid people are conversions of exactly one ad.
            let ad_people: u64 = md.ads.iter().map(|a| a.people.len() as u64).sum();
            let expected = created
                .iter()
                .filter(|p| {
                    p.campaign
                        .is_some_and(|c| is_paid(&w.campaigns()[c as usize]))
                })
                .count() as u64;
            assert_eq!(ad_people, expected);
            paid_people += ad_people;
            for a in &md.ads {
                assert!(a.clicks >= a.people.len() as u64);
                assert!(a.impressions >= a.clicks);
                assert_eq!(a.conversions, a.people.len() as u64);
            }
            // Each page has visits every day.
            assert_eq!(md.pages.len(), 6);
            assert!(md.pages.iter().all(|p| p.sessions > 0));
            day += Duration::days(1);
        }
        assert_eq!(people_seen, 2_000, "every person was created on some day");
        assert!(paid_people > 500, "{paid_people}");
        assert!(
            w.marketing_day(w.today() + Duration::days(1))
                .ads
                .is_empty()
        );
    }

    #[test]
    fn click_view_holds_the_crm_click_ids() {
        let w = world();
        let p = w
            .people()
            .find(|p| {
                p.click_id.is_some()
                    && p.campaign
                        .is_some_and(|c| w.campaigns()[c as usize].utm_source == "google")
            })
            .unwrap();
        let day = day_of(p.created_ms);
        let key = w.assigned_ad(&p).unwrap();
        let clicks = w.ad_clicks(key, day);
        assert!(
            clicks
                .iter()
                .any(|c| c.click_id == *p.click_id.as_ref().unwrap() && c.person == Some(p.id))
        );
        let md = w.marketing_day(day);
        let row = md.ads.iter().find(|a| a.key == key).unwrap();
        assert_eq!(
            row.clicks,
            clicks.len() as u64,
            "click_view agrees with the clicks metric"
        );
        let ids: std::collections::HashSet<_> = clicks.iter().map(|c| c.click_id.clone()).collect();
        assert_eq!(ids.len(), clicks.len(), "click ids are unique");
    }

    #[test]
    fn restatements_change_recent_days_only_and_new_days_start() {
        let mut w = world();
        let today = w.today();
        let before: Vec<MarketingDay> = (0..20)
            .map(|b| w.marketing_day(today - Duration::days(b)))
            .collect();
        let restated = w.restate_ad_conversions("google", 14, 5);
        assert_eq!(restated.len(), 5);
        let mut changed = 0;
        for (b, old) in before.iter().enumerate() {
            let new = w.marketing_day(today - Duration::days(b as i64));
            if new != *old {
                changed += 1;
                assert!(b < 14);
                for r in restated.iter().filter(|r| r.day == new.day) {
                    let o = old.ads.iter().find(|a| a.key == r.key).unwrap();
                    let n = new.ads.iter().find(|a| a.key == r.key).unwrap();
                    assert!(n.conversions >= o.conversions + u64::from(r.added));
                    assert_eq!((n.clicks, n.cost_micros), (o.clicks, o.cost_micros));
                }
            }
        }
        assert!((1..=5).contains(&changed));
        let s = w.restate_sessions(3, 4);
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|(d, _)| *d > today - Duration::days(3)));
        w.advance_days(1);
        assert_eq!(w.today(), today + Duration::days(1));
        assert!(!w.marketing_day(w.today()).ads.is_empty());
    }

    #[test]
    fn ads_carry_utm_tags_of_their_campaign() {
        let w = world();
        let c = w.paid_campaigns("google").next().unwrap();
        let g = &w.ad_groups_of(c)[1];
        assert_eq!(g.id, c.id * 100 + 1);
        let ad = &w.ads_of(g)[0];
        assert!(ad.final_url.starts_with("https://www.revline-demo.io/"));
        assert!(
            ad.url_tags()
                .contains(&format!("utm_campaign={}", c.utm_campaign)),
            "{}",
            ad.final_url
        );
        assert_eq!(w.ad(ad.key).unwrap(), *ad);
        assert_eq!(w.paid_campaigns("google").count(), 2);
        assert_eq!(w.paid_campaigns("facebook").count(), 1);
        assert_eq!(w.paid_campaigns("linkedin").count(), 1);
    }
}
