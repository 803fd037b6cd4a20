//! `POST /crm/v3/objects/{type}/search`: request parsing, filter evaluation, sorting.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;

use crate::hubspot::props::{Key, Obj, ObjectType, PropDef, PropType, Val};
use crate::world::{MAX_EDIT_MS, World};

/// Maximum filter groups per request.
pub(crate) const MAX_GROUPS: usize = 5;
/// Maximum filters per group.
pub(crate) const MAX_FILTERS_PER_GROUP: usize = 6;
/// Maximum page size.
pub(crate) const MAX_LIMIT: u64 = 200;
/// A search can page through at most this many results.
pub(crate) const RESULT_CAP: u64 = 10_000;

/// A number that clients may send as a JSON number or a string.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Num(serde_json::Number),
    Str(String),
}

impl Scalar {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::Num(n) => n.as_u64(),
            Scalar::Str(s) => s.trim().parse().ok(),
        }
    }
}

/// The search request body.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroupIn>,
    #[serde(default)]
    sorts: Vec<SortIn>,
    #[serde(default)]
    pub(crate) properties: Option<Vec<String>>,
    #[serde(default)]
    limit: Option<Scalar>,
    #[serde(default)]
    after: Option<Scalar>,
    #[serde(default)]
    query: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct FilterGroupIn {
    #[serde(default)]
    filters: Vec<FilterIn>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct FilterIn {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    high_value: Option<serde_json::Value>,
    #[serde(default)]
    values: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum SortIn {
    Object {
        #[serde(rename = "propertyName")]
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
    Name(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "EQ" => Op::Eq,
            "NEQ" => Op::Neq,
            "LT" => Op::Lt,
            "LTE" => Op::Lte,
            "GT" => Op::Gt,
            "GTE" => Op::Gte,
            "BETWEEN" => Op::Between,
            "IN" => Op::In,
            "NOT_IN" => Op::NotIn,
            "HAS_PROPERTY" => Op::HasProperty,
            "NOT_HAS_PROPERTY" => Op::NotHasProperty,
            "CONTAINS_TOKEN" => Op::ContainsToken,
            _ => return None,
        })
    }
}

/// A filter operand parsed according to the property's type.
#[derive(Clone, Debug)]
enum Operand {
    None,
    Num(f64),
    Time(i64),
    Bool(bool),
    Text(String),
}

#[derive(Debug)]
struct Filter {
    /// `None` for properties the object does not have: they behave as always-null.
    def: Option<&'static PropDef>,
    op: Op,
    value: Operand,
    high: Operand,
    values: Vec<Operand>,
}

/// A validated, compiled search.
#[derive(Debug)]
pub(crate) struct Search {
    ty: ObjectType,
    groups: Vec<Vec<Filter>>,
    sort: Option<(Option<&'static PropDef>, bool)>,
    query: Option<String>,
    pub(crate) limit: u64,
    pub(crate) after: u64,
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses a datetime operand: epoch milliseconds, RFC 3339, or a `YYYY-MM-DD` date.
fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis()
    })
}

fn operand(
    def: Option<&'static PropDef>,
    v: Option<&serde_json::Value>,
) -> Result<Operand, String> {
    let (Some(def), Some(v)) = (def, v) else {
        return Ok(Operand::None);
    };
    let text = json_text(v);
    Ok(match def.ty {
        PropType::DateTime | PropType::Date => {
            Operand::Time(parse_time(&text).ok_or_else(|| {
                format!(
                    "{} is not a valid value for property {} of type {}",
                    text,
                    def.name,
                    def.ty.as_str()
                )
            })?)
        }
        PropType::Number => Operand::Num(
            text.trim()
                .parse()
                .map_err(|_| format!("{} is not a valid number for property {}", text, def.name))?,
        ),
        PropType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Operand::Bool(true),
            "false" => Operand::Bool(false),
            _ => {
                return Err(format!(
                    "{} is not a valid boolean for property {}",
                    text, def.name
                ));
            }
        },
        PropType::String | PropType::Enumeration => Operand::Text(text.to_lowercase()),
    })
}

impl Search {
    /// Validates and compiles a request for `ty`. `Err` carries a VALIDATION_ERROR message.
    pub(crate) fn compile(ty: ObjectType, req: &SearchRequest) -> Result<Search, String> {
        if req.filter_groups.len() > MAX_GROUPS {
            return Err(format!(
                "Too many filter groups ({}); the maximum is {MAX_GROUPS}.",
                req.filter_groups.len()
            ));
        }
        let mut groups = Vec::with_capacity(req.filter_groups.len());
        for g in &req.filter_groups {
            if g.filters.len() > MAX_FILTERS_PER_GROUP {
                return Err(format!(
                    "Too many filters in a filter group ({}); the maximum is {MAX_FILTERS_PER_GROUP}.",
                    g.filters.len()
                ));
            }
            let mut filters = Vec::with_capacity(g.filters.len());
            for f in &g.filters {
                let op = Op::parse(&f.operator)
                    .ok_or_else(|| format!("Unknown filter operator {}.", f.operator))?;
                let def = ty.prop(&f.property_name);
                let needs_value = !matches!(
                    op,
                    Op::HasProperty | Op::NotHasProperty | Op::In | Op::NotIn
                );
                if needs_value && f.value.is_none() {
                    return Err(format!(
                        "Filter on {} with operator {} requires a value.",
                        f.property_name, f.operator
                    ));
                }
                if op == Op::Between && f.high_value.is_none() {
                    return Err(format!(
                        "BETWEEN filter on {} requires a highValue.",
                        f.property_name
                    ));
                }
                if matches!(op, Op::In | Op::NotIn) && f.values.is_none() {
                    return Err(format!(
                        "{} filter on {} requires values.",
                        f.operator, f.property_name
                    ));
                }
                let values = f
                    .values
                    .iter()
                    .flatten()
                    .map(|v| operand(def, Some(v)))
                    .collect::<Result<_, _>>()?;
                let value = if op == Op::ContainsToken {
                    Operand::Text(
                        f.value
                            .as_ref()
                            .map(json_text)
                            .unwrap_or_default()
                            .trim_matches('*')
                            .to_lowercase(),
                    )
                } else {
                    operand(def, f.value.as_ref())?
                };
                filters.push(Filter {
                    def,
                    op,
                    value,
                    high: operand(def, f.high_value.as_ref())?,
                    values,
                });
            }
            groups.push(filters);
        }
        if req.sorts.len() > 1 {
            return Err("Only one sort is allowed per search.".to_string());
        }
        let sort = req.sorts.first().map(|s| match s {
            SortIn::Object {
                property_name,
                direction,
            } => (
                ty.prop(property_name),
                !direction
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING")),
            ),
            SortIn::Name(name) => match name.strip_prefix('-') {
                Some(n) => (ty.prop(n), false),
                None => (ty.prop(name), true),
            },
        });
        let limit = match &req.limit {
            None => 10,
            Some(l) => l.as_u64().ok_or("limit must be a non-negative integer.")?,
        };
        if limit > MAX_LIMIT {
            return Err(format!(
                "limit must be less than or equal to {MAX_LIMIT}, got {limit}."
            ));
        }
        let after = match &req.after {
            None => 0,
            Some(a) => a.as_u64().ok_or("after must be a numeric offset.")?,
        };
        Ok(Search {
            ty,
            groups,
            sort,
            query: req
                .query
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_lowercase),
            limit,
            after,
        })
    }

    fn matches(&self, world: &World, obj: &Obj<'_>) -> bool {
        if let Some(q) = &self.query {
            let keys: &[Key] = match self.ty {
                ObjectType::Contacts => &[Key::Email, Key::FirstName, Key::LastName],
                ObjectType::Companies => &[Key::Name, Key::Domain],
                ObjectType::Deals => &[Key::DealName],
            };
            let hit = keys.iter().any(|k| {
                obj.value(world, *k)
                    .as_text()
                    .is_some_and(|t| t.to_lowercase().contains(q.as_str()))
            });
            if !hit {
                return false;
            }
        }
        self.groups.is_empty()
            || self
                .groups
                .iter()
                .any(|g| g.iter().all(|f| f.matches(world, obj)))
    }

    /// Bounds on creation time implied by the filters (for contacts), used to skip people
    /// that cannot match. `(None, None)` means "no bound".
    fn created_window(&self) -> (Option<i64>, Option<i64>) {
        if self.groups.is_empty() {
            return (None, None);
        }
        let mut lo_all: Option<i64> = Some(i64::MAX);
        let mut hi_all: Option<i64> = Some(i64::MIN);
        for g in &self.groups {
            let (mut lo, mut hi): (Option<i64>, Option<i64>) = (None, None);
            for f in g {
                let Some(def) = f.def else { continue };
                let shift = match def.key {
                    Key::CreateDate => 0,
                    Key::LastModifiedDate => MAX_EDIT_MS,
                    _ => continue,
                };
                let lower = match (f.op, &f.value) {
                    (Op::Gt | Op::Gte | Op::Eq | Op::Between, Operand::Time(t)) => Some(t - shift),
                    _ => None,
                };
                let upper = match (f.op, &f.value, &f.high) {
                    (Op::Lt | Op::Lte | Op::Eq, Operand::Time(t), _) => Some(*t),
                    (Op::Between, _, Operand::Time(t)) => Some(*t),
                    _ => None,
                };
                if let Some(l) = lower {
                    lo = Some(lo.map_or(l, |x| x.max(l)));
                }
                if let Some(u) = upper {
                    hi = Some(hi.map_or(u, |x| x.min(u)));
                }
            }
            lo_all = match (lo_all, lo) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            };
            hi_all = match (hi_all, hi) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        (lo_all, hi_all)
    }

    /// Runs the search: returns the total number of matches and the ids of the requested
    /// page (`after .. after + limit`, clipped at the 10,000-result cap), in order.
    pub(crate) fn run(&self, world: &World) -> (u64, Vec<u64>) {
        let mut hits: Vec<(SortKey, u64)> = Vec::new();
        let sort_def = self.sort.and_then(|(d, _)| d);
        let key_of = |obj: &Obj<'_>| match sort_def {
            Some(def) => SortKey::of(&obj.value(world, def.key)),
            None => SortKey::Null,
        };
        match self.ty {
            ObjectType::Contacts => {
                let (lo, hi) = self.created_window();
                let range = world.base_people_in_window(lo, hi);
                let edited = world.edited_people().filter(|i| !range.contains(i));
                for index in range.clone().chain(edited) {
                    if world.is_archived(index) {
                        continue;
                    }
                    let Some(person) = world.person(index) else {
                        continue;
                    };
                    let obj = Obj::Contact(person);
                    if self.matches(world, &obj) {
                        hits.push((key_of(&obj), obj.id()));
                    }
                }
            }
            ObjectType::Companies => {
                for c in world.companies() {
                    let obj = Obj::Company(c);
                    if self.matches(world, &obj) {
                        hits.push((key_of(&obj), obj.id()));
                    }
                }
            }
            ObjectType::Deals => {
                for d in world.deals() {
                    let obj = Obj::Deal(d);
                    if self.matches(world, &obj) {
                        hits.push((key_of(&obj), obj.id()));
                    }
                }
            }
        }
        let total = hits.len() as u64;
        let ascending = self.sort.is_none_or(|(_, asc)| asc);
        let cmp = |a: &(SortKey, u64), b: &(SortKey, u64)| {
            let by_key = a.0.compare(&b.0, ascending);
            by_key.then(a.1.cmp(&b.1))
        };
        let start = self.after.min(total) as usize;
        let end = (self.after + self.limit).min(RESULT_CAP).min(total) as usize;
        if start >= end {
            return (total, Vec::new());
        }
        if end < hits.len() {
            hits.select_nth_unstable_by(end, cmp);
            hits.truncate(end);
        }
        hits.sort_unstable_by(cmp);
        (total, hits[start..end].iter().map(|h| h.1).collect())
    }
}

impl Filter {
    fn matches(&self, world: &World, obj: &Obj<'_>) -> bool {
        let val = match self.def {
            Some(def) => obj.value(world, def.key),
            None => Val::Null,
        };
        if val == Val::Null {
            return matches!(self.op, Op::NotHasProperty | Op::Neq | Op::NotIn);
        }
        let cmp = |operand: &Operand| compare(&val, operand);
        match self.op {
            Op::HasProperty => true,
            Op::NotHasProperty => false,
            Op::Eq => cmp(&self.value) == Some(Ordering::Equal),
            Op::Neq => cmp(&self.value) != Some(Ordering::Equal),
            Op::Lt => cmp(&self.value) == Some(Ordering::Less),
            Op::Lte => matches!(cmp(&self.value), Some(Ordering::Less | Ordering::Equal)),
            Op::Gt => cmp(&self.value) == Some(Ordering::Greater),
            Op::Gte => matches!(cmp(&self.value), Some(Ordering::Greater | Ordering::Equal)),
            Op::Between => {
                matches!(cmp(&self.value), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(&self.high), Some(Ordering::Less | Ordering::Equal))
            }
            Op::In => self.values.iter().any(|v| cmp(v) == Some(Ordering::Equal)),
            Op::NotIn => !self.values.iter().any(|v| cmp(v) == Some(Ordering::Equal)),
            Op::ContainsToken => match &self.value {
                Operand::Text(token) => val
                    .as_text()
                    .is_some_and(|t| t.to_lowercase().contains(token.as_str())),
                _ => false,
            },
        }
    }
}

fn compare(val: &Val<'_>, operand: &Operand) -> Option<Ordering> {
    match operand {
        Operand::None => None,
        Operand::Num(x) => val.as_f64()?.partial_cmp(x),
        Operand::Time(t) => match *val {
            Val::DateTime(ms) | Val::Date(ms) => Some(ms.cmp(t)),
            _ => None,
        },
        Operand::Bool(b) => match *val {
            Val::Bool(v) => Some(v.cmp(b)),
            _ => None,
        },
        Operand::Text(s) => Some(val.as_text()?.to_lowercase().as_str().cmp(s.as_str())),
    }
}

/// An owned, comparable sort key.
#[derive(Debug)]
enum SortKey {
    Null,
    Num(f64),
    Int(i64),
    Text(String),
}

impl SortKey {
    fn of(val: &Val<'_>) -> SortKey {
        match *val {
            Val::Null => SortKey::Null,
            Val::Int(n) => SortKey::Num(n as f64),
            Val::Cents(c) => SortKey::Num(c as f64 / 100.0),
            Val::DateTime(ms) | Val::Date(ms) => SortKey::Int(ms),
            Val::Bool(b) => SortKey::Int(i64::from(b)),
            Val::Str(s) => SortKey::Text(s.to_lowercase()),
        }
    }

    /// Orders keys in the requested direction; nulls always sort last.
    fn compare(&self, other: &SortKey, ascending: bool) -> Ordering {
        let ord = match (self, other) {
            (SortKey::Null, SortKey::Null) => return Ordering::Equal,
            (SortKey::Null, _) => return Ordering::Greater,
            (_, SortKey::Null) => return Ordering::Less,
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Int(a), SortKey::Int(b)) => a.cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => Ordering::Equal,
        };
        if ascending { ord } else { ord.reverse() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    fn req(json: serde_json::Value) -> SearchRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn limits_are_validated() {
        let six = serde_json::json!({"propertyName":"email","operator":"HAS_PROPERTY"});
        let too_many_groups = req(serde_json::json!({
            "filterGroups": vec![serde_json::json!({"filters":[six.clone()]}); 6]
        }));
        assert!(Search::compile(ObjectType::Contacts, &too_many_groups).is_err());
        let too_many_filters = req(serde_json::json!({
            "filterGroups": [{"filters": vec![six.clone(); 7]}]
        }));
        assert!(Search::compile(ObjectType::Contacts, &too_many_filters).is_err());
        let ok = req(serde_json::json!({
            "filterGroups": vec![serde_json::json!({"filters": vec![six; 6]}); 5],
            "limit": 200, "after": "400"
        }));
        let s = Search::compile(ObjectType::Contacts, &ok).unwrap();
        assert_eq!((s.limit, s.after), (200, 400));
        assert!(
            Search::compile(
                ObjectType::Contacts,
                &req(serde_json::json!({"limit": 201}))
            )
            .is_err()
        );
        let bad_op = req(
            serde_json::json!({"filterGroups":[{"filters":[{"propertyName":"email","operator":"LIKE","value":"x"}]}]}),
        );
        assert!(Search::compile(ObjectType::Contacts, &bad_op).is_err());
    }

    #[test]
    fn filters_and_sorts() {
        let world = World::new(WorldConfig::default());
        let cut = world.person(200).unwrap().modified_ms;
        let s = Search::compile(
            ObjectType::Contacts,
            &req(serde_json::json!({
                "filterGroups":[{"filters":[{"propertyName":"lastmodifieddate","operator":"GTE","value":cut.to_string()}]}],
                "sorts":[{"propertyName":"lastmodifieddate","direction":"ASCENDING"}],
                "limit": 200
            })),
        )
        .unwrap();
        let (total, ids) = s.run(&world);
        let expected: Vec<_> = world.people().filter(|p| p.modified_ms >= cut).collect();
        assert_eq!(total, expected.len() as u64);
        let got: Vec<i64> = ids
            .iter()
            .map(|id| world.person_by_id(*id).unwrap().modified_ms)
            .collect();
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
        // OR of two groups, ISO operand, BETWEEN and EQ on an enumeration.
        let iso = crate::json::iso_millis(cut);
        let s = Search::compile(
            ObjectType::Contacts,
            &req(serde_json::json!({
                "filterGroups":[
                    {"filters":[{"propertyName":"lastmodifieddate","operator":"GT","value":iso}]},
                    {"filters":[{"propertyName":"lifecyclestage","operator":"EQ","value":"CUSTOMER"}]}
                ],
                "limit": 0
            })),
        )
        .unwrap();
        let (total, _) = s.run(&world);
        let expected = world
            .people()
            .filter(|p| p.modified_ms > cut || p.lifecycle.as_str() == "customer")
            .count();
        assert_eq!(total, expected as u64);
        // Unknown property (the contacts `hs_lastmodifieddate` gotcha) silently matches nothing.
        let s = Search::compile(
            ObjectType::Contacts,
            &req(serde_json::json!({
                "filterGroups":[{"filters":[{"propertyName":"hs_lastmodifieddate","operator":"GTE","value":"0"}]}]
            })),
        )
        .unwrap();
        assert_eq!(s.run(&world).0, 0);
        // Deals: amount number filter and descending sort.
        let s = Search::compile(
            ObjectType::Deals,
            &req(serde_json::json!({
                "filterGroups":[{"filters":[{"propertyName":"amount","operator":"BETWEEN","value":"1000","highValue":50000}]}],
                "sorts":["-amount"], "limit": 200
            })),
        )
        .unwrap();
        let (total, ids) = s.run(&world);
        let expected = world
            .deals()
            .iter()
            .filter(|d| (100_000..=5_000_000).contains(&d.amount_cents))
            .count();
        assert_eq!(total, expected as u64);
        let amounts: Vec<u64> = ids
            .iter()
            .map(|id| world.deal_by_id(*id).unwrap().amount_cents)
            .collect();
        assert!(amounts.windows(2).all(|w| w[0] >= w[1]));
    }
}
