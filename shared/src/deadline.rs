//! The invocation's deadline, split between the work and the answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Kept back at the very end: the handler must still return to the runtime.
const RETURN_MARGIN: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub start: Instant,
    end: Instant,
}

impl Deadline {
    /// From the runtime's deadline, milliseconds since the Unix epoch.
    pub fn from_epoch_millis(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let start = Instant::now();
        Self {
            start,
            end: start + Duration::from_millis(deadline_ms.saturating_sub(now_ms)),
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
        Deadline::from_epoch_millis(now + ms)
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
    fn a_deadline_in_the_past_gives_no_time_rather_than_panicking() {
        let d = Deadline::from_epoch_millis(1);
        assert_eq!(d.work_end(), d.start);
        assert_eq!(d.send_end(), d.start);
    }
}
