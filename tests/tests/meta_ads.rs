//! Meta end to end (runner and lake) against the emulator: late conversions restate a day's
//! leads, which replace the stored row once; the second run reads the 28-day look-back only.

use revline::runner::RunOptions;
use revline_sandbox::FaultPlan;
use revline_sandbox::meta::CAMPAIGN_ID_BASE;
use revline_tests::{ConnectorCase, Harness, MetaCase};

const CID: &str = "meta_ads.campaign_insights_daily";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_conversions_replace_the_day_once() {
    let case = MetaCase;
    let h = Harness::start(&case, case.world(), FaultPlan::none());
    let only = || RunOptions {
        stream: Some("campaign_insights_daily".into()),
        ..RunOptions::default()
    };
    assert!(h.run(only()).await.succeeded());
    let rows_before = h.scalar(&format!("SELECT COUNT(*) FROM {CID}")).await;
    let (day, campaign, added) = {
        let world = h.sandbox.world();
        let mut w = world.write();
        let r = w.restate_ad_conversions("facebook", 20, 1).remove(0);
        (
            r.day,
            CAMPAIGN_ID_BASE + w.campaigns()[r.key.campaign as usize].id,
            r.added,
        )
    };
    let key = format!("date = DATE '{day}' AND campaign_id = {campaign}");
    let before: i64 = h
        .scalar(&format!("SELECT leads FROM {CID} WHERE {key}"))
        .await;
    let second = h.run(only()).await;
    assert!(second.succeeded());
    let after = h
        .lines(&format!("SELECT leads, actions FROM {CID} WHERE {key}"))
        .await;
    assert_eq!(after.len(), 1, "one row for the day");
    let leads: i64 = after[0].split('|').next().unwrap().parse().unwrap();
    assert_eq!(leads, before + i64::from(added));
    assert!(
        after[0].contains(&format!("\"action_type\":\"lead\",\"value\":\"{leads}\"")),
        "{}",
        after[0]
    );
    assert_eq!(
        h.scalar(&format!("SELECT COUNT(*) FROM {CID}")).await,
        rows_before
    );
    assert_eq!(
        second.streams().next().unwrap().records,
        28,
        "the 28-day look-back"
    );
}
