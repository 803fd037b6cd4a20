//! Declared streams: schemas, keys, cursors and modes, and the simple list endpoints declared
//! as data (`Link` header paging over bare JSON arrays).

use std::sync::Arc;

use revline_core::decode::BadValuePolicy;
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{CursorTarget, LinkHeaderPaginator};
use revline_core::rest::{CursorFormat, IncrementalParam, RestStream, RestStreamSpec};
use revline_core::{Column, ColumnType as T, StreamDescriptor, StreamSchema, SyncMode};

fn descriptor(
    name: &str,
    description: &str,
    columns: Vec<Column>,
    cursor: Option<&str>,
) -> StreamDescriptor {
    let modes = if cursor.is_some() {
        vec![SyncMode::Incremental, SyncMode::FullRefresh]
    } else {
        vec![SyncMode::FullRefresh]
    };
    StreamDescriptor {
        name: name.into(),
        description: description.into(),
        schema: StreamSchema::new(columns).expect("distinct Freshdesk columns"),
        primary_key: vec!["id".into()],
        cursor_field: cursor.map(String::from),
        sync_modes: modes,
    }
}

/// `tickets`: the ticket listing ordered by `updated_at`, with requester and stats.
pub fn tickets() -> StreamDescriptor {
    descriptor(
        "tickets",
        "Tickets (updated_since listing, restarted past the page-300 ceiling) with requester and SLA stats",
        vec![
            Column::new("id", T::Int64),
            Column::new("subject", T::Utf8),
            Column::new("description_text", T::Utf8),
            Column::new("status", T::Int64),
            Column::new("priority", T::Int64),
            Column::new("source", T::Int64),
            Column::new("type", T::Utf8),
            Column::new("requester_id", T::Int64),
            Column::new("responder_id", T::Int64),
            Column::new("company_id", T::Int64),
            Column::new("group_id", T::Int64),
            Column::new("product_id", T::Int64),
            Column::new("email_config_id", T::Int64),
            Column::new("spam", T::Boolean),
            Column::new("is_escalated", T::Boolean),
            Column::new("fr_escalated", T::Boolean),
            Column::new("due_by", T::Timestamp),
            Column::new("fr_due_by", T::Timestamp),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
            Column::new("tags", T::StringList),
            Column::new("to_emails", T::StringList),
            Column::new("cc_emails", T::StringList),
            Column::new("custom_fields", T::Json),
            Column::nested(&["requester", "name"], T::Utf8),
            Column::nested(&["requester", "email"], T::Utf8),
            Column::nested(&["stats", "first_responded_at"], T::Timestamp),
            Column::nested(&["stats", "agent_responded_at"], T::Timestamp),
            Column::nested(&["stats", "requester_responded_at"], T::Timestamp),
            Column::nested(&["stats", "status_updated_at"], T::Timestamp),
            Column::nested(&["stats", "reopened_at"], T::Timestamp),
            Column::nested(&["stats", "resolved_at"], T::Timestamp),
            Column::nested(&["stats", "closed_at"], T::Timestamp),
            Column::nested(&["stats", "pending_since"], T::Timestamp),
        ],
        Some("updated_at"),
    )
}

/// `conversations`: replies and notes of the tickets changed since the last sync.
pub fn conversations() -> StreamDescriptor {
    descriptor(
        "conversations",
        "Replies and notes of changed tickets (first agent reply = first response)",
        vec![
            Column::new("id", T::Int64),
            Column::new("ticket_id", T::Int64),
            Column::new("user_id", T::Int64),
            Column::new("incoming", T::Boolean),
            Column::new("private", T::Boolean),
            Column::new("source", T::Int64),
            Column::new("category", T::Int64),
            Column::new("body_text", T::Utf8),
            Column::new("from_email", T::Utf8),
            Column::new("to_emails", T::StringList),
            Column::new("support_email", T::Utf8),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        Some("updated_at"),
    )
}

/// `contacts`: requesters.
pub fn contacts() -> StreamDescriptor {
    descriptor(
        "contacts",
        "Contacts (requesters), with their company and CRM id",
        vec![
            Column::new("id", T::Int64),
            Column::new("name", T::Utf8),
            Column::new("email", T::Utf8),
            Column::new("phone", T::Utf8),
            Column::new("mobile", T::Utf8),
            Column::new("job_title", T::Utf8),
            Column::new("company_id", T::Int64),
            Column::new("active", T::Boolean),
            Column::new("language", T::Utf8),
            Column::new("time_zone", T::Utf8),
            Column::new("unique_external_id", T::Utf8),
            Column::new("other_emails", T::StringList),
            Column::new("custom_fields", T::Json),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        Some("updated_at"),
    )
}

/// `companies`: customer companies with their domains.
pub fn companies() -> StreamDescriptor {
    descriptor(
        "companies",
        "Companies with their domains (joins tickets to CRM companies)",
        vec![
            Column::new("id", T::Int64),
            Column::new("name", T::Utf8),
            Column::new("description", T::Utf8),
            Column::new("note", T::Utf8),
            Column::new("domains", T::StringList),
            Column::new("health_score", T::Utf8),
            Column::new("account_tier", T::Utf8),
            Column::new("renewal_date", T::Timestamp),
            Column::new("industry", T::Utf8),
            Column::new("custom_fields", T::Json),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        None,
    )
}

/// `agents`: support agents.
pub fn agents() -> StreamDescriptor {
    descriptor(
        "agents",
        "Agents with their contact details and groups",
        vec![
            Column::new("id", T::Int64),
            Column::new("available", T::Boolean),
            Column::new("occasional", T::Boolean),
            Column::new("ticket_scope", T::Int64),
            Column::new("type", T::Utf8),
            Column::new("group_ids", T::Json),
            Column::nested(&["contact", "name"], T::Utf8),
            Column::nested(&["contact", "email"], T::Utf8),
            Column::nested(&["contact", "job_title"], T::Utf8),
            Column::nested(&["contact", "active"], T::Boolean),
            Column::nested(&["contact", "language"], T::Utf8),
            Column::nested(&["contact", "time_zone"], T::Utf8),
            Column::new("last_active_at", T::Timestamp),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        None,
    )
}

/// `groups`: agent groups.
pub fn groups() -> StreamDescriptor {
    descriptor(
        "groups",
        "Agent groups",
        vec![
            Column::new("id", T::Int64),
            Column::new("name", T::Utf8),
            Column::new("description", T::Utf8),
            Column::new("group_type", T::Utf8),
            Column::new("unassigned_for", T::Utf8),
            Column::new("escalate_to", T::Int64),
            Column::new("business_hour_id", T::Int64),
            Column::new("auto_ticket_assign", T::Boolean),
            Column::new("agent_ids", T::Json),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        None,
    )
}

/// `satisfaction_ratings`: CSAT survey answers.
pub fn satisfaction_ratings() -> StreamDescriptor {
    descriptor(
        "satisfaction_ratings",
        "Satisfaction survey answers (103 extremely happy … -103 extremely unhappy)",
        vec![
            Column::new("id", T::Int64),
            Column::new("survey_id", T::Int64),
            Column::new("ticket_id", T::Int64),
            Column::new("user_id", T::Int64),
            Column::new("agent_id", T::Int64),
            Column::new("group_id", T::Int64),
            Column::new("feedback", T::Utf8),
            Column::nested(&["ratings", "default_question"], T::Int64),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        Some("created_at"),
    )
}

/// Every stream, in `revline connectors` order.
pub fn all() -> Vec<StreamDescriptor> {
    vec![
        tickets(),
        conversations(),
        contacts(),
        companies(),
        agents(),
        groups(),
        satisfaction_ratings(),
    ]
}

/// A `Link`-paged list endpoint as a declarative stream; `since` is its incremental filter
/// parameter (`_updated_since`, `created_since`).
pub fn list_stream(
    descriptor: StreamDescriptor,
    client: &HttpClient,
    path: &str,
    since: Option<&str>,
    page_size: u32,
    policy: BadValuePolicy,
) -> RestStream {
    let request = ApiRequest::get(client.url(path)).with_query("per_page", page_size.to_string());
    RestStream::new(
        RestStreamSpec {
            descriptor,
            request,
            records_path: Vec::new(),
            paginator: Arc::new(LinkHeaderPaginator),
            incremental: since.map(|p| IncrementalParam {
                target: CursorTarget::Query(p.into()),
                format: CursorFormat::Rfc3339,
            }),
        },
        client.clone(),
        policy,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_columns_for_the_models() {
        let t = tickets();
        for c in [
            "stats__first_responded_at",
            "stats__resolved_at",
            "stats__closed_at",
            "created_at",
            "updated_at",
        ] {
            assert_eq!(t.schema.column(c).unwrap().ty, T::Timestamp, "{c}");
        }
        for c in ["status", "priority", "source", "company_id"] {
            assert_eq!(t.schema.column(c).unwrap().ty, T::Int64, "{c}");
        }
        assert_eq!(
            conversations().schema.column("incoming").unwrap().ty,
            T::Boolean
        );
        assert_eq!(
            companies().schema.column("domains").unwrap().ty,
            T::StringList
        );
        assert_eq!(
            satisfaction_ratings()
                .schema
                .column("ratings__default_question")
                .unwrap()
                .ty,
            T::Int64
        );
        let names: Vec<String> = all().into_iter().map(|d| d.name).collect();
        assert_eq!(
            names,
            [
                "tickets",
                "conversations",
                "contacts",
                "companies",
                "agents",
                "groups",
                "satisfaction_ratings"
            ]
        );
    }
}
