//! The streams, declared as data: v2 lists (`deals`, `persons`, `organizations`,
//! `activities`) with cursor paging and `updated_since` incremental reads, and v1 lists
//! (`pipelines`, `stages`) with `start`/`limit` paging.

use std::sync::Arc;

use revline_core::http::ApiRequest;
use revline_core::paginate::{CursorPaginator, CursorSource, CursorTarget};
use revline_core::rest::{CursorFormat, IncrementalParam, RestStreamSpec};
use revline_core::{Column, ColumnType as T, StreamDescriptor, StreamSchema, SyncMode};

/// The soft-delete column (from `is_deleted`).
pub const DELETED: &str = "_deleted";
/// The cursor column of the v2 streams.
pub const CURSOR: &str = "update_time";

/// How a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/api/v2/<path>`: cursor paging, incremental on `update_time` with `updated_since`.
    V2,
    /// `/api/v1/<path>`: `start`/`limit` paging, full refresh.
    V1,
}

/// One Pipedrive stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamDef {
    /// Stream (table) name.
    pub name: &'static str,
    /// Path under the API version (`deals`).
    pub path: &'static str,
    /// Which API serves it.
    pub api: Api,
    /// One line for `revline connectors`.
    pub description: &'static str,
    /// Extra fixed query parameters.
    pub params: &'static [(&'static str, &'static str)],
    columns: fn() -> Vec<Column>,
}

fn deleted() -> Column {
    Column::new("is_deleted", T::Boolean).named(DELETED)
}

fn money() -> T {
    T::Decimal {
        precision: 18,
        scale: 2,
    }
}

fn deal_columns() -> Vec<Column> {
    vec![
        Column::new("id", T::Int64),
        Column::new("title", T::Utf8),
        Column::new("owner_id", T::Int64),
        Column::new("person_id", T::Int64),
        Column::new("org_id", T::Int64),
        Column::new("pipeline_id", T::Int64),
        Column::new("stage_id", T::Int64),
        Column::new("value", money()),
        Column::new("currency", T::Utf8),
        Column::new("status", T::Utf8),
        Column::new("probability", T::Float64),
        Column::new("lost_reason", T::Utf8),
        Column::new("add_time", T::Timestamp),
        Column::new("update_time", T::Timestamp),
        Column::new("stage_change_time", T::Timestamp),
        Column::new("close_time", T::Timestamp),
        Column::new("won_time", T::Timestamp),
        Column::new("lost_time", T::Timestamp),
        Column::new("expected_close_date", T::Date),
        Column::new("origin", T::Utf8),
        Column::new("channel", T::Int64),
        Column::new("channel_id", T::Utf8),
        Column::new("visible_to", T::Int64),
        Column::new("label_ids", T::Json),
        Column::new("custom_fields", T::Json),
        deleted(),
    ]
}

fn person_columns() -> Vec<Column> {
    vec![
        Column::new("id", T::Int64),
        Column::new("name", T::Utf8),
        Column::new("first_name", T::Utf8),
        Column::new("last_name", T::Utf8),
        Column::new("owner_id", T::Int64),
        Column::new("org_id", T::Int64),
        // The primary (first) entry of the emails and phones arrays.
        Column::nested(&["emails", "0", "value"], T::Utf8).named("primary_email"),
        Column::nested(&["emails", "0", "label"], T::Utf8).named("primary_email_label"),
        Column::nested(&["phones", "0", "value"], T::Utf8).named("primary_phone"),
        Column::new("add_time", T::Timestamp),
        Column::new("update_time", T::Timestamp),
        Column::new("visible_to", T::Int64),
        Column::new("label_ids", T::Json),
        Column::new("picture_id", T::Int64),
        Column::new("custom_fields", T::Json),
        deleted(),
    ]
}

fn organization_columns() -> Vec<Column> {
    vec![
        Column::new("id", T::Int64),
        Column::new("name", T::Utf8),
        Column::new("owner_id", T::Int64),
        Column::nested(&["address", "value"], T::Utf8),
        Column::nested(&["address", "locality"], T::Utf8),
        Column::nested(&["address", "country"], T::Utf8),
        Column::new("add_time", T::Timestamp),
        Column::new("update_time", T::Timestamp),
        Column::new("visible_to", T::Int64),
        Column::new("label_ids", T::Json),
        Column::new("custom_fields", T::Json),
        deleted(),
    ]
}

fn activity_columns() -> Vec<Column> {
    vec![
        Column::new("id", T::Int64),
        Column::new("subject", T::Utf8),
        Column::new("type", T::Utf8),
        Column::new("owner_id", T::Int64),
        Column::new("deal_id", T::Int64),
        Column::new("lead_id", T::Utf8),
        Column::new("person_id", T::Int64),
        Column::new("org_id", T::Int64),
        Column::new("project_id", T::Int64),
        Column::new("due_date", T::Date),
        Column::new("due_time", T::Utf8),
        Column::new("duration", T::Utf8),
        Column::new("busy", T::Boolean),
        Column::new("done", T::Boolean),
        Column::new("marked_as_done_time", T::Timestamp),
        Column::new("add_time", T::Timestamp),
        Column::new("update_time", T::Timestamp),
        Column::new("location", T::Utf8),
        Column::new("participants", T::Json),
        Column::new("note", T::Utf8),
        Column::new("priority", T::Utf8),
        deleted(),
    ]
}

fn pipeline_columns() -> Vec<Column> {
    vec![
        Column::new("id", T::Int64),
        Column::new("name", T::Utf8),
        Column::new("url_title", T::Utf8),
        Column::new("order_nr", T::Int64),
        Column::new("active", T::Boolean),
        Column::new("deal_probability", T::Boolean),
        Column::new("selected", T::Boolean),
        Column::new("add_time", T::Timestamp),
        Column::new("update_time", T::Timestamp),
    ]
}

fn stage_columns() -> Vec<Column> {
    vec![
        Column::new("id", T::Int64),
        Column::new("pipeline_id", T::Int64),
        Column::new("pipeline_name", T::Utf8),
        Column::new("order_nr", T::Int64),
        Column::new("name", T::Utf8),
        Column::new("active_flag", T::Boolean),
        Column::new("deal_probability", T::Int64),
        Column::new("rotten_flag", T::Boolean),
        Column::new("rotten_days", T::Int64),
        Column::new("add_time", T::Timestamp),
        Column::new("update_time", T::Timestamp),
    ]
}

/// Every stream, in listing order.
pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: "deals",
        path: "deals",
        api: Api::V2,
        description: "Deals with value, currency, pipeline stage, status (deleted deals marked in _deleted) and custom fields",
        params: &[("status", "open,won,lost,deleted")],
        columns: deal_columns,
    },
    StreamDef {
        name: "persons",
        path: "persons",
        api: Api::V2,
        description: "Persons (contacts) with their emails, phones, organization and custom fields",
        params: &[],
        columns: person_columns,
    },
    StreamDef {
        name: "organizations",
        path: "organizations",
        api: Api::V2,
        description: "Organizations (companies) with address and custom fields (website)",
        params: &[],
        columns: organization_columns,
    },
    StreamDef {
        name: "activities",
        path: "activities",
        api: Api::V2,
        description: "Activities (calls, meetings, emails, tasks) on deals, persons and organizations",
        params: &[],
        columns: activity_columns,
    },
    StreamDef {
        name: "pipelines",
        path: "pipelines",
        api: Api::V1,
        description: "Sales pipelines",
        params: &[],
        columns: pipeline_columns,
    },
    StreamDef {
        name: "stages",
        path: "stages",
        api: Api::V1,
        description: "Pipeline stages with their deal probability",
        params: &[],
        columns: stage_columns,
    },
];

impl StreamDef {
    /// The stream declaration.
    pub fn descriptor(&self) -> StreamDescriptor {
        let incremental = self.api == Api::V2;
        StreamDescriptor {
            name: self.name.to_string(),
            description: self.description.to_string(),
            schema: StreamSchema::new((self.columns)()).expect("distinct Pipedrive columns"),
            primary_key: vec!["id".to_string()],
            cursor_field: incremental.then(|| CURSOR.to_string()),
            sync_modes: if incremental {
                vec![SyncMode::Incremental, SyncMode::FullRefresh]
            } else {
                vec![SyncMode::FullRefresh]
            },
        }
    }

    /// The declarative spec: first request, records path, paginator, incremental filter.
    pub fn spec(&self, base_url: &str, page_size: u32) -> RestStreamSpec {
        let base = base_url.trim_end_matches('/');
        match self.api {
            Api::V2 => {
                let mut request = ApiRequest::get(format!("{base}/api/v2/{}", self.path))
                    .with_query("limit", page_size.to_string())
                    .with_query("sort_by", "update_time")
                    .with_query("sort_direction", "asc");
                for (k, v) in self.params {
                    request = request.with_query(k, *v);
                }
                RestStreamSpec {
                    descriptor: self.descriptor(),
                    request,
                    records_path: vec!["data".into()],
                    paginator: Arc::new(CursorPaginator {
                        source: CursorSource::Envelope("additional_data.next_cursor".into()),
                        target: CursorTarget::Query("cursor".into()),
                        has_more_path: None,
                    }),
                    incremental: Some(IncrementalParam {
                        target: CursorTarget::Query("updated_since".into()),
                        format: CursorFormat::Rfc3339,
                    }),
                }
            }
            Api::V1 => {
                let mut request = ApiRequest::get(format!("{base}/api/v1/{}", self.path))
                    .with_query("start", "0")
                    .with_query("limit", page_size.to_string());
                for (k, v) in self.params {
                    request = request.with_query(k, *v);
                }
                RestStreamSpec {
                    descriptor: self.descriptor(),
                    request,
                    records_path: vec!["data".into()],
                    paginator: Arc::new(CursorPaginator {
                        source: CursorSource::Envelope(
                            "additional_data.pagination.next_start".into(),
                        ),
                        target: CursorTarget::Query("start".into()),
                        has_more_path: Some(
                            "additional_data.pagination.more_items_in_collection".into(),
                        ),
                    }),
                    incremental: None,
                }
            }
        }
    }
}
