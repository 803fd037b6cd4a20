//! Rows of GAQL results in the API's JSON shape: one object per selected resource
//! (`customer`, `campaign`, `adGroup`, `metrics`, `segments`, …) with lowerCamelCase fields,
//! int64 values as strings, doubles as numbers, enums as strings and zero metrics left out.

use chrono::NaiveDate;

use crate::json;
use crate::world::Campaign;
use crate::world::marketing::AdGroup;

/// A customer (Google Ads account) as the emulator knows it.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) manager: bool,
    pub(crate) currency: &'static str,
    pub(crate) time_zone: &'static str,
}

/// Metrics of one row.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Metrics {
    pub(crate) impressions: u64,
    pub(crate) clicks: u64,
    pub(crate) cost_micros: u64,
    pub(crate) conversions: f64,
    pub(crate) conversions_value: f64,
}

impl Metrics {
    pub(crate) fn add(&mut self, o: &Metrics) {
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.cost_micros += o.cost_micros;
        self.conversions += o.conversions;
        self.conversions_value += o.conversions_value;
    }
    pub(crate) fn is_zero(&self) -> bool {
        self.impressions == 0
            && self.clicks == 0
            && self.cost_micros == 0
            && self.conversions == 0.0
    }
}

/// What one result row is about.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx<'a> {
    pub(crate) customer: Option<&'a Customer>,
    pub(crate) campaign: Option<&'a Campaign>,
    pub(crate) campaign_first_day: Option<NaiveDate>,
    pub(crate) ad_group: Option<&'a AdGroup>,
    pub(crate) day: Option<NaiveDate>,
    pub(crate) metrics: Option<Metrics>,
    /// `(gclid, ad id)` of a click_view row.
    pub(crate) click: Option<(&'a str, u64)>,
    /// `(client, level)` of a customer_client row.
    pub(crate) client: Option<(&'a Customer, u32)>,
}

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    /// int64: rendered as a JSON string.
    Int(u64),
    /// double: a JSON number.
    Double(f64),
    /// string or enum.
    Str(String),
    /// bool.
    Bool(bool),
}

impl V {
    pub(crate) fn text(&self) -> String {
        match self {
            V::Int(i) => i.to_string(),
            V::Double(d) => d.to_string(),
            V::Str(s) => s.clone(),
            V::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        }
    }
}

/// Fields each resource may select (besides `segments.date` and `metrics.*` where allowed).
pub(crate) fn allowed(resource: &str, field: &str) -> bool {
    let (head, tail) = field.split_once('.').unwrap_or((field, ""));
    let customer = matches!(
        tail,
        "id" | "descriptive_name" | "currency_code" | "time_zone" | "manager" | "resource_name"
    );
    let campaign = matches!(
        tail,
        "id" | "name"
            | "status"
            | "serving_status"
            | "advertising_channel_type"
            | "bidding_strategy_type"
            | "start_date"
            | "end_date"
            | "tracking_url_template"
            | "final_url_suffix"
            | "resource_name"
    );
    let ad_group = matches!(
        tail,
        "id" | "name" | "status" | "type" | "cpc_bid_micros" | "campaign" | "resource_name"
    );
    let metrics = matches!(
        tail,
        "impressions"
            | "clicks"
            | "cost_micros"
            | "conversions"
            | "conversions_value"
            | "ctr"
            | "average_cpc"
    );
    match (resource, head) {
        ("customer_client", "customer_client") => matches!(
            tail,
            "id" | "descriptive_name"
                | "manager"
                | "level"
                | "status"
                | "currency_code"
                | "time_zone"
                | "client_customer"
                | "test_account"
                | "hidden"
                | "resource_name"
        ),
        ("customer", "customer") => customer,
        ("customer", "metrics") => metrics,
        ("customer", "segments") => tail == "date",
        ("campaign", "customer") => customer,
        ("campaign", "campaign") => campaign,
        ("campaign", "metrics") => metrics,
        ("campaign", "segments") => tail == "date",
        ("ad_group", "customer") => customer,
        ("ad_group", "campaign") => campaign,
        ("ad_group", "ad_group") => ad_group,
        ("ad_group", "metrics") => metrics,
        ("ad_group", "segments") => tail == "date",
        ("click_view", "click_view") => matches!(tail, "gclid" | "ad_group_ad" | "resource_name"),
        ("click_view", "customer") => customer,
        ("click_view", "campaign") => matches!(tail, "id" | "name" | "resource_name"),
        ("click_view", "ad_group") => matches!(tail, "id" | "name" | "resource_name"),
        ("click_view", "segments") => tail == "date",
        _ => false,
    }
}

/// `cost_micros` → `costMicros`.
pub(crate) fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The field mask of a selection: `customer.id,metrics.costMicros,…`.
pub(crate) fn field_mask(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| match f.split_once('.') {
            Some((r, t)) => format!("{}.{}", camel(r), camel(t)),
            None => camel(f),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn resource_name(head: &str, ctx: &Ctx<'_>) -> Option<String> {
    let cid = ctx.customer.map(|c| c.id.as_str()).unwrap_or("0");
    Some(match head {
        "customer" => format!("customers/{cid}"),
        "campaign" => format!("customers/{cid}/campaigns/{}", ctx.campaign?.id),
        "ad_group" => format!("customers/{cid}/adGroups/{}", ctx.ad_group?.id),
        "click_view" => {
            let (gclid, _) = ctx.click?;
            format!(
                "customers/{cid}/clickViews/{}~{gclid}",
                ctx.day?.format("%Y-%m-%d")
            )
        }
        "customer_client" => format!("customers/{cid}/customerClients/{}", ctx.client?.0.id),
        _ => return None,
    })
}

/// The value of `field` for the row, or `None` when the API would leave it out.
pub(crate) fn value(field: &str, ctx: &Ctx<'_>) -> Option<V> {
    let (head, tail) = field.split_once('.')?;
    if tail == "resource_name" {
        return resource_name(head, ctx).map(V::Str);
    }
    match head {
        "customer" => {
            let c = ctx.customer?;
            Some(match tail {
                "id" => V::Int(c.id.parse().ok()?),
                "descriptive_name" => V::Str(c.name.clone()),
                "currency_code" => V::Str(c.currency.into()),
                "time_zone" => V::Str(c.time_zone.into()),
                "manager" => V::Bool(c.manager),
                _ => return None,
            })
        }
        "customer_client" => {
            let (c, level) = ctx.client?;
            Some(match tail {
                "id" => V::Int(c.id.parse().ok()?),
                "descriptive_name" => V::Str(c.name.clone()),
                "manager" => V::Bool(c.manager),
                "level" => V::Int(u64::from(level)),
                "status" => V::Str("ENABLED".into()),
                "currency_code" => V::Str(c.currency.into()),
                "time_zone" => V::Str(c.time_zone.into()),
                "client_customer" => V::Str(format!("customers/{}", c.id)),
                "test_account" | "hidden" => V::Bool(false),
                _ => return None,
            })
        }
        "campaign" => {
            let c = ctx.campaign?;
            Some(match tail {
                "id" => V::Int(c.id),
                "name" => V::Str(c.name.clone()),
                "status" => V::Str("ENABLED".into()),
                "serving_status" => V::Str("SERVING".into()),
                "advertising_channel_type" => V::Str("SEARCH".into()),
                "bidding_strategy_type" => V::Str("MAXIMIZE_CONVERSIONS".into()),
                "start_date" => V::Str(ctx.campaign_first_day?.format("%Y-%m-%d").to_string()),
                "end_date" => V::Str("2037-12-30".into()),
                "tracking_url_template" => V::Str("{lpurl}".into()),
                "final_url_suffix" => V::Str(format!(
                    "utm_source={}&utm_medium={}&utm_campaign={}",
                    c.utm_source, c.utm_medium, c.utm_campaign
                )),
                _ => return None,
            })
        }
        "ad_group" => {
            let g = ctx.ad_group?;
            Some(match tail {
                "id" => V::Int(g.id),
                "name" => V::Str(g.name.clone()),
                "status" => V::Str("ENABLED".into()),
                "type" => V::Str("SEARCH_STANDARD".into()),
                "cpc_bid_micros" => V::Int(g.daily_budget_cents * 100),
                "campaign" => V::Str(format!(
                    "customers/{}/campaigns/{}",
                    ctx.customer?.id, ctx.campaign?.id
                )),
                _ => return None,
            })
        }
        "click_view" => {
            let (gclid, ad_id) = ctx.click?;
            Some(match tail {
                "gclid" => V::Str(gclid.into()),
                "ad_group_ad" => V::Str(format!(
                    "customers/{}/adGroupAds/{}~{ad_id}",
                    ctx.customer?.id, ctx.ad_group?.id
                )),
                _ => return None,
            })
        }
        "segments" => match tail {
            "date" => Some(V::Str(ctx.day?.format("%Y-%m-%d").to_string())),
            _ => None,
        },
        "metrics" => {
            let m = ctx.metrics?;
            // Zero metrics are left out of the response (proto3 defaults).
            let v = match tail {
                "impressions" => V::Int(m.impressions),
                "clicks" => V::Int(m.clicks),
                "cost_micros" => V::Int(m.cost_micros),
                "conversions" => V::Double(m.conversions),
                "conversions_value" => V::Double(m.conversions_value),
                "ctr" if m.impressions > 0 => V::Double(m.clicks as f64 / m.impressions as f64),
                "average_cpc" if m.clicks > 0 => V::Double(m.cost_micros as f64 / m.clicks as f64),
                _ => return None,
            };
            match v {
                V::Int(0) => None,
                V::Double(0.0) => None,
                v => Some(v),
            }
        }
        _ => None,
    }
}

/// The selection grouped by resource, in order of first appearance: `(resource, [(field, camel tail)])`.
pub(crate) fn layout(fields: &[String]) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for f in fields {
        let (head, tail) = f.split_once('.').unwrap_or((f.as_str(), ""));
        if tail == "resource_name" {
            continue;
        }
        let entry = match out.iter_mut().position(|(h, _)| h == head) {
            Some(i) => &mut out[i].1,
            None => {
                out.push((head.to_string(), Vec::new()));
                &mut out.last_mut().expect("pushed").1
            }
        };
        entry.push((f.clone(), camel(tail)));
    }
    for f in fields {
        if let Some((head, "resource_name")) = f.split_once('.')
            && !out.iter().any(|(h, _)| h == head)
        {
            out.push((head.to_string(), Vec::new()));
        }
    }
    out
}

/// Writes one result row.
pub(crate) fn write_row(
    out: &mut Vec<u8>,
    layout: &[(String, Vec<(String, String)>)],
    ctx: &Ctx<'_>,
) {
    out.push(b'{');
    let mut first_resource = true;
    for (head, fields) in layout {
        if !first_resource {
            out.push(b',');
        }
        first_resource = false;
        json::push_str(out, &camel(head));
        out.extend_from_slice(b":{");
        let mut first = true;
        if let Some(rn) = resource_name(head, ctx) {
            out.extend_from_slice(b"\"resourceName\":");
            json::push_str(out, &rn);
            first = false;
        }
        for (field, camel_tail) in fields {
            let Some(v) = value(field, ctx) else { continue };
            if !first {
                out.push(b',');
            }
            first = false;
            json::push_str(out, camel_tail);
            out.push(b':');
            match v {
                V::Int(i) => {
                    out.push(b'"');
                    json::push_u64(out, i);
                    out.push(b'"');
                }
                V::Double(d) => json::push_f64(out, d),
                V::Str(s) => json::push_str(out, &s),
                V::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_nested_camel_case_with_int64_strings_and_zero_metrics_left_out() {
        let customer = Customer {
            id: "1234567890".into(),
            name: "Acme".into(),
            manager: false,
            currency: "USD",
            time_zone: "America/New_York",
        };
        let fields: Vec<String> = [
            "customer.id",
            "customer.currency_code",
            "segments.date",
            "metrics.cost_micros",
            "metrics.impressions",
            "metrics.conversions",
            "metrics.conversions_value",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let ctx = Ctx {
            customer: Some(&customer),
            day: NaiveDate::from_ymd_opt(2024, 5, 1),
            metrics: Some(Metrics {
                impressions: 12,
                clicks: 0,
                cost_micros: 48_210_000,
                conversions: 2.0,
                conversions_value: 0.0,
            }),
            ..Ctx::default()
        };
        let mut out = Vec::new();
        write_row(&mut out, &layout(&fields), &ctx);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"customer":{"resourceName":"customers/1234567890","id":"1234567890","currencyCode":"USD"},"segments":{"date":"2024-05-01"},"metrics":{"costMicros":"48210000","impressions":"12","conversions":2.0}}"#
        );
        assert_eq!(
            field_mask(&fields),
            "customer.id,customer.currencyCode,segments.date,metrics.costMicros,metrics.impressions,metrics.conversions,metrics.conversionsValue"
        );
        assert!(allowed("campaign", "metrics.cost_micros"));
        assert!(!allowed("campaign", "metrics.bogus"));
        assert!(!allowed("customer_client", "metrics.clicks"));
    }
}
