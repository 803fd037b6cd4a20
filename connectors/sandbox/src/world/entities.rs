//! The vendor-neutral entities of the world. Emulators render these in each vendor's shapes.

use chrono::{DateTime, Utc};

/// Converts epoch milliseconds to a UTC timestamp.
pub(crate) fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("world timestamps are in range")
}

/// The marketing channel a campaign (and the people it brought in) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Paid search ads (Google Ads, Bing); people carry a gclid-like click id.
    PaidSearch,
    /// Paid social ads (LinkedIn, Meta).
    PaidSocial,
    /// Organic search.
    Organic,
    /// Email marketing.
    Email,
    /// Partner referrals.
    Referral,
    /// No campaign: direct traffic.
    Direct,
}

impl Channel {
    /// Snake-case name, e.g. `paid_search`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::PaidSearch => "paid_search",
            Channel::PaidSocial => "paid_social",
            Channel::Organic => "organic",
            Channel::Email => "email",
            Channel::Referral => "referral",
            Channel::Direct => "direct",
        }
    }
}

/// A person's lifecycle stage, in funnel order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lifecycle {
    /// Newsletter subscriber.
    Subscriber,
    /// Lead.
    Lead,
    /// Marketing-qualified lead.
    MarketingQualifiedLead,
    /// Sales-qualified lead.
    SalesQualifiedLead,
    /// Has an open deal.
    Opportunity,
    /// Has a won deal.
    Customer,
}

impl Lifecycle {
    /// All stages in funnel order.
    pub const ALL: [Lifecycle; 6] = [
        Lifecycle::Subscriber,
        Lifecycle::Lead,
        Lifecycle::MarketingQualifiedLead,
        Lifecycle::SalesQualifiedLead,
        Lifecycle::Opportunity,
        Lifecycle::Customer,
    ];

    /// Lower-case internal name, e.g. `marketingqualifiedlead` (HubSpot's internal values).
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Subscriber => "subscriber",
            Lifecycle::Lead => "lead",
            Lifecycle::MarketingQualifiedLead => "marketingqualifiedlead",
            Lifecycle::SalesQualifiedLead => "salesqualifiedlead",
            Lifecycle::Opportunity => "opportunity",
            Lifecycle::Customer => "customer",
        }
    }

    /// Human label, e.g. `Marketing Qualified Lead`.
    pub fn label(self) -> &'static str {
        match self {
            Lifecycle::Subscriber => "Subscriber",
            Lifecycle::Lead => "Lead",
            Lifecycle::MarketingQualifiedLead => "Marketing Qualified Lead",
            Lifecycle::SalesQualifiedLead => "Sales Qualified Lead",
            Lifecycle::Opportunity => "Opportunity",
            Lifecycle::Customer => "Customer",
        }
    }

    /// The next stage, wrapping from `Customer` to `Subscriber` (used by mutations so every
    /// touch really changes the value).
    pub fn next(self) -> Lifecycle {
        let i = Lifecycle::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Lifecycle::ALL[(i + 1) % Lifecycle::ALL.len()]
    }
}

/// A stage of the default sales pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DealStage {
    /// Appointment scheduled (20%).
    AppointmentScheduled,
    /// Qualified to buy (40%).
    QualifiedToBuy,
    /// Presentation scheduled (60%).
    PresentationScheduled,
    /// Decision maker bought in (80%).
    DecisionMakerBoughtIn,
    /// Contract sent (90%).
    ContractSent,
    /// Closed won (100%, closed).
    ClosedWon,
    /// Closed lost (0%, closed).
    ClosedLost,
}

impl DealStage {
    /// All stages in pipeline order.
    pub const ALL: [DealStage; 7] = [
        DealStage::AppointmentScheduled,
        DealStage::QualifiedToBuy,
        DealStage::PresentationScheduled,
        DealStage::DecisionMakerBoughtIn,
        DealStage::ContractSent,
        DealStage::ClosedWon,
        DealStage::ClosedLost,
    ];

    /// Internal id, e.g. `appointmentscheduled` (HubSpot's default-pipeline stage ids).
    pub fn as_str(self) -> &'static str {
        match self {
            DealStage::AppointmentScheduled => "appointmentscheduled",
            DealStage::QualifiedToBuy => "qualifiedtobuy",
            DealStage::PresentationScheduled => "presentationscheduled",
            DealStage::DecisionMakerBoughtIn => "decisionmakerboughtin",
            DealStage::ContractSent => "contractsent",
            DealStage::ClosedWon => "closedwon",
            DealStage::ClosedLost => "closedlost",
        }
    }

    /// Human label, e.g. `Closed Won`.
    pub fn label(self) -> &'static str {
        match self {
            DealStage::AppointmentScheduled => "Appointment Scheduled",
            DealStage::QualifiedToBuy => "Qualified To Buy",
            DealStage::PresentationScheduled => "Presentation Scheduled",
            DealStage::DecisionMakerBoughtIn => "Decision Maker Bought-In",
            DealStage::ContractSent => "Contract Sent",
            DealStage::ClosedWon => "Closed Won",
            DealStage::ClosedLost => "Closed Lost",
        }
    }

    /// Win probability as the string HubSpot puts in stage metadata (`"0.2"` … `"1.0"`).
    pub fn probability(self) -> &'static str {
        match self {
            DealStage::AppointmentScheduled => "0.2",
            DealStage::QualifiedToBuy => "0.4",
            DealStage::PresentationScheduled => "0.6",
            DealStage::DecisionMakerBoughtIn => "0.8",
            DealStage::ContractSent => "0.9",
            DealStage::ClosedWon => "1.0",
            DealStage::ClosedLost => "0.0",
        }
    }

    /// Whether the stage closes the deal.
    pub fn is_closed(self) -> bool {
        matches!(self, DealStage::ClosedWon | DealStage::ClosedLost)
    }

    /// Position in the pipeline (0-based).
    pub fn display_order(self) -> usize {
        DealStage::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The next stage for an open deal (contract sent moves to closed won); closed deals stay.
    pub fn advance(self) -> DealStage {
        match self {
            DealStage::ClosedWon | DealStage::ClosedLost => self,
            other => DealStage::ALL[other.display_order() + 1],
        }
    }
}

/// A company's industry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Industry {
    /// Computer software.
    Software,
    /// IT services.
    ItServices,
    /// Marketing and advertising.
    Marketing,
    /// Financial services.
    FinancialServices,
    /// Hospitals and health care.
    HealthCare,
    /// Retail.
    Retail,
    /// Logistics and supply chain.
    Logistics,
    /// Education.
    Education,
}

impl Industry {
    /// All industries.
    pub const ALL: [Industry; 8] = [
        Industry::Software,
        Industry::ItServices,
        Industry::Marketing,
        Industry::FinancialServices,
        Industry::HealthCare,
        Industry::Retail,
        Industry::Logistics,
        Industry::Education,
    ];

    /// Human label, e.g. `Computer Software`.
    pub fn label(self) -> &'static str {
        match self {
            Industry::Software => "Computer Software",
            Industry::ItServices => "Information Technology and Services",
            Industry::Marketing => "Marketing and Advertising",
            Industry::FinancialServices => "Financial Services",
            Industry::HealthCare => "Hospital & Health Care",
            Industry::Retail => "Retail",
            Industry::Logistics => "Logistics and Supply Chain",
            Industry::Education => "Education Management",
        }
    }
}

/// A marketing campaign; people reference it as their lead source.
#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    /// Position in [`crate::World::campaigns`].
    pub index: u32,
    /// Numeric ad-platform style id (11 digits), unique.
    pub id: u64,
    /// Display name, e.g. `Brand Search Q1 2024`.
    pub name: String,
    /// Channel of the campaign (never [`Channel::Direct`]).
    pub channel: Channel,
    /// `utm_source`, e.g. `google`.
    pub utm_source: &'static str,
    /// `utm_medium`, e.g. `cpc`.
    pub utm_medium: &'static str,
    /// `utm_campaign`, e.g. `brand_search_q1_2024` (unique).
    pub utm_campaign: String,
    /// First day the campaign ran (epoch ms, midnight UTC).
    pub start_ms: i64,
}

/// A company (account).
#[derive(Clone, Debug, PartialEq)]
pub struct Company {
    /// Position in [`crate::World::companies`].
    pub index: u32,
    /// CRM id, unique and increasing with `index`.
    pub id: u64,
    /// Display name, e.g. `Acme Analytics`.
    pub name: String,
    /// Unique web domain, e.g. `acme-analytics-17.com`.
    pub domain: String,
    /// Industry.
    pub industry: Industry,
    /// Head count.
    pub employees: u32,
    /// Annual revenue in whole dollars.
    pub annual_revenue: u64,
    /// Headquarters city.
    pub city: &'static str,
    /// Headquarters country.
    pub country: &'static str,
    /// Creation time, epoch milliseconds (UTC).
    pub created_ms: i64,
    /// Last modification time, epoch milliseconds (UTC), `>= created_ms`.
    pub modified_ms: i64,
}

impl Company {
    /// Creation time.
    pub fn created(&self) -> DateTime<Utc> {
        ms_to_datetime(self.created_ms)
    }
    /// Last modification time.
    pub fn modified(&self) -> DateTime<Utc> {
        ms_to_datetime(self.modified_ms)
    }
}

/// A person (contact / lead). Generated on demand from `(seed, index)`, never stored in bulk.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// Position in the people sequence (0-based; added people continue it).
    pub index: u64,
    /// CRM id, unique and increasing with `index`.
    pub id: u64,
    /// First name (may contain non-ASCII letters, e.g. `Zoë`).
    pub first_name: &'static str,
    /// Last name (may contain an apostrophe or non-ASCII letters).
    pub last_name: &'static str,
    /// Lower-case ASCII email, `first.last@<company domain>` or a free-mail address; unique.
    pub email: String,
    /// Job title.
    pub job_title: &'static str,
    /// Phone number, e.g. `+1 415-555-0134`.
    pub phone: String,
    /// Index of the person's company in [`crate::World::companies`].
    pub company: u32,
    /// The company's id (denormalised for convenience).
    pub company_id: u64,
    /// Lifecycle stage (after mutations).
    pub lifecycle: Lifecycle,
    /// Index of the campaign that brought the person in (`None` for direct traffic).
    pub campaign: Option<u32>,
    /// Lead-source channel (the campaign's channel or [`Channel::Direct`]).
    pub channel: Channel,
    /// gclid-like click id, only for paid-search people.
    pub click_id: Option<String>,
    /// Unsubscribed from all email.
    pub email_opt_out: bool,
    /// Trial start date (epoch ms at midnight UTC), for about a quarter of people.
    pub trial_start_ms: Option<i64>,
    /// Creation time, epoch milliseconds (UTC).
    pub created_ms: i64,
    /// Last modification time, epoch milliseconds (UTC), `>= created_ms`.
    pub modified_ms: i64,
    /// Archived (deleted) people are hidden from normal lists and searches.
    pub archived: bool,
}

impl Person {
    /// Creation time.
    pub fn created(&self) -> DateTime<Utc> {
        ms_to_datetime(self.created_ms)
    }
    /// Last modification time.
    pub fn modified(&self) -> DateTime<Utc> {
        ms_to_datetime(self.modified_ms)
    }
    /// Domain part of the email.
    pub fn email_domain(&self) -> &str {
        self.email.rsplit('@').next().unwrap_or("")
    }
}

/// A deal (opportunity) in the default pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Deal {
    /// Position in [`crate::World::deals`].
    pub index: u32,
    /// CRM id, unique and increasing with `index`.
    pub id: u64,
    /// Display name, e.g. `Acme Analytics – Platform Annual`.
    pub name: String,
    /// Index of the company.
    pub company: u32,
    /// Index of the primary contact (a person of that company), if the world has people.
    pub contact: Option<u64>,
    /// Amount in cents (mostly whole dollars).
    pub amount_cents: u64,
    /// Pipeline stage.
    pub stage: DealStage,
    /// Close date (epoch ms; 16:00 UTC on the close day).
    pub close_ms: i64,
    /// Index of the owner in [`crate::World::owners`].
    pub owner: u32,
    /// Lead-source channel, inherited from the primary contact.
    pub channel: Channel,
    /// Creation time, epoch milliseconds (UTC).
    pub created_ms: i64,
    /// Last modification time, epoch milliseconds (UTC), `>= created_ms`.
    pub modified_ms: i64,
}

impl Deal {
    /// Creation time.
    pub fn created(&self) -> DateTime<Utc> {
        ms_to_datetime(self.created_ms)
    }
    /// Last modification time.
    pub fn modified(&self) -> DateTime<Utc> {
        ms_to_datetime(self.modified_ms)
    }
    /// Close time.
    pub fn close(&self) -> DateTime<Utc> {
        ms_to_datetime(self.close_ms)
    }
}

/// A sales user who owns deals.
#[derive(Clone, Debug, PartialEq)]
pub struct Owner {
    /// Position in [`crate::World::owners`].
    pub index: u32,
    /// Owner id (8 digits).
    pub id: u64,
    /// User id (numeric).
    pub user_id: u64,
    /// Work email.
    pub email: String,
    /// First name.
    pub first_name: &'static str,
    /// Last name.
    pub last_name: &'static str,
    /// Creation time, epoch milliseconds (UTC).
    pub created_ms: i64,
    /// Last modification time, epoch milliseconds (UTC).
    pub modified_ms: i64,
}
