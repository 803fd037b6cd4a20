//! GA4 end to end (runner and lake) against the emulator: restated sessions replace their
//! row once, and only the look-back window is read again.

use revline::runner::RunOptions;
use revline_sandbox::FaultPlan;
use revline_tests::{ConnectorCase, Ga4Case, Harness};

const TRAFFIC: &str = "ga4.traffic_daily";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restated_sessions_replace_their_row_once() {
    let case = Ga4Case;
    let h = Harness::start(&case, case.world(), FaultPlan::none());
    let only = || RunOptions {
        stream: Some("traffic_daily".into()),
        ..RunOptions::default()
    };
    assert!(h.run(only()).await.succeeded());
    let rows_before = h.scalar(&format!("SELECT COUNT(*) FROM {TRAFFIC}")).await;

    // Sessions keep arriving for yesterday (GA4 data settles within 24-48 hours).
    let (day, source) = {
        let world = h.sandbox.world();
        let mut w = world.write();
        let restated = w.restate_sessions(2, 1);
        let (day, src) = restated[0];
        let source = match src {
            Some(i) => w.campaigns()[i as usize].utm_campaign.clone(),
            None => "(not set)".to_string(),
        };
        (day, source)
    };
    let key = format!("date = DATE '{day}' AND session_campaign_name = '{source}'");
    let before = h
        .lines(&format!(
            "SELECT sessions, key_events FROM {TRAFFIC} WHERE {key}"
        ))
        .await;
    assert_eq!(before.len(), 1);

    let second = h.run(only()).await;
    assert!(second.succeeded());
    let after = h
        .lines(&format!(
            "SELECT sessions, key_events FROM {TRAFFIC} WHERE {key}"
        ))
        .await;
    assert_eq!(after.len(), 1, "one row, not two");
    assert_ne!(after, before, "the restated numbers replaced the old ones");
    let expected = {
        let w = h.sandbox.world();
        let w = w.read();
        let t = w
            .marketing_day(day)
            .traffic
            .into_iter()
            .find(|t| {
                t.campaign.map_or("(not set)".to_string(), |i| {
                    w.campaigns()[i as usize].utm_campaign.clone()
                }) == source
            })
            .unwrap();
        format!("{}|{}", t.sessions, t.key_events)
    };
    assert_eq!(after[0], expected);
    assert_eq!(
        h.scalar(&format!("SELECT COUNT(*) FROM {TRAFFIC}")).await,
        rows_before
    );
    // The second run read the 3-day look-back window only: 3 days × (8 campaigns + direct).
    assert_eq!(second.streams().next().unwrap().records, 27);
}
