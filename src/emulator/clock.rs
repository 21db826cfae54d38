//! The emulator's simulated clock: the real time plus an offset that tests move forward with
//! `POST /_emulator/clock` (or start elsewhere with `destctl emulator --clock INSTANT`). Every
//! server timestamp (`createdAt`, `updatedAt`, runs, the `Date` header) is read from it, so a
//! client sees one consistent time line however far the clock was advanced.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A clock that ticks with real time from an adjustable offset.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicI64,
}

/// Why the clock was not moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ClockError {
    /// Runs already produced up to a later instant would contradict it.
    #[error("the clock cannot go back: it is {now}, asked for {asked}")]
    Backwards {
        /// The current instant (RFC 3339).
        now: String,
        /// The instant asked for (RFC 3339).
        asked: String,
    },
    /// Not a duration such as `90s`, `15m`, `36h`, `2d` or `1w`.
    #[error("`{0}` is not a duration such as 90s, 15m, 36h, 2d or 1w")]
    Duration(String),
    /// Not an RFC 3339 instant.
    #[error("`{0}` is not an RFC 3339 instant such as 2026-12-01T17:00:00Z")]
    Instant(String),
}

fn real_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Clock {
    /// A clock that reads `start_ms` now (`None`: the real time).
    #[cfg(test)]
    pub(crate) fn starting_at(start_ms: Option<i64>) -> Clock {
        let clock = Clock::default();
        if let Some(s) = start_ms {
            clock.jump_to(s);
        }
        clock
    }

    /// Makes the clock read `at_ms` now, forward or back (at start-up only: [`Clock::set`]
    /// never goes back).
    pub(crate) fn jump_to(&self, at_ms: i64) {
        self.offset_ms
            .store(at_ms - real_now_ms(), Ordering::SeqCst);
    }

    /// The simulated time, epoch milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        real_now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `d`; returns the new time.
    pub(crate) fn advance(&self, d: Duration) -> i64 {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.now_ms()
    }

    /// Sets the clock to `at_ms`, which must not be before the current time.
    pub(crate) fn set(&self, at_ms: i64) -> Result<i64, ClockError> {
        let now = self.now_ms();
        if at_ms < now {
            return Err(ClockError::Backwards {
                now: rfc3339(now),
                asked: rfc3339(at_ms),
            });
        }
        self.offset_ms.fetch_add(at_ms - now, Ordering::SeqCst);
        Ok(self.now_ms())
    }
}

/// `2026-12-01T17:00:00.000Z`.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The HTTP `Date` header value of `ms` (`Mon, 30 Nov 2026 08:06:30 GMT`).
pub(crate) fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Parses an RFC 3339 instant into epoch milliseconds.
pub(crate) fn parse_instant(s: &str) -> Result<i64, ClockError> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| ClockError::Instant(s.to_owned()))
}

/// The seconds of `90s`, `15m`, `36h`, `2d`, `1w`: a whole number and one unit (also the
/// `status --window` syntax).
pub(crate) fn duration_secs(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_secs)
}

/// Parses a [`duration_secs`] of at most ten years.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, ClockError> {
    let bad = || ClockError::Duration(s.to_owned());
    let secs = duration_secs(s).ok_or_else(bad)?;
    if secs > 10 * 366 * 86_400 {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_instants() {
        assert_eq!(
            parse_duration("36h").unwrap(),
            Duration::from_secs(36 * 3600)
        );
        assert_eq!(
            parse_duration("2d").unwrap(),
            Duration::from_secs(2 * 86_400)
        );
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999w").is_err());
        assert_eq!(
            parse_instant("2026-12-01T17:00:00Z").unwrap(),
            1_796_144_400_000
        );
        assert_eq!(
            http_date(1_796_144_400_000),
            "Tue, 01 Dec 2026 17:00:00 GMT"
        );
    }

    #[test]
    fn the_clock_moves_forward_only() {
        let c = Clock::starting_at(Some(1_796_144_400_000));
        let now = c.now_ms();
        assert!((1_796_144_400_000..1_796_144_460_000).contains(&now));
        let later = c.advance(Duration::from_secs(3600));
        assert!(later >= now + 3_600_000);
        assert!(c.set(later - 10_000).is_err());
        assert!(c.set(later + 86_400_000).unwrap() >= later + 86_400_000);
    }
}
