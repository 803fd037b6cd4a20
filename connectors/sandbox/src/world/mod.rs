//! The vendor-neutral world model: companies, people, campaigns, deals and owners that agree
//! with each other, generated deterministically from a seed, plus a small mutation overlay.
//!
//! People are never materialised in bulk: [`World::person`] regenerates person `i` from
//! `(seed, i)` in well under a microsecond and applies the overlay of edits made through the
//! mutation API, so a world of 1,000,000 people costs a few kilobytes. Companies, campaigns,
//! owners and deals are small and stored.
//!
//! Every generated timestamp lies before the world's mutation clock ([`World::now`]); each
//! mutation takes a new, strictly later clock reading, so incremental syncs can be tested
//! exactly.

pub mod activities;
pub mod billing;
pub mod crm;
mod entities;
pub mod history;
pub mod marketing;
mod names;
pub(crate) mod rng;
pub mod support;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use entities::ms_to_datetime;
pub use entities::{
    Campaign, Channel, Company, Deal, DealStage, Industry, Lifecycle, Owner, Person,
};
use names::*;
use rng::{Rng, tag};

const DAY_MS: i64 = 86_400_000;
/// People are created from `start + PEOPLE_OFFSET_MS` on (companies exist a few days before).
const PEOPLE_OFFSET_MS: i64 = 7 * DAY_MS;
/// The longest `people_span_days`: people created by then, and edited within `MAX_EDIT_MS`,
/// are still before the clock.
const MAX_PEOPLE_SPAN_DAYS: u32 = 460;
/// A generated person is last modified at most this long after creation.
pub(crate) const MAX_EDIT_MS: i64 = 30 * DAY_MS;
/// The mutation clock starts this long after `start`, after every generated timestamp.
const CLOCK_OFFSET_MS: i64 = 500 * DAY_MS;
/// Each clock tick advances by this much (a non-round step so millisecond parts vary).
const TICK_MS: i64 = 1_001;

/// First contact/person id; person `i` has id `PERSON_ID_BASE + i`.
pub const PERSON_ID_BASE: u64 = 10_000_000_001;
/// First company id; company `i` has id `COMPANY_ID_BASE + i`.
pub const COMPANY_ID_BASE: u64 = 20_000_000_001;
/// First deal id; deal `i` has id `DEAL_ID_BASE + i`.
pub const DEAL_ID_BASE: u64 = 30_000_000_001;
/// First owner id; owner `i` has id `OWNER_ID_BASE + i`.
pub const OWNER_ID_BASE: u64 = 71_000_001;
/// First owner user id; owner `i` has user id `OWNER_USER_ID_BASE + i`.
pub const OWNER_USER_ID_BASE: u64 = 9_100_001;

fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Size and seed of a generated world. Every field has a default, so `[world]` in a TOML file
/// may set only what it changes, e.g. `people = 1000000`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldConfig {
    /// Seed of every random choice; the same config always yields the same world. Default `42`.
    pub seed: u64,
    /// Number of companies (at least one is always generated). Default `40`.
    pub companies: usize,
    /// Number of people (generated lazily; 1,000,000 is cheap). Default `400`.
    pub people: usize,
    /// Days over which the base people sign up, from a week after `start`. Default `365`;
    /// at most `460`, so that every generated edit happens before the world's clock (500
    /// days after `start`). Deals follow their people, so a longer span keeps sales active
    /// until the clock.
    pub people_span_days: u32,
    /// Number of deals. Default `120`.
    pub deals: usize,
    /// Number of deal owners (at least one is always generated). Default `5`.
    pub owners: usize,
    /// Number of marketing campaigns (0 means every person is direct traffic). Default `8`.
    pub campaigns: usize,
    /// Start of the world's history (RFC 3339), e.g. `"2024-01-01T00:00:00Z"` (the default).
    pub start: DateTime<Utc>,
    /// Ad groups, ads and landing pages of the marketing model (`[world.marketing]`).
    pub marketing: marketing::MarketingConfig,
    /// Tickets and agents of the support model (`[world.support]`).
    pub support: support::SupportConfig,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 42,
            companies: 40,
            people: 400,
            people_span_days: 365,
            deals: 120,
            owners: 5,
            campaigns: 8,
            start: default_start(),
            marketing: marketing::MarketingConfig::default(),
            support: support::SupportConfig::default(),
        }
    }
}

/// Edits made to one person through the mutation API.
#[derive(Clone, Debug, Default)]
struct PersonPatch {
    lifecycle: Option<Lifecycle>,
    created_ms: Option<i64>,
    modified_ms: Option<i64>,
}

/// The world: stored small entities, lazily generated people and the mutation overlay.
#[derive(Debug)]
pub struct World {
    config: WorldConfig,
    start_ms: i64,
    base_people: u64,
    name_multiplier: u64,
    name_offset: u64,
    companies: Vec<Company>,
    campaigns: Vec<Campaign>,
    owners: Vec<Owner>,
    deals: Vec<Deal>,
    /// Person index -> deals whose primary contact it is.
    person_deals: HashMap<u64, Vec<u32>>,
    /// Person index -> lifecycle implied by its deals at generation time.
    deal_lifecycle: HashMap<u64, Lifecycle>,
    patches: HashMap<u64, PersonPatch>,
    archived: BTreeSet<u64>,
    added_people: u64,
    clock_ms: i64,
    mutations: u64,
    /// Late conversions and sessions (see [`marketing`]).
    restated: marketing::Restatements,
    /// What customers pay (see [`billing`]).
    billing: billing::Billing,
    /// Deal changes made by mutations (see [`history`]).
    deal_changes: Vec<history::DealChange>,
    /// Tickets, agents and ratings (see [`support`]).
    support: support::Support,
}

const CAMPAIGN_TEMPLATES: &[(&str, Channel, &str, &str)] = &[
    ("Brand Search", Channel::PaidSearch, "google", "cpc"),
    (
        "LinkedIn ABM",
        Channel::PaidSocial,
        "linkedin",
        "paid_social",
    ),
    ("Product Newsletter", Channel::Email, "hubspot", "email"),
    ("Competitor Search", Channel::PaidSearch, "google", "cpc"),
    (
        "Meta Retargeting",
        Channel::PaidSocial,
        "facebook",
        "paid_social",
    ),
    ("SEO Content Hub", Channel::Organic, "google", "organic"),
    ("Partner Referral", Channel::Referral, "partner", "referral"),
    ("Bing Generic Search", Channel::PaidSearch, "bing", "cpc"),
];

const AREA_CODES: &[u32] = &[212, 312, 415, 512, 617, 646, 206, 303, 404, 720];

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// An odd multiplier coprime to `n`, so `i -> (i * m + o) % n` is a permutation of `0..n`.
fn coprime_multiplier(n: u64, rng: &mut Rng) -> u64 {
    if n <= 1 {
        return 1;
    }
    loop {
        let m = rng.below(n - 1) + 1;
        if gcd(m, n) == 1 {
            return m;
        }
    }
}

fn slug_underscore(s: &str) -> String {
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

fn midnight(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

impl World {
    /// Generates the world described by `config`.
    pub fn new(config: WorldConfig) -> World {
        let start_ms = config.start.timestamp_millis();
        let seed = config.seed;
        let mut names_rng = Rng::for_entity(seed, tag::NAMES, 0);
        let combos = (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
        let name_multiplier = coprime_multiplier(combos, &mut names_rng);
        let name_offset = names_rng.below(combos);
        let company_combos = (COMPANY_PREFIXES.len() * COMPANY_SUFFIXES.len()) as u64;
        let company_multiplier = coprime_multiplier(company_combos, &mut names_rng);
        let company_offset = names_rng.below(company_combos);

        let campaigns = (0..config.campaigns)
            .map(|i| Self::gen_campaign(seed, start_ms, i as u32))
            .collect();
        let companies = (0..config.companies.max(1))
            .map(|i| {
                Self::gen_company(seed, start_ms, i as u32, company_multiplier, company_offset)
            })
            .collect();
        let owners = (0..config.owners.max(1))
            .map(|i| Self::gen_owner(seed, start_ms, i as u32))
            .collect();

        let mut world = World {
            base_people: config.people as u64,
            config,
            start_ms,
            name_multiplier,
            name_offset,
            companies,
            campaigns,
            owners,
            deals: Vec::new(),
            person_deals: HashMap::new(),
            deal_lifecycle: HashMap::new(),
            patches: HashMap::new(),
            archived: BTreeSet::new(),
            added_people: 0,
            clock_ms: start_ms + CLOCK_OFFSET_MS,
            mutations: 0,
            restated: marketing::Restatements::default(),
            billing: billing::Billing::default(),
            deal_changes: Vec::new(),
            support: support::Support::default(),
        };
        world.deals = (0..world.config.deals)
            .map(|i| world.gen_deal(i as u32))
            .collect();
        world.billing = billing::Billing::generate(&world);
        for deal in &world.deals {
            if let Some(p) = deal.contact {
                world.person_deals.entry(p).or_default().push(deal.index);
                let implied = match deal.stage {
                    DealStage::ClosedWon => Some(Lifecycle::Customer),
                    DealStage::ClosedLost => None,
                    _ => Some(Lifecycle::Opportunity),
                };
                if let Some(implied) = implied {
                    let e = world.deal_lifecycle.entry(p).or_insert(implied);
                    *e = (*e).max(implied);
                }
            }
        }
        world.support = support::Support::generate(&world);
        world
    }

    fn gen_campaign(seed: u64, start_ms: i64, i: u32) -> Campaign {
        let mut r = Rng::for_entity(seed, tag::CAMPAIGN, u64::from(i));
        let n = CAMPAIGN_TEMPLATES.len() as u32;
        let (template, channel, source, medium) = CAMPAIGN_TEMPLATES[(i % n) as usize];
        let round = i / n;
        let quarter = round % 4;
        let year = i64::from(ms_to_datetime(start_ms).year()) + i64::from(round / 4);
        let name = format!("{template} Q{} {year}", quarter + 1);
        Campaign {
            index: i,
            id: 21_000_000_000 + u64::from(i) * 7_919 + r.below(7_000),
            utm_campaign: slug_underscore(&name),
            name,
            channel,
            utm_source: source,
            utm_medium: medium,
            start_ms: start_ms + i64::from(round) * 91 * DAY_MS,
        }
    }

    fn gen_company(seed: u64, start_ms: i64, i: u32, mult: u64, offset: u64) -> Company {
        let mut r = Rng::for_entity(seed, tag::COMPANY, u64::from(i));
        let combos = (COMPANY_PREFIXES.len() * COMPANY_SUFFIXES.len()) as u64;
        let combo = (u64::from(i) % combos * mult + offset) % combos;
        let (prefix, pslug) = COMPANY_PREFIXES[(combo % COMPANY_PREFIXES.len() as u64) as usize];
        let (suffix, sslug) = COMPANY_SUFFIXES[(combo / COMPANY_PREFIXES.len() as u64) as usize];
        let round = u64::from(i) / combos;
        let name = if round == 0 {
            format!("{prefix} {suffix}")
        } else {
            format!("{prefix} {suffix} {}", round + 1)
        };
        let tld = r.pick(TLDS);
        let domain = format!("{pslug}-{sslug}-{i}.{tld}");
        let industry = r.pick(&Industry::ALL);
        let employees = 10f64.powf(0.7 + 2.9 * r.unit()).round() as u32;
        let annual_revenue =
            (u64::from(employees) * (60_000 + r.below(240_000))).div_ceil(1_000) * 1_000;
        let (city, country) = r.pick(CITIES);
        let created_ms = start_ms + r.range(0, PEOPLE_OFFSET_MS);
        let modified_ms = created_ms + r.range(0, 400 * DAY_MS);
        Company {
            index: i,
            id: COMPANY_ID_BASE + u64::from(i),
            name,
            domain,
            industry,
            employees,
            annual_revenue,
            city,
            country,
            created_ms,
            modified_ms,
        }
    }

    fn gen_owner(seed: u64, start_ms: i64, i: u32) -> Owner {
        let mut r = Rng::for_entity(seed, tag::OWNER, u64::from(i));
        let (first, last) = OWNER_NAMES[i as usize % OWNER_NAMES.len()];
        let round = i as usize / OWNER_NAMES.len();
        let email = if round == 0 {
            format!(
                "{}.{}@revline-demo.io",
                first.to_lowercase(),
                last.to_lowercase()
            )
        } else {
            format!(
                "{}.{}{}@revline-demo.io",
                first.to_lowercase(),
                last.to_lowercase(),
                round + 1
            )
        };
        let created_ms = start_ms - 200 * DAY_MS + i64::from(i) * DAY_MS + r.range(0, DAY_MS);
        Owner {
            index: i,
            id: OWNER_ID_BASE + u64::from(i),
            user_id: OWNER_USER_ID_BASE + u64::from(i),
            email,
            first_name: first,
            last_name: last,
            created_ms,
            modified_ms: created_ms + r.range(0, 150 * DAY_MS),
        }
    }

    fn gen_deal(&self, i: u32) -> Deal {
        let mut r = Rng::for_entity(self.config.seed, tag::DEAL, u64::from(i));
        let (company, contact, channel, not_before) = if self.base_people > 0 {
            let p = self.gen_person(r.below(self.base_people));
            let c = &self.companies[p.company as usize];
            (
                p.company,
                Some(p.index),
                p.channel,
                p.created_ms.max(c.created_ms),
            )
        } else {
            let c = &self.companies[r.below(self.companies.len() as u64) as usize];
            (c.index, None, Channel::Direct, c.created_ms)
        };
        let (product, list_price) = r.pick(DEAL_PRODUCTS);
        let dollars = (list_price * (50 + r.below(150)) / 100).div_ceil(100) * 100;
        let cents = if r.chance(0.25) { r.below(100) } else { 0 };
        let stage = match r.below(100) {
            0..=14 => DealStage::AppointmentScheduled,
            15..=29 => DealStage::QualifiedToBuy,
            30..=41 => DealStage::PresentationScheduled,
            42..=51 => DealStage::DecisionMakerBoughtIn,
            52..=61 => DealStage::ContractSent,
            62..=83 => DealStage::ClosedWon,
            _ => DealStage::ClosedLost,
        };
        let created_ms = not_before + r.range(3_600_000, 20 * DAY_MS);
        // Everything generated happened before the clock starts: a late deal closes by the
        // day before yesterday, and its last edit is before the clock.
        let clock_ms = self.start_ms + CLOCK_OFFSET_MS;
        let last_close_ms = midnight(clock_ms - 2 * DAY_MS) + 16 * 3_600_000;
        let (close_ms, modified_ms) = if stage.is_closed() {
            let close = (midnight(created_ms + r.range(14 * DAY_MS, 90 * DAY_MS)) + 16 * 3_600_000)
                .min(last_close_ms);
            (close, close + r.range(0, 8 * 3_600_000))
        } else {
            let close = midnight(created_ms + r.range(30 * DAY_MS, 150 * DAY_MS)) + 16 * 3_600_000;
            let edited = created_ms + r.range(0, MAX_EDIT_MS);
            (close, edited.min(clock_ms - 3_600_000))
        };
        let company_name = &self.companies[company as usize].name;
        Deal {
            index: i,
            id: DEAL_ID_BASE + u64::from(i),
            name: format!("{company_name} – {product}"),
            company,
            contact,
            amount_cents: dollars * 100 + cents,
            stage,
            close_ms,
            owner: r.below(self.owners.len() as u64) as u32,
            channel,
            created_ms,
            modified_ms,
        }
    }

    /// How long the base people take to sign up (`people_span_days`, capped at 460 days).
    fn people_span_ms(&self) -> i64 {
        i64::from(self.config.people_span_days.clamp(1, MAX_PEOPLE_SPAN_DAYS)) * DAY_MS
    }

    /// Start of creation slot `i` of the base people (monotone in `i`).
    fn slot_start(&self, i: u64) -> i64 {
        let n = self.base_people.max(1);
        self.start_ms
            + PEOPLE_OFFSET_MS
            + (u128::from(i) * self.people_span_ms() as u128 / u128::from(n)) as i64
    }

    /// Person `index` as generated (no overlay). Works for any index, including added people
    /// (whose timestamps then come from the overlay).
    fn gen_person(&self, index: u64) -> Person {
        let mut r = Rng::for_entity(self.config.seed, tag::PERSON, index);
        let combos = (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
        let combo = (index % combos * self.name_multiplier + self.name_offset) % combos;
        let round = index / combos;
        let (first, fslug) = FIRST_NAMES[(combo % FIRST_NAMES.len() as u64) as usize];
        let (last, lslug) = LAST_NAMES[(combo / FIRST_NAMES.len() as u64) as usize];
        let company = r.below(self.companies.len() as u64) as u32;
        let company_ref = &self.companies[company as usize];
        let free_mail = r.chance(0.1);
        let free_domain = r.pick(FREE_MAIL);
        let domain = if free_mail {
            free_domain
        } else {
            company_ref.domain.as_str()
        };
        let mut email = String::with_capacity(fslug.len() + lslug.len() + domain.len() + 8);
        email.push_str(fslug);
        email.push('.');
        email.push_str(lslug);
        if round > 0 {
            email.push_str(itoa::Buffer::new().format(round));
        }
        email.push('@');
        email.push_str(domain);

        let job_title = r.pick(JOB_TITLES);
        let area = r.pick(AREA_CODES);
        let line = 100 + r.below(9_900);
        let phone = format!("+1 {area}-555-{line:04}");

        let campaign = if !self.campaigns.is_empty() && !r.chance(0.12) {
            Some(r.below(self.campaigns.len() as u64) as u32)
        } else {
            None
        };
        let channel = campaign.map_or(Channel::Direct, |c| self.campaigns[c as usize].channel);
        let click_bits = (r.next_u64(), r.next_u64(), r.next_u64());
        let click_id = (channel == Channel::PaidSearch).then(|| gclid(click_bits));
        let mut lifecycle = match r.below(100) {
            0..=14 => Lifecycle::Subscriber,
            15..=51 => Lifecycle::Lead,
            52..=74 => Lifecycle::MarketingQualifiedLead,
            75..=89 => Lifecycle::SalesQualifiedLead,
            90..=96 => Lifecycle::Opportunity,
            _ => Lifecycle::Customer,
        };
        if let Some(implied) = self.deal_lifecycle.get(&index) {
            lifecycle = lifecycle.max(*implied);
        }
        let email_opt_out = r.chance(0.04);

        let lo = self.slot_start(index);
        let hi = self.slot_start(index + 1);
        let created_ms = r.range(lo, hi);
        let modified_ms = if r.chance(0.35) {
            created_ms + r.range(0, 5_000)
        } else {
            created_ms + r.range(0, MAX_EDIT_MS)
        };
        let trial_start_ms = r
            .chance(0.25)
            .then(|| midnight(created_ms + r.range(0, 14 * DAY_MS)));

        Person {
            index,
            id: PERSON_ID_BASE + index,
            first_name: first,
            last_name: last,
            email,
            job_title,
            phone,
            company,
            company_id: company_ref.id,
            lifecycle,
            campaign,
            channel,
            click_id,
            email_opt_out,
            trial_start_ms,
            created_ms,
            modified_ms,
            archived: false,
        }
    }

    // ----- lookup ------------------------------------------------------------------------

    /// The configuration the world was generated from.
    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    /// Number of live (non-archived) people, including people added by [`World::add_people`].
    pub fn people_count(&self) -> u64 {
        self.people_total() - self.archived.len() as u64
    }

    /// Number of people ever generated or added, archived ones included (the index bound).
    pub fn people_total(&self) -> u64 {
        self.base_people + self.added_people
    }

    /// Person `index` with all edits applied (archived people included, flagged), or `None`
    /// past [`World::people_total`].
    pub fn person(&self, index: u64) -> Option<Person> {
        if index >= self.people_total() {
            return None;
        }
        let mut p = self.gen_person(index);
        if let Some(patch) = self.patches.get(&index) {
            if let Some(l) = patch.lifecycle {
                p.lifecycle = l;
            }
            if let Some(c) = patch.created_ms {
                p.created_ms = c;
            }
            if let Some(m) = patch.modified_ms {
                p.modified_ms = m;
            }
        }
        p.archived = !self.archived.is_empty() && self.archived.contains(&index);
        Some(p)
    }

    /// The person with CRM id `id` (see [`PERSON_ID_BASE`]).
    pub fn person_by_id(&self, id: u64) -> Option<Person> {
        id.checked_sub(PERSON_ID_BASE).and_then(|i| self.person(i))
    }

    /// The first person at or after `index` that is archived (`archived = true`) or live
    /// (`archived = false`).
    pub fn next_person(&self, index: u64, archived: bool) -> Option<Person> {
        if archived {
            let i = *self.archived.range(index..).next()?;
            return self.person(i);
        }
        let mut i = index;
        while i < self.people_total() {
            if self.archived.is_empty() || !self.archived.contains(&i) {
                return self.person(i);
            }
            i += 1;
        }
        None
    }

    /// All live people in index (= id) order.
    pub fn people(&self) -> impl Iterator<Item = Person> + '_ {
        (0..self.people_total())
            .filter(|i| !self.archived.contains(i))
            .filter_map(|i| self.person(i))
    }

    /// Archived people in index order.
    pub fn archived_people(&self) -> impl Iterator<Item = Person> + '_ {
        self.archived.iter().filter_map(|&i| self.person(i))
    }

    /// All companies in index (= id) order.
    pub fn companies(&self) -> &[Company] {
        &self.companies
    }

    /// The company with id `id`.
    pub fn company_by_id(&self, id: u64) -> Option<&Company> {
        let i = id.checked_sub(COMPANY_ID_BASE)?;
        self.companies.get(usize::try_from(i).ok()?)
    }

    /// All deals in index (= id) order.
    pub fn deals(&self) -> &[Deal] {
        &self.deals
    }

    /// The deal with id `id`.
    pub fn deal_by_id(&self, id: u64) -> Option<&Deal> {
        let i = id.checked_sub(DEAL_ID_BASE)?;
        self.deals.get(usize::try_from(i).ok()?)
    }

    /// Deals whose primary contact is person `index`.
    pub fn deals_of_person(&self, index: u64) -> &[u32] {
        self.person_deals.get(&index).map_or(&[], |v| v.as_slice())
    }

    /// All deal owners in index (= id) order.
    pub fn owners(&self) -> &[Owner] {
        &self.owners
    }

    /// All campaigns in index order.
    pub fn campaigns(&self) -> &[Campaign] {
        &self.campaigns
    }

    /// The current mutation-clock time: later than every generated timestamp and equal to the
    /// timestamp of the latest mutation.
    pub fn now(&self) -> DateTime<Utc> {
        ms_to_datetime(self.clock_ms)
    }

    /// [`World::now`] as epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock_ms
    }

    /// Moves the mutation clock forward by `ms` milliseconds.
    pub fn advance_clock(&mut self, ms: i64) {
        self.clock_ms += ms.max(0);
    }

    /// Base-people indices whose generated creation time may lie in `[min, max]`, where each
    /// bound is derived from filters on the creation or modification time. A superset of the
    /// matches among unedited base people; edited and added people come from
    /// [`World::edited_people`].
    pub(crate) fn base_people_in_window(
        &self,
        created_min: Option<i64>,
        created_max: Option<i64>,
    ) -> Range<u64> {
        let n = self.base_people;
        // created(i) lies in [slot_start(i), slot_start(i + 1)].
        let lo = match created_min {
            None => 0,
            Some(min) => partition_point(n, |i| self.slot_start(i + 1) < min),
        };
        let hi = match created_max {
            None => n,
            Some(max) => partition_point(n, |i| self.slot_start(i) <= max),
        };
        lo..hi.max(lo)
    }

    /// Indices of people with edits (touched, added or archived), in no particular order.
    pub(crate) fn edited_people(&self) -> impl Iterator<Item = u64> + '_ {
        self.patches.keys().copied()
    }

    /// Whether person `index` is archived.
    pub(crate) fn is_archived(&self, index: u64) -> bool {
        self.archived.contains(&index)
    }

    // ----- mutation ----------------------------------------------------------------------

    fn tick(&mut self) -> i64 {
        self.clock_ms += TICK_MS;
        self.clock_ms
    }

    fn mutation_rng(&mut self) -> Rng {
        self.mutations += 1;
        Rng::for_entity(self.config.seed, tag::MUTATION, self.mutations)
    }

    /// Chooses up to `count` distinct live people deterministically.
    fn pick_live_people(&mut self, count: usize) -> Vec<u64> {
        let mut r = self.mutation_rng();
        let total = self.people_total();
        let count = (count as u64).min(self.people_count()) as usize;
        let mut chosen = Vec::with_capacity(count);
        if count == 0 {
            return chosen;
        }
        if (count as u64) * 2 <= total {
            let mut seen = HashSet::with_capacity(count);
            while chosen.len() < count {
                let i = r.below(total);
                if !self.archived.contains(&i) && seen.insert(i) {
                    chosen.push(i);
                }
            }
        } else {
            let start = r.below(total);
            for k in 0..total {
                let i = (start + k) % total;
                if !self.archived.contains(&i) {
                    chosen.push(i);
                    if chosen.len() == count {
                        break;
                    }
                }
            }
        }
        chosen
    }

    fn pick_indices(&mut self, count: usize, len: usize) -> Vec<usize> {
        let mut r = self.mutation_rng();
        let count = count.min(len);
        let start = r.below(len as u64) as usize;
        // A stride coprime to len visits distinct indices.
        let stride = coprime_multiplier(len as u64, &mut r) as usize;
        (0..count).map(|k| (start + k * stride) % len).collect()
    }

    /// Edits `count` distinct live people (chosen deterministically): advances their lifecycle
    /// stage and gives each a new, strictly increasing last-modified time from the clock.
    /// Returns their ids in the order they were modified.
    pub fn touch_people(&mut self, count: usize) -> Vec<u64> {
        let chosen = self.pick_live_people(count);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                self.touch_person(i, t)
            })
            .collect()
    }

    /// Like [`World::touch_people`] but every touched person gets the SAME last-modified time
    /// (one clock tick), for cursor tie-break tests. Returns their ids in ascending order.
    pub fn touch_people_at_same_time(&mut self, count: usize) -> Vec<u64> {
        let mut chosen = self.pick_live_people(count);
        chosen.sort_unstable();
        let t = self.tick();
        chosen
            .into_iter()
            .map(|i| self.touch_person(i, t))
            .collect()
    }

    fn touch_person(&mut self, index: u64, t: i64) -> u64 {
        let current = self.person(index).expect("chosen person exists").lifecycle;
        let patch = self.patches.entry(index).or_default();
        patch.lifecycle = Some(current.next());
        patch.modified_ms = Some(t);
        PERSON_ID_BASE + index
    }

    /// Adds `count` new people (with ids after every existing person); each has
    /// created = last-modified = a new clock time. Returns their ids.
    pub fn add_people(&mut self, count: usize) -> Vec<u64> {
        (0..count)
            .map(|_| {
                let index = self.people_total();
                self.added_people += 1;
                let t = self.tick();
                self.patches.insert(
                    index,
                    PersonPatch {
                        lifecycle: None,
                        created_ms: Some(t),
                        modified_ms: Some(t),
                    },
                );
                PERSON_ID_BASE + index
            })
            .collect()
    }

    /// Archives (soft-deletes) `count` distinct live people; their last-modified time (and
    /// archive time) is a new clock time. Returns their ids.
    pub fn archive_people(&mut self, count: usize) -> Vec<u64> {
        let chosen = self.pick_live_people(count);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                self.patches.entry(i).or_default().modified_ms = Some(t);
                self.archived.insert(i);
                PERSON_ID_BASE + i
            })
            .collect()
    }

    /// Edits `count` distinct companies (head count and revenue grow) with new, strictly
    /// increasing last-modified times. Returns their ids in modification order.
    pub fn touch_companies(&mut self, count: usize) -> Vec<u64> {
        let chosen = self.pick_indices(count, self.companies.len());
        let mut r = self.mutation_rng();
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let c = &mut self.companies[i];
                let extra = 1 + r.below(20) as u32;
                c.employees += extra;
                c.annual_revenue += u64::from(extra) * 100_000;
                c.modified_ms = t;
                c.id
            })
            .collect()
    }

    /// Edits `count` distinct deals (open deals advance one stage, closed deals get a 10%
    /// higher amount) with new, strictly increasing last-modified times. Returns their ids in
    /// modification order.
    pub fn touch_deals(&mut self, count: usize) -> Vec<u64> {
        let chosen = self.pick_indices(count, self.deals.len());
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let before = self.deals[i].clone();
                let d = &mut self.deals[i];
                if d.stage.is_closed() {
                    d.amount_cents += d.amount_cents / 10;
                } else {
                    d.stage = d.stage.advance();
                }
                d.modified_ms = t;
                let id = d.id;
                self.deal_changed(&before, t);
                id
            })
            .collect()
    }
}

/// First `i` in `0..n` for which `pred(i)` is false (`pred` must be monotone: true then false).
fn partition_point(n: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A gclid-shaped click id: `Cj0KCQiA` + 30 base64url characters.
fn gclid((a, b, c): (u64, u64, u64)) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(38);
    s.push_str("Cj0KCQiA");
    for mut word in [a, b, c] {
        for _ in 0..10 {
            s.push(ALPHABET[(word & 63) as usize] as char);
            word >>= 6;
        }
    }
    s
}

/// The world shared between the running emulators and a test: an `Arc<RwLock<World>>`.
///
/// Emulators take a read lock per request; tests take the write lock to mutate.
#[derive(Clone, Debug)]
pub struct SharedWorld(Arc<RwLock<World>>);

impl SharedWorld {
    /// Wraps a world for sharing.
    pub fn new(world: World) -> SharedWorld {
        SharedWorld(Arc::new(RwLock::new(world)))
    }

    /// Read access (tolerates a poisoned lock: the world stays consistent per call).
    pub fn read(&self) -> RwLockReadGuard<'_, World> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access, for the mutation API.
    pub fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(people: usize) -> World {
        World::new(WorldConfig {
            people,
            ..WorldConfig::default()
        })
    }

    #[test]
    fn deterministic() {
        let a = world(50);
        let b = world(50);
        assert_eq!(a.companies(), b.companies());
        assert_eq!(a.deals(), b.deals());
        assert_eq!(a.person(17), b.person(17));
        let c = World::new(WorldConfig {
            seed: 7,
            people: 50,
            ..WorldConfig::default()
        });
        assert_ne!(a.person(17).unwrap().email, c.person(17).unwrap().email);
    }

    #[test]
    fn entities_agree() {
        let w = world(2_000);
        let domains: HashSet<_> = w.companies().iter().map(|c| c.domain.clone()).collect();
        assert_eq!(domains.len(), w.companies().len());
        let mut emails = HashSet::new();
        let mut free = 0;
        let mut prev_created = i64::MIN;
        for p in w.people() {
            assert!(emails.insert(p.email.clone()), "duplicate {}", p.email);
            assert!(p.email.is_ascii() && p.email == p.email.to_lowercase());
            let company = &w.companies()[p.company as usize];
            assert_eq!(company.id, p.company_id);
            if p.email_domain() == company.domain {
            } else {
                assert!(FREE_MAIL.contains(&p.email_domain()), "{}", p.email);
                free += 1;
            }
            assert!(p.modified_ms >= p.created_ms);
            assert!(
                p.created_ms > prev_created,
                "created strictly increases with id"
            );
            prev_created = p.created_ms;
            assert!(p.modified_ms < w.now_ms());
            assert!(p.created_ms >= w.config().start.timestamp_millis());
            assert_eq!(p.click_id.is_some(), p.channel == Channel::PaidSearch);
            if let Some(c) = p.campaign {
                assert_eq!(w.campaigns()[c as usize].channel, p.channel);
            }
        }
        assert!(
            (100..300).contains(&free),
            "about 10% free mail, got {free}"
        );
        for d in w.deals() {
            let contact = w.person(d.contact.unwrap()).unwrap();
            assert_eq!(contact.company, d.company);
            assert!(d.created_ms >= contact.created_ms);
            assert!(d.modified_ms >= d.created_ms && d.modified_ms < w.now_ms());
            assert!(
                contact.lifecycle >= Lifecycle::Opportunity || d.stage == DealStage::ClosedLost
            );
        }
        for c in w.companies() {
            assert!(c.modified_ms >= c.created_ms && c.modified_ms < w.now_ms());
        }
        let utm: HashSet<_> = w
            .campaigns()
            .iter()
            .map(|c| c.utm_campaign.clone())
            .collect();
        assert_eq!(utm.len(), w.campaigns().len());
    }

    #[test]
    fn longest_people_span_keeps_sales_active_until_the_clock() {
        let w = World::new(WorldConfig {
            people: 2_000,
            companies: 200,
            deals: 600,
            people_span_days: 10_000, // capped at MAX_PEOPLE_SPAN_DAYS
            ..WorldConfig::default()
        });
        let now = w.now_ms();
        let start = w.config().start.timestamp_millis();
        let last = w.people().last().unwrap();
        assert!(
            last.created_ms > start + 450 * DAY_MS,
            "people sign up for 460 days"
        );
        for p in w.people() {
            assert!(p.modified_ms >= p.created_ms && p.modified_ms < now);
        }
        let mut closed_last_month = 0;
        for d in w.deals() {
            let contact = w.person(d.contact.unwrap()).unwrap();
            assert!(d.created_ms >= contact.created_ms);
            assert!(
                d.modified_ms >= d.created_ms && d.modified_ms < now,
                "{d:?}"
            );
            if d.stage.is_closed() {
                assert!(d.close_ms >= d.created_ms && d.close_ms < now, "{d:?}");
                if d.close_ms > now - 30 * DAY_MS {
                    closed_last_month += 1;
                }
            }
        }
        assert!(
            closed_last_month >= 10,
            "deals keep closing until the clock: {closed_last_month} in the last 30 days"
        );
    }

    #[test]
    fn million_people_are_lazy() {
        let w = world(1_000_000);
        assert_eq!(w.people_count(), 1_000_000);
        let last = w.person(999_999).unwrap();
        assert_eq!(last.id, PERSON_ID_BASE + 999_999);
        assert!(last.created_ms < w.now_ms());
        assert!(w.person(1_000_000).is_none());
        // Emails stay unique across name-combination rounds.
        assert_ne!(
            w.person(5).unwrap().email,
            w.person(5 + 4096).unwrap().email
        );
    }

    #[test]
    fn mutations() {
        let mut w = world(300);
        let t0 = w.now_ms();
        let touched = w.touch_people(10);
        assert_eq!(touched.len(), 10);
        assert_eq!(touched.iter().collect::<HashSet<_>>().len(), 10);
        let mut last = t0;
        for id in &touched {
            let p = w.person_by_id(*id).unwrap();
            assert!(p.modified_ms > last);
            last = p.modified_ms;
        }
        let same = w.touch_people_at_same_time(5);
        let times: HashSet<_> = same
            .iter()
            .map(|id| w.person_by_id(*id).unwrap().modified_ms)
            .collect();
        assert_eq!(times.len(), 1);
        let added = w.add_people(3);
        assert_eq!(w.people_count(), 303);
        assert_eq!(added[0], PERSON_ID_BASE + 300);
        let p = w.person_by_id(added[2]).unwrap();
        assert_eq!(p.created_ms, p.modified_ms);
        let archived = w.archive_people(4);
        assert_eq!(w.people_count(), 299);
        assert_eq!(w.people().count(), 299);
        assert!(
            archived
                .iter()
                .all(|id| w.person_by_id(*id).unwrap().archived)
        );
        let c = w.touch_companies(3);
        assert_eq!(c.len(), 3);
        let d = w.touch_deals(500);
        assert_eq!(d.len(), w.deals().len());
        assert_eq!(d.iter().collect::<HashSet<_>>().len(), d.len());
    }

    #[test]
    fn window_ranges_cover_matches() {
        let w = world(5_000);
        let all: Vec<Person> = w.people().collect();
        let min = all[1_000].modified_ms;
        let max = all[3_000].created_ms;
        let range = w.base_people_in_window(Some(min - MAX_EDIT_MS), Some(max));
        for p in &all {
            if p.modified_ms >= min && p.created_ms <= max {
                assert!(range.contains(&p.index), "{} outside {range:?}", p.index);
            }
        }
        assert!(range.start > 0 && range.end < 5_000);
    }
}
