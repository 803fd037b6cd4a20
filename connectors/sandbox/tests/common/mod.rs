//! Helpers shared by the sandbox's HTTP tests.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use revline_sandbox::{Sandbox, SandboxConfig, WorldConfig};
use serde_json::Value;

pub fn sandbox(people: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

/// A plain client that talks to the fake server directly (the emulator's own tests do not go
/// through Revline's HTTP client on purpose: they check raw responses, faults included).
#[allow(clippy::disallowed_methods)]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn get(c: &reqwest::Client, sb: &Sandbox, path_and_query: &str) -> Reply {
    get_with_token(c, sb, path_and_query, Some(sb.hubspot_token())).await
}

pub async fn get_with_token(
    c: &reqwest::Client,
    sb: &Sandbox,
    path_and_query: &str,
    token: Option<&str>,
) -> Reply {
    let mut req = c.get(format!("{}{}", sb.hubspot_url(), path_and_query));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request succeeds");
    reply(resp).await
}

pub async fn search(c: &reqwest::Client, sb: &Sandbox, object: &str, body: Value) -> Reply {
    let resp = c
        .post(format!(
            "{}/crm/v3/objects/{object}/search",
            sb.hubspot_url()
        ))
        .bearer_auth(sb.hubspot_token())
        .json(&body)
        .send()
        .await
        .expect("request succeeds");
    reply(resp).await
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, the `Instant.toString()` shape HubSpot uses.
pub fn is_hubspot_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let base_ok = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    base_ok
        && match b.len() {
            20 => b[19] == b'Z',
            24 => b[19] == b'.' && digits(20..23) && b[23] == b'Z',
            _ => false,
        }
}

/// Walks a list endpoint to the end; returns every record and the number of pages.
pub async fn walk(c: &reqwest::Client, sb: &Sandbox, path: &str, limit: u32) -> (Vec<Value>, u32) {
    let mut records = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let r = get(c, sb, &url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        pages += 1;
        records.extend(v["results"].as_array().unwrap().iter().cloned());
        match v.get("paging") {
            None => break,
            Some(p) => {
                let next = p["next"]["after"].as_str().expect("after is a string");
                let link = p["next"]["link"].as_str().expect("link");
                assert!(link.starts_with(&sb.hubspot_url()), "{link}");
                assert!(link.ends_with(&format!("after={next}")), "{link}");
                after = Some(next.to_string());
            }
        }
    }
    (records, pages)
}
