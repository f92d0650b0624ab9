//! The invocation's deadline, split between the work and the answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Kept back at the very end: the handler must still return to the runtime.
const RETURN_MARGIN: Duration = Duration::from_millis(250);
/// Below this (2001-09-09 as epoch milliseconds, or 31 years as a duration), a deadline is a
/// duration: no function runs that long, and no clock here reads that early.
const RELATIVE_BELOW_MS: u64 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub start: Instant,
    end: Instant,
}

impl Deadline {
    /// From the runtime's `Lambda-Runtime-Deadline-Ms`: milliseconds since the Unix epoch
    /// from the Lambda service. `cargo lambda watch` sends the milliseconds left instead
    /// (600000); a value too small to be a current time is read that way.
    pub fn from_header_millis(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let left = if deadline_ms < RELATIVE_BELOW_MS {
            deadline_ms
        } else {
            deadline_ms.saturating_sub(now_ms)
        };
        let start = Instant::now();
        Self {
            start,
            end: start + Duration::from_millis(left),
        }
    }

    /// The work must be over by then: the rest is the answer's, a quarter of the time
    /// given, at least 1 s and at most 5 s.
    pub fn work_end(&self) -> Instant {
        let total = self.end - self.start;
        let reserve = (total / 4).clamp(Duration::from_secs(1), Duration::from_secs(5));
        self.end
            .checked_sub(reserve)
            .unwrap_or(self.start)
            .max(self.start)
    }

    /// When the work should stop so that undoing it fits before [`Deadline::work_end`]: a
    /// fifth of the work's time, at least 1 s and at most 10 s, is kept for that.
    pub fn undo_start(&self) -> Instant {
        let end = self.work_end();
        let grace = ((end - self.start) / 5).clamp(Duration::from_secs(1), Duration::from_secs(10));
        end.checked_sub(grace).unwrap_or(self.start).max(self.start)
    }

    /// The last moment a response may still be in flight.
    pub fn send_end(&self) -> Instant {
        self.end
            .checked_sub(RETURN_MARGIN)
            .unwrap_or(self.start)
            .max(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_ms(ms: u64) -> Deadline {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        Deadline::from_header_millis(now + ms)
    }

    #[test]
    fn work_leaves_a_quarter_between_one_and_five_seconds_for_the_answer() {
        let near = |a: Duration, b: u64| a.as_millis().abs_diff(b as u128) < 50;
        let d = in_ms(60_000);
        assert!(near(d.work_end() - d.start, 55_000));
        let d = in_ms(8_000);
        assert!(near(d.work_end() - d.start, 6_000));
        let d = in_ms(2_000);
        assert!(near(d.work_end() - d.start, 1_000));
    }

    #[test]
    fn cargo_lambdas_relative_deadline_is_read_as_time_left() {
        let d = Deadline::from_header_millis(600_000);
        assert!((d.work_end() - d.start).as_secs() == 595);
    }

    #[test]
    fn a_deadline_in_the_past_gives_no_time_rather_than_panicking() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = Deadline::from_header_millis(now - 5_000);
        assert_eq!(d.work_end(), d.start);
        assert_eq!(d.send_end(), d.start);
    }
}
