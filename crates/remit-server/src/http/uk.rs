//! Times and dates as people read them on remit's pages: UK local time (Europe/London, summer time included), in UK
//! form, the zone named where it could be misread. Templates call these; storage and the APIs stay UTC RFC 3339.

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
