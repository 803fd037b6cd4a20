//! Sales activities (calls, meetings, emails, tasks) logged against deals: derived from the
//! deals on demand (one to three per deal, deterministic from the seed), so they add no
//! stored state and follow the deals' owners, contacts and dates.

use super::World;
use super::rng::{Rng, mix64};

/// Random-stream tag of activities (distinct from the entity tags in `rng::tag`).
const ACTIVITY_TAG: u64 = 0xAC71_0001;

/// Kind of a sales activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    /// A phone call.
    Call,
    /// A meeting.
    Meeting,
    /// An email.
    Email,
    /// A to-do.
    Task,
}

impl ActivityKind {
    /// Lower-case key (`call`, `meeting`, `email`, `task`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Email => "email",
            ActivityKind::Task => "task",
        }
    }
}

/// One activity on a deal.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Position in [`World::activities`] (ids are `index + 1`).
    pub index: u32,
    /// The deal it belongs to (deal index).
    pub deal: u32,
    /// What it is.
    pub kind: ActivityKind,
    /// Subject line.
    pub subject: String,
    /// Owner index (the deal's owner).
    pub owner: u32,
    /// Person index of the deal's contact, if any.
    pub person: Option<u64>,
    /// Company index of the deal.
    pub company: u32,
    /// When it is (was) due, epoch ms (minute precision).
    pub due_ms: i64,
    /// Duration in minutes (0 for emails and tasks).
    pub duration_min: u32,
    /// Whether it is done.
    pub done: bool,
    /// Created, epoch ms.
    pub created_ms: i64,
    /// Last modified (marked done, or created), epoch ms.
    pub modified_ms: i64,
}

const MINUTE_MS: i64 = 60_000;

impl World {
    /// Every activity, grouped by deal in deal order: one to three per deal, created within
    /// three weeks of the deal, due up to two weeks later; activities due before the deal's
    /// last change are done (and were modified when marked done, within the hour).
    pub fn activities(&self) -> Vec<Activity> {
        let seed = self.config().seed;
        let mut out = Vec::with_capacity(self.deals().len() * 2);
        for d in self.deals() {
            let mut r = Rng::for_entity(seed, ACTIVITY_TAG, u64::from(d.index));
            let n = 1 + r.below(3);
            for k in 0..n {
                let kind = match r.below(4) {
                    0 => ActivityKind::Call,
                    1 => ActivityKind::Meeting,
                    2 => ActivityKind::Email,
                    _ => ActivityKind::Task,
                };
                let created = d.created_ms + r.range(0, 21 * 24 * 60) * MINUTE_MS;
                let created = created.div_euclid(1000) * 1000;
                let due = created + r.range(1, 14 * 24 * 60) * MINUTE_MS;
                let due = due.div_euclid(MINUTE_MS) * MINUTE_MS;
                let done = due <= d.modified_ms;
                let modified = if done {
                    due + (mix64(u64::from(d.index) ^ k) % 3_600) as i64 * 1000
                } else {
                    created
                };
                let subject = match kind {
                    ActivityKind::Call => format!("Call about {}", d.name),
                    ActivityKind::Meeting => format!("Meeting: {}", d.name),
                    ActivityKind::Email => format!("Follow-up email: {}", d.name),
                    ActivityKind::Task => format!("Prepare proposal for {}", d.name),
                };
                out.push(Activity {
                    index: out.len() as u32,
                    deal: d.index,
                    kind,
                    subject,
                    owner: d.owner,
                    person: d.contact,
                    company: d.company,
                    due_ms: due,
                    duration_min: match kind {
                        ActivityKind::Call => 30,
                        ActivityKind::Meeting => 60,
                        _ => 0,
                    },
                    done,
                    created_ms: created,
                    modified_ms: modified,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::world::{World, WorldConfig};

    #[test]
    fn activities_follow_their_deals() {
        let w = World::new(WorldConfig::default());
        let a = w.activities();
        assert!(a.len() >= w.deals().len() && a.len() <= 3 * w.deals().len());
        assert_eq!(a, w.activities(), "deterministic");
        for x in &a {
            let d = &w.deals()[x.deal as usize];
            assert_eq!(x.owner, d.owner);
            assert!(x.created_ms >= d.created_ms && x.modified_ms >= x.created_ms);
            assert_eq!(x.done, x.due_ms <= d.modified_ms);
        }
        assert!(a.iter().any(|x| x.done) && a.iter().any(|x| !x.done));
    }
}
