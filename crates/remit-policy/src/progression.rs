//! What stands between a person and an activity, found by asking the pack itself: the person is changed one step at
//! a time (a competency gained, an entitlement granted, a registration, a higher level) and the same policies that
//! decide are asked again, until the activity needs no supervision or nothing more that remit can add would help.
//! There is no second list of requirements to drift from the pack: change a policy and the answer changes with it.

use chrono::{Months, NaiveDate};
use remit_domain::competency::CompetencyRecord;
use remit_domain::staff::{Annotation, CareerLevel, CompetencyId, Entitlement, Registration, Regulator, StaffProfile};
use serde::Serialize;

use crate::engine::{ExamRegion, Question, Supervision};
use crate::pack::PolicyPack;

/// One thing a person could gain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// A competency from the catalogue, signed off.
    Competency { id: String, title: String },
    /// An IR(ME)R entitlement, granted by the employer.
    Entitlement { entitlement: String },
    /// A registration with a regulator; `or` names the others that would do as well here.
    Registration {
        regulator: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        or: Vec<String>,
    },
    /// An annotation on a registration (such as `independent-prescriber`).
    Annotation { annotation: String },
    /// A Career Framework level.
    Level { level: u8 },
}

impl Step {
    /// The step in words.
    pub fn sentence(&self) -> String {
        match self {
            Step::Competency { title, .. } => format!("gain the competency \"{title}\", signed off"),
            Step::Entitlement { entitlement } => format!("be granted the IR(ME)R entitlement {entitlement}"),
            Step::Registration { regulator, or } => {
                // On the HCPC register it is the radiographer's that counts here.
                let named = |r: &str| {
                    if r == "HCPC" {
                        "HCPC registration as a radiographer".to_owned()
                    } else {
                        format!("{r} registration")
                    }
                };
                let mut out = format!("hold a current {}", named(regulator));
                for r in or {
                    let article = if matches!(r.as_str(), "NMC" | "HCPC") {
                        "an"
                    } else {
                        "a"
                    };
                    out.push_str(&format!(", or {article} {}", named(r)));
                }
                out
            }
            Step::Annotation { annotation } => format!("have a registration annotated {annotation}"),
            Step::Level { level } => format!("work at Career Framework level {level}"),
        }
    }

    /// Cheaper steps are tried first when two help as much: a competency before an entitlement, before a level,
    /// before a registration.
    fn cost(&self) -> u8 {
        match self {
            Step::Competency { .. } => 0,
            Step::Entitlement { .. } => 1,
            Step::Level { .. } => 2,
            Step::Annotation { .. } => 3,
            Step::Registration { .. } => 4,
        }
    }

    /// The person with this step taken, as of `today`.
    fn apply(&self, p: &mut StaffProfile, pack: &PolicyPack, today: NaiveDate) {
        match self {
            Step::Competency { id, .. } => {
                let months = pack
                    .competencies()
                    .iter()
                    .find(|c| c.id == *id)
                    .map_or(12, |c| c.validity_months);
                if let Ok(competency) = CompetencyId::parse(id) {
                    p.competencies.retain(|c| c.competency != competency);
                    p.competencies.push(CompetencyRecord {
                        competency,
                        signed_off_on: today,
                        expires_on: today.checked_add_months(Months::new(months)).unwrap_or(today),
                        assessor: None,
                        evidence: String::new(),
                        revoked: false,
                        revoke_reason: None,
                    });
                }
            }
            Step::Entitlement { entitlement } => {
                if let Ok(e) = Entitlement::parse(entitlement) {
                    p.entitlements.insert(e);
                }
            }
            Step::Registration { regulator, .. } => {
                if let Ok(r) = Regulator::parse(regulator) {
                    p.registrations.push(Registration {
                        regulator: r,
                        // On the HCPC register, the profession is in the number: a radiographer's is RA.
                        number: if r == Regulator::Hcpc {
                            "RA000000".to_owned()
                        } else {
                            String::new()
                        },
                        expires_on: today.checked_add_months(Months::new(12)).unwrap_or(today),
                        annotations: Default::default(),
                    });
                }
            }
            Step::Annotation { annotation } => {
                if let Ok(a) = Annotation::parse(annotation) {
                    for r in p.registrations.iter_mut().filter(|r| r.is_current(today)) {
                        r.annotations.insert(a.clone());
                    }
                }
            }
            Step::Level { level } => {
                if let Ok(l) = CareerLevel::new(i64::from(*level)) {
                    p.staff.level = Some(l);
                }
            }
        }
    }
}

/// What stands between a person and an activity.
#[derive(Debug, Clone, Serialize)]
pub struct Path {
    pub activity: String,
    pub title: String,
    /// The examination region, for X-ray work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The least supervision they may do it under today (`null`: not at all).
    pub today: Option<Supervision>,
    /// Why not alone today, in the pack's words.
    pub reasons: Vec<String>,
    /// What would let them do it alone, in the order found.
    pub steps: Vec<Step>,
    /// Whether those steps reach it. When they do not, what remains is not something a person gains (being on duty
    /// where the patient is, a rule of the employer's), and `remaining` says it in the pack's words.
    pub reached: bool,
    pub remaining: Vec<String>,
}

/// The least supervision a person may do an activity under, and why not with less.
type Asked = (Option<Supervision>, Vec<String>);

/// Steps taken together, the score they reach (reach, then fewer reasons) and the reasons that remain.
type Taken = (Vec<Step>, (u8, usize), Vec<String>);

/// Which steps a walk may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Steps {
    Any,
    /// Competencies and entitlements only: what a person at a given level and registration would still need.
    Skills,
}

/// A least supervision in words: `alone`, `under indirect supervision`, `not at all`.
pub fn supervision_words(s: Option<Supervision>) -> String {
    match s {
        Some(Supervision::None) => "alone".to_owned(),
        Some(s) => format!("under {} supervision", s.as_str()),
        None => "not at all".to_owned(),
    }
}

/// How far a decision is from "alone": 3 with no supervision, 2 indirect, 1 direct, 0 not at all.
fn reach(least: Option<Supervision>) -> u8 {
    match least {
        Some(Supervision::None) => 3,
        Some(Supervision::Indirect) => 2,
        Some(Supervision::Direct) => 1,
        None => 0,
    }
}

impl PolicyPack {
    /// What stands between `actor` and doing `activity` with no supervision (for X-ray work, in `region`), asked of
    /// this pack. `None` for an activity the pack does not have.
    pub fn path_to(
        &self,
        actor: &StaffProfile,
        activity: &str,
        region: Option<ExamRegion>,
        today: NaiveDate,
    ) -> Option<Path> {
        let a = self.activity(activity)?;
        // A region is asked only of X-ray work, and of it always (the chest when none is given).
        let region = (!a.exam_regions.is_empty()).then(|| region.unwrap_or(ExamRegion::Chest));
        let ask = |p: &StaffProfile| self.ask_in(a, region, p, today);
        let (least, reasons) = ask(actor);
        let mut path = Path {
            activity: a.id.clone(),
            title: a.title.clone(),
            region: region.map(|r| r.as_str().to_owned()),
            today: least,
            reasons: reasons.clone(),
            steps: Vec::new(),
            reached: least == Some(Supervision::None),
            remaining: Vec::new(),
        };
        self.walk(&mut path, actor.clone(), reasons, &ask, today, Steps::Any);
        self.other_registrations(&mut path, actor, &ask, today);
        Some(path)
    }

    /// Names, on each registration step of `path`, the other registrations the employer lists a route to that would
    /// take `actor` exactly as far with the same steps: the pack may ask only for "a registration", and advice to
    /// become a nurse is no better than advice to become a radiographer.
    fn other_registrations(
        &self,
        path: &mut Path,
        actor: &StaffProfile,
        ask: &dyn Fn(&StaffProfile) -> Asked,
        today: NaiveDate,
    ) {
        let outcome = |steps: &[Step]| {
            let mut p = actor.clone();
            for s in steps {
                s.apply(&mut p, self, today);
            }
            let (least, mut reasons) = ask(&p);
            reasons.sort();
            (least, reasons)
        };
        let reached = outcome(&path.steps);
        for i in 0..path.steps.len() {
            let Step::Registration { regulator, .. } = &path.steps[i] else {
                continue;
            };
            let chosen = regulator.clone();
            let others: Vec<String> = self
                .routed_regulators(actor, today)
                .into_iter()
                .map(|r| r.as_str().to_owned())
                .filter(|r| *r != chosen)
                .filter(|r| {
                    let mut steps = path.steps.clone();
                    steps[i] = Step::Registration {
                        regulator: r.clone(),
                        or: Vec::new(),
                    };
                    outcome(&steps) == reached
                })
                .collect();
            if let Step::Registration { or, .. } = &mut path.steps[i] {
                *or = others;
            }
        }
    }

    /// Takes steps from `person` until `path` is reached or nothing helps: the greedy walk of [`Self::path_to`].
    fn walk(
        &self,
        path: &mut Path,
        mut person: StaffProfile,
        reasons: Vec<String>,
        ask: &dyn Fn(&StaffProfile) -> Asked,
        today: NaiveDate,
        kinds: Steps,
    ) -> Option<Supervision> {
        let (mut best, mut remaining) = ((reach(path.today), usize::MAX - reasons.len()), reasons);
        // Each round takes the step that brings the most: the least supervision needed, then the fewest reasons.
        for _ in 0..8 {
            if path.reached {
                break;
            }
            let mut found: Option<(Step, (u8, usize), Vec<String>)> = None;
            for step in self.candidate_steps(&person, today, kinds) {
                let mut p = person.clone();
                step.apply(&mut p, self, today);
                let (l, r) = ask(&p);
                let score = (reach(l), usize::MAX - r.len());
                let better = match &found {
                    None => score > best,
                    Some((s, f, _)) => score > *f || (score == *f && step.cost() < s.cost()),
                };
                if better {
                    found = Some((step, score, r));
                }
            }
            // No single step helps: a level and a registration may only help together (a level the pack keeps
            // for registrants), the registration taken first.
            let found = match found {
                Some((step, score, r)) => Some((vec![step], score, r)),
                None if kinds == Steps::Any => self.pair(&person, today, best, ask),
                None => None,
            };
            let Some((steps, score, r)) = found else { break };
            for step in steps {
                step.apply(&mut person, self, today);
                path.steps.push(step);
            }
            best = score;
            remaining = r;
            path.reached = score.0 == 3;
        }
        if !path.reached {
            path.remaining = remaining;
        }
        match best.0 {
            3 => Some(Supervision::None),
            2 => Some(Supervision::Indirect),
            1 => Some(Supervision::Direct),
            _ => None,
        }
    }

    /// The registration and level taken together that bring `person` furthest beyond `best`, the lowest level first.
    fn pair(
        &self,
        person: &StaffProfile,
        today: NaiveDate,
        best: (u8, usize),
        ask: &dyn Fn(&StaffProfile) -> Asked,
    ) -> Option<Taken> {
        let level = person.staff.level.map_or(0, |l| l.get());
        let mut found: Option<Taken> = None;
        for r in self.routed_regulators(person, today) {
            for l in (level + 1)..=9 {
                let steps = vec![
                    Step::Registration {
                        regulator: r.as_str().to_owned(),
                        or: Vec::new(),
                    },
                    Step::Level { level: l },
                ];
                let mut p = person.clone();
                for s in &steps {
                    s.apply(&mut p, self, today);
                }
                let (least, reasons) = ask(&p);
                let score = (reach(least), usize::MAX - reasons.len());
                if score > best && found.as_ref().is_none_or(|f| score > f.1) {
                    found = Some((steps, score, reasons));
                }
            }
        }
        found
    }

    /// The registrations a person does not hold that the employer lists a route to (every one, when it lists none).
    fn routed_regulators(&self, p: &StaffProfile, today: NaiveDate) -> Vec<Regulator> {
        Regulator::ALL
            .iter()
            .copied()
            .filter(|r| {
                self.routes.is_empty()
                    || self
                        .routes
                        .iter()
                        .any(|x| Regulator::parse(&x.registration).ok() == Some(*r))
            })
            .filter(|r| !p.registrations.iter().any(|x| x.regulator == *r && x.is_current(today)))
            .collect()
    }

    /// Every single step the person has not taken (with [`Steps::Skills`], only competencies and entitlements).
    fn candidate_steps(&self, p: &StaffProfile, today: NaiveDate, kinds: Steps) -> Vec<Step> {
        let mut out = Vec::new();
        for c in self.competencies() {
            let held = p
                .competencies
                .iter()
                .any(|r| r.competency.as_str() == c.id && r.is_valid_on(today));
            if !held {
                out.push(Step::Competency {
                    id: c.id.clone(),
                    title: c.title.clone(),
                });
            }
        }
        for e in Entitlement::ALL {
            if !p.entitlements.contains(e) {
                out.push(Step::Entitlement {
                    entitlement: e.as_str().to_owned(),
                });
            }
        }
        if kinds == Steps::Skills {
            return out;
        }
        let level = p.staff.level.map_or(0, |l| l.get());
        out.extend(((level + 1)..=9).map(|level| Step::Level { level }));
        for r in self.routed_regulators(p, today) {
            out.push(Step::Registration {
                regulator: r.as_str().to_owned(),
                or: Vec::new(),
            });
        }
        if p.is_registered(today) {
            out.push(Step::Annotation {
                annotation: "independent-prescriber".to_owned(),
            });
        }
        out
    }
}

/// The Agenda for Change band a Career Framework level usually carries (Skills for Health).
pub fn usual_band(level: u8) -> &'static str {
    match level {
        1 => "1",
        2 => "2-3",
        3 => "3",
        4 => "4",
        5 => "5",
        6 => "6",
        7 => "7-8a",
        8 => "8a-8d",
        _ => "9",
    }
}

/// What one activity would become.
#[derive(Debug, Clone, Serialize)]
pub struct Gain {
    pub activity: String,
    pub title: String,
    /// The least supervision today, and at the next level (`null`: not at all).
    pub now: Option<Supervision>,
    pub then: Option<Supervision>,
    /// The competencies or entitlements they would still need for it there.
    pub steps: Vec<Step>,
}

/// What the next level adds with one registration (or with none held beyond today's).
#[derive(Debug, Clone, Serialize)]
pub struct WithRegistration {
    /// `null`: the level alone.
    pub registration: Option<String>,
    pub gains: Vec<Gain>,
    /// The employer's routes to that registration (`routes.toml`).
    pub routes: Vec<crate::pack::Route>,
}

/// What the next Career Framework level would let a person do, under the pack, and what they would need for it.
#[derive(Debug, Clone, Serialize)]
pub struct NextLevel {
    pub from: Option<u8>,
    pub to: u8,
    /// The band that level usually carries, for the pay check.
    pub band: &'static str,
    /// The level alone first, then each registration that would add more.
    pub options: Vec<WithRegistration>,
}

impl PolicyPack {
    /// The least supervision under which `p` may do `a` (X-ray work in `region`), and why not with less.
    fn ask_in(
        &self,
        a: &crate::pack::Activity,
        region: Option<ExamRegion>,
        p: &StaffProfile,
        today: NaiveDate,
    ) -> Asked {
        let mut q = Question::new(p, &a.id, today);
        q.exam_region = region;
        q.request_justified = true;
        q.named_supervisor = true;
        self.least_supervision(&q)
    }

    /// What the level above `actor`'s would add to what they may do, asked of this pack: with that level alone, and
    /// with each registration they do not hold that the employer lists a route to (any, when it lists none; only
    /// those that add something are given), each activity that would
    /// need less supervision, and the competencies and entitlements it would still need. `None` at level 9.
    pub fn next_level(&self, actor: &StaffProfile, today: NaiveDate) -> Option<NextLevel> {
        let from = actor.staff.level.map(|l| l.get());
        let to = from.map_or(1, |l| l + 1);
        if to > 9 {
            return None;
        }
        let mut base = actor.clone();
        Step::Level { level: to }.apply(&mut base, self, today);
        // Each activity as it stands, and as the competencies and entitlements alone would take it at today's
        // level: what the next level adds is measured from there, not from today.
        let chest = |a: &crate::pack::Activity| (!a.exam_regions.is_empty()).then_some(ExamRegion::Chest);
        let skills_only = |a: &crate::pack::Activity, p: &StaffProfile| {
            let ask = |x: &StaffProfile| self.ask_in(a, chest(a), x, today);
            let (least, reasons) = ask(p);
            let mut path = Path {
                activity: a.id.clone(),
                title: a.title.clone(),
                region: None,
                today: least,
                reasons: Vec::new(),
                steps: Vec::new(),
                reached: least == Some(Supervision::None),
                remaining: Vec::new(),
            };
            let then = self.walk(&mut path, p.clone(), reasons, &ask, today, Steps::Skills);
            (least, then, path.steps)
        };
        let activities: Vec<&crate::pack::Activity> = self
            .activities
            .iter()
            .filter(|a| a.id != "competency.sign-off")
            .collect();
        let today_with_skills: Vec<(Option<Supervision>, Option<Supervision>)> = activities
            .iter()
            .map(|a| {
                let (now, then, _) = skills_only(a, actor);
                (now, then)
            })
            .collect();
        // A registration beside the level only where the framework's registered roles begin (a nursing associate
        // is registered at level 4; level 5 is the registered practitioner).
        let regulators: Vec<Option<Regulator>> = std::iter::once(None)
            .chain(
                self.routed_regulators(actor, today)
                    .into_iter()
                    .filter(|_| to >= 4)
                    .map(Some),
            )
            .collect();
        let mut options: Vec<WithRegistration> = Vec::new();
        let mut level_alone: Vec<Option<Supervision>> = today_with_skills.iter().map(|t| t.1).collect();
        for regulator in regulators {
            let mut p = base.clone();
            if let Some(r) = regulator {
                Step::Registration {
                    regulator: r.as_str().to_owned(),
                    or: Vec::new(),
                }
                .apply(&mut p, self, today);
            }
            let mut gains = Vec::new();
            let mut reached = Vec::with_capacity(activities.len());
            for (i, a) in activities.iter().enumerate() {
                let (_, then, steps) = skills_only(a, &p);
                reached.push(then);
                // Gained: better than today's level (with the same competencies) would make it, and, beside a
                // registration, better than the level alone.
                if reach(then) > reach(level_alone[i]) {
                    gains.push(Gain {
                        activity: a.id.clone(),
                        title: a.title.clone(),
                        now: today_with_skills[i].0,
                        then,
                        steps,
                    });
                }
            }
            if regulator.is_none() {
                level_alone = reached
                    .into_iter()
                    .zip(&level_alone)
                    .map(|(r, l)| if reach(r) > reach(*l) { r } else { *l })
                    .collect();
            } else if gains.is_empty() {
                continue;
            }
            let routes = regulator
                .map(|r| {
                    self.routes
                        .iter()
                        .filter(|x| Regulator::parse(&x.registration).ok() == Some(r))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            options.push(WithRegistration {
                registration: regulator.map(|r| r.as_str().to_owned()),
                gains,
                routes,
            });
        }
        Some(NextLevel {
            from,
            to,
            band: usual_band(to),
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    #[test]
    fn a_registration_step_names_the_others_that_would_do() {
        let one = Step::Registration {
            regulator: "NMC".into(),
            or: Vec::new(),
        };
        assert_eq!(one.sentence(), "hold a current NMC registration");
        let either = Step::Registration {
            regulator: "NMC".into(),
            or: vec!["HCPC".into(), "GMC".into()],
        };
        assert_eq!(
            either.sentence(),
            "hold a current NMC registration, or an HCPC registration as a radiographer, or a GMC registration"
        );
        let json = serde_json::to_value(&one).unwrap();
        assert!(json.get("or").is_none(), "{json}");
    }
}
