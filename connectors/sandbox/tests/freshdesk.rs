//! The Freshdesk emulator over HTTP: basic auth with the API key, bare arrays with integer
//! codes, `Link` paging, the ticket listing's filters, order and page ceiling, includes and
//! their credits, conversations, contacts, companies, ratings, errors and the 429.

mod common;

use common::{Reply, client};
use revline_sandbox::freshdesk::ids::{company_id, contact_id, ticket_id};
use revline_sandbox::{
    FreshdeskConfig, RateLimitEmulation, Sandbox, SandboxConfig, Vendor, WorldConfig,
};
use serde_json::Value;

fn sandbox(people: usize, freshdesk: FreshdeskConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        freshdesk,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

async fn get_as(sb: &Sandbox, path: &str, key: &str) -> Reply {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", sb.base_url(Vendor::Freshdesk))
    };
    let resp = client()
        .get(url)
        .basic_auth(key, Some("X"))
        .send()
        .await
        .expect("request succeeds");
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

async fn get(sb: &Sandbox, path: &str) -> Reply {
    get_as(sb, path, sb.freshdesk_api_key()).await
}

fn next_link(r: &Reply) -> Option<String> {
    let link = r.header("link")?;
    let (target, rel) = link.split_once(';')?;
    assert_eq!(rel.trim(), "rel=\"next\"");
    Some(
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string(),
    )
}

fn is_iso_z(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    s.len() == 20 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn ticket_listing_pages_by_link_in_updated_order_with_includes() {
    let sb = sandbox(250, FreshdeskConfig::default());
    let live = sb.world().read().support().live_tickets().count();
    let mut url = Some(
        "/api/v2/tickets?updated_since=2000-01-01T00:00:00Z&order_by=updated_at&order_type=asc\
         &include=description,requester,stats&per_page=40&page=1"
            .to_string(),
    );
    let mut seen = Vec::new();
    let mut last = String::new();
    let mut pages = 0;
    while let Some(u) = url.take() {
        let r = get(&sb, &u).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // Four credits: the request and three includes.
        assert_eq!(r.header("x-ratelimit-used-currentrequest"), Some("4"));
        assert_eq!(r.header("x-ratelimit-total"), Some("400"));
        assert_eq!(r.header("x-ratelimit-remaining"), Some("396"));
        pages += 1;
        for t in r.json().as_array().expect("a bare array") {
            assert!(t["id"].is_u64());
            for k in ["status", "priority", "source"] {
                assert!(t[k].is_i64(), "{k} is an integer: {t}");
            }
            assert!((2..=5).contains(&t["status"].as_i64().unwrap()));
            assert!(is_iso_z(&t["updated_at"]) && is_iso_z(&t["created_at"]));
            assert!(t["requester"]["email"].as_str().unwrap().contains('@'));
            assert!(t["stats"].is_object());
            assert!(t["description_text"].is_string());
            let at = t["updated_at"].as_str().unwrap().to_string();
            assert!(at >= last, "ascending updated_at");
            last = at;
            seen.push(t["id"].as_u64().unwrap());
        }
        url = next_link(&r);
    }
    assert_eq!(pages, live.div_ceil(40));
    assert_eq!(seen.len(), live);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), live, "each ticket once");
    // Without includes: no requester, stats or description, one credit.
    let r = get(&sb, "/api/v2/tickets?updated_since=2000-01-01&per_page=1").await;
    assert_eq!(r.header("x-ratelimit-used-currentrequest"), Some("1"));
    let t = &r.json()[0];
    assert!(t.get("requester").is_none() && t.get("stats").is_none());
    assert!(t.get("description_text").is_none());
    let stats = sb.stats();
    assert_eq!(
        stats.records("freshdesk.tickets.list_with_include"),
        live as u64
    );
    assert_eq!(stats.records("freshdesk.tickets.list"), 1);
}

#[tokio::test]
async fn the_listing_stops_at_the_page_ceiling_and_filters_by_updated_since() {
    let sb = sandbox(
        250,
        FreshdeskConfig {
            max_pages: 3,
            ..FreshdeskConfig::default()
        },
    );
    let base = "/api/v2/tickets?updated_since=2000-01-01T00:00:00Z&order_by=updated_at&order_type=asc&per_page=10";
    let third = get(&sb, &format!("{base}&page=3")).await;
    assert_eq!(third.status, 200);
    assert_eq!(third.json().as_array().unwrap().len(), 10);
    assert!(third.header("link").is_none(), "no link past the ceiling");
    let fourth = get(&sb, &format!("{base}&page=4")).await;
    assert_eq!(fourth.status, 400);
    assert_eq!(fourth.json()["errors"][0]["field"], "page");
    assert!(
        fourth.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("less than or equal to 3")
    );
    // updated_since is inclusive, to the second.
    let last = third.json().as_array().unwrap()[9]["updated_at"]
        .as_str()
        .unwrap()
        .to_string();
    let w = sb.world();
    let expected = w
        .read()
        .support()
        .live_tickets()
        .filter(|t| {
            let at = chrono::DateTime::parse_from_rfc3339(&last)
                .unwrap()
                .timestamp();
            t.updated_ms.div_euclid(1000) >= at
        })
        .count();
    let mut n = 0;
    let mut url = Some(format!(
        "/api/v2/tickets?updated_since={last}&order_by=updated_at&order_type=asc&per_page=100"
    ));
    while let Some(u) = url.take() {
        let r = get(&sb, &u).await;
        n += r.json().as_array().unwrap().len();
        url = next_link(&r);
    }
    assert_eq!(n, expected);
    // Without updated_since only tickets created in the last 30 days, newest first.
    let now = w.read().now_ms();
    let recent = w
        .read()
        .support()
        .live_tickets()
        .filter(|t| t.created_ms >= now - 30 * 86_400_000)
        .count();
    let r = get(&sb, "/api/v2/tickets?per_page=100").await;
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), recent.min(100));
    if recent > 1 {
        assert!(list[0]["created_at"].as_str() >= list[1]["created_at"].as_str());
    }
}

#[tokio::test]
async fn bad_parameters_and_credentials_get_freshdesk_errors() {
    let sb = sandbox(50, FreshdeskConfig::default());
    let r = get(&sb, "/api/v2/tickets?updated_since=yesterday").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["description"], "Validation failed");
    assert_eq!(r.json()["errors"][0]["field"], "updated_since");
    assert_eq!(r.json()["errors"][0]["code"], "invalid_value");
    let r = get(&sb, "/api/v2/tickets?per_page=101").await;
    assert_eq!(r.status, 400);
    let r = get(&sb, "/api/v2/tickets?include=notes").await;
    assert_eq!(r.json()["errors"][0]["field"], "include");
    let r = get_as(&sb, "/api/v2/tickets", "wrong-key").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "invalid_credentials");
    let r = get(&sb, "/api/v2/nothing").await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    let r = get(&sb, "/api/v2/tickets/999999/conversations").await;
    assert_eq!(r.status, 404);
    let me = get(&sb, "/api/v2/agents/me").await;
    assert_eq!(me.status, 200);
    assert!(me.json()["contact"]["email"].is_string());
}

#[tokio::test]
async fn conversations_contacts_companies_and_ratings_render_the_world() {
    let sb = sandbox(250, FreshdeskConfig::default());
    // What the world says, read before any request (no lock held across an await).
    let (t, messages, user_count, people, domain0, rated) = {
        let w = sb.world();
        let w = w.read();
        let support = w.support();
        // The ticket with the most messages: every message after the first is a conversation.
        let t = support
            .live_tickets()
            .max_by_key(|t| w.ticket_messages(t).len())
            .unwrap()
            .clone();
        let messages = w.ticket_messages(&t);
        let people: std::collections::HashMap<u64, (String, u32)> = support
            .users()
            .filter_map(|u| w.person(u.person).map(|p| (u.person, (p.email, p.company))))
            .collect();
        (
            t,
            messages,
            support.user_count(),
            people,
            w.companies()[0].domain.clone(),
            support.rated_tickets().filter(|t| !t.deleted).count(),
        )
    };
    let r = get(
        &sb,
        &format!(
            "/api/v2/tickets/{}/conversations?per_page=2",
            ticket_id(t.index)
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let mut all = r.json().as_array().unwrap().clone();
    let mut url = next_link(&r);
    assert_eq!(url.is_some(), messages.len() - 1 > 2);
    while let Some(u) = url.take() {
        let r = get(&sb, &u).await;
        all.extend(r.json().as_array().unwrap().iter().cloned());
        url = next_link(&r);
    }
    assert_eq!(all.len(), messages.len() - 1);
    for (c, m) in all.iter().zip(messages.iter().skip(1)) {
        assert_eq!(c["ticket_id"].as_u64(), Some(ticket_id(t.index)));
        assert_eq!(c["private"].as_bool(), Some(!m.public));
        assert_eq!(c["body_text"].as_str(), Some(m.body));
        assert!(is_iso_z(&c["created_at"]));
    }
    // The first public agent reply is the ticket's first response.
    let first_reply = all
        .iter()
        .find(|c| c["incoming"] == false && c["private"] == false)
        .map(|c| c["created_at"].as_str().unwrap().to_string());
    let fr = t.first_response_ms.map(|ms| {
        chrono::DateTime::from_timestamp_millis(ms - ms.rem_euclid(1000))
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    });
    assert_eq!(first_reply, fr);

    // Contacts: every requester, with their company.
    let mut contacts = Vec::new();
    let mut url = Some("/api/v2/contacts?per_page=100".to_string());
    while let Some(u) = url.take() {
        let r = get(&sb, &u).await;
        contacts.extend(r.json().as_array().unwrap().iter().cloned());
        url = next_link(&r);
    }
    assert_eq!(contacts.len(), user_count);
    for c in &contacts {
        let person = c["id"].as_u64().unwrap() - contact_id(0);
        let (email, company) = &people[&person];
        assert_eq!(c["email"].as_str(), Some(email.as_str()));
        assert_eq!(c["company_id"].as_u64(), Some(company_id(*company)));
    }

    // Companies with their CRM domain.
    let r = get(&sb, "/api/v2/companies?per_page=100").await;
    let companies = r.json();
    let first = &companies[0];
    assert_eq!(first["domains"][0].as_str(), Some(domain0.as_str()));

    // Ratings: integer answers on Freshdesk's scale, for rated live tickets.
    let mut n = 0;
    let mut url = Some("/api/v2/surveys/satisfaction_ratings?per_page=100".to_string());
    while let Some(u) = url.take() {
        let r = get(&sb, &u).await;
        for rt in r.json().as_array().unwrap() {
            let v = rt["ratings"]["default_question"].as_i64().unwrap();
            assert!([103, 102, 100, -102, -103].contains(&v));
            n += 1;
        }
        url = next_link(&r);
    }
    assert_eq!(n, rated);
}

#[tokio::test]
async fn the_credit_limit_answers_429_with_retry_after() {
    let sb = sandbox(
        50,
        FreshdeskConfig {
            rate_limit: Some(RateLimitEmulation {
                max: 6,
                interval_ms: 60_000,
            }),
            ..FreshdeskConfig::default()
        },
    );
    // A listing with two includes costs three credits: two fit, the third is refused.
    let path = "/api/v2/tickets?updated_since=2000-01-01&include=requester,stats&per_page=5";
    let a = get(&sb, path).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-ratelimit-remaining"), Some("3"));
    let b = get(&sb, path).await;
    assert_eq!(b.status, 200);
    assert_eq!(b.header("x-ratelimit-remaining"), Some("0"));
    let c = get(&sb, path).await;
    assert_eq!(c.status, 429);
    let wait: u64 = c.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(c.header("x-ratelimit-total"), Some("6"));
}
