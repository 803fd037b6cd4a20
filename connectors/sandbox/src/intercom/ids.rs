//! Intercom ids of the world's entities (strings, as Intercom sends them).

/// Conversation id of ticket index `i`.
pub fn conversation_id(ticket: u32) -> String {
    (147_000_000_000_000u64 + u64::from(ticket)).to_string()
}

/// Ticket index of a conversation id.
pub fn conversation_index(id: &str) -> Option<u32> {
    id.parse::<u64>()
        .ok()?
        .checked_sub(147_000_000_000_000)
        .and_then(|i| u32::try_from(i).ok())
}

/// Contact id (24 hex digits) of a person.
pub fn contact_id(person: u64) -> String {
    format!("65f0c1e2a9b8{person:012x}")
}

/// Company id (24 hex digits) of a company.
pub fn company_id(company: u32) -> String {
    format!("64a1b2c3d4e5{company:012x}")
}

/// Admin id of an agent (an integer in assignee fields, a string elsewhere).
pub fn admin_id(agent: u32) -> u64 {
    5_012_300 + u64::from(agent)
}

/// Team id of a group.
pub fn team_id(group: u32) -> u64 {
    7_000_100 + u64::from(group)
}
