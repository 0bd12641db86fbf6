//! Escalation routes and times: who an escalation goes to at each Chart 4 level, how long acknowledgement and the
//! clinical review may wait, and who is added at each step when they do not come. Employer data, in a file beside
//! the policy pack (`escalation.toml`), checked with errors naming the line.
//!
//! An escalation waits first for acknowledgement, then (above a ward-level response) for review. Each wait has its
//! own clock: acknowledgement from the moment the escalation is raised (or raised again by a worse score), review
//! from the acknowledgement. Each time a wait runs past its time, the escalation takes one step along that wait's
//! cascade, and the step's groups are told as well as everyone before them.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::error::{FileError, echo, parse_slug, string_newtype};
use crate::obs::EscalationLevel;

string_newtype!(
    /// A grade or team the employer names (`specialty-registrar`, `critical-care-outreach`): what staff carry and
    /// what escalation routes address.
    Grade,
    |s| parse_slug("grade", s, 40)
);

/// Who a step of an escalation goes to, resolved against who is on duty when it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// The registered staff leading care where the patient is: those on duty there who may acknowledge the
    /// escalation (the policy's `escalation.acknowledge`).
    Lead,
    /// The most senior of [`Group::Lead`].
    NurseInCharge,
    /// Those on duty where the patient is who may review it (the policy's `escalation.review`).
    MedicalCover,
    /// Staff of a grade on duty where the patient is (a registrar covering several wards is on duty on each).
    Grade(Grade),
    /// The first of these groups that has anyone on duty (`grade:specialty-registrar or medical-cover`: the
    /// registrar covering the place, else whoever gives medical cover there).
    FirstOf(Vec<Group>),
}

impl Group {
    fn parse(s: &str) -> Result<Self, String> {
        if s.contains(" or ") {
            return s
                .split(" or ")
                .map(|a| Self::parse(a.trim()))
                .collect::<Result<_, _>>()
                .map(Self::FirstOf);
        }
        match s {
            "lead" => Ok(Self::Lead),
            "nurse-in-charge" => Ok(Self::NurseInCharge),
            "medical-cover" => Ok(Self::MedicalCover),
            _ => match s.strip_prefix("grade:") {
                Some(g) => Grade::parse(g).map(Self::Grade).map_err(|e| e.to_string()),
                None => Err(format!(
                    "`{}` is not a group: lead, nurse-in-charge, medical-cover or grade:NAME",
                    echo(s)
                )),
            },
        }
    }
}

/// What an escalation is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Acknowledgement,
    Review,
}

/// The route of one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelRoute {
    pub acknowledge_within: Duration,
    /// Told when it is raised.
    pub first: Vec<Group>,
    /// Added at each step while nobody acknowledges.
    pub if_not_acknowledged: Vec<Vec<Group>>,
    /// The review it waits for once acknowledged; none for a level where the acknowledgement is the response.
    pub review: Option<ReviewRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRoute {
    pub within: Duration,
    /// Who is to review (told once it is acknowledged).
    pub by: Vec<Group>,
    /// Added at each step while nobody reviews.
    pub if_not_reviewed: Vec<Vec<Group>>,
}

/// The employer's escalation routes and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    grades: Vec<(Grade, String)>,
    levels: [LevelRoute; 4],
    /// Told, wherever they are on duty, when nobody on duty where the patient is could acknowledge an escalation.
    pub no_one_to_acknowledge: Vec<Group>,
}

impl Routes {
    /// Whether staff of `grade` may be told of an escalation wherever they are on duty (the people named for when
    /// nobody where the patient is could acknowledge it): their live views follow every place.
    pub fn told_anywhere(&self, grade: &Grade) -> bool {
        fn names(g: &Group, grade: &Grade) -> bool {
            match g {
                Group::Grade(x) => x == grade,
                Group::FirstOf(gs) => gs.iter().any(|g| names(g, grade)),
                _ => false,
            }
        }
        self.no_one_to_acknowledge.iter().any(|g| names(g, grade))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoutes {
    #[serde(default)]
    grades: std::collections::BTreeMap<String, String>,
    levels: std::collections::BTreeMap<String, RawLevel>,
    no_one_to_acknowledge: RawFallback,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    acknowledge_within_minutes: i64,
    first: Vec<String>,
    #[serde(default)]
    if_not_acknowledged: Vec<Vec<String>>,
    review: Option<RawReview>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    within_minutes: i64,
    by: Vec<String>,
    #[serde(default)]
    if_not_reviewed: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFallback {
    to: Vec<String>,
}

/// The longest wait a file may set: a day.
const MAX_MINUTES: i64 = 24 * 60;

impl Routes {
    /// Parses and checks a routes file; an error names the line where it can.
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let raw: RawRoutes = toml::from_str(text).map_err(|e| FileError::toml(text, &e))?;
        let fail = |needle: &str, message: String| FileError::near(text, needle, message);
        let mut grades = Vec::new();
        for (id, title) in &raw.grades {
            let g = Grade::parse(id).map_err(|e| fail(id, format!("grades: {e}")))?;
            if title.trim().is_empty() {
                return Err(fail(id, format!("grades: `{id}` has no title")));
            }
            grades.push((g, title.trim().to_owned()));
        }
        let groups = |at: &str, list: &[String]| -> Result<Vec<Group>, FileError> {
            list.iter()
                .map(|s| {
                    let g = Group::parse(s).map_err(|e| fail(&format!("\"{s}\""), format!("{at}: {e}")))?;
                    let alternatives = match &g {
                        Group::FirstOf(list) => list.as_slice(),
                        one => std::slice::from_ref(one),
                    };
                    for a in alternatives {
                        if let Group::Grade(grade) = a
                            && !grades.iter().any(|(known, _)| known == grade)
                        {
                            return Err(fail(
                                &format!("\"{s}\""),
                                format!("{at}: grade `{grade}` is not named under [grades]"),
                            ));
                        }
                    }
                    Ok(g)
                })
                .collect()
        };
        let minutes = |at: &str, m: i64| -> Result<Duration, FileError> {
            if !(1..=MAX_MINUTES).contains(&m) {
                return Err(fail(
                    at,
                    format!("{at}: `{m}` must be a number of minutes from 1 to {MAX_MINUTES}"),
                ));
            }
            Ok(Duration::minutes(m))
        };
        if let Some(k) = raw.levels.keys().find(|k| EscalationLevel::parse(k).is_err()) {
            return Err(fail(
                &format!("[levels.{k}"),
                format!("levels: `{}` is not ward, single-red, urgent or emergency", echo(k)),
            ));
        }
        let mut levels = Vec::new();
        for level in EscalationLevel::ALL {
            let name = level.as_str();
            let header = format!("[levels.{name}]");
            let Some(l) = raw.levels.get(name) else {
                return Err(fail("[levels", format!("levels: `{name}` has no route")));
            };
            let at = |what: &str| format!("levels.{name}.{what}");
            let first = groups(&at("first"), &l.first)?;
            if first.is_empty() {
                return Err(fail(
                    &header,
                    format!("{}: tell someone when it is raised", at("first")),
                ));
            }
            let review = match &l.review {
                None if level.needs_medical_review() => {
                    return Err(fail(
                        &header,
                        format!(
                            "levels.{name}: Chart 4 asks for a clinical review at this level: give [levels.{name}.review]"
                        ),
                    ));
                }
                None => None,
                Some(r) => {
                    let at = |what: &str| format!("levels.{name}.review.{what}");
                    let by = groups(&at("by"), &r.by)?;
                    if by.is_empty() {
                        return Err(fail(&header, format!("{}: name who reviews", at("by"))));
                    }
                    Some(ReviewRoute {
                        within: minutes("within_minutes", r.within_minutes)?,
                        by,
                        if_not_reviewed: r
                            .if_not_reviewed
                            .iter()
                            .map(|s| groups(&at("if_not_reviewed"), s))
                            .collect::<Result<_, _>>()?,
                    })
                }
            };
            levels.push(LevelRoute {
                acknowledge_within: minutes("acknowledge_within_minutes", l.acknowledge_within_minutes)?,
                first,
                if_not_acknowledged: l
                    .if_not_acknowledged
                    .iter()
                    .map(|s| groups(&at("if_not_acknowledged"), s))
                    .collect::<Result<_, _>>()?,
                review,
            });
        }
        let no_one_to_acknowledge = groups("no_one_to_acknowledge.to", &raw.no_one_to_acknowledge.to)?;
        let hospital_wide = |g: &Group| match g {
            Group::Grade(_) => true,
            Group::FirstOf(list) => list.iter().all(|g| matches!(g, Group::Grade(_))),
            _ => false,
        };
        if no_one_to_acknowledge.is_empty() || !no_one_to_acknowledge.iter().all(hospital_wide) {
            return Err(fail(
                "[no_one_to_acknowledge]",
                "no_one_to_acknowledge.to: name the grades told, wherever they are on duty, when nobody where the \
                 patient is could acknowledge (only grade:NAME: the other groups are of the patient's place)"
                    .into(),
            ));
        }
        let levels: [LevelRoute; 4] = levels
            .try_into()
            .map_err(|_| fail("[levels", "levels: four levels are needed".into()))?;
        Ok(Self {
            grades,
            levels,
            no_one_to_acknowledge,
        })
    }

    /// The grades the employer names, with their titles.
    pub fn grades(&self) -> &[(Grade, String)] {
        &self.grades
    }

    /// A grade's title, if the file names it.
    pub fn grade_title(&self, g: &Grade) -> Option<&str> {
        self.grades.iter().find(|(k, _)| k == g).map(|(_, t)| t.as_str())
    }

    /// Checks that a grade is one the file names.
    pub fn known_grade(&self, g: &Grade) -> Result<(), crate::InvalidValue> {
        if self.grade_title(g).is_some() {
            return Ok(());
        }
        let known: Vec<&str> = self.grades.iter().map(|(g, _)| g.as_str()).collect();
        Err(crate::InvalidValue::new(
            "grade",
            format!(
                "`{g}` is not a grade the policy pack names (grades: {})",
                known.join(", ")
            ),
        ))
    }

    pub fn level(&self, l: EscalationLevel) -> &LevelRoute {
        &self.levels[match l {
            EscalationLevel::Ward => 0,
            EscalationLevel::SingleRed => 1,
            EscalationLevel::Urgent => 2,
            EscalationLevel::Emergency => 3,
        }]
    }

    /// How long a wait may last at a level; `None` for a review the level does not have.
    pub fn within(&self, l: EscalationLevel, wait: Wait) -> Option<Duration> {
        let r = self.level(l);
        match wait {
            Wait::Acknowledgement => Some(r.acknowledge_within),
            Wait::Review => r.review.as_ref().map(|r| r.within),
        }
    }

    /// The steps of a wait's cascade.
    fn cascade(&self, l: EscalationLevel, wait: Wait) -> &[Vec<Group>] {
        let r = self.level(l);
        match wait {
            Wait::Acknowledgement => &r.if_not_acknowledged,
            Wait::Review => r.review.as_ref().map_or(&[], |r| &r.if_not_reviewed),
        }
    }

    /// Whether acknowledging an escalation at this level closes it (no review follows).
    pub fn acknowledgement_closes(&self, l: EscalationLevel) -> bool {
        self.level(l).review.is_none()
    }

    /// Who an escalation waiting for `wait` at `stage` steps goes to, each once: those told when it was raised, and
    /// while it waits for review the reviewers too (the people who acknowledged it stay informed), then every step's
    /// groups so far.
    pub fn groups(&self, l: EscalationLevel, wait: Wait, stage: u8) -> Vec<Group> {
        let r = self.level(l);
        let reviewers = match (wait, &r.review) {
            (Wait::Review, Some(review)) => review.by.as_slice(),
            _ => &[],
        };
        let mut out: Vec<Group> = Vec::new();
        let steps = self.cascade(l, wait).iter().take(usize::from(stage));
        for g in r.first.iter().chain(reviewers).chain(steps.flatten()) {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }

    /// The steps due by `now` for an escalation waiting for `wait` at `stage`, whose clock started at `since`: each
    /// as its new stage and the moment it fell due (the clock of the next). Empty when nothing is due, or the
    /// cascade is at its end.
    pub fn steps_due(
        &self,
        l: EscalationLevel,
        wait: Wait,
        stage: u8,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<(u8, DateTime<Utc>)> {
        let Some(within) = self.within(l, wait) else {
            return Vec::new();
        };
        let last = u8::try_from(self.cascade(l, wait).len()).unwrap_or(u8::MAX);
        let mut out = Vec::new();
        let (mut stage, mut at) = (stage, since + within);
        while stage < last && at <= now {
            stage += 1;
            out.push((stage, at));
            at += within;
        }
        out
    }

    /// The groups a step adds, for its history entry.
    pub fn step_groups(&self, l: EscalationLevel, wait: Wait, stage: u8) -> &[Group] {
        usize::from(stage)
            .checked_sub(1)
            .and_then(|i| self.cascade(l, wait).get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// A group in words.
    pub fn group_title(&self, g: &Group) -> String {
        match g {
            Group::Lead => "the registered staff on duty".into(),
            Group::NurseInCharge => "the nurse in charge".into(),
            Group::MedicalCover => "the medical cover".into(),
            Group::Grade(grade) => self
                .grade_title(grade)
                .map_or_else(|| grade.to_string(), |t| format!("the {}", t.to_lowercase())),
            Group::FirstOf(list) => {
                let mut titles = list.iter().map(|g| self.group_title(g));
                let first = titles.next().unwrap_or_default();
                titles.fold(first, |out, t| format!("{out} (or, if none is on duty, {t})"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../policies/nhs-england/escalation.toml");

    fn routes() -> Routes {
        Routes::parse(SHIPPED).unwrap()
    }

    #[test]
    fn the_shipped_routes_follow_chart_4() {
        let r = routes();
        // Emergency: immediately to the registrar and the outreach team as well as the nurse; the review is timed.
        let e = r.groups(EscalationLevel::Emergency, Wait::Acknowledgement, 0);
        assert!(e.contains(&Group::Lead), "{e:?}");

        assert!(
            e.contains(&Group::Grade(Grade::parse("critical-care-outreach").unwrap())),
            "{e:?}"
        );
        assert!(!e.contains(&Group::MedicalCover), "not any doctor: {e:?}");
        // Where no registrar covers the place (the X-ray department), its medical cover is told instead.
        assert!(
            e.iter()
                .any(|g| matches!(g, Group::FirstOf(l) if l.ends_with(&[Group::MedicalCover]))),
            "{e:?}"
        );
        assert!(r.within(EscalationLevel::Emergency, Wait::Review).is_some());
        assert!(r.acknowledgement_closes(EscalationLevel::Ward));
        for l in [
            EscalationLevel::SingleRed,
            EscalationLevel::Urgent,
            EscalationLevel::Emergency,
        ] {
            assert!(!r.acknowledgement_closes(l));
        }
        // Shorter waits for higher levels.
        let ack = |l| r.within(l, Wait::Acknowledgement).unwrap();
        assert!(ack(EscalationLevel::Emergency) < ack(EscalationLevel::Urgent));
        assert!(ack(EscalationLevel::Urgent) <= ack(EscalationLevel::SingleRed));
    }

    #[test]
    fn steps_fall_due_one_wait_after_another_and_stop_at_the_end() {
        let r = routes();
        let t0 = DateTime::UNIX_EPOCH;
        let l = EscalationLevel::Urgent;
        let w = r.within(l, Wait::Acknowledgement).unwrap();
        assert!(
            r.steps_due(l, Wait::Acknowledgement, 0, t0, t0 + w - Duration::seconds(1))
                .is_empty()
        );
        assert_eq!(r.steps_due(l, Wait::Acknowledgement, 0, t0, t0 + w), vec![(1, t0 + w)]);
        // A late sweep catches up, each step at the moment it fell due.
        let n = r.level(l).if_not_acknowledged.len();
        let all = r.steps_due(l, Wait::Acknowledgement, 0, t0, t0 + w * 100);
        assert_eq!(all.len(), n);
        assert_eq!(all.last().unwrap().1, t0 + w * i32::try_from(n).unwrap());
        // Each step adds its groups to those before.
        let before = r.groups(l, Wait::Acknowledgement, 0);
        let after = r.groups(l, Wait::Acknowledgement, 1);
        assert!(before.iter().all(|g| after.contains(g)));
        assert!(
            r.step_groups(l, Wait::Acknowledgement, 1)
                .iter()
                .all(|g| after.contains(g))
        );
        // A ward-level escalation has no review to wait for.
        assert!(
            r.steps_due(EscalationLevel::Ward, Wait::Review, 0, t0, t0 + w * 100)
                .is_empty()
        );
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_line() {
        let bad = |from: &str, to: &str| {
            let text = SHIPPED.replacen(from, to, 1);
            assert_ne!(text, SHIPPED, "{from}");
            Routes::parse(&text).unwrap_err()
        };
        let e = bad("acknowledge_within_minutes = 5", "acknowledge_within_minutes = 0");
        assert!(e.line.is_some() && e.message.contains("minutes"), "{e}");
        let e = bad("\"grade:critical-care-outreach\"", "\"grade:night-porter\"");
        assert!(e.line.is_some() && e.message.contains("night-porter"), "{e}");
        let e = bad(
            "\"grade:specialty-registrar or grade:consultant",
            "\"grade:specialty-registrar or grade:wizard",
        );
        assert!(e.line.is_some() && e.message.contains("wizard"), "{e}");
        let e = bad("to = [\"grade:clinical-site-manager\"]", "to = [\"nurse-in-charge\"]");
        assert!(e.line.is_some() && e.message.contains("only grade"), "{e}");
        let e = bad("\"lead\"", "\"someone\"");
        assert!(e.line.is_some() && e.message.contains("not a group"), "{e}");
        let e = bad("[levels.urgent.review]", "[levels.urgent.reviewed]");
        assert!(e.line.is_some(), "{e}");
        let extra = format!("{SHIPPED}\n[levels.catastrophe]\nacknowledge_within_minutes = 1\nfirst = [\"lead\"]\n");
        let e = Routes::parse(&extra).unwrap_err();
        assert!(e.message.contains("catastrophe") && e.line.is_some(), "{e}");
        let e = bad("\n[levels.single-red.review]", "\n[levels.single-red.unreviewed]");
        assert!(e.line.is_some(), "{e}");
        assert!(Routes::parse("grades = 3").is_err());
    }

    #[test]
    fn grades_are_checked_against_the_file() {
        let r = routes();
        assert!(r.known_grade(&Grade::parse("specialty-registrar").unwrap()).is_ok());
        let e = r.known_grade(&Grade::parse("wizard").unwrap()).unwrap_err();
        assert!(e.to_string().contains("specialty-registrar"), "{e}");
        assert!(Grade::parse("Specialty Registrar").is_err());
    }
}
