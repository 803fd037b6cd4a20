//! Customer support: the tickets the people of the world's companies raise, the agents and
//! groups who answer them, the messages of each ticket and the satisfaction (CSAT) ratings
//! left on solved ones. Vendor-neutral: the Zendesk, Freshdesk and Intercom emulators render
//! the same tickets, people and companies in their own shapes.
//!
//! * **Who asks.** Requesters are people of the world; about four tickets in five come from
//!   people of customer companies (a company with a won deal), the rest from anyone.
//! * **A ticket's life.** The requester opens it; an agent of the ticket's group is assigned
//!   and gives the first public reply (sometimes after a private internal note, which is not
//!   a reply); a few exchanges follow; most tickets are solved, some of those reopened and
//!   solved again, older solved ones are closed, a few are deleted, and about 60 % of solved
//!   tickets get a good or bad rating. New tickets have no reply yet, pending ones wait on the
//!   requester, open ones on an agent.
//! * **Times agree.** The first public agent message is exactly at
//!   [`Ticket::first_response_ms`]; [`Ticket::solved_ms`] is the last solve; every message,
//!   solve, rating and deletion lies between creation and [`Ticket::updated_ms`], and every
//!   generated time lies before the world's clock ([`World::now`]).
//! * **Cost.** Tickets are generated once from the seed and stored (about a hundred bytes
//!   each; the default count is bounded); their messages are regenerated on demand from the
//!   seed, plus a small overlay of messages added by mutations.
//! * **Mutations** ([`World::touch_tickets`], [`World::add_tickets`],
//!   [`World::delete_tickets`]) move tickets along their life at the world clock, so
//!   incremental syncs can be tested exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::rng::Rng;
use super::{DAY_MS, DealStage, World};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// Solved tickets close this long after their last solve.
const CLOSE_AFTER_MS: i64 = 4 * DAY_MS;
/// Default ticket count: three for every four people, at most this many.
const DEFAULT_MAX_TICKETS: usize = 5_000;
/// No generated support time is later than the clock minus this.
const CLOCK_MARGIN_MS: i64 = HOUR_MS;

/// Random streams of support generation and mutation (separate from every other entity's).
mod tag {
    pub const TICKET: u64 = 201;
    pub const AGENT: u64 = 202;
    pub const MUTATION: u64 = 203;
    pub const MESSAGES: u64 = 204;
}

/// Size of the support model (`[world.support]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupportConfig {
    /// Tickets generated. Default: three for every four people, at most 5,000 (0 without
    /// people).
    pub tickets: Option<usize>,
    /// Support agents (at least one). Default `6`.
    pub agents: usize,
}

impl Default for SupportConfig {
    fn default() -> Self {
        SupportConfig {
            tickets: None,
            agents: 6,
        }
    }
}

/// A ticket's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TicketStatus {
    /// Not yet answered or assigned.
    New,
    /// Waiting on an agent.
    Open,
    /// Waiting on the requester.
    Pending,
    /// Solved (may still be reopened).
    Solved,
    /// Closed for good (solved more than four days ago).
    Closed,
}

impl TicketStatus {
    /// Lower-case name (`new`, `open`, `pending`, `solved`, `closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Solved => "solved",
            TicketStatus::Closed => "closed",
        }
    }

    /// Solved or closed.
    pub fn is_solved(self) -> bool {
        matches!(self, TicketStatus::Solved | TicketStatus::Closed)
    }
}

/// A ticket's priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TicketPriority {
    /// Low.
    Low,
    /// Normal.
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl TicketPriority {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketPriority::Low => "low",
            TicketPriority::Normal => "normal",
            TicketPriority::High => "high",
            TicketPriority::Urgent => "urgent",
        }
    }
}

/// How a ticket arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketChannel {
    /// Email.
    Email,
    /// Web form or help-center portal.
    Web,
    /// Chat / messenger.
    Chat,
    /// Phone call.
    Phone,
}

impl TicketChannel {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketChannel::Email => "email",
            TicketChannel::Web => "web",
            TicketChannel::Chat => "chat",
            TicketChannel::Phone => "phone",
        }
    }
}

/// What kind of request a ticket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketKind {
    /// A question.
    Question,
    /// Something is broken for this customer.
    Incident,
    /// A problem affecting several customers.
    Problem,
    /// A task to do for the customer.
    Task,
}

impl TicketKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Question => "question",
            TicketKind::Incident => "incident",
            TicketKind::Problem => "problem",
            TicketKind::Task => "task",
        }
    }
}

/// A support group (team) of agents.
#[derive(Clone, Debug, PartialEq)]
pub struct SupportGroup {
    /// Position in [`Support::groups`].
    pub index: u32,
    /// Name, e.g. `Billing`.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
}

/// A support agent (teammate, admin).
#[derive(Clone, Debug, PartialEq)]
pub struct SupportAgent {
    /// Position in [`Support::agents`].
    pub index: u32,
    /// First name.
    pub first_name: &'static str,
    /// Last name.
    pub last_name: &'static str,
    /// Work email at the support team's own domain.
    pub email: String,
    /// The agent's group.
    pub group: u32,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last modification time (epoch ms).
    pub modified_ms: i64,
}

impl SupportAgent {
    /// `First Last`.
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// A satisfaction rating left by the requester on a solved ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct Csat {
    /// Position in rating order (unique across tickets).
    pub index: u32,
    /// Score on a 1–5 scale: 4 and 5 are good, 1 and 2 bad (3 is never given).
    pub score: u8,
    /// Free-text comment, for some ratings.
    pub comment: Option<&'static str>,
    /// When the rating was given (epoch ms).
    pub created_ms: i64,
    /// Last change (epoch ms).
    pub modified_ms: i64,
}

impl Csat {
    /// Good (4 or 5) rather than bad.
    pub fn is_good(&self) -> bool {
        self.score >= 4
    }
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Author {
    /// The ticket's requester (a person index).
    Requester(u64),
    /// A support agent (an index in [`Support::agents`]).
    Agent(u32),
}

/// One message of a ticket: a public comment or a private agent note.
#[derive(Clone, Debug, PartialEq)]
pub struct SupportMessage {
    /// Position within the ticket (0 is the requester's opening message).
    pub seq: u32,
    /// Author.
    pub author: Author,
    /// Visible to the requester (false: an internal note).
    pub public: bool,
    /// When it was written (epoch ms).
    pub at_ms: i64,
    /// Plain-text body.
    pub body: &'static str,
}

/// A support ticket (a conversation in chat-first tools).
#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    /// Position in [`Support::tickets`]; tickets are in creation order.
    pub index: u32,
    /// Requester (a person index).
    pub requester: u64,
    /// The requester's company (index).
    pub company: u32,
    /// Subject line.
    pub subject: &'static str,
    /// Topic tag, e.g. `billing`.
    pub topic: &'static str,
    /// Kind of request.
    pub kind: TicketKind,
    /// Priority.
    pub priority: TicketPriority,
    /// Channel it arrived through.
    pub channel: TicketChannel,
    /// Status (a deleted ticket keeps the status it had).
    pub status: TicketStatus,
    /// Deleted (soft): hidden from most lists, still exported by some.
    pub deleted: bool,
    /// When it was deleted.
    pub deleted_ms: Option<i64>,
    /// Group (index).
    pub group: u32,
    /// Assigned agent (index), once assigned.
    pub assignee: Option<u32>,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last change (epoch ms): the latest message, status change, rating or deletion.
    pub updated_ms: i64,
    /// First assignment.
    pub assigned_ms: Option<i64>,
    /// First public agent reply.
    pub first_response_ms: Option<i64>,
    /// First solve.
    pub first_solved_ms: Option<i64>,
    /// Latest solve (`None` while unsolved, e.g. after a reopen).
    pub solved_ms: Option<i64>,
    /// When it closed.
    pub closed_ms: Option<i64>,
    /// Latest status change.
    pub status_changed_ms: i64,
    /// Times it was reopened after a solve.
    pub reopens: u32,
    /// Public agent replies.
    pub replies: u32,
    /// Satisfaction rating, if the requester gave one.
    pub csat: Option<Csat>,
    /// Index of the generation draw (`u32::MAX` for tickets added by mutations), from which
    /// the generated messages are regenerated.
    raw: u32,
    /// Time shift applied to the generated timeline.
    shift_ms: i64,
}

impl Ticket {
    /// Minutes from creation to the first public agent reply.
    pub fn reply_minutes(&self) -> Option<i64> {
        self.first_response_ms
            .map(|t| (t - self.created_ms) / MINUTE_MS)
    }

    /// Minutes from creation to the first solve.
    pub fn first_resolution_minutes(&self) -> Option<i64> {
        self.first_solved_ms
            .map(|t| (t - self.created_ms) / MINUTE_MS)
    }

    /// Minutes from creation to the latest solve (only while solved).
    pub fn full_resolution_minutes(&self) -> Option<i64> {
        self.solved_ms.map(|t| (t - self.created_ms) / MINUTE_MS)
    }
}

/// A person known to the support tools (a requester of at least one ticket).
#[derive(Clone, Debug, PartialEq)]
pub struct SupportUser {
    /// Person index.
    pub person: u64,
    /// When the support tools first saw them (their first ticket's creation).
    pub created_ms: i64,
    /// Last profile change.
    pub modified_ms: i64,
}

/// The support model of a world.
#[derive(Debug, Default)]
pub struct Support {
    groups: Vec<SupportGroup>,
    agents: Vec<SupportAgent>,
    tickets: Vec<Ticket>,
    /// Requesters by person index.
    users: BTreeMap<u64, SupportUser>,
    /// Messages added by mutations, per ticket index.
    extra: HashMap<u32, Vec<SupportMessage>>,
    ratings: u32,
    mutations: u64,
    /// Who raises tickets, as decided at generation (later deal changes do not redraw the
    /// generated tickets).
    share: CustomerShare,
    /// The world clock when the tickets were generated (they are placed before it).
    base_clock_ms: i64,
    /// `(second of the last change, index)` of every ticket: the order of change feeds.
    order: BTreeSet<(i64, u32)>,
}

const GROUPS: &[(&str, &str)] = &[
    (
        "Support",
        "First-line support: questions, how-tos and account changes",
    ),
    ("Billing", "Invoices, payments, plans and cancellations"),
    ("Technical", "Bugs, integrations, the API and performance"),
];

const AGENT_NAMES: &[(&str, &str)] = &[
    ("Maren", "Holt"),
    ("Dev", "Patel"),
    ("Ines", "Carvalho"),
    ("Tobias", "Weber"),
    ("Aisha", "Bello"),
    ("Lucas", "Moreau"),
    ("Sana", "Iqbal"),
    ("Peter", "Nilsson"),
    ("Keiko", "Tanaka"),
    ("Marcus", "Reid"),
];

/// (subject, topic tag, group, kind)
const SUBJECTS: &[(&str, &str, u32, TicketKind)] = &[
    ("SSO setup with Okta", "sso", 0, TicketKind::Question),
    (
        "How do I add a seat to our plan?",
        "billing",
        1,
        TicketKind::Question,
    ),
    (
        "Invoice shows the wrong VAT number",
        "billing",
        1,
        TicketKind::Incident,
    ),
    ("Card payment failed", "billing", 1, TicketKind::Incident),
    (
        "Please cancel our subscription",
        "churn_risk",
        1,
        TicketKind::Task,
    ),
    ("API returns 429 too often", "api", 2, TicketKind::Incident),
    (
        "Webhook deliveries are delayed",
        "api",
        2,
        TicketKind::Problem,
    ),
    ("CSV export times out", "bug", 2, TicketKind::Incident),
    (
        "Dashboard is very slow today",
        "performance",
        2,
        TicketKind::Problem,
    ),
    (
        "Salesforce sync stopped",
        "integrations",
        2,
        TicketKind::Incident,
    ),
    (
        "Password reset email never arrives",
        "login",
        0,
        TicketKind::Incident,
    ),
    (
        "Can we get a dark mode?",
        "feature_request",
        0,
        TicketKind::Question,
    ),
    (
        "Data import is stuck at 80%",
        "import",
        2,
        TicketKind::Incident,
    ),
    (
        "Move our account to the EU region",
        "account",
        0,
        TicketKind::Task,
    ),
    (
        "Training session for new team members",
        "onboarding",
        0,
        TicketKind::Task,
    ),
];

const OPENINGS: &[&str] = &[
    "Hi team, we ran into this today and it is blocking part of our work. Can you help?",
    "Hello, could you look into this for us? Details below.",
    "Hi, this started yesterday for several people on our team.",
    "Good morning, we need help with this as soon as possible please.",
];
const REQUESTER_REPLIES: &[&str] = &[
    "Thanks, I tried that but it still happens.",
    "Here is the screenshot you asked for.",
    "That worked for some users, not for all of them.",
    "Any update on this?",
];
const AGENT_REPLIES: &[&str] = &[
    "Thanks for reaching out! I am looking into this now.",
    "Could you send us a screenshot and the time it happened?",
    "We found the cause and pushed a fix; could you try again?",
    "I have updated your account settings, it should work now.",
];
const NOTES: &[&str] = &[
    "Internal: customer is on the Enterprise plan, handle with priority.",
    "Internal: same issue as last week's incident, linking the problem ticket.",
];
const REOPENINGS: &[&str] = &[
    "Sorry, this is happening again since this morning.",
    "The problem is back after the weekend.",
];
const GOOD_COMMENTS: &[&str] = &["Fast and friendly, thanks!", "Great help, solved quickly."];
const BAD_COMMENTS: &[&str] = &["Took far too long.", "The problem is not really solved."];

/// Business minutes (Monday to Friday, 09:00–17:00 UTC) between two instants.
pub fn business_minutes(from_ms: i64, to_ms: i64) -> i64 {
    if to_ms <= from_ms {
        return 0;
    }
    let mut total = 0;
    let mut day = from_ms.div_euclid(DAY_MS);
    let last = to_ms.div_euclid(DAY_MS);
    while day <= last {
        // 1970-01-01 was a Thursday: day 0 → weekday 3 (Monday = 0).
        let weekday = (day + 3).rem_euclid(7);
        if weekday < 5 {
            let open = day * DAY_MS + 9 * HOUR_MS;
            let close = day * DAY_MS + 17 * HOUR_MS;
            let a = from_ms.max(open);
            let b = to_ms.min(close);
            if b > a {
                total += b - a;
            }
        }
        day += 1;
    }
    total / MINUTE_MS
}

/// A generated ticket before placement: times are offsets from creation.
struct Draft {
    ticket: Ticket,
    messages: Vec<SupportMessage>,
}

impl Support {
    /// Groups in index order.
    pub fn groups(&self) -> &[SupportGroup] {
        &self.groups
    }

    /// Agents in index order.
    pub fn agents(&self) -> &[SupportAgent] {
        &self.agents
    }

    /// Every ticket (deleted ones included, flagged), in creation (= index) order.
    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }

    /// Tickets that are not deleted.
    pub fn live_tickets(&self) -> impl Iterator<Item = &Ticket> + '_ {
        self.tickets.iter().filter(|t| !t.deleted)
    }

    /// The people who raised tickets, by person index.
    pub fn users(&self) -> impl Iterator<Item = &SupportUser> + '_ {
        self.users.values()
    }

    /// Number of requesters.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The support record of person `index`, if they raised a ticket.
    pub fn user(&self, person: u64) -> Option<&SupportUser> {
        self.users.get(&person)
    }

    /// Tickets (deleted ones included) in order of their last change, to the second, then
    /// of index, starting after (or at) `from`: `(second, index)`.
    pub fn by_change(&self, from: Bound<(i64, u32)>) -> impl Iterator<Item = &Ticket> + '_ {
        self.order
            .range((from, Bound::Unbounded))
            .map(|(_, i)| &self.tickets[*i as usize])
    }

    fn reorder(&mut self, index: u32, old_updated_ms: Option<i64>) {
        if let Some(old) = old_updated_ms {
            self.order.remove(&(old.div_euclid(1000), index));
        }
        let t = &self.tickets[index as usize];
        self.order.insert((t.updated_ms.div_euclid(1000), index));
    }

    /// Ratings given so far (live and deleted tickets).
    pub fn rated_tickets(&self) -> impl Iterator<Item = &Ticket> + '_ {
        self.tickets.iter().filter(|t| t.csat.is_some())
    }

    pub(crate) fn generate(world: &World) -> Support {
        let seed = world.config.seed;
        let start = world.start_ms;
        let groups: Vec<SupportGroup> = GROUPS
            .iter()
            .enumerate()
            .map(|(i, (name, description))| SupportGroup {
                index: i as u32,
                name,
                description,
                created_ms: start - 300 * DAY_MS + i as i64 * DAY_MS,
                modified_ms: start - 250 * DAY_MS + i as i64 * 3 * DAY_MS,
            })
            .collect();
        let agents = (0..world.config.support.agents.max(1))
            .map(|i| {
                let mut r = Rng::for_entity(seed, tag::AGENT, i as u64);
                let (first, last) = AGENT_NAMES[i % AGENT_NAMES.len()];
                let round = i / AGENT_NAMES.len();
                let local = if round == 0 {
                    format!("{}.{}", first.to_lowercase(), last.to_lowercase())
                } else {
                    format!(
                        "{}.{}{}",
                        first.to_lowercase(),
                        last.to_lowercase(),
                        round + 1
                    )
                };
                let created_ms = start - 200 * DAY_MS + i as i64 * 5 * DAY_MS + r.range(0, DAY_MS);
                SupportAgent {
                    index: i as u32,
                    first_name: first,
                    last_name: last,
                    email: format!("{local}@support.revline-demo.io"),
                    group: (i % groups.len()) as u32,
                    created_ms,
                    modified_ms: created_ms + r.range(0, 100 * DAY_MS),
                }
            })
            .collect();
        let mut support = Support {
            groups,
            agents,
            ..Support::default()
        };
        let people = world.base_people;
        let count = if people == 0 {
            0
        } else {
            world
                .config
                .support
                .tickets
                .unwrap_or(((people as usize) * 3 / 4).min(DEFAULT_MAX_TICKETS))
        };
        support.share = customer_companies(world);
        support.base_clock_ms = world.clock_ms;
        let customers = &support.share;
        let mut drafts: Vec<(i64, u32, Ticket)> = (0..count as u32)
            .map(|raw| {
                let d = support.draft(world, customers, raw, false);
                (d.ticket.created_ms, raw, d.ticket)
            })
            .collect();
        drafts.sort_unstable_by_key(|(created, raw, _)| (*created, *raw));
        let mut ratings: Vec<(i64, u32)> = Vec::new();
        for (i, (_, _, mut t)) in drafts.into_iter().enumerate() {
            t.index = i as u32;
            if let Some(c) = &t.csat {
                ratings.push((c.created_ms, t.index));
            }
            let user = support.users.entry(t.requester).or_insert(SupportUser {
                person: t.requester,
                created_ms: t.created_ms,
                modified_ms: t.created_ms,
            });
            user.created_ms = user.created_ms.min(t.created_ms);
            support
                .order
                .insert((t.updated_ms.div_euclid(1000), t.index));
            support.tickets.push(t);
        }
        // Requesters' profiles change a little after they first appear.
        for u in support.users.values_mut() {
            let mut r = Rng::for_entity(seed, tag::AGENT, 1_000_000 + u.person);
            let first_ticket = u.created_ms;
            u.created_ms -= r.range(MINUTE_MS, HOUR_MS);
            u.modified_ms = u.created_ms + r.range(0, first_ticket - u.created_ms);
        }
        // Ratings are numbered in the order they were given.
        ratings.sort_unstable();
        for (k, (_, t)) in ratings.iter().enumerate() {
            if let Some(c) = &mut support.tickets[*t as usize].csat {
                c.index = k as u32;
            }
        }
        support.ratings = ratings.len() as u32;
        support
    }

    fn pick_group_agent(&self, r: &mut Rng, group: u32) -> u32 {
        let members: Vec<u32> = self
            .agents
            .iter()
            .filter(|a| a.group == group)
            .map(|a| a.index)
            .collect();
        if members.is_empty() {
            r.below(self.agents.len() as u64) as u32
        } else {
            members[r.below(members.len() as u64) as usize]
        }
    }

    /// Draws generated ticket `raw` (deterministic from the seed), placed in time and, when
    /// asked, with its generated messages.
    fn draft(&self, world: &World, customers: &CustomerShare, raw: u32, messages: bool) -> Draft {
        let mut r = Rng::for_entity(world.config.seed, tag::TICKET, u64::from(raw));
        let requester = customers.pick_person(world, &mut r);
        let person = world.gen_person(requester);
        let (subject, topic, group, kind) = r.pick(SUBJECTS);
        let priority = match r.below(100) {
            0..=19 => TicketPriority::Low,
            20..=74 => TicketPriority::Normal,
            75..=94 => TicketPriority::High,
            _ => TicketPriority::Urgent,
        };
        let channel = match r.below(100) {
            0..=49 => TicketChannel::Email,
            50..=74 => TicketChannel::Web,
            75..=89 => TicketChannel::Chat,
            _ => TicketChannel::Phone,
        };
        let status = match r.below(100) {
            0..=4 => TicketStatus::New,
            5..=16 => TicketStatus::Open,
            17..=24 => TicketStatus::Pending,
            25..=54 => TicketStatus::Solved,
            _ => TicketStatus::Closed,
        };
        let agent = self.pick_group_agent(&mut r, group);
        // The timeline, as offsets from creation (0).
        let mut msgs: Vec<SupportMessage> = Vec::new();
        let mut mr = Rng::for_entity(world.config.seed, tag::MESSAGES, u64::from(raw));
        let mut push = |author: Author, public: bool, at: i64, body: &'static str| {
            if messages {
                msgs.push(SupportMessage {
                    seq: 0,
                    author,
                    public,
                    at_ms: at,
                    body,
                });
            }
        };
        push(Author::Requester(requester), true, 0, mr.pick(OPENINGS));
        let mut t = 0i64;
        let mut assigned = None;
        let mut first_response = None;
        let mut first_solved = None;
        let mut solved = None;
        let mut closed = None;
        let mut replies = 0u32;
        let mut reopens = 0u32;
        let mut csat = None;
        let mut status_changed = 0i64;
        if status != TicketStatus::New {
            t += r.range(MINUTE_MS, 90 * MINUTE_MS);
            assigned = Some(t);
            if r.chance(0.2) {
                t += r.range(MINUTE_MS, 30 * MINUTE_MS);
                push(Author::Agent(agent), false, t, mr.pick(NOTES));
            }
            let reply_cap = match priority {
                TicketPriority::Urgent => 2 * HOUR_MS,
                TicketPriority::High => 8 * HOUR_MS,
                TicketPriority::Normal => 24 * HOUR_MS,
                TicketPriority::Low => 48 * HOUR_MS,
            };
            // Skewed towards quick replies: the square of a uniform draw.
            let u = r.unit();
            t += 5 * MINUTE_MS + (u * u * reply_cap as f64) as i64;
            first_response = Some(t);
            replies += 1;
            push(Author::Agent(agent), true, t, mr.pick(AGENT_REPLIES));
            for _ in 0..r.below(3) {
                t += r.range(30 * MINUTE_MS, DAY_MS);
                push(
                    Author::Requester(requester),
                    true,
                    t,
                    mr.pick(REQUESTER_REPLIES),
                );
                t += r.range(10 * MINUTE_MS, 12 * HOUR_MS);
                replies += 1;
                push(Author::Agent(agent), true, t, mr.pick(AGENT_REPLIES));
            }
            match status {
                TicketStatus::Open => {
                    // The requester answered last: waiting on an agent.
                    t += r.range(30 * MINUTE_MS, DAY_MS);
                    push(
                        Author::Requester(requester),
                        true,
                        t,
                        mr.pick(REQUESTER_REPLIES),
                    );
                    status_changed = t;
                }
                TicketStatus::Pending => {
                    // The agent asked a question last: waiting on the requester.
                    t += r.range(10 * MINUTE_MS, 6 * HOUR_MS);
                    replies += 1;
                    push(Author::Agent(agent), true, t, mr.pick(AGENT_REPLIES));
                    status_changed = t;
                }
                _ => {
                    t += r.range(10 * MINUTE_MS, 2 * DAY_MS);
                    first_solved = Some(t);
                    let extra = match r.below(100) {
                        0..=2 => 2,
                        3..=12 => 1,
                        _ => 0,
                    };
                    for _ in 0..extra {
                        t += r.range(HOUR_MS, 3 * DAY_MS);
                        reopens += 1;
                        push(Author::Requester(requester), true, t, mr.pick(REOPENINGS));
                        t += r.range(10 * MINUTE_MS, 8 * HOUR_MS);
                        replies += 1;
                        push(Author::Agent(agent), true, t, mr.pick(AGENT_REPLIES));
                        t += r.range(10 * MINUTE_MS, DAY_MS);
                    }
                    solved = Some(t);
                    status_changed = t;
                    if r.chance(0.6) {
                        let rated = t + r.range(HOUR_MS, 2 * DAY_MS);
                        let score = match r.below(100) {
                            0..=59 => 5,
                            60..=84 => 4,
                            85..=93 => 2,
                            _ => 1,
                        };
                        let comment = if r.chance(0.5) {
                            Some(if score >= 4 {
                                r.pick(GOOD_COMMENTS)
                            } else {
                                r.pick(BAD_COMMENTS)
                            })
                        } else {
                            None
                        };
                        csat = Some(Csat {
                            index: 0,
                            score,
                            comment,
                            created_ms: rated,
                            modified_ms: rated,
                        });
                        t = t.max(rated);
                    }
                    if status == TicketStatus::Closed {
                        let c = solved.unwrap_or(t) + CLOSE_AFTER_MS;
                        closed = Some(c);
                        status_changed = c;
                        t = t.max(c);
                    }
                }
            }
        }
        let deleted = status.is_solved() && r.chance(0.03);
        let mut deleted_at = None;
        if deleted {
            t += r.range(HOUR_MS, 5 * DAY_MS);
            deleted_at = Some(t);
        }
        let span = t;
        // Place the timeline: after the requester appeared, before the clock.
        let latest = self.base_clock_ms - CLOCK_MARGIN_MS - span;
        let earliest = (person.created_ms + HOUR_MS).min(latest);
        let lo = if status.is_solved() {
            earliest
        } else {
            // Unsolved tickets are recent.
            earliest.max(latest - 30 * DAY_MS)
        };
        let created = r.range(lo, latest.max(lo + 1));
        let at = |o: i64| created + o;
        if messages {
            for (k, m) in msgs.iter_mut().enumerate() {
                m.seq = k as u32;
                m.at_ms = at(m.at_ms);
            }
        }
        Draft {
            ticket: Ticket {
                index: 0,
                requester,
                company: person.company,
                subject,
                topic,
                kind,
                priority,
                channel,
                status,
                deleted,
                deleted_ms: deleted_at.map(at),
                group,
                assignee: assigned.map(|_| agent),
                created_ms: created,
                updated_ms: at(span),
                assigned_ms: assigned.map(at),
                first_response_ms: first_response.map(at),
                first_solved_ms: first_solved.map(at),
                solved_ms: solved.map(at),
                closed_ms: closed.map(at),
                status_changed_ms: at(status_changed),
                reopens,
                replies,
                csat: csat.map(|c| Csat {
                    created_ms: at(c.created_ms),
                    modified_ms: at(c.modified_ms),
                    ..c
                }),
                raw,
                shift_ms: created,
            },
            messages: msgs,
        }
    }
}

/// Companies with a won deal, and how to draw requesters so that about four tickets in five
/// come from their people.
#[derive(Debug, Default)]
struct CustomerShare {
    customer: HashSet<u32>,
    /// Probability of keeping a draw from a non-customer company.
    keep_other: f64,
}

fn customer_companies(world: &World) -> CustomerShare {
    let customer: HashSet<u32> = world
        .deals
        .iter()
        .filter(|d| d.stage == DealStage::ClosedWon)
        .map(|d| d.company)
        .collect();
    let c = customer.len() as f64 / world.companies.len().max(1) as f64;
    let keep_other = if c <= 0.0 || c >= 0.8 {
        1.0
    } else {
        (c / (4.0 * (1.0 - c))).min(1.0)
    };
    CustomerShare {
        customer,
        keep_other,
    }
}

impl CustomerShare {
    fn pick_person(&self, world: &World, r: &mut Rng) -> u64 {
        let n = world.base_people;
        for _ in 0..64 {
            let p = r.below(n);
            let company = world.gen_person(p).company;
            if self.customer.contains(&company) || r.chance(self.keep_other) {
                return p;
            }
        }
        r.below(n)
    }
}

impl World {
    /// The support model: tickets, agents, groups, requesters and ratings.
    pub fn support(&self) -> &Support {
        &self.support
    }

    /// The messages of `ticket` in order: the generated ones, then those added by mutations.
    pub fn ticket_messages(&self, ticket: &Ticket) -> Vec<SupportMessage> {
        let mut out = if ticket.raw == u32::MAX {
            Vec::new()
        } else {
            let d = self
                .support
                .draft(self, &self.support.share, ticket.raw, true);
            debug_assert_eq!(d.ticket.shift_ms, ticket.shift_ms);
            d.messages
        };
        if let Some(extra) = self.support.extra.get(&ticket.index) {
            out.extend(extra.iter().cloned());
        }
        for (k, m) in out.iter_mut().enumerate() {
            m.seq = k as u32;
        }
        out
    }

    fn support_rng(&mut self) -> Rng {
        self.support.mutations += 1;
        Rng::for_entity(self.config.seed, tag::MUTATION, self.support.mutations)
    }

    fn add_message(
        &mut self,
        ticket: u32,
        author: Author,
        public: bool,
        at: i64,
        body: &'static str,
    ) {
        self.support
            .extra
            .entry(ticket)
            .or_default()
            .push(SupportMessage {
                seq: 0,
                author,
                public,
                at_ms: at,
                body,
            });
    }

    /// Moves `count` distinct live, not closed tickets (chosen deterministically) one step
    /// along their life at new, strictly increasing clock times: a new ticket is assigned and
    /// answered; an open one is answered and solved; a pending one gets the requester's
    /// reply; a solved one is rated, or (if rated) reopened by the requester. Returns their
    /// indices in the order they changed.
    pub fn touch_tickets(&mut self, count: usize) -> Vec<u32> {
        let candidates: Vec<u32> = self
            .support
            .tickets
            .iter()
            .filter(|t| !t.deleted && t.status != TicketStatus::Closed)
            .map(|t| t.index)
            .collect();
        let chosen = self.pick_tickets(&candidates, count);
        let mut r = self.support_rng();
        let mut out = Vec::with_capacity(chosen.len());
        for i in chosen {
            let t = self.tick();
            let ticket = self.support.tickets[i as usize].clone();
            let agent = match ticket.assignee {
                Some(a) => a,
                None => self.support.pick_group_agent(&mut r, ticket.group),
            };
            let mut next = ticket.clone();
            match ticket.status {
                TicketStatus::New => {
                    next.assignee = Some(agent);
                    next.assigned_ms.get_or_insert(t);
                    next.first_response_ms.get_or_insert(t);
                    next.replies += 1;
                    next.status = TicketStatus::Open;
                    next.status_changed_ms = t;
                    self.add_message(i, Author::Agent(agent), true, t, r.pick(AGENT_REPLIES));
                }
                TicketStatus::Open => {
                    next.assignee = Some(agent);
                    next.assigned_ms.get_or_insert(t);
                    next.first_response_ms.get_or_insert(t);
                    next.replies += 1;
                    next.status = TicketStatus::Solved;
                    next.first_solved_ms.get_or_insert(t);
                    next.solved_ms = Some(t);
                    next.status_changed_ms = t;
                    self.add_message(i, Author::Agent(agent), true, t, r.pick(AGENT_REPLIES));
                }
                TicketStatus::Pending => {
                    next.status = TicketStatus::Open;
                    next.status_changed_ms = t;
                    self.add_message(
                        i,
                        Author::Requester(ticket.requester),
                        true,
                        t,
                        r.pick(REQUESTER_REPLIES),
                    );
                }
                TicketStatus::Solved if ticket.csat.is_none() => {
                    let score = if r.chance(0.8) { 5 } else { 1 };
                    next.csat = Some(Csat {
                        index: self.support.ratings,
                        score,
                        comment: None,
                        created_ms: t,
                        modified_ms: t,
                    });
                    self.support.ratings += 1;
                }
                TicketStatus::Solved => {
                    next.status = TicketStatus::Open;
                    next.reopens += 1;
                    next.solved_ms = None;
                    next.status_changed_ms = t;
                    self.add_message(
                        i,
                        Author::Requester(ticket.requester),
                        true,
                        t,
                        r.pick(REOPENINGS),
                    );
                }
                TicketStatus::Closed => unreachable!("closed tickets are not candidates"),
            }
            next.updated_ms = t;
            self.support.tickets[i as usize] = next;
            self.support.reorder(i, Some(ticket.updated_ms));
            out.push(i);
        }
        out
    }

    /// Opens `count` new tickets at new clock times, raised by existing live people (mostly of
    /// customer companies). Returns their indices.
    pub fn add_tickets(&mut self, count: usize) -> Vec<u32> {
        if self.people_count() == 0 {
            return Vec::new();
        }
        let mut r = self.support_rng();
        (0..count)
            .map(|_| {
                let t = self.tick();
                let mut requester = self.support.share.pick_person(self, &mut r);
                while self.is_archived(requester) {
                    requester = r.below(self.base_people.max(1));
                }
                let person = self.person(requester).expect("a live person");
                let (subject, topic, group, kind) = r.pick(SUBJECTS);
                let index = self.support.tickets.len() as u32;
                self.support.tickets.push(Ticket {
                    index,
                    requester,
                    company: person.company,
                    subject,
                    topic,
                    kind,
                    priority: TicketPriority::Normal,
                    channel: if r.chance(0.5) {
                        TicketChannel::Email
                    } else {
                        TicketChannel::Chat
                    },
                    status: TicketStatus::New,
                    deleted: false,
                    deleted_ms: None,
                    group,
                    assignee: None,
                    created_ms: t,
                    updated_ms: t,
                    assigned_ms: None,
                    first_response_ms: None,
                    first_solved_ms: None,
                    solved_ms: None,
                    closed_ms: None,
                    status_changed_ms: t,
                    reopens: 0,
                    replies: 0,
                    csat: None,
                    raw: u32::MAX,
                    shift_ms: t,
                });
                self.support.reorder(index, None);
                self.add_message(
                    index,
                    Author::Requester(requester),
                    true,
                    t,
                    r.pick(OPENINGS),
                );
                self.support.users.entry(requester).or_insert(SupportUser {
                    person: requester,
                    created_ms: t,
                    modified_ms: t,
                });
                index
            })
            .collect()
    }

    /// Deletes `count` distinct live tickets at new clock times (their `updated` time is the
    /// deletion). Returns their indices.
    pub fn delete_tickets(&mut self, count: usize) -> Vec<u32> {
        let candidates: Vec<u32> = self.support.live_tickets().map(|t| t.index).collect();
        let chosen = self.pick_tickets(&candidates, count);
        for &i in &chosen {
            let t = self.tick();
            let ticket = &mut self.support.tickets[i as usize];
            let old = ticket.updated_ms;
            ticket.deleted = true;
            ticket.deleted_ms = Some(t);
            ticket.updated_ms = t;
            self.support.reorder(i, Some(old));
        }
        chosen
    }

    /// Up to `count` distinct entries of `candidates`, chosen deterministically.
    fn pick_tickets(&mut self, candidates: &[u32], count: usize) -> Vec<u32> {
        if candidates.is_empty() {
            return Vec::new();
        }
        let mut r = self.support_rng();
        let len = candidates.len();
        let start = r.below(len as u64) as usize;
        let stride = super::coprime_multiplier(len as u64, &mut r) as usize;
        (0..count.min(len))
            .map(|k| candidates[(start + k * stride) % len])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    fn world(people: usize) -> World {
        World::new(WorldConfig {
            people,
            ..WorldConfig::default()
        })
    }

    fn check_ticket(w: &World, t: &Ticket) {
        let msgs = w.ticket_messages(t);
        assert!(
            !msgs.is_empty(),
            "ticket {} has its opening message",
            t.index
        );
        assert_eq!(msgs[0].author, Author::Requester(t.requester));
        assert_eq!(msgs[0].at_ms, t.created_ms);
        for pair in msgs.windows(2) {
            assert!(pair[0].at_ms < pair[1].at_ms, "messages are in time order");
        }
        let first_public_agent = msgs
            .iter()
            .find(|m| m.public && matches!(m.author, Author::Agent(_)))
            .map(|m| m.at_ms);
        assert_eq!(
            first_public_agent, t.first_response_ms,
            "ticket {}",
            t.index
        );
        let replies = msgs
            .iter()
            .filter(|m| m.public && matches!(m.author, Author::Agent(_)))
            .count() as u32;
        assert_eq!(replies, t.replies, "ticket {}", t.index);
        assert!(msgs.iter().all(|m| m.at_ms <= t.updated_ms));
        assert!(t.created_ms <= t.updated_ms);
        assert!(t.updated_ms <= w.now_ms());
        if let Some(fr) = t.first_response_ms {
            assert!(fr > t.created_ms);
            assert!(t.assigned_ms.is_some_and(|a| a <= fr));
        }
        match t.status {
            TicketStatus::New => assert!(t.first_response_ms.is_none() && t.assignee.is_none()),
            TicketStatus::Solved | TicketStatus::Closed => {
                let s = t.solved_ms.expect("solved tickets have a solve time");
                assert!(t.first_solved_ms.is_some_and(|f| f <= s));
                assert!(s <= t.updated_ms);
            }
            _ => assert!(t.solved_ms.is_none()),
        }
        if let Some(c) = &t.csat {
            assert!(t.solved_ms.is_some() || t.reopens > 0);
            assert!(c.created_ms <= t.updated_ms);
            assert!(matches!(c.score, 1 | 2 | 4 | 5));
        }
        let person = w.person(t.requester).unwrap();
        assert_eq!(person.company, t.company);
        assert!(person.created_ms < t.created_ms || t.raw == u32::MAX);
    }

    #[test]
    fn tickets_are_deterministic_consistent_and_mostly_from_customers() {
        let a = world(2_000);
        let b = world(2_000);
        assert_eq!(a.support().tickets(), b.support().tickets());
        let s = a.support();
        assert_eq!(s.tickets().len(), 1_500);
        assert_eq!(s.groups().len(), 3);
        assert_eq!(s.agents().len(), 6);
        let customers = &a.support().share.customer;
        let from_customers = s
            .tickets()
            .iter()
            .filter(|t| customers.contains(&t.company))
            .count();
        assert!(
            (1_050..1_350).contains(&from_customers),
            "about 80% from customer companies: {from_customers}"
        );
        let mut prev = i64::MIN;
        for t in s.tickets() {
            assert!(t.created_ms >= prev, "tickets are in creation order");
            prev = t.created_ms;
            check_ticket(&a, t);
        }
        let count = |f: &dyn Fn(&Ticket) -> bool| s.tickets().iter().filter(|t| f(t)).count();
        assert!(count(&|t| t.deleted) > 10);
        assert!(count(&|t| t.reopens > 0) > 50);
        assert!(count(&|t| t.csat.as_ref().is_some_and(|c| !c.is_good())) > 30);
        assert!(count(&|t| t.csat.as_ref().is_some_and(Csat::is_good)) > 200);
        assert!(count(&|t| t.status == TicketStatus::New) > 20);
        // Rating indices are unique and dense.
        let mut idx: Vec<u32> = s
            .rated_tickets()
            .map(|t| t.csat.as_ref().unwrap().index)
            .collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..idx.len() as u32).collect::<Vec<_>>());
        // Every requester is a user, created before their first ticket.
        for t in s.tickets() {
            let u = s.user(t.requester).expect("requester is a user");
            assert!(u.created_ms < t.created_ms);
            assert!(u.modified_ms < a.now_ms());
        }
        // Some tickets carry a private note before the first reply.
        let notes = s
            .tickets()
            .iter()
            .take(300)
            .filter(|t| a.ticket_messages(t).iter().any(|m| !m.public))
            .count();
        assert!(notes > 20, "{notes}");
    }

    #[test]
    fn default_size_is_bounded_and_empty_without_people() {
        assert_eq!(world(400).support().tickets().len(), 300);
        assert_eq!(
            world(100_000).support().tickets().len(),
            DEFAULT_MAX_TICKETS
        );
        let w = world(0);
        assert!(w.support().tickets().is_empty());
        assert_eq!(w.support().user_count(), 0);
        let sized = World::new(WorldConfig {
            people: 50,
            support: SupportConfig {
                tickets: Some(120),
                agents: 2,
            },
            ..WorldConfig::default()
        });
        assert_eq!(sized.support().tickets().len(), 120);
        assert_eq!(sized.support().agents().len(), 2);
    }

    #[test]
    fn mutations_move_tickets_along_at_the_clock() {
        let mut w = world(400);
        let before = w.now_ms();
        let n = w.support().tickets().len();
        let touched = w.touch_tickets(40);
        assert_eq!(touched.len(), 40);
        assert_eq!(touched.iter().collect::<HashSet<_>>().len(), 40);
        let mut last = before;
        for i in &touched {
            let t = &w.support().tickets()[*i as usize];
            assert!(t.updated_ms > last, "strictly increasing");
            last = t.updated_ms;
            check_ticket(&w, t);
        }
        let added = w.add_tickets(3);
        assert_eq!(added, vec![n as u32, n as u32 + 1, n as u32 + 2]);
        for i in &added {
            let t = &w.support().tickets()[*i as usize];
            assert_eq!(t.status, TicketStatus::New);
            assert_eq!(t.created_ms, t.updated_ms);
            check_ticket(&w, t);
        }
        // Touching a new ticket answers it: its first response is the touch.
        let mut w2 = world(400);
        let fresh = w2.add_tickets(1)[0];
        let mut touched_fresh = false;
        for _ in 0..200 {
            if w2.touch_tickets(50).contains(&fresh) {
                touched_fresh = true;
                break;
            }
        }
        assert!(touched_fresh);
        let t = &w2.support().tickets()[fresh as usize];
        assert_eq!(t.first_response_ms, Some(t.updated_ms));
        check_ticket(&w2, t);
        // The change order follows every mutation.
        let order: Vec<u32> = w
            .support()
            .by_change(Bound::Unbounded)
            .map(|t| t.index)
            .collect();
        assert_eq!(order.len(), w.support().tickets().len());
        let tail: Vec<u32> = order[order.len() - 43..].to_vec();
        let mut expected = touched.clone();
        expected.extend(&added);
        assert_eq!(tail, expected);
        let deleted = w.delete_tickets(5);
        assert_eq!(deleted.len(), 5);
        for i in deleted {
            let t = &w.support().tickets()[i as usize];
            assert!(t.deleted && t.deleted_ms == Some(t.updated_ms));
        }
    }

    #[test]
    fn business_minutes_count_weekday_office_hours() {
        // 2024-01-01 was a Monday.
        let monday = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(business_minutes(monday, monday + DAY_MS), 8 * 60);
        assert_eq!(
            business_minutes(monday + 10 * HOUR_MS, monday + 11 * HOUR_MS),
            60
        );
        // Friday 16:00 to Monday 10:00: one hour on Friday, one on Monday.
        let friday = monday + 4 * DAY_MS;
        assert_eq!(
            business_minutes(friday + 16 * HOUR_MS, friday + 3 * DAY_MS + 10 * HOUR_MS),
            120
        );
        assert_eq!(business_minutes(monday, monday), 0);
    }
}
