//! Small streams declared as data: `deal_pipelines` (one row per stage) and `owners`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use revline_core::decode::{BadValuePolicy, RecordDecoder};
use revline_core::fetch::fetch_one;
use revline_core::http::{ApiRequest, HttpClient};
use revline_core::paginate::{CursorPaginator, CursorSource, CursorTarget};
use revline_core::rest::{RestStream, RestStreamSpec};
use revline_core::{
    Column, ColumnType as T, Error, ErrorKind, Page, PageStream, ReadRequest, Stream,
    StreamDescriptor, StreamSchema, SyncMode,
};

/// `owners`: the portal's users who own records.
pub fn owners_descriptor() -> StreamDescriptor {
    StreamDescriptor {
        name: "owners".into(),
        description: "Users who own CRM records (deal and contact owners)".into(),
        schema: StreamSchema::new(vec![
            Column::new("id", T::Utf8),
            Column::new("email", T::Utf8),
            Column::new("firstName", T::Utf8),
            Column::new("lastName", T::Utf8),
            Column::new("userId", T::Int64),
            Column::new("createdAt", T::Timestamp),
            Column::new("updatedAt", T::Timestamp),
            Column::new("archived", T::Boolean),
            Column::new("teams", T::Json),
        ])
        .expect("distinct columns"),
        primary_key: vec!["id".into()],
        cursor_field: None,
        sync_modes: vec![SyncMode::FullRefresh],
    }
}

/// The `owners` stream: `GET /crm/v3/owners`, 500 per page, `after` cursor paging.
pub fn owners_stream(client: HttpClient, policy: BadValuePolicy) -> RestStream {
    let spec = RestStreamSpec {
        descriptor: owners_descriptor(),
        request: ApiRequest::get(client.url("/crm/v3/owners"))
            .with_query("limit", "500")
            .with_query("archived", "false"),
        records_path: vec!["results".into()],
        paginator: Arc::new(CursorPaginator {
            source: CursorSource::Envelope("paging.next.after".into()),
            target: CursorTarget::Query("after".into()),
            has_more_path: None,
        }),
        incremental: None,
    };
    RestStream::new(spec, client, policy)
}

/// `deal_pipelines`: one row per pipeline stage.
pub fn pipelines_descriptor() -> StreamDescriptor {
    StreamDescriptor {
        name: "deal_pipelines".into(),
        description:
            "Deal pipelines and their stages, one row per stage (probability, closed flag)".into(),
        schema: StreamSchema::new(vec![
            Column::new("pipeline_id", T::Utf8),
            Column::new("pipeline_label", T::Utf8),
            Column::new("pipeline_display_order", T::Int64),
            Column::new("stage_id", T::Utf8),
            Column::new("stage_label", T::Utf8),
            Column::new("stage_display_order", T::Int64),
            Column::new("probability", T::Float64),
            Column::new("is_closed", T::Boolean),
            Column::new("archived", T::Boolean),
            Column::new("created_at", T::Timestamp),
            Column::new("updated_at", T::Timestamp),
        ])
        .expect("distinct columns"),
        primary_key: vec!["pipeline_id".into(), "stage_id".into()],
        cursor_field: None,
        sync_modes: vec![SyncMode::FullRefresh],
    }
}

/// The `deal_pipelines` stream.
pub fn pipelines_stream(client: HttpClient, policy: BadValuePolicy) -> PipelinesStream {
    PipelinesStream {
        descriptor: pipelines_descriptor(),
        client,
        policy,
    }
}

/// `GET /crm/v3/pipelines/deals`, flattened to stages. A handful of rows: the nested
/// response is reshaped as JSON, then decoded by the same typed decoder as everything else.
pub struct PipelinesStream {
    descriptor: StreamDescriptor,
    client: HttpClient,
    policy: BadValuePolicy,
}

#[async_trait]
impl Stream for PipelinesStream {
    fn descriptor(&self) -> &StreamDescriptor {
        &self.descriptor
    }

    fn read(&self, request: ReadRequest) -> PageStream {
        let client = self.client.clone();
        let policy = self.policy;
        let key = self.descriptor.primary_key.clone();
        futures::stream::once(async move {
            let req = ApiRequest::get(client.url("/crm/v3/pipelines/deals"));
            let (resp, _) =
                fetch_one(&client, &req, &["results".to_string()], "deal_pipelines").await?;
            let body: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| {
                Error::new(ErrorKind::Decode, "pipelines response is not JSON").with_source(e)
            })?;
            let mut rows = Vec::new();
            for p in body["results"].as_array().into_iter().flatten() {
                for s in p["stages"].as_array().into_iter().flatten() {
                    rows.push(serde_json::json!({
                        "pipeline_id": p["id"],
                        "pipeline_label": p["label"],
                        "pipeline_display_order": p["displayOrder"],
                        "stage_id": s["id"],
                        "stage_label": s["label"],
                        "stage_display_order": s["displayOrder"],
                        "probability": s["metadata"]["probability"],
                        "is_closed": s["metadata"]["isClosed"],
                        "archived": s["archived"],
                        "created_at": s.get("createdAt").unwrap_or(&p["createdAt"]),
                        "updated_at": s.get("updatedAt").unwrap_or(&p["updatedAt"]),
                    }));
                }
            }
            let flat = serde_json::to_vec(&rows).expect("rows serialize");
            let decoder = RecordDecoder::new(&request.schema, &[], &key, policy)?;
            let decoded = decoder
                .decode(&flat)
                .map_err(|e| revline_core::fetch::decode_error(e, "deal_pipelines", 1))?;
            Ok(Page {
                batch: decoded.batch,
                checkpoint: serde_json::json!({}),
                fetched_at: Utc::now(),
                nulled_values: decoded.nulled_count,
            })
        })
        .boxed()
    }
}
