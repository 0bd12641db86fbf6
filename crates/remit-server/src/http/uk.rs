//! Times, dates and NHS numbers as people read them on remit's pages: UK local time (Europe/London, summer time
//! included), in UK form, the zone named where it could be misread; NHS numbers spaced 3 3 4. Templates call these;
//! storage and the APIs stay UTC RFC 3339 and unspaced NHS numbers.

use chrono::NaiveDate;

/// A stored instant as "6 Dec 14:15".
pub fn short(stored: &str) -> String {
    remit_domain::time::uk_short_text(stored)
}

/// A stored instant as "6 December 2026 14:15 GMT".
pub fn long(stored: &str) -> String {
    remit_domain::time::uk_long_text(stored)
}

/// A stored instant to the second, for the audit trail.
pub fn precise(stored: &str) -> String {
    remit_domain::time::uk_precise_text(stored)
}

/// A date as "31 March 2027".
pub fn date(d: &NaiveDate) -> String {
    remit_domain::time::uk_date(*d)
}

/// An NHS number as it is printed, 3 3 4: "999 000 1375".
pub fn nhs(n: &str) -> String {
    match (n.get(..3), n.get(3..6), n.get(6..)) {
        (Some(a), Some(b), Some(c)) if n.len() == 10 => format!("{a} {b} {c}"),
        _ => n.to_owned(),
    }
}
