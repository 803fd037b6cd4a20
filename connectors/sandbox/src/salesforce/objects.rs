//! The sObjects the emulator serves (Account, Contact, Lead, Opportunity, OpportunityHistory,
//! User, Campaign): their fields as `describe` reports them, and each record's values drawn
//! from the world.

use std::borrow::Cow;

use super::ids::id;
use crate::world::history::StageEntry;
use crate::world::{Campaign, Channel, Company, Deal, DealStage, Owner, Person, World};

/// Field types, as `describe` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FType {
    /// An 18-character id.
    Id,
    /// Text.
    String,
    /// An email address.
    Email,
    /// A URL.
    Url,
    /// A phone number.
    Phone,
    /// A picklist value.
    Picklist,
    /// A floating-point number.
    Double,
    /// Money.
    Currency,
    /// A percentage (0–100).
    Percent,
    /// An integer.
    Int,
    /// A boolean.
    Boolean,
    /// A calendar date.
    Date,
    /// An instant.
    DateTime,
    /// The id of another record.
    Reference,
}

impl FType {
    /// The name `describe` uses (`datetime`, `reference`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FType::Id => "id",
            FType::String => "string",
            FType::Email => "email",
            FType::Url => "url",
            FType::Phone => "phone",
            FType::Picklist => "picklist",
            FType::Double => "double",
            FType::Currency => "currency",
            FType::Percent => "percent",
            FType::Int => "int",
            FType::Boolean => "boolean",
            FType::Date => "date",
            FType::DateTime => "datetime",
            FType::Reference => "reference",
        }
    }

    /// The SOAP type `describe` reports.
    pub fn soap(self) -> &'static str {
        match self {
            FType::Id | FType::Reference => "tns:ID",
            FType::Double | FType::Currency | FType::Percent => "xsd:double",
            FType::Int => "xsd:int",
            FType::Boolean => "xsd:boolean",
            FType::Date => "xsd:date",
            FType::DateTime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }
}

/// One field of an sObject.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    /// API name.
    pub name: &'static str,
    /// Type.
    pub ty: FType,
    /// Label.
    pub label: &'static str,
    /// For references: the object referred to and the relationship name.
    pub reference: Option<(&'static str, &'static str)>,
}

impl FieldDef {
    /// A custom field (`…__c`).
    pub fn custom(&self) -> bool {
        self.name.ends_with("__c")
    }
}

const fn f(name: &'static str, ty: FType, label: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty,
        label,
        reference: None,
    }
}

const fn r(
    name: &'static str,
    to: &'static str,
    rel: &'static str,
    label: &'static str,
) -> FieldDef {
    FieldDef {
        name,
        ty: FType::Reference,
        label,
        reference: Some((to, rel)),
    }
}

use FType::*;

const AUDIT: [FieldDef; 4] = [
    f("CreatedDate", DateTime, "Created Date"),
    f("LastModifiedDate", DateTime, "Last Modified Date"),
    f("SystemModstamp", DateTime, "System Modstamp"),
    f("IsDeleted", Boolean, "Deleted"),
];

const ACCOUNT: &[FieldDef] = &[
    f("Id", Id, "Account ID"),
    f("Name", String, "Account Name"),
    f("Website", Url, "Website"),
    f("Industry", Picklist, "Industry"),
    f("AnnualRevenue", Currency, "Annual Revenue"),
    f("NumberOfEmployees", Int, "Employees"),
    f("BillingCity", String, "Billing City"),
    f("BillingCountry", String, "Billing Country"),
    f("Type", Picklist, "Account Type"),
    r("OwnerId", "User", "Owner", "Owner ID"),
    r("ParentId", "Account", "Parent", "Parent Account ID"),
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    f("Stripe_Customer_Id__c", String, "Stripe Customer ID"),
    f("Customer_Since__c", Date, "Customer Since"),
];

const CONTACT: &[FieldDef] = &[
    f("Id", Id, "Contact ID"),
    r("AccountId", "Account", "Account", "Account ID"),
    f("FirstName", String, "First Name"),
    f("LastName", String, "Last Name"),
    f("Name", String, "Full Name"),
    f("Email", Email, "Email"),
    f("Title", String, "Title"),
    f("Phone", Phone, "Business Phone"),
    f("LeadSource", Picklist, "Lead Source"),
    r("OwnerId", "User", "Owner", "Owner ID"),
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    f("GCLID__c", String, "Google Click ID"),
];

const LEAD: &[FieldDef] = &[
    f("Id", Id, "Lead ID"),
    f("FirstName", String, "First Name"),
    f("LastName", String, "Last Name"),
    f("Name", String, "Full Name"),
    f("Email", Email, "Email"),
    f("Company", String, "Company"),
    f("Title", String, "Title"),
    f("Phone", Phone, "Phone"),
    f("Status", Picklist, "Lead Status"),
    f("LeadSource", Picklist, "Lead Source"),
    f("IsConverted", Boolean, "Converted"),
    f("ConvertedDate", Date, "Converted Date"),
    r(
        "ConvertedAccountId",
        "Account",
        "ConvertedAccount",
        "Converted Account ID",
    ),
    r(
        "ConvertedContactId",
        "Contact",
        "ConvertedContact",
        "Converted Contact ID",
    ),
    r(
        "ConvertedOpportunityId",
        "Opportunity",
        "ConvertedOpportunity",
        "Converted Opportunity ID",
    ),
    r("OwnerId", "User", "Owner", "Owner ID"),
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    f("UTM_Source__c", String, "UTM Source"),
    f("UTM_Medium__c", String, "UTM Medium"),
    f("UTM_Campaign__c", String, "UTM Campaign"),
    f("GCLID__c", String, "Google Click ID"),
    f("Trial_Start__c", Date, "Trial Start"),
];

const OPPORTUNITY: &[FieldDef] = &[
    f("Id", Id, "Opportunity ID"),
    f("Name", String, "Name"),
    r("AccountId", "Account", "Account", "Account ID"),
    f("Amount", Currency, "Amount"),
    f("StageName", Picklist, "Stage"),
    f("CloseDate", Date, "Close Date"),
    f("IsClosed", Boolean, "Closed"),
    f("IsWon", Boolean, "Won"),
    f("Probability", Percent, "Probability (%)"),
    f("ForecastCategoryName", Picklist, "Forecast Category"),
    f("LeadSource", Picklist, "Lead Source"),
    r("CampaignId", "Campaign", "Campaign", "Campaign ID"),
    r("OwnerId", "User", "Owner", "Owner ID"),
    f("Type", Picklist, "Opportunity Type"),
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    f(
        "Stripe_Subscription_Id__c",
        String,
        "Stripe Subscription ID",
    ),
];

const HISTORY: &[FieldDef] = &[
    f("Id", Id, "Opportunity History ID"),
    r(
        "OpportunityId",
        "Opportunity",
        "Opportunity",
        "Opportunity ID",
    ),
    f("StageName", Picklist, "Stage"),
    f("Amount", Currency, "Amount"),
    f("ExpectedRevenue", Currency, "Expected Revenue"),
    f("CloseDate", Date, "Close Date"),
    f("Probability", Percent, "Probability (%)"),
    f("ForecastCategory", Picklist, "Forecast Category"),
    f("PrevAmount", Currency, "Previous Amount"),
    f("PrevCloseDate", Date, "Previous Close Date"),
    r("CreatedById", "User", "CreatedBy", "Created By ID"),
    f("CreatedDate", DateTime, "Created Date"),
    f("SystemModstamp", DateTime, "System Modstamp"),
    f("IsDeleted", Boolean, "Deleted"),
];

const USER: &[FieldDef] = &[
    f("Id", Id, "User ID"),
    f("Username", String, "Username"),
    f("Email", Email, "Email"),
    f("FirstName", String, "First Name"),
    f("LastName", String, "Last Name"),
    f("Name", String, "Full Name"),
    f("Title", String, "Title"),
    f("IsActive", Boolean, "Active"),
    f("UserType", Picklist, "User Type"),
    f("CreatedDate", DateTime, "Created Date"),
    f("LastModifiedDate", DateTime, "Last Modified Date"),
    f("SystemModstamp", DateTime, "System Modstamp"),
];

const CAMPAIGN: &[FieldDef] = &[
    f("Id", Id, "Campaign ID"),
    f("Name", String, "Name"),
    f("Type", Picklist, "Type"),
    f("Status", Picklist, "Status"),
    f("StartDate", Date, "Start Date"),
    f("EndDate", Date, "End Date"),
    f("IsActive", Boolean, "Active"),
    f("BudgetedCost", Currency, "Budgeted Cost in Campaign"),
    r("OwnerId", "User", "Owner", "Owner ID"),
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    f("UTM_Source__c", String, "UTM Source"),
    f("UTM_Medium__c", String, "UTM Medium"),
    f("UTM_Campaign__c", String, "UTM Campaign"),
];

/// The sObjects, by API name.
pub const OBJECTS: &[(&str, &str, &[FieldDef])] = &[
    ("Account", "Account", ACCOUNT),
    ("Contact", "Contact", CONTACT),
    ("Lead", "Lead", LEAD),
    ("Opportunity", "Opportunity", OPPORTUNITY),
    ("OpportunityHistory", "Opportunity History", HISTORY),
    ("User", "User", USER),
    ("Campaign", "Campaign", CAMPAIGN),
];

/// An object's canonical name and fields (names match case-insensitively, as in SOQL).
pub fn object(name: &str) -> Option<(&'static str, &'static [FieldDef])> {
    OBJECTS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, _, f)| (*n, *f))
}

/// A field of an object by name (case-insensitive).
pub fn field(fields: &'static [FieldDef], name: &str) -> Option<&'static FieldDef> {
    fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// A value of a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    /// No value.
    Null,
    /// Text (ids, picklists, emails, …).
    Str(Cow<'a, str>),
    /// A number.
    Num(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An instant (epoch ms).
    DateTime(i64),
    /// A calendar date (epoch ms of any instant that day).
    Date(i64),
}

/// One record of an object.
#[derive(Clone, Debug)]
pub enum Rec<'w> {
    /// A company.
    Account(&'w Company),
    /// A converted person.
    Contact(Person),
    /// A person.
    Lead(Person),
    /// A deal.
    Opportunity(&'w Deal),
    /// A stage-history entry.
    History(StageEntry),
    /// An owner.
    User(&'w Owner),
    /// A campaign.
    Campaign(&'w Campaign),
}

/// Where a record sits in its object's id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// Index into companies, deals, owners or campaigns.
    Index(u64),
    /// Deal index and history entry number.
    Entry(u32, u32),
}

/// Every record key of `object` in id order (deleted people included).
pub fn keys(w: &World, object: &str) -> Vec<Key> {
    match object {
        "Account" => (0..w.companies().len() as u64).map(Key::Index).collect(),
        "Lead" => (0..w.people_total()).map(Key::Index).collect(),
        "Contact" => (0..w.people_total())
            .filter(|&i| w.is_converted(i))
            .map(Key::Index)
            .collect(),
        "Opportunity" => (0..w.deals().len() as u64).map(Key::Index).collect(),
        "OpportunityHistory" => (0..w.deals().len() as u32)
            .flat_map(|d| (0..w.deal_history(d).len() as u32).map(move |n| Key::Entry(d, n)))
            .collect(),
        "User" => (0..w.owners().len() as u64).map(Key::Index).collect(),
        "Campaign" => (0..w.campaigns().len() as u64).map(Key::Index).collect(),
        _ => Vec::new(),
    }
}

/// The record of `object` at `key`.
pub fn record<'w>(w: &'w World, object: &str, key: Key) -> Option<Rec<'w>> {
    Some(match (object, key) {
        ("Account", Key::Index(i)) => Rec::Account(w.companies().get(i as usize)?),
        ("Lead", Key::Index(i)) => Rec::Lead(w.person(i)?),
        ("Contact", Key::Index(i)) => Rec::Contact(w.person(i)?),
        ("Opportunity", Key::Index(i)) => Rec::Opportunity(w.deals().get(i as usize)?),
        ("OpportunityHistory", Key::Entry(d, n)) => {
            Rec::History(w.deal_history(d).into_iter().nth(n as usize)?)
        }
        ("User", Key::Index(i)) => Rec::User(w.owners().get(i as usize)?),
        ("Campaign", Key::Index(i)) => Rec::Campaign(w.campaigns().get(i as usize)?),
        _ => return None,
    })
}

/// Salesforce's stage names for the pipeline.
pub fn stage_name(s: DealStage) -> &'static str {
    match s {
        DealStage::AppointmentScheduled => "Prospecting",
        DealStage::QualifiedToBuy => "Qualification",
        DealStage::PresentationScheduled => "Needs Analysis",
        DealStage::DecisionMakerBoughtIn => "Proposal/Price Quote",
        DealStage::ContractSent => "Negotiation/Review",
        DealStage::ClosedWon => "Closed Won",
        DealStage::ClosedLost => "Closed Lost",
    }
}

fn probability(s: DealStage) -> f64 {
    s.probability().parse::<f64>().unwrap_or(0.0) * 100.0
}

/// Forecast category: its label (`ForecastCategoryName`) and API value (`ForecastCategory`).
fn forecast(s: DealStage) -> (&'static str, &'static str) {
    match s {
        DealStage::AppointmentScheduled | DealStage::QualifiedToBuy => ("Pipeline", "Pipeline"),
        DealStage::PresentationScheduled | DealStage::DecisionMakerBoughtIn => {
            ("Best Case", "BestCase")
        }
        DealStage::ContractSent => ("Commit", "Forecast"),
        DealStage::ClosedWon => ("Closed", "Closed"),
        DealStage::ClosedLost => ("Omitted", "Omitted"),
    }
}

fn lead_source(c: Channel) -> &'static str {
    match c {
        Channel::PaidSearch => "Paid Search",
        Channel::PaidSocial => "Paid Social",
        Channel::Organic => "Organic Search",
        Channel::Email => "Email",
        Channel::Referral => "Partner Referral",
        Channel::Direct => "Web",
    }
}

fn s<'a>(v: impl Into<Cow<'a, str>>) -> Val<'a> {
    Val::Str(v.into())
}

fn opt_s<'a>(v: Option<impl Into<Cow<'a, str>>>) -> Val<'a> {
    v.map_or(Val::Null, |v| Val::Str(v.into()))
}

fn user_id(w: &World, owner: u32) -> std::string::String {
    id("User", u64::from(owner % w.owners().len().max(1) as u32))
}

/// The owner of a person: the owner of their first deal, else spread over the owners.
fn person_owner(w: &World, p: &Person) -> u32 {
    w.deals_of_person(p.index)
        .first()
        .map(|&d| w.deals()[d as usize].owner)
        .unwrap_or((p.index % w.owners().len().max(1) as u64) as u32)
}

/// A stamp for a person's row: the later of its modification and its conversion.
fn person_stamp(w: &World, p: &Person) -> i64 {
    w.converted_ms(p)
        .map_or(p.modified_ms, |c| c.max(p.modified_ms))
}

impl<'w> Rec<'w> {
    /// The object this record belongs to.
    pub fn object(&self) -> &'static str {
        match self {
            Rec::Account(_) => "Account",
            Rec::Contact(_) => "Contact",
            Rec::Lead(_) => "Lead",
            Rec::Opportunity(_) => "Opportunity",
            Rec::History(_) => "OpportunityHistory",
            Rec::User(_) => "User",
            Rec::Campaign(_) => "Campaign",
        }
    }

    /// Whether the record is in the recycle bin (only `queryAll` lists it).
    pub fn deleted(&self) -> bool {
        match self {
            Rec::Contact(p) | Rec::Lead(p) => p.archived,
            _ => false,
        }
    }

    /// The record's id.
    pub fn id(&self) -> std::string::String {
        match self {
            Rec::Account(c) => id("Account", u64::from(c.index)),
            Rec::Contact(p) => id("Contact", p.index),
            Rec::Lead(p) => id("Lead", p.index),
            Rec::Opportunity(d) => id("Opportunity", u64::from(d.index)),
            Rec::History(e) => id("OpportunityHistory", e.key()),
            Rec::User(o) => id("User", u64::from(o.index)),
            Rec::Campaign(c) => id("Campaign", u64::from(c.index)),
        }
    }

    /// The record a relationship (`Account`, `Owner`, …) points to.
    pub fn related(&self, w: &'w World, relationship: &str) -> Option<Rec<'w>> {
        let (object, key) = match (self, relationship) {
            (Rec::Contact(p), "Account") | (Rec::Lead(p), "ConvertedAccount") => {
                if matches!(self, Rec::Lead(_)) && !w.is_converted(p.index) {
                    return None;
                }
                ("Account", Key::Index(u64::from(p.company)))
            }
            (Rec::Opportunity(d), "Account") => ("Account", Key::Index(u64::from(d.company))),
            (Rec::Opportunity(d), "Campaign") => {
                let c = w.person(d.contact?)?.campaign?;
                ("Campaign", Key::Index(u64::from(c)))
            }
            (Rec::History(e), "Opportunity") => ("Opportunity", Key::Index(u64::from(e.deal))),
            (Rec::Opportunity(d), "Owner") => ("User", Key::Index(u64::from(d.owner))),
            (Rec::History(e), "CreatedBy") => (
                "User",
                Key::Index(u64::from(w.deals()[e.deal as usize].owner)),
            ),
            (Rec::Contact(p) | Rec::Lead(p), "Owner") => {
                ("User", Key::Index(u64::from(person_owner(w, p))))
            }
            (Rec::Account(c), "Owner") => (
                "User",
                Key::Index(u64::from(c.index) % w.owners().len() as u64),
            ),
            (Rec::Campaign(c), "Owner") => (
                "User",
                Key::Index(u64::from(c.index) % w.owners().len() as u64),
            ),
            _ => return None,
        };
        record(w, object, key)
    }

    /// The value of field `name` (its canonical API name).
    pub fn get(&self, w: &'w World, name: &str) -> Val<'w> {
        if name == "Id" {
            return s(self.id());
        }
        match self {
            Rec::Account(c) => account(w, c, name),
            Rec::Contact(p) => contact(w, p, name),
            Rec::Lead(p) => lead(w, p, name),
            Rec::Opportunity(d) => opportunity(w, d, name),
            Rec::History(e) => history(w, e, name),
            Rec::User(o) => user(o, name),
            Rec::Campaign(c) => campaign(w, c, name),
        }
    }
}

fn account<'w>(w: &'w World, c: &'w Company, name: &str) -> Val<'w> {
    let customer = w.billing().customer_of_company(c.index);
    match name {
        "Name" => s(c.name.as_str()),
        "Website" => s(format!("https://www.{}", c.domain)),
        "Industry" => s(c.industry.label()),
        "AnnualRevenue" => Val::Num(c.annual_revenue as f64),
        "NumberOfEmployees" => Val::Int(i64::from(c.employees)),
        "BillingCity" => s(c.city),
        "BillingCountry" => s(c.country),
        "Type" => s(if customer.is_some() {
            "Customer - Direct"
        } else {
            "Prospect"
        }),
        "OwnerId" => s(user_id(w, c.index)),
        "ParentId" => Val::Null,
        "CreatedDate" => Val::DateTime(c.created_ms),
        "LastModifiedDate" | "SystemModstamp" => Val::DateTime(c.modified_ms),
        "IsDeleted" => Val::Bool(false),
        "Stripe_Customer_Id__c" => opt_s(customer.map(|cu| {
            crate::stripe::ids::id(crate::stripe::ids::Kind::Customer, u64::from(cu.index))
        })),
        "Customer_Since__c" => customer.map_or(Val::Null, |cu| Val::Date(cu.created_ms)),
        _ => Val::Null,
    }
}

fn contact<'w>(w: &'w World, p: &Person, name: &str) -> Val<'w> {
    match name {
        "AccountId" => s(id("Account", u64::from(p.company))),
        "FirstName" => s(p.first_name),
        "LastName" => s(p.last_name),
        "Name" => s(format!("{} {}", p.first_name, p.last_name)),
        "Email" => s(p.email.clone()),
        "Title" => s(p.job_title),
        "Phone" => s(p.phone.clone()),
        "LeadSource" => s(lead_source(p.channel)),
        "OwnerId" => s(user_id(w, person_owner(w, p))),
        "CreatedDate" => Val::DateTime(w.converted_ms(p).unwrap_or(p.created_ms)),
        "LastModifiedDate" | "SystemModstamp" => Val::DateTime(person_stamp(w, p)),
        "IsDeleted" => Val::Bool(p.archived),
        "GCLID__c" => opt_s(p.click_id.clone()),
        _ => Val::Null,
    }
}

fn lead<'w>(w: &'w World, p: &Person, name: &str) -> Val<'w> {
    let converted = w.is_converted(p.index);
    match name {
        "FirstName" => s(p.first_name),
        "LastName" => s(p.last_name),
        "Name" => s(format!("{} {}", p.first_name, p.last_name)),
        "Email" => s(p.email.clone()),
        "Company" => s(w.companies()[p.company as usize].name.as_str()),
        "Title" => s(p.job_title),
        "Phone" => s(p.phone.clone()),
        "Status" => s(if converted {
            "Closed - Converted"
        } else {
            match p.lifecycle {
                crate::world::Lifecycle::Subscriber | crate::world::Lifecycle::Lead => {
                    "Open - Not Contacted"
                }
                _ => "Working - Contacted",
            }
        }),
        "LeadSource" => s(lead_source(p.channel)),
        "IsConverted" => Val::Bool(converted),
        "ConvertedDate" => w.converted_ms(p).map_or(Val::Null, Val::Date),
        "ConvertedAccountId" => opt_s(converted.then(|| id("Account", u64::from(p.company)))),
        "ConvertedContactId" => opt_s(converted.then(|| id("Contact", p.index))),
        "ConvertedOpportunityId" => opt_s(
            w.deals_of_person(p.index)
                .first()
                .map(|&d| id("Opportunity", u64::from(d))),
        ),
        "OwnerId" => s(user_id(w, person_owner(w, p))),
        "CreatedDate" => Val::DateTime(p.created_ms),
        "LastModifiedDate" | "SystemModstamp" => Val::DateTime(person_stamp(w, p)),
        "IsDeleted" => Val::Bool(p.archived),
        "UTM_Source__c" => opt_s(w.utm_of(p).map(|u| u.0)),
        "UTM_Medium__c" => opt_s(w.utm_of(p).map(|u| u.1)),
        "UTM_Campaign__c" => opt_s(w.utm_of(p).map(|u| u.2.to_string())),
        "GCLID__c" => opt_s(p.click_id.clone()),
        "Trial_Start__c" => p.trial_start_ms.map_or(Val::Null, Val::Date),
        _ => Val::Null,
    }
}

fn opportunity<'w>(w: &'w World, d: &'w Deal, name: &str) -> Val<'w> {
    match name {
        "Name" => s(d.name.as_str()),
        "AccountId" => s(id("Account", u64::from(d.company))),
        "Amount" => Val::Num(d.amount_cents as f64 / 100.0),
        "StageName" => s(stage_name(d.stage)),
        "CloseDate" => Val::Date(d.close_ms),
        "IsClosed" => Val::Bool(d.stage.is_closed()),
        "IsWon" => Val::Bool(d.stage == DealStage::ClosedWon),
        "Probability" => Val::Num(probability(d.stage)),
        "ForecastCategoryName" => s(forecast(d.stage).0),
        "LeadSource" => s(lead_source(d.channel)),
        "CampaignId" => opt_s(
            d.contact
                .and_then(|p| w.person(p))
                .and_then(|p| p.campaign)
                .map(|c| id("Campaign", u64::from(c))),
        ),
        "OwnerId" => s(id("User", u64::from(d.owner))),
        "Type" => s("New Business"),
        "CreatedDate" => Val::DateTime(d.created_ms),
        "LastModifiedDate" | "SystemModstamp" => Val::DateTime(d.modified_ms),
        "IsDeleted" => Val::Bool(false),
        "Stripe_Subscription_Id__c" => opt_s(
            w.billing()
                .subscriptions()
                .iter()
                .find(|s| s.deal == d.index)
                .map(|s| {
                    crate::stripe::ids::id(
                        crate::stripe::ids::Kind::Subscription,
                        u64::from(s.index),
                    )
                }),
        ),
        _ => Val::Null,
    }
}

fn history<'w>(w: &'w World, e: &StageEntry, name: &str) -> Val<'w> {
    let amount = e.amount_cents as f64 / 100.0;
    match name {
        "OpportunityId" => s(id("Opportunity", u64::from(e.deal))),
        "StageName" => s(stage_name(e.stage)),
        "Amount" => Val::Num(amount),
        "ExpectedRevenue" => Val::Num((amount * probability(e.stage)).round() / 100.0),
        "CloseDate" => Val::Date(e.close_ms),
        "Probability" => Val::Num(probability(e.stage)),
        "ForecastCategory" => s(forecast(e.stage).1),
        "PrevAmount" => e
            .prev_amount_cents
            .map_or(Val::Null, |a| Val::Num(a as f64 / 100.0)),
        "PrevCloseDate" => e.prev_close_ms.map_or(Val::Null, Val::Date),
        "CreatedById" => s(id("User", u64::from(w.deals()[e.deal as usize].owner))),
        "CreatedDate" | "SystemModstamp" => Val::DateTime(e.created_ms),
        "IsDeleted" => Val::Bool(false),
        _ => Val::Null,
    }
}

fn user<'w>(o: &'w Owner, name: &str) -> Val<'w> {
    match name {
        "Username" => s(format!("{}.revline", o.email)),
        "Email" => s(o.email.as_str()),
        "FirstName" => s(o.first_name),
        "LastName" => s(o.last_name),
        "Name" => s(format!("{} {}", o.first_name, o.last_name)),
        "Title" => s("Account Executive"),
        "IsActive" => Val::Bool(true),
        "UserType" => s("Standard"),
        "CreatedDate" => Val::DateTime(o.created_ms),
        "LastModifiedDate" | "SystemModstamp" => Val::DateTime(o.modified_ms),
        _ => Val::Null,
    }
}

const DAY_MS: i64 = 86_400_000;

fn campaign<'w>(w: &'w World, c: &'w Campaign, name: &str) -> Val<'w> {
    let end = c.start_ms + 90 * DAY_MS;
    match name {
        "Name" => s(c.name.as_str()),
        "Type" => s(match c.channel {
            Channel::PaidSearch | Channel::PaidSocial => "Advertisement",
            Channel::Email => "Email",
            Channel::Referral => "Partners",
            _ => "Other",
        }),
        "Status" => s(if end < w.now_ms() {
            "Completed"
        } else {
            "In Progress"
        }),
        "StartDate" => Val::Date(c.start_ms),
        "EndDate" => Val::Date(end),
        "IsActive" => Val::Bool(end >= w.now_ms()),
        "BudgetedCost" => Val::Num((5_000 + (c.id % 20) * 1_000) as f64),
        "OwnerId" => s(id("User", u64::from(c.index) % w.owners().len() as u64)),
        "CreatedDate" => Val::DateTime(c.start_ms - 14 * DAY_MS),
        "LastModifiedDate" | "SystemModstamp" => Val::DateTime(c.start_ms),
        "IsDeleted" => Val::Bool(false),
        "UTM_Source__c" => s(c.utm_source),
        "UTM_Medium__c" => s(c.utm_medium),
        "UTM_Campaign__c" => s(c.utm_campaign.as_str()),
        _ => Val::Null,
    }
}
