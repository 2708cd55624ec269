//! Relative date literals (`TODAY`, `LAST_N_DAYS:7`, `THIS_MONTH`...): each names a range of
//! whole periods around today, in UTC (the emulator user's zone). Weeks start on Sunday, as in
//! the en_US locale; quarters and years are calendar ones (no fiscal year is configured).

use super::temporal::{civil_from_days, days_from_civil};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// The periods `[from, to)` counted from the current one (0 is this day, week...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelativeDate {
    period: Period,
    from: i64,
    to: i64,
}

/// A literal word: complete, or waiting for its `:n`.
pub enum Literal {
    Fixed(RelativeDate),
    Counted(Direction, Period),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `LAST_N_DAYS:n` (today included), `LAST_N_WEEKS:n` (the n before this one)...
    Last,
    /// `NEXT_N_DAYS:n`...: the n after the current one.
    Next,
    /// `N_DAYS_AGO:n`...: the single period n before the current one.
    Ago,
}

/// The literal an upper-case word names, if any.
pub fn lookup(word: &str) -> Option<Literal> {
    let fixed = |period, from, to| Some(Literal::Fixed(RelativeDate { period, from, to }));
    match word {
        "YESTERDAY" => return fixed(Period::Day, -1, 0),
        "TODAY" => return fixed(Period::Day, 0, 1),
        "TOMORROW" => return fixed(Period::Day, 1, 2),
        "LAST_90_DAYS" => return fixed(Period::Day, -90, 1),
        "NEXT_90_DAYS" => return fixed(Period::Day, 1, 91),
        _ => {}
    }
    if let Some(literal) = counted(word) {
        return Some(literal);
    }
    let (when, unit) = word.split_once('_')?;
    let offset = match when {
        "LAST" => -1,
        "THIS" => 0,
        "NEXT" => 1,
        _ => return None,
    };
    // Days have their own words (YESTERDAY, TODAY, TOMORROW).
    match period(unit, "")? {
        Period::Day => None,
        p => fixed(p, offset, offset + 1),
    }
}

/// `LAST_N_<PERIOD>S`, `NEXT_N_<PERIOD>S`, `N_<PERIOD>S_AGO`.
fn counted(word: &str) -> Option<Literal> {
    let (direction, unit) = if let Some(unit) = word.strip_prefix("LAST_N_") {
        (Direction::Last, unit)
    } else if let Some(unit) = word.strip_prefix("NEXT_N_") {
        (Direction::Next, unit)
    } else {
        (
            Direction::Ago,
            word.strip_prefix("N_")?.strip_suffix("_AGO")?,
        )
    };
    Some(Literal::Counted(direction, period(unit, "S")?))
}

/// `DAY`/`WEEK`/... followed by `suffix`.
fn period(word: &str, suffix: &str) -> Option<Period> {
    let unit = word.strip_suffix(suffix)?;
    Some(match unit {
        "DAY" => Period::Day,
        "WEEK" => Period::Week,
        "MONTH" => Period::Month,
        "QUARTER" => Period::Quarter,
        "YEAR" => Period::Year,
        _ => return None,
    })
}

impl Direction {
    pub fn with(self, period: Period, n: i64) -> RelativeDate {
        let (from, to) = match (self, period) {
            // "LAST_N_DAYS:1 includes yesterday and today."
            (Direction::Last, Period::Day) => (-n, 1),
            (Direction::Last, _) => (-n, 0),
            (Direction::Next, _) => (1, n + 1),
            (Direction::Ago, _) => (-n, -n + 1),
        };
        RelativeDate { period, from, to }
    }
}

impl RelativeDate {
    /// The range as days since the epoch, `[start, end)`, given today's.
    pub fn days(self, today: i64) -> (i64, i64) {
        (self.start(today, self.from), self.start(today, self.to))
    }

    /// The first day of the period `k` periods from the current one.
    fn start(self, today: i64, k: i64) -> i64 {
        let (year, month, _) = civil_from_days(today);
        let month_start = |months_since_year_zero: i64| {
            let y = months_since_year_zero.div_euclid(12);
            days_from_civil(y, months_since_year_zero.rem_euclid(12) + 1, 1)
        };
        match self.period {
            Period::Day => today + k,
            // 1970-01-01 was a Thursday: day 0 has weekday 4 counting from Sunday.
            Period::Week => today - (today + 4).rem_euclid(7) + 7 * k,
            Period::Month => month_start(year * 12 + month - 1 + k),
            Period::Quarter => month_start(year * 12 + (month - 1) / 3 * 3 + 3 * k),
            Period::Year => days_from_civil(year + k, 1, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::temporal::parse_date;
    use super::*;

    fn range(word: &str, n: Option<i64>, today: &str) -> (String, String) {
        let today = parse_date(today).unwrap();
        let date = match (lookup(word), n) {
            (Some(Literal::Fixed(date)), None) => date,
            (Some(Literal::Counted(direction, period)), Some(n)) => direction.with(period, n),
            _ => panic!("{word}"),
        };
        let (start, end) = date.days(today);
        let show = |d: i64| {
            let (y, m, d) = civil_from_days(d);
            format!("{y:04}-{m:02}-{d:02}")
        };
        (show(start), show(end))
    }

    fn r(start: &str, end: &str) -> (String, String) {
        (start.to_string(), end.to_string())
    }

    #[test]
    fn fixed_literals() {
        // 2026-11-24 is a Tuesday.
        let today = "2026-11-24";
        assert_eq!(range("TODAY", None, today), r("2026-11-24", "2026-11-25"));
        assert_eq!(
            range("YESTERDAY", None, today),
            r("2026-11-23", "2026-11-24")
        );
        assert_eq!(
            range("TOMORROW", None, today),
            r("2026-11-25", "2026-11-26")
        );
        assert_eq!(
            range("THIS_WEEK", None, today),
            r("2026-11-22", "2026-11-29")
        );
        assert_eq!(
            range("LAST_WEEK", None, today),
            r("2026-11-15", "2026-11-22")
        );
        assert_eq!(
            range("NEXT_MONTH", None, today),
            r("2026-12-01", "2027-01-01")
        );
        assert_eq!(
            range("LAST_MONTH", None, "2026-01-15"),
            r("2025-12-01", "2026-01-01")
        );
        assert_eq!(
            range("THIS_QUARTER", None, today),
            r("2026-10-01", "2027-01-01")
        );
        assert_eq!(
            range("LAST_QUARTER", None, "2026-02-01"),
            r("2025-10-01", "2026-01-01")
        );
        assert_eq!(
            range("THIS_YEAR", None, today),
            r("2026-01-01", "2027-01-01")
        );
        assert_eq!(
            range("LAST_90_DAYS", None, today),
            r("2026-08-26", "2026-11-25")
        );
        assert_eq!(
            range("NEXT_90_DAYS", None, today),
            r("2026-11-25", "2027-02-23")
        );
    }

    #[test]
    fn counted_literals() {
        let today = "2026-11-24";
        assert_eq!(
            range("LAST_N_DAYS", Some(1), today),
            r("2026-11-23", "2026-11-25")
        );
        assert_eq!(
            range("NEXT_N_DAYS", Some(2), today),
            r("2026-11-25", "2026-11-27")
        );
        assert_eq!(
            range("N_DAYS_AGO", Some(3), today),
            r("2026-11-21", "2026-11-22")
        );
        assert_eq!(
            range("LAST_N_WEEKS", Some(2), today),
            r("2026-11-08", "2026-11-22")
        );
        assert_eq!(
            range("NEXT_N_MONTHS", Some(2), today),
            r("2026-12-01", "2027-02-01")
        );
        assert_eq!(
            range("LAST_N_YEARS", Some(1), today),
            r("2025-01-01", "2026-01-01")
        );
        assert_eq!(
            range("N_QUARTERS_AGO", Some(4), today),
            r("2025-10-01", "2026-01-01")
        );
    }

    #[test]
    fn other_words_are_not_literals() {
        for word in [
            "LAST",
            "THIS_DAY",
            "LAST_N_DAY",
            "N_DAYS",
            "LAST_FORTNIGHT",
            "NEXT_N_",
            "NAME",
        ] {
            assert!(lookup(word).is_none(), "{word}");
        }
    }
}
