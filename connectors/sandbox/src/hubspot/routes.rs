//! Route handlers: listing, reading and searching objects, and the metadata endpoints.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use serde_json::json;

use super::HubspotState;
use super::errors;
use super::props::{self, Obj, ObjectType, Options, PropDef};
use super::render;
use super::search::{RESULT_CAP, Search, SearchRequest};
use crate::json;
use crate::server::RouteInfo;
use crate::world::{DealStage, Industry, Lifecycle, OWNER_ID_BASE, PERSON_ID_BASE, World};

/// The route table.
pub(super) fn router(state: Arc<HubspotState>) -> Router {
    Router::new()
        .route("/crm/v3/objects/{object}", get(list_objects))
        .route("/crm/v3/objects/{object}/search", post(search_objects))
        .route("/crm/v3/objects/{object}/{id}", get(get_object))
        .route("/crm/v3/properties/{object}", get(properties))
        .route("/crm/v3/pipelines/{object}", get(pipelines))
        .route("/crm/v3/owners", get(owners))
        .route("/crm/v3/owners/", get(owners))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

type St = State<Arc<HubspotState>>;

fn route_kind(ty: ObjectType, op: &str) -> &'static str {
    match (ty, op) {
        (ObjectType::Contacts, "list") => "hubspot.contacts.list",
        (ObjectType::Contacts, "get") => "hubspot.contacts.get",
        (ObjectType::Contacts, _) => "hubspot.contacts.search",
        (ObjectType::Companies, "list") => "hubspot.companies.list",
        (ObjectType::Companies, "get") => "hubspot.companies.get",
        (ObjectType::Companies, _) => "hubspot.companies.search",
        (ObjectType::Deals, "list") => "hubspot.deals.list",
        (ObjectType::Deals, "get") => "hubspot.deals.get",
        (ObjectType::Deals, _) => "hubspot.deals.search",
    }
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

fn ok_json(st: &HubspotState, body: Vec<u8>) -> Response {
    errors::json_response(StatusCode::OK, body, &st.correlation_id())
}

fn unknown_type(st: &HubspotState, object: &str) -> Response {
    errors::validation(
        &format!("Unable to infer object type from: {object}"),
        &st.correlation_id(),
    )
}

/// Decoded query parameters.
struct Query {
    pairs: Vec<(String, String)>,
    raw: String,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    fn parse(raw: Option<String>) -> Query {
        let raw = raw.unwrap_or_default();
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect();
        Query { pairs, raw }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a repeatable, comma-separated parameter; `None` if absent.
    fn list(&self, key: &str) -> Option<Vec<String>> {
        let mut found = false;
        let mut out = Vec::new();
        for (k, v) in &self.pairs {
            if k == key {
                found = true;
                out.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
            }
        }
        found.then_some(out)
    }

    /// `limit` in `1..=max` (default `default`).
    fn limit(&self, default: u64, max: u64) -> Result<u64, String> {
        match self.get("limit") {
            None => Ok(default),
            Some(s) => match s.trim().parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                Ok(n) => Err(format!("limit must be between 1 and {max}, got {n}.")),
                Err(_) => Err(format!("limit must be an integer, got {s:?}.")),
            },
        }
    }

    /// `after` as the numeric id cursor.
    fn after(&self) -> Result<Option<u64>, String> {
        match self.get("after") {
            None | Some("") => Ok(None),
            Some(s) => s
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("Invalid after cursor {s:?}.")),
        }
    }

    fn archived(&self) -> bool {
        self.get("archived")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn associations(&self) -> Vec<ObjectType> {
        let mut out: Vec<ObjectType> = Vec::new();
        for name in self.list("associations").unwrap_or_default() {
            if let Some(t) = ObjectType::parse(&name.to_lowercase())
                && !out.contains(&t)
            {
                out.push(t);
            }
        }
        out
    }

    /// The paging link for the next page: the same query with `after` replaced.
    fn next_link(&self, base_url: &str, path: &str, after: u64) -> String {
        let mut link = format!("{base_url}{path}?");
        for part in self.raw.split('&') {
            if part.is_empty() || part == "after" || part.starts_with("after=") {
                continue;
            }
            link.push_str(part);
            link.push('&');
        }
        link.push_str("after=");
        link.push_str(itoa::Buffer::new().format(after));
        link
    }
}

/// Writes `"paging":{"next":{"after":"…","link":"…"}}` (with the leading comma).
fn push_paging(out: &mut Vec<u8>, after: &str, link: Option<&str>) {
    out.extend_from_slice(b",\"paging\":{\"next\":{\"after\":");
    json::push_str(out, after);
    if let Some(link) = link {
        out.extend_from_slice(b",\"link\":");
        json::push_str(out, link);
    }
    out.extend_from_slice(b"}}");
}

/// One page of a list: objects with id >= `after`, plus the id of the next object.
fn list_page<'w>(
    world: &'w World,
    ty: ObjectType,
    after: Option<u64>,
    limit: u64,
    archived: bool,
) -> (Vec<Obj<'w>>, Option<u64>) {
    let limit = limit as usize;
    let after = after.unwrap_or(0);
    match ty {
        ObjectType::Contacts => {
            let mut index = after.saturating_sub(PERSON_ID_BASE);
            let mut objs = Vec::with_capacity(limit);
            while objs.len() < limit {
                match world.next_person(index, archived) {
                    Some(p) => {
                        index = p.index + 1;
                        objs.push(Obj::Contact(p));
                    }
                    None => return (objs, None),
                }
            }
            let next = world.next_person(index, archived).map(|p| p.id);
            (objs, next)
        }
        ObjectType::Companies | ObjectType::Deals if archived => (Vec::new(), None),
        ObjectType::Companies => {
            let start = world.companies().partition_point(|c| c.id < after);
            let rest = &world.companies()[start..];
            let page = rest.iter().take(limit).map(Obj::Company).collect();
            (page, rest.get(limit).map(|c| c.id))
        }
        ObjectType::Deals => {
            let start = world.deals().partition_point(|d| d.id < after);
            let rest = &world.deals()[start..];
            let page = rest.iter().take(limit).map(Obj::Deal).collect();
            (page, rest.get(limit).map(|d| d.id))
        }
    }
}

async fn list_objects(
    State(st): St,
    Path(object): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(ty) = ObjectType::parse(&object) else {
        return unknown_type(&st, &object);
    };
    let kind = route_kind(ty, "list");
    let q = Query::parse(q);
    let (limit, after) = match (q.limit(10, 100), q.after()) {
        (Ok(l), Ok(a)) => (l, a),
        (Err(e), _) | (_, Err(e)) => {
            return tagged(errors::validation(&e, &st.correlation_id()), kind, 0);
        }
    };
    let names = q.list("properties");
    let props = render::select_props(ty, names.as_deref());
    let assoc = q.associations();
    let world = st.world.read();
    let (objs, next) = list_page(&world, ty, after, limit, q.archived());
    let mut out = Vec::with_capacity(64 + objs.len() * (64 + props.len() * 40));
    out.extend_from_slice(b"{\"results\":[");
    for (i, obj) in objs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        render::push_record(&mut out, &world, obj, &props, &assoc);
    }
    out.push(b']');
    if let Some(next) = next {
        let path = format!("/crm/v3/objects/{}", ty.as_str());
        let link = q.next_link(&st.base_url, &path, next);
        push_paging(&mut out, itoa::Buffer::new().format(next), Some(&link));
    }
    out.push(b'}');
    let served = objs.len() as u64;
    drop(objs);
    drop(world);
    tagged(ok_json(&st, out), kind, served)
}

async fn get_object(
    State(st): St,
    Path((object, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(ty) = ObjectType::parse(&object) else {
        return unknown_type(&st, &object);
    };
    let kind = route_kind(ty, "get");
    let q = Query::parse(q);
    let world = st.world.read();
    let archived = q.archived();
    let obj = id.parse::<u64>().ok().and_then(|id| match ty {
        ObjectType::Contacts => world
            .person_by_id(id)
            .filter(|p| p.archived == archived)
            .map(Obj::Contact),
        ObjectType::Companies => world.company_by_id(id).map(Obj::Company),
        ObjectType::Deals => world.deal_by_id(id).map(Obj::Deal),
    });
    let Some(obj) = obj else {
        return tagged(
            errors::not_found(
                &format!("Object not found.  objectId are usually numeric. ({id})"),
                &st.correlation_id(),
            ),
            kind,
            0,
        );
    };
    let names = q.list("properties");
    let props = render::select_props(ty, names.as_deref());
    let mut out = Vec::with_capacity(1024);
    render::push_record(&mut out, &world, &obj, &props, &q.associations());
    drop(world);
    tagged(ok_json(&st, out), kind, 1)
}

async fn search_objects(State(st): St, Path(object): Path<String>, body: Bytes) -> Response {
    let Some(ty) = ObjectType::parse(&object) else {
        return unknown_type(&st, &object);
    };
    let kind = route_kind(ty, "search");
    let req: SearchRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SearchRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!(
                    "Invalid input JSON on line {}, column {}: {e}",
                    e.line(),
                    e.column()
                );
                return tagged(errors::validation(&msg, &st.correlation_id()), kind, 0);
            }
        }
    };
    let search = match Search::compile(ty, &req) {
        Ok(s) => s,
        Err(msg) => return tagged(errors::validation(&msg, &st.correlation_id()), kind, 0),
    };
    if search.after >= RESULT_CAP {
        let msg = format!(
            "Search results are limited to {RESULT_CAP} records; after={} is beyond that limit. \
             Narrow the query (for example by the last modified date) instead of paging further.",
            search.after
        );
        return tagged(errors::validation(&msg, &st.correlation_id()), kind, 0);
    }
    let props = render::select_props(ty, req.properties.as_deref());
    let world = st.world.read();
    let (total, ids) = search.run(&world);
    let mut out = Vec::with_capacity(64 + ids.len() * (64 + props.len() * 40));
    out.extend_from_slice(b"{\"total\":");
    json::push_u64(&mut out, total);
    out.extend_from_slice(b",\"results\":[");
    let mut served = 0u64;
    for id in &ids {
        let obj = match ty {
            ObjectType::Contacts => world.person_by_id(*id).map(Obj::Contact),
            ObjectType::Companies => world.company_by_id(*id).map(Obj::Company),
            ObjectType::Deals => world.deal_by_id(*id).map(Obj::Deal),
        };
        if let Some(obj) = obj {
            if served > 0 {
                out.push(b',');
            }
            render::push_record(&mut out, &world, &obj, &props, &[]);
            served += 1;
        }
    }
    out.push(b']');
    let next = search.after + ids.len() as u64;
    if next < total && !ids.is_empty() {
        push_paging(&mut out, itoa::Buffer::new().format(next), None);
    }
    out.push(b'}');
    drop(world);
    tagged(ok_json(&st, out), kind, served)
}

const PROPERTY_TIMESTAMP: &str = "2019-08-06T02:41:52.397Z";

fn enum_options(world: &World, options: Options) -> serde_json::Value {
    let opts: Vec<(String, String)> = match options {
        Options::None => return json!([]),
        Options::Bool => vec![
            ("True".into(), "true".into()),
            ("False".into(), "false".into()),
        ],
        Options::Lifecycle => Lifecycle::ALL
            .iter()
            .map(|l| (l.label().into(), l.as_str().into()))
            .collect(),
        Options::Source => props::SOURCE_OPTIONS
            .iter()
            .map(|(v, l)| ((*l).into(), (*v).into()))
            .collect(),
        Options::Industry => Industry::ALL
            .iter()
            .map(|i| (i.label().into(), props::industry_code(*i).into()))
            .collect(),
        Options::DealStage => DealStage::ALL
            .iter()
            .map(|s| (s.label().into(), s.as_str().into()))
            .collect(),
        Options::Pipeline => vec![("Sales Pipeline".into(), "default".into())],
        Options::Owners => world
            .owners()
            .iter()
            .map(|o| {
                (
                    format!("{} {}", o.first_name, o.last_name),
                    o.id.to_string(),
                )
            })
            .collect(),
    };
    opts.into_iter()
        .enumerate()
        .map(|(i, (label, value))| {
            json!({"label": label, "value": value, "displayOrder": i, "hidden": false})
        })
        .collect()
}

fn property_json(world: &World, p: &PropDef, order: usize) -> serde_json::Value {
    let read_only = matches!(
        p.name,
        "hs_object_id" | "createdate" | "lastmodifieddate" | "hs_lastmodifieddate"
    );
    json!({
        "updatedAt": PROPERTY_TIMESTAMP,
        "createdAt": PROPERTY_TIMESTAMP,
        "name": p.name,
        "label": p.label,
        "type": p.ty.as_str(),
        "fieldType": p.field_type,
        "description": p.description,
        "groupName": p.group,
        "options": enum_options(world, p.options),
        "displayOrder": order,
        "calculated": false,
        "externalOptions": p.options == Options::Owners,
        "hasUniqueValue": p.name == "hs_object_id",
        "hidden": false,
        "hubspotDefined": p.hubspot_defined,
        "modificationMetadata": {
            "archivable": !p.hubspot_defined,
            "readOnlyDefinition": p.hubspot_defined,
            "readOnlyValue": read_only
        },
        "formField": !read_only,
        "archived": false
    })
}

async fn properties(State(st): St, Path(object): Path<String>) -> Response {
    let Some(ty) = ObjectType::parse(&object) else {
        return unknown_type(&st, &object);
    };
    let world = st.world.read();
    let results: Vec<_> = ty
        .props()
        .iter()
        .enumerate()
        .map(|(i, p)| property_json(&world, p, i))
        .collect();
    drop(world);
    let n = results.len() as u64;
    let body = serde_json::to_vec(&json!({ "results": results })).expect("serialisable");
    tagged(ok_json(&st, body), "hubspot.properties", n)
}

async fn pipelines(State(st): St, Path(object): Path<String>) -> Response {
    if ObjectType::parse(&object) != Some(ObjectType::Deals) {
        return tagged(
            errors::not_found(
                &format!("No pipelines exist for object type {object}"),
                &st.correlation_id(),
            ),
            "hubspot.pipelines",
            0,
        );
    }
    let stages: Vec<_> = DealStage::ALL
        .iter()
        .map(|s| {
            json!({
                "label": s.label(),
                "displayOrder": s.display_order(),
                "metadata": {
                    "isClosed": if s.is_closed() { "true" } else { "false" },
                    "probability": s.probability()
                },
                "id": s.as_str(),
                "createdAt": "2019-10-01T12:00:00Z",
                "updatedAt": "2024-01-15T08:30:00Z",
                "archived": false
            })
        })
        .collect();
    let body = json!({"results": [{
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "id": "default",
        "stages": stages,
        "createdAt": "2019-10-01T12:00:00Z",
        "updatedAt": "2024-01-15T08:30:00Z",
        "archived": false
    }]});
    let body = serde_json::to_vec(&body).expect("serialisable");
    tagged(ok_json(&st, body), "hubspot.pipelines", 1)
}

async fn owners(State(st): St, RawQuery(q): RawQuery) -> Response {
    let kind = "hubspot.owners";
    let q = Query::parse(q);
    let (limit, after) = match (q.limit(100, 500), q.after()) {
        (Ok(l), Ok(a)) => (l as usize, a.unwrap_or(0)),
        (Err(e), _) | (_, Err(e)) => {
            return tagged(errors::validation(&e, &st.correlation_id()), kind, 0);
        }
    };
    let email = q.get("email").map(str::to_lowercase);
    let world = st.world.read();
    let matching: Vec<_> = world
        .owners()
        .iter()
        .filter(|o| o.id >= after.max(OWNER_ID_BASE))
        .filter(|o| email.as_deref().is_none_or(|e| o.email == e))
        .collect();
    let mut out = Vec::with_capacity(256 * limit.min(matching.len()) + 64);
    out.extend_from_slice(b"{\"results\":[");
    let page = &matching[..limit.min(matching.len())];
    for (i, o) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        render::push_id(&mut out, o.id);
        out.extend_from_slice(b",\"email\":");
        json::push_str(&mut out, &o.email);
        out.extend_from_slice(b",\"type\":\"PERSON\",\"firstName\":");
        json::push_str(&mut out, o.first_name);
        out.extend_from_slice(b",\"lastName\":");
        json::push_str(&mut out, o.last_name);
        out.extend_from_slice(b",\"userId\":");
        json::push_u64(&mut out, o.user_id);
        out.extend_from_slice(b",\"createdAt\":");
        json::push_iso_millis(&mut out, o.created_ms);
        out.extend_from_slice(b",\"updatedAt\":");
        json::push_iso_millis(&mut out, o.modified_ms);
        out.extend_from_slice(b",\"archived\":false}");
    }
    out.push(b']');
    if let Some(next) = matching.get(limit) {
        let link = q.next_link(&st.base_url, "/crm/v3/owners", next.id);
        push_paging(&mut out, itoa::Buffer::new().format(next.id), Some(&link));
    }
    out.push(b'}');
    let n = page.len() as u64;
    drop(world);
    tagged(ok_json(&st, out), kind, n)
}

async fn fallback(State(st): St, req: Request<Body>) -> Response {
    let msg = format!(
        "Unable to find a route for {} {}",
        req.method(),
        req.uri().path()
    );
    tagged(
        errors::not_found(&msg, &st.correlation_id()),
        "hubspot.not_found",
        0,
    )
}

async fn method_not_allowed(State(st): St, req: Request<Body>) -> Response {
    let msg = format!(
        "Method {} is not allowed for {}",
        req.method(),
        req.uri().path()
    );
    tagged(
        errors::envelope(
            StatusCode::METHOD_NOT_ALLOWED,
            "VALIDATION_ERROR",
            &msg,
            &st.correlation_id(),
        ),
        "hubspot.not_found",
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        let q = Query::parse(Some(
            "limit=100&properties=email%2Cfirstname&properties=lastname&after=10000000101&archived=false".into(),
        ));
        assert_eq!(q.limit(10, 100), Ok(100));
        assert_eq!(q.after(), Ok(Some(10_000_000_101)));
        assert_eq!(
            q.list("properties").unwrap(),
            vec!["email", "firstname", "lastname"]
        );
        assert!(!q.archived());
        assert_eq!(
            q.next_link("http://h", "/p", 7),
            "http://h/p?limit=100&properties=email%2Cfirstname&properties=lastname&archived=false&after=7"
        );
        assert!(
            Query::parse(Some("limit=101".into()))
                .limit(10, 100)
                .is_err()
        );
        assert!(Query::parse(Some("after=abc".into())).after().is_err());
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
    }
}
