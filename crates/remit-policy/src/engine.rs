//! Asking the pack: entities built directly from the domain's loaded facts (no JSON round trips), one Cedar
//! authorisation per question, and every satisfied `forbid` turned into its sentence.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
    RestrictedExpression,
};
use chrono::NaiveDate;
use remit_domain::nhs::NhsNumber;
use remit_domain::place::PlaceCode;
use remit_domain::staff::StaffProfile;
use serde::Serialize;

use crate::pack::PolicyPack;
use crate::reasons::Facts;
pub use remit_domain::supervision::Supervision;

/// The examination regions of the X-ray catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExamRegion {
    Chest,
    Appendicular,
    Axial,
}

impl ExamRegion {
    pub const ALL: [ExamRegion; 3] = [ExamRegion::Chest, ExamRegion::Appendicular, ExamRegion::Axial];

    pub fn as_str(self) -> &'static str {
        match self {
            ExamRegion::Chest => "chest",
            ExamRegion::Appendicular => "appendicular",
            ExamRegion::Axial => "axial",
        }
    }

    pub fn parse(s: &str) -> Result<Self, remit_domain::InvalidValue> {
        Self::ALL.into_iter().find(|v| v.as_str() == s.trim()).ok_or_else(|| {
            remit_domain::InvalidValue::new("exam", format!("`{s}` is not one of chest, appendicular, axial"))
        })
    }
}

/// The patient a question is about.
#[derive(Debug, Clone)]
pub struct PatientFacts {
    pub nhs_number: NhsNumber,
    pub place: PlaceCode,
    pub place_name: String,
}

/// Who supervises.
#[derive(Debug, Clone, Copy)]
pub enum SupervisorRef<'a> {
    /// Nobody is named.
    Nobody,
    /// This colleague is named.
    Named(&'a StaffProfile),
    /// "Could a suitable supervisor make this possible?" — for questions about a kind of work, not a request.
    AnySuitable,
}

/// One question to the pack.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub actor: &'a StaffProfile,
    pub activity: &'a str,
    /// The patient; `None` asks about the kind of work, wherever the actor is.
    pub patient: Option<&'a PatientFacts>,
    pub supervision: Supervision,
    pub supervisor: SupervisorRef<'a>,
    pub exam_region: Option<ExamRegion>,
    /// For staff-facing activities: the colleague acted on (the actor themselves when `None`).
    pub colleague: Option<&'a StaffProfile>,
    /// For a sign-off: the competency.
    pub competency: Option<&'a str>,
    pub open_task: bool,
    pub break_glass: bool,
    pub request_justified: bool,
    pub named_supervisor: bool,
    /// For acting on an escalation: its Chart 4 level (`ward`, `single-red`, `urgent`, `emergency`).
    pub escalation_level: Option<&'a str>,
    /// The day against which registrations and competencies are judged.
    pub today: NaiveDate,
}

impl<'a> Question<'a> {
    /// A question with no supervision and no request-specific facts.
    pub fn new(actor: &'a StaffProfile, activity: &'a str, today: NaiveDate) -> Self {
        Self {
            actor,
            activity,
            patient: None,
            supervision: Supervision::None,
            supervisor: SupervisorRef::Nobody,
            exam_region: None,
            colleague: None,
            competency: None,
            open_task: false,
            break_glass: false,
            request_justified: false,
            named_supervisor: false,
            escalation_level: None,
            today,
        }
    }
}

/// The pack's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// `"permit"` or `"deny"`.
    pub decision: &'static str,
    /// For a denial, every unmet requirement in the pack's words.
    pub reasons: Vec<String>,
    /// The policies that decided.
    pub policies: Vec<String>,
}

impl Decision {
    pub fn permitted(&self) -> bool {
        self.decision == "permit"
    }

    fn deny(reasons: Vec<String>, policies: Vec<String>) -> Self {
        Self {
            decision: "deny",
            reasons,
            policies,
        }
    }
}

/// One line of "what may this person do": the least supervision under which an activity is allowed, and why not
/// with less.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeLine {
    pub activity: String,
    pub title: String,
    /// The examination region or competency the line is about, where the activity depends on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `null`: not allowed under any supervision.
    pub least_supervision: Option<Supervision>,
    /// Why not with no supervision (when supervision is needed), or why not at all.
    pub reasons: Vec<String>,
}

fn type_name(name: &str) -> EntityTypeName {
    EntityTypeName::from_str(name).expect("remit's entity type names are valid")
}

fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
}

fn string_set<'s>(items: impl IntoIterator<Item = &'s str>) -> RestrictedExpression {
    RestrictedExpression::new_set(
        items
            .into_iter()
            .map(|s| RestrictedExpression::new_string(s.to_owned())),
    )
}

struct Types {
    staff: EntityTypeName,
    patient: EntityTypeName,
    place: EntityTypeName,
}

impl Types {
    fn get() -> &'static Types {
        static TYPES: std::sync::OnceLock<Types> = std::sync::OnceLock::new();
        TYPES.get_or_init(|| Types {
            staff: type_name("Staff"),
            patient: type_name("Patient"),
            place: type_name("Place"),
        })
    }
}

/// Which attributes to build: all of them, or only those a slice's policies can read.
#[derive(Clone, Copy)]
enum Wanted<'a> {
    All,
    Only(&'a HashSet<String>),
}

impl Wanted<'_> {
    fn has(self, name: &str) -> bool {
        match self {
            Wanted::All => true,
            Wanted::Only(set) => set.contains(name),
        }
    }
}

/// The Staff entity for a profile, with the facts as they are on `today`.
fn staff_entity(p: &StaffProfile, today: NaiveDate, wanted: Wanted<'_>) -> Entity {
    let t = Types::get();
    let mut attrs: HashMap<String, RestrictedExpression> = HashMap::with_capacity(13);
    let mut put = |name: &str, value: &dyn Fn() -> RestrictedExpression| {
        if wanted.has(name) {
            attrs.insert(name.to_owned(), value());
        }
    };
    let current = || p.registrations.iter().filter(move |r| r.is_current(today));
    put("name", &|| RestrictedExpression::new_string(p.staff.name.to_string()));
    put("level", &|| {
        RestrictedExpression::new_long(p.staff.level.map_or(0, |l| i64::from(l.get())))
    });
    put("trainee", &|| RestrictedExpression::new_bool(p.staff.trainee));
    put("active", &|| RestrictedExpression::new_bool(p.staff.is_active()));
    put("registered", &|| {
        RestrictedExpression::new_bool(current().next().is_some())
    });
    put("regulators", &|| string_set(current().map(|r| r.regulator.as_str())));
    put("annotations", &|| {
        string_set(current().flat_map(|r| r.annotations.iter().map(|a| a.as_str())))
    });
    put("competencies", &|| {
        string_set(
            p.competencies
                .iter()
                .filter(|c| c.is_valid_on(today))
                .map(|c| c.competency.as_str()),
        )
    });
    put("entitlements", &|| {
        string_set(p.entitlements.iter().map(|e| e.as_str()))
    });
    put("roles", &|| string_set(p.staff.roles.iter().map(|r| r.as_str())));
    put("professions", &|| {
        string_set(current().filter_map(|r| r.profession().map(|(code, _)| code)))
    });
    put("grade", &|| {
        RestrictedExpression::new_string(p.staff.grade.as_ref().map_or("", |g| g.as_str()).to_owned())
    });
    put("on_duty", &|| {
        RestrictedExpression::new_set(
            p.on_duty
                .iter()
                .map(|c| RestrictedExpression::new_entity_uid(uid(&t.place, c.as_str()))),
        )
    });
    let id = uid(&t.staff, p.staff.username.as_str());
    Entity::new(id, attrs, HashSet::new()).expect("staff attributes are literal values")
}

/// A stand-in supervisor who meets every supervision rule, on duty where the work is.
fn suitable_supervisor_entity(place: &EntityUid) -> Entity {
    let t = Types::get();
    let attrs: HashMap<String, RestrictedExpression> = [
        ("name", RestrictedExpression::new_string("A suitable supervisor".into())),
        ("level", RestrictedExpression::new_long(9)),
        ("trainee", RestrictedExpression::new_bool(false)),
        ("active", RestrictedExpression::new_bool(true)),
        ("registered", RestrictedExpression::new_bool(true)),
        ("regulators", string_set(["NMC", "HCPC", "GMC", "GPhC"])),
        ("annotations", string_set([])),
        ("competencies", string_set([])),
        ("entitlements", string_set([])),
        ("roles", string_set([])),
        (
            "professions",
            string_set(remit_domain::staff::HCPC_PROFESSIONS.iter().map(|(code, _)| *code)),
        ),
        ("grade", RestrictedExpression::new_string(String::new())),
        (
            "on_duty",
            RestrictedExpression::new_set([RestrictedExpression::new_entity_uid(place.clone())]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Entity::new(uid(&t.staff, "(a suitable supervisor)"), attrs, HashSet::new())
        .expect("supervisor attributes are literal values")
}

impl PolicyPack {
    /// Asks the pack one question.
    pub fn decide(&self, q: &Question<'_>) -> Decision {
        self.decide_inner(q, false)
    }

    /// The same, also checking the entities and context remit builds against the pack's schema. Slower; tests use
    /// it to prove that what `decide` builds conforms.
    pub fn decide_strict(&self, q: &Question<'_>) -> Decision {
        self.decide_inner(q, true)
    }

    fn decide_inner(&self, q: &Question<'_>, strict: bool) -> Decision {
        let schema = strict.then_some(&self.schema);
        let Some(slice) = self.slices.get(q.activity) else {
            return Decision::deny(
                vec![format!("`{}` is not an activity of this policy pack", q.activity)],
                vec![],
            );
        };
        let Some(activity) = self.activity(q.activity) else {
            return Decision::deny(
                vec![format!("`{}` is not in the activity catalogue", q.activity)],
                vec![],
            );
        };
        let a = &slice.attributes;
        let wanted = |set| if strict { Wanted::All } else { Wanted::Only(set) };
        let t = Types::get();
        // One entity playing two parts needs what both parts read.
        let two_parts = match (activity.patient_facing, q.supervisor, q.colleague) {
            (true, SupervisorRef::Named(s), _) => s.staff.username == q.actor.staff.username,
            (true, _, _) => false,
            (false, _, Some(c)) => c.staff.username == q.actor.staff.username,
            (false, _, None) => true,
        };
        let principal = staff_entity(
            q.actor,
            q.today,
            wanted(if two_parts { &a.any_staff } else { &a.principal }),
        );
        let principal_uid = principal.uid();
        let mut entities = Vec::with_capacity(slice.entities.len() + 4);
        entities.extend(slice.entities.iter().cloned());
        entities.push(principal);
        let mut pairs: Vec<(String, RestrictedExpression)> = Vec::with_capacity(9);
        let exam_competency = q
            .exam_region
            .and_then(|r| activity.exam_regions.get(r.as_str()))
            .map(String::as_str);
        let mut supervisor_name = None;

        let resource = if activity.patient_facing {
            let place = match (q.patient, q.actor.on_duty.first()) {
                (Some(p), _) => uid(&t.place, p.place.as_str()),
                (None, Some(duty)) => uid(&t.place, duty.as_str()),
                (None, None) => uid(&t.place, ""),
            };
            let patient_uid = uid(&t.patient, q.patient.map_or("", |p| p.nhs_number.as_str()));
            let patient = Entity::new(
                patient_uid.clone(),
                HashMap::from([("place".to_owned(), RestrictedExpression::new_entity_uid(place.clone()))]),
                HashSet::new(),
            )
            .expect("a patient's attributes are literal values");
            entities.push(patient);
            match q.supervisor {
                SupervisorRef::Nobody => {}
                SupervisorRef::Named(s) => {
                    supervisor_name = Some(s.staff.name.as_str());
                    let e = if s.staff.username == q.actor.staff.username {
                        None
                    } else {
                        Some(staff_entity(s, q.today, wanted(&a.supervisor)))
                    };
                    let suid = uid(&t.staff, s.staff.username.as_str());
                    if let Some(e) = e {
                        entities.push(e);
                    }
                    pairs.push(("supervisor".into(), RestrictedExpression::new_entity_uid(suid)));
                }
                SupervisorRef::AnySuitable => {
                    let e = suitable_supervisor_entity(&place);
                    pairs.push(("supervisor".into(), RestrictedExpression::new_entity_uid(e.uid())));
                    entities.push(e);
                }
            }
            pairs.extend([
                (
                    "supervision".into(),
                    RestrictedExpression::new_string(q.supervision.as_str().into()),
                ),
                (
                    "patient_known".into(),
                    RestrictedExpression::new_bool(q.patient.is_some()),
                ),
                ("open_task".into(), RestrictedExpression::new_bool(q.open_task)),
                ("break_glass".into(), RestrictedExpression::new_bool(q.break_glass)),
                (
                    "exam_region".into(),
                    RestrictedExpression::new_string(q.exam_region.map_or("", ExamRegion::as_str).into()),
                ),
                (
                    "request_justified".into(),
                    RestrictedExpression::new_bool(q.request_justified),
                ),
                (
                    "named_supervisor".into(),
                    RestrictedExpression::new_bool(q.named_supervisor),
                ),
                (
                    "escalation_level".into(),
                    RestrictedExpression::new_string(q.escalation_level.unwrap_or("").into()),
                ),
            ]);
            patient_uid
        } else {
            let colleague_uid = match q.colleague {
                Some(c) if c.staff.username != q.actor.staff.username => {
                    let e = staff_entity(c, q.today, wanted(&a.colleague));
                    let u = e.uid();
                    entities.push(e);
                    u
                }
                _ => principal_uid.clone(),
            };
            pairs.push((
                "competency".into(),
                RestrictedExpression::new_string(q.competency.unwrap_or("").into()),
            ));
            colleague_uid
        };

        pairs.retain(|(k, _)| wanted(&a.context).has(k));
        let context = match Context::from_pairs(pairs) {
            Ok(c) => c,
            Err(e) => return Decision::deny(vec![format!("the question could not be put to the pack: {e}")], vec![]),
        };
        let request = match Request::new(principal_uid, slice.uid.clone(), resource, context, schema) {
            Ok(r) => r,
            Err(e) => return Decision::deny(vec![format!("the question could not be put to the pack: {e}")], vec![]),
        };
        let entities = match Entities::from_entities(entities, schema) {
            Ok(e) => e,
            Err(e) => return Decision::deny(vec![format!("the question could not be put to the pack: {e}")], vec![]),
        };
        let response = self.authorizer.is_authorized(&request, &slice.policies, &entities);

        let facts = Facts {
            actor: q.actor,
            today: q.today,
            place: q.patient.map(|p| p.place_name.as_str()),
            supervisor: supervisor_name,
            colleague: q.colleague.map(|c| c.staff.name.as_str()),
            exam_competency,
            signoff_competency: q.competency,
        };
        let mut determining: Vec<_> = response.diagnostics().reason().cloned().collect();
        determining.sort_by_key(|id| self.order.get(id).copied().unwrap_or(usize::MAX));
        let policies: Vec<String> = determining.iter().map(ToString::to_string).collect();

        // Fail closed: a policy that errored might have been a forbid that should have applied.
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| format!("the policy pack could not be evaluated for this request ({e})"))
            .collect();
        if !errors.is_empty() {
            let mut reasons: Vec<String> = determining
                .iter()
                .filter_map(|id| slice.reasons.get(id))
                .map(|r| facts.render(r))
                .collect();
            reasons.extend(errors);
            return Decision::deny(reasons, policies);
        }
        match response.decision() {
            CedarDecision::Allow => Decision {
                decision: "permit",
                reasons: Vec::new(),
                policies,
            },
            CedarDecision::Deny => {
                let mut reasons: Vec<String> = determining
                    .iter()
                    .filter_map(|id| slice.reasons.get(id))
                    .map(|r| facts.render(r))
                    .collect();
                if reasons.is_empty() {
                    reasons.push("No rule of the policy pack permits this.".into());
                }
                Decision::deny(reasons, policies)
            }
        }
    }

    /// The least supervision under which the question would be permitted, trying none, indirect and direct in turn
    /// (with the named supervisor, or a suitable one when none is named). Returns it with the reasons it is needed,
    /// or `None` with the reasons nothing suffices.
    pub fn least_supervision(&self, q: &Question<'_>) -> (Option<Supervision>, Vec<String>) {
        let mut first_reasons = None;
        let mut last = Vec::new();
        for level in Supervision::ALL {
            let mut asked = q.clone();
            asked.supervision = level;
            asked.supervisor = match (level, q.supervisor) {
                (Supervision::None, _) => SupervisorRef::Nobody,
                (_, SupervisorRef::Nobody) => SupervisorRef::AnySuitable,
                (_, named) => named,
            };
            let d = self.decide(&asked);
            if d.permitted() {
                return (Some(level), first_reasons.unwrap_or_default());
            }
            if first_reasons.is_none() {
                first_reasons = Some(d.reasons.clone());
            }
            last = d.reasons;
        }
        (None, last)
    }

    /// What a person may do now, activity by activity, with the least supervision each needs. Facts of a particular
    /// request, not of the person, are taken as met: the imaging request is justified, the person is the supervisor
    /// named on the work. X-ray exposures are asked per examination region; sign-offs per competency the person
    /// holds.
    pub fn scope(&self, actor: &StaffProfile, today: NaiveDate) -> Vec<ScopeLine> {
        let mut lines = Vec::new();
        for a in &self.activities {
            let mut ask = |detail: Option<String>, mut q: Question<'_>| {
                q.request_justified = true;
                q.named_supervisor = true;
                let (least, reasons) = self.least_supervision(&q);
                lines.push(ScopeLine {
                    activity: a.id.clone(),
                    title: a.title.clone(),
                    detail,
                    least_supervision: least,
                    reasons,
                });
            };
            if !a.exam_regions.is_empty() {
                for region in ExamRegion::ALL {
                    let mut q = Question::new(actor, &a.id, today);
                    q.exam_region = Some(region);
                    ask(Some(region.as_str().to_owned()), q);
                }
            } else if a.id == "competency.sign-off" {
                let held: Vec<&str> = self
                    .competencies
                    .iter()
                    .map(|c| c.id.as_str())
                    .filter(|c| {
                        actor
                            .competencies
                            .iter()
                            .any(|r| r.competency.as_str() == *c && r.is_valid_on(today))
                    })
                    .collect();
                if held.is_empty() {
                    ask(None, Question::new(actor, &a.id, today));
                }
                for c in held {
                    let mut q = Question::new(actor, &a.id, today);
                    q.competency = Some(c);
                    ask(Some(c.to_owned()), q);
                }
            } else {
                ask(None, Question::new(actor, &a.id, today));
            }
        }
        lines
    }
}
