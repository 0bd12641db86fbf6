//! Time as remit stores and compares it: UTC instants with microsecond precision, and calendar dates.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc, Weekday};

use crate::error::{InvalidValue, echo};

/// Where "now" comes from. Every decision that depends on the time asks a clock, so tests can set it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// UK local time (Europe/London): GMT, and British Summer Time (GMT+1) from 01:00 GMT on the last Sunday of March to
/// 01:00 GMT on the last Sunday of October (the Summer Time Order 2002, in force since 1998 with EU rules). Times
/// people read are shown in it; storage and the APIs stay UTC.
pub fn london(t: DateTime<Utc>) -> (NaiveDateTime, &'static str) {
    let year = t.year();
    let start = last_sunday(year, 3).and_hms_opt(1, 0, 0).map(|d| d.and_utc());
    let end = last_sunday(year, 10).and_hms_opt(1, 0, 0).map(|d| d.and_utc());
    match (start, end) {
        (Some(s), Some(e)) if t >= s && t < e => ((t + Duration::hours(1)).naive_utc(), "BST"),
        _ => (t.naive_utc(), "GMT"),
    }
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let mut d = next.unwrap_or(NaiveDate::MAX).pred_opt().unwrap_or(NaiveDate::MIN);
    while d.weekday() != Weekday::Sun {
        d = d.pred_opt().unwrap_or(NaiveDate::MIN);
    }
    d
}

/// The instant a UK local time names; `None` for a time the clocks skip (the last Sunday of March, 01:00–02:00) or
/// pass twice (the last Sunday of October, 01:00–02:00), where only an offset can say which is meant.
pub fn from_london(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut named = [0, 1]
        .into_iter()
        .map(|h| (local - Duration::hours(h)).and_utc())
        .filter(|t| london(*t).0 == local);
    match (named.next(), named.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// The UK calendar date of an instant (the day a set was taken, as a ward counts days).
pub fn london_date(t: DateTime<Utc>) -> NaiveDate {
    london(t).0.date()
}

/// An instant as a ward reads it: "6 Dec 14:15" in UK local time. (Written out, not through chrono's `format`,
/// which reads its pattern again on every call: a chart shows this a hundred times.)
pub fn uk_short(t: DateTime<Utc>) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = london(t).0;
    format!(
        "{} {} {:02}:{:02}",
        local.day(),
        MONTHS[local.month0() as usize],
        local.hour(),
        local.minute()
    )
}

/// An instant in full: "6 December 2026 14:15 GMT", the zone named so that it cannot be misread.
pub fn uk_long(t: DateTime<Utc>) -> String {
    let (local, zone) = london(t);
    format!("{} {zone}", local.format("%-d %B %Y %H:%M"))
}

/// An instant to the second, for the audit trail: "6 December 2026 14:15:07 GMT".
pub fn uk_precise(t: DateTime<Utc>) -> String {
    let (local, zone) = london(t);
    format!("{} {zone}", local.format("%-d %B %Y %H:%M:%S"))
}

/// A calendar date as people write it: "31 March 2027".
pub fn uk_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// A stored instant (RFC 3339 text) as [`uk_short`]; text that does not read as one is shown as it is.
pub fn uk_short_text(stored: &str) -> String {
    parse_instant("at", stored).map_or_else(|_| stored.to_owned(), uk_short)
}

/// A stored instant as [`uk_precise`]; text that does not read as one is shown as it is.
pub fn uk_precise_text(stored: &str) -> String {
    parse_instant("at", stored).map_or_else(|_| stored.to_owned(), uk_precise)
}

/// A stored instant as [`uk_long`]; text that does not read as one is shown as it is.
pub fn uk_long_text(stored: &str) -> String {
    parse_instant("at", stored).map_or_else(|_| stored.to_owned(), uk_long)
}

/// The storage form of an instant: fixed-width RFC 3339 in UTC, so that text order is time order on every backend.
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_instant(field: &'static str, input: &str) -> Result<DateTime<Utc>, InvalidValue> {
    DateTime::parse_from_rfc3339(input.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            InvalidValue::new(
                field,
                format!("`{}` is not a date and time such as 2026-11-25T14:30:00Z", echo(input)),
            )
        })
}

pub fn parse_date(field: &'static str, input: &str) -> Result<NaiveDate, InvalidValue> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
        .map_err(|_| InvalidValue::new(field, format!("`{}` is not a date such as 2027-03-31", echo(input))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_and_sort_as_text() {
        let a = parse_instant("t", "2026-11-25T09:00:00Z").unwrap();
        let b = parse_instant("t", "2026-11-25T10:00:00.5+01:00").unwrap();
        assert_eq!(format_instant(a), "2026-11-25T09:00:00.000000Z");
        assert_eq!(format_instant(b), "2026-11-25T09:00:00.500000Z");
        assert!(format_instant(a) < format_instant(b));
        assert_eq!(parse_instant("t", &format_instant(b)).unwrap(), b);
    }

    #[test]
    fn bad_dates_name_the_field() {
        assert_eq!(parse_date("expires", "2027-02-30").unwrap_err().field(), "expires");
        assert!(parse_instant("at", "yesterday").is_err());
    }

    #[test]
    fn uk_local_time_follows_british_summer_time() {
        let at = |s: &str| parse_instant("t", s).unwrap();
        // 2026: BST from 29 March 01:00 GMT to 25 October 01:00 GMT.
        assert_eq!(uk_long(at("2026-03-29T00:59:59Z")), "29 March 2026 00:59 GMT");
        assert_eq!(uk_long(at("2026-03-29T01:00:00Z")), "29 March 2026 02:00 BST");
        assert_eq!(uk_long(at("2026-10-25T00:59:00Z")), "25 October 2026 01:59 BST");
        assert_eq!(uk_long(at("2026-10-25T01:00:00Z")), "25 October 2026 01:00 GMT");
        assert_eq!(uk_short(at("2026-12-06T14:15:00Z")), "6 Dec 14:15");
        assert_eq!(uk_precise(at("2026-06-06T14:15:07Z")), "6 June 2026 15:15:07 BST");
        assert_eq!(uk_date(NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()), "31 March 2027");
        assert_eq!(uk_short(at("2026-07-01T23:30:00Z")), "2 Jul 00:30");
        // The day a set was taken, as the ward counts it.
        assert_eq!(london_date(at("2026-07-01T23:30:00Z")).to_string(), "2026-07-02");
        assert_eq!(london_date(at("2026-12-31T23:30:00Z")).to_string(), "2026-12-31");
        assert_eq!(uk_short_text("not a time"), "not a time");
        // Written out by hand, the short form says what chrono's pattern says, every quarter hour of two years.
        let mut t = at("2026-01-01T00:00:00Z");
        while t < at("2028-01-01T00:00:00Z") {
            assert_eq!(uk_short(t), london(t).0.format("%-d %b %H:%M").to_string(), "{t}");
            t += Duration::minutes(15);
        }
        // Every year's change happens on a Sunday in the last week of its month.
        for y in 2000..2100 {
            for m in [3, 10] {
                let d = last_sunday(y, m);
                assert_eq!((d.weekday(), d.month()), (Weekday::Sun, m));
                assert!(d.day() > 24);
            }
        }
    }
}
