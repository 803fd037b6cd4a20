//! Declared streams: schemas, keys, cursors and modes, and the simple list endpoints declared
//! as data.

use std::sync::Arc;

use revline_core::decode::BadValuePolicy;
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{
    CursorPaginator, CursorSource, CursorTarget, NextUrlPaginator, NoPaginator, Paginator,
};
use revline_core::rest::{RestStream, RestStreamSpec};
use revline_core::schema::EpochUnit;
use revline_core::{Column, ColumnType as T, StreamDescriptor, StreamSchema, SyncMode};

use crate::VERSION;

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
        schema: StreamSchema::new(columns).expect("distinct Intercom columns"),
        primary_key: vec!["id".into()],
        cursor_field: cursor.map(String::from),
        sync_modes: modes,
    }
}

fn secs(path: &[&str]) -> Column {
    Column::nested(path, T::Timestamp).epoch(EpochUnit::Seconds)
}

/// `conversations`: from the search endpoint, with their statistics and rating.
pub fn conversations() -> StreamDescriptor {
    descriptor(
        "conversations",
        "Conversations (search on updated_at) with statistics: first admin reply, closes, reopens, rating",
        vec![
            Column::new("id", T::Utf8),
            secs(&["created_at"]),
            secs(&["updated_at"]),
            secs(&["waiting_since"]),
            secs(&["snoozed_until"]),
            Column::new("open", T::Boolean),
            Column::new("state", T::Utf8),
            Column::new("read", T::Boolean),
            Column::new("priority", T::Utf8),
            Column::new("title", T::Utf8),
            Column::new("admin_assignee_id", T::Int64),
            Column::new("team_assignee_id", T::Int64),
            Column::nested(&["source", "type"], T::Utf8),
            Column::nested(&["source", "id"], T::Utf8),
            Column::nested(&["source", "delivered_as"], T::Utf8),
            Column::nested(&["source", "subject"], T::Utf8),
            Column::nested(&["source", "author", "type"], T::Utf8),
            Column::nested(&["source", "author", "id"], T::Utf8),
            Column::nested(&["source", "author", "email"], T::Utf8),
            Column::nested(&["source", "url"], T::Utf8),
            Column::nested(&["contacts", "contacts"], T::Json),
            Column::nested(&["tags", "tags"], T::Json),
            Column::nested(&["conversation_rating", "rating"], T::Int64),
            Column::nested(&["conversation_rating", "remark"], T::Utf8),
            secs(&["conversation_rating", "created_at"]),
            Column::nested(&["conversation_rating", "teammate", "id"], T::Utf8),
            Column::nested(&["statistics", "time_to_assignment"], T::Int64),
            Column::nested(&["statistics", "time_to_admin_reply"], T::Int64),
            Column::nested(&["statistics", "time_to_first_close"], T::Int64),
            Column::nested(&["statistics", "time_to_last_close"], T::Int64),
            Column::nested(&["statistics", "median_time_to_reply"], T::Int64),
            secs(&["statistics", "first_contact_reply_at"]),
            secs(&["statistics", "first_assignment_at"]),
            secs(&["statistics", "first_admin_reply_at"]),
            secs(&["statistics", "first_close_at"]),
            secs(&["statistics", "last_close_at"]),
            secs(&["statistics", "last_contact_reply_at"]),
            secs(&["statistics", "last_admin_reply_at"]),
            Column::nested(&["statistics", "count_reopens"], T::Int64),
            Column::nested(&["statistics", "count_assignments"], T::Int64),
            Column::nested(&["statistics", "count_conversation_parts"], T::Int64),
            Column::new("custom_attributes", T::Json),
        ],
        Some("updated_at"),
    )
}

/// `contacts`: users and leads.
pub fn contacts() -> StreamDescriptor {
    descriptor(
        "contacts",
        "Contacts (users and leads) with their CRM external_id and companies",
        vec![
            Column::new("id", T::Utf8),
            Column::new("workspace_id", T::Utf8),
            Column::new("external_id", T::Utf8),
            Column::new("role", T::Utf8),
            Column::new("email", T::Utf8),
            Column::new("phone", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("owner_id", T::Int64),
            Column::new("has_hard_bounced", T::Boolean),
            Column::new("unsubscribed_from_emails", T::Boolean),
            secs(&["created_at"]),
            secs(&["updated_at"]),
            secs(&["signed_up_at"]),
            secs(&["last_seen_at"]),
            Column::nested(&["companies", "data"], T::Json),
            Column::new("custom_attributes", T::Json),
        ],
        None,
    )
}

/// `companies`: with their website (domain) and CRM `company_id`.
pub fn companies() -> StreamDescriptor {
    descriptor(
        "companies",
        "Companies with their website and CRM company_id",
        vec![
            Column::new("id", T::Utf8),
            Column::new("company_id", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("website", T::Utf8),
            Column::new("industry", T::Utf8),
            Column::new("size", T::Int64),
            Column::new("monthly_spend", T::Float64),
            Column::new("session_count", T::Int64),
            Column::new("user_count", T::Int64),
            secs(&["created_at"]),
            secs(&["updated_at"]),
            secs(&["remote_created_at"]),
            Column::new("custom_attributes", T::Json),
        ],
        None,
    )
}

/// `admins`: teammates.
pub fn admins() -> StreamDescriptor {
    descriptor(
        "admins",
        "Admins (teammates) with their teams",
        vec![
            Column::new("id", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("email", T::Utf8),
            Column::new("job_title", T::Utf8),
            Column::new("away_mode_enabled", T::Boolean),
            Column::new("away_mode_reassign", T::Boolean),
            Column::new("has_inbox_seat", T::Boolean),
            Column::new("team_ids", T::Json),
        ],
        None,
    )
}

/// `teams`.
pub fn teams() -> StreamDescriptor {
    descriptor(
        "teams",
        "Teams and their admins",
        vec![
            Column::new("id", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("admin_ids", T::Json),
        ],
        None,
    )
}

/// Every stream, in `revline connectors` order.
pub fn all() -> Vec<StreamDescriptor> {
    vec![conversations(), contacts(), companies(), admins(), teams()]
}

/// A GET list endpoint as a declarative stream.
pub fn list_stream(
    descriptor: StreamDescriptor,
    client: &HttpClient,
    path: &str,
    records: &str,
    query: &[(&str, String)],
    paginator: Arc<dyn Paginator>,
    policy: BadValuePolicy,
) -> RestStream {
    let mut request = ApiRequest::get(client.url(path)).with_header("Intercom-Version", VERSION);
    for (k, v) in query {
        request = request.with_query(k, v.clone());
    }
    RestStream::new(
        RestStreamSpec {
            descriptor,
            request,
            records_path: vec![records.into()],
            paginator,
            incremental: None,
        },
        client.clone(),
        policy,
    )
}

/// `starting_after` from `pages.next.starting_after` (contacts).
pub fn starting_after() -> Arc<dyn Paginator> {
    Arc::new(CursorPaginator {
        source: CursorSource::Envelope("pages.next.starting_after".into()),
        target: CursorTarget::Query("starting_after".into()),
        has_more_path: None,
    })
}

/// The `pages.next` URL (companies).
pub fn next_url() -> Arc<dyn Paginator> {
    Arc::new(NextUrlPaginator {
        path: "pages.next".into(),
    })
}

/// One request (admins, teams).
pub fn single() -> Arc<dyn Paginator> {
    Arc::new(NoPaginator)
}
