//! Deal history: every stage a deal went through, with the amount and close date at the time
//! (what CRMs keep as opportunity history or deal stage changes). Vendor-neutral.
//!
//! A deal's generated history walks the pipeline from `Appointment Scheduled` to the deal's
//! generated stage (a lost deal leaves the pipeline from some open stage), spread between the
//! deal's creation and its last modification. Changes made through [`World::touch_deals`]
//! append entries at the clock time. Nothing is stored for generated deals: a deal's history
//! is regenerated from `(seed, deal index)`.

use super::rng::Rng;
use super::{Deal, DealStage, World};

const HISTORY_TAG: u64 = 110;

/// Entries per deal are numbered below this, so `deal * STRIDE + number` is unique.
pub const ENTRY_STRIDE: u64 = 64;

/// A deal change made by a mutation.
#[derive(Clone, Debug, PartialEq)]
pub struct DealChange {
    /// Deal index.
    pub deal: u32,
    /// When it changed (epoch ms).
    pub at_ms: i64,
    /// Stage after the change.
    pub stage: DealStage,
    /// Amount after the change (cents).
    pub amount_cents: u64,
    /// Close date after the change (epoch ms).
    pub close_ms: i64,
}

/// One entry of a deal's history: the deal's stage, amount and close date from `created_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct StageEntry {
    /// Deal index.
    pub deal: u32,
    /// Position in the deal's history (0 = creation).
    pub number: u32,
    /// Stage.
    pub stage: DealStage,
    /// Amount (cents).
    pub amount_cents: u64,
    /// Close date (epoch ms).
    pub close_ms: i64,
    /// The previous entry's amount.
    pub prev_amount_cents: Option<u64>,
    /// The previous entry's close date.
    pub prev_close_ms: Option<i64>,
    /// When the entry was made (epoch ms).
    pub created_ms: i64,
}

impl StageEntry {
    /// A number unique across all deals: `deal * ENTRY_STRIDE + number`.
    pub fn key(&self) -> u64 {
        u64::from(self.deal) * ENTRY_STRIDE + u64::from(self.number)
    }
}

/// The stages a generated deal went through, in order.
fn generated_path(deal: &Deal, r: &mut Rng) -> Vec<DealStage> {
    let open = &DealStage::ALL[..5];
    match deal.stage {
        DealStage::ClosedLost => {
            let reached = r.below(5) as usize;
            let mut p = open[..=reached].to_vec();
            p.push(DealStage::ClosedLost);
            p
        }
        DealStage::ClosedWon => {
            let mut p = open.to_vec();
            p.push(DealStage::ClosedWon);
            p
        }
        s => open[..=s.display_order()].to_vec(),
    }
}

impl World {
    /// The generated history of deal `index` as it stood before any mutation.
    fn generated_history(&self, index: u32) -> Vec<StageEntry> {
        let Some(deal) = self.generated_deal(index) else {
            return Vec::new();
        };
        let mut r = Rng::for_entity(self.config.seed, HISTORY_TAG, u64::from(index));
        let path = generated_path(&deal, &mut r);
        let n = path.len() as i64;
        let span = (deal.modified_ms - deal.created_ms).max(0);
        path.into_iter()
            .enumerate()
            .map(|(k, stage)| {
                let k = k as i64;
                let created_ms = if k == 0 {
                    deal.created_ms
                } else if k == n - 1 {
                    deal.modified_ms
                } else {
                    // Evenly spread, jittered within its slot.
                    let slot = span / n.max(1);
                    deal.created_ms + k * slot + r.range(0, slot.max(1) / 2)
                };
                StageEntry {
                    deal: index,
                    number: k as u32,
                    stage,
                    amount_cents: deal.amount_cents,
                    close_ms: deal.close_ms,
                    prev_amount_cents: (k > 0).then_some(deal.amount_cents),
                    prev_close_ms: (k > 0).then_some(deal.close_ms),
                    created_ms,
                }
            })
            .collect()
    }

    /// The deal as generated (before mutations): its stage, amount and times.
    fn generated_deal(&self, index: u32) -> Option<Deal> {
        let current = self.deals.get(index as usize)?;
        match self.deal_changes.iter().find(|c| c.deal == index) {
            None => Some(current.clone()),
            Some(_) => Some(self.gen_deal(index)),
        }
    }

    /// Every entry of deal `index`'s history, oldest first (generated, then mutations).
    pub fn deal_history(&self, index: u32) -> Vec<StageEntry> {
        let mut entries = self.generated_history(index);
        for c in self.deal_changes.iter().filter(|c| c.deal == index) {
            let prev = entries.last();
            entries.push(StageEntry {
                deal: index,
                number: entries.len() as u32,
                stage: c.stage,
                amount_cents: c.amount_cents,
                close_ms: c.close_ms,
                prev_amount_cents: prev.map(|p| p.amount_cents),
                prev_close_ms: prev.map(|p| p.close_ms),
                created_ms: c.at_ms,
            });
        }
        entries
    }

    /// Deal changes made by mutations, oldest first.
    pub fn deal_changes(&self) -> &[DealChange] {
        &self.deal_changes
    }

    /// Records that deal `before.index` changed at `t` (called by the deal mutations): a
    /// history entry, and billing when the deal was just won.
    pub(crate) fn deal_changed(&mut self, before: &Deal, t: i64) {
        let after = self.deals[before.index as usize].clone();
        if self.deal_history(before.index).len() as u64 + 1 >= ENTRY_STRIDE {
            // A deal changed more than 60 times: keep the latest state only.
            self.deal_changes.retain(|c| c.deal != before.index);
        }
        self.deal_changes.push(DealChange {
            deal: after.index,
            at_ms: t,
            stage: after.stage,
            amount_cents: after.amount_cents,
            close_ms: after.close_ms,
        });
        if after.stage == DealStage::ClosedWon && before.stage != DealStage::ClosedWon {
            self.billing_on_deal_won(after.index, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorldConfig;

    #[test]
    fn histories_walk_the_pipeline_and_grow_with_mutations() {
        let mut w = World::new(WorldConfig::default());
        for d in w.deals().to_vec() {
            let h = w.deal_history(d.index);
            assert_eq!(h[0].stage, DealStage::AppointmentScheduled);
            assert_eq!(h.last().unwrap().stage, d.stage);
            assert_eq!(h[0].created_ms, d.created_ms);
            for pair in h.windows(2) {
                assert!(pair[1].created_ms >= pair[0].created_ms, "{pair:?}");
            }
            assert!(h.iter().all(|e| e.created_ms <= d.modified_ms));
        }
        let before: usize = (0..w.deals().len() as u32)
            .map(|i| w.deal_history(i).len())
            .sum();
        let touched = w.touch_deals(10);
        let after: usize = (0..w.deals().len() as u32)
            .map(|i| w.deal_history(i).len())
            .sum();
        assert_eq!(after, before + 10);
        for id in touched {
            let d = w.deal_by_id(id).unwrap().clone();
            let last = w.deal_history(d.index).last().unwrap().clone();
            assert_eq!(last.stage, d.stage);
            assert_eq!(last.amount_cents, d.amount_cents);
            assert_eq!(last.created_ms, d.modified_ms);
        }
    }
}
