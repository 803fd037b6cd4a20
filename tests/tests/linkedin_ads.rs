//! LinkedIn end to end (runner and lake) against the emulator: late conversions restate a
//! campaign's day, which replaces the stored row once; the second run reads the 14-day
//! look-back only.

use revline::runner::RunOptions;
use revline_sandbox::FaultPlan;
use revline_sandbox::linkedin::campaign_days;
use revline_tests::{ConnectorCase, Harness, LinkedinCase};

const T: &str = "linkedin_ads.campaign_analytics_daily";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_conversions_replace_the_day_once() {
    let case = LinkedinCase;
    let h = Harness::start(&case, case.world(), FaultPlan::none());
    let only = || RunOptions {
        stream: Some("campaign_analytics_daily".into()),
        ..RunOptions::default()
    };
    assert!(h.run(only()).await.succeeded());
    let rows_before = h.scalar(&format!("SELECT COUNT(*) FROM {T}")).await;
    let (day, campaign, added, expected) = {
        let world = h.sandbox.world();
        let mut w = world.write();
        let r = w.restate_ad_conversions("linkedin", 10, 1).remove(0);
        let c = &w.campaigns()[r.key.campaign as usize];
        let id = c.id * 100 + u64::from(r.key.ad_group);
        let expected = campaign_days(&w, r.day)
            .into_iter()
            .find(|(g, _)| g.id == id)
            .map(|(_, s)| s.conversions)
            .unwrap();
        (r.day, id, r.added, expected)
    };
    let key = format!("date = DATE '{day}' AND campaign_id = {campaign}");
    let before: i64 = h
        .scalar(&format!(
            "SELECT external_website_conversions FROM {T} WHERE {key}"
        ))
        .await;
    let second = h.run(only()).await;
    assert!(second.succeeded());
    let after = h
        .lines(&format!(
            "SELECT external_website_conversions, one_click_leads FROM {T} WHERE {key}"
        ))
        .await;
    assert_eq!(after.len(), 1, "one row for the day");
    let conv: i64 = after[0].split('|').next().unwrap().parse().unwrap();
    assert_eq!(conv, before + i64::from(added));
    assert_eq!(conv as u64, expected);
    assert_eq!(
        h.scalar(&format!("SELECT COUNT(*) FROM {T}")).await,
        rows_before
    );
    assert_eq!(
        second.streams().next().unwrap().records,
        42,
        "the 14-day look-back: 3 campaigns × 14 days"
    );
}
