//! Freshdesk ids of the world's entities and Freshdesk's integer codes.

use crate::world::support::{TicketChannel, TicketPriority, TicketStatus};

/// First contact id: person `i` is contact `CONTACT_ID_BASE + i`.
pub const CONTACT_ID_BASE: u64 = 48_100_000_000;
/// First agent id.
pub const AGENT_ID_BASE: u64 = 48_200_000_000;
/// First company id.
pub const COMPANY_ID_BASE: u64 = 48_300_000_000;
/// First group id.
pub const GROUP_ID_BASE: u64 = 48_400_000_000;
/// Conversation ids: `CONVERSATION_ID_BASE + ticket index * 1000 + message seq`.
pub const CONVERSATION_ID_BASE: u64 = 48_500_000_000_000;
/// First satisfaction-rating id.
pub const RATING_ID_BASE: u64 = 48_600_000_000;
/// The default satisfaction survey.
pub const SURVEY_ID: u64 = 48_000_000_101;
/// The support mailbox tickets arrive through.
pub const EMAIL_CONFIG_ID: u64 = 48_000_000_123;

/// Ticket id of ticket index `i` (tickets are numbered from 1).
pub fn ticket_id(index: u32) -> u64 {
    u64::from(index) + 1
}

/// Ticket index of ticket id `id`.
pub fn ticket_index(id: u64) -> Option<u32> {
    id.checked_sub(1).and_then(|i| u32::try_from(i).ok())
}

/// Contact id of a person.
pub fn contact_id(person: u64) -> u64 {
    CONTACT_ID_BASE + person
}

/// Agent id of an agent.
pub fn agent_id(agent: u32) -> u64 {
    AGENT_ID_BASE + u64::from(agent)
}

/// Company id of a company.
pub fn company_id(company: u32) -> u64 {
    COMPANY_ID_BASE + u64::from(company)
}

/// Group id of a group.
pub fn group_id(group: u32) -> u64 {
    GROUP_ID_BASE + u64::from(group)
}

/// Conversation id of message `seq` of ticket index `ticket`.
pub fn conversation_id(ticket: u32, seq: u32) -> u64 {
    CONVERSATION_ID_BASE + u64::from(ticket) * 1000 + u64::from(seq)
}

/// Satisfaction-rating id of a rating.
pub fn rating_id(rating: u32) -> u64 {
    RATING_ID_BASE + u64::from(rating)
}

/// Freshdesk's status code: 2 open, 3 pending, 4 resolved, 5 closed.
pub fn status_code(s: TicketStatus) -> i64 {
    match s {
        TicketStatus::New | TicketStatus::Open => 2,
        TicketStatus::Pending => 3,
        TicketStatus::Solved => 4,
        TicketStatus::Closed => 5,
    }
}

/// Freshdesk's priority code: 1 low, 2 medium, 3 high, 4 urgent.
pub fn priority_code(p: TicketPriority) -> i64 {
    match p {
        TicketPriority::Low => 1,
        TicketPriority::Normal => 2,
        TicketPriority::High => 3,
        TicketPriority::Urgent => 4,
    }
}

/// Freshdesk's source code: 1 email, 2 portal, 3 phone, 7 chat.
pub fn source_code(c: TicketChannel) -> i64 {
    match c {
        TicketChannel::Email => 1,
        TicketChannel::Web => 2,
        TicketChannel::Phone => 3,
        TicketChannel::Chat => 7,
    }
}

/// Freshdesk's CSAT answer for a 1–5 score: 103 extremely happy … -103 extremely unhappy.
pub fn rating_value(score: u8) -> i64 {
    match score {
        5 => 103,
        4 => 102,
        3 => 100,
        2 => -102,
        _ => -103,
    }
}
