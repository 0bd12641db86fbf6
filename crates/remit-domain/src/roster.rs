//! A roster export: who is on duty where, and when. Every decision rests on duty, so a roster is read whole and
//! checked before any of it is used; each error names its line.
//!
//! The format (CSV, UTF-8): a header line `staff,place,start,end`, then one shift a line — a staff username, a
//! place code, and the shift's start and end, each either an instant with its offset (`2026-12-07T07:30:00Z`,
//! `2026-06-07T07:30:00+01:00`) or a UK local time (`2026-12-07 07:30`, as rosters print them). Blank lines and lines
//! starting `#` are skipped. A shift ends after it starts and lasts at most [`MAX_SHIFT_HOURS`] hours; one person's
//! shifts in the same place do not overlap. A local time the clocks skip or pass twice is refused: only an offset
//! can say which is meant.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::fmt;

use crate::place::PlaceCode;
use crate::staff::Username;
use crate::time::from_london;

/// The longest shift a roster may hold (a 24-hour on-call).
pub const MAX_SHIFT_HOURS: i64 = 24;

/// The most errors reported at once: enough to mend a file, not a wall of them.
const MAX_ERRORS: usize = 20;

/// One shift of a roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// The line of the file it came from, counting from 1.
    pub line: usize,
    pub staff: Username,
    pub place: PlaceCode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// What is wrong with a line of a roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn err(line: usize, message: impl Into<String>) -> LineError {
    LineError {
        line,
        message: message.into(),
    }
}

/// A time of the roster: an instant with its offset, or a UK local time.
fn time(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            format!(
                "{field}: `{}` is not a time such as 2026-12-07 07:30 (UK time) or 2026-12-07T07:30:00Z",
                t.chars().take(40).collect::<String>()
            )
        })?;
    from_london(local).ok_or_else(|| {
        format!(
            "{field}: {t} is skipped or passed twice when the clocks change: give it with its offset (+00:00 or +01:00)"
        )
    })
}

/// Reads a roster (see the module's description): every shift, or every error (the first [`MAX_ERRORS`]).
pub fn parse(text: &str) -> Result<Vec<Shift>, Vec<LineError>> {
    let mut shifts = Vec::new();
    let mut errors = Vec::new();
    let mut header = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim().trim_start_matches('\u{feff}');
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        if !header {
            let names: Vec<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
            if names != ["staff", "place", "start", "end"] {
                errors.push(err(line, "the first line must be the header `staff,place,start,end`"));
                break;
            }
            header = true;
            continue;
        }
        if l.contains('"') {
            errors.push(err(line, "quotes are not used in a roster: no field has a comma in it"));
            continue;
        }
        let [staff, place, start, end] = fields.as_slice() else {
            errors.push(err(
                line,
                format!(
                    "has {} fields: a shift has four (staff, place, start, end)",
                    fields.len()
                ),
            ));
            continue;
        };
        let shift = (|| -> Result<Shift, String> {
            let staff = Username::parse(staff).map_err(|e| e.to_string())?;
            let place = PlaceCode::parse(place).map_err(|e| e.to_string())?;
            let starts_at = time("start", start)?;
            let ends_at = time("end", end)?;
            if ends_at <= starts_at {
                return Err("end: is not after the start".into());
            }
            if ends_at - starts_at > chrono::Duration::hours(MAX_SHIFT_HOURS) {
                return Err(format!("the shift is longer than {MAX_SHIFT_HOURS} hours"));
            }
            Ok(Shift {
                line,
                staff,
                place,
                starts_at,
                ends_at,
            })
        })();
        match shift {
            Ok(s) => shifts.push(s),
            Err(m) => errors.push(err(line, m)),
        }
        if errors.len() >= MAX_ERRORS {
            break;
        }
    }
    if !header && errors.is_empty() {
        errors.push(err(
            1,
            "the roster is empty: the first line must be the header `staff,place,start,end`",
        ));
    }
    // The same shift twice is one shift; otherwise one person's shifts in one place do not overlap.
    let mut seen = std::collections::BTreeSet::new();
    shifts.retain(|s| seen.insert((s.staff.to_string(), s.place.to_string(), s.starts_at, s.ends_at)));
    for (i, a) in shifts.iter().enumerate() {
        for b in &shifts[i + 1..] {
            let same = a.staff == b.staff && a.place == b.place;
            if same && a.starts_at < b.ends_at && b.starts_at < a.ends_at {
                errors.push(err(
                    b.line,
                    format!("{}'s shift in {} overlaps the one on line {}", b.staff, b.place, a.line),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(shifts)
    } else {
        errors.truncate(MAX_ERRORS);
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn shifts_are_read_in_uk_time_or_with_their_offset() {
        let r = parse(
            "staff,place,start,end\n\
             # day shift\n\
             alex.ap,ward-7,2026-12-07 07:30,2026-12-07 20:00\n\
             priya.rn,ward-7,2026-06-07 07:30,2026-06-07T20:00\n\
             dr.okafor,ward-9,2026-06-07T19:30:00+01:00,2026-06-08T08:00:00Z\n",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].line, r[0].starts_at), (3, at("2026-12-07T07:30:00Z")));
        // Summer: 07:30 BST is 06:30 UTC.
        assert_eq!(r[1].starts_at, at("2026-06-07T06:30:00Z"));
        assert_eq!(r[1].ends_at, at("2026-06-07T19:00:00Z"));
        assert_eq!(
            r[2].ends_at - r[2].starts_at,
            chrono::Duration::hours(13) + chrono::Duration::minutes(30)
        );
    }

    #[test]
    fn every_bad_line_is_named() {
        let e = parse(
            "staff,place,start,end\n\
             alex.ap,ward-7,2026-12-07 07:30\n\
             alex.ap,ward-7,tomorrow,2026-12-07 20:00\n\
             alex.ap,ward-7,2026-12-07 20:00,2026-12-07 07:30\n\
             alex.ap,ward-7,2026-12-07 07:30,2026-12-08 08:00\n\
             Alex AP,ward-7,2026-12-07 07:30,2026-12-07 20:00\n\
             alex.ap,\"ward-7\",2026-12-07 07:30,2026-12-07 20:00\n\
             alex.ap,ward-7,2026-03-29 01:30,2026-03-29 08:00\n\
             alex.ap,ward-7,2026-10-25 01:30,2026-10-25 08:00\n",
        )
        .unwrap_err();
        let said: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert!(said[0].starts_with("line 2: has 3 fields"), "{said:?}");
        assert!(
            said[1].starts_with("line 3: start: `tomorrow` is not a time"),
            "{said:?}"
        );
        assert!(said[2].starts_with("line 4: end: is not after the start"), "{said:?}");
        assert!(
            said[3].starts_with("line 5: the shift is longer than 24 hours"),
            "{said:?}"
        );
        assert!(said[4].starts_with("line 6: username"), "{said:?}");
        assert!(said[5].starts_with("line 7: quotes"), "{said:?}");
        assert!(
            said[6].starts_with("line 8: start: 2026-03-29 01:30 is skipped or passed twice"),
            "{said:?}"
        );
        assert!(
            said[7].starts_with("line 9: start: 2026-10-25 01:30 is skipped or passed twice"),
            "{said:?}"
        );
        assert_eq!(said.len(), 8);
    }

    #[test]
    fn a_header_is_needed_and_overlaps_are_refused() {
        assert!(parse("").unwrap_err()[0].message.contains("the roster is empty"));
        assert!(
            parse("alex.ap,ward-7,2026-12-07 07:30,2026-12-07 20:00\n").unwrap_err()[0]
                .message
                .contains("header")
        );
        let e = parse(
            "staff,place,start,end\n\
             alex.ap,ward-7,2026-12-07 07:30,2026-12-07 20:00\n\
             alex.ap,ward-7,2026-12-07 07:30,2026-12-07 20:00\n\
             alex.ap,ward-9,2026-12-07 12:00,2026-12-07 14:00\n\
             alex.ap,ward-7,2026-12-07 19:00,2026-12-08 07:00\n",
        )
        .unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(
            e[0].to_string(),
            "line 5: alex.ap's shift in ward-7 overlaps the one on line 2"
        );
    }
}
