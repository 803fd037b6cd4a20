//! The HubSpot emulator over HTTP: paging, properties, search, auth, metadata endpoints.

mod common;

use std::collections::HashSet;

use common::*;
use revline_sandbox::world::PERSON_ID_BASE;
use revline_sandbox::{HubspotConfig, RateLimitEmulation, Sandbox, SandboxConfig, WorldConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn list_paging_walks_every_contact_once() {
    let sb = sandbox(1_234);
    let c = client();
    let (records, pages) = walk(&c, &sb, "/crm/v3/objects/contacts", 100).await;
    let count = sb.world().read().people_count();
    assert_eq!(records.len() as u64, count);
    assert_eq!(pages, 13);
    let ids: Vec<u64> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ascending, no duplicates"
    );
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let stats = sb.stats();
    assert_eq!(stats.route("hubspot.contacts.list"), 13);
    assert_eq!(stats.records("hubspot.contacts.list"), 1_234);
    assert_eq!(stats.total_requests, 13);

    // Default page size is 10 and the default property set is used.
    let r = get(&c, &sb, "/crm/v3/objects/contacts").await;
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 10);
    let keys: HashSet<&str> = v["results"][0]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from([
            "email",
            "firstname",
            "lastname",
            "createdate",
            "lastmodifieddate",
            "hs_object_id"
        ])
    );
    // Rate-limit headers on list responses.
    assert_eq!(
        r.header("x-hubspot-ratelimit-interval-milliseconds"),
        Some("10000")
    );
    assert!(r.header("x-hubspot-ratelimit-max").is_some());
    assert!(r.header("x-hubspot-ratelimit-remaining").is_some());
    assert_eq!(r.header("x-hubspot-ratelimit-daily"), Some("500000"));
    assert!(r.header("x-hubspot-ratelimit-daily-remaining").is_some());
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
}

#[tokio::test]
async fn companies_deals_and_owners_page_to_the_end() {
    let sb = sandbox(300);
    let c = client();
    let (companies, _) = walk(&c, &sb, "/crm/v3/objects/companies", 7).await;
    assert_eq!(companies.len(), sb.world().read().companies().len());
    let (deals, _) = walk(
        &c,
        &sb,
        "/crm/v3/objects/deals?associations=companies,contacts",
        100,
    )
    .await;
    assert_eq!(deals.len(), sb.world().read().deals().len());
    let first = &deals[0];
    let world = sb.world().read().deals()[0].clone();
    assert_eq!(
        first["associations"]["companies"]["results"][0]["type"],
        "deal_to_company"
    );
    assert_eq!(
        first["associations"]["contacts"]["results"][0]["id"],
        (PERSON_ID_BASE + world.contact.unwrap()).to_string()
    );
    let (owners, pages) = walk(&c, &sb, "/crm/v3/owners/", 2).await;
    assert_eq!(owners.len(), 5);
    assert_eq!(pages, 3);
    let o = &owners[0];
    assert!(o["id"].is_string() && o["userId"].is_u64() && o["email"].is_string());
    assert!(o["firstName"].is_string() && o["lastName"].is_string());
    assert_eq!(o["archived"], false);
    assert!(is_hubspot_datetime(o["createdAt"].as_str().unwrap()));
    assert_eq!(get(&c, &sb, "/crm/v3/owners?limit=501").await.status, 400);
}

#[tokio::test]
async fn limit_above_100_is_a_validation_error() {
    let sb = sandbox(50);
    let c = client();
    let r = get(&c, &sb, "/crm/v3/objects/contacts?limit=101").await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["status"], "error");
    assert_eq!(v["category"], "VALIDATION_ERROR");
    assert!(v["correlationId"].as_str().unwrap().len() == 36);
    assert_eq!(
        get(&c, &sb, "/crm/v3/objects/contacts?limit=100")
            .await
            .status,
        200
    );
    assert_eq!(
        get(&c, &sb, "/crm/v3/objects/contacts?after=xyz")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn properties_parameter_selects_properties() {
    let sb = sandbox(50);
    let c = client();
    let r = get(
        &c,
        &sb,
        "/crm/v3/objects/contacts?limit=5&properties=email,lifecyclestage,not_a_property",
    )
    .await;
    for rec in r.json()["results"].as_array().unwrap() {
        let keys: Vec<&String> = rec["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["email", "lifecyclestage"]);
    }
    // Repeated parameter form works too.
    let r = get(
        &c,
        &sb,
        "/crm/v3/objects/companies?properties=name&properties=annualrevenue",
    )
    .await;
    let props = r.json()["results"][0]["properties"].clone();
    assert_eq!(props.as_object().unwrap().len(), 2);
    assert!(
        props["annualrevenue"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
}

#[tokio::test]
async fn a_contact_renders_with_exact_shapes_and_types() {
    let sb = sandbox(200);
    let c = client();
    let all = "associatedcompanyid,createdate,email,firstname,hs_analytics_source,\
               hs_analytics_source_data_1,hs_email_optout,hs_google_click_id,hs_object_id,\
               jobtitle,lastmodifieddate,lastname,lifecyclestage,trial_start_date";
    let r = get(
        &c,
        &sb,
        &format!("/crm/v3/objects/contacts?limit=100&properties={all}"),
    )
    .await;
    assert!(
        r.body.starts_with(r#"{"results":[{"id":""#),
        "{}",
        &r.body[..40]
    );
    let v = r.json();
    let shared = sb.world();
    let mut sizes = 0;
    {
        let world = shared.read();
        for rec in v["results"].as_array().unwrap() {
            let obj = rec.as_object().unwrap();
            let keys: HashSet<&str> = obj.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                HashSet::from(["id", "properties", "createdAt", "updatedAt", "archived"])
            );
            let id: u64 = rec["id"].as_str().expect("id is a string").parse().unwrap();
            let p = world.person_by_id(id).unwrap();
            let props = rec["properties"].as_object().unwrap();
            assert_eq!(props.len(), 14);
            for (name, value) in props {
                assert!(value.is_string() || value.is_null(), "{name} = {value}");
            }
            assert_eq!(props["hs_object_id"], rec["id"]);
            assert_eq!(props["email"], p.email.as_str());
            assert_eq!(props["firstname"], p.first_name);
            assert_eq!(props["lastname"], p.last_name);
            assert_eq!(props["lifecyclestage"], p.lifecycle.as_str());
            assert_eq!(props["associatedcompanyid"], p.company_id.to_string());
            assert_eq!(
                props["hs_email_optout"],
                if p.email_opt_out { "true" } else { "false" }
            );
            assert_eq!(props["hs_google_click_id"].is_null(), p.click_id.is_none());
            match p.campaign {
                Some(ci) => assert_eq!(
                    props["hs_analytics_source_data_1"],
                    world.campaigns()[ci as usize].utm_campaign.as_str()
                ),
                None => assert_eq!(props["hs_analytics_source"], "DIRECT_TRAFFIC"),
            }
            if let Some(d) = props["trial_start_date"].as_str() {
                assert_eq!(d.len(), 10);
                assert_eq!(&d[4..5], "-");
            }
            for ts in [
                rec["createdAt"].as_str().unwrap(),
                rec["updatedAt"].as_str().unwrap(),
                props["createdate"].as_str().unwrap(),
                props["lastmodifieddate"].as_str().unwrap(),
            ] {
                assert!(is_hubspot_datetime(ts), "{ts}");
            }
            assert_eq!(rec["createdAt"], props["createdate"]);
            assert_eq!(rec["updatedAt"], props["lastmodifieddate"]);
            let created = chrono::DateTime::parse_from_rfc3339(rec["createdAt"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            assert_eq!(created, p.created_ms);
            assert_eq!(rec["archived"], false);
            sizes += serde_json::to_string(rec).unwrap().len();
        }
        let avg = sizes / 100;
        assert!((480..650).contains(&avg), "average contact JSON size {avg}");
        // Millisecond parts are present (Instant.toString omits them only when zero).
        assert!(
            v["results"][0]["createdAt"].as_str().unwrap().len() == 24
                || v["results"][1]["createdAt"].as_str().unwrap().len() == 24
        );
    }

    // Single-object read agrees with the list rendering.
    let one = &v["results"][3];
    let r = get(
        &c,
        &sb,
        &format!(
            "/crm/v3/objects/contacts/{}?properties={all}",
            one["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(&r.json(), one);
    assert_eq!(sb.stats().route("hubspot.contacts.get"), 1);
    let r = get(&c, &sb, "/crm/v3/objects/contacts/1").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["category"], "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn search_returns_exactly_the_touched_people() {
    let sb = sandbox(5_000);
    let c = client();
    let since = sb.world().read().now_ms();
    let touched = sb.world().write().touch_people(37);
    let body = json!({
        "filterGroups": [{"filters": [
            {"propertyName": "lastmodifieddate", "operator": "GTE", "value": (since + 1).to_string()}
        ]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate", "lifecyclestage"],
        "limit": 200,
        "after": "0"
    });
    let r = search(&c, &sb, "contacts", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("x-hubspot-ratelimit-remaining").is_none(),
        "search has no rate headers"
    );
    let v = r.json();
    assert_eq!(v["total"], 37);
    assert!(v.get("paging").is_none());
    let ids: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, touched, "modification order");
    let rec = &v["results"][0];
    assert!(rec.get("associations").is_none());
    assert_eq!(rec["properties"].as_object().unwrap().len(), 3);

    // Paging by offset with an ISO operand; same-timestamp people come back tie-broken by id.
    let same = sb.world().write().touch_people_at_same_time(25);
    let iso = sb
        .world()
        .read()
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut got = Vec::new();
    let mut after = "0".to_string();
    loop {
        let r = search(
            &c,
            &sb,
            "contacts",
            json!({
                "filterGroups": [{"filters": [
                    {"propertyName": "lastmodifieddate", "operator": "EQ", "value": iso}
                ]}],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "limit": 10, "after": after
            }),
        )
        .await;
        let v = r.json();
        assert_eq!(v["total"], 25);
        got.extend(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().parse::<u64>().unwrap()),
        );
        match v["paging"]["next"]["after"].as_str() {
            Some(a) => after = a.to_string(),
            None => break,
        }
    }
    assert_eq!(got, same);

    // Companies and deals use hs_lastmodifieddate.
    let since = sb.world().read().now_ms();
    let deals = sb.world().write().touch_deals(4);
    let r = search(
        &c,
        &sb,
        "deals",
        json!({"filterGroups":[{"filters":[{"propertyName":"hs_lastmodifieddate","operator":"GT","value":since}]}],
               "sorts":[{"propertyName":"hs_lastmodifieddate","direction":"ASCENDING"}]}),
    )
    .await;
    let ids: Vec<u64> = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, deals);
    assert_eq!(sb.stats().route("hubspot.contacts.search"), 4);
    assert_eq!(sb.stats().route("hubspot.deals.search"), 1);
}

#[tokio::test]
async fn search_caps_at_10000_results() {
    let sb = sandbox(12_000);
    let c = client();
    let r = search(&c, &sb, "contacts", json!({"limit": 200, "after": "9800"})).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["total"], 12_000);
    assert_eq!(v["results"].as_array().unwrap().len(), 200);
    assert_eq!(v["paging"]["next"]["after"], "10000");
    let r = search(&c, &sb, "contacts", json!({"limit": 200, "after": "10000"})).await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["category"], "VALIDATION_ERROR");
    assert_eq!(v["status"], "error");
    let r = search(&c, &sb, "contacts", json!({"limit": 201})).await;
    assert_eq!(r.status, 400);
    let six = json!({"propertyName":"email","operator":"HAS_PROPERTY"});
    let r = search(
        &c,
        &sb,
        "contacts",
        json!({"filterGroups": [{"filters": vec![six.clone(); 7]}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = search(
        &c,
        &sb,
        "contacts",
        json!({"filterGroups": vec![json!({"filters":[six]}); 6]}),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_without_echo() {
    let sb = sandbox(10);
    let c = client();
    let secret = "pat-na1-wrong-token-4242";
    let r = get_with_token(&c, &sb, "/crm/v3/objects/contacts", Some(secret)).await;
    assert_eq!(r.status, 401);
    assert!(!r.body.contains(secret));
    assert!(!r.body.contains(sb.hubspot_token()));
    let v = r.json();
    assert_eq!(v["status"], "error");
    assert_eq!(v["category"], "INVALID_AUTHENTICATION");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Authentication credentials not found.")
    );
    assert!(v["correlationId"].is_string());
    let r = get_with_token(&c, &sb, "/crm/v3/objects/contacts", None).await;
    assert_eq!(r.status, 401);
    let s = sb.stats();
    assert_eq!(s.unauthorized, 2);
    assert_eq!(s.route("hubspot.contacts.list"), 0);
    assert_eq!(s.total_requests, 2);
}

#[tokio::test]
async fn metadata_endpoints() {
    let sb = sandbox(10);
    let c = client();
    let v = get(&c, &sb, "/crm/v3/properties/contacts").await.json();
    let props = v["results"].as_array().unwrap();
    assert_eq!(props.len(), 14);
    let ty = |name: &str| {
        props
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["type"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(ty("createdate"), "datetime");
    assert_eq!(ty("lastmodifieddate"), "datetime");
    assert_eq!(ty("hs_object_id"), "number");
    assert_eq!(ty("trial_start_date"), "date");
    assert_eq!(ty("hs_email_optout"), "bool");
    assert_eq!(ty("lifecyclestage"), "enumeration");
    for p in props {
        for field in [
            "name",
            "label",
            "type",
            "fieldType",
            "groupName",
            "description",
        ] {
            assert!(p[field].is_string(), "{field} in {p}");
        }
        assert_eq!(p["hidden"], false);
    }
    let companies = get(&c, &sb, "/crm/v3/properties/companies").await.json();
    assert_eq!(companies["results"].as_array().unwrap().len(), 10);
    let deals = get(&c, &sb, "/crm/v3/properties/deals").await.json();
    let owner = deals["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hubspot_owner_id")
        .unwrap()
        .clone();
    assert_eq!(owner["options"].as_array().unwrap().len(), 5);

    let v = get(&c, &sb, "/crm/v3/pipelines/deals").await.json();
    assert!(v.get("paging").is_none());
    let pipeline = &v["results"][0];
    assert_eq!(pipeline["id"], "default");
    assert_eq!(pipeline["label"], "Sales Pipeline");
    let stages = pipeline["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 7);
    let won = stages.iter().find(|s| s["id"] == "closedwon").unwrap();
    assert_eq!(won["metadata"]["isClosed"], "true");
    assert_eq!(won["metadata"]["probability"], "1.0");

    let r = get(&c, &sb, "/crm/v3/nothing/here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["category"], "OBJECT_NOT_FOUND");
    assert_eq!(get(&c, &sb, "/crm/v3/objects/widgets").await.status, 400);
    let s = sb.stats();
    assert_eq!(s.route("hubspot.properties"), 3);
    assert_eq!(s.route("hubspot.pipelines"), 1);
    assert_eq!(s.route("hubspot.not_found"), 1);
}

#[tokio::test]
async fn emulated_rate_limit_answers_429() {
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 10,
            ..WorldConfig::default()
        },
        hubspot: HubspotConfig {
            rate_limit: Some(RateLimitEmulation {
                max: 3,
                interval_ms: 60_000,
            }),
            retry_after_secs: Some(7),
            ..HubspotConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let c = client();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = get(&c, &sb, "/crm/v3/objects/companies").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-hubspot-ratelimit-max"), Some("3"));
        remaining.push(
            r.header("x-hubspot-ratelimit-remaining")
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, vec!["2", "1", "0"]);
    let r = get(&c, &sb, "/crm/v3/objects/companies").await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(r.header("retry-after"), Some("7"));
    let v = r.json();
    assert_eq!(v["errorType"], "RATE_LIMIT");
    assert_eq!(v["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(v["status"], "error");
    assert_eq!(sb.stats().rate_limited, 1);
}

#[test]
fn config_reads_from_toml() {
    let cfg: SandboxConfig = toml::from_str(
        r#"
        [world]
        people = 1000000
        seed = 7
        start = "2023-06-01T00:00:00Z"

        [hubspot]
        token = "pat-demo"
        rate_limit = { max = 100 }
        retry_after_secs = 1

        [[faults.rules]]
        route = "/crm/v3/objects/contacts"
        fault = { kind = "too_many_requests", retry_after = 2 }
        schedule = { kind = "nth", requests = [3, 9] }

        [[faults.rules]]
        fault = { kind = "status", code = 503 }
        schedule = { kind = "every", n = 50 }

        [[faults.rules]]
        fault = { kind = "connection_reset" }
        schedule = { kind = "probability", p = 0.01, seed = 3 }
        "#,
    )
    .unwrap();
    assert_eq!(cfg.world.people, 1_000_000);
    assert_eq!(cfg.world.companies, 40);
    assert_eq!(cfg.hubspot.token, "pat-demo");
    assert_eq!(cfg.hubspot.rate_limit.unwrap().interval_ms, 10_000);
    assert_eq!(cfg.faults.rules.len(), 3);
    assert!(
        !format!("{:?}", cfg.hubspot).contains("pat-demo"),
        "token is redacted"
    );
    let empty: SandboxConfig = toml::from_str("").unwrap();
    assert_eq!(empty, SandboxConfig::default());
    assert_eq!(empty.hubspot.token, "pat-sandbox-token");
    assert!(toml::from_str::<SandboxConfig>("[world]\npeeple = 3").is_err());
}

#[tokio::test]
async fn archived_people_are_listed_separately() {
    let sb = sandbox(120);
    let c = client();
    let archived = sb.world().write().archive_people(3);
    let (live, _) = walk(&c, &sb, "/crm/v3/objects/contacts", 100).await;
    assert_eq!(live.len(), 117);
    let (gone, _) = walk(&c, &sb, "/crm/v3/objects/contacts?archived=true", 100).await;
    let mut ids: Vec<u64> = gone
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = archived.clone();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(
        gone.iter()
            .all(|r| r["archived"] == true && r["archivedAt"].is_string())
    );
    let added = sb.world().write().add_people(2);
    let (live, _) = walk(&c, &sb, "/crm/v3/objects/contacts", 100).await;
    assert_eq!(live.len(), 119);
    let last: Value = live.last().unwrap().clone();
    assert_eq!(last["id"], added[1].to_string());
}
