//! For tests only: `SERVICE_DATABASE_FAIL_AFTER=<step>` makes that step fail right after it
//! took effect, as when the answer to a statement is lost. The tests use it to show that
//! every step's failure leaves the role's password and the parameter agreeing. Only whoever
//! deploys the function sets its environment; unset, nothing changes.

use std::sync::OnceLock;

pub const VARIABLE: &str = "SERVICE_DATABASE_FAIL_AFTER";

/// Whether `step` is the one to fail.
pub fn hit(step: &str) -> bool {
    static STEP: OnceLock<Option<String>> = OnceLock::new();
    STEP.get_or_init(|| std::env::var(VARIABLE).ok().filter(|s| !s.is_empty()))
        .as_deref()
        == Some(step)
}

/// The message of an injected failure.
pub fn message(step: &str) -> String {
    format!("{step}: failure injected by {VARIABLE}")
}
