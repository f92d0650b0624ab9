//! What can go wrong, each saying which property or object and what to do.

use crate::properties::InvalidRange;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Range(#[from] InvalidRange),
    #[error("ListenerArn {0}: no such listener; give the ARN of an existing listener")]
    NoListener(String),
    #[error("{action} failed: {message}")]
    Aws {
        action: &'static str,
        message: String,
    },
    #[error(
        "{0} claims in a row lost to other allocations on the listener; try again (the next deployment will)"
    )]
    Contended(u64),
    #[error(
        "no free priority left: the range {low} to {high} holds {size} rules and {taken} of them are taken by rules or ledger entries on the listener; widen MinPriority/MaxPriority or free some"
    )]
    Full {
        low: u32,
        high: u32,
        size: u32,
        taken: usize,
    },
}
