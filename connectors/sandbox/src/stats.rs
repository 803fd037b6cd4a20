//! Request accounting: what the emulators served, so tests can assert on client behaviour
//! (how many pages, how many retries, how many records).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Arrival times kept per vendor (older ones are dropped beyond this many).
const MAX_ARRIVALS: usize = 1_000_000;

/// A point-in-time copy of a sandbox's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Every request received (including faulted, unauthorised and throttled ones).
    pub total_requests: u64,
    /// Requests that reached a route handler, by route kind (e.g. `hubspot.contacts.list`).
    pub routes: BTreeMap<String, u64>,
    /// Records rendered, by route kind.
    pub records: BTreeMap<String, u64>,
    /// Injected faults, by [`crate::Fault::stats_name`] (e.g. `status_503`).
    pub faults: BTreeMap<String, u64>,
    /// Responses with status 401 (bad credentials or an injected `Unauthorized`).
    pub unauthorized: u64,
    /// Responses with status 429 (emulated limit or an injected `TooManyRequests`).
    pub rate_limited: u64,
}

impl StatsSnapshot {
    /// Requests handled by route kind `kind` (0 if none).
    pub fn route(&self, kind: &str) -> u64 {
        self.routes.get(kind).copied().unwrap_or(0)
    }

    /// Records served by route kind `kind` (0 if none).
    pub fn records(&self, kind: &str) -> u64 {
        self.records.get(kind).copied().unwrap_or(0)
    }

    /// Faults of kind `name` injected (0 if none).
    pub fn fault(&self, name: &str) -> u64 {
        self.faults.get(name).copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct Inner {
    total: u64,
    routes: HashMap<&'static str, (u64, u64)>,
    faults: HashMap<String, u64>,
    unauthorized: u64,
    rate_limited: u64,
    /// Arrival time of every request, per vendor.
    arrivals: HashMap<&'static str, Vec<Instant>>,
    /// Arrival time of every request that reached a route, per route kind.
    route_arrivals: HashMap<&'static str, Vec<Instant>>,
}

/// Thread-safe counters shared by all connections of a sandbox.
#[derive(Default)]
pub(crate) struct Stats {
    inner: Mutex<Inner>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn request(&self, vendor: &'static str) {
        let mut g = self.lock();
        g.total += 1;
        let a = g.arrivals.entry(vendor).or_default();
        if a.len() >= MAX_ARRIVALS {
            a.drain(..MAX_ARRIVALS / 2);
        }
        a.push(Instant::now());
    }

    /// The most arrivals of `vendor` within any sliding `window`.
    pub(crate) fn max_in_window(&self, vendor: &str, window: Duration) -> u64 {
        let g = self.lock();
        let Some(a) = g.arrivals.get(vendor) else {
            return 0;
        };
        let mut best = 0;
        let mut lo = 0;
        for hi in 0..a.len() {
            while a[hi].duration_since(a[lo]) >= window {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best as u64
    }

    /// Records that a request which arrived at `at` reached route kind `kind`.
    pub(crate) fn route_arrival(&self, kind: &'static str, at: Instant) {
        let mut g = self.lock();
        let a = g.route_arrivals.entry(kind).or_default();
        if a.len() >= MAX_ARRIVALS {
            a.drain(..MAX_ARRIVALS / 2);
        }
        a.push(at);
    }

    /// The most arrivals at any of the route kinds `kinds` within any sliding `window`.
    pub(crate) fn max_route_in_window(&self, kinds: &[&str], window: Duration) -> u64 {
        let g = self.lock();
        let mut sorted: Vec<Instant> = kinds
            .iter()
            .filter_map(|k| g.route_arrivals.get(k))
            .flatten()
            .copied()
            .collect();
        sorted.sort_unstable();
        let mut best = 0;
        let mut lo = 0;
        for hi in 0..sorted.len() {
            while sorted[hi].duration_since(sorted[lo]) >= window {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best as u64
    }

    pub(crate) fn faults(&self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut g = self.lock();
        for n in names {
            *g.faults.entry(n.clone()).or_default() += 1;
        }
    }

    /// Records a response: its route kind and record count (if it reached a handler) and
    /// its status.
    pub(crate) fn response(&self, route: Option<(&'static str, u64)>, status: u16) {
        let mut g = self.lock();
        if let Some((kind, records)) = route {
            let e = g.routes.entry(kind).or_default();
            e.0 += 1;
            e.1 += records;
        }
        match status {
            401 => g.unauthorized += 1,
            429 => g.rate_limited += 1,
            _ => {}
        }
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let g = self.lock();
        StatsSnapshot {
            total_requests: g.total,
            routes: g.routes.iter().map(|(k, v)| (k.to_string(), v.0)).collect(),
            records: g.routes.iter().map(|(k, v)| (k.to_string(), v.1)).collect(),
            faults: g.faults.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            unauthorized: g.unauthorized,
            rate_limited: g.rate_limited,
        }
    }

    pub(crate) fn reset(&self) {
        *self.lock() = Inner::default();
    }
}
