//! End-to-end truth of the revenue marts: the sandbox world is loaded through every configured
//! connector and the bundled SQL models, and `revops_kpis`, `mrr_movements` and
//! `revenue_funnel` are compared with values computed directly from the world model in Rust
//! (never from the same SQL). Counts and money (as integer cents) must match exactly, rates
//! within 1e-9, and both sides must have the same keys.
//!
//! The contract is `sql/README.md`. Where it needs a definition it does not give, the choice
//! made here is stated beside the code (search for "README is silent").

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Datelike, Months, NaiveDate};
use common::{revline, text};
use revline::config::Config;
use revline_sandbox::world::billing::Currency;
use revline_sandbox::{Channel, DealStage, Lifecycle, Sandbox, SandboxConfig, World, WorldConfig};

const DAY_MS: i64 = 86_400_000;

// ----- calendar helpers ------------------------------------------------------------------

type Month = NaiveDate;

fn month_of_ms(ms: i64) -> Month {
    let d = DateTime::from_timestamp_millis(ms).unwrap().date_naive();
    d.with_day(1).unwrap()
}

fn month_of_day(d: NaiveDate) -> Month {
    d.with_day(1).unwrap()
}

fn month_start_ms(m: Month) -> i64 {
    m.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

fn next_month(m: Month) -> Month {
    m.checked_add_months(Months::new(1)).unwrap()
}

fn prev_month(m: Month) -> Month {
    m.checked_sub_months(Months::new(1)).unwrap()
}

fn months(first: Month, last: Month) -> Vec<Month> {
    let mut out = Vec::new();
    let mut m = first;
    while m <= last {
        out.push(m);
        m = next_month(m);
    }
    out
}

fn ms_to_day(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms).unwrap().date_naive()
}

// ----- the seed channel map ----------------------------------------------------------------

/// `sql/seeds/channel_map.csv` (data, not SQL): `(system, value) -> channel`. Values that the
/// map does not know are `other`, as the staging models do.
struct ChannelMap(HashMap<(String, String), String>);

impl ChannelMap {
    fn load() -> ChannelMap {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/seeds/channel_map.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap()
            .split(',')
            .map(|h| h.split(':').next().unwrap())
            .collect();
        let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
        let (s, v, c) = (col("system"), col("value"), col("channel"));
        let mut map = HashMap::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            map.insert((f[s].to_string(), f[v].to_string()), f[c].to_string());
        }
        ChannelMap(map)
    }

    fn get(&self, system: &str, value: &str) -> String {
        self.0
            .get(&(system.to_string(), value.to_string()))
            .cloned()
            .unwrap_or_else(|| "other".to_string())
    }

    /// The channel of a world person or deal as the CRM renders it: HubSpot's
    /// `hs_analytics_source` code for the world channel (what the HubSpot emulator writes),
    /// mapped back through the seed.
    fn crm(&self, c: Channel) -> String {
        let code = match c {
            Channel::PaidSearch => "PAID_SEARCH",
            Channel::PaidSocial => "PAID_SOCIAL",
            Channel::Organic => "ORGANIC_SEARCH",
            Channel::Email => "EMAIL_MARKETING",
            Channel::Referral => "REFERRALS",
            Channel::Direct => "DIRECT_TRAFFIC",
        };
        self.get("hubspot", code)
    }
}

// ----- money -----------------------------------------------------------------------------

/// `minor` units of `currency` in US cents, exactly: `minor / 10^exponent / per_usd`, rounded
/// half away from zero to a cent (README: each subscription's monthly amount is rounded to
/// cents before it is summed). `per_usd` has at most two decimals, so this is integer math.
fn usd_cents(minor: i64, currency: Currency) -> i64 {
    let hundredths = (currency.per_usd() * 100.0).round() as i128;
    assert!(((hundredths as f64) / 100.0 - currency.per_usd()).abs() < 1e-12);
    let num = i128::from(minor) * 10i128.pow(2 - currency.exponent()) * 100;
    let (q, r) = (num / hundredths, num % hundredths);
    let q = if 2 * r.abs() >= hundredths {
        q + num.signum()
    } else {
        q
    };
    i64::try_from(q).unwrap()
}

// ----- what the lake holds ---------------------------------------------------------------

/// Which kinds of sources feed the models, so the truth knows what the lake can see.
#[derive(Clone, Debug)]
struct Sources {
    /// Ad networks (`utm_source` of world campaigns) whose connector is configured:
    /// `google` (Google Ads), `facebook` (Meta Ads), `linkedin` (LinkedIn Ads), `bing`
    /// (Microsoft Ads).
    ad_networks: Vec<&'static str>,
    /// GA4 configured: web sessions are in the lake.
    sessions: bool,
}

impl Sources {
    fn demo(connectors: &BTreeSet<String>) -> Sources {
        let mut ad_networks = Vec::new();
        if connectors.contains("google_ads") {
            ad_networks.push("google");
        }
        if connectors.contains("meta_ads") {
            ad_networks.push("facebook");
        }
        if connectors.contains("linkedin_ads") {
            ad_networks.push("linkedin");
        }
        if connectors.contains("microsoft_ads") {
            ad_networks.push("bing");
        }
        Sources {
            ad_networks,
            sessions: connectors.contains("ga4"),
        }
    }
}

// ----- the truth -------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq)]
struct MovementRow {
    mrr: i64,
    prior_mrr: i64,
    movement: String,
    amount: i64,
}

#[derive(Clone, Debug, Default)]
struct KpiRow {
    new_mrr: i64,
    expansion_mrr: i64,
    reactivation_mrr: i64,
    contraction_mrr: i64,
    churned_mrr: i64,
    starting_mrr: i64,
    ending_mrr: i64,
    arr: i64,
    customers: i64,
    starting_customers: i64,
    new_customers: i64,
    churned_customers: i64,
    nrr: Option<f64>,
    grr: Option<f64>,
    logo_churn_rate: Option<f64>,
    deals_won: i64,
    deals_lost: i64,
    win_rate: Option<f64>,
    avg_sales_cycle_days: Option<f64>,
    pipeline_created: i64,
    ad_spend: i64,
    /// `ad_spend` by network (`utm_source`), for the report on a mismatch.
    ad_spend_by_network: BTreeMap<&'static str, i64>,
    blended_cac: Option<f64>,
    arpa: Option<f64>,
    ltv: Option<f64>,
    ltv_to_cac: Option<f64>,
    cac_payback_months: Option<f64>,
}

#[derive(Clone, Debug, Default)]
struct FunnelRow {
    sessions: i64,
    leads: i64,
    mqls: i64,
    sqls: i64,
    opportunities: i64,
    won_deals: i64,
    won_amount: i64,
    lead_to_mql_rate: Option<f64>,
    mql_to_sql_rate: Option<f64>,
    sql_to_opportunity_rate: Option<f64>,
    opportunity_to_won_rate: Option<f64>,
    median_days_lead_to_won: Option<f64>,
    /// The same median with the account's people taken by email domain instead of by CRM
    /// company association (free-mail people excluded): reported on a mismatch only.
    alt_median_by_email_domain: Option<f64>,
}

#[derive(Debug, Default)]
struct Truth {
    calendar: Vec<Month>,
    movements: BTreeMap<(Month, String), MovementRow>,
    kpis: BTreeMap<Month, KpiRow>,
    funnel: BTreeMap<(Month, String), FunnelRow>,
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// World deals that share the README's cross-CRM identity `(account_key, lower(deal name),
/// creation day)` with another world deal of the same CRM. README is silent on two deals of
/// ONE CRM with the same identity: the identity is for recognising the same deal in several
/// CRMs (a migration), so here every world deal is its own deal (the demo world, seed 42, has
/// one such pair: "Contoso Analytics – Enterprise Expansion", twice on 2024-03-01), and only
/// the copies other CRMs hold of it are folded into it.
fn deal_identity_twins(w: &World) -> Vec<(u64, u64)> {
    let mut seen = BTreeMap::new();
    let mut twins = Vec::new();
    for d in w.deals() {
        let key = (
            w.companies()[d.company as usize].domain.to_lowercase(),
            d.name.to_lowercase(),
            ms_to_day(d.created_ms),
        );
        if let Some(other) = seen.insert(key, d.id) {
            twins.push((other, d.id));
        }
    }
    twins
}

fn world_truth(w: &World, sources: &Sources, cmap: &ChannelMap) -> Truth {
    let twins = deal_identity_twins(w);
    if !twins.is_empty() {
        eprintln!("world deals sharing a cross-CRM identity (kept apart): {twins:?}");
    }
    let people: Vec<_> = w.people().collect();
    let b = w.billing();

    // ---- Stripe MRR per subscription (monthly prices, interval_count 1, as the emulator
    // renders them; the normalisation of other intervals is not exercised by the world).
    struct Sub {
        account: String,
        start_ms: i64,
        end_ms: Option<i64>,
        cents: i64,
        /// The coupon: (start, end, MRR while it lasts). README: forever and repeating
        /// coupons reduce MRR at a month end they last past.
        discount: Option<(i64, Option<i64>, i64)>,
    }
    let subs: Vec<Sub> = b
        .subscriptions()
        .iter()
        .map(|s| {
            let price = &b.prices()[s.price as usize];
            assert!(price.recurring, "subscription prices are monthly");
            let customer = &b.customers()[s.customer as usize];
            assert!(!customer.deleted);
            // README: the Stripe account is keyed by its customer's email domain.
            let account = customer
                .email
                .rsplit('@')
                .next()
                .unwrap()
                .to_lowercase()
                .trim_start_matches("www.")
                .to_string();
            Sub {
                account,
                start_ms: s.created_ms,
                end_ms: s.canceled_ms,
                cents: usd_cents(price.unit_amount * i64::from(s.quantity), price.currency),
                discount: s.discount.as_ref().map(|d| {
                    let amount = price.unit_amount * i64::from(s.quantity);
                    (
                        d.start_ms,
                        d.end_ms(),
                        usd_cents(amount - d.off(amount), price.currency),
                    )
                }),
            }
        })
        .collect();
    if subs.len() >= 20 {
        // The world's coupons are exercised: forever and repeating ones both appear.
        assert!(
            subs.iter()
                .any(|s| matches!(s.discount, Some((_, None, _))))
        );
        assert!(
            subs.iter()
                .any(|s| matches!(s.discount, Some((_, Some(_), _))))
        );
    }

    // ---- The calendar: the month of the earliest dated record (deal or person created,
    // subscription start, ad spend day, session day) to the month of the latest.
    let mut dated: Vec<i64> = Vec::new();
    dated.extend(people.iter().map(|p| p.created_ms));
    dated.extend(w.deals().iter().map(|d| d.created_ms));
    dated.extend(subs.iter().map(|s| s.start_ms));
    // Marketing days (ads and sessions), from the world's first day to its today.
    let mut spend_by_month: BTreeMap<Month, BTreeMap<&'static str, i64>> = BTreeMap::new();
    let mut sessions: BTreeMap<(Month, String), i64> = BTreeMap::new();
    let campaigns = w.campaigns();
    if !sources.ad_networks.is_empty() || sources.sessions {
        let mut day = w.first_day();
        while day <= w.today() {
            let md = w.marketing_day(day);
            let m = month_of_day(day);
            let day_ms = month_start_ms(day); // midnight of `day`
            let mut spent = 0i64;
            for ad in &md.ads {
                let c = &campaigns[ad.key.campaign as usize];
                if let Some(net) = sources.ad_networks.iter().find(|n| **n == c.utm_source) {
                    // USD accounts; spend is a whole number of cents (cpc is a multiple of
                    // 10,000 micros).
                    assert_eq!(ad.cost_micros % 10_000, 0);
                    let cents = (ad.cost_micros / 10_000) as i64;
                    spent += cents;
                    *spend_by_month.entry(m).or_default().entry(net).or_default() += cents;
                }
            }
            if spent > 0 {
                // README is silent on whether a day whose ad rows all have zero spend is an
                // "ad spend day"; only days with spend count here.
                dated.push(day_ms);
            }
            if sources.sessions {
                for t in &md.traffic {
                    let medium = t
                        .campaign
                        .map_or("(none)", |c| campaigns[c as usize].utm_medium);
                    let channel = cmap.get("utm_medium", medium);
                    if t.sessions > 0 {
                        *sessions.entry((m, channel)).or_default() += t.sessions as i64;
                        dated.push(day_ms);
                    }
                }
            }
            day = day.succ_opt().unwrap();
        }
    }
    let first = month_of_ms(*dated.iter().min().unwrap());
    let last = month_of_ms(*dated.iter().max().unwrap());
    let calendar = months(first, last);

    // ---- MRR at the end of each month: subscriptions started before the next month begins
    // and not ended before it.
    let mut mrr: BTreeMap<(Month, String), i64> = BTreeMap::new();
    let first_sub_month = subs.iter().map(|s| month_of_ms(s.start_ms)).min();
    for &m in &calendar {
        let boundary = month_start_ms(next_month(m));
        for s in &subs {
            if s.start_ms < boundary && s.end_ms.is_none_or(|e| e >= boundary) {
                let cents = match s.discount {
                    Some((start, end, net))
                        if start < boundary && end.is_none_or(|e| e >= boundary) =>
                    {
                        net
                    }
                    _ => s.cents,
                };
                *mrr.entry((m, s.account.clone())).or_default() += cents;
            }
        }
    }
    let mrr_at = |m: Month, a: &str| mrr.get(&(m, a.to_string())).copied().unwrap_or(0);
    let accounts: BTreeSet<String> = subs.iter().map(|s| s.account.clone()).collect();

    let mut movements = BTreeMap::new();
    if let Some(first_sub) = first_sub_month {
        let mut had: BTreeSet<String> = BTreeSet::new();
        for &m in calendar.iter().filter(|m| **m >= first_sub) {
            let pm = prev_month(m);
            for a in &accounts {
                let (cur, prior) = (mrr_at(m, a), mrr_at(pm, a));
                if prior > 0 {
                    had.insert(a.clone());
                }
                if cur == 0 && prior == 0 {
                    continue;
                }
                let movement = if prior == 0 {
                    if had.contains(a) {
                        "reactivation"
                    } else {
                        "new"
                    }
                } else if cur == 0 {
                    "churn"
                } else if cur > prior {
                    "expansion"
                } else if cur < prior {
                    "contraction"
                } else {
                    "unchanged"
                };
                movements.insert(
                    (m, a.clone()),
                    MovementRow {
                        mrr: cur,
                        prior_mrr: prior,
                        movement: movement.to_string(),
                        amount: cur - prior,
                    },
                );
            }
            for a in &accounts {
                if mrr_at(m, a) > 0 {
                    had.insert(a.clone());
                }
            }
        }
    }

    // ---- Deals and people by month.
    let mut kpis: BTreeMap<Month, KpiRow> = BTreeMap::new();
    let mut prev_ending = 0i64;
    for &m in &calendar {
        let mut k = KpiRow::default();
        let rows: Vec<&MovementRow> = movements
            .range((m, String::new())..)
            .take_while(|((mm, _), _)| *mm == m)
            .map(|(_, r)| r)
            .collect();
        let (mut cohort_mrr, mut cohort_prior, mut cohort_min) = (0i64, 0i64, 0i64);
        for r in &rows {
            match r.movement.as_str() {
                "new" => {
                    k.new_mrr += r.amount;
                    k.new_customers += 1;
                }
                "expansion" => k.expansion_mrr += r.amount,
                "reactivation" => k.reactivation_mrr += r.amount,
                "contraction" => k.contraction_mrr -= r.amount,
                "churn" => {
                    k.churned_mrr -= r.amount;
                    k.churned_customers += 1;
                }
                _ => {}
            }
            k.ending_mrr += r.mrr;
            if r.mrr > 0 {
                k.customers += 1;
            }
            if r.prior_mrr > 0 {
                k.starting_customers += 1;
                cohort_mrr += r.mrr;
                cohort_prior += r.prior_mrr;
                cohort_min += r.mrr.min(r.prior_mrr);
            }
        }
        // README: starting_mrr = the previous month's ending_mrr. README is silent on the first
        // calendar month (no previous row): 0 here, as nothing was billed before the data's
        // first month.
        k.starting_mrr = prev_ending;
        prev_ending = k.ending_mrr;
        k.arr = 12 * k.ending_mrr;
        k.nrr = ratio(cohort_mrr as f64, cohort_prior as f64);
        k.grr = ratio(cohort_min as f64, cohort_prior as f64);
        k.logo_churn_rate = ratio(k.churned_customers as f64, k.starting_customers as f64);

        let won: Vec<_> = w
            .deals()
            .iter()
            .filter(|d| d.stage == DealStage::ClosedWon && month_of_ms(d.close_ms) == m)
            .collect();
        k.deals_won = won.len() as i64;
        k.deals_lost = w
            .deals()
            .iter()
            .filter(|d| d.stage == DealStage::ClosedLost && month_of_ms(d.close_ms) == m)
            .count() as i64;
        k.win_rate = ratio(k.deals_won as f64, (k.deals_won + k.deals_lost) as f64);
        // README is silent on the unit's precision: (closed − created) in fractional days of the
        // timestamps (not whole calendar days).
        k.avg_sales_cycle_days = (!won.is_empty()).then(|| {
            won.iter()
                .map(|d| (d.close_ms - d.created_ms) as f64 / DAY_MS as f64)
                .sum::<f64>()
                / won.len() as f64
        });
        k.pipeline_created = w
            .deals()
            .iter()
            .filter(|d| month_of_ms(d.created_ms) == m)
            .map(|d| d.amount_cents as i64)
            .sum();
        k.ad_spend_by_network = spend_by_month.get(&m).cloned().unwrap_or_default();
        k.ad_spend = k.ad_spend_by_network.values().sum();
        let usd = |c: i64| c as f64 / 100.0;
        k.blended_cac = ratio(usd(k.ad_spend), k.new_customers as f64);
        k.arpa = ratio(usd(k.ending_mrr), k.customers as f64);
        // README: ltv = arpa ÷ logo_churn_rate, capped at 60 × arpa (also when churn is 0).
        // README is silent when logo_churn_rate is null (no starting customers): null here, as
        // every ratio with a null denominator.
        k.ltv = match (k.arpa, k.logo_churn_rate) {
            (Some(arpa), Some(rate)) if rate > 0.0 => Some((arpa / rate).min(60.0 * arpa)),
            (Some(arpa), Some(_)) => Some(60.0 * arpa),
            _ => None,
        };
        k.ltv_to_cac = match (k.ltv, k.blended_cac) {
            (Some(l), Some(c)) => ratio(l, c),
            _ => None,
        };
        k.cac_payback_months = match (k.blended_cac, k.arpa) {
            (Some(c), Some(a)) => ratio(c, a),
            _ => None,
        };
        kpis.insert(m, k);
    }

    // ---- The funnel.
    let mut funnel: BTreeMap<(Month, String), FunnelRow> = BTreeMap::new();
    for ((m, ch), s) in &sessions {
        funnel.entry((*m, ch.clone())).or_default().sessions += s;
    }
    for p in &people {
        let r = funnel
            .entry((month_of_ms(p.created_ms), cmap.crm(p.channel)))
            .or_default();
        r.leads += 1;
        // README: "now at least marketing-qualified / sales-qualified" in funnel order
        // (subscriber < lead < MQL < SQL < opportunity < customer).
        if p.lifecycle >= Lifecycle::MarketingQualifiedLead {
            r.mqls += 1;
        }
        if p.lifecycle >= Lifecycle::SalesQualifiedLead {
            r.sqls += 1;
        }
    }
    // The account's first person. README is silent on how people belong to an account: here
    // by the CRM's company association (HubSpot associatedcompanyid), which includes people
    // with free-mail addresses; the email-domain reading is computed too, for the report.
    let mut first_person: HashMap<u32, i64> = HashMap::new();
    let mut first_by_domain: HashMap<u32, i64> = HashMap::new();
    for p in &people {
        let e = first_person.entry(p.company).or_insert(p.created_ms);
        *e = (*e).min(p.created_ms);
        if p.email_domain() == w.companies()[p.company as usize].domain {
            let e = first_by_domain.entry(p.company).or_insert(p.created_ms);
            *e = (*e).min(p.created_ms);
        }
    }
    let mut lead_to_won: BTreeMap<(Month, String), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for d in w.deals() {
        let ch = cmap.crm(d.channel);
        funnel
            .entry((month_of_ms(d.created_ms), ch.clone()))
            .or_default()
            .opportunities += 1;
        if d.stage == DealStage::ClosedWon {
            let key = (month_of_ms(d.close_ms), ch);
            let r = funnel.entry(key.clone()).or_default();
            r.won_deals += 1;
            r.won_amount += d.amount_cents as i64;
            let e = lead_to_won.entry(key).or_default();
            e.0.push((d.close_ms - first_person[&d.company]) as f64 / DAY_MS as f64);
            if let Some(f) = first_by_domain.get(&d.company) {
                e.1.push((d.close_ms - f) as f64 / DAY_MS as f64);
            }
        }
    }
    for (key, r) in funnel.iter_mut() {
        r.lead_to_mql_rate = ratio(r.mqls as f64, r.leads as f64);
        r.mql_to_sql_rate = ratio(r.sqls as f64, r.mqls as f64);
        r.sql_to_opportunity_rate = ratio(r.opportunities as f64, r.sqls as f64);
        r.opportunity_to_won_rate = ratio(r.won_deals as f64, r.opportunities as f64);
        if let Some((a, b)) = lead_to_won.get(key) {
            r.median_days_lead_to_won = median(a.clone());
            r.alt_median_by_email_domain = median(b.clone());
        }
    }
    // README: rows where every count is 0 are left out (none are created above).

    Truth {
        calendar,
        movements,
        kpis,
        funnel,
    }
}

// ----- reading the marts -----------------------------------------------------------------

/// A mart as rows of column name -> displayed value (`None` for null).
type Rows = Vec<BTreeMap<String, Option<String>>>;

fn read_mart(config: &Config, sql: &str) -> Rows {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let lake = config.lake.open().unwrap();
        let batches = revline::query::query(config, &lake, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut rows = Vec::new();
        let opts = arrow::util::display::FormatOptions::default();
        for b in &batches {
            let schema = b.schema();
            let fmts: Vec<_> = b
                .columns()
                .iter()
                .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
                .collect();
            for i in 0..b.num_rows() {
                let mut row = BTreeMap::new();
                for (j, f) in fmts.iter().enumerate() {
                    let v = (!b.column(j).is_null(i)).then(|| f.value(i).to_string());
                    row.insert(schema.field(j).name().clone(), v);
                }
                rows.push(row);
            }
        }
        rows
    })
}

/// Mismatches between a mart and the truth, collected so one run reports all of them.
#[derive(Default)]
struct Diff(Vec<String>);

impl Diff {
    fn push(&mut self, s: String) {
        self.0.push(s);
    }

    fn get<'r>(
        &mut self,
        row: &'r BTreeMap<String, Option<String>>,
        what: &str,
        col: &str,
    ) -> Option<&'r str> {
        match row.get(col) {
            Some(v) => v.as_deref(),
            None => {
                self.push(format!("{what}: no column `{col}`"));
                None
            }
        }
    }

    fn count(&mut self, row: &BTreeMap<String, Option<String>>, what: &str, col: &str, want: i64) {
        if !row.contains_key(col) {
            self.push(format!("{what}: no column `{col}`"));
            return;
        }
        let got = self
            .get(row, what, col)
            .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
        if got != Some(want as f64) {
            self.push(format!("{what}.{col}: model {got:?}, world {want}"));
        }
    }

    /// Money compared as integer cents.
    fn money(&mut self, row: &BTreeMap<String, Option<String>>, what: &str, col: &str, want: i64) {
        if !row.contains_key(col) {
            self.push(format!("{what}: no column `{col}`"));
            return;
        }
        let got = self.get(row, what, col).map(|v| v.parse::<f64>());
        match got {
            Some(Ok(x)) if (x * 100.0).round() as i64 == want => {}
            other => self.push(format!(
                "{what}.{col}: model {other:?}, world {}.{:02} USD",
                want / 100,
                (want % 100).abs()
            )),
        }
    }

    fn rate(
        &mut self,
        row: &BTreeMap<String, Option<String>>,
        what: &str,
        col: &str,
        want: Option<f64>,
    ) {
        self.rate_noted(row, what, col, want, "");
    }

    fn rate_noted(
        &mut self,
        row: &BTreeMap<String, Option<String>>,
        what: &str,
        col: &str,
        want: Option<f64>,
        note: &str,
    ) {
        if !row.contains_key(col) {
            self.push(format!("{what}: no column `{col}`"));
            return;
        }
        let got = self
            .get(row, what, col)
            .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
        let ok = match (got, want) {
            (None, None) => true,
            (Some(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            _ => false,
        };
        if !ok {
            self.push(format!("{what}.{col}: model {got:?}, world {want:?}{note}"));
        }
    }

    fn text(&mut self, row: &BTreeMap<String, Option<String>>, what: &str, col: &str, want: &str) {
        let got = self.get(row, what, col);
        if got != Some(want) {
            self.push(format!("{what}.{col}: model {got:?}, world {want:?}"));
        }
    }

    fn assert_empty(&self, context: &str) {
        if !self.0.is_empty() {
            let shown: Vec<&str> = self.0.iter().take(80).map(|s| s.as_str()).collect();
            panic!(
                "{context}: {} mismatch(es) between the models and the world:\n  {}{}",
                self.0.len(),
                shown.join("\n  "),
                if self.0.len() > 80 { "\n  …" } else { "" }
            );
        }
    }
}

fn month_col(row: &BTreeMap<String, Option<String>>) -> Month {
    let v = row
        .get("month")
        .and_then(|v| v.clone())
        .expect("a month column");
    NaiveDate::parse_from_str(&v[..10], "%Y-%m-%d").unwrap_or_else(|e| panic!("month {v}: {e}"))
}

fn text_col(row: &BTreeMap<String, Option<String>>, col: &str) -> String {
    row.get(col)
        .and_then(|v| v.clone())
        .unwrap_or_else(|| panic!("a `{col}` column"))
}

fn check_movements(config: &Config, truth: &Truth, diff: &mut Diff) {
    let rows = read_mart(config, "SELECT * FROM mrr_movements");
    let mut seen = BTreeSet::new();
    for row in &rows {
        let key = (month_col(row), text_col(row, "account_key"));
        let what = format!("mrr_movements[{} {}]", key.0, key.1);
        if !seen.insert(key.clone()) {
            diff.push(format!("{what}: duplicate row"));
            continue;
        }
        let Some(t) = truth.movements.get(&key) else {
            diff.push(format!("{what}: row not in the world ({row:?})"));
            continue;
        };
        diff.money(row, &what, "mrr", t.mrr);
        diff.money(row, &what, "prior_mrr", t.prior_mrr);
        diff.money(row, &what, "amount", t.amount);
        diff.text(row, &what, "movement", &t.movement);
    }
    for (key, t) in &truth.movements {
        if !seen.contains(key) {
            diff.push(format!(
                "mrr_movements[{} {}]: missing (world: {t:?})",
                key.0, key.1
            ));
        }
    }
}

fn check_kpis(config: &Config, truth: &Truth, diff: &mut Diff) {
    let rows = read_mart(config, "SELECT * FROM revops_kpis");
    let mut seen = BTreeSet::new();
    for row in &rows {
        let m = month_col(row);
        let what = format!("revops_kpis[{m}]");
        if !seen.insert(m) {
            diff.push(format!("{what}: duplicate row"));
            continue;
        }
        let Some(t) = truth.kpis.get(&m) else {
            diff.push(format!(
                "{what}: month outside the world's calendar {}..{}",
                truth.calendar[0],
                truth.calendar.last().unwrap()
            ));
            continue;
        };
        for (col, v) in [
            ("new_mrr", t.new_mrr),
            ("expansion_mrr", t.expansion_mrr),
            ("reactivation_mrr", t.reactivation_mrr),
            ("contraction_mrr", t.contraction_mrr),
            ("churned_mrr", t.churned_mrr),
            ("starting_mrr", t.starting_mrr),
            ("ending_mrr", t.ending_mrr),
            ("arr", t.arr),
            ("pipeline_created", t.pipeline_created),
        ] {
            diff.money(row, &what, col, v);
        }
        let before = diff.0.len();
        diff.money(row, &what, "ad_spend", t.ad_spend);
        if diff.0.len() > before {
            let by: Vec<String> = t
                .ad_spend_by_network
                .iter()
                .map(|(n, c)| format!("{n} {}.{:02}", c / 100, c % 100))
                .collect();
            diff.0
                .last_mut()
                .unwrap()
                .push_str(&format!(" ({})", by.join(", ")));
        }
        for (col, v) in [
            ("customers", t.customers),
            ("starting_customers", t.starting_customers),
            ("new_customers", t.new_customers),
            ("churned_customers", t.churned_customers),
            ("deals_won", t.deals_won),
            ("deals_lost", t.deals_lost),
        ] {
            diff.count(row, &what, col, v);
        }
        for (col, v) in [
            ("nrr", t.nrr),
            ("grr", t.grr),
            ("logo_churn_rate", t.logo_churn_rate),
            ("win_rate", t.win_rate),
            ("avg_sales_cycle_days", t.avg_sales_cycle_days),
            ("blended_cac", t.blended_cac),
            ("arpa", t.arpa),
            ("ltv", t.ltv),
            ("ltv_to_cac", t.ltv_to_cac),
            ("cac_payback_months", t.cac_payback_months),
        ] {
            diff.rate(row, &what, col, v);
        }
    }
    for m in &truth.calendar {
        if !seen.contains(m) {
            diff.push(format!("revops_kpis[{m}]: calendar month missing"));
        }
    }
}

fn check_funnel(config: &Config, truth: &Truth, diff: &mut Diff) {
    let rows = read_mart(config, "SELECT * FROM revenue_funnel");
    let mut seen = BTreeSet::new();
    for row in &rows {
        let key = (month_col(row), text_col(row, "channel"));
        let what = format!("revenue_funnel[{} {}]", key.0, key.1);
        if !seen.insert(key.clone()) {
            diff.push(format!("{what}: duplicate row"));
            continue;
        }
        let Some(t) = truth.funnel.get(&key) else {
            diff.push(format!("{what}: row not in the world ({row:?})"));
            continue;
        };
        for (col, v) in [
            ("sessions", t.sessions),
            ("leads", t.leads),
            ("mqls", t.mqls),
            ("sqls", t.sqls),
            ("opportunities", t.opportunities),
            ("won_deals", t.won_deals),
        ] {
            diff.count(row, &what, col, v);
        }
        diff.money(row, &what, "won_amount", t.won_amount);
        for (col, v) in [
            ("lead_to_mql_rate", t.lead_to_mql_rate),
            ("mql_to_sql_rate", t.mql_to_sql_rate),
            ("sql_to_opportunity_rate", t.sql_to_opportunity_rate),
            ("opportunity_to_won_rate", t.opportunity_to_won_rate),
        ] {
            diff.rate(row, &what, col, v);
        }
        diff.rate_noted(
            row,
            &what,
            "median_days_lead_to_won",
            t.median_days_lead_to_won,
            &format!(
                " (by company association; by email domain the world gives {:?})",
                t.alt_median_by_email_domain
            ),
        );
    }
    for (key, t) in &truth.funnel {
        if !seen.contains(key) {
            diff.push(format!(
                "revenue_funnel[{} {}]: missing (world: {t:?})",
                key.0, key.1
            ));
        }
    }
}

// ----- running the pipeline --------------------------------------------------------------

/// Writes `revline.toml` with `sections` (TOML `[sources.*]` text) into `dir`, runs
/// `revline run` (load, then the models) and returns the loaded config.
fn run_pipeline(dir: &Path, sections: &str) -> (Config, Option<String>) {
    let cfg = dir.join("revline.toml");
    let lake = dir.join("lake");
    std::fs::write(
        &cfg,
        format!("[lake]\npath = \"{}\"\n\n{sections}", lake.display()),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .current_dir(dir)
        .output()
        .unwrap();
    let mut log = text(&out);
    // A failed load skips the models: build them anyway so the marts are still compared,
    // and report the load failure with the mismatches.
    let failure = (out.status.code() != Some(0)).then(|| {
        let failed: Vec<&str> = log.lines().filter(|l| l.contains("FAILED")).collect();
        format!(
            "revline run exited {:?}: {}",
            out.status.code(),
            failed.join("; ")
        )
    });
    if failure.is_some() {
        let out = revline()
            .arg("--config")
            .arg(&cfg)
            .arg("models")
            .current_dir(dir)
            .output()
            .unwrap();
        log = text(&out);
        assert_eq!(out.status.code(), Some(0), "revline models failed:\n{log}");
    }
    eprintln!(
        "revline run: {:.1}s\n{}",
        started.elapsed().as_secs_f64(),
        log.lines()
            .filter(|l| l.starts_with("model "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    (Config::load(&cfg).unwrap(), failure)
}

fn demo_sources(sb: &Sandbox, dir: &Path, keep: impl Fn(&str) -> bool) -> (String, Sources) {
    let sources: Vec<_> = revline_sandbox::demo::vendor_sources(sb, dir)
        .unwrap()
        .into_iter()
        // Emulated vendors whose connector is not registered yet are left out.
        .filter(|s| revline::registry::find(s.connector).is_some() && keep(s.connector))
        .collect();
    let connectors: BTreeSet<String> = sources.iter().map(|s| s.connector.to_string()).collect();
    (
        revline_sandbox::demo::sources_toml(&sources),
        Sources::demo(&connectors),
    )
}

const MARTS: [&str; 8] = [
    "mrr_movements",
    "revops_kpis",
    "revenue_funnel",
    "sales_pipeline",
    "unified_accounts",
    "marketing_attribution",
    "customer_health",
    "revops_bottlenecks",
];

fn count(config: &Config, sql: &str) -> i64 {
    let rows = read_mart(config, sql);
    rows[0]
        .values()
        .next()
        .unwrap()
        .as_ref()
        .unwrap()
        .parse()
        .unwrap()
}

// ----- the tests -------------------------------------------------------------------------

/// The demo world through every connector `revline demo` configures, then the models: the
/// three revenue marts equal the world's own numbers.
#[test]
fn demo_world_marts_match_the_world() {
    let sb = Sandbox::start(SandboxConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sections, sources) = demo_sources(&sb, dir.path(), |_| true);
    assert!(sources.ad_networks.starts_with(&["google", "facebook"]));
    assert!(sources.sessions);
    let (config, failure) = run_pipeline(dir.path(), &sections);

    let world = sb.world();
    let w = world.read();
    let truth = world_truth(&w, &sources, &ChannelMap::load());
    // The world is not trivial: the checks below would catch real mistakes.
    assert!(truth.calendar.len() >= 12, "{:?}", truth.calendar);
    let kinds: BTreeSet<&str> = truth
        .movements
        .values()
        .map(|r| r.movement.as_str())
        .collect();
    assert!(
        kinds.contains("new") && kinds.contains("churn"),
        "movements in the world: {kinds:?}"
    );
    assert!(
        truth
            .kpis
            .values()
            .any(|k| k.ad_spend > 0 && k.deals_won > 0)
    );
    assert!(truth.funnel.values().any(|f| f.sessions > 0 && f.leads > 0));

    let mut diff = Diff::default();
    check_movements(&config, &truth, &mut diff);
    check_kpis(&config, &truth, &mut diff);
    check_funnel(&config, &truth, &mut diff);
    if let Some(f) = failure {
        diff.push(f);
    }
    // Zendesk, Freshdesk and Intercom render the same tickets: the support model keeps each
    // live ticket once (from Zendesk, the preferred helpdesk), with the world's CSAT.
    let live = w.support().live_tickets().count() as i64;
    let rated = w
        .support()
        .live_tickets()
        .filter(|t| t.csat.is_some())
        .count() as i64;
    for (sql, want) in [
        ("SELECT COUNT(*) FROM int_tickets", live),
        (
            "SELECT COUNT(*) FROM int_tickets WHERE source_system = 'zendesk'",
            live,
        ),
        ("SELECT COUNT(*) FROM stg_intercom_conversations", live),
        ("SELECT COUNT(csat) FROM int_tickets", rated),
    ] {
        let got = count(&config, sql);
        if got != want {
            diff.push(format!("{sql}: {got}, the world says {want}"));
        }
    }
    check_landing_pages(&config, &w, &mut diff);
    diff.assert_empty("demo world");
}

/// `landing_page_performance` against the world's page days: per month and page, the sums of
/// sessions, engaged sessions, new users, key events and revenue (in cents), and each month's
/// ranks by sessions.
fn check_landing_pages(config: &Config, w: &World, diff: &mut Diff) {
    type PageMonth = [i64; 5];
    let mut truth: BTreeMap<(Month, String), PageMonth> = BTreeMap::new();
    let mut day = w.first_day();
    while day <= w.today() {
        for p in &w.marketing_day(day).pages {
            let t = truth
                .entry((month_of_day(day), w.landing_page_path(p.page)))
                .or_default();
            for (i, v) in [
                p.sessions,
                p.engaged_sessions,
                p.new_users,
                p.key_events,
                p.revenue_cents,
            ]
            .into_iter()
            .enumerate()
            {
                t[i] += v as i64;
            }
        }
        day = day.succ_opt().unwrap();
    }
    assert!(
        truth.values().any(|t| t[3] > 0 && t[4] > 0),
        "key events and revenue in the world"
    );
    let rows = read_mart(
        config,
        "SELECT month, landing_page, sessions, engaged_sessions, new_users, key_events, \
                CAST(round(revenue * 100) AS BIGINT) AS revenue_cents, rank \
         FROM landing_page_performance",
    );
    let mut seen = BTreeSet::new();
    for row in &rows {
        let key = (month_col(row), text_col(row, "landing_page"));
        let what = format!("landing_page_performance[{} {}]", key.0, key.1);
        if !seen.insert(key.clone()) {
            diff.push(format!("{what}: duplicate row"));
            continue;
        }
        let Some(t) = truth.get(&key) else {
            diff.push(format!("{what}: row not in the world ({row:?})"));
            continue;
        };
        for (i, col) in [
            "sessions",
            "engaged_sessions",
            "new_users",
            "key_events",
            "revenue_cents",
        ]
        .into_iter()
        .enumerate()
        {
            diff.count(row, &what, col, t[i]);
        }
        // Rank 1 is the month's page with the most sessions (ties by path).
        let rank = truth
            .iter()
            .filter(|((m, path), o)| {
                *m == key.0 && (o[0] > t[0] || (o[0] == t[0] && path.as_str() < key.1.as_str()))
            })
            .count() as i64
            + 1;
        diff.count(row, &what, "rank", rank);
    }
    for key in truth.keys() {
        if !seen.contains(key) {
            diff.push(format!(
                "landing_page_performance[{} {}]: missing",
                key.0, key.1
            ));
        }
    }
}

/// A company with only HubSpot and Stripe: every mart builds, the funnel has no sessions and
/// the KPIs no ad spend, and MRR still matches the world.
#[test]
fn hubspot_and_stripe_only() {
    let sb = Sandbox::start(SandboxConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sections, sources) = demo_sources(&sb, dir.path(), |c| c == "hubspot" || c == "stripe");
    assert!(sources.ad_networks.is_empty() && !sources.sessions);
    let (config, failure) = run_pipeline(dir.path(), &sections);
    assert_eq!(failure, None);

    for mart in MARTS {
        // Each mart exists (an empty one is fine where its sources are absent).
        count(&config, &format!("SELECT COUNT(*) AS n FROM {mart}"));
    }
    let world = sb.world();
    let w = world.read();
    let truth = world_truth(&w, &sources, &ChannelMap::load());
    assert!(truth.funnel.values().all(|f| f.sessions == 0));
    assert!(truth.kpis.values().all(|k| k.ad_spend == 0));
    let mut diff = Diff::default();
    check_movements(&config, &truth, &mut diff);
    check_kpis(&config, &truth, &mut diff);
    check_funnel(&config, &truth, &mut diff);
    diff.assert_empty("HubSpot + Stripe only");
}

/// Two HubSpot portals (two worlds with different seeds): `hubspot.deals` unions both with
/// `_source`, and `sales_pipeline` has one row per deal of both portals.
#[test]
fn two_hubspot_portals() {
    let a = Sandbox::start(SandboxConfig::default()).unwrap();
    let b = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            seed: 7,
            companies: 25,
            people: 250,
            deals: 70,
            ..WorldConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let section = |name: &str, sb: &Sandbox| {
        format!(
            "[sources.{name}]\nconnector = \"hubspot\"\nbase_url = \"{}\"\ntoken = \"{}\"\n\n",
            sb.hubspot_url(),
            sb.hubspot_token()
        )
    };
    let sections = format!("{}{}", section("portal_eu", &a), section("portal_us", &b));
    let (config, failure) = run_pipeline(dir.path(), &sections);
    assert_eq!(failure, None);

    let (na, nb) = (
        a.world().read().deals().len() as i64,
        b.world().read().deals().len() as i64,
    );
    // No deal of one portal shares the cross-CRM identity with a deal of the other (within
    // one portal, see `deal_identity_twins`).
    let mut ids = BTreeSet::new();
    for sb in [&a, &b] {
        let w = sb.world();
        let w = w.read();
        let keys: BTreeSet<_> = w
            .deals()
            .iter()
            .map(|d| {
                (
                    w.companies()[d.company as usize].domain.clone(),
                    d.name.to_lowercase(),
                    ms_to_day(d.created_ms),
                )
            })
            .collect();
        assert!(ids.is_disjoint(&keys));
        ids.extend(keys);
    }
    let by_source = read_mart(
        &config,
        "SELECT _source, COUNT(*) AS n FROM hubspot.deals GROUP BY _source ORDER BY _source",
    );
    let by_source: Vec<(String, i64)> = by_source
        .iter()
        .map(|r| (text_col(r, "_source"), text_col(r, "n").parse().unwrap()))
        .collect();
    assert_eq!(
        by_source,
        [("portal_eu".to_string(), na), ("portal_us".to_string(), nb)]
    );
    assert_eq!(
        count(&config, "SELECT COUNT(*) AS n FROM sales_pipeline"),
        na + nb
    );
    assert_eq!(
        count(
            &config,
            "SELECT COUNT(DISTINCT deal_key) AS n FROM sales_pipeline"
        ),
        na + nb
    );
    // Each deal keeps its portal in its key: `<system>:<source>:<id>`.
    let keys = read_mart(&config, "SELECT deal_key FROM sales_pipeline");
    let mut per_portal: BTreeMap<String, i64> = BTreeMap::new();
    for r in &keys {
        let k = text_col(r, "deal_key");
        let parts: Vec<&str> = k.splitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{k}");
        assert_eq!(parts[0], "hubspot", "{k}");
        *per_portal.entry(parts[1].to_string()).or_default() += 1;
    }
    assert_eq!(
        per_portal.into_iter().collect::<Vec<_>>(),
        [("portal_eu".to_string(), na), ("portal_us".to_string(), nb)]
    );
}
