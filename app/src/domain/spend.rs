//! What the agent spends, and the board-wide caps admins set on it: a daily and a monthly
//! amount in dollars (UTC days and months), summed from the runs and checked by every runner
//! before it claims.

use super::validate::Invalid;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

const DAY_MS: i64 = 86_400_000;

/// The caps; `None`: no cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendCaps {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

/// What was spent, against the caps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub caps: SpendCaps,
    pub today_usd: f64,
    pub month_usd: f64,
    /// When today's and this month's sums start again from zero.
    pub day_resets_at: i64,
    pub month_resets_at: i64,
    /// The last 30 days, oldest first: (start of the day, dollars).
    pub per_day: Vec<(i64, f64)>,
}

/// A cap that has been reached: which, what was spent against what, and when it lifts.
#[derive(Clone, Debug, PartialEq)]
pub struct CapReached {
    pub which: &'static str,
    pub spent_usd: f64,
    pub cap_usd: f64,
    pub resets_at: i64,
}

impl Spend {
    /// The cap that stops runners from claiming, if one does (the monthly one first: it
    /// lasts longer).
    pub fn reached(&self) -> Option<CapReached> {
        let check = |which, spent: f64, cap: Option<f64>, resets_at| {
            cap.filter(|cap| spent >= *cap).map(|cap_usd| CapReached {
                which,
                spent_usd: spent,
                cap_usd,
                resets_at,
            })
        };
        check(
            "monthly",
            self.month_usd,
            self.caps.monthly_usd,
            self.month_resets_at,
        )
        .or_else(|| {
            check(
                "daily",
                self.today_usd,
                self.caps.daily_usd,
                self.day_resets_at,
            )
        })
    }
}

impl CapReached {
    /// "The daily cap stops the agent: $5.10 spent of $5.00."
    pub fn sentence(&self) -> String {
        format!(
            "The {} spending cap stops the agent: {} spent of {}.",
            self.which,
            dollars(self.spent_usd),
            dollars(self.cap_usd)
        )
    }
}

/// An amount of money as people read it: `$0.42`, `$1234.50` (no thousands separator), from
/// whole cents (a sum of costs may come out as -0.0, or as 0.41999…).
pub fn dollars(usd: f64) -> String {
    let cents = (usd * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}${}.{:02}", cents / 100, cents % 100)
}

/// The start of the UTC day holding `ms`, and of the next one.
pub fn day_bounds(ms: i64) -> (i64, i64) {
    let start = ms.div_euclid(DAY_MS) * DAY_MS;
    (start, start + DAY_MS)
}

/// The start of the UTC month holding `ms`, and of the next one.
pub fn month_bounds(ms: i64) -> (i64, i64) {
    let at = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let first = |year: i32, month: Month| {
        Date::from_calendar_date(year, month, 1)
            .map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
            .map_or(0, |t| t.unix_timestamp() * 1000)
    };
    let (year, month) = (at.year(), at.month());
    let next_year = if month == Month::December {
        year + 1
    } else {
        year
    };
    (first(year, month), first(next_year, month.next()))
}

/// A cap as typed in the admin form: empty for none, else dollars above zero.
pub fn parse_cap(field: &str, text: &str) -> Result<Option<f64>, Invalid> {
    let text = text.trim().trim_start_matches('$').trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd > 0.0 && usd < 1e9 => Ok(Some(usd)),
        _ => Err(Invalid {
            field: field.to_string(),
            message: format!(
                "'{text}' is not an amount of dollars above zero, like 25 or 7.50 (empty: no cap)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_are_utc() {
        // 2026-12-01 23:50 UTC.
        let at = 1_796_169_000_000;
        assert_eq!(day_bounds(at), (1_796_083_200_000, 1_796_169_600_000));
        // December 2026, then January 2027.
        assert_eq!(month_bounds(at), (1_796_083_200_000, 1_798_761_600_000));
        assert_eq!(month_bounds(1_798_761_600_000).0, 1_798_761_600_000);
    }

    #[test]
    fn money_reads_in_whole_cents() {
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(-0.0), "$0.00", "an empty sum is -0.0");
        assert_eq!(dollars(0.416), "$0.42");
        assert_eq!(dollars(1234.5), "$1234.50");
        assert_eq!(dollars(0.005), "$0.01");
        assert_eq!(dollars(-2.5), "-$2.50");
    }

    #[test]
    fn the_cap_reached_is_named_with_what_was_spent() {
        let mut spend = Spend {
            today_usd: 5.1,
            month_usd: 40.0,
            ..Default::default()
        };
        assert_eq!(spend.reached(), None, "no caps, nothing stops");
        spend.caps.daily_usd = Some(5.0);
        let reached = spend.reached().unwrap();
        assert_eq!(reached.which, "daily");
        assert_eq!(
            reached.sentence(),
            "The daily spending cap stops the agent: $5.10 spent of $5.00."
        );
        spend.caps.monthly_usd = Some(40.0);
        assert_eq!(spend.reached().unwrap().which, "monthly");
        spend.caps = SpendCaps {
            daily_usd: Some(6.0),
            monthly_usd: Some(100.0),
        };
        assert_eq!(spend.reached(), None);
    }

    #[test]
    fn caps_are_typed_as_dollars_or_left_empty() {
        assert_eq!(parse_cap("daily", " $7.50 ").unwrap(), Some(7.5));
        assert_eq!(parse_cap("daily", "").unwrap(), None);
        for bad in ["0", "-3", "lots", "NaN", "inf"] {
            let err = parse_cap("daily", bad).unwrap_err();
            assert_eq!(err.field, "daily");
            assert!(err.message.contains("not an amount of dollars"), "{bad}");
        }
    }
}
