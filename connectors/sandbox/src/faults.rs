//! Deterministic fault injection: which requests get which failure.
//!
//! A [`FaultPlan`] is a list of [`FaultRule`]s. For every request, each rule whose `route`
//! matches (a substring of the request path; `None` matches everything) counts the request
//! and asks its [`Schedule`] whether to fire. Latency from every firing rule is added up and
//! applied first; then the first firing non-latency fault (in rule order) replaces normal
//! handling. In TOML:
//!
//! ```toml
//! [[faults.rules]]
//! route = "/crm/v3/objects/contacts"
//! fault = { kind = "too_many_requests", retry_after = 1 }
//! schedule = { kind = "nth", requests = [3] }
//!
//! [[faults.rules]]
//! fault = { kind = "latency", ms = 20 }
//! schedule = { kind = "probability", p = 0.05, seed = 7 }
//! ```

use serde::{Deserialize, Serialize};

use crate::world::rng::{Rng, tag};

/// The list of fault rules active on a sandbox (empty by default: no faults).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Rules, checked in order for every request.
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// A plan with no rules.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// A plan with a single rule.
    pub fn single(rule: FaultRule) -> FaultPlan {
        FaultPlan { rules: vec![rule] }
    }
}

/// One fault, where it applies and when it fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// What happens to the request.
    pub fault: Fault,
    /// Substring of the request this rule applies to: of its path (e.g.
    /// `"/crm/v3/objects/contacts"`), query string or body (e.g. a GAQL `FROM ad_group`);
    /// `None` applies to every request.
    #[serde(default)]
    pub route: Option<String>,
    /// When the rule fires, counted over the requests matching `route`. Default: always.
    #[serde(default)]
    pub schedule: Schedule,
}

impl FaultRule {
    /// A rule for `fault` on requests whose path contains `route` (or all requests).
    pub fn new(fault: Fault, route: Option<&str>, schedule: Schedule) -> FaultRule {
        FaultRule {
            fault,
            route: route.map(String::from),
            schedule,
        }
    }
}

/// What an injected fault does. Serialised with a `kind` tag, e.g.
/// `{ kind = "status", code = 503 }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Delay the response by `ms` milliseconds, then handle the request normally.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Answer 429 with the vendor's rate-limit body, with `Retry-After` when given.
    TooManyRequests {
        /// `Retry-After` seconds; `None` sends no header.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Answer with this status: 500 as the vendor's JSON error, 502/503/504 as a non-JSON
    /// gateway (Cloudflare-style HTML) page.
    Status {
        /// HTTP status code.
        code: u16,
    },
    /// Drop the TCP connection (RST, via `SO_LINGER` 0) without any response.
    ConnectionReset,
    /// Answer 200 with the real body cut roughly in half (`Content-Length` matches the cut
    /// body, so the HTTP exchange is valid but the JSON is not).
    TruncatedBody,
    /// Answer 401 with the vendor's authentication error, whatever the credentials.
    Unauthorized,
}

impl Fault {
    /// Name used in [`crate::StatsSnapshot::faults`]: `latency`, `too_many_requests`,
    /// `status_503`, `connection_reset`, `truncated_body`, `unauthorized`.
    pub fn stats_name(&self) -> String {
        match self {
            Fault::Latency { .. } => "latency".into(),
            Fault::TooManyRequests { .. } => "too_many_requests".into(),
            Fault::Status { code } => format!("status_{code}"),
            Fault::ConnectionReset => "connection_reset".into(),
            Fault::TruncatedBody => "truncated_body".into(),
            Fault::Unauthorized => "unauthorized".into(),
        }
    }
}

/// When a rule fires, counted over the requests that match its route (1-based).
/// Serialised with a `kind` tag: `{ kind = "nth", requests = [1, 3] }`,
/// `{ kind = "every", n = 5 }`, `{ kind = "from", request = 3 }`,
/// `{ kind = "probability", p = 0.1, seed = 7 }`,
/// `{ kind = "always" }`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "ScheduleRepr", into = "ScheduleRepr")]
pub enum Schedule {
    /// Fire on exactly these matching requests (1-based).
    Nth(Vec<u64>),
    /// Fire on every n-th matching request (n, 2n, …).
    Every(u64),
    /// Fire on the n-th matching request and every one after it (a failure that lasts, e.g.
    /// a revoked credential that a token refresh does not cure).
    From(u64),
    /// Fire with probability `p`, decided by a deterministic hash of `seed` and the count.
    Probability {
        /// Probability in `[0, 1]`.
        p: f64,
        /// Seed of the decisions.
        seed: u64,
    },
    /// Fire on every matching request.
    #[default]
    Always,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ScheduleRepr {
    Nth {
        requests: Vec<u64>,
    },
    Every {
        n: u64,
    },
    From {
        request: u64,
    },
    Probability {
        p: f64,
        #[serde(default)]
        seed: u64,
    },
    Always,
}

impl From<ScheduleRepr> for Schedule {
    fn from(r: ScheduleRepr) -> Self {
        match r {
            ScheduleRepr::Nth { requests } => Schedule::Nth(requests),
            ScheduleRepr::Every { n } => Schedule::Every(n),
            ScheduleRepr::From { request } => Schedule::From(request),
            ScheduleRepr::Probability { p, seed } => Schedule::Probability { p, seed },
            ScheduleRepr::Always => Schedule::Always,
        }
    }
}

impl From<Schedule> for ScheduleRepr {
    fn from(s: Schedule) -> Self {
        match s {
            Schedule::Nth(requests) => ScheduleRepr::Nth { requests },
            Schedule::Every(n) => ScheduleRepr::Every { n },
            Schedule::From(request) => ScheduleRepr::From { request },
            Schedule::Probability { p, seed } => ScheduleRepr::Probability { p, seed },
            Schedule::Always => ScheduleRepr::Always,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Decision {
    /// Total added latency.
    pub(crate) latency_ms: u64,
    /// The fault replacing normal handling, if any.
    pub(crate) fault: Option<Fault>,
    /// Stats names of every rule that fired.
    pub(crate) fired: Vec<String>,
}

/// A plan plus its per-rule request counters.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    plan: FaultPlan,
    counts: Vec<u64>,
}

impl FaultState {
    pub(crate) fn new(plan: FaultPlan) -> FaultState {
        FaultState {
            counts: vec![0; plan.rules.len()],
            plan,
        }
    }

    /// Counts the request against every matching rule and decides its fate.
    pub(crate) fn decide(&mut self, path: &str) -> Decision {
        let mut d = Decision::default();
        for (i, rule) in self.plan.rules.iter().enumerate() {
            if rule.route.as_deref().is_some_and(|r| !path.contains(r)) {
                continue;
            }
            self.counts[i] += 1;
            let n = self.counts[i];
            let fires = match &rule.schedule {
                Schedule::Nth(list) => list.contains(&n),
                Schedule::Every(k) => *k > 0 && n.is_multiple_of(*k),
                Schedule::From(k) => n >= *k,
                Schedule::Probability { p, seed } => {
                    Rng::for_entity(*seed, tag::FAULT, n ^ ((i as u64) << 48)).unit() < *p
                }
                Schedule::Always => true,
            };
            if !fires {
                continue;
            }
            match &rule.fault {
                Fault::Latency { ms } => {
                    d.latency_ms += ms;
                    d.fired.push(rule.fault.stats_name());
                }
                other if d.fault.is_none() => {
                    d.fault = Some(other.clone());
                    d.fired.push(other.stats_name());
                }
                _ => {}
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let mut s = FaultState::new(FaultPlan {
            rules: vec![
                FaultRule::new(
                    Fault::Status { code: 503 },
                    Some("/contacts"),
                    Schedule::Nth(vec![2]),
                ),
                FaultRule::new(Fault::Latency { ms: 5 }, None, Schedule::Every(2)),
                FaultRule::new(Fault::Unauthorized, Some("/owners"), Schedule::Always),
            ],
        });
        assert_eq!(s.decide("/crm/v3/objects/contacts"), Decision::default());
        let d = s.decide("/crm/v3/objects/contacts");
        assert_eq!(d.fault, Some(Fault::Status { code: 503 }));
        assert_eq!(d.latency_ms, 5);
        assert_eq!(d.fired, vec!["status_503", "latency"]);
        assert_eq!(s.decide("/crm/v3/owners").fault, Some(Fault::Unauthorized));
        assert_eq!(s.decide("/crm/v3/objects/contacts").fault, None);

        let mut p = FaultState::new(FaultPlan::single(FaultRule::new(
            Fault::TruncatedBody,
            None,
            Schedule::Probability { p: 0.25, seed: 9 },
        )));
        let fired: Vec<bool> = (0..1000).map(|_| p.decide("/x").fault.is_some()).collect();
        let hits = fired.iter().filter(|f| **f).count();
        assert!((180..320).contains(&hits), "{hits}");
        let mut again = FaultState::new(p.plan.clone());
        let fired2: Vec<bool> = (0..1000)
            .map(|_| again.decide("/x").fault.is_some())
            .collect();
        assert_eq!(fired, fired2, "deterministic");
    }

    #[test]
    fn from_fires_on_the_nth_request_and_after() {
        let rule = FaultRule::new(Fault::Unauthorized, Some("/x"), Schedule::From(3));
        let mut s = FaultState::new(FaultPlan::single(rule.clone()));
        let fired: Vec<bool> = (0..6).map(|_| s.decide("/x").fault.is_some()).collect();
        assert_eq!(fired, [false, false, true, true, true, true]);
        let toml: FaultPlan = serde_json::from_value(serde_json::json!({
            "rules": [{"fault": {"kind": "unauthorized"}, "route": "/x", "schedule": {"kind": "from", "request": 3}}]
        }))
        .unwrap();
        assert_eq!(toml.rules[0], rule);
    }

    #[test]
    fn serde_shapes() {
        let plan: FaultPlan = serde_json::from_value(serde_json::json!({
            "rules": [
                {"fault": {"kind": "too_many_requests", "retry_after": 2}, "route": "/contacts",
                 "schedule": {"kind": "nth", "requests": [1, 3]}},
                {"fault": {"kind": "too_many_requests"}, "schedule": {"kind": "every", "n": 4}},
                {"fault": {"kind": "status", "code": 502}, "schedule": {"kind": "probability", "p": 0.5, "seed": 1}},
                {"fault": {"kind": "connection_reset"}},
                {"fault": {"kind": "truncated_body"}, "schedule": {"kind": "always"}},
                {"fault": {"kind": "latency", "ms": 10}},
                {"fault": {"kind": "unauthorized"}}
            ]
        }))
        .unwrap();
        assert_eq!(plan.rules.len(), 7);
        assert_eq!(plan.rules[0].schedule, Schedule::Nth(vec![1, 3]));
        assert_eq!(
            plan.rules[1].fault,
            Fault::TooManyRequests { retry_after: None }
        );
        assert_eq!(plan.rules[3].schedule, Schedule::Always);
        let back: FaultPlan = serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
    }
}
