//! The streams: one per sObject, each with its standard fields (the default field list) and
//! the relationship fields it flattens.

use revline_core::{Column, ColumnType as T, StreamDescriptor, StreamSchema, SyncMode};

/// One Salesforce stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamDef {
    /// Stream (table) name.
    pub name: &'static str,
    /// sObject API name.
    pub object: &'static str,
    /// One line for `revline connectors`.
    pub description: &'static str,
    /// Standard fields loaded by default (custom `__c` fields are added from `describe`).
    pub fields: &'static [(&'static str, T)],
    /// Relationship fields flattened into `<relationship>__<field>` columns.
    pub related: &'static [(&'static str, &'static str, T)],
}

/// The cursor field.
pub const CURSOR_FIELD: &str = "SystemModstamp";
/// The cursor column.
pub const CURSOR: &str = "system_modstamp";
/// The soft-delete column (from `IsDeleted`).
pub const DELETED: &str = "_deleted";

const fn money() -> T {
    T::Decimal {
        precision: 18,
        scale: 2,
    }
}

/// Every stream, in listing order.
pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: "accounts",
        object: "Account",
        description: "Accounts (companies) with website, industry, revenue, owner and custom fields",
        fields: &[
            ("Id", T::Utf8),
            ("Name", T::Utf8),
            ("Website", T::Utf8),
            ("Industry", T::Utf8),
            ("AnnualRevenue", money()),
            ("NumberOfEmployees", T::Int64),
            ("BillingCity", T::Utf8),
            ("BillingCountry", T::Utf8),
            ("Type", T::Utf8),
            ("OwnerId", T::Utf8),
            ("ParentId", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("LastModifiedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
            ("IsDeleted", T::Boolean),
        ],
        related: &[],
    },
    StreamDef {
        name: "contacts",
        object: "Contact",
        description: "Contacts (converted people) with their account",
        fields: &[
            ("Id", T::Utf8),
            ("AccountId", T::Utf8),
            ("FirstName", T::Utf8),
            ("LastName", T::Utf8),
            ("Name", T::Utf8),
            ("Email", T::Utf8),
            ("Title", T::Utf8),
            ("Phone", T::Utf8),
            ("LeadSource", T::Utf8),
            ("OwnerId", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("LastModifiedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
            ("IsDeleted", T::Boolean),
        ],
        related: &[
            ("Account", "Name", T::Utf8),
            ("Account", "Website", T::Utf8),
        ],
    },
    StreamDef {
        name: "leads",
        object: "Lead",
        description: "Leads (every person that entered the funnel), with conversion and attribution",
        fields: &[
            ("Id", T::Utf8),
            ("FirstName", T::Utf8),
            ("LastName", T::Utf8),
            ("Email", T::Utf8),
            ("Company", T::Utf8),
            ("Title", T::Utf8),
            ("Phone", T::Utf8),
            ("Status", T::Utf8),
            ("LeadSource", T::Utf8),
            ("IsConverted", T::Boolean),
            ("ConvertedDate", T::Date),
            ("ConvertedAccountId", T::Utf8),
            ("ConvertedContactId", T::Utf8),
            ("ConvertedOpportunityId", T::Utf8),
            ("OwnerId", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("LastModifiedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
            ("IsDeleted", T::Boolean),
        ],
        related: &[],
    },
    StreamDef {
        name: "opportunities",
        object: "Opportunity",
        description: "Opportunities with amount, stage, close date, forecast and their account",
        fields: &[
            ("Id", T::Utf8),
            ("Name", T::Utf8),
            ("AccountId", T::Utf8),
            ("Amount", money()),
            ("StageName", T::Utf8),
            ("CloseDate", T::Date),
            ("IsClosed", T::Boolean),
            ("IsWon", T::Boolean),
            ("Probability", T::Float64),
            ("ForecastCategoryName", T::Utf8),
            ("LeadSource", T::Utf8),
            ("CampaignId", T::Utf8),
            ("OwnerId", T::Utf8),
            ("Type", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("LastModifiedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
            ("IsDeleted", T::Boolean),
        ],
        related: &[
            ("Account", "Name", T::Utf8),
            ("Account", "Website", T::Utf8),
        ],
    },
    StreamDef {
        name: "opportunity_history",
        object: "OpportunityHistory",
        description: "Opportunity stage history: one row per stage, amount or close-date change",
        fields: &[
            ("Id", T::Utf8),
            ("OpportunityId", T::Utf8),
            ("StageName", T::Utf8),
            ("Amount", money()),
            ("ExpectedRevenue", money()),
            ("CloseDate", T::Date),
            ("Probability", T::Float64),
            ("ForecastCategory", T::Utf8),
            ("PrevAmount", money()),
            ("PrevCloseDate", T::Date),
            ("CreatedById", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
            ("IsDeleted", T::Boolean),
        ],
        related: &[],
    },
    StreamDef {
        name: "users",
        object: "User",
        description: "Users (record owners)",
        fields: &[
            ("Id", T::Utf8),
            ("Username", T::Utf8),
            ("Email", T::Utf8),
            ("FirstName", T::Utf8),
            ("LastName", T::Utf8),
            ("Name", T::Utf8),
            ("Title", T::Utf8),
            ("IsActive", T::Boolean),
            ("UserType", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("LastModifiedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
        ],
        related: &[],
    },
    StreamDef {
        name: "campaigns",
        object: "Campaign",
        description: "Marketing campaigns with type, status, dates and budget",
        fields: &[
            ("Id", T::Utf8),
            ("Name", T::Utf8),
            ("Type", T::Utf8),
            ("Status", T::Utf8),
            ("StartDate", T::Date),
            ("EndDate", T::Date),
            ("IsActive", T::Boolean),
            ("BudgetedCost", money()),
            ("OwnerId", T::Utf8),
            ("CreatedDate", T::Timestamp),
            ("LastModifiedDate", T::Timestamp),
            ("SystemModstamp", T::Timestamp),
            ("IsDeleted", T::Boolean),
        ],
        related: &[],
    },
];

/// The column of a field: snake_case, `IsDeleted` as `_deleted`.
pub fn column(field: &str, ty: T) -> Column {
    if field == "IsDeleted" {
        Column::new(field, ty).named(DELETED)
    } else {
        Column::new(field, ty)
    }
}

/// The column of a relationship field, `Account.Name` → `account__name`.
pub fn related_column(rel: &str, field: &str, ty: T) -> Column {
    Column::nested(&[rel, field], ty)
}

impl StreamDef {
    /// The declared schema: the standard fields and the relationship fields.
    pub fn schema(&self) -> StreamSchema {
        let mut cols: Vec<Column> = self
            .fields
            .iter()
            .map(|(f, t)| column(f, t.clone()))
            .collect();
        cols.extend(
            self.related
                .iter()
                .map(|(r, f, t)| related_column(r, f, t.clone())),
        );
        StreamSchema::new(cols).expect("distinct Salesforce columns")
    }

    /// The stream declaration.
    pub fn descriptor(&self) -> StreamDescriptor {
        StreamDescriptor {
            name: self.name.to_string(),
            description: self.description.to_string(),
            schema: self.schema(),
            primary_key: vec!["id".to_string()],
            cursor_field: Some(CURSOR.to_string()),
            sync_modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
        }
    }
}
