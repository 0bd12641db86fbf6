//! Asking the pack: entities built directly from the domain's loaded facts (no JSON round trips), one Cedar
//! authorisation per question, and every satisfied `forbid` turned into its sentence.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// An entity as a question names it. The patient is named apart from the facts, so that the facts of a question
/// about one patient can stand for those about another (see [`Memo`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Who {
    Staff(String),
    Place(String),
    ThePatient,
}

impl Who {
    fn uid(&self, patient: &str) -> EntityUid {
        let t = Types::get();
        match self {
            Who::Staff(id) => uid(&t.staff, id),
            Who::Place(id) => uid(&t.place, id),
            Who::ThePatient => uid(&t.patient, patient),
        }
    }
}

/// A value as Cedar is given it, in a form that can be compared and hashed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Val {
    Str(String),
    Long(i64),
    Bool(bool),
    Strs(Vec<String>),
    Entity(Who),
    Entities(Vec<Who>),
}

impl Val {
    fn strs<'s>(items: impl IntoIterator<Item = &'s str>) -> Val {
        Val::Strs(items.into_iter().map(str::to_owned).collect())
    }

    fn expr(&self, patient: &str) -> RestrictedExpression {
        match self {
            Val::Str(s) => RestrictedExpression::new_string(s.clone()),
            Val::Long(n) => RestrictedExpression::new_long(*n),
            Val::Bool(b) => RestrictedExpression::new_bool(*b),
            Val::Strs(items) => string_set(items.iter().map(String::as_str)),
            Val::Entity(who) => RestrictedExpression::new_entity_uid(who.uid(patient)),
            Val::Entities(items) => RestrictedExpression::new_set(
                items
                    .iter()
                    .map(|w| RestrictedExpression::new_entity_uid(w.uid(patient))),
            ),
        }
    }
}

/// An entity with the attributes to build.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Ent {
    who: Who,
    attrs: Vec<(&'static str, Val)>,
}

impl Ent {
    fn entity(&self, patient: &str) -> Entity {
        let attrs: HashMap<String, RestrictedExpression> = self
            .attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.expr(patient)))
            .collect();
        Entity::new(self.who.uid(patient), attrs, HashSet::new()).expect("remit's attributes are literal values")
    }
}

/// Everything one question puts to Cedar, but for the patient's NHS number and what the slice holds for its action.
/// Two questions to one slice with equal inputs (and, where a policy of the slice names a particular patient, the
/// same patient) get the same answer from Cedar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Inputs {
    principal: Who,
    resource: Who,
    entities: Vec<Ent>,
    context: Vec<(&'static str, Val)>,
}

/// How a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As the server asks: only what the slice's policies read is built, and a remembered permit is given again.
    Fast,
    /// Only whether it is permitted: a remembered refusal is given again too, without its reasons.
    Whether,
    /// Everything built and checked against the schema; nothing remembered.
    Strict,
}

/// The most answers a slice remembers; past it, it forgets them all and starts again.
const MEMO_MAX: usize = 1024;

/// Cedar's answer to some inputs, as remembered.
#[derive(Debug, Clone)]
enum Answer {
    /// Permitted, by these policies.
    Permit(Vec<String>),
    /// Refused. Kept only to say that it is one (`PolicyPack::permits`): a refusal's reasons are rendered from more
    /// than Cedar reads (the actor's lapsed registrations, names), so `decide` always asks Cedar again for them.
    Refuse,
}

/// The answers a slice has given, by the inputs that got them, for a slice whose policies name no particular
/// patient. A question whose inputs are remembered is answered without Cedar: the answer is a pure function of the
/// pack (fixed for the life of the `PolicyPack`) and the inputs, which hold every fact a policy of the slice can
/// read, as it stands on the day asked (competencies valid, registrations current, places on duty).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    answers: Mutex<HashMap<Inputs, Answer>>,
    answered: AtomicU64,
}

impl Memo {
    fn get(&self, inputs: &Inputs, refusals_too: bool) -> Option<Answer> {
        let answer = self.answers.lock().ok()?.get(inputs).cloned()?;
        if matches!(answer, Answer::Refuse) && !refusals_too {
            return None;
        }
        self.answered.fetch_add(1, Ordering::Relaxed);
        Some(answer)
    }

    fn keep(&self, inputs: Inputs, answer: Answer) {
        if let Ok(mut answers) = self.answers.lock() {
            // Held already (a refusal `decide` asked again for its reasons): the answer is the same.
            if answers.contains_key(&inputs) {
                return;
            }
            if answers.len() >= MEMO_MAX {
                answers.clear();
            }
            answers.insert(inputs, answer);
        }
    }
}

/// The Staff entity for a profile, with the facts as they are on `today`.
fn staff_entity(p: &StaffProfile, today: NaiveDate, wanted: Wanted<'_>) -> Ent {
    let mut attrs: Vec<(&'static str, Val)> = Vec::with_capacity(13);
    let mut put = |name: &'static str, value: &dyn Fn() -> Val| {
        if wanted.has(name) {
            attrs.push((name, value()));
        }
    };
    let current = || p.registrations.iter().filter(move |r| r.is_current(today));
    put("name", &|| Val::Str(p.staff.name.to_string()));
    put("level", &|| Val::Long(p.staff.level.map_or(0, |l| i64::from(l.get()))));
    put("trainee", &|| Val::Bool(p.staff.trainee));
    put("active", &|| Val::Bool(p.staff.is_active()));
    put("registered", &|| Val::Bool(current().next().is_some()));
    put("regulators", &|| Val::strs(current().map(|r| r.regulator.as_str())));
    put("annotations", &|| {
        Val::strs(current().flat_map(|r| r.annotations.iter().map(|a| a.as_str())))
    });
    put("competencies", &|| {
        Val::strs(
            p.competencies
                .iter()
                .filter(|c| c.is_valid_on(today))
                .map(|c| c.competency.as_str()),
        )
    });
    put("entitlements", &|| Val::strs(p.entitlements.iter().map(|e| e.as_str())));
    put("roles", &|| Val::strs(p.staff.roles.iter().map(|r| r.as_str())));
    put("professions", &|| {
        Val::strs(current().filter_map(|r| r.profession().map(|(code, _)| code)))
    });
    put("grade", &|| {
        Val::Str(p.staff.grade.as_ref().map_or("", |g| g.as_str()).to_owned())
    });
    put("on_duty", &|| {
        Val::Entities(p.on_duty.iter().map(|c| Who::Place(c.as_str().to_owned())).collect())
    });
    Ent {
        who: Who::Staff(p.staff.username.as_str().to_owned()),
        attrs,
    }
}

/// A stand-in supervisor who meets every supervision rule, on duty where the work is.
fn suitable_supervisor_entity(place: &Who) -> Ent {
    Ent {
        who: Who::Staff("(a suitable supervisor)".into()),
        attrs: vec![
            ("name", Val::Str("A suitable supervisor".into())),
            ("level", Val::Long(9)),
            ("trainee", Val::Bool(false)),
            ("active", Val::Bool(true)),
            ("registered", Val::Bool(true)),
            ("regulators", Val::strs(["NMC", "HCPC", "GMC", "GPhC"])),
            ("annotations", Val::Strs(vec![])),
            ("competencies", Val::Strs(vec![])),
            ("entitlements", Val::Strs(vec![])),
            ("roles", Val::Strs(vec![])),
            (
                "professions",
                Val::strs(remit_domain::staff::HCPC_PROFESSIONS.iter().map(|(code, _)| *code)),
            ),
            ("grade", Val::Str(String::new())),
            ("on_duty", Val::Entities(vec![place.clone()])),
        ],
    }
}

impl PolicyPack {
    /// Asks the pack one question.
    pub fn decide(&self, q: &Question<'_>) -> Decision {
        self.decide_inner(q, Mode::Fast)
    }

    /// Whether the pack permits the question: `decide(q).permitted()`, for callers that need no reasons (a list
    /// of who may act). A refusal remembered is answered from memory too.
    pub fn permits(&self, q: &Question<'_>) -> bool {
        self.decide_inner(q, Mode::Whether).permitted()
    }

    /// The same, also checking the entities and context remit builds against the pack's schema. Slower; tests use
    /// it to prove that what `decide` builds conforms. It never answers from remembered permits, nor adds to them.
    pub fn decide_strict(&self, q: &Question<'_>) -> Decision {
        self.decide_inner(q, Mode::Strict)
    }

    /// How many questions were answered from memory since the pack was loaded (see `Memo`).
    pub fn remembered_answers(&self) -> u64 {
        self.slices
            .values()
            .map(|s| s.memo.answered.load(Ordering::Relaxed))
            .sum()
    }

    fn decide_inner(&self, q: &Question<'_>, mode: Mode) -> Decision {
        let strict = mode == Mode::Strict;
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
        let principal_who = principal.who.clone();
        let mut entities = Vec::with_capacity(3);
        entities.push(principal);
        let mut context: Vec<(&'static str, Val)> = Vec::with_capacity(9);
        let exam_competency = q
            .exam_region
            .and_then(|r| activity.exam_regions.get(r.as_str()))
            .map(String::as_str);
        let mut supervisor_name = None;
        let patient_id = q.patient.map_or("", |p| p.nhs_number.as_str());

        let resource = if activity.patient_facing {
            let place = match (q.patient, q.actor.on_duty.first()) {
                (Some(p), _) => Who::Place(p.place.as_str().to_owned()),
                (None, Some(duty)) => Who::Place(duty.as_str().to_owned()),
                (None, None) => Who::Place(String::new()),
            };
            match q.supervisor {
                SupervisorRef::Nobody => {}
                SupervisorRef::Named(s) => {
                    supervisor_name = Some(s.staff.name.as_str());
                    if s.staff.username != q.actor.staff.username {
                        entities.push(staff_entity(s, q.today, wanted(&a.supervisor)));
                    }
                    context.push((
                        "supervisor",
                        Val::Entity(Who::Staff(s.staff.username.as_str().to_owned())),
                    ));
                }
                SupervisorRef::AnySuitable => {
                    let e = suitable_supervisor_entity(&place);
                    context.push(("supervisor", Val::Entity(e.who.clone())));
                    entities.push(e);
                }
            }
            entities.push(Ent {
                who: Who::ThePatient,
                attrs: vec![("place", Val::Entity(place))],
            });
            context.extend([
                ("supervision", Val::Str(q.supervision.as_str().into())),
                ("patient_known", Val::Bool(q.patient.is_some())),
                ("open_task", Val::Bool(q.open_task)),
                ("break_glass", Val::Bool(q.break_glass)),
                (
                    "exam_region",
                    Val::Str(q.exam_region.map_or("", ExamRegion::as_str).into()),
                ),
                ("request_justified", Val::Bool(q.request_justified)),
                ("named_supervisor", Val::Bool(q.named_supervisor)),
                ("escalation_level", Val::Str(q.escalation_level.unwrap_or("").into())),
            ]);
            Who::ThePatient
        } else {
            let colleague = match q.colleague {
                Some(c) if c.staff.username != q.actor.staff.username => {
                    let e = staff_entity(c, q.today, wanted(&a.colleague));
                    let who = e.who.clone();
                    entities.push(e);
                    who
                }
                _ => principal_who.clone(),
            };
            context.push(("competency", Val::Str(q.competency.unwrap_or("").into())));
            colleague
        };
        context.retain(|(k, _)| wanted(&a.context).has(k));
        let inputs = Inputs {
            principal: principal_who,
            resource,
            entities,
            context,
        };

        // The same inputs were answered before: the same answer again.
        let memo = (!strict && !slice.names_patient).then_some(&slice.memo);
        match memo.and_then(|m| m.get(&inputs, mode == Mode::Whether)) {
            Some(Answer::Permit(policies)) => {
                return Decision {
                    decision: "permit",
                    reasons: Vec::new(),
                    policies,
                };
            }
            Some(Answer::Refuse) => return Decision::deny(Vec::new(), Vec::new()),
            None => {}
        }

        // Cedar is given nothing but what `inputs` holds (and the slice's own entities): so equal inputs, equal answers.
        let context = match Context::from_pairs(
            inputs
                .context
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.expr(patient_id))),
        ) {
            Ok(c) => c,
            Err(e) => return Decision::deny(vec![format!("the question could not be put to the pack: {e}")], vec![]),
        };
        let request = match Request::new(
            inputs.principal.uid(patient_id),
            slice.uid.clone(),
            inputs.resource.uid(patient_id),
            context,
            schema,
        ) {
            Ok(r) => r,
            Err(e) => return Decision::deny(vec![format!("the question could not be put to the pack: {e}")], vec![]),
        };
        let built = slice
            .entities
            .iter()
            .cloned()
            .chain(inputs.entities.iter().map(|e| e.entity(patient_id)));
        let entities = match Entities::from_entities(built, schema) {
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
            if let Some(memo) = memo {
                memo.keep(inputs, Answer::Refuse);
            }
            let mut reasons: Vec<String> = determining
                .iter()
                .filter_map(|id| slice.reasons.get(id))
                .map(|r| facts.render(r))
                .collect();
            reasons.extend(errors);
            return Decision::deny(reasons, policies);
        }
        match response.decision() {
            CedarDecision::Allow => {
                if let Some(memo) = memo {
                    memo.keep(inputs, Answer::Permit(policies.clone()));
                }
                Decision {
                    decision: "permit",
                    reasons: Vec::new(),
                    policies,
                }
            }
            CedarDecision::Deny => {
                if let Some(memo) = memo {
                    memo.keep(inputs, Answer::Refuse);
                }
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

#[cfg(test)]
mod tests {
    use chrono::Days;
    use remit_domain::place::PlaceCode;

    use super::*;

    use crate::fixture::{self, Fixture, deny, fixture, permit, supervised};

    /// Asks `q` as the server does, and checks the answer against one built and checked in full, never remembered.
    fn asked(pack: &PolicyPack, q: &Question<'_>) -> Decision {
        let d = pack.decide(q);
        assert_eq!(d, pack.decide_strict(q), "{q:?}");
        d
    }

    /// Asks only whether, as lists of who may act do, and checks it against the full answer.
    fn permits(pack: &PolicyPack, q: &Question<'_>) -> bool {
        let p = pack.permits(q);
        assert_eq!(p, pack.decide_strict(q).permitted(), "{q:?}");
        p
    }

    fn patient(nhs: &str, place: &str) -> PatientFacts {
        PatientFacts {
            nhs_number: NhsNumber::parse(nhs).unwrap(),
            place: PlaceCode::parse(place).unwrap(),
            place_name: format!("{place}'s name"),
        }
    }

    #[test]
    fn a_permit_is_remembered_and_given_again_for_the_same_facts_about_another_patient_in_the_same_place() {
        let f = fixture();
        let first = asked(&f.pack, &permit(&f));
        assert!(first.permitted());
        assert_eq!(f.pack.remembered_answers(), 0);
        assert_eq!(asked(&f.pack, &permit(&f)), first);
        assert_eq!(f.pack.remembered_answers(), 1, "the same question again");
        let other = patient("9990001383", "ward-7");
        let mut q = permit(&f);
        q.patient = Some(&other);
        assert_eq!(asked(&f.pack, &q), first);
        assert_eq!(f.pack.remembered_answers(), 2, "another patient on the same ward");
        // Supervised: two staff entities and the supervisor in the context.
        let s = asked(&f.pack, &supervised(&f));
        assert!(s.permitted());
        assert_eq!(asked(&f.pack, &supervised(&f)), s);
        assert_eq!(f.pack.remembered_answers(), 3);
    }

    #[test]
    fn a_refusal_is_remembered_only_as_one_never_for_its_reasons() {
        let f = fixture();
        let d = asked(&f.pack, &deny(&f));
        assert!(!d.permitted());
        assert!(!d.reasons.is_empty());
        assert_eq!(asked(&f.pack, &deny(&f)), d, "its reasons are rendered again");
        assert_eq!(f.pack.remembered_answers(), 0);
        assert!(!permits(&f.pack, &deny(&f)));
        assert_eq!(f.pack.remembered_answers(), 1, "asked only whether");
        assert!(permits(&f.pack, &permit(&f)));
        assert!(permits(&f.pack, &permit(&f)));
        assert_eq!(f.pack.remembered_answers(), 2);
    }

    #[test]
    fn a_remembered_permit_is_not_given_once_a_fact_it_stood_on_has_changed() {
        let f = fixture();
        assert!(asked(&f.pack, &permit(&f)).permitted());
        let expires = f.alex.competencies[0].expires_on;
        // The day after the competency lapses.
        let mut q = permit(&f);
        q.today = expires + Days::new(1);
        let d = asked(&f.pack, &q);
        assert!(!d.permitted(), "{d:?}");
        assert!(d.reasons.iter().any(|r| r.contains("vital-signs")), "{:?}", d.reasons);
        // Revoked.
        let mut revoked = f.alex.clone();
        revoked.competencies[0].revoked = true;
        let mut q = permit(&f);
        q.actor = &revoked;
        assert!(!asked(&f.pack, &q).permitted());
        // Off duty where the patient is.
        let elsewhere = patient("9990001383", "ward-9");
        let mut q = permit(&f);
        q.patient = Some(&elsewhere);
        assert!(!asked(&f.pack, &q).permitted());
        // No longer active.
        let mut left = f.alex.clone();
        left.staff.status = remit_domain::staff::StaffStatus::Suspended;
        let mut q = permit(&f);
        q.actor = &left;
        assert!(!asked(&f.pack, &q).permitted());
        assert_eq!(f.pack.remembered_answers(), 0);
        // And the first is still given as before.
        assert!(asked(&f.pack, &permit(&f)).permitted());
        assert_eq!(f.pack.remembered_answers(), 1);
    }

    #[test]
    fn a_pack_that_names_a_patient_remembers_nothing_for_that_activity() {
        let dir = crate::pack::tests::edited("10-patient-facing.cedar", |text| {
            format!(
                "{text}\n@id(\"vip\")\n@reason(\"This patient's record is restricted.\")\n\
                 forbid (principal, action == Action::\"vitals.record\", resource == Patient::\"9990001383\");\n"
            )
        });
        let f = Fixture {
            pack: PolicyPack::load(dir.path()).unwrap(),
            ..fixture()
        };
        assert!(asked(&f.pack, &permit(&f)).permitted());
        assert!(asked(&f.pack, &permit(&f)).permitted());
        let vip = patient("9990001383", "ward-7");
        let mut q = permit(&f);
        q.patient = Some(&vip);
        let d = asked(&f.pack, &q);
        assert_eq!(d.reasons, ["This patient's record is restricted."]);
        assert_eq!(f.pack.remembered_answers(), 0);
    }

    #[test]
    fn a_slice_that_has_remembered_its_most_forgets_and_still_answers_as_cedar_does() {
        let f = fixture();
        let people = fixture::strangers(&f, MEMO_MAX + 100);
        let held = |slice: &str| f.pack.slices[slice].memo.answers.lock().unwrap().len();
        // A refusal asked again for its reasons is kept once.
        assert!(!asked(&f.pack, &deny(&f)).permitted());
        assert!(!asked(&f.pack, &deny(&f)).permitted());
        assert_eq!(held("medicines.prescribe"), 1);
        let ask = |p| {
            let mut q = permit(&f);
            q.actor = p;
            assert!(asked(&f.pack, &q).permitted());
            assert!(held("vitals.record") <= MEMO_MAX);
        };
        people.iter().for_each(ask);
        // Full at the 1,025th person: all forgotten, and the last 100 kept since.
        assert_eq!(held("vitals.record"), 100);
        assert_eq!(f.pack.remembered_answers(), 0);
        people[MEMO_MAX..].iter().for_each(ask);
        assert_eq!(f.pack.remembered_answers(), 100, "the last 100 answered from memory");
        people[..100].iter().for_each(ask);
        assert_eq!(f.pack.remembered_answers(), 100, "the first 100 put to Cedar again");
        assert_eq!(held("vitals.record"), 200);
        // A changed fact is put to Cedar.
        let mut suspended = people[MEMO_MAX].clone();
        suspended.staff.status = remit_domain::staff::StaffStatus::Suspended;
        let mut q = permit(&f);
        q.actor = &suspended;
        assert!(!asked(&f.pack, &q).permitted());
    }

    /// Every activity, asked by people of every kind, with and without supervision, on and off their ward, twice:
    /// each answer equals the one built and checked in full, whether it came from a remembered permit or not.
    #[test]
    fn remembered_permits_answer_every_question_as_cedar_does() {
        let f = fixture();
        let today = f.today;
        let mut rn = fixture::profile("rin.rn", "Rin Okafor", 5, true, &["vital-signs"], today);
        rn.registrations[0]
            .annotations
            .insert(remit_domain::staff::Annotation::parse("independent-prescriber").unwrap());
        let mut radiographer = fixture::profile("ray.ra", "Ray Diaz", 6, false, &["xray-chest"], today);
        radiographer.registrations.push(remit_domain::staff::Registration {
            regulator: remit_domain::staff::Regulator::Hcpc,
            number: "RA012345".into(),
            expires_on: today + Days::new(30),
            annotations: Default::default(),
        });
        let mut lead = f.priya.clone();
        lead.staff
            .roles
            .insert(remit_domain::staff::Role::parse("education-lead").unwrap());
        let people = [&f.alex, &f.sam, &f.priya, &rn, &radiographer, &lead];
        let patients = [
            patient("9990001375", "ward-7"),
            patient("9990001383", "ward-7"),
            patient("9990001391", "ward-9"),
        ];
        let activities: Vec<String> = f.pack.activities().iter().map(|a| a.id.clone()).collect();
        let competencies: Vec<String> = f.pack.competencies().iter().map(|c| c.id.clone()).collect();
        let mut asked_n = 0u64;
        for round in 0..2 {
            let mut i = 0;
            for activity in &activities {
                for actor in people {
                    for supervisor in [&f.priya, &f.sam, &radiographer] {
                        for pt in patients.iter().map(Some).chain([None]) {
                            for supervision in Supervision::ALL {
                                let mut q = Question::new(actor, activity, today);
                                q.patient = pt;
                                q.supervision = supervision;
                                q.supervisor = match supervision {
                                    Supervision::None => SupervisorRef::Nobody,
                                    _ if i % 3 == 0 => SupervisorRef::AnySuitable,
                                    _ => SupervisorRef::Named(supervisor),
                                };
                                q.colleague = Some(supervisor);
                                q.competency = competencies.get(i % competencies.len()).map(String::as_str);
                                q.exam_region = Some(ExamRegion::ALL[(i / 3) % 3]);
                                q.open_task = i % 5 == 0;
                                q.request_justified = i % 4 < 2;
                                q.named_supervisor = i % 7 != 0;
                                if (i + round) % 2 == 0 {
                                    asked(&f.pack, &q);
                                } else {
                                    permits(&f.pack, &q);
                                }
                                i += 1;
                                asked_n += 1;
                            }
                        }
                    }
                }
            }
            if round == 0 {
                assert!(f.pack.remembered_answers() > 0);
            }
        }
        // No slice remembers more than its bound.
        let held: Vec<usize> = f
            .pack
            .slices
            .values()
            .map(|s| s.memo.answers.lock().unwrap().len())
            .collect();
        assert!(held.iter().all(|n| *n <= MEMO_MAX), "{held:?}");
        assert!(held.iter().any(|n| *n > 0));
        // Much of the second round came from memory.
        assert!(
            f.pack.remembered_answers() * 3 > asked_n,
            "{asked_n} asked, {}",
            f.pack.remembered_answers()
        );
        // What a person may do, twice.
        for actor in people {
            assert_eq!(f.pack.scope(actor, today), f.pack.scope(actor, today));
        }
    }
}
