//! Declared streams: schemas, keys, cursors and modes, and the list streams declared as data.

use std::sync::Arc;

use revline_core::decode::BadValuePolicy;
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{CursorPaginator, CursorSource, CursorTarget};
use revline_core::rest::{CursorFormat, IncrementalParam, RestStream, RestStreamSpec};
use revline_core::schema::EpochUnit;
use revline_core::{Column, ColumnType as T, StreamDescriptor, StreamSchema, SyncMode};

/// Name of the soft-delete column of `tickets`.
pub const DELETED: &str = "_deleted";

fn minutes(name: &str) -> [Column; 2] {
    [
        Column::nested(&[name, "calendar"], T::Int64),
        Column::nested(&[name, "business"], T::Int64),
    ]
}

fn descriptor(
    name: &str,
    description: &str,
    columns: Vec<Column>,
    cursor: Option<&str>,
    modes: Vec<SyncMode>,
) -> StreamDescriptor {
    StreamDescriptor {
        name: name.into(),
        description: description.into(),
        schema: StreamSchema::new(columns).expect("distinct Zendesk columns"),
        primary_key: vec!["id".into()],
        cursor_field: cursor.map(String::from),
        sync_modes: modes,
    }
}

/// `tickets`: the incremental ticket export.
pub fn tickets() -> StreamDescriptor {
    descriptor(
        "tickets",
        "Tickets from the cursor-based incremental export; deleted tickets are kept with `_deleted`",
        vec![
            Column::new("id", T::Int64),
            Column::new("url", T::Utf8),
            Column::new("external_id", T::Utf8),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
            Column::new("generated_timestamp", T::Timestamp).epoch(EpochUnit::Seconds),
            Column::new("type", T::Utf8),
            Column::new("subject", T::Utf8),
            Column::new("description", T::Utf8),
            Column::new("priority", T::Utf8),
            Column::new("status", T::Utf8),
            Column::new("recipient", T::Utf8),
            Column::new("requester_id", T::Int64),
            Column::new("submitter_id", T::Int64),
            Column::new("assignee_id", T::Int64),
            Column::new("organization_id", T::Int64),
            Column::new("group_id", T::Int64),
            Column::new("brand_id", T::Int64),
            Column::new("problem_id", T::Int64),
            Column::new("ticket_form_id", T::Int64),
            Column::new("has_incidents", T::Boolean),
            Column::new("is_public", T::Boolean),
            Column::new("from_messaging_channel", T::Boolean),
            Column::new("due_at", T::Timestamp),
            Column::new("tags", T::StringList),
            Column::nested(&["via", "channel"], T::Utf8),
            Column::nested(&["via", "source", "from", "address"], T::Utf8),
            Column::nested(&["satisfaction_rating", "score"], T::Utf8),
            Column::nested(&["satisfaction_rating", "id"], T::Int64),
            Column::nested(&["satisfaction_rating", "comment"], T::Utf8),
            Column::new("custom_fields", T::Json),
            Column::new(DELETED, T::Boolean),
        ],
        Some("generated_timestamp"),
        vec![SyncMode::Incremental, SyncMode::FullRefresh],
    )
}

/// `users`: the incremental user export (requesters and agents).
pub fn users() -> StreamDescriptor {
    descriptor(
        "users",
        "End users (requesters) and agents from the cursor-based incremental export",
        vec![
            Column::new("id", T::Int64),
            Column::new("url", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("email", T::Utf8),
            Column::new("role", T::Utf8),
            Column::new("organization_id", T::Int64),
            Column::new("external_id", T::Utf8),
            Column::new("phone", T::Utf8),
            Column::new("time_zone", T::Utf8),
            Column::new("iana_time_zone", T::Utf8),
            Column::new("locale", T::Utf8),
            Column::new("verified", T::Boolean),
            Column::new("active", T::Boolean),
            Column::new("suspended", T::Boolean),
            Column::new("default_group_id", T::Int64),
            Column::new("tags", T::StringList),
            Column::new("last_login_at", T::Timestamp),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
            Column::new("user_fields", T::Json),
        ],
        Some("updated_at"),
        vec![SyncMode::Incremental, SyncMode::FullRefresh],
    )
}

/// `ticket_metrics`: reply, resolution and wait times, reopens and replies per ticket.
pub fn ticket_metrics() -> StreamDescriptor {
    let mut cols = vec![
        Column::new("id", T::Int64),
        Column::new("ticket_id", T::Int64),
        Column::new("url", T::Utf8),
        Column::new("created_at", T::Timestamp),
        Column::new("updated_at", T::Timestamp),
        Column::new("group_stations", T::Int64),
        Column::new("assignee_stations", T::Int64),
        Column::new("reopens", T::Int64),
        Column::new("replies", T::Int64),
        Column::new("assignee_updated_at", T::Timestamp),
        Column::new("requester_updated_at", T::Timestamp),
        Column::new("status_updated_at", T::Timestamp),
        Column::new("initially_assigned_at", T::Timestamp),
        Column::new("assigned_at", T::Timestamp),
        Column::new("solved_at", T::Timestamp),
        Column::new("latest_comment_added_at", T::Timestamp),
    ];
    for m in [
        "reply_time_in_minutes",
        "first_resolution_time_in_minutes",
        "full_resolution_time_in_minutes",
        "agent_wait_time_in_minutes",
        "requester_wait_time_in_minutes",
        "on_hold_time_in_minutes",
    ] {
        cols.extend(minutes(m));
    }
    descriptor(
        "ticket_metrics",
        "Per-ticket metrics: first reply and resolution times (calendar and business minutes), reopens, replies",
        cols,
        None,
        vec![SyncMode::FullRefresh],
    )
}

/// `satisfaction_ratings`: received CSAT ratings (good or bad).
pub fn satisfaction_ratings() -> StreamDescriptor {
    descriptor(
        "satisfaction_ratings",
        "Received satisfaction ratings (score good or bad, comment, reason)",
        vec![
            Column::new("id", T::Int64),
            Column::new("url", T::Utf8),
            Column::new("ticket_id", T::Int64),
            Column::new("requester_id", T::Int64),
            Column::new("assignee_id", T::Int64),
            Column::new("group_id", T::Int64),
            Column::new("score", T::Utf8),
            Column::new("comment", T::Utf8),
            Column::new("reason", T::Utf8),
            Column::new("reason_code", T::Int64),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        Some("updated_at"),
        vec![SyncMode::Incremental, SyncMode::FullRefresh],
    )
}

/// `organizations`: customer organizations with their domain names.
pub fn organizations() -> StreamDescriptor {
    descriptor(
        "organizations",
        "Organizations with their domain names (joins tickets to CRM companies)",
        vec![
            Column::new("id", T::Int64),
            Column::new("url", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("external_id", T::Utf8),
            Column::new("domain_names", T::StringList),
            Column::new("details", T::Utf8),
            Column::new("notes", T::Utf8),
            Column::new("group_id", T::Int64),
            Column::new("shared_tickets", T::Boolean),
            Column::new("shared_comments", T::Boolean),
            Column::new("tags", T::StringList),
            Column::new("organization_fields", T::Json),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        None,
        vec![SyncMode::FullRefresh],
    )
}

/// `groups`: agent groups.
pub fn groups() -> StreamDescriptor {
    descriptor(
        "groups",
        "Agent groups",
        vec![
            Column::new("id", T::Int64),
            Column::new("url", T::Utf8),
            Column::new("name", T::Utf8),
            Column::new("description", T::Utf8),
            Column::new("is_public", T::Boolean),
            Column::new("default", T::Boolean),
            Column::new("deleted", T::Boolean),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ],
        None,
        vec![SyncMode::FullRefresh],
    )
}

/// Every stream, in `revline connectors` order.
pub fn all() -> Vec<StreamDescriptor> {
    vec![
        tickets(),
        ticket_metrics(),
        satisfaction_ratings(),
        users(),
        organizations(),
        groups(),
    ]
}

/// Zendesk's cursor pagination: `page[size]`, then `page[after]` from `meta.after_cursor`
/// while `meta.has_more` is true.
fn cursor_paging() -> Arc<CursorPaginator> {
    Arc::new(CursorPaginator {
        source: CursorSource::Envelope("meta.after_cursor".into()),
        target: CursorTarget::Query("page[after]".into()),
        has_more_path: Some("meta.has_more".into()),
    })
}

/// A cursor-paginated list endpoint as a declarative stream.
pub fn list_stream(
    descriptor: StreamDescriptor,
    client: &HttpClient,
    path: &str,
    records: &str,
    page_size: u32,
    policy: BadValuePolicy,
) -> RestStream {
    let mut request =
        ApiRequest::get(client.url(path)).with_query("page[size]", page_size.to_string());
    let mut incremental = None;
    if descriptor.name == "satisfaction_ratings" {
        // Received ratings (good and bad), oldest first; incremental runs filter on the
        // last change from the stored cursor on.
        request = request
            .with_query("score", "received")
            .with_query("sort", "created_at");
        incremental = Some(IncrementalParam {
            target: CursorTarget::Query("start_time".into()),
            format: CursorFormat::EpochSeconds,
        });
    }
    RestStream::new(
        RestStreamSpec {
            descriptor,
            request,
            records_path: vec![records.into()],
            paginator: cursor_paging(),
            incremental,
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
        assert_eq!(
            t.schema.column("generated_timestamp").unwrap().ty,
            T::Timestamp
        );
        assert_eq!(t.schema.column(DELETED).unwrap().ty, T::Boolean);
        assert_eq!(
            t.schema.column("satisfaction_rating__score").unwrap().ty,
            T::Utf8
        );
        let m = ticket_metrics();
        for c in [
            "reply_time_in_minutes__calendar",
            "reply_time_in_minutes__business",
            "full_resolution_time_in_minutes__calendar",
            "first_resolution_time_in_minutes__calendar",
            "reopens",
        ] {
            assert_eq!(m.schema.column(c).unwrap().ty, T::Int64, "{c}");
        }
        assert_eq!(m.schema.column("solved_at").unwrap().ty, T::Timestamp);
        assert_eq!(
            organizations().schema.column("domain_names").unwrap().ty,
            T::StringList
        );
        let names: Vec<String> = all().into_iter().map(|d| d.name).collect();
        assert_eq!(
            names,
            [
                "tickets",
                "ticket_metrics",
                "satisfaction_ratings",
                "users",
                "organizations",
                "groups"
            ]
        );
    }
}
