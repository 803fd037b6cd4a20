//! `revline dashboard`: one self-contained HTML page (inline CSS and SVG, no network) showing
//! every stage of the revenue engine from the mart tables: KPI tiles with month-over-month
//! change, MRR movements, the funnel, spend vs won revenue (ROAS), pipeline by stage, support
//! load and CSAT against churn risk, the month's top bottleneck, the top landing pages, and data
//! freshness.
//!
//! Every chart mark carries `class="mark"` and `data-chart`; a small inline script checks after
//! layout that each mark has a size and writes the counts into `#render-check`, so a headless
//! browser can prove the page rendered.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use revline_core::{Error, Result};

/// A month of `revops_kpis` (the fields the tiles show).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Annual recurring revenue at month end.
    pub arr: Option<f64>,
    /// Net revenue retention.
    pub nrr: Option<f64>,
    /// Gross revenue retention.
    pub grr: Option<f64>,
    /// Won ÷ closed deals.
    pub win_rate: Option<f64>,
    /// Blended customer acquisition cost.
    pub cac: Option<f64>,
    /// LTV ÷ CAC.
    pub ltv_to_cac: Option<f64>,
    /// CAC payback in months.
    pub payback_months: Option<f64>,
}

/// The top-ranked row of `revops_bottlenecks` for the latest month.
#[derive(Debug, Clone)]
pub struct Bottleneck {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The handoff (`marketing→sales`, `sales`, `customer_success`).
    pub handoff: String,
    /// The metric that moved.
    pub metric: String,
    /// Its value in the month.
    pub value: f64,
    /// Its mean over the 3 previous months.
    pub trailing: f64,
    /// `value − trailing`.
    pub change: f64,
    /// Signed so that positive is worse; `None` without a trailing average.
    pub severity: Option<f64>,
}

/// One row of the top landing pages (from `landing_page_performance`).
#[derive(Debug, Clone)]
pub struct LandingPageRow {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The page path (with its GA4 property when the lake has several).
    pub page: String,
    /// Sessions in the month.
    pub sessions: f64,
    /// Share of the property's sessions.
    pub share: Option<f64>,
    /// Key events ÷ sessions.
    pub key_event_rate: Option<f64>,
    /// Sessions ÷ the month before's − 1.
    pub change: Option<f64>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Default)]
pub struct DashboardData {
    /// KPI months, oldest first.
    pub kpis: Vec<KpiMonth>,
    /// (month, movement, amount) for the last 12 months.
    pub mrr: Vec<(String, String, f64)>,
    /// Funnel totals over the last 12 months: (step, count).
    pub funnel: Vec<(String, f64)>,
    /// Spend and won amount by channel (platform) over the last 12 months: (name, spend, won).
    pub spend_by_channel: Vec<(String, f64, f64)>,
    /// Top campaigns by spend: (platform, campaign, spend, won, roas).
    pub campaigns: Vec<(String, String, f64, f64, Option<f64>)>,
    /// Open pipeline by stage: (stage, deals, amount).
    pub pipeline: Vec<(String, f64, f64)>,
    /// Latest month per account: (account, tickets opened, csat, churn risk).
    pub support: Vec<(String, f64, Option<f64>, bool)>,
    /// The latest month's worst-moving handoff.
    pub bottleneck: Option<Bottleneck>,
    /// Per source: (source, last successful load, last status).
    pub freshness: Vec<(String, String, String)>,
    /// The latest month's top landing pages by sessions.
    pub landing_pages: Vec<LandingPageRow>,
}

async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql)
        .await
        .map_err(|e| Error::config(format!("dashboard query failed: {e}\n{sql}")))?
        .collect()
        .await
        .map_err(|e| Error::config(format!("dashboard query failed: {e}\n{sql}")))
}

fn text(b: &RecordBatch, col: usize, row: usize) -> String {
    let c = b.column(col);
    if c.is_null(row) {
        return String::new();
    }
    arrow::util::display::array_value_to_string(c, row).unwrap_or_default()
}

fn num(b: &RecordBatch, col: usize, row: usize) -> Option<f64> {
    let c = b.column(col);
    if c.is_null(row) {
        return None;
    }
    let f = arrow::compute::cast(c, &DataType::Float64).ok()?;
    Some(f.as_primitive::<arrow::datatypes::Float64Type>().value(row))
}

fn each(batches: &[RecordBatch]) -> impl Iterator<Item = (&RecordBatch, usize)> {
    batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |r| (b, r)))
}

/// Reads the marts and run history.
pub async fn gather(ctx: &SessionContext) -> Result<DashboardData> {
    let mut d = DashboardData::default();
    let k = rows(
        ctx,
        "SELECT to_char(month, '%Y-%m'), arr, nrr, grr, win_rate, blended_cac, ltv_to_cac, cac_payback_months \
         FROM revops_kpis ORDER BY month",
    )
    .await?;
    for (b, r) in each(&k) {
        d.kpis.push(KpiMonth {
            month: text(b, 0, r),
            arr: num(b, 1, r),
            nrr: num(b, 2, r),
            grr: num(b, 3, r),
            win_rate: num(b, 4, r),
            cac: num(b, 5, r),
            ltv_to_cac: num(b, 6, r),
            payback_months: num(b, 7, r),
        });
    }
    let m = rows(
        ctx,
        "SELECT to_char(month, '%Y-%m') AS m, movement, SUM(amount) FROM mrr_movements \
         WHERE movement <> 'unchanged' AND month > (SELECT max(month) FROM mrr_movements) - INTERVAL '12 months' \
         GROUP BY 1, 2 HAVING SUM(amount) <> 0 ORDER BY 1, 2",
    )
    .await?;
    for (b, r) in each(&m) {
        d.mrr
            .push((text(b, 0, r), text(b, 1, r), num(b, 2, r).unwrap_or(0.0)));
    }
    let f = rows(
        ctx,
        "SELECT SUM(sessions), SUM(leads), SUM(mqls), SUM(sqls), SUM(opportunities), SUM(won_deals) FROM revenue_funnel \
         WHERE month > (SELECT max(month) FROM revenue_funnel) - INTERVAL '12 months'",
    )
    .await?;
    if let Some((b, r)) = each(&f).next() {
        for (i, step) in ["Sessions", "Leads", "MQLs", "SQLs", "Opportunities", "Won"]
            .iter()
            .enumerate()
        {
            d.funnel
                .push((step.to_string(), num(b, i, r).unwrap_or(0.0)));
        }
    }
    let s = rows(
        ctx,
        "SELECT platform, SUM(spend), SUM(won_amount) FROM marketing_attribution \
         WHERE attribution_model = 'first_touch' AND month > (SELECT max(month) FROM marketing_attribution) - INTERVAL '12 months' \
         GROUP BY 1 ORDER BY 1",
    )
    .await?;
    for (b, r) in each(&s) {
        d.spend_by_channel.push((
            text(b, 0, r),
            num(b, 1, r).unwrap_or(0.0),
            num(b, 2, r).unwrap_or(0.0),
        ));
    }
    let c = rows(
        ctx,
        "SELECT platform, campaign_name, SUM(spend) AS spend, SUM(won_amount) AS won, \
                CASE WHEN SUM(spend) > 0 THEN SUM(won_amount) / SUM(spend) END \
         FROM marketing_attribution WHERE attribution_model = 'first_touch' \
         GROUP BY 1, 2 ORDER BY spend DESC, 2 LIMIT 8",
    )
    .await?;
    for (b, r) in each(&c) {
        d.campaigns.push((
            text(b, 0, r),
            text(b, 1, r),
            num(b, 2, r).unwrap_or(0.0),
            num(b, 3, r).unwrap_or(0.0),
            num(b, 4, r),
        ));
    }
    let p = rows(
        ctx,
        "SELECT stage, COUNT(*), SUM(amount) FROM sales_pipeline WHERE NOT is_closed GROUP BY 1 ORDER BY 3 DESC, 1",
    )
    .await?;
    for (b, r) in each(&p) {
        d.pipeline.push((
            text(b, 0, r),
            num(b, 1, r).unwrap_or(0.0),
            num(b, 2, r).unwrap_or(0.0),
        ));
    }
    let h = rows(
        ctx,
        "SELECT account_key, tickets_opened, csat, churn_risk FROM customer_health \
         WHERE month = (SELECT max(month) FROM customer_health) AND mrr > 0 ORDER BY account_key",
    )
    .await?;
    for (b, r) in each(&h) {
        let risk = b
            .column(3)
            .as_boolean_opt()
            .map(|x| !x.is_null(r) && x.value(r))
            .unwrap_or(false);
        d.support.push((
            text(b, 0, r),
            num(b, 1, r).unwrap_or(0.0),
            num(b, 2, r),
            risk,
        ));
    }
    let bn = rows(
        ctx,
        "SELECT to_char(month, '%Y-%m'), handoff, metric, value, trailing_3m_avg, change, severity \
         FROM revops_bottlenecks \
         WHERE month = (SELECT max(month) FROM revops_bottlenecks) ORDER BY rank LIMIT 1",
    )
    .await?;
    if let Some((b, r)) = each(&bn).next() {
        d.bottleneck = Some(Bottleneck {
            month: text(b, 0, r),
            handoff: text(b, 1, r),
            metric: text(b, 2, r),
            value: num(b, 3, r).unwrap_or(0.0),
            trailing: num(b, 4, r).unwrap_or(0.0),
            change: num(b, 5, r).unwrap_or(0.0),
            severity: num(b, 6, r),
        });
    }
    let fr = rows(
        ctx,
        "SELECT source, max(CASE WHEN status = 'succeeded' THEN finished_at END), \
                last_value(status ORDER BY finished_at) \
         FROM _revline.runs WHERE kind = 'load' GROUP BY source ORDER BY source",
    )
    .await
    .unwrap_or_default();
    for (b, r) in each(&fr) {
        d.freshness
            .push((text(b, 0, r), text(b, 1, r), text(b, 2, r)));
    }
    // Lakes whose models predate this mart just show no landing pages.
    let has_pages = ctx.table_exist("landing_page_performance").unwrap_or(false);
    let lp = if has_pages {
        rows(
            ctx,
            "SELECT to_char(month, '%Y-%m') AS m, CASE WHEN n > 1 THEN landing_page || ' (' || _source || ')' \
                    ELSE landing_page END AS page, CAST(sessions AS DOUBLE) AS s, session_share, \
                    key_event_rate, sessions_change \
             FROM (SELECT *, COUNT(DISTINCT _source) OVER () AS n FROM landing_page_performance \
                   WHERE month = (SELECT max(month) FROM landing_page_performance)) \
             ORDER BY sessions DESC, landing_page, _source LIMIT 8",
        )
        .await?
    } else {
        Vec::new()
    };
    for (b, r) in each(&lp) {
        d.landing_pages.push(LandingPageRow {
            month: text(b, 0, r),
            page: text(b, 1, r),
            sessions: num(b, 2, r).unwrap_or(0.0),
            share: num(b, 3, r),
            key_event_rate: num(b, 4, r),
            change: num(b, 5, r),
        });
    }
    Ok(d)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `12,345` / `1.2M` style money.
fn money(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 1e6 {
        format!("{:.2}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", a / 1e3)
    } else {
        format!("{a:.0}")
    };
    if v < 0.0 {
        format!("-${s}")
    } else {
        format!("${s}")
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

const PALETTE: &[(&str, &str)] = &[
    ("new", "#2e7d32"),
    ("expansion", "#66bb6a"),
    ("reactivation", "#29b6f6"),
    ("contraction", "#ffa726"),
    ("churn", "#e53935"),
];

fn color(movement: &str) -> &'static str {
    PALETTE
        .iter()
        .find(|(m, _)| *m == movement)
        .map(|(_, c)| *c)
        .unwrap_or("#90a4ae")
}

/// Renders the page.
pub fn render(d: &DashboardData, generated_at: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Revline · RevOps dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px;background:#f5f7fa;color:#1d2733}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:15px;margin:0 0 10px;color:#37474f}}
.sub{{color:#607d8b;font-size:12px;margin-bottom:18px}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}}
.card{{background:#fff;border-radius:10px;padding:16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
.kpis{{display:grid;grid-template-columns:repeat(7,1fr);gap:12px;margin-bottom:16px}}
.kpi{{background:#fff;border-radius:10px;padding:12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
.kpi .label{{font-size:11px;text-transform:uppercase;color:#78909c;letter-spacing:.04em}}
.kpi .value{{font-size:22px;font-weight:600;margin:4px 0}}
.up{{color:#2e7d32}} .down{{color:#c62828}} .flat{{color:#78909c}} .delta{{font-size:12px}}
.alert{{background:#fff3e0;border-left:4px solid #fb8c00;padding:12px 16px;border-radius:6px;margin-bottom:16px}}
.alert.calm{{background:#e8f5e9;border-left-color:#43a047}}
table{{border-collapse:collapse;width:100%;font-size:12px}} td,th{{padding:4px 6px;border-bottom:1px solid #eceff1;text-align:left}}
th{{color:#607d8b;font-weight:600}} td.n{{text-align:right;font-variant-numeric:tabular-nums}}
svg text{{font-size:11px;fill:#455a64}} .legend span{{display:inline-block;margin-right:10px;font-size:11px}}
.legend i{{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;vertical-align:middle}}
.empty{{color:#90a4ae;font-size:12px}}
</style></head><body>
<h1>RevOps dashboard</h1><div class="sub">Generated {} from the lake's mart tables. Months are calendar months (UTC).</div>
"#,
        esc(generated_at)
    );

    // KPI tiles.
    let latest = d.kpis.last();
    let prior = d.kpis.len().checked_sub(2).and_then(|i| d.kpis.get(i));
    type Get = fn(&KpiMonth) -> Option<f64>;
    type Fmt = fn(f64) -> String;
    // (key, label, value, format, higher is better)
    type Tile<'a> = (&'a str, &'a str, Get, Fmt, bool);
    let tiles: [Tile; 7] = [
        ("arr", "ARR", |k| k.arr, money, true),
        ("nrr", "NRR", |k| k.nrr, pct, true),
        ("grr", "GRR", |k| k.grr, pct, true),
        ("win_rate", "Win rate", |k| k.win_rate, pct, true),
        ("cac", "CAC", |k| k.cac, money, false),
        (
            "ltv_to_cac",
            "LTV:CAC",
            |k| k.ltv_to_cac,
            |v| format!("{v:.1}×"),
            true,
        ),
        (
            "payback",
            "CAC payback",
            |k| k.payback_months,
            |v| format!("{v:.1} mo"),
            false,
        ),
    ];
    h.push_str(r#"<div class="kpis">"#);
    for (key, label, get, fmt, higher_is_better) in tiles {
        let value = latest.and_then(get);
        let before = prior.and_then(get);
        let (delta, class) = match (value, before) {
            (Some(v), Some(b)) if b != 0.0 => {
                let ch = (v - b) / b.abs();
                let good = (ch > 0.0) == higher_is_better;
                let class = if ch.abs() < 1e-9 {
                    "flat"
                } else if good {
                    "up"
                } else {
                    "down"
                };
                (
                    format!(
                        "{}{:.1}% vs prior month",
                        if ch >= 0.0 { "+" } else { "" },
                        ch * 100.0
                    ),
                    class,
                )
            }
            _ => ("no prior month".to_string(), "flat"),
        };
        let _ = write!(
            h,
            r#"<div class="kpi" data-kpi="{key}" data-value="{}"><div class="label">{label}</div><div class="value">{}</div><div class="delta {class}">{}</div></div>"#,
            value.map(|v| format!("{v}")).unwrap_or_default(),
            value.map(fmt).unwrap_or_else(|| "–".into()),
            esc(&delta)
        );
    }
    h.push_str("</div>");
    if let Some(m) = latest {
        let _ = write!(h, r#"<div class="sub">KPIs for {}.</div>"#, esc(&m.month));
    }

    // The month's top bottleneck.
    // A handoff is only called a bottleneck when its metric got worse; in a month where none
    // did, the callout says so and names the one closest to getting worse.
    if let Some(b) = &d.bottleneck {
        let worse = b.severity.is_some_and(|s| s > 0.0);
        let headline = if worse {
            format!("Top bottleneck in {}: {}", esc(&b.month), esc(&b.handoff))
        } else {
            format!(
                "No handoff got worse in {} (closest: {})",
                esc(&b.month),
                esc(&b.handoff)
            )
        };
        let _ = write!(
            h,
            r#"<div class="alert{}" id="bottleneck" data-handoff="{}" data-worse="{worse}"><strong>{headline}</strong> — {} is {:.3}, against a trailing 3-month average of {:.3} (change {:+.3}).</div>"#,
            if worse { "" } else { " calm" },
            esc(&b.handoff),
            esc(&b.metric),
            b.value,
            b.trailing,
            b.change
        );
    }

    h.push_str(r#"<div class="grid">"#);
    h.push_str(&mrr_chart(&d.mrr));
    h.push_str(&funnel_chart(&d.funnel));
    h.push_str(&spend_chart(&d.spend_by_channel, &d.campaigns));
    h.push_str(&pipeline_chart(&d.pipeline));
    h.push_str(&support_chart(&d.support));
    h.push_str(&landing_pages_table(&d.landing_pages));
    h.push_str(&freshness_table(&d.freshness));
    h.push_str("</div>");
    h.push_str(
        r#"<pre id="render-check" style="display:none"></pre>
<script>
(function(){var counts={};var bad=0;document.querySelectorAll('.mark').forEach(function(m){var c=m.getAttribute('data-chart');counts[c]=(counts[c]||0)+1;var b=m.getBBox?m.getBBox():m.getBoundingClientRect();if(!(b.width>0||b.height>0)){bad++;}});
document.getElementById('render-check').textContent=JSON.stringify({marks:counts,unsized:bad,kpis:Array.prototype.map.call(document.querySelectorAll('.kpi'),function(k){return [k.getAttribute('data-kpi'),k.getAttribute('data-value')];})});})();
</script></body></html>"#,
    );
    h
}

fn card(title: &str, id: &str, body: String) -> String {
    format!(
        r#"<div class="card" id="{id}"><h2>{}</h2>{body}</div>"#,
        esc(title)
    )
}

fn empty(what: &str) -> String {
    format!(r#"<div class="empty">No {what} yet.</div>"#)
}

fn mrr_chart(rows: &[(String, String, f64)]) -> String {
    if rows.is_empty() {
        return card("MRR movements", "chart-mrr", empty("MRR movements"));
    }
    let months: Vec<&String> = {
        let mut m: Vec<&String> = rows.iter().map(|r| &r.0).collect();
        m.dedup();
        m
    };
    let (w, ht, pad) = (440.0, 220.0, 30.0);
    let mut pos: BTreeMap<&str, f64> = BTreeMap::new();
    let mut neg: BTreeMap<&str, f64> = BTreeMap::new();
    for (m, _, a) in rows {
        if *a >= 0.0 {
            *pos.entry(m).or_default() += a;
        } else {
            *neg.entry(m).or_default() += a;
        }
    }
    let top = pos.values().cloned().fold(1.0, f64::max);
    let bottom = neg.values().cloned().fold(0.0, f64::min).abs();
    let scale = (ht - 2.0 * pad) / (top + bottom);
    let zero = pad + top * scale;
    let bw = (w - 2.0 * pad) / months.len() as f64;
    let mut svg = format!(
        r#"<svg width="{w}" height="{ht}" role="img" aria-label="MRR movements by month">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{pad}" x2="{}" y1="{zero}" y2="{zero}" stroke="#b0bec5"/>"##,
        w - pad
    );
    for (i, m) in months.iter().enumerate() {
        let x = pad + i as f64 * bw + bw * 0.15;
        let (mut up, mut down) = (zero, zero);
        for (rm, movement, a) in rows.iter().filter(|r| &&r.0 == m) {
            let hgt = (a.abs() * scale).max(1.0);
            let y = if *a >= 0.0 {
                up -= hgt;
                up
            } else {
                let y = down;
                down += hgt;
                y
            };
            let _ = write!(
                svg,
                r#"<rect class="mark" data-chart="mrr" data-month="{rm}" data-movement="{movement}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{hgt:.1}" fill="{}"><title>{rm} {movement}: {}</title></rect>"#,
                bw * 0.7,
                color(movement),
                money(*a)
            );
        }
        if i % 2 == 0 || months.len() <= 6 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bw * 0.35,
                ht - 8.0,
                &m[2..]
            );
        }
    }
    svg.push_str("</svg>");
    let legend: String = PALETTE
        .iter()
        .map(|(m, c)| format!(r#"<span><i style="background:{c}"></i>{m}</span>"#))
        .collect();
    card(
        "MRR movements",
        "chart-mrr",
        format!(r#"{svg}<div class="legend">{legend}</div>"#),
    )
}

/// Width of the bar charts: room for the longest bar plus its value label.
const CHART_WIDTH: f64 = 620.0;

/// Size attributes of a chart: drawn at `w`×`h`, scaled down to fit a narrower card.
fn svg_size(w: f64, h: f64) -> String {
    format!(r#"width="{w}" height="{h}" viewBox="0 0 {w} {h}" style="max-width:100%;height:auto""#)
}

fn funnel_chart(steps: &[(String, f64)]) -> String {
    if steps.is_empty() || steps.iter().all(|s| s.1 == 0.0) {
        return card(
            "Funnel: sessions to won (last 12 months)",
            "chart-funnel",
            empty("funnel data"),
        );
    }
    let max = steps.iter().map(|s| s.1).fold(1.0, f64::max);
    let (w, row) = (CHART_WIDTH, 30.0);
    let h = row * steps.len() as f64 + 10.0;
    let mut svg = format!(r#"<svg {} role="img" aria-label="Funnel">"#, svg_size(w, h));
    for (i, (name, v)) in steps.iter().enumerate() {
        // Log scale so sessions do not flatten the later steps.
        let len = if *v <= 0.0 {
            1.0
        } else {
            ((v + 1.0).ln() / (max + 1.0).ln() * 260.0).max(2.0)
        };
        let y = i as f64 * row + 4.0;
        let rate = if i > 0 && steps[i - 1].1 > 0.0 {
            format!(" ({} of previous)", pct(v / steps[i - 1].1))
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            r##"<text x="0" y="{:.1}">{}</text><rect class="mark" data-chart="funnel" data-step="{}" x="90" y="{y:.1}" width="{len:.1}" height="20" fill="#5c6bc0"></rect><text x="{:.1}" y="{:.1}">{:.0}{}</text>"##,
            y + 14.0,
            esc(name),
            esc(name),
            95.0 + len,
            y + 14.0,
            v,
            esc(&rate)
        );
    }
    svg.push_str("</svg>");
    card(
        "Funnel: sessions to won (last 12 months)",
        "chart-funnel",
        svg,
    )
}

fn spend_chart(
    channels: &[(String, f64, f64)],
    campaigns: &[(String, String, f64, f64, Option<f64>)],
) -> String {
    if channels.is_empty() {
        return card(
            "Spend vs won revenue (first touch)",
            "chart-spend",
            empty("ad spend"),
        );
    }
    let max = channels.iter().map(|c| c.1.max(c.2)).fold(1.0, f64::max);
    let (w, group) = (CHART_WIDTH, 44.0);
    let h = group * channels.len() as f64 + 8.0;
    let mut svg = format!(
        r#"<svg {} role="img" aria-label="Spend and won revenue by platform">"#,
        svg_size(w, h)
    );
    for (i, (name, spend, won)) in channels.iter().enumerate() {
        let y = i as f64 * group + 4.0;
        let ls = (spend / max * 280.0).max(1.0);
        let lw = (won / max * 280.0).max(1.0);
        let roas = if *spend > 0.0 {
            format!("ROAS {:.2}", won / spend)
        } else {
            "no spend".into()
        };
        let _ = write!(
            svg,
            r##"<text x="0" y="{:.1}">{}</text><rect class="mark" data-chart="spend" data-series="spend" x="100" y="{y:.1}" width="{ls:.1}" height="16" fill="#ef5350"></rect><rect class="mark" data-chart="spend" data-series="won" x="100" y="{:.1}" width="{lw:.1}" height="16" fill="#43a047"></rect><text x="{:.1}" y="{:.1}">{} / {} · {}</text>"##,
            y + 20.0,
            esc(name),
            y + 18.0,
            104.0 + ls.max(lw),
            y + 20.0,
            money(*spend),
            money(*won),
            roas
        );
    }
    svg.push_str("</svg>");
    let mut table = String::from(
        "<table><tr><th>Platform</th><th>Campaign</th><th>Spend</th><th>Won</th><th>ROAS</th></tr>",
    );
    for (p, c, s, w, r) in campaigns {
        let _ = write!(
            table,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(p),
            esc(c),
            money(*s),
            money(*w),
            r.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into())
        );
    }
    table.push_str("</table>");
    card(
        "Spend vs won revenue (first touch, last 12 months)",
        "chart-spend",
        format!(
            r##"{svg}<div class="legend"><span><i style="background:#ef5350"></i>spend</span><span><i style="background:#43a047"></i>won</span></div>{table}"##
        ),
    )
}

fn pipeline_chart(stages: &[(String, f64, f64)]) -> String {
    if stages.is_empty() {
        return card(
            "Open pipeline by stage",
            "chart-pipeline",
            empty("open deals"),
        );
    }
    let max = stages.iter().map(|s| s.2).fold(1.0, f64::max);
    let (w, row) = (CHART_WIDTH, 28.0);
    let h = row * stages.len() as f64 + 8.0;
    let mut svg = format!(
        r#"<svg {} role="img" aria-label="Open pipeline by stage">"#,
        svg_size(w, h)
    );
    for (i, (stage, n, amount)) in stages.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let len = (amount / max * 240.0).max(1.0);
        let _ = write!(
            svg,
            r##"<text x="0" y="{:.1}">{}</text><rect class="mark" data-chart="pipeline" data-stage="{}" x="150" y="{y:.1}" width="{len:.1}" height="18" fill="#8e24aa"></rect><text x="{:.1}" y="{:.1}">{} · {:.0} deals</text>"##,
            y + 13.0,
            esc(stage),
            esc(stage),
            155.0 + len,
            y + 13.0,
            money(*amount),
            n
        );
    }
    svg.push_str("</svg>");
    card("Open pipeline by stage", "chart-pipeline", svg)
}

fn support_chart(accounts: &[(String, f64, Option<f64>, bool)]) -> String {
    if accounts.is_empty() {
        return card(
            "Support load and CSAT vs churn risk (latest month)",
            "chart-support",
            empty("paying accounts"),
        );
    }
    let (w, ht, pad) = (440.0, 220.0, 34.0);
    let max_t = accounts.iter().map(|a| a.1).fold(1.0, f64::max);
    let mut svg = format!(
        r#"<svg width="{w}" height="{ht}" role="img" aria-label="Tickets and CSAT by account">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="#b0bec5"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="#b0bec5"/><text x="{}" y="{}" text-anchor="end">tickets opened</text><text x="4" y="{}">CSAT</text>"##,
        ht - pad,
        w - pad,
        ht - pad,
        ht - pad,
        w - pad,
        ht - 8.0,
        pad - 8.0
    );
    for (i, (acct, tickets, csat, risk)) in accounts.iter().enumerate() {
        let jitter = (i % 7) as f64 * 1.5;
        let x = pad + tickets / max_t * (w - 2.0 * pad) + jitter;
        let y = match csat {
            Some(c) => (ht - pad) - c.clamp(0.0, 1.0) * (ht - 2.0 * pad),
            None => ht - pad - 4.0,
        };
        let fill = if *risk { "#e53935" } else { "#43a047" };
        let _ = write!(
            svg,
            r#"<circle class="mark" data-chart="support" data-account="{}" data-risk="{risk}" cx="{x:.1}" cy="{y:.1}" r="4" fill="{fill}" fill-opacity="0.75"><title>{}: {:.0} tickets, CSAT {}</title></circle>"#,
            esc(acct),
            esc(acct),
            tickets,
            csat.map(pct).unwrap_or_else(|| "n/a".into())
        );
    }
    svg.push_str("</svg>");
    card(
        "Support load and CSAT vs churn risk (latest month)",
        "chart-support",
        format!(
            r##"{svg}<div class="legend"><span><i style="background:#e53935"></i>churn risk</span><span><i style="background:#43a047"></i>healthy</span></div>"##
        ),
    )
}

fn landing_pages_table(rows: &[LandingPageRow]) -> String {
    let Some(month) = rows.first().map(|r| r.month.clone()) else {
        return card("Top landing pages", "landing-pages", empty("landing pages"));
    };
    let opt = |v: &Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| "–".into());
    let mut t = String::from(
        "<table><tr><th>Landing page</th><th>Sessions</th><th>Share</th><th>Key-event rate</th><th>vs prior month</th></tr>",
    );
    for r in rows {
        let _ = write!(
            t,
            r#"<tr class="page" data-page="{}"><td>{}</td><td class="n">{:.0}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&r.page),
            esc(&r.page),
            r.sessions,
            opt(&r.share, &pct),
            opt(&r.key_event_rate, &|v| format!("{:.2}%", v * 100.0)),
            opt(&r.change, &|v| format!("{:+.1}%", v * 100.0)),
        );
    }
    t.push_str("</table>");
    card(&format!("Top landing pages ({month})"), "landing-pages", t)
}

fn freshness_table(rows: &[(String, String, String)]) -> String {
    if rows.is_empty() {
        return card("Data freshness", "freshness", empty("loads recorded"));
    }
    let mut t = String::from(
        "<table><tr><th>Source</th><th>Last successful load</th><th>Last status</th></tr>",
    );
    for (s, last, status) in rows {
        let _ = write!(
            t,
            r#"<tr class="fresh" data-source="{}"><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(s),
            esc(s),
            if last.is_empty() {
                "never".to_string()
            } else {
                esc(last)
            },
            esc(status)
        );
    }
    t.push_str("</table>");
    card("Data freshness", "freshness", t)
}

/// Gathers and renders the dashboard, writing it atomically to `out`.
pub async fn write(ctx: &SessionContext, out: &std::path::Path) -> Result<DashboardData> {
    let data = gather(ctx).await?;
    let html = render(
        &data,
        &chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    if let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, html)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, out)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", out.display())))?;
    Ok(data)
}

/// Serves the dashboard at `http://ADDR/` (rendered fresh from the lake on each request)
/// until `shutdown` fires; returns the bound address.
pub async fn serve(
    addr: std::net::SocketAddr,
    config: crate::config::Config,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let config = std::sync::Arc::new(config);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let config = config.clone();
            async move {
                let page = async {
                    let lake = config.lake.open()?;
                    let ctx = crate::query::session(&config, &lake).await?;
                    let data = gather(&ctx).await?;
                    Ok::<_, Error>(render(
                        &data,
                        &chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
                    ))
                }
                .await;
                match page {
                    Ok(html) => (
                        axum::http::StatusCode::OK,
                        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        html,
                    ),
                    Err(e) => (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; charset=utf-8",
                        )],
                        format!(
                            "the dashboard needs the mart tables: run `revline models` first ({e})"
                        ),
                    ),
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(bound)
}
