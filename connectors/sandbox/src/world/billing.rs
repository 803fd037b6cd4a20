//! Billing: what the world's customers pay. Vendor-neutral (the Stripe emulator renders it).
//!
//! Every company with a won deal is a billing customer. Each won deal of a recurring product
//! becomes a subscription billed monthly from shortly after the close: the twelve invoices of
//! the first contract year add up exactly to the deal amount (the remainder of the division
//! by twelve is a one-time "true-up" line on the first invoice). A won one-time deal
//! (`Onboarding Services`) is a single invoice. Paid invoices have a succeeded charge; a few
//! subscriptions are past due (the last charge failed), a few are canceled, a few charges are
//! refunded. Customers pay in their company's currency at fixed rates (a few through a
//! Japanese entity in JPY, a zero-decimal currency).
//!
//! Everything is generated once from the seed (sizes are proportional to the won deals) and
//! stored in creation order, so lists ordered by creation time and windows on it are cheap.
//! Mutations (below) append objects at the world clock and record an event per change, with
//! a snapshot of the object as it was right after the change, like a billing system's event
//! log.

use chrono::Months;

use super::entities::ms_to_datetime;
use super::names::DEAL_PRODUCTS;
use super::rng::Rng;
use super::{DAY_MS, Deal, DealStage, World};

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// Random streams of billing generation and mutation (separate from every other entity's).
mod tag {
    pub const ACCOUNT: u64 = 101;
    pub const SUBSCRIPTION: u64 = 102;
    pub const INVOICE: u64 = 103;
    pub const REFUND: u64 = 104;
    pub const MUTATION: u64 = 105;
    pub const DISCOUNT: u64 = 106;
}

/// A currency customers pay in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Currency {
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
    /// Canadian dollar.
    Cad,
    /// Swiss franc.
    Chf,
    /// Brazilian real.
    Brl,
    /// Australian dollar.
    Aud,
    /// Singapore dollar.
    Sgd,
    /// Indian rupee.
    Inr,
    /// Japanese yen (zero-decimal: amounts are whole yen).
    Jpy,
}

impl Currency {
    /// Lower-case ISO 4217 code, e.g. `usd`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "usd",
            Currency::Eur => "eur",
            Currency::Gbp => "gbp",
            Currency::Cad => "cad",
            Currency::Chf => "chf",
            Currency::Brl => "brl",
            Currency::Aud => "aud",
            Currency::Sgd => "sgd",
            Currency::Inr => "inr",
            Currency::Jpy => "jpy",
        }
    }

    /// Digits after the decimal point of the currency's minor unit (0 for JPY, else 2).
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    /// Units of this currency per US dollar (fixed rates of the world).
    pub fn per_usd(self) -> f64 {
        match self {
            Currency::Usd => 1.0,
            Currency::Eur => 0.92,
            Currency::Gbp => 0.79,
            Currency::Cad => 1.36,
            Currency::Chf => 0.88,
            Currency::Brl => 5.0,
            Currency::Aud => 1.52,
            Currency::Sgd => 1.35,
            Currency::Inr => 83.0,
            Currency::Jpy => 150.0,
        }
    }

    /// A US-dollar amount in cents, converted to this currency's minor units (rounded).
    pub fn from_usd_cents(self, cents: u64) -> i64 {
        let major_usd = cents as f64 / 100.0;
        let minor = major_usd * self.per_usd() * 10f64.powi(self.exponent() as i32);
        minor.round() as i64
    }

    /// The currency a company in `country` is billed in.
    fn for_country(country: &str) -> Currency {
        match country {
            "Canada" => Currency::Cad,
            "United Kingdom" => Currency::Gbp,
            "Ireland" | "Germany" | "France" | "Netherlands" => Currency::Eur,
            "Switzerland" => Currency::Chf,
            "Brazil" => Currency::Brl,
            "Australia" => Currency::Aud,
            "Singapore" => Currency::Sgd,
            "India" => Currency::Inr,
            _ => Currency::Usd,
        }
    }
}

/// A product of the catalog (one per deal product).
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// Position in [`Billing::products`].
    pub index: u32,
    /// Name, e.g. `Platform Annual`.
    pub name: &'static str,
    /// Whether it is sold as a monthly subscription (else one-time).
    pub recurring: bool,
    /// Yearly list price in whole US dollars.
    pub list_price: u64,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
    /// Description (changes when the product is touched).
    pub description: String,
}

/// A price: a catalog list price (US dollars) or a deal's negotiated price.
#[derive(Clone, Debug, PartialEq)]
pub struct Price {
    /// Position in [`Billing::prices`].
    pub index: u32,
    /// Product index.
    pub product: u32,
    /// Currency.
    pub currency: Currency,
    /// Amount per unit in minor units (per month for recurring prices).
    pub unit_amount: i64,
    /// Monthly recurring (else one-time).
    pub recurring: bool,
    /// Catalog list price (else a deal-specific price).
    pub list: bool,
    /// The deal a negotiated price was made for.
    pub deal: Option<u32>,
    /// Creation time (epoch ms).
    pub created_ms: i64,
}

/// A paying company.
#[derive(Clone, Debug, PartialEq)]
pub struct BillingCustomer {
    /// Position in [`Billing::customers`].
    pub index: u32,
    /// Company index.
    pub company: u32,
    /// Billing contact (person index), the primary contact of the first won deal.
    pub contact: Option<u64>,
    /// Billing email.
    pub email: String,
    /// Currency the customer pays in.
    pub currency: Currency,
    /// Has an unpaid, overdue invoice.
    pub delinquent: bool,
    /// Deleted (hidden from lists).
    pub deleted: bool,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
}

/// Status of a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// Paying.
    Active,
    /// The latest invoice's payment failed.
    PastDue,
    /// Ended.
    Canceled,
}

impl SubscriptionStatus {
    /// Snake-case name (`active`, `past_due`, `canceled`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
        }
    }
}

/// A monthly subscription made from a won deal.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// Position in [`Billing::subscriptions`].
    pub index: u32,
    /// Customer index.
    pub customer: u32,
    /// The won deal.
    pub deal: u32,
    /// Price index (the deal's negotiated monthly price).
    pub price: u32,
    /// Seats.
    pub quantity: u32,
    /// Status.
    pub status: SubscriptionStatus,
    /// Start (= creation) time (epoch ms); periods are calendar months from it.
    pub created_ms: i64,
    /// When it was canceled.
    pub canceled_ms: Option<i64>,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
    /// One-time amount added to the first invoice so twelve invoices equal the deal amount.
    pub true_up: i64,
    /// The most recent invoice.
    pub latest_invoice: Option<u32>,
    /// The coupon applied to the subscription, if any.
    pub discount: Option<Discount>,
}

/// A subscription's discount: a coupon taking a percentage or a fixed amount off each of its
/// monthly invoices (the subscription line, not the one-time contract adjustment), forever
/// or for its first months.
#[derive(Clone, Debug, PartialEq)]
pub struct Discount {
    /// Coupon number (`coupon_<n>` in Stripe ids); coupons are shared across subscriptions.
    pub coupon: u32,
    /// Percent off (whole percent), or `None` for an amount off.
    pub percent_off: Option<u32>,
    /// Amount off each invoice in the subscription's currency (minor units), for an
    /// amount-off coupon.
    pub amount_off: Option<i64>,
    /// Months it lasts (`repeating`), or `None` for `forever`.
    pub months: Option<u32>,
    /// When it was applied (the subscription's start).
    pub start_ms: i64,
}

impl Discount {
    /// When it ends (`start` plus its months), or `None` for a forever coupon.
    pub fn end_ms(&self) -> Option<i64> {
        self.months.map(|m| add_months(self.start_ms, m))
    }

    /// Whether it applies at `at_ms` (a period start or a month boundary).
    pub fn applies_at(&self, at_ms: i64) -> bool {
        self.start_ms <= at_ms && self.end_ms().is_none_or(|e| at_ms < e)
    }

    /// What it takes off `amount` (minor units): the percentage rounded half up to a minor
    /// unit, or the fixed amount (never more than `amount`).
    pub fn off(&self, amount: i64) -> i64 {
        match (self.percent_off, self.amount_off) {
            (Some(p), _) => (amount * i64::from(p) + 50).div_euclid(100),
            (None, Some(a)) => a.min(amount),
            (None, None) => 0,
        }
    }
}

/// The coupons of the world: (percent off, months); percent 0 means an amount off of a
/// tenth of the price.
const COUPONS: [(u32, Option<u32>); 4] = [(10, None), (25, Some(3)), (0, None), (15, Some(6))];

/// Status of an invoice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvoiceStatus {
    /// Finalized, awaiting payment.
    Open,
    /// Paid.
    Paid,
    /// Voided.
    Void,
}

impl InvoiceStatus {
    /// Lower-case name (`open`, `paid`, `void`).
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }
}

/// An invoice: one billing period of a subscription, or a one-time deal.
#[derive(Clone, Debug, PartialEq)]
pub struct Invoice {
    /// Position in [`Billing::invoices`].
    pub index: u32,
    /// Customer index.
    pub customer: u32,
    /// Subscription index (`None` for one-time invoices).
    pub subscription: Option<u32>,
    /// The deal billed.
    pub deal: u32,
    /// Billing period number of the subscription (0 = first).
    pub period: u32,
    /// Period start (epoch ms).
    pub period_start_ms: i64,
    /// Period end (epoch ms).
    pub period_end_ms: i64,
    /// Status.
    pub status: InvoiceStatus,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// When it was paid.
    pub paid_ms: Option<i64>,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
    /// Payment attempts.
    pub attempts: u32,
    /// The last charge.
    pub charge: Option<u32>,
    /// A note added by a mutation (`None` when untouched).
    pub note: Option<String>,
    /// Amount of a one-time invoice in minor units (0 for subscription invoices).
    pub one_time_amount: i64,
}

/// One line of an invoice (derived, not stored).
#[derive(Clone, Debug, PartialEq)]
pub struct InvoiceLine {
    /// Line number within the invoice (0-based).
    pub number: u32,
    /// Amount in minor units.
    pub amount: i64,
    /// Price index.
    pub price: u32,
    /// Quantity.
    pub quantity: u32,
    /// The subscription charge for the period (else a one-time item).
    pub subscription_line: bool,
    /// Description.
    pub description: String,
}

/// Status of a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChargeStatus {
    /// Paid.
    Succeeded,
    /// Declined.
    Failed,
}

/// A card payment of an invoice.
#[derive(Clone, Debug, PartialEq)]
pub struct Charge {
    /// Position in [`Billing::charges`].
    pub index: u32,
    /// Invoice index.
    pub invoice: u32,
    /// Customer index.
    pub customer: u32,
    /// Amount in minor units.
    pub amount: i64,
    /// Amount refunded so far.
    pub refunded: i64,
    /// Status.
    pub status: ChargeStatus,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
}

/// A (full or partial) refund of a charge.
#[derive(Clone, Debug, PartialEq)]
pub struct Refund {
    /// Position in [`Billing::refunds`].
    pub index: u32,
    /// Charge index.
    pub charge: u32,
    /// Amount in minor units.
    pub amount: i64,
    /// Reason (`requested_by_customer` or `duplicate`).
    pub reason: &'static str,
    /// Creation time (epoch ms).
    pub created_ms: i64,
}

/// The object an event carries, as it was right after the change.
#[derive(Clone, Debug, PartialEq)]
pub enum EventObject {
    /// A product.
    Product(Product),
    /// A price.
    Price(Price),
    /// A customer.
    Customer(BillingCustomer),
    /// A subscription.
    Subscription(Subscription),
    /// An invoice.
    Invoice(Invoice),
    /// A charge.
    Charge(Charge),
    /// A refund.
    Refund(Refund),
}

/// A change recorded by a mutation.
#[derive(Clone, Debug, PartialEq)]
pub struct BillingEvent {
    /// Position in [`Billing::events`] (creation order).
    pub index: u32,
    /// Type, e.g. `customer.updated`, `invoice.paid`, `customer.subscription.deleted`.
    pub kind: &'static str,
    /// When it happened (epoch ms).
    pub created_ms: i64,
    /// The object after the change.
    pub object: EventObject,
}

/// Everything billed, in creation order per kind.
#[derive(Clone, Debug, Default)]
pub struct Billing {
    products: Vec<Product>,
    prices: Vec<Price>,
    customers: Vec<BillingCustomer>,
    subscriptions: Vec<Subscription>,
    invoices: Vec<Invoice>,
    charges: Vec<Charge>,
    refunds: Vec<Refund>,
    events: Vec<BillingEvent>,
    /// Company index -> customer index.
    by_company: std::collections::HashMap<u32, u32>,
    mutations: u64,
}

/// Calendar months after `ms` (day clamped to the month's length).
fn add_months(ms: i64, months: u32) -> i64 {
    ms_to_datetime(ms)
        .checked_add_months(Months::new(months))
        .expect("dates in range")
        .timestamp_millis()
}

/// The catalog product of a deal, from its name (`Company – Product`).
pub(crate) fn deal_product(deal: &Deal) -> u32 {
    let name = deal.name.rsplit(" – ").next().unwrap_or("");
    DEAL_PRODUCTS
        .iter()
        .position(|(p, _)| *p == name)
        .unwrap_or(0) as u32
}

fn is_recurring(product: u32) -> bool {
    DEAL_PRODUCTS[product as usize].0 != "Onboarding Services"
}

/// Sorts `items` by creation time (stable) and returns `old index -> new index`.
fn sort_by_created<T>(items: &mut Vec<T>, created: impl Fn(&T) -> i64) -> Vec<u32> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| created(&items[i]));
    let mut remap = vec![0u32; items.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old] = new as u32;
    }
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    for &old in &order {
        items.push(slots[old].take().expect("each item moved once"));
    }
    remap
}

impl Billing {
    /// Generates billing for `world`'s won deals, up to the world clock.
    pub(crate) fn generate(world: &World) -> Billing {
        let seed = world.config.seed;
        let now = world.clock_ms;
        let start = world.start_ms;
        let mut b = Billing::default();
        for (i, (name, list_price)) in DEAL_PRODUCTS.iter().enumerate() {
            let created = start - 120 * DAY_MS + i as i64 * 3 * HOUR_MS;
            b.products.push(Product {
                index: i as u32,
                name,
                recurring: is_recurring(i as u32),
                list_price: *list_price,
                created_ms: created,
                modified_ms: created,
                description: format!("{name} plan"),
            });
            let yearly = Currency::Usd.from_usd_cents(list_price * 100);
            b.prices.push(Price {
                index: i as u32,
                product: i as u32,
                currency: Currency::Usd,
                unit_amount: if is_recurring(i as u32) {
                    yearly / 12
                } else {
                    yearly
                },
                recurring: is_recurring(i as u32),
                list: true,
                deal: None,
                created_ms: created + MINUTE_MS,
            });
        }

        // Customers: companies with a won deal, created shortly after the first win.
        let won: Vec<&Deal> = world
            .deals
            .iter()
            .filter(|d| d.stage == DealStage::ClosedWon && d.close_ms < now)
            .collect();
        let mut first_win: std::collections::BTreeMap<u32, &Deal> = Default::default();
        for d in &won {
            let e = first_win.entry(d.company).or_insert(d);
            if d.close_ms < e.close_ms {
                *e = d;
            }
        }
        for (&company, first) in &first_win {
            b.customers
                .push(new_customer(world, seed, company, first, None));
        }
        let remap = sort_by_created(&mut b.customers, |c| c.created_ms);
        for (i, c) in b.customers.iter_mut().enumerate() {
            c.index = i as u32;
            b.by_company.insert(c.company, i as u32);
        }
        let _ = remap;

        // Subscriptions and one-time invoices, one per won deal.
        let mut one_time: Vec<(u32, u32, i64)> = Vec::new(); // (deal, customer, created)
        for d in &won {
            let customer = b.by_company[&d.company];
            let product = deal_product(d);
            let mut r = Rng::for_entity(seed, tag::SUBSCRIPTION, u64::from(d.index));
            let created = (d.close_ms + r.range(HOUR_MS, 2 * DAY_MS))
                .max(b.customers[customer as usize].created_ms + MINUTE_MS);
            if created >= now {
                continue;
            }
            if !is_recurring(product) {
                one_time.push((d.index, customer, created));
                continue;
            }
            let currency = b.customers[customer as usize].currency;
            let total = currency.from_usd_cents(d.amount_cents);
            let unit = total / 12;
            let price = b.prices.len() as u32;
            b.prices.push(Price {
                index: price,
                product,
                currency,
                unit_amount: unit,
                recurring: true,
                list: false,
                deal: Some(d.index),
                created_ms: created - 2_000,
            });
            let mut status = SubscriptionStatus::Active;
            let mut canceled_ms = None;
            if r.chance(0.12) {
                let at = add_months(created, 3 + r.below(9) as u32) - r.range(DAY_MS, 10 * DAY_MS);
                if at < now {
                    status = SubscriptionStatus::Canceled;
                    canceled_ms = Some(at);
                }
            }
            // About one subscription in five carries a coupon (its own random stream, so
            // the rest of the world is the same with or without discounts).
            let mut rd = Rng::for_entity(seed, tag::DISCOUNT, u64::from(d.index));
            let discount = rd.chance(0.2).then(|| {
                let coupon = rd.below(COUPONS.len() as u64) as u32;
                let (percent, months) = COUPONS[coupon as usize];
                Discount {
                    coupon,
                    percent_off: (percent > 0).then_some(percent),
                    amount_off: (percent == 0).then_some((unit / 10).max(1)),
                    months,
                    start_ms: created,
                }
            });
            b.subscriptions.push(Subscription {
                index: 0,
                customer,
                deal: d.index,
                price,
                quantity: 1,
                status,
                created_ms: created,
                canceled_ms,
                modified_ms: canceled_ms.unwrap_or(created),
                true_up: total - unit * 12,
                latest_invoice: None,
                discount,
            });
        }
        let price_remap = sort_by_created(&mut b.prices, |p| p.created_ms);
        for (i, p) in b.prices.iter_mut().enumerate() {
            p.index = i as u32;
        }
        for s in &mut b.subscriptions {
            s.price = price_remap[s.price as usize];
        }
        sort_by_created(&mut b.subscriptions, |s| s.created_ms);
        for (i, s) in b.subscriptions.iter_mut().enumerate() {
            s.index = i as u32;
        }

        // Invoices: monthly periods of each subscription until the clock; one-time deals.
        let mut fails: Vec<bool> = Vec::with_capacity(b.subscriptions.len());
        for s in &b.subscriptions {
            let mut r = Rng::for_entity(seed, tag::INVOICE, u64::from(s.deal));
            let fail_last = r.chance(0.05);
            fails.push(fail_last);
            let end = s.canceled_ms.unwrap_or(now);
            let mut k = 0u32;
            loop {
                let period_start = add_months(s.created_ms, k);
                if period_start >= end {
                    break;
                }
                let created = period_start + r.range(0, 5_000);
                if created >= now {
                    break;
                }
                let paid = created + r.range(MINUTE_MS, 6 * HOUR_MS);
                b.invoices.push(Invoice {
                    index: 0,
                    customer: s.customer,
                    subscription: Some(s.index),
                    deal: s.deal,
                    period: k,
                    period_start_ms: period_start,
                    period_end_ms: add_months(s.created_ms, k + 1),
                    status: if paid < now {
                        InvoiceStatus::Paid
                    } else {
                        InvoiceStatus::Open
                    },
                    created_ms: created,
                    paid_ms: (paid < now).then_some(paid),
                    modified_ms: if paid < now { paid } else { created },
                    attempts: u32::from(paid < now),
                    charge: None,
                    note: None,
                    one_time_amount: 0,
                });
                k += 1;
            }
        }
        for (deal, customer, created) in one_time {
            let mut r = Rng::for_entity(seed, tag::INVOICE, u64::from(deal));
            let amount = b.customers[customer as usize]
                .currency
                .from_usd_cents(world.deals[deal as usize].amount_cents);
            let paid = created + r.range(MINUTE_MS, 6 * HOUR_MS);
            b.invoices.push(Invoice {
                index: 0,
                customer,
                subscription: None,
                deal,
                period: 0,
                period_start_ms: created,
                period_end_ms: created,
                status: if paid < now {
                    InvoiceStatus::Paid
                } else {
                    InvoiceStatus::Open
                },
                created_ms: created,
                paid_ms: (paid < now).then_some(paid),
                modified_ms: if paid < now { paid } else { created },
                attempts: u32::from(paid < now),
                charge: None,
                note: None,
                one_time_amount: amount,
            });
        }
        sort_by_created(&mut b.invoices, |i| i.created_ms);
        for (i, inv) in b.invoices.iter_mut().enumerate() {
            inv.index = i as u32;
        }
        // The last invoice of a few subscriptions fails: past due, delinquent customer.
        let mut last_of: Vec<Option<u32>> = vec![None; b.subscriptions.len()];
        for inv in &b.invoices {
            if let Some(s) = inv.subscription {
                last_of[s as usize] = Some(inv.index);
                b.subscriptions[s as usize].latest_invoice = Some(inv.index);
            }
        }
        for (s, last) in last_of.iter().enumerate() {
            if let (true, Some(i)) = (fails[s], last)
                && b.subscriptions[s].status == SubscriptionStatus::Active
                && b.invoices[*i as usize].status == InvoiceStatus::Paid
            {
                let inv = &mut b.invoices[*i as usize];
                inv.status = InvoiceStatus::Open;
                inv.paid_ms = None;
                b.subscriptions[s].status = SubscriptionStatus::PastDue;
                b.subscriptions[s].modified_ms = inv.modified_ms;
                let c = b.subscriptions[s].customer as usize;
                b.customers[c].delinquent = true;
                b.customers[c].modified_ms = b.customers[c].modified_ms.max(inv.modified_ms);
            }
        }

        // Charges: one per attempted invoice.
        for inv in &b.invoices {
            if inv.attempts == 0 {
                continue;
            }
            let amount = b.invoice_total(inv);
            let (status, created) = match inv.paid_ms {
                Some(p) => (ChargeStatus::Succeeded, p - 1_000),
                None => (ChargeStatus::Failed, inv.modified_ms - 1_000),
            };
            b.charges.push(Charge {
                index: 0,
                invoice: inv.index,
                customer: inv.customer,
                amount,
                refunded: 0,
                status,
                created_ms: created,
                modified_ms: created,
            });
        }
        sort_by_created(&mut b.charges, |c| c.created_ms);
        for (i, c) in b.charges.iter_mut().enumerate() {
            c.index = i as u32;
            b.invoices[c.invoice as usize].charge = Some(i as u32);
        }

        // Refunds of a few succeeded charges.
        for c in &b.charges {
            let mut r = Rng::for_entity(seed, tag::REFUND, u64::from(c.invoice));
            if c.status != ChargeStatus::Succeeded || !r.chance(0.04) {
                continue;
            }
            let created = c.created_ms + r.range(DAY_MS, 25 * DAY_MS);
            if created >= now {
                continue;
            }
            let (amount, reason) = if r.chance(0.5) {
                (c.amount, "requested_by_customer")
            } else {
                (c.amount / 2, "duplicate")
            };
            b.refunds.push(Refund {
                index: 0,
                charge: c.index,
                amount,
                reason,
                created_ms: created,
            });
        }
        sort_by_created(&mut b.refunds, |r| r.created_ms);
        for (i, r) in b.refunds.iter_mut().enumerate() {
            r.index = i as u32;
            let c = &mut b.charges[r.charge as usize];
            c.refunded += r.amount;
            c.modified_ms = c.modified_ms.max(r.created_ms);
        }
        b
    }

    /// Catalog products in creation order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }
    /// Prices in creation order.
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }
    /// Customers in creation order (deleted ones included, flagged).
    pub fn customers(&self) -> &[BillingCustomer] {
        &self.customers
    }
    /// Subscriptions in creation order.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }
    /// Invoices in creation order.
    pub fn invoices(&self) -> &[Invoice] {
        &self.invoices
    }
    /// Charges in creation order.
    pub fn charges(&self) -> &[Charge] {
        &self.charges
    }
    /// Refunds in creation order.
    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }
    /// Events recorded by mutations, oldest first.
    pub fn events(&self) -> &[BillingEvent] {
        &self.events
    }
    /// The customer of company `company`, if it pays.
    pub fn customer_of_company(&self, company: u32) -> Option<&BillingCustomer> {
        self.by_company
            .get(&company)
            .map(|&i| &self.customers[i as usize])
    }

    /// The lines of an invoice: the period's subscription line (plus the true-up on the
    /// first invoice), or the one-time item.
    pub fn invoice_lines(&self, inv: &Invoice) -> Vec<InvoiceLine> {
        match inv.subscription {
            Some(s) => {
                let s = &self.subscriptions[s as usize];
                let price = &self.prices[s.price as usize];
                let product = self.products[price.product as usize].name;
                let mut lines = vec![InvoiceLine {
                    number: 0,
                    amount: price.unit_amount * i64::from(s.quantity),
                    price: price.index,
                    quantity: s.quantity,
                    subscription_line: true,
                    description: format!("{} × {product} (monthly)", s.quantity),
                }];
                if inv.period == 0 && s.true_up != 0 {
                    lines.push(InvoiceLine {
                        number: 1,
                        amount: s.true_up,
                        price: price.index,
                        quantity: 1,
                        subscription_line: false,
                        description: format!("{product}: contract rounding adjustment"),
                    });
                }
                lines
            }
            None => {
                let customer = &self.customers[inv.customer as usize];
                let product = self
                    .products
                    .iter()
                    .find(|p| !p.recurring)
                    .expect("a one-time product");
                vec![InvoiceLine {
                    number: 0,
                    amount: inv.one_time_amount,
                    price: product.index,
                    quantity: 1,
                    subscription_line: false,
                    description: format!("{} for {}", product.name, customer.email),
                }]
            }
        }
    }

    /// The invoice's total in minor units: the sum of its lines less its discount.
    pub fn invoice_total(&self, inv: &Invoice) -> i64 {
        self.invoice_lines(inv)
            .iter()
            .map(|l| l.amount)
            .sum::<i64>()
            - self.invoice_discount(inv)
    }

    /// What the subscription's coupon takes off the invoice (minor units): its subscription
    /// line, when the discount applies at the start of the invoice's period.
    pub fn invoice_discount(&self, inv: &Invoice) -> i64 {
        let Some(s) = inv.subscription else { return 0 };
        let s = &self.subscriptions[s as usize];
        match &s.discount {
            Some(d) if d.applies_at(inv.period_start_ms) => {
                let price = &self.prices[s.price as usize];
                d.off(price.unit_amount * i64::from(s.quantity))
            }
            _ => 0,
        }
    }
}

fn new_customer(
    world: &World,
    seed: u64,
    company: u32,
    first: &Deal,
    at: Option<i64>,
) -> BillingCustomer {
    let mut r = Rng::for_entity(seed, tag::ACCOUNT, u64::from(company));
    let c = &world.companies[company as usize];
    let currency = if r.chance(0.125) {
        Currency::Jpy
    } else {
        Currency::for_country(c.country)
    };
    let contact = first.contact;
    let email = contact
        .and_then(|p| world.person(p))
        .map(|p| p.email)
        .filter(|e| e.ends_with(&c.domain))
        .unwrap_or_else(|| format!("billing@{}", c.domain));
    let created = at.unwrap_or_else(|| first.close_ms + r.range(10 * MINUTE_MS, 3 * HOUR_MS));
    BillingCustomer {
        index: 0,
        company,
        contact,
        email,
        currency,
        delinquent: false,
        deleted: false,
        created_ms: created,
        modified_ms: created,
    }
}

// ----- mutation ------------------------------------------------------------------------------

impl Billing {
    fn record(&mut self, kind: &'static str, created_ms: i64, object: EventObject) {
        let index = self.events.len() as u32;
        self.events.push(BillingEvent {
            index,
            kind,
            created_ms,
            object,
        });
    }

    fn rng(&mut self, seed: u64) -> Rng {
        self.mutations += 1;
        Rng::for_entity(seed, tag::MUTATION, self.mutations)
    }

    /// Up to `count` distinct indices of `0..len` for which `ok` holds, chosen from a random
    /// start with a stride coprime to `len`.
    fn pick(
        &mut self,
        seed: u64,
        len: usize,
        count: usize,
        ok: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        if len == 0 || count == 0 {
            return Vec::new();
        }
        let mut r = self.rng(seed);
        let start = r.below(len as u64) as usize;
        let stride = super::coprime_multiplier(len as u64, &mut r) as usize;
        (0..len)
            .map(|k| (start + k * stride) % len)
            .filter(|&i| ok(i))
            .take(count)
            .collect()
    }

    fn live_subscription(&self, i: usize) -> bool {
        let s = &self.subscriptions[i];
        s.status != SubscriptionStatus::Canceled && !self.customers[s.customer as usize].deleted
    }

    /// Adds the succeeded payment of invoice `inv` at `t` and records `charge.succeeded` and
    /// `invoice.paid`.
    fn pay(&mut self, inv: usize, t: i64) {
        let amount = self.invoice_total(&self.invoices[inv]);
        let charge = Charge {
            index: self.charges.len() as u32,
            invoice: inv as u32,
            customer: self.invoices[inv].customer,
            amount,
            refunded: 0,
            status: ChargeStatus::Succeeded,
            created_ms: t,
            modified_ms: t,
        };
        self.charges.push(charge.clone());
        self.record("charge.succeeded", t, EventObject::Charge(charge));
        let i = &mut self.invoices[inv];
        i.status = InvoiceStatus::Paid;
        i.paid_ms = Some(t);
        i.attempts += 1;
        i.charge = Some(self.charges.len() as u32 - 1);
        i.modified_ms = t;
        let snapshot = i.clone();
        self.record("invoice.paid", t, EventObject::Invoice(snapshot));
        if let Some(s) = self.invoices[inv].subscription {
            let s = &mut self.subscriptions[s as usize];
            if s.status == SubscriptionStatus::PastDue {
                s.status = SubscriptionStatus::Active;
                s.modified_ms = t;
                let snapshot = s.clone();
                self.record(
                    "customer.subscription.updated",
                    t,
                    EventObject::Subscription(snapshot),
                );
            }
        }
    }

    /// Opens invoice period `period` of subscription `s` at `t` (`invoice.created`).
    fn open_invoice(&mut self, s: usize, period: u32, t: i64) -> usize {
        let sub = &self.subscriptions[s];
        let inv = Invoice {
            index: self.invoices.len() as u32,
            customer: sub.customer,
            subscription: Some(s as u32),
            deal: sub.deal,
            period,
            period_start_ms: add_months(sub.created_ms, period),
            period_end_ms: add_months(sub.created_ms, period + 1),
            status: InvoiceStatus::Open,
            created_ms: t,
            paid_ms: None,
            modified_ms: t,
            attempts: 0,
            charge: None,
            note: None,
            one_time_amount: 0,
        };
        self.invoices.push(inv.clone());
        self.subscriptions[s].latest_invoice = Some(inv.index);
        self.record("invoice.created", t, EventObject::Invoice(inv));
        self.invoices.len() - 1
    }
}

impl World {
    /// Everything billed: customers, subscriptions, invoices, charges, refunds, the catalog
    /// and the event log of billing mutations.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    /// Called when a deal becomes won at `t`: the company becomes (or stays) a customer, the
    /// deal becomes a subscription (or a one-time invoice) whose first invoice is paid at once.
    pub(crate) fn billing_on_deal_won(&mut self, deal: u32, t: i64) {
        let d = self.deals[deal as usize].clone();
        let seed = self.config.seed;
        let customer = match self.billing.by_company.get(&d.company) {
            Some(&c) => c,
            None => {
                let mut c = new_customer(self, seed, d.company, &d, Some(t));
                c.index = self.billing.customers.len() as u32;
                self.billing.by_company.insert(d.company, c.index);
                self.billing.customers.push(c.clone());
                self.billing
                    .record("customer.created", t, EventObject::Customer(c));
                self.billing.customers.len() as u32 - 1
            }
        };
        let b = &mut self.billing;
        let product = deal_product(&d);
        let currency = b.customers[customer as usize].currency;
        let total = currency.from_usd_cents(d.amount_cents);
        if !is_recurring(product) {
            let inv = Invoice {
                index: b.invoices.len() as u32,
                customer,
                subscription: None,
                deal,
                period: 0,
                period_start_ms: t,
                period_end_ms: t,
                status: InvoiceStatus::Open,
                created_ms: t,
                paid_ms: None,
                modified_ms: t,
                attempts: 0,
                charge: None,
                note: None,
                one_time_amount: total,
            };
            b.invoices.push(inv.clone());
            b.record("invoice.created", t, EventObject::Invoice(inv));
            b.pay(b.invoices.len() - 1, t);
            return;
        }
        let unit = total / 12;
        let price = Price {
            index: b.prices.len() as u32,
            product,
            currency,
            unit_amount: unit,
            recurring: true,
            list: false,
            deal: Some(deal),
            created_ms: t,
        };
        b.prices.push(price.clone());
        b.record("price.created", t, EventObject::Price(price));
        let sub = Subscription {
            index: b.subscriptions.len() as u32,
            customer,
            deal,
            price: b.prices.len() as u32 - 1,
            quantity: 1,
            status: SubscriptionStatus::Active,
            created_ms: t,
            canceled_ms: None,
            modified_ms: t,
            true_up: total - unit * 12,
            latest_invoice: None,
            discount: None,
        };
        b.subscriptions.push(sub.clone());
        b.record(
            "customer.subscription.created",
            t,
            EventObject::Subscription(sub),
        );
        let inv = b.open_invoice(b.subscriptions.len() - 1, 0, t);
        b.pay(inv, t);
    }

    /// Changes the billing email of `count` live customers (`customer.updated`). Returns
    /// their indices in [`Billing::customers`].
    pub fn touch_billing_customers(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.customers.len();
        let chosen = {
            let b = &self.billing;
            let live: Vec<bool> = b.customers.iter().map(|c| !c.deleted).collect();
            self.billing.pick(seed, len, count, |i| live[i])
        };
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let domain = self.companies[self.billing.customers[i].company as usize]
                    .domain
                    .clone();
                let n = self.billing.mutations;
                let c = &mut self.billing.customers[i];
                c.email = format!("accounts-payable+{n}@{domain}");
                c.modified_ms = t;
                let snapshot = c.clone();
                self.billing
                    .record("customer.updated", t, EventObject::Customer(snapshot));
                i as u32
            })
            .collect()
    }

    /// Deletes `count` live customers (`customer.deleted`); their live subscriptions are
    /// canceled (`customer.subscription.deleted`). Returns their indices.
    pub fn delete_billing_customers(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.customers.len();
        let live: Vec<bool> = self.billing.customers.iter().map(|c| !c.deleted).collect();
        let chosen = self.billing.pick(seed, len, count, |i| live[i]);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let b = &mut self.billing;
                for s in 0..b.subscriptions.len() {
                    if b.subscriptions[s].customer == i as u32 && b.live_subscription(s) {
                        let sub = &mut b.subscriptions[s];
                        sub.status = SubscriptionStatus::Canceled;
                        sub.canceled_ms = Some(t);
                        sub.modified_ms = t;
                        let snapshot = sub.clone();
                        b.record(
                            "customer.subscription.deleted",
                            t,
                            EventObject::Subscription(snapshot),
                        );
                    }
                }
                let c = &mut b.customers[i];
                c.deleted = true;
                c.modified_ms = t;
                let snapshot = c.clone();
                b.record("customer.deleted", t, EventObject::Customer(snapshot));
                i as u32
            })
            .collect()
    }

    /// Adds a seat to `count` live subscriptions (`customer.subscription.updated`). Returns
    /// their indices.
    pub fn update_subscriptions(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.subscriptions.len();
        let live: Vec<bool> = (0..len)
            .map(|i| self.billing.live_subscription(i))
            .collect();
        let chosen = self.billing.pick(seed, len, count, |i| live[i]);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let s = &mut self.billing.subscriptions[i];
                s.quantity += 1;
                s.modified_ms = t;
                let snapshot = s.clone();
                self.billing.record(
                    "customer.subscription.updated",
                    t,
                    EventObject::Subscription(snapshot),
                );
                i as u32
            })
            .collect()
    }

    /// Cancels `count` live subscriptions (`customer.subscription.deleted`). Returns their
    /// indices.
    pub fn cancel_subscriptions(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.subscriptions.len();
        let live: Vec<bool> = (0..len)
            .map(|i| self.billing.live_subscription(i))
            .collect();
        let chosen = self.billing.pick(seed, len, count, |i| live[i]);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let s = &mut self.billing.subscriptions[i];
                s.status = SubscriptionStatus::Canceled;
                s.canceled_ms = Some(t);
                s.modified_ms = t;
                let snapshot = s.clone();
                self.billing.record(
                    "customer.subscription.deleted",
                    t,
                    EventObject::Subscription(snapshot),
                );
                i as u32
            })
            .collect()
    }

    /// Bills the next period of `count` live subscriptions now: a new invoice
    /// (`invoice.created`), paid at once (`charge.succeeded`, `invoice.paid`). Returns the new
    /// invoices' indices.
    pub fn issue_invoices(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.subscriptions.len();
        let live: Vec<bool> = (0..len)
            .map(|i| self.billing.live_subscription(i))
            .collect();
        let chosen = self.billing.pick(seed, len, count, |i| live[i]);
        chosen
            .into_iter()
            .map(|s| {
                let t = self.tick();
                let b = &mut self.billing;
                let next = b
                    .invoices
                    .iter()
                    .filter(|inv| inv.subscription == Some(s as u32))
                    .map(|inv| inv.period + 1)
                    .max()
                    .unwrap_or(0);
                let inv = b.open_invoice(s, next, t);
                b.pay(inv, t);
                inv as u32
            })
            .collect()
    }

    /// Changes `count` invoices: an open invoice is paid (`charge.succeeded`,
    /// `invoice.paid`); another gets a note (`invoice.updated`). Returns their indices.
    pub fn touch_invoices(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.invoices.len();
        let chosen = self.billing.pick(seed, len, count, |_| true);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let b = &mut self.billing;
                if b.invoices[i].status == InvoiceStatus::Open {
                    b.pay(i, t);
                    let c = b.invoices[i].customer as usize;
                    let still_due = b
                        .invoices
                        .iter()
                        .any(|inv| inv.customer as usize == c && inv.status == InvoiceStatus::Open);
                    if b.customers[c].delinquent && !still_due {
                        b.customers[c].delinquent = false;
                        b.customers[c].modified_ms = t;
                        let snapshot = b.customers[c].clone();
                        b.record("customer.updated", t, EventObject::Customer(snapshot));
                    }
                } else {
                    let inv = &mut b.invoices[i];
                    inv.note = Some(format!("Reviewed by finance (change {})", b.mutations));
                    inv.modified_ms = t;
                    let snapshot = inv.clone();
                    b.record("invoice.updated", t, EventObject::Invoice(snapshot));
                }
                i as u32
            })
            .collect()
    }

    /// Refunds what is left of `count` succeeded charges (`refund.created`,
    /// `charge.refunded`). Returns the new refunds' indices.
    pub fn refund_charges(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.charges.len();
        let ok: Vec<bool> = self
            .billing
            .charges
            .iter()
            .map(|c| c.status == ChargeStatus::Succeeded && c.refunded < c.amount)
            .collect();
        let chosen = self.billing.pick(seed, len, count, |i| ok[i]);
        chosen
            .into_iter()
            .map(|c| {
                let t = self.tick();
                let b = &mut self.billing;
                let ch = &mut b.charges[c];
                let refund = Refund {
                    index: b.refunds.len() as u32,
                    charge: c as u32,
                    amount: ch.amount - ch.refunded,
                    reason: "requested_by_customer",
                    created_ms: t,
                };
                ch.refunded = ch.amount;
                ch.modified_ms = t;
                let snapshot = ch.clone();
                b.refunds.push(refund.clone());
                b.record("refund.created", t, EventObject::Refund(refund));
                b.record("charge.refunded", t, EventObject::Charge(snapshot));
                b.refunds.len() as u32 - 1
            })
            .collect()
    }

    /// Rewrites the description of `count` products (`product.updated`). Returns their
    /// indices.
    pub fn touch_products(&mut self, count: usize) -> Vec<u32> {
        let seed = self.config.seed;
        let len = self.billing.products.len();
        let chosen = self.billing.pick(seed, len, count, |_| true);
        chosen
            .into_iter()
            .map(|i| {
                let t = self.tick();
                let n = self.billing.mutations;
                let p = &mut self.billing.products[i];
                p.description = format!("{} plan (revision {n})", p.name);
                p.modified_ms = t;
                let snapshot = p.clone();
                self.billing
                    .record("product.updated", t, EventObject::Product(snapshot));
                i as u32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorldConfig;

    fn world() -> World {
        World::new(WorldConfig {
            deals: 400,
            companies: 60,
            ..WorldConfig::default()
        })
    }

    #[test]
    fn billing_agrees_with_won_deals() {
        let w = world();
        let b = w.billing();
        assert!(b.customers().len() > 20, "{}", b.customers().len());
        assert!(b.invoices().len() > 300, "{}", b.invoices().len());
        for kind in [
            b.customers()
                .iter()
                .map(|c| c.created_ms)
                .collect::<Vec<_>>(),
            b.subscriptions().iter().map(|s| s.created_ms).collect(),
            b.invoices().iter().map(|i| i.created_ms).collect(),
            b.charges().iter().map(|c| c.created_ms).collect(),
            b.refunds().iter().map(|r| r.created_ms).collect(),
            b.prices().iter().map(|p| p.created_ms).collect(),
        ] {
            assert!(kind.windows(2).all(|p| p[0] <= p[1]), "creation order");
            assert!(kind.iter().all(|t| *t < w.now_ms()));
        }
        let won: Vec<&Deal> = w
            .deals()
            .iter()
            .filter(|d| d.stage == DealStage::ClosedWon)
            .collect();
        let mut currencies = std::collections::HashSet::new();
        for d in &won {
            let customer = b.customer_of_company(d.company).expect("won company pays");
            currencies.insert(customer.currency);
            let total = customer.currency.from_usd_cents(d.amount_cents);
            if is_recurring(deal_product(d)) {
                let s = b
                    .subscriptions()
                    .iter()
                    .find(|s| s.deal == d.index)
                    .expect("a subscription per won recurring deal");
                let price = &b.prices()[s.price as usize];
                assert_eq!(price.unit_amount * 12 + s.true_up, total);
                assert_eq!(price.currency, customer.currency);
                let invoices: Vec<&Invoice> = b
                    .invoices()
                    .iter()
                    .filter(|i| i.subscription == Some(s.index))
                    .collect();
                assert!(!invoices.is_empty());
                for (k, inv) in invoices.iter().enumerate() {
                    assert_eq!(inv.period as usize, k);
                    assert_eq!(inv.period_start_ms, add_months(s.created_ms, k as u32));
                }
                if invoices.len() >= 12 {
                    let year: i64 = invoices[..12].iter().map(|i| b.invoice_total(i)).sum();
                    let off: i64 = invoices[..12].iter().map(|i| b.invoice_discount(i)).sum();
                    assert_eq!(
                        year + off,
                        total,
                        "a contract year bills the deal amount, less its discounts"
                    );
                }
            } else {
                let inv = b
                    .invoices()
                    .iter()
                    .find(|i| i.deal == d.index && i.subscription.is_none())
                    .expect("a one-time invoice");
                assert_eq!(b.invoice_total(inv), total);
            }
        }
        assert!(currencies.contains(&Currency::Jpy) && currencies.contains(&Currency::Usd));
        for c in b.charges() {
            let inv = &b.invoices()[c.invoice as usize];
            assert_eq!(c.amount, b.invoice_total(inv));
            assert!(c.refunded <= c.amount);
            assert_eq!(
                c.status == ChargeStatus::Succeeded,
                inv.status == InvoiceStatus::Paid
            );
        }
        assert!(b.refunds().iter().all(|r| r.amount > 0));
        assert!(
            b.subscriptions()
                .iter()
                .any(|s| s.status == SubscriptionStatus::PastDue)
        );
        assert!(
            b.subscriptions()
                .iter()
                .any(|s| s.status == SubscriptionStatus::Canceled)
        );
        assert_eq!(Currency::Jpy.from_usd_cents(10_000), 15_000);
        assert_eq!(Currency::Eur.from_usd_cents(10_000), 9_200);
    }

    #[test]
    fn deterministic_and_mutations_record_events() {
        let a = world();
        let mut w = world();
        assert_eq!(a.billing().invoices(), w.billing().invoices());
        assert_eq!(a.billing().charges(), w.billing().charges());
        let t0 = w.now_ms();
        let n_inv = w.billing().invoices().len();
        let customers = w.touch_billing_customers(3);
        let subs = w.update_subscriptions(2);
        let issued = w.issue_invoices(4);
        let refunds = w.refund_charges(2);
        let deleted = w.delete_billing_customers(1);
        assert_eq!((customers.len(), subs.len(), issued.len()), (3, 2, 4));
        assert_eq!((refunds.len(), deleted.len()), (2, 1));
        let b = w.billing();
        assert_eq!(b.invoices().len(), n_inv + 4);
        for i in &issued {
            let inv = &b.invoices()[*i as usize];
            assert_eq!(inv.status, InvoiceStatus::Paid);
            assert!(inv.created_ms > t0);
        }
        let kinds: Vec<&str> = b.events().iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "customer.updated").count(),
            3
        );
        assert_eq!(kinds.iter().filter(|k| **k == "invoice.created").count(), 4);
        assert_eq!(kinds.iter().filter(|k| **k == "invoice.paid").count(), 4);
        assert_eq!(kinds.iter().filter(|k| **k == "refund.created").count(), 2);
        assert_eq!(
            kinds.iter().filter(|k| **k == "customer.deleted").count(),
            1
        );
        assert!(
            b.events()
                .windows(2)
                .all(|p| p[0].created_ms <= p[1].created_ms)
        );
        assert!(b.customers()[deleted[0] as usize].deleted);
        // Winning an open deal bills it.
        let subs_before = w.billing().subscriptions().len() + w.billing().invoices().len();
        for _ in 0..8 {
            w.touch_deals(60);
        }
        let won_now = w
            .deals()
            .iter()
            .filter(|d| d.stage == DealStage::ClosedWon)
            .count();
        assert!(
            won_now
                > a.deals()
                    .iter()
                    .filter(|d| d.stage == DealStage::ClosedWon)
                    .count()
        );
        assert!(w.billing().subscriptions().len() + w.billing().invoices().len() > subs_before);
        for d in w.deals().iter().filter(|d| d.stage == DealStage::ClosedWon) {
            assert!(w.billing().customer_of_company(d.company).is_some());
        }
    }
}
