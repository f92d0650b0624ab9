//! For tests only: `SERVICE_DATABASE_FAIL_AFTER=<step>` makes that step fail right after it
//! took effect, as when the answer to a statement is lost; `<step>!` makes the work panic
//! there instead, so nothing can be taken back (as when the deadline stops it). The tests use it to show that
//! every step's failure leaves the role's password and the parameter agreeing. Only whoever
//! deploys the function sets its environment; unset, nothing changes.

use std::sync::OnceLock;

pub const VARIABLE: &str = "SERVICE_DATABASE_FAIL_AFTER";

/// Whether `step` is the one to fail; panics if it is the one to stop at.
pub fn hit(step: &str) -> bool {
    static STEP: OnceLock<Option<String>> = OnceLock::new();
    let chosen = STEP
        .get_or_init(|| std::env::var(VARIABLE).ok().filter(|s| !s.is_empty()))
        .as_deref();
    if chosen.and_then(|c| c.strip_suffix('!')) == Some(step) {
        panic!("{}", message(step));
    }
    chosen == Some(step)
}

/// The message of an injected failure.
pub fn message(step: &str) -> String {
    format!("{step}: failure injected by {VARIABLE}")
}
