//! Lead conversion: every person entered the funnel as a lead; the ones sales worked (their
//! generated stage reached sales-qualified, or they are the contact of a deal) were converted
//! into a contact of their company. Vendor-neutral: CRMs that separate leads from contacts
//! (Salesforce) render people through this; the others ignore it.

use super::entities::ms_to_datetime;
use super::{DAY_MS, Lifecycle, Person, World};

impl World {
    /// Whether person `index` was converted from a lead into a contact. Decided by the
    /// person as generated (later lifecycle edits do not undo a conversion).
    pub fn is_converted(&self, index: u64) -> bool {
        if index >= self.people_total() {
            return false;
        }
        !self.deals_of_person(index).is_empty()
            || self.gen_person(index).lifecycle >= Lifecycle::SalesQualifiedLead
    }

    /// When a converted person was converted (epoch ms): a day after creation, or the
    /// creation of their first deal if that came sooner.
    pub fn converted_ms(&self, p: &Person) -> Option<i64> {
        if !self.is_converted(p.index) {
            return None;
        }
        let first_deal = self
            .deals_of_person(p.index)
            .iter()
            .map(|&d| self.deals[d as usize].created_ms)
            .min();
        let day_after = p.created_ms + DAY_MS;
        Some(
            first_deal
                .map_or(day_after, |d| d.min(day_after))
                .max(p.created_ms),
        )
    }

    /// How many people are converted (contacts), counted by scanning every person.
    pub fn converted_count(&self) -> u64 {
        (0..self.people_total())
            .filter(|&i| self.is_converted(i))
            .count() as u64
    }

    /// `utm_source`, `utm_medium` and `utm_campaign` of the campaign that brought a person in.
    pub fn utm_of(&self, p: &Person) -> Option<(&'static str, &'static str, &str)> {
        let c = &self.campaigns()[p.campaign? as usize];
        Some((c.utm_source, c.utm_medium, c.utm_campaign.as_str()))
    }

    /// The calendar day (UTC) of an epoch-millisecond instant, as `YYYY-MM-DD`.
    pub fn day_of(ms: i64) -> String {
        ms_to_datetime(ms).format("%Y-%m-%d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::{World, WorldConfig};

    #[test]
    fn deal_contacts_are_converted_and_conversion_is_stable() {
        let mut w = World::new(WorldConfig::default());
        for d in w.deals().to_vec() {
            assert!(w.is_converted(d.contact.unwrap()));
        }
        let before = w.converted_count();
        assert!(before > 40 && before < 300, "{before}");
        w.touch_people(100);
        assert_eq!(w.converted_count(), before, "touches do not convert");
        let p = w.person(w.deals()[0].contact.unwrap()).unwrap();
        let at = w.converted_ms(&p).unwrap();
        assert!(at >= p.created_ms && at <= p.created_ms + super::DAY_MS);
    }
}
