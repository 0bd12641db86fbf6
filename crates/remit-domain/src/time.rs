//! Time as remit stores and compares it: UTC instants with microsecond precision, and calendar dates.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

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
}
