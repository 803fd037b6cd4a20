//! The conformance suite, applied to every connector through its emulator.
//! A new connector gets every case by implementing `ConnectorCase` and adding one line here.

use revline_tests::conformance_suite;

conformance_suite!(hubspot, revline_tests::HubspotCase);
conformance_suite!(zendesk, revline_tests::ZendeskCase);
conformance_suite!(intercom, revline_tests::IntercomCase);
conformance_suite!(freshdesk, revline_tests::FreshdeskCase);
conformance_suite!(google_ads, revline_tests::GoogleAdsCase);
conformance_suite!(ga4, revline_tests::Ga4Case);
conformance_suite!(meta_ads, revline_tests::MetaCase);
conformance_suite!(linkedin_ads, revline_tests::LinkedinCase);
conformance_suite!(stripe, revline_tests::StripeCase);
conformance_suite!(salesforce, revline_tests::SalesforceCase);
conformance_suite!(pipedrive, revline_tests::PipedriveCase);
