//! Revalidation: what a regulator asks of a registrant before it renews their registration, and how far what remit
//! has recorded goes towards it.
//!
//! The requirements are employer data with their source, in a file beside the policy pack (`revalidation.toml`),
//! checked with errors naming the line: a regulator's cycle (three years for the NMC, two for the HCPC), when warnings
//! begin, and each requirement with what it counts ([`Measure`]). The renewal date is the registration's expiry; the
//! cycle is the `every_months` before it. What counts is what was done in the cycle up to today: CPD (hours, the
//! participatory part, its methods, how recently), the shifts worked from the roster and the practice hours recorded
//! (practice hours), and the evidence a registrant records ([`EvidenceKind`]: feedback, reflective accounts, the
//! reflective discussion, the confirmation). What remit cannot count (the health and character declaration, the
//! indemnity arrangement) is listed as a declaration, never as met.
//!
//! [`Standard::status`] answers in a [`State`]: `ready` when every counted requirement is met; `lapsed` after the
//! renewal date; `due-soon` within the warning days of the application date with something missing; `behind` when an
//! hours requirement is below its share of the cycle so far (35 CPD hours in three years is 11.7 hours by the end of
//! the first: pieces such as the confirmation come when they come, and are not paced) or the CPD record has gone
//! stale (`months-since-cpd`); else `on-track`.
//!
//! A registration that renews on the last day of a month (as the NMC's do) has its cycle run from the first of a
//! month, and the application is due by the first day of the renewal month when the standard says so
//! (`apply_by_first_of_month`); a requirement may count only what was done in the months before the application
//! (`within_months`: the NMC's confirmation, in the twelve months before it).

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::FileError;
use crate::staff::{Registration, Regulator, named_enum};
use crate::time::uk_date;

named_enum!(
    /// What a requirement counts.
    Measure, "measure", {
        PracticeHours => "practice-hours",
        CpdHours => "cpd-hours",
        ParticipatoryCpdHours => "participatory-cpd-hours",
        Feedback => "feedback",
        ReflectiveAccounts => "reflective-accounts",
        ReflectiveDiscussion => "reflective-discussion",
        Confirmation => "confirmation",
        CpdMethods => "cpd-methods",
        MonthsSinceCpd => "months-since-cpd",
        Declaration => "declaration",
    }
);

named_enum!(
    /// What a registrant records towards revalidation, besides CPD and the shifts the roster holds.
    EvidenceKind, "kind", {
        PracticeHours => "practice-hours",
        Feedback => "feedback",
        ReflectiveAccount => "reflective-account",
        ReflectiveDiscussion => "reflective-discussion",
        Confirmation => "confirmation",
    }
);

impl EvidenceKind {
    /// Whether a record of this kind carries hours (practice hours worked outside the roster do; the others do not).
    pub fn has_hours(self) -> bool {
        self == Self::PracticeHours
    }

    /// Whether a record of this kind names another person (the registrant a reflective discussion was with, the
    /// confirmer).
    pub fn names_someone(self) -> bool {
        matches!(self, Self::ReflectiveDiscussion | Self::Confirmation)
    }

    /// The kind in words.
    pub fn words(self) -> &'static str {
        match self {
            Self::PracticeHours => "practice hours outside the roster",
            Self::Feedback => "practice-related feedback",
            Self::ReflectiveAccount => "a written reflective account",
            Self::ReflectiveDiscussion => "a reflective discussion",
            Self::Confirmation => "confirmation",
        }
    }
}

named_enum!(
    /// How a CPD activity was done.
    CpdMethod, "method", {
        Course => "course",
        StudyDay => "study-day",
        ELearning => "e-learning",
        Conference => "conference",
        Workshop => "workshop",
        Reading => "reading",
        Shadowing => "shadowing",
        Supervision => "supervision",
        Other => "other",
    }
);

named_enum!(
    /// Where a registrant stands.
    State, "state", {
        Ready => "ready",
        OnTrack => "on-track",
        Behind => "behind",
        DueSoon => "due-soon",
        Lapsed => "lapsed",
    }
);

impl State {
    /// The state as a person reads it.
    pub fn words(self) -> &'static str {
        match self {
            Self::Ready => "ready to apply",
            Self::OnTrack => "on track",
            Self::Behind => "behind",
            Self::DueSoon => "due soon",
            Self::Lapsed => "lapsed",
        }
    }
}

impl CpdMethod {
    /// How it was done, as a form offers it.
    pub fn words(self) -> &'static str {
        match self {
            Self::Course => "A course",
            Self::StudyDay => "A study day",
            Self::ELearning => "E-learning",
            Self::Conference => "A conference",
            Self::Workshop => "A workshop",
            Self::Reading => "Reading",
            Self::Shadowing => "Shadowing a colleague",
            Self::Supervision => "Clinical supervision or mentoring",
            Self::Other => "Another way",
        }
    }
}

impl Measure {
    /// Whether the requirement is paced over the cycle (hours build up; a confirmation comes at the end).
    fn paced(self) -> bool {
        matches!(self, Self::PracticeHours | Self::CpdHours | Self::ParticipatoryCpdHours)
    }
}

/// One requirement of a regulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub measure: Measure,
    /// How many (hours, pieces, methods) for a counted measure; for `months-since-cpd`, the months within which the
    /// last CPD entry must fall; none for a declaration.
    pub amount: Option<u32>,
    /// Count only what was done in this many months before the application date.
    pub within_months: Option<u32>,
    /// The requirement in the regulator's words, as a person reads it.
    pub text: String,
}

/// A regulator's revalidation or renewal requirements.
#[derive(Debug, Clone, PartialEq)]
pub struct Standard {
    pub regulator: Regulator,
    pub title: String,
    pub every_months: u32,
    pub warn_days: u32,
    /// The application is due by the first day of the renewal month (the NMC's rule), not on renewal day.
    pub apply_by_first_of_month: bool,
    pub source: String,
    pub requirements: Vec<Requirement>,
}

/// Every regulator's standard the employer lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standards(Vec<Standard>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    standard: Vec<RawStandard>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandard {
    regulator: String,
    title: String,
    every_months: u32,
    warn_days: u32,
    #[serde(default)]
    apply_by_first_of_month: bool,
    source: String,
    requirement: Vec<RawRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    measure: String,
    at_least: Option<u32>,
    at_most: Option<u32>,
    within_months: Option<u32>,
    text: String,
}

impl Standards {
    /// Parses and checks a revalidation file; an error names the line where it can.
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| FileError::toml(text, &e))?;
        let mut out: Vec<Standard> = Vec::new();
        for s in raw.standard {
            let at = format!("\"{}\"", s.regulator);
            // Lines are found from this standard's own regulator on, so that an error in the second standard is
            // not reported at the first's line.
            let from = text.find(&format!("regulator = {at}")).unwrap_or(0);
            let fail = |needle: &str, message: String| {
                let mut e = FileError::near(&text[from..], needle, message);
                e.line = e.line.map(|l| l + crate::error::line_of(text, from) - 1);
                e
            };
            let regulator = Regulator::parse(&s.regulator).map_err(|e| fail(&at, e.to_string()))?;
            if out.iter().any(|o| o.regulator == regulator) {
                return Err(fail(&at, format!("{regulator} is listed twice")));
            }
            if !(1..=120).contains(&s.every_months) {
                return Err(fail(&at, format!("{regulator}: every_months must be 1 to 120")));
            }
            if !(1..=365).contains(&s.warn_days) {
                return Err(fail(&at, format!("{regulator}: warn_days must be 1 to 365")));
            }
            if !s.source.starts_with("https://") {
                return Err(fail(&at, format!("{regulator}: source must be an https:// address")));
            }
            if s.title.trim().is_empty() {
                return Err(fail(&at, format!("{regulator}: title is empty")));
            }
            let mut requirements: Vec<Requirement> = Vec::new();
            for r in s.requirement {
                let near = format!("\"{}\"", r.measure);
                let measure = Measure::parse(&r.measure).map_err(|e| fail(&near, format!("{regulator}: {e}")))?;
                let bad = |m: &str| fail(&near, format!("{regulator}: {measure}: {m}"));
                if r.text.trim().is_empty() {
                    return Err(bad("text is empty"));
                }
                if measure != Measure::Declaration && requirements.iter().any(|q| q.measure == measure) {
                    return Err(bad("is listed twice"));
                }
                let amount = match (measure, r.at_least, r.at_most) {
                    (Measure::Declaration, None, None) => None,
                    (Measure::Declaration, _, _) => {
                        return Err(bad("a declaration is not counted: no at_least or at_most"));
                    }
                    (Measure::MonthsSinceCpd, None, Some(m)) if (1..=s.every_months).contains(&m) => Some(m),
                    (Measure::MonthsSinceCpd, _, _) => {
                        return Err(bad(
                            "give at_most, the months within which the last CPD must fall, 1 to every_months",
                        ));
                    }
                    (_, Some(n), None) if (1..=10_000).contains(&n) => Some(n),
                    (_, _, _) => return Err(bad("give at_least, 1 to 10000")),
                };
                if let Some(w) = r.within_months
                    && (matches!(measure, Measure::Declaration | Measure::MonthsSinceCpd)
                        || !(1..=s.every_months).contains(&w))
                {
                    return Err(bad(
                        "within_months is for a counted measure (not a declaration or months-since-cpd), 1 to every_months",
                    ));
                }
                requirements.push(Requirement {
                    measure,
                    amount,
                    within_months: r.within_months,
                    text: r.text.trim().to_owned(),
                });
            }
            if requirements.is_empty() {
                return Err(fail(&at, format!("{regulator}: lists no requirement")));
            }
            out.push(Standard {
                regulator,
                title: s.title.trim().to_owned(),
                every_months: s.every_months,
                warn_days: s.warn_days,
                apply_by_first_of_month: s.apply_by_first_of_month,
                source: s.source,
                requirements,
            });
        }
        Ok(Self(out))
    }

    pub fn all(&self) -> &[Standard] {
        &self.0
    }

    /// The standard for a regulator, if the employer lists one.
    pub fn of(&self, regulator: Regulator) -> Option<&Standard> {
        self.0.iter().find(|s| s.regulator == regulator)
    }

    /// The most warning days of any standard: how far ahead a list of who is due must look (90 with none listed).
    pub fn warn_days(&self) -> u32 {
        self.0.iter().map(|s| s.warn_days).max().unwrap_or(90)
    }
}

/// A CPD activity as counted.
#[derive(Debug, Clone, PartialEq)]
pub struct CpdDone {
    pub on: NaiveDate,
    pub minutes: u32,
    pub participatory: bool,
    pub method: Option<CpdMethod>,
}

/// A piece of evidence as counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub on: NaiveDate,
    /// Practice hours only.
    pub minutes: u32,
}

/// A shift worked, from the roster, on the day it began.
#[derive(Debug, Clone, PartialEq)]
pub struct Worked {
    pub on: NaiveDate,
    pub minutes: u32,
}

/// What is recorded of one person, whatever its dates: [`Standard::status`] counts what falls in the cycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    pub cpd: Vec<CpdDone>,
    pub evidence: Vec<Evidence>,
    pub worked: Vec<Worked>,
}

/// How far one requirement is met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub measure: Measure,
    pub text: String,
    /// What is needed (hours, pieces, methods; for `months-since-cpd`, the most months); none for a declaration.
    pub needed: Option<u32>,
    /// What is recorded in the cycle (hours to the minute; for `months-since-cpd`, whole months since the last CPD,
    /// none if there is none in the cycle); none for a declaration.
    pub have: Option<f64>,
    /// Whether it is met; none for a declaration, which remit cannot judge.
    pub met: Option<bool>,
    /// Whether what is recorded is at least the share of the requirement that the cycle so far calls for.
    pub on_pace: Option<bool>,
    /// Where this requirement stands, in words.
    pub words: String,
}

/// Where a registration stands against its regulator's standard, today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub regulator: Regulator,
    pub number: String,
    pub title: String,
    pub source: String,
    /// The renewal date: the registration's expiry.
    pub renewal: NaiveDate,
    /// The first day of the cycle that ends at renewal.
    pub cycle_from: NaiveDate,
    /// The day the application is due by: renewal day, or the first of its month.
    pub apply_by: NaiveDate,
    /// Days from today to renewal (negative once it has passed).
    pub days_left: i64,
    pub state: State,
    /// The state in words.
    pub state_words: &'static str,
    /// When renewal is, from today, in words (`in 75 days`, `tomorrow`, `3 days ago`).
    pub when: String,
    pub requirements: Vec<Progress>,
    /// What the person (and their education lead) should be told, in words; empty when nothing needs saying.
    pub warnings: Vec<String>,
}

fn hours(minutes: u64) -> f64 {
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}

/// A number of hours or pieces as a person reads it: `12`, `12.5`.
fn amount_words(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}").trim_end_matches('0').to_owned()
    }
}

/// A number of days from today in words.
pub fn days_words(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "yesterday".to_owned(),
        d if d < 0 => format!("{} days ago", -d),
        d => format!("in {d} days"),
    }
}

fn is_month_end(d: NaiveDate) -> bool {
    d.succ_opt().is_none_or(|n| n.day() == 1)
}

impl Standard {
    /// The first day of the cycle that ends at `renewal`: the day after the renewal `every_months` before, or, for a
    /// renewal on a month's last day, the first of the month after that renewal's month (28 February 2027 renews
    /// 29 February 2024: its cycle begins 1 March 2024).
    pub fn cycle_from(&self, renewal: NaiveDate) -> NaiveDate {
        let before = renewal.checked_sub_months(Months::new(self.every_months));
        let from = if is_month_end(renewal) {
            before
                .and_then(|b| b.with_day(1))
                .and_then(|b| b.checked_add_months(Months::new(1)))
        } else {
            before.and_then(|b| b.succ_opt())
        };
        from.unwrap_or(NaiveDate::MIN)
    }

    /// The day the application is due by.
    pub fn apply_by(&self, renewal: NaiveDate) -> NaiveDate {
        if self.apply_by_first_of_month {
            renewal.with_day(1).unwrap_or(renewal)
        } else {
            renewal
        }
    }

    /// Where `registration` stands today against this standard, counting what `recorded` holds in the cycle.
    pub fn status(&self, registration: &Registration, recorded: &Recorded, today: NaiveDate) -> Status {
        let renewal = registration.expires_on;
        let cycle_from = self.cycle_from(renewal);
        let apply_by = self.apply_by(renewal);
        // The share of the cycle gone by today, from 0 at its start to 1 at renewal.
        let length = (renewal - cycle_from).num_days().max(1) as f64;
        let gone = ((today - cycle_from).num_days() as f64 / length).clamp(0.0, 1.0);
        let requirements: Vec<Progress> = self
            .requirements
            .iter()
            .map(|r| progress(r, recorded, cycle_from, apply_by, today, gone))
            .collect();
        let days_left = (renewal - today).num_days();
        let missing: Vec<&Progress> = requirements.iter().filter(|p| p.met == Some(false)).collect();
        let within_warning = (apply_by - today).num_days() <= i64::from(self.warn_days);
        let state = if today > renewal {
            State::Lapsed
        } else if missing.is_empty() {
            State::Ready
        } else if within_warning {
            State::DueSoon
        } else if requirements.iter().any(|p| p.on_pace == Some(false)) {
            State::Behind
        } else {
            State::OnTrack
        };
        let list = |ps: &[&Progress]| ps.iter().map(|p| p.words.clone()).collect::<Vec<_>>().join("; ");
        let (regulator, number) = (self.regulator, &registration.number);
        // Once the application date has passed (the NMC's is the first of the renewal month), the words say so: a
        // deadline in the past is not one to meet.
        let apply = if today > apply_by {
            format!(
                "the application was due by {} ({}): if it has not been made, {regulator} {number} lapses after {}",
                uk_date(apply_by),
                days_words((apply_by - today).num_days()),
                uk_date(renewal)
            )
        } else {
            format!(
                "apply by {} ({})",
                uk_date(apply_by),
                days_words((apply_by - today).num_days())
            )
        };
        let warnings = match state {
            State::Lapsed => vec![format!(
                "{regulator} {number} lapsed after {}: it counts for nothing remit decides until its renewal is \
                 recorded (`remit staff renew-registration`).",
                uk_date(renewal)
            )],
            State::DueSoon => vec![format!(
                "{regulator} {number} renews on {}: {apply} for {}. Not met yet: {}.",
                uk_date(renewal),
                self.title,
                list(&missing)
            )],
            State::Behind => {
                let behind: Vec<&Progress> = requirements.iter().filter(|p| p.on_pace == Some(false)).collect();
                vec![format!(
                    "{regulator} {number}: behind for {} ({:.0}% of the cycle gone): {}.",
                    self.title,
                    gone * 100.0,
                    list(&behind)
                )]
            }
            State::Ready if within_warning => vec![format!(
                "{regulator} {number}: everything remit counts for {} is recorded; {apply}, with the declarations.",
                self.title
            )],
            State::Ready | State::OnTrack => Vec::new(),
        };
        Status {
            regulator,
            number: number.clone(),
            title: self.title.clone(),
            source: self.source.clone(),
            renewal,
            cycle_from,
            apply_by,
            days_left,
            state,
            state_words: state.words(),
            when: days_words(days_left),
            requirements,
            warnings,
        }
    }
}

/// How far one requirement is met by what `recorded` holds in the cycle up to today.
fn progress(
    r: &Requirement,
    recorded: &Recorded,
    cycle_from: NaiveDate,
    apply_by: NaiveDate,
    today: NaiveDate,
    gone: f64,
) -> Progress {
    let from = r
        .within_months
        .and_then(|m| apply_by.checked_sub_months(Months::new(m)))
        .map_or(cycle_from, |d| d.max(cycle_from));
    let counts = |on: NaiveDate| from <= on && on <= today;
    let cpd = || recorded.cpd.iter().filter(|c| counts(c.on));
    let pieces = |kind: EvidenceKind| {
        recorded
            .evidence
            .iter()
            .filter(|e| e.kind == kind && counts(e.on))
            .count() as f64
    };
    let counted = |have: f64, unit: &str| {
        let needed = f64::from(r.amount.unwrap_or(0));
        let met = have >= needed;
        let on_pace = met || !r.measure.paced() || have >= needed * gone - 1e-9;
        let words = if met {
            format!("{} of {} {unit}: met", amount_words(have), amount_words(needed))
        } else {
            format!(
                "{} of {} {unit}: {} to go",
                amount_words(have),
                amount_words(needed),
                amount_words(((needed - have) * 100.0).round() / 100.0)
            )
        };
        (Some(have), Some(met), Some(on_pace), words)
    };
    let (have, met, on_pace, words) = match r.measure {
        Measure::PracticeHours => {
            let worked: u64 = recorded
                .worked
                .iter()
                .filter(|w| counts(w.on))
                .map(|w| u64::from(w.minutes))
                .sum();
            let elsewhere: u64 = recorded
                .evidence
                .iter()
                .filter(|e| e.kind == EvidenceKind::PracticeHours && counts(e.on))
                .map(|e| u64::from(e.minutes))
                .sum();
            counted(hours(worked + elsewhere), "practice hours")
        }
        Measure::CpdHours => counted(hours(cpd().map(|c| u64::from(c.minutes)).sum()), "CPD hours"),
        Measure::ParticipatoryCpdHours => counted(
            hours(cpd().filter(|c| c.participatory).map(|c| u64::from(c.minutes)).sum()),
            "participatory CPD hours",
        ),
        Measure::Feedback => counted(pieces(EvidenceKind::Feedback), "pieces of feedback"),
        Measure::ReflectiveAccounts => counted(pieces(EvidenceKind::ReflectiveAccount), "reflective accounts"),
        Measure::ReflectiveDiscussion => counted(pieces(EvidenceKind::ReflectiveDiscussion), "reflective discussions"),
        Measure::Confirmation => counted(pieces(EvidenceKind::Confirmation), "confirmations"),
        Measure::CpdMethods => {
            let methods: std::collections::BTreeSet<CpdMethod> = cpd()
                .filter_map(|c| c.method)
                .filter(|m| *m != CpdMethod::Other)
                .collect();
            counted(methods.len() as f64, "kinds of learning activity")
        }
        Measure::MonthsSinceCpd => {
            // A continuous record does not restart with the cycle: the last entry counts wherever it falls.
            let within = r.amount.unwrap_or(0);
            match recorded.cpd.iter().map(|c| c.on).filter(|on| *on <= today).max() {
                Some(last) => {
                    let months = months_between(last, today);
                    let met = months < within;
                    let words = if met {
                        format!("last CPD recorded on {}: met", uk_date(last))
                    } else {
                        format!(
                            "last CPD recorded on {}: none in the last {within} months",
                            uk_date(last)
                        )
                    };
                    (Some(f64::from(months)), Some(met), Some(met), words)
                }
                None => (None, Some(false), Some(false), "no CPD recorded".to_owned()),
            }
        }
        Measure::Declaration => (None, None, None, "you declare this when you apply".to_owned()),
    };
    Progress {
        measure: r.measure,
        text: r.text.clone(),
        needed: r.amount,
        have,
        met,
        on_pace,
        words,
    }
}

/// Whole months from `from` to `to` (0 within the first month).
fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut n = 0;
    while from.checked_add_months(Months::new(n + 1)).is_some_and(|d| d <= to) {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const NMC: &str = r#"
[[standard]]
regulator = "NMC"
title = "NMC revalidation"
every_months = 36
warn_days = 90
source = "https://www.nmc.org.uk/revalidation/requirements/"

[[standard.requirement]]
measure = "practice-hours"
at_least = 450
text = "450 practice hours"

[[standard.requirement]]
measure = "cpd-hours"
at_least = 35
text = "35 hours of CPD"

[[standard.requirement]]
measure = "participatory-cpd-hours"
at_least = 20
text = "20 of them participatory"

[[standard.requirement]]
measure = "feedback"
at_least = 5
text = "five pieces of feedback"

[[standard.requirement]]
measure = "declaration"
text = "health and character"

[[standard.requirement]]
measure = "confirmation"
at_least = 1
text = "a confirmation"
"#;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn nmc(expires: &str) -> Registration {
        Registration {
            regulator: Regulator::Nmc,
            number: "19A1234B".into(),
            expires_on: d(expires),
            annotations: BTreeSet::new(),
        }
    }

    fn cpd(on: &str, hours: u32, participatory: bool) -> CpdDone {
        CpdDone {
            on: d(on),
            minutes: hours * 60,
            participatory,
            method: Some(CpdMethod::Course),
        }
    }

    fn full(on: &str) -> Recorded {
        Recorded {
            cpd: vec![cpd(on, 20, true), cpd(on, 15, false)],
            evidence: [EvidenceKind::Feedback; 5]
                .into_iter()
                .chain([EvidenceKind::Confirmation])
                .map(|kind| Evidence {
                    kind,
                    on: d(on),
                    minutes: 0,
                })
                .collect(),
            worked: vec![Worked {
                on: d(on),
                minutes: 450 * 60,
            }],
        }
    }

    #[test]
    fn the_cycle_counts_from_the_day_after_the_last_renewal_to_today() {
        let s = Standards::parse(NMC).unwrap();
        let nmc_std = s.of(Regulator::Nmc).unwrap();
        let reg = nmc("2028-03-31");
        // The cycle is 1 April 2025 to 31 March 2028: a day before it counts for nothing.
        let st = nmc_std.status(&reg, &full("2025-03-31"), d("2028-01-01"));
        assert_eq!(st.cycle_from, d("2025-04-01"));
        assert_eq!(st.requirements[1].have, Some(0.0));
        assert_eq!(st.state, State::DueSoon);
        // Its first day counts.
        let st = nmc_std.status(&reg, &full("2025-04-01"), d("2028-01-01"));
        assert_eq!(st.state, State::Ready, "{st:?}");
        assert!(
            st.warnings[0].contains("apply by 31 March 2028 (in 90 days)"),
            "{:?}",
            st.warnings
        );
        // A day after today does not count (recorded ahead of time).
        let st = nmc_std.status(&reg, &full("2028-01-02"), d("2028-01-01"));
        assert_eq!(st.requirements[0].have, Some(0.0));
        // The declaration is listed, never judged.
        assert_eq!(st.requirements[4].met, None);
    }

    #[test]
    fn warnings_begin_at_the_warning_days_and_name_what_is_missing() {
        let s = Standards::parse(NMC).unwrap();
        let nmc_std = s.of(Regulator::Nmc).unwrap();
        let reg = nmc("2028-03-31");
        let mut r = full("2026-01-01");
        r.cpd = vec![cpd("2026-01-01", 12, true)];
        // 91 days before: not yet due-soon; 12 of 35 hours with 92% of the cycle gone is behind.
        let st = nmc_std.status(&reg, &r, d("2027-12-31"));
        assert_eq!(st.days_left, 91);
        assert_eq!(st.state, State::Behind);
        // 90 days before: due soon, naming both CPD shortfalls.
        let st = nmc_std.status(&reg, &r, d("2028-01-01"));
        assert_eq!(st.state, State::DueSoon);
        let w = &st.warnings[0];
        assert!(
            w.contains("in 90 days") && w.contains("12 of 35 CPD hours: 23 to go"),
            "{w}"
        );
        assert!(w.contains("12 of 20 participatory CPD hours: 8 to go"), "{w}");
        // On renewal day it is still due; the day after, lapsed.
        assert_eq!(nmc_std.status(&reg, &r, d("2028-03-31")).state, State::DueSoon);
        let st = nmc_std.status(&reg, &r, d("2028-04-01"));
        assert_eq!(st.state, State::Lapsed);
        assert!(
            st.warnings[0].contains("lapsed after 31 March 2028"),
            "{:?}",
            st.warnings
        );
    }

    #[test]
    fn a_month_end_renewal_s_cycle_begins_on_the_first_and_the_nmc_application_is_due_on_the_first() {
        let text = NMC
            .replacen("warn_days = 90", "warn_days = 90\napply_by_first_of_month = true", 1)
            .replacen(
                "at_least = 1\ntext = \"a confirmation\"",
                "at_least = 1\nwithin_months = 12\ntext = \"a confirmation\"",
                1,
            );
        let s = Standards::parse(&text).unwrap();
        let nmc_std = s.of(Regulator::Nmc).unwrap();
        // 28 February 2027 renews 29 February 2024 (both month ends): the cycle begins 1 March 2024.
        assert_eq!(nmc_std.cycle_from(d("2027-02-28")), d("2024-03-01"));
        assert_eq!(nmc_std.cycle_from(d("2027-03-15")), d("2024-03-16"));
        let reg = nmc("2028-03-31");
        // A confirmation more than twelve months before the application date (1 March 2028) does not count.
        let st = nmc_std.status(&reg, &full("2027-02-28"), d("2028-01-10"));
        assert_eq!(st.apply_by, d("2028-03-01"));
        assert_eq!(st.state, State::DueSoon, "{st:?}");
        assert!(
            st.warnings[0].contains("apply by 1 March 2028 (in 51 days)"),
            "{:?}",
            st.warnings
        );
        assert!(
            st.warnings[0].contains("Not met yet: 0 of 1 confirmations"),
            "{:?}",
            st.warnings
        );
        // One within them does.
        let mut r = full("2027-02-28");
        r.evidence.push(Evidence {
            kind: EvidenceKind::Confirmation,
            on: d("2027-03-01"),
            minutes: 0,
        });
        assert_eq!(nmc_std.status(&reg, &r, d("2028-01-10")).state, State::Ready);
        // The warning begins 90 days before the application date, not the renewal.
        let mut early = full("2026-01-01");
        early.cpd.clear();
        assert_eq!(nmc_std.status(&reg, &early, d("2027-12-02")).state, State::DueSoon);
        assert_eq!(nmc_std.status(&reg, &early, d("2027-12-01")).state, State::Behind);
        // Past the application date and before renewal, the words say the date has gone, and what follows.
        let st = nmc_std.status(&reg, &early, d("2028-03-11"));
        assert_eq!(st.state, State::DueSoon);
        assert!(
            st.warnings[0].contains(
                "the application was due by 1 March 2028 (10 days ago): if it has not been made, NMC 19A1234B lapses \
                 after 31 March 2028"
            ),
            "{:?}",
            st.warnings
        );
        assert!(!st.warnings[0].contains("apply by"), "{:?}", st.warnings);
    }

    #[test]
    fn on_track_is_the_share_of_the_cycle_gone_by() {
        let s = Standards::parse(NMC).unwrap();
        let nmc_std = s.of(Regulator::Nmc).unwrap();
        let reg = nmc("2028-03-31");
        let mut r = full("2025-06-01");
        // A third of the way through: 12 CPD hours (of 35) and 7 participatory (of 20) are at pace; the confirmation,
        // which comes at the end, is not paced.
        r.cpd = vec![cpd("2025-06-01", 7, true), cpd("2025-06-01", 5, false)];
        r.evidence.retain(|e| e.kind != EvidenceKind::Confirmation);
        let third = d("2026-03-31");
        let st = nmc_std.status(&reg, &r, third);
        assert_eq!(st.state, State::OnTrack, "{st:?}");
        assert!(st.warnings.is_empty());
        r.cpd = vec![cpd("2025-06-01", 6, true), cpd("2025-06-01", 6, false)];
        let st = nmc_std.status(&reg, &r, third);
        assert_eq!(st.state, State::Behind, "{st:?}");
        assert!(st.warnings[0].contains("6 of 20 participatory"), "{:?}", st.warnings);
    }

    #[test]
    fn the_file_is_checked_line_by_line() {
        let bad = |from: &str, to: &str| Standards::parse(&NMC.replacen(from, to, 1)).unwrap_err();
        let e = bad("regulator = \"NMC\"", "regulator = \"NNC\"");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("is not one of NMC, HCPC"), "{e}");
        let e = bad("measure = \"feedback\"", "measure = \"feedbak\"");
        assert!(e.message.contains("measure: `feedbak` is not one of"), "{e}");
        let e = bad("at_least = 450", "at_least = 0");
        assert!(e.message.contains("at_least, 1 to 10000"), "{e}");
        let e = bad("text = \"health and character\"", "text = \"x\"\nat_least = 1");
        assert!(e.message.contains("a declaration is not counted"), "{e}");
        let e = bad("every_months = 36", "every_months = 0");
        assert!(e.message.contains("every_months must be 1 to 120"), "{e}");
        let e = bad("https://www.nmc", "http://www.nmc");
        assert!(e.message.contains("https://"), "{e}");
        let e = bad("warn_days = 90", "warn_days = 90\nwarn_day = 1");
        assert!(e.message.contains("unknown field"), "{e}");
        let twice = format!("{NMC}{}", &NMC[NMC.find("[[standard]]").unwrap()..]);
        assert!(
            Standards::parse(&twice)
                .unwrap_err()
                .message
                .contains("NMC is listed twice")
        );
    }

    #[test]
    fn hcpc_counts_methods_and_how_recent_the_last_cpd_is() {
        let s = Standards::parse(
            r#"
[[standard]]
regulator = "HCPC"
title = "HCPC renewal"
every_months = 24
warn_days = 90
source = "https://www.hcpc-uk.org/standards/standards-of-continuing-professional-development/"
[[standard.requirement]]
measure = "months-since-cpd"
at_most = 6
text = "a continuous record"
[[standard.requirement]]
measure = "cpd-methods"
at_least = 2
text = "a mixture of learning activities"
"#,
        )
        .unwrap();
        let hcpc = s.of(Regulator::Hcpc).unwrap();
        let reg = Registration {
            regulator: Regulator::Hcpc,
            number: "RA123456".into(),
            expires_on: d("2028-02-29"),
            annotations: BTreeSet::new(),
        };
        let mut r = Recorded {
            cpd: vec![cpd("2026-06-10", 2, false)],
            ..Recorded::default()
        };
        // Five whole months after the last entry it is met; six, not.
        let st = hcpc.status(&reg, &r, d("2026-12-09"));
        assert_eq!(st.requirements[0].met, Some(true), "{st:?}");
        let st = hcpc.status(&reg, &r, d("2026-12-10"));
        assert_eq!(st.requirements[0].met, Some(false), "{st:?}");
        assert!(st.requirements[0].words.contains("none in the last 6 months"));
        // The record is continuous across cycles: an entry just before this cycle began still counts.
        let before = Recorded {
            cpd: vec![cpd("2026-02-20", 2, false)],
            ..Recorded::default()
        };
        assert_eq!(
            hcpc.status(&reg, &before, d("2026-03-05")).requirements[0].met,
            Some(true)
        );
        // One method is not a mixture; `other` does not count as a kind.
        assert_eq!(st.requirements[1].have, Some(1.0));
        r.cpd.push(CpdDone {
            method: Some(CpdMethod::Other),
            ..cpd("2026-12-01", 1, false)
        });
        assert_eq!(hcpc.status(&reg, &r, d("2026-12-10")).requirements[1].have, Some(1.0));
        r.cpd.push(CpdDone {
            method: Some(CpdMethod::Reading),
            ..cpd("2026-12-01", 1, false)
        });
        let st = hcpc.status(&reg, &r, d("2026-12-10"));
        assert_eq!(st.state, State::Ready, "{st:?}");
        assert_eq!(st.cycle_from, d("2026-03-01"));
    }

    #[test]
    fn an_error_in_the_second_standard_is_found_at_its_own_line() {
        let text = format!(
            "{NMC}{}",
            NMC[NMC.find("[[standard]]").unwrap()..]
                .replace("\"NMC\"", "\"HCPC\"")
                .replacen(
                    "measure = \"declaration\"",
                    "measure = \"declaration\"\nat_least = 3",
                    1
                )
        );
        let e = Standards::parse(&text).unwrap_err();
        assert!(e.message.starts_with("HCPC: declaration"), "{e}");
        let line = e.line.unwrap();
        assert!(
            text.lines().nth(line - 1).unwrap().contains("declaration") && line > 40,
            "{line}: {e}"
        );
    }
}
