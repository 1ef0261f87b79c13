//! Calendar dates, months and log timestamps: the only time types stored in events.
//!
//! Dates are proleptic Gregorian calendar days, written `YYYY-MM-DD`, years 1900–2999
//! (domain.md §2). Timestamps are microseconds since the Unix epoch, written as RFC 3339
//! UTC with exactly six fraction digits and `Z` (formats.md §2). Both are hand-written
//! because they need only day arithmetic, and their text forms are part of the contract.
//!
//! In human-readable formats (JSON) they serialize as text; in bincode as integers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Smallest year a date may carry (domain.md §2).
pub const YEAR_MIN: i32 = 1900;
/// Largest year a date may carry (domain.md §2).
pub const YEAR_MAX: i32 = 2999;
/// China Standard Time is UTC+8: the offset that turns `recorded_at` into a calendar date.
pub const CST_OFFSET_MICROS: i64 = 8 * 3600 * 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]), for any `i32`.
fn civil_from_days(z: i32) -> (i32, u32, u32) {
    // In i64: a stored record's day number is any i32 until it is checked, and `z + 719_468`
    // overflows i32 near i32::MAX (found by the `record` fuzz target).
    let z = i64::from(z) + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = i64::from(yoe) + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // |y| < 5.9 million for any i32 day number.
    (
        i32::try_from(y).expect("the year of an i32 day fits i32"),
        m,
        d,
    )
}

/// Whether `y` is a Gregorian leap year.
pub fn is_leap_year(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days in month `m` (1–12) of year `y`.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => panic!("month out of range: {m}"),
    }
}

/// Why a date, month or timestamp text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text is not of the form the contract requires.
    #[error("expected {expected}, got {got:?}")]
    Syntax {
        /// The form expected, such as `YYYY-MM-DD`.
        expected: &'static str,
        /// The text that was given (cut to 40 characters).
        got: String,
    },
    /// Well-formed, but no such calendar day or month.
    #[error("{0:?} is not a real calendar date")]
    NotACalendarDate(String),
    /// A year outside 1900–2999.
    #[error("year {0} is outside {YEAR_MIN}-{YEAR_MAX}")]
    YearOutOfRange(i32),
}

fn syntax(expected: &'static str, got: &str) -> TimeError {
    TimeError::Syntax {
        expected,
        got: got.chars().take(40).collect(),
    }
}

/// Parses exactly `n` ASCII digits.
fn digits(s: &str, expected: &'static str, whole: &str) -> Result<u32, TimeError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax(expected, whole));
    }
    s.parse().map_err(|_| syntax(expected, whole))
}

/// A calendar date (China Standard Time business date), 1900-01-01 ..= 2999-12-31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01; private so that every value is a valid date in range.
    days: i32,
}

impl Date {
    /// The date of year, month and day, if it is a real date in range.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Result<Date, TimeError> {
        if !(YEAR_MIN..=YEAR_MAX).contains(&y) {
            return Err(TimeError::YearOutOfRange(y));
        }
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(TimeError::NotACalendarDate(format!("{y:04}-{m:02}-{d:02}")));
        }
        Ok(Date {
            days: days_from_civil(y, m, d),
        })
    }

    /// The date `days` days after 1970-01-01, if within range.
    pub fn from_days(days: i32) -> Result<Date, TimeError> {
        let (y, _, _) = civil_from_days(days);
        if !(YEAR_MIN..=YEAR_MAX).contains(&y) {
            return Err(TimeError::YearOutOfRange(y));
        }
        Ok(Date { days })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i32 {
        self.days
    }

    /// (year, month, day).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.days)
    }

    /// Year.
    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// The month this date lies in.
    pub fn month(self) -> Month {
        let (y, m, _) = self.ymd();
        Month { year: y, month: m }
    }

    /// The date `n` days later (or earlier, for negative `n`), saturating at the range's ends.
    pub fn add_days(self, n: i32) -> Date {
        let lo = days_from_civil(YEAR_MIN, 1, 1);
        let hi = days_from_civil(YEAR_MAX, 12, 31);
        Date {
            days: self.days.saturating_add(n).clamp(lo, hi),
        }
    }

    /// Number of days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        i64::from(later.days) - i64::from(self.days)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Date, TimeError> {
        const FORM: &str = "a date YYYY-MM-DD";
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(syntax(FORM, s));
        }
        let y = digits(&s[0..4], FORM, s)? as i32;
        let m = digits(&s[5..7], FORM, s)?;
        let d = digits(&s[8..10], FORM, s)?;
        Date::from_ymd(y, m, d).map_err(|e| match e {
            TimeError::NotACalendarDate(_) => TimeError::NotACalendarDate(s.to_string()),
            e => e,
        })
    }
}

/// A calendar month `YYYY-MM`, years 1900–2999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month, if valid.
    pub fn new(year: i32, month: u32) -> Result<Month, TimeError> {
        if !(YEAR_MIN..=YEAR_MAX).contains(&year) {
            return Err(TimeError::YearOutOfRange(year));
        }
        if !(1..=12).contains(&month) {
            return Err(TimeError::NotACalendarDate(format!("{year:04}-{month:02}")));
        }
        Ok(Month { year, month })
    }
    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }
    /// The month number, 1–12.
    pub fn number(self) -> u32 {
        self.month
    }
    /// First day of the month.
    pub fn first_day(self) -> Date {
        Date {
            days: days_from_civil(self.year, self.month, 1),
        }
    }
    /// Last day of the month.
    pub fn last_day(self) -> Date {
        Date {
            days: days_from_civil(self.year, self.month, days_in_month(self.year, self.month)),
        }
    }
    /// Number of days in the month.
    pub fn days(self) -> u32 {
        days_in_month(self.year, self.month)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Month, TimeError> {
        const FORM: &str = "a month YYYY-MM";
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(syntax(FORM, s));
        }
        let y = digits(&s[0..4], FORM, s)? as i32;
        let m = digits(&s[5..7], FORM, s)?;
        Month::new(y, m).map_err(|e| match e {
            TimeError::NotACalendarDate(_) => TimeError::NotACalendarDate(s.to_string()),
            e => e,
        })
    }
}

/// A moment assigned by the log: microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The moment `micros` microseconds after the Unix epoch.
    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp { micros }
    }
    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> i64 {
        self.micros
    }
    /// The calendar date of this moment in China Standard Time (UTC+8).
    pub fn cst_date(self) -> Date {
        // Saturating: a stored record's `recorded_at` is any i64 until it is checked, and the
        // clamp below is meant to catch it rather than an overflow here.
        let days = self
            .micros
            .saturating_add(CST_OFFSET_MICROS)
            .div_euclid(MICROS_PER_DAY);
        Date::from_days(days as i32).unwrap_or_else(|_| {
            // Outside 1900–2999 only through a broken clock; clamp rather than panic.
            Date {
                days: (days as i32).clamp(
                    days_from_civil(YEAR_MIN, 1, 1),
                    days_from_civil(YEAR_MAX, 12, 31),
                ),
            }
        })
    }
    /// Midnight (00:00 CST) at the start of `date`, as a UTC moment.
    pub fn cst_midnight(date: Date) -> Timestamp {
        Timestamp {
            micros: i64::from(date.days) * MICROS_PER_DAY - CST_OFFSET_MICROS,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let rem = self.micros.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days as i32);
        let secs = rem / 1_000_000;
        let frac = rem % 1_000_000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    /// Parses RFC 3339 UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (1 to 6 fraction digits, or none).
    fn from_str(s: &str) -> Result<Timestamp, TimeError> {
        const FORM: &str = "an instant YYYY-MM-DDTHH:MM:SS[.ffffff]Z";
        let b = s.as_bytes();
        if b.len() < 20
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || *b.last().unwrap() != b'Z'
        {
            return Err(syntax(FORM, s));
        }
        let date: Date = s[0..10].parse().map_err(|e| match e {
            TimeError::Syntax { .. } => syntax(FORM, s),
            e => e,
        })?;
        let hh = digits(&s[11..13], FORM, s)?;
        let mm = digits(&s[14..16], FORM, s)?;
        let ss = digits(&s[17..19], FORM, s)?;
        if hh > 23 || mm > 59 || ss > 59 {
            return Err(syntax(FORM, s));
        }
        let rest = &s[19..s.len() - 1];
        let frac = if rest.is_empty() {
            0
        } else {
            let f = rest.strip_prefix('.').ok_or_else(|| syntax(FORM, s))?;
            if f.is_empty() || f.len() > 6 {
                return Err(syntax(FORM, s));
            }
            digits(f, FORM, s)? * 10u32.pow(6 - f.len() as u32)
        };
        let secs = i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss);
        Ok(Timestamp {
            micros: i64::from(date.days) * MICROS_PER_DAY + secs * 1_000_000 + i64::from(frac),
        })
    }
}

macro_rules! text_or_int_serde {
    ($ty:ty, $int:ty, $to_int:expr, $from_int:expr, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    let to_int: fn(&$ty) -> $int = $to_int;
                    to_int(self).serialize(s)
                }
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    let from_int: fn($int) -> Result<$ty, TimeError> = $from_int;
                    from_int(<$int>::deserialize(d)?).map_err(serde::de::Error::custom)
                }
            }
        }
    };
}

text_or_int_serde!(Date, i32, |d| d.days, Date::from_days, "date");
text_or_int_serde!(
    Month,
    u32,
    |m| m.year as u32 * 12 + (m.month - 1),
    |n| Month::new((n / 12) as i32, n % 12 + 1),
    "month"
);
text_or_int_serde!(
    Timestamp,
    i64,
    |t| t.micros,
    |n| Ok(Timestamp::from_micros(n)),
    "timestamp"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_refuse_nonsense() {
        for s in [
            "1900-01-01",
            "2016-02-29",
            "2016-12-31",
            "2999-12-31",
            "1970-01-01",
        ] {
            assert_eq!(s.parse::<Date>().unwrap().to_string(), s);
        }
        for s in [
            "2015-02-29",
            "2016-13-01",
            "2016-00-10",
            "2016-01-32",
            "1899-12-31",
            "3000-01-01",
            "2016-1-01",
            "2016/01/01",
            "+016-01-01",
            "２016-01-01",
            "",
        ] {
            assert!(s.parse::<Date>().is_err(), "{s} accepted");
        }
        let a: Date = "2016-01-01".parse().unwrap();
        let b: Date = "2016-12-31".parse().unwrap();
        assert_eq!(a.days_until(b) + 1, 366);
        assert_eq!(a.add_days(365), b);
    }

    #[test]
    fn months() {
        let m: Month = "2016-02".parse().unwrap();
        assert_eq!(m.days(), 29);
        assert_eq!(m.last_day().to_string(), "2016-02-29");
        assert!("2016-13".parse::<Month>().is_err());
        assert!("2016-02-01".parse::<Month>().is_err());
    }

    #[test]
    fn timestamps_format_with_six_digits_and_convert_to_cst() {
        let t: Timestamp = "2016-12-31T16:00:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2016-12-31T16:00:00.000000Z");
        assert_eq!(t.cst_date().to_string(), "2017-01-01");
        let t2: Timestamp = "2016-12-31T15:59:59.999999Z".parse().unwrap();
        assert_eq!(t2.cst_date().to_string(), "2016-12-31");
        assert_eq!(Timestamp::cst_midnight("2017-01-01".parse().unwrap()), t);
        let t3: Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert_eq!(t3.to_string(), "1969-12-31T23:59:59.500000Z");
        assert!("2016-12-31T24:00:00Z".parse::<Timestamp>().is_err());
        assert!("2016-12-31T16:00:00+08:00".parse::<Timestamp>().is_err());
    }

    #[test]
    fn extreme_day_numbers_are_refused_not_overflowed() {
        // A damaged stored record can hold any i32 as a date; the civil dates of the ends of
        // i32 are those of the same algorithm in unbounded integers.
        assert_eq!(civil_from_days(i32::MAX), (5_881_580, 7, 11));
        assert_eq!(civil_from_days(i32::MIN), (-5_877_641, 6, 23));
        assert_eq!(
            Date::from_days(i32::MAX),
            Err(TimeError::YearOutOfRange(5_881_580))
        );
        assert_eq!(
            Date::from_days(i32::MIN),
            Err(TimeError::YearOutOfRange(-5_877_641))
        );
    }

    #[test]
    fn extreme_timestamps_clamp_to_the_date_range() {
        assert_eq!(
            Timestamp::from_micros(i64::MAX).cst_date().to_string(),
            "2999-12-31"
        );
        assert_eq!(
            Timestamp::from_micros(i64::MIN).cst_date().to_string(),
            "1900-01-01"
        );
    }

    #[test]
    fn day_numbers_agree_with_the_calendar() {
        let mut d = Date::from_ymd(1900, 1, 1).unwrap();
        let mut prev = d.days() - 1;
        while d.year() < 2101 {
            assert_eq!(d.days(), prev + 1);
            let (y, m, dd) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, dd).unwrap(), d);
            prev = d.days();
            d = d.add_days(1);
        }
    }
}
