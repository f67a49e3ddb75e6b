//! Budget periods: `daily`, `weekly` (Monday 00:00 UTC) and `monthly` (the
//! 1st, 00:00 UTC), as UTC millisecond boundaries.

use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    Weekly,
    #[default]
    Monthly,
}

impl Period {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// The start of the period holding `now_ms`.
    pub fn start(self, now_ms: i64) -> i64 {
        let day = now_ms.div_euclid(DAY_MS);
        match self {
            Self::Daily => day * DAY_MS,
            // 1970-01-01 was a Thursday: Monday is 3 days before.
            Self::Weekly => (day - (day + 3).rem_euclid(7)) * DAY_MS,
            Self::Monthly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1) * DAY_MS
            }
        }
    }

    /// The start of the next period after the one holding `now_ms`: when
    /// the budget resets.
    pub fn next_reset(self, now_ms: i64) -> i64 {
        let start = self.start(now_ms);
        match self {
            Self::Daily => start + DAY_MS,
            Self::Weekly => start + 7 * DAY_MS,
            Self::Monthly => {
                let (y, m, _) = civil_from_days(start.div_euclid(DAY_MS));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY_MS
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `ms` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(ms: i64) -> String {
    let day = ms.div_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(day);
    let s = ms.rem_euclid(DAY_MS) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-07T00:44:00Z is a Monday.
    const MON: i64 = 1_796_604_240_000;

    #[test]
    fn boundaries_are_utc() {
        assert_eq!(rfc3339(MON), "2026-12-07T00:44:00Z");
        assert_eq!(rfc3339(Period::Daily.start(MON)), "2026-12-07T00:00:00Z");
        assert_eq!(
            rfc3339(Period::Daily.next_reset(MON)),
            "2026-12-08T00:00:00Z"
        );
        assert_eq!(rfc3339(Period::Weekly.start(MON)), "2026-12-07T00:00:00Z");
        let sunday = MON - 3_600_000;
        assert_eq!(
            rfc3339(Period::Weekly.start(sunday)),
            "2026-11-30T00:00:00Z"
        );
        assert_eq!(rfc3339(Period::Monthly.start(MON)), "2026-12-01T00:00:00Z");
        assert_eq!(
            rfc3339(Period::Monthly.next_reset(MON)),
            "2027-01-01T00:00:00Z"
        );
        let feb_leap = days_from_civil(2028, 2, 29) * DAY_MS + 5;
        assert_eq!(
            rfc3339(Period::Monthly.next_reset(feb_leap)),
            "2028-03-01T00:00:00Z"
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
