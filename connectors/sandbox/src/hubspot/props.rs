//! HubSpot's view of the world: object types, the properties each renders (with HubSpot
//! types) and how a world entity yields each property's value.

use std::borrow::Cow;

use crate::world::{Channel, Company, Deal, Industry, Person, World};

/// A HubSpot CRM object type the emulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectType {
    Contacts,
    Companies,
    Deals,
}

impl ObjectType {
    /// Parses a path segment: plural, singular or object type id (`0-1`, `0-2`, `0-3`).
    pub(crate) fn parse(s: &str) -> Option<ObjectType> {
        match s {
            "contacts" | "contact" | "0-1" => Some(ObjectType::Contacts),
            "companies" | "company" | "0-2" => Some(ObjectType::Companies),
            "deals" | "deal" | "0-3" => Some(ObjectType::Deals),
            _ => None,
        }
    }

    /// Plural path name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
        }
    }

    /// Singular name used in association type labels (`contact_to_company`).
    pub(crate) fn singular(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contact",
            ObjectType::Companies => "company",
            ObjectType::Deals => "deal",
        }
    }

    /// Every property the emulator renders for this type, in response order.
    pub(crate) fn props(self) -> &'static [PropDef] {
        match self {
            ObjectType::Contacts => CONTACT_PROPS,
            ObjectType::Companies => COMPANY_PROPS,
            ObjectType::Deals => DEAL_PROPS,
        }
    }

    /// Properties returned when a request names none.
    pub(crate) fn default_props(self) -> &'static [Key] {
        match self {
            ObjectType::Contacts => &[
                Key::CreateDate,
                Key::Email,
                Key::FirstName,
                Key::ObjectId,
                Key::LastModifiedDate,
                Key::LastName,
            ],
            ObjectType::Companies => &[
                Key::CreateDate,
                Key::Domain,
                Key::HsLastModifiedDate,
                Key::ObjectId,
                Key::Name,
            ],
            ObjectType::Deals => &[
                Key::Amount,
                Key::CloseDate,
                Key::CreateDate,
                Key::DealName,
                Key::DealStage,
                Key::HsLastModifiedDate,
                Key::ObjectId,
                Key::Pipeline,
            ],
        }
    }

    /// The property definition called `name`, if this type renders it.
    pub(crate) fn prop(self, name: &str) -> Option<&'static PropDef> {
        self.props().iter().find(|p| p.name == name)
    }
}

/// HubSpot property data types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PropType {
    String,
    Number,
    DateTime,
    Date,
    Bool,
    Enumeration,
}

impl PropType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PropType::String => "string",
            PropType::Number => "number",
            PropType::DateTime => "datetime",
            PropType::Date => "date",
            PropType::Bool => "bool",
            PropType::Enumeration => "enumeration",
        }
    }
}

/// Every property key across object types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    AssociatedCompanyId,
    CreateDate,
    Email,
    FirstName,
    AnalyticsSource,
    AnalyticsSourceData1,
    EmailOptOut,
    GoogleClickId,
    ObjectId,
    JobTitle,
    LastModifiedDate,
    LastName,
    LifecycleStage,
    TrialStartDate,
    AnnualRevenue,
    City,
    Country,
    Domain,
    HsLastModifiedDate,
    Industry,
    Name,
    NumberOfEmployees,
    Amount,
    CloseDate,
    DealName,
    DealStage,
    OwnerId,
    Pipeline,
}

/// Where an enumeration's options come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Options {
    None,
    Bool,
    Lifecycle,
    Source,
    Industry,
    DealStage,
    Pipeline,
    Owners,
}

/// Metadata of one property, as served by `/crm/v3/properties/{type}`.
#[derive(Debug)]
pub(crate) struct PropDef {
    pub(crate) key: Key,
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) ty: PropType,
    pub(crate) field_type: &'static str,
    pub(crate) group: &'static str,
    pub(crate) description: &'static str,
    pub(crate) options: Options,
    pub(crate) hubspot_defined: bool,
}

#[allow(clippy::too_many_arguments)]
const fn def(
    key: Key,
    name: &'static str,
    label: &'static str,
    ty: PropType,
    field_type: &'static str,
    group: &'static str,
    description: &'static str,
    options: Options,
) -> PropDef {
    PropDef {
        key,
        name,
        label,
        ty,
        field_type,
        group,
        description,
        options,
        hubspot_defined: true,
    }
}

use PropType as T;

/// Contact properties, alphabetical (the order HubSpot responses use).
pub(crate) const CONTACT_PROPS: &[PropDef] = &[
    def(
        Key::AssociatedCompanyId,
        "associatedcompanyid",
        "Primary Associated Company ID",
        T::Number,
        "number",
        "contactinformation",
        "HubSpot defined ID of a contact's primary associated company in HubSpot.",
        Options::None,
    ),
    def(
        Key::CreateDate,
        "createdate",
        "Create Date",
        T::DateTime,
        "date",
        "contactinformation",
        "The date that a contact entered the system.",
        Options::None,
    ),
    def(
        Key::Email,
        "email",
        "Email",
        T::String,
        "text",
        "contactinformation",
        "A contact's email address.",
        Options::None,
    ),
    def(
        Key::FirstName,
        "firstname",
        "First Name",
        T::String,
        "text",
        "contactinformation",
        "A contact's first name.",
        Options::None,
    ),
    def(
        Key::AnalyticsSource,
        "hs_analytics_source",
        "Original Source",
        T::Enumeration,
        "select",
        "analyticsinformation",
        "First known source the contact used to find your website.",
        Options::Source,
    ),
    def(
        Key::AnalyticsSourceData1,
        "hs_analytics_source_data_1",
        "Original Source Drill-Down 1",
        T::String,
        "text",
        "analyticsinformation",
        "Additional information about the original source (the utm_campaign).",
        Options::None,
    ),
    def(
        Key::EmailOptOut,
        "hs_email_optout",
        "Unsubscribed from all email",
        T::Bool,
        "booleancheckbox",
        "emailinformation",
        "Indicates that the contact opted out of all email.",
        Options::Bool,
    ),
    def(
        Key::GoogleClickId,
        "hs_google_click_id",
        "Google ad click id",
        T::String,
        "text",
        "analyticsinformation",
        "The Google click id (gclid) of the ad click that brought the contact in.",
        Options::None,
    ),
    def(
        Key::ObjectId,
        "hs_object_id",
        "Record ID",
        T::Number,
        "number",
        "contactinformation",
        "The unique ID for this record.",
        Options::None,
    ),
    def(
        Key::JobTitle,
        "jobtitle",
        "Job Title",
        T::String,
        "text",
        "contactinformation",
        "A contact's job title.",
        Options::None,
    ),
    def(
        Key::LastModifiedDate,
        "lastmodifieddate",
        "Last Modified Date",
        T::DateTime,
        "date",
        "contactinformation",
        "Most recent timestamp of any property update for a contact.",
        Options::None,
    ),
    def(
        Key::LastName,
        "lastname",
        "Last Name",
        T::String,
        "text",
        "contactinformation",
        "A contact's last name.",
        Options::None,
    ),
    def(
        Key::LifecycleStage,
        "lifecyclestage",
        "Lifecycle Stage",
        T::Enumeration,
        "radio",
        "contactinformation",
        "The qualification of contacts to sales readiness.",
        Options::Lifecycle,
    ),
    PropDef {
        hubspot_defined: false,
        ..def(
            Key::TrialStartDate,
            "trial_start_date",
            "Trial Start Date",
            T::Date,
            "date",
            "contactinformation",
            "Day the contact started a product trial (custom property).",
            Options::None,
        )
    },
];

/// Company properties, alphabetical.
pub(crate) const COMPANY_PROPS: &[PropDef] = &[
    def(
        Key::AnnualRevenue,
        "annualrevenue",
        "Annual Revenue",
        T::Number,
        "number",
        "companyinformation",
        "The actual or estimated annual revenue of the company.",
        Options::None,
    ),
    def(
        Key::City,
        "city",
        "City",
        T::String,
        "text",
        "companyinformation",
        "The city where the company is located.",
        Options::None,
    ),
    def(
        Key::Country,
        "country",
        "Country/Region",
        T::String,
        "text",
        "companyinformation",
        "The country/region in which the company is located.",
        Options::None,
    ),
    def(
        Key::CreateDate,
        "createdate",
        "Create Date",
        T::DateTime,
        "date",
        "companyinformation",
        "The date the company was added to your account.",
        Options::None,
    ),
    def(
        Key::Domain,
        "domain",
        "Company Domain Name",
        T::String,
        "text",
        "companyinformation",
        "The domain name of the company.",
        Options::None,
    ),
    def(
        Key::HsLastModifiedDate,
        "hs_lastmodifieddate",
        "Last Modified Date",
        T::DateTime,
        "date",
        "companyinformation",
        "Most recent timestamp of any property update for a company.",
        Options::None,
    ),
    def(
        Key::ObjectId,
        "hs_object_id",
        "Record ID",
        T::Number,
        "number",
        "companyinformation",
        "The unique ID for this record.",
        Options::None,
    ),
    def(
        Key::Industry,
        "industry",
        "Industry",
        T::Enumeration,
        "select",
        "companyinformation",
        "The type of business the company performs.",
        Options::Industry,
    ),
    def(
        Key::Name,
        "name",
        "Name",
        T::String,
        "text",
        "companyinformation",
        "The name of the company or organization.",
        Options::None,
    ),
    def(
        Key::NumberOfEmployees,
        "numberofemployees",
        "Number of Employees",
        T::Number,
        "number",
        "companyinformation",
        "The total number of employees who work for the company.",
        Options::None,
    ),
];

/// Deal properties, alphabetical.
pub(crate) const DEAL_PROPS: &[PropDef] = &[
    def(
        Key::Amount,
        "amount",
        "Amount",
        T::Number,
        "number",
        "dealinformation",
        "The total amount of the deal.",
        Options::None,
    ),
    def(
        Key::AssociatedCompanyId,
        "associatedcompanyid",
        "Primary Associated Company ID",
        T::Number,
        "number",
        "dealinformation",
        "ID of the deal's primary associated company.",
        Options::None,
    ),
    def(
        Key::CloseDate,
        "closedate",
        "Close Date",
        T::DateTime,
        "date",
        "dealinformation",
        "Date the deal was closed or is expected to close.",
        Options::None,
    ),
    def(
        Key::CreateDate,
        "createdate",
        "Create Date",
        T::DateTime,
        "date",
        "dealinformation",
        "Date the deal was created.",
        Options::None,
    ),
    def(
        Key::DealName,
        "dealname",
        "Deal Name",
        T::String,
        "text",
        "dealinformation",
        "The name given to this deal.",
        Options::None,
    ),
    def(
        Key::DealStage,
        "dealstage",
        "Deal Stage",
        T::Enumeration,
        "radio",
        "dealinformation",
        "The stage of the deal in its pipeline.",
        Options::DealStage,
    ),
    def(
        Key::AnalyticsSource,
        "hs_analytics_source",
        "Original Source Type",
        T::Enumeration,
        "select",
        "analyticsinformation",
        "Original source of the deal's primary contact.",
        Options::Source,
    ),
    def(
        Key::HsLastModifiedDate,
        "hs_lastmodifieddate",
        "Last Modified Date",
        T::DateTime,
        "date",
        "dealinformation",
        "Most recent timestamp of any property update for a deal.",
        Options::None,
    ),
    def(
        Key::ObjectId,
        "hs_object_id",
        "Record ID",
        T::Number,
        "number",
        "dealinformation",
        "The unique ID for this record.",
        Options::None,
    ),
    def(
        Key::OwnerId,
        "hubspot_owner_id",
        "Deal owner",
        T::Enumeration,
        "select",
        "dealinformation",
        "User the deal is assigned to.",
        Options::Owners,
    ),
    def(
        Key::Pipeline,
        "pipeline",
        "Pipeline",
        T::Enumeration,
        "select",
        "dealinformation",
        "The pipeline the deal is in.",
        Options::Pipeline,
    ),
];

/// HubSpot's `hs_analytics_source` value for a channel.
pub(crate) fn source_code(channel: Channel) -> &'static str {
    match channel {
        Channel::PaidSearch => "PAID_SEARCH",
        Channel::PaidSocial => "PAID_SOCIAL",
        Channel::Organic => "ORGANIC_SEARCH",
        Channel::Email => "EMAIL_MARKETING",
        Channel::Referral => "REFERRALS",
        Channel::Direct => "DIRECT_TRAFFIC",
    }
}

/// Options of `hs_analytics_source` as `(value, label)`.
pub(crate) const SOURCE_OPTIONS: &[(&str, &str)] = &[
    ("ORGANIC_SEARCH", "Organic search"),
    ("PAID_SEARCH", "Paid search"),
    ("EMAIL_MARKETING", "Email marketing"),
    ("SOCIAL_MEDIA", "Organic social"),
    ("REFERRALS", "Referrals"),
    ("OTHER_CAMPAIGNS", "Other campaigns"),
    ("DIRECT_TRAFFIC", "Direct traffic"),
    ("OFFLINE", "Offline sources"),
    ("PAID_SOCIAL", "Paid social"),
];

/// HubSpot's `industry` value.
pub(crate) fn industry_code(industry: Industry) -> &'static str {
    match industry {
        Industry::Software => "COMPUTER_SOFTWARE",
        Industry::ItServices => "INFORMATION_TECHNOLOGY_AND_SERVICES",
        Industry::Marketing => "MARKETING_AND_ADVERTISING",
        Industry::FinancialServices => "FINANCIAL_SERVICES",
        Industry::HealthCare => "HOSPITAL_HEALTH_CARE",
        Industry::Retail => "RETAIL",
        Industry::Logistics => "LOGISTICS_AND_SUPPLY_CHAIN",
        Industry::Education => "EDUCATION_MANAGEMENT",
    }
}

/// A typed property value; rendered as a JSON string (or `null`), compared by type in search.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val<'a> {
    Null,
    Str(&'a str),
    Int(u64),
    Cents(u64),
    DateTime(i64),
    Date(i64),
    Bool(bool),
}

impl Val<'_> {
    /// Numeric view (numbers and money).
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Val::Int(n) => Some(n as f64),
            Val::Cents(c) => Some(c as f64 / 100.0),
            Val::DateTime(ms) | Val::Date(ms) => Some(ms as f64),
            Val::Bool(b) => Some(f64::from(u8::from(b))),
            Val::Str(s) => s.parse().ok(),
            Val::Null => None,
        }
    }

    /// Text view, as the value would appear in the JSON string.
    pub(crate) fn as_text(&self) -> Option<Cow<'_, str>> {
        match *self {
            Val::Null => None,
            Val::Str(s) => Some(Cow::Borrowed(s)),
            Val::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            _ => {
                let mut out = Vec::new();
                crate::hubspot::render::push_val_body(&mut out, self);
                Some(Cow::Owned(String::from_utf8(out).expect("ASCII")))
            }
        }
    }
}

/// A world entity seen as a HubSpot object.
pub(crate) enum Obj<'a> {
    Contact(Person),
    Company(&'a Company),
    Deal(&'a Deal),
}

impl Obj<'_> {
    pub(crate) fn id(&self) -> u64 {
        match self {
            Obj::Contact(p) => p.id,
            Obj::Company(c) => c.id,
            Obj::Deal(d) => d.id,
        }
    }

    pub(crate) fn created_ms(&self) -> i64 {
        match self {
            Obj::Contact(p) => p.created_ms,
            Obj::Company(c) => c.created_ms,
            Obj::Deal(d) => d.created_ms,
        }
    }

    pub(crate) fn updated_ms(&self) -> i64 {
        match self {
            Obj::Contact(p) => p.modified_ms,
            Obj::Company(c) => c.modified_ms,
            Obj::Deal(d) => d.modified_ms,
        }
    }

    pub(crate) fn archived(&self) -> bool {
        match self {
            Obj::Contact(p) => p.archived,
            _ => false,
        }
    }

    /// The value of property `key` (`Null` for keys this type does not have).
    pub(crate) fn value<'s>(&'s self, world: &'s World, key: Key) -> Val<'s> {
        match self {
            Obj::Contact(p) => contact_value(p, world, key),
            Obj::Company(c) => company_value(c, key),
            Obj::Deal(d) => deal_value(d, world, key),
        }
    }
}

fn contact_value<'s>(p: &'s Person, world: &'s World, key: Key) -> Val<'s> {
    match key {
        Key::AssociatedCompanyId => Val::Int(p.company_id),
        Key::CreateDate => Val::DateTime(p.created_ms),
        Key::Email => Val::Str(&p.email),
        Key::FirstName => Val::Str(p.first_name),
        Key::AnalyticsSource => Val::Str(source_code(p.channel)),
        Key::AnalyticsSourceData1 => p.campaign.map_or(Val::Null, |c| {
            Val::Str(&world.campaigns()[c as usize].utm_campaign)
        }),
        Key::EmailOptOut => Val::Bool(p.email_opt_out),
        Key::GoogleClickId => p.click_id.as_deref().map_or(Val::Null, Val::Str),
        Key::ObjectId => Val::Int(p.id),
        Key::JobTitle => Val::Str(p.job_title),
        Key::LastModifiedDate => Val::DateTime(p.modified_ms),
        Key::LastName => Val::Str(p.last_name),
        Key::LifecycleStage => Val::Str(p.lifecycle.as_str()),
        Key::TrialStartDate => p.trial_start_ms.map_or(Val::Null, Val::Date),
        _ => Val::Null,
    }
}

fn company_value(c: &Company, key: Key) -> Val<'_> {
    match key {
        Key::AnnualRevenue => Val::Int(c.annual_revenue),
        Key::City => Val::Str(c.city),
        Key::Country => Val::Str(c.country),
        Key::CreateDate => Val::DateTime(c.created_ms),
        Key::Domain => Val::Str(&c.domain),
        Key::HsLastModifiedDate => Val::DateTime(c.modified_ms),
        Key::ObjectId => Val::Int(c.id),
        Key::Industry => Val::Str(industry_code(c.industry)),
        Key::Name => Val::Str(&c.name),
        Key::NumberOfEmployees => Val::Int(u64::from(c.employees)),
        _ => Val::Null,
    }
}

fn deal_value<'s>(d: &'s Deal, world: &'s World, key: Key) -> Val<'s> {
    match key {
        Key::Amount => Val::Cents(d.amount_cents),
        Key::AssociatedCompanyId => Val::Int(world.companies()[d.company as usize].id),
        Key::CloseDate => Val::DateTime(d.close_ms),
        Key::CreateDate => Val::DateTime(d.created_ms),
        Key::DealName => Val::Str(&d.name),
        Key::DealStage => Val::Str(d.stage.as_str()),
        Key::AnalyticsSource => Val::Str(source_code(d.channel)),
        Key::HsLastModifiedDate => Val::DateTime(d.modified_ms),
        Key::ObjectId => Val::Int(d.id),
        Key::OwnerId => Val::Int(world.owners()[d.owner as usize].id),
        Key::Pipeline => Val::Str("default"),
        _ => Val::Null,
    }
}
