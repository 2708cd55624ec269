//! Dates and datetimes as SOQL literals and as stored values, reduced to numbers: days since
//! 1970-01-01 and milliseconds since the epoch (UTC). Hand-written because the forms are few and
//! fixed: `2026-11-24`, and `2026-11-24T10:00:00` with optional `.fff` then `Z`, `+01:00` or
//! `+0100` (records store `2026-11-24T10:00:00.000+0000`).

pub const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&text[0..4])?;
    let month = digits(&text[5..7])?;
    let day = digits(&text[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Milliseconds since the epoch of a SOQL or stored datetime.
pub fn parse_datetime(text: &str) -> Option<i64> {
    // Every accepted form is ASCII, which also makes the byte slicing below safe.
    if !text.is_ascii() {
        return None;
    }
    let (date, time) = text.split_once(['T', 't'])?;
    let days = parse_date(date)?;
    let b = time.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (
        digits(&time[0..2])?,
        digits(&time[3..5])?,
        digits(&time[6..8])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &time[8..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        // Keep milliseconds; finer digits do not change a stored value's comparisons.
        let ms: String = fraction[..len]
            .chars()
            .chain("00".chars())
            .take(3)
            .collect();
        millis = digits(&ms)?;
        rest = &fraction[len..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let hhmm = rest[1..].replacen(':', "", usize::from(rest.len() == 6));
            if hhmm.len() != 4 {
                return None;
            }
            let (h, m) = (digits(&hhmm[0..2])?, digits(&hhmm[2..4])?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    let seconds = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second;
    Some(seconds * 1000 + millis)
}

/// ASCII digits only (no sign, no spaces), as a number.
fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: proleptic Gregorian date to days since 1970-01-01.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 59, 60, 11_016, 19_782, 20_781, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "+026-01-01",
            "2026-01-32",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_in_every_accepted_form_agree() {
        let utc = parse_datetime("2026-11-24T10:00:00Z").unwrap();
        assert_eq!(
            utc,
            (parse_date("2026-11-24").unwrap() * 24 + 10) * 3_600_000
        );
        for same in [
            "2026-11-24T10:00:00.000+0000",
            "2026-11-24T11:00:00+01:00",
            "2026-11-24T11:00:00.000+0100",
            "2026-11-24T05:30:00-04:30",
        ] {
            assert_eq!(parse_datetime(same), Some(utc), "{same}");
        }
        assert_eq!(parse_datetime("2026-11-24T10:00:00.5Z"), Some(utc + 500));
        for bad in [
            "2026-11-24",
            "2026-11-24T10:00:00",
            "2026-11-24T24:00:00Z",
            "2026-11-24T10:00Z",
            "2026-11-24T10:00:00.Z",
            "2026-11-24T10:00:00+1:00",
            "2026-11-24T10:00:00+01:0",
            "2026-11-24T10:00:00+01::0",
            "2026-11-24T10:00:0é",
            "2026-11-24T10:00:00+0é0",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
