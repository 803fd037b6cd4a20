//! Salesforce streams against the sandbox's Salesforce emulator, below the runner: the API
//! host comes from `instance_url`, both OAuth2 flows, one refresh on an expired session,
//! types from `describe` (custom fields included), configured field lists, relationship
//! fields, deleted rows through `queryAll`, locators that expire, and resume.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Decimal128Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use futures::StreamExt;
use revline_core::rest::collect_pages;
use revline_core::{ConnectorFactory, ErrorKind, ReadRequest, SourceContext, Stream, SyncMode};
use revline_salesforce::SalesforceFactory;
use revline_sandbox::salesforce::ids;
use revline_sandbox::world::PERSON_ID_BASE;
use revline_sandbox::{SalesforceConfig, Sandbox, SandboxConfig, WorldConfig};

fn sandbox(sf: SalesforceConfig, people: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        salesforce: sf,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

fn options(sb: &Sandbox, extra: serde_json::Value) -> serde_json::Value {
    let cfg = sb.salesforce_config();
    let mut o = serde_json::json!({
        "client_id": cfg.client_id,
        "client_secret": cfg.client_secret,
        "refresh_token": cfg.refresh_token,
        "batch_size": 200,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v.clone();
        }
    }
    o
}

fn stream(sb: &Sandbox, name: &str, extra: serde_json::Value) -> Arc<dyn Stream> {
    let mut ctx = SourceContext::new("salesforce", options(sb, extra));
    ctx.base_url = Some(sb.salesforce_url());
    ctx.http.backoff_initial_ms = 5;
    ctx.http.backoff_max_ms = 20;
    let connector = SalesforceFactory.build(ctx).expect("connector builds");
    connector
        .streams()
        .into_iter()
        .find(|s| s.descriptor().name == name)
        .expect("stream exists")
}

async fn read(
    s: &dyn Stream,
    mode: SyncMode,
    state: Option<serde_json::Value>,
) -> (Vec<RecordBatch>, serde_json::Value) {
    let schema = Arc::new(s.resolve_schema().await.expect("schema"));
    let pages = collect_pages(
        s,
        ReadRequest {
            mode,
            state,
            start_date: None,
            schema,
        },
    )
    .await
    .expect("read succeeds");
    let last = pages.last().expect("a page").checkpoint.clone();
    (pages.into_iter().map(|p| p.batch).collect(), last)
}

fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("column {col}"))
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..c.len())
                .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_host_is_the_tokens_instance_url() {
    // The login host is 127.0.0.1; the token says the org lives at localhost.
    let sb = sandbox(
        SalesforceConfig {
            instance_url: Some("http://localhost:{port}".into()),
            ..SalesforceConfig::default()
        },
        450,
    );
    assert!(
        sb.salesforce()
            .instance_url()
            .starts_with("http://localhost:")
    );
    let s = stream(&sb, "leads", serde_json::json!({}));
    let (batches, _) = read(s.as_ref(), SyncMode::Incremental, None).await;
    assert_eq!(rows(&batches), 450);
    let hosts = sb.salesforce().api_hosts();
    assert!(!hosts.is_empty());
    assert!(
        hosts.iter().all(|h| h.starts_with("localhost:")),
        "API calls went to the instance, not the login host: {hosts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_and_one_refresh_on_an_expired_session() {
    let sb = sandbox(SalesforceConfig::default(), 900);
    let s = stream(&sb, "leads", serde_json::json!({"refresh_token": null}));
    let schema = Arc::new(s.resolve_schema().await.unwrap());
    let mut pages = s.read(ReadRequest {
        mode: SyncMode::Incremental,
        state: None,
        start_date: None,
        schema,
    });
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.batch.num_rows(), 200);
    // The org's session times out mid-sync: the next call gets 401 INVALID_SESSION_ID, the
    // connector gets a new token once and carries on.
    sb.salesforce().expire_sessions();
    let mut total = first.batch.num_rows();
    while let Some(p) = pages.next().await {
        total += p.unwrap().batch.num_rows();
    }
    assert_eq!(total, 900);
    assert_eq!(sb.salesforce().tokens_issued(), 2, "one token, one refresh");
    assert_eq!(sb.stats().unauthorized, 1);

    // A wrong secret is refused at the token endpoint.
    let bad = stream(&sb, "leads", serde_json::json!({"client_secret": "nope"}));
    let err = bad.resolve_schema().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_are_typed_from_describe_with_custom_and_related_fields() {
    let sb = sandbox(SalesforceConfig::default(), 300);
    let accounts = stream(&sb, "accounts", serde_json::json!({}));
    let schema = accounts.resolve_schema().await.unwrap();
    let ty = |n: &str| {
        schema
            .arrow_schema()
            .field_with_name(n)
            .unwrap()
            .data_type()
            .clone()
    };
    assert_eq!(ty("stripe_customer_id__c"), DataType::Utf8);
    assert_eq!(ty("customer_since__c"), DataType::Date32);
    assert_eq!(ty("annual_revenue"), DataType::Decimal128(18, 2));
    assert_eq!(ty("number_of_employees"), DataType::Int64);
    assert_eq!(ty("_deleted"), DataType::Boolean);
    let (batches, _) = read(accounts.as_ref(), SyncMode::Incremental, None).await;
    let stripe_ids = strings(&batches, "stripe_customer_id__c");
    let w = sb.world();
    let customers = w.read().billing().customers().len();
    assert_eq!(stripe_ids.iter().filter(|s| s.is_some()).count(), customers);
    assert!(stripe_ids.iter().flatten().all(|s| s.starts_with("cus_")));

    let opps = stream(&sb, "opportunities", serde_json::json!({}));
    let (batches, _) = read(opps.as_ref(), SyncMode::Incremental, None).await;
    let sites = strings(&batches, "account__website");
    let accts = strings(&batches, "account_id");
    let world = w.read();
    for (site, acct) in sites.iter().zip(&accts) {
        let idx = ids::parse("Account", acct.as_deref().unwrap()).unwrap();
        let domain = &world.companies()[idx as usize].domain;
        assert_eq!(
            site.as_deref(),
            Some(format!("https://www.{domain}").as_str())
        );
    }
    let amounts = batches[0]
        .column_by_name("amount")
        .unwrap()
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap()
        .clone();
    let opp_ids = strings(std::slice::from_ref(&batches[0]), "id");
    for (i, oid) in opp_ids.iter().enumerate() {
        let deal = ids::parse("Opportunity", oid.as_deref().unwrap()).unwrap();
        let cents = world.deals()[deal as usize].amount_cents;
        assert_eq!(amounts.value(i), i128::from(cents), "exact cents");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_field_list_is_exactly_what_is_loaded() {
    let sb = sandbox(SalesforceConfig::default(), 300);
    let leads = stream(
        &sb,
        "leads",
        serde_json::json!({"fields": {"leads": ["Email", "UTM_Campaign__c", "ConvertedAccount.Name"]}}),
    );
    let schema = leads.resolve_schema().await.unwrap();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "email",
            "utm_campaign__c",
            "converted_account__name",
            "id",
            "system_modstamp",
            "_deleted"
        ]
    );
    let (batches, _) = read(leads.as_ref(), SyncMode::Incremental, None).await;
    assert_eq!(rows(&batches), 300);
    assert!(
        strings(&batches, "utm_campaign__c")
            .iter()
            .any(|v| v.is_some())
    );
    let bad = stream(
        &sb,
        "leads",
        serde_json::json!({"fields": {"leads": ["Email", "Nope__c"]}}),
    );
    let err = bad.resolve_schema().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("`Nope__c`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_arrive_through_query_all_and_incremental_reads_the_changes() {
    let sb = sandbox(SalesforceConfig::default(), 500);
    let s = stream(&sb, "leads", serde_json::json!({}));
    let (_, state) = read(s.as_ref(), SyncMode::Incremental, None).await;
    let archived: HashSet<String> = sb
        .world()
        .write()
        .archive_people(4)
        .into_iter()
        .map(|id| ids::id("Lead", id - PERSON_ID_BASE))
        .collect();
    let touched = sb.world().write().touch_people(6);
    sb.reset_stats();
    let (batches, next) = read(s.as_ref(), SyncMode::Incremental, Some(state.clone())).await;
    let got = strings(&batches, "id");
    let mut deleted = HashSet::new();
    for b in &batches {
        let id = b
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let del = b
            .column_by_name("_deleted")
            .unwrap()
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            if del.value(i) {
                deleted.insert(id.value(i).to_string());
            }
        }
    }
    assert_eq!(deleted, archived, "deleted leads are marked");
    for t in touched {
        let lid = ids::id("Lead", t - PERSON_ID_BASE);
        assert!(got.iter().flatten().any(|g| *g == lid), "{lid} changed");
    }
    assert!(
        rows(&batches) < 30,
        "only the changes (and the boundary second)"
    );
    assert!(next["cursor"].as_str() > state["cursor"].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_locators_are_replaced_by_a_query_from_the_last_record() {
    // Locators die at once: every next page is queried again from the last record.
    let sb = sandbox(
        SalesforceConfig {
            locator_ttl_secs: 0,
            ..SalesforceConfig::default()
        },
        1_000,
    );
    let s = stream(&sb, "leads", serde_json::json!({}));
    let (batches, state) = read(s.as_ref(), SyncMode::Incremental, None).await;
    let ids: Vec<String> = strings(&batches, "id").into_iter().flatten().collect();
    assert_eq!(ids.len(), 1_000);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        1_000,
        "no duplicates"
    );
    assert!(sb.stats().route("salesforce.lead.query_all") >= 5);
    assert!(state.get("resume").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_read_resumes_after_the_last_record() {
    let sb = sandbox(SalesforceConfig::default(), 700);
    let s = stream(&sb, "leads", serde_json::json!({}));
    let schema = Arc::new(s.resolve_schema().await.unwrap());
    let mut pages = s.read(ReadRequest {
        mode: SyncMode::Incremental,
        state: None,
        start_date: None,
        schema,
    });
    let first = pages.next().await.unwrap().unwrap();
    drop(pages);
    let checkpoint = first.checkpoint.clone();
    let after = &checkpoint["resume"]["after"];
    assert!(
        after[1].as_str().unwrap().starts_with("00Q"),
        "{checkpoint}"
    );
    let (rest, _) = read(s.as_ref(), SyncMode::Incremental, Some(checkpoint)).await;
    let mut all: Vec<String> = strings(std::slice::from_ref(&first.batch), "id")
        .into_iter()
        .flatten()
        .collect();
    all.extend(strings(&rest, "id").into_iter().flatten());
    assert_eq!(all.len(), 700);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 700);
}
