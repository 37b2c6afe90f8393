//! The target's clock (spec §0.4, tp-clock): time-based stimuli (`exp`, `nbf`, `iat`) are set
//! against the server's clock, estimated from the `Date` header of its responses, so a server
//! whose clock is off by minutes is neither failed nor passed by accident.

use std::time::{SystemTime, UNIX_EPOCH};

/// Margin kept on every time-based offset: `Date` has a resolution of one second and the
/// round trip adds up to another.
pub const MARGIN_SECS: i64 = 2;

/// The estimated difference between the target's clock and ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerClock {
    /// Server time minus local time, in whole seconds.
    offset_secs: i64,
    /// Whether the offset comes from a `Date` header (otherwise the local clock is assumed).
    measured: bool,
}

impl ServerClock {
    /// No measurement: the server is assumed to share our clock.
    pub const LOCAL: ServerClock = ServerClock {
        offset_secs: 0,
        measured: false,
    };

    /// Estimates the offset from a `Date` header value (RFC 9110 §5.6.7 IMF-fixdate, or the
    /// obsolete forms) and the local times the request was sent and its answer received.
    /// `None` when the header does not parse.
    pub fn from_date(date: &str, sent: SystemTime, received: SystemTime) -> Option<Self> {
        let server = httpdate::parse_http_date(date.trim()).ok()?;
        let server_ms = millis(server)?;
        // The server stamped the answer somewhere in the round trip; the midpoint is the best
        // guess, and `Date` truncates to the second, so its true value is half a second later.
        let (sent_ms, received_ms) = (millis(sent)?, millis(received)?);
        let local_ms = (sent_ms + received_ms) / 2;
        let offset_ms = server_ms + 500 - local_ms;
        // Within the measurement's own uncertainty (half a second of `Date` truncation, half
        // the round trip, and rounding) the clocks agree: no offset is applied.
        let uncertainty_ms = 1000 + (received_ms - sent_ms).abs() / 2;
        let offset_secs = if offset_ms.abs() <= uncertainty_ms {
            0
        } else {
            (offset_ms as f64 / 1000.0).round() as i64
        };
        Some(Self {
            offset_secs,
            measured: true,
        })
    }

    /// The server's current time in seconds since the epoch.
    pub fn now(&self) -> i64 {
        mock_idp::unix_now() + self.offset_secs
    }

    /// Server time minus local time, in seconds.
    pub fn offset_secs(&self) -> i64 {
        self.offset_secs
    }

    /// Whether the offset was measured from the target's `Date` header.
    pub fn is_measured(&self) -> bool {
        self.measured
    }

    /// One line for the run's header: how far the target's clock is from ours.
    pub fn describe(&self) -> String {
        if !self.measured {
            return "target clock unknown (no Date header); local clock used".into();
        }
        match self.offset_secs {
            0 => "target clock agrees with ours (from its Date header)".into(),
            o if o > 0 => format!("target clock {o} s ahead of ours (from its Date header)"),
            o => format!("target clock {} s behind ours (from its Date header)", -o),
        }
    }
}

fn millis(t: SystemTime) -> Option<i64> {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    #[test]
    fn a_date_that_just_ticked_over_is_still_in_step() {
        // Sent at .950, answered at 1.050 of the next second, stamped with either second.
        let (s, r) = (at(784111776, 950), at(784111777, 50));
        for date in [
            "Sun, 06 Nov 1994 08:49:36 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(ServerClock::from_date(date, s, r).unwrap().offset_secs(), 0);
        }
    }

    #[test]
    fn a_server_in_step_has_no_offset() {
        // 1994-11-06T08:49:37Z is 784111777.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let clock = ServerClock::from_date(date, at(784111777, 100), at(784111777, 300)).unwrap();
        assert_eq!(clock.offset_secs(), 0);
        assert!(clock.is_measured());
    }

    #[test]
    fn offsets_are_signed_and_rounded() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let ahead = ServerClock::from_date(date, at(784111477, 0), at(784111477, 200)).unwrap();
        assert_eq!(ahead.offset_secs(), 300);
        assert!(ahead.describe().contains("300 s ahead"));
        let behind = ServerClock::from_date(date, at(784112377, 0), at(784112377, 200)).unwrap();
        assert_eq!(behind.offset_secs(), -600);
        assert!(behind.describe().contains("600 s behind"));
        assert!((behind.now() - (mock_idp::unix_now() - 600)).abs() <= 1);
    }

    #[test]
    fn obsolete_date_forms_parse_and_garbage_does_not() {
        let (s, r) = (at(784111777, 0), at(784111777, 0));
        for date in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert!(ServerClock::from_date(date, s, r).is_some(), "{date}");
        }
        for date in ["", "yesterday", "Sun, 06 Nov 1994 25:49:37 GMT", "\u{0}"] {
            assert_eq!(ServerClock::from_date(date, s, r), None, "{date:?}");
        }
        assert_eq!(ServerClock::default(), ServerClock::LOCAL);
        assert!(ServerClock::LOCAL.describe().contains("unknown"));
    }
}
