//! Which priorities to try, in order. `Next`: the familiar "highest taken + 1" upwards, then,
//! once the top of the range is reached, the lowest free ones. `Last`: the highest free ones
//! downwards, for catch-all rules that must come after every specific rule.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum Placement {
    #[default]
    Next,
    Last,
}

/// The free priorities of `range`, in the order they should be tried.
pub fn candidates(
    taken: &BTreeSet<u32>,
    range: RangeInclusive<u32>,
    placement: Placement,
) -> Box<dyn Iterator<Item = u32> + '_> {
    let (low, high) = (*range.start(), *range.end());
    let free = move |p: &u32| !taken.contains(p);
    match placement {
        Placement::Last => Box::new((low..=high).rev().filter(free)),
        Placement::Next => {
            let highest = taken.range(low..=high).next_back().copied();
            let above = highest.map_or(low, |h| h + 1);
            Box::new((above..=high).chain(low..above).filter(free))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(p: &[u32]) -> BTreeSet<u32> {
        p.iter().copied().collect()
    }

    #[test]
    fn next_above_the_highest_taken() {
        let t = taken(&[1, 2, 5, 9]);
        assert_eq!(
            candidates(&t, 1..=50000, Placement::Next)
                .take(3)
                .collect::<Vec<_>>(),
            vec![10, 11, 12]
        );
    }

    #[test]
    fn an_empty_listener_starts_at_the_bottom_of_the_range() {
        let t = taken(&[]);
        assert_eq!(candidates(&t, 100..=200, Placement::Next).next(), Some(100));
        // Priorities outside the range do not count.
        let t = taken(&[5, 300]);
        assert_eq!(candidates(&t, 100..=200, Placement::Next).next(), Some(100));
    }

    #[test]
    fn at_the_top_of_the_range_the_lowest_free_ones_follow() {
        let t = taken(&[10, 12, 20]);
        assert_eq!(
            candidates(&t, 10..=20, Placement::Next).collect::<Vec<_>>(),
            vec![11, 13, 14, 15, 16, 17, 18, 19]
        );
    }

    #[test]
    fn last_takes_the_highest_free_ones_downwards() {
        let t = taken(&[1, 2, 50000, 49998]);
        assert_eq!(
            candidates(&t, 1..=50000, Placement::Last)
                .take(3)
                .collect::<Vec<_>>(),
            vec![49999, 49997, 49996]
        );
        assert_eq!(
            candidates(&t, 1..=3, Placement::Last).collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn a_full_range_has_no_candidates() {
        let t = taken(&[1, 2, 3]);
        assert_eq!(candidates(&t, 1..=3, Placement::Next).count(), 0);
    }
}
