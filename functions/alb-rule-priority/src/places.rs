//! Which priority each of a service's rules keeps. A rule keeps its priority for as long as
//! it fits, at its own place in `Priorities`: were two rules to swap, ELB would refuse the
//! first one moved onto the other's priority (`PriorityInUse`).

use std::ops::RangeInclusive;

use crate::ledger::{Entry, Place};

/// What the owner's entries keep.
#[derive(Debug, PartialEq, Eq)]
pub struct Kept {
    /// By place (the first rule first): the priority kept, or `None` where a new one is due.
    pub places: Vec<Option<u32>>,
    /// Kept entries claimed before places were kept: their places are to be written down,
    /// so that they stay put when others of the owner's go.
    pub unrecorded: Vec<Place>,
}

/// The places of `count` rules from the owner's entries. An entry keeps the place it was
/// claimed for while that place exists and the entry fits the range; entries claimed before
/// places were kept hold the places of their ascending order, as they were answered then.
pub fn kept(mine: &[&Entry], count: usize, range: &RangeInclusive<u32>) -> Kept {
    let mut unplaced: Vec<u32> = mine
        .iter()
        .filter(|e| e.position.is_none())
        .map(|e| e.priority)
        .collect();
    unplaced.sort_unstable();
    // (place, not recorded, priority): a recorded place wins over one inferred, and of two
    // claims for one place (two copies of a request at once) the lower priority.
    let mut candidates: Vec<(u32, bool, u32)> = mine
        .iter()
        .filter_map(|e| Some((e.position?, false, e.priority)))
        .chain(
            (0..)
                .zip(unplaced)
                .map(|(place, priority)| (place, true, priority)),
        )
        .filter(|(_, _, priority)| range.contains(priority))
        .collect();
    candidates.sort_unstable();
    let mut kept = Kept {
        places: vec![None; count],
        unrecorded: Vec::new(),
    };
    for (position, inferred, priority) in candidates {
        if let Some(place @ None) = kept.places.get_mut(position as usize) {
            *place = Some(priority);
            if inferred {
                kept.unrecorded.push(Place { position, priority });
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(priority: u32, position: Option<u32>) -> Entry {
        Entry {
            priority,
            owner: "me".into(),
            position,
        }
    }

    fn places(entries: &[Entry], count: usize, range: RangeInclusive<u32>) -> Vec<Option<u32>> {
        let mine: Vec<&Entry> = entries.iter().collect();
        kept(&mine, count, &range).places
    }

    #[test]
    fn each_rule_keeps_its_place_whatever_the_order_of_the_numbers() {
        // Placement Last: the first rule got 49999, the second 49998.
        let mine = [entry(49999, Some(0)), entry(49998, Some(1))];
        assert_eq!(places(&mine, 2, 1..=50000), vec![Some(49999), Some(49998)]);
        // One more: the third place is free; one less: the second rule's goes.
        assert_eq!(
            places(&mine, 3, 1..=50000),
            vec![Some(49999), Some(49998), None]
        );
        assert_eq!(places(&mine, 1, 1..=50000), vec![Some(49999)]);
    }

    #[test]
    fn a_priority_out_of_the_range_frees_only_its_own_place() {
        let mine = [entry(6, Some(0)), entry(8, Some(1))];
        assert_eq!(places(&mine, 2, 8..=100), vec![None, Some(8)]);
    }

    #[test]
    fn entries_without_a_place_take_their_ascending_order_once_and_for_all() {
        let mine = [entry(12, None), entry(10, None)];
        let all: Vec<&Entry> = mine.iter().collect();
        let kept = kept(&all, 2, &(1..=50000));
        assert_eq!(kept.places, vec![Some(10), Some(12)]);
        assert_eq!(
            kept.unrecorded,
            vec![
                Place {
                    position: 0,
                    priority: 10
                },
                Place {
                    position: 1,
                    priority: 12
                }
            ]
        );
        // Out of the range, 10's place is free; 12 stays second.
        let kept = super::kept(&all, 2, &(11..=50000));
        assert_eq!(kept.places, vec![None, Some(12)]);
    }

    #[test]
    fn of_two_claims_for_one_place_the_lower_priority_keeps_it() {
        let mine = [entry(9, Some(0)), entry(7, Some(0)), entry(8, None)];
        assert_eq!(places(&mine, 2, 1..=50000), vec![Some(7), None]);
    }
}
