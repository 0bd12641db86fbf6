//! The one place that puts questions to the policy pack: it loads the facts as they stand now (the actor's
//! profile, the supervisor's, the patient's place) and asks. Pages, the JSON API and the CLI all come here.

use remit_domain::audit::{AuditDraft, Decision as AuditDecision};
use remit_domain::imaging::RequestView;
use remit_domain::nhs::NhsNumber;
use remit_domain::place::Place;
use remit_domain::staff::{CompetencyId, StaffProfile, Username};
use remit_domain::task::TaskView;
use remit_policy::{Decision, ExamRegion, PatientFacts, PolicyPack, Question, ScopeLine, Supervision, SupervisorRef};
use remit_store::patient::PatientRecord;
use remit_store::{Store, StoreError};
use serde::Serialize;

use crate::Principal;

/// How a clinical command ended, short of a database failure.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    /// Refused with every reason; the refusal is in the audit log.
    Refused(Vec<String>),
}

/// Records a refusal with every reason, and answers it.
pub async fn refuse<T>(
    store: &Store,
    actor: &str,
    action: &str,
    target: &str,
    reasons: Vec<String>,
    payload: &impl Serialize,
) -> Result<Outcome<T>, StoreError> {
    store
        .record(AuditDraft::deny(actor, action, target, reasons.clone()).with_payload(payload))
        .await?;
    Ok(Outcome::Refused(reasons))
}

/// Records the refusal of a read that is a role's rather than the policy's to decide (the audit log, metrics, the
/// competency matrix, an X-ray request or task outside one's reach), and answers its reasons: every refusal is in
/// the audit log, reads included.
pub async fn refuse_read(
    store: &Store,
    actor: &Principal,
    action: &str,
    target: &str,
    reasons: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    store
        .record(AuditDraft::deny(actor.audit_name(), action, target, reasons.clone()))
        .await?;
    Ok(reasons)
}

/// A question about one action, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Ask {
    pub staff: Username,
    pub activity: String,
    pub patient: Option<NhsNumber>,
    pub exam: Option<ExamRegion>,
    pub supervision: Supervision,
    pub supervisor: Option<Username>,
    /// The competency, for a sign-off.
    pub competency: Option<CompetencyId>,
    /// The colleague acted on, for staff-facing activities.
    pub colleague: Option<Username>,
    /// A stated break-glass reason opens a record outside the actor's duty (audited).
    pub break_glass: Option<String>,
    /// Whether the imaging request is justified (for exposures; questions about a kind of work assume it is).
    pub request_justified: bool,
    pub named_supervisor: bool,
    /// Where the work happens when it is not where the patient is: the department of an X-ray request.
    pub place: Option<remit_domain::place::PlaceCode>,
    /// For acting on an escalation: its Chart 4 level.
    pub escalation_level: Option<remit_domain::obs::EscalationLevel>,
}

impl Ask {
    pub fn new(staff: Username, activity: impl Into<String>) -> Self {
        Self {
            staff,
            activity: activity.into(),
            patient: None,
            exam: None,
            supervision: Supervision::None,
            supervisor: None,
            competency: None,
            colleague: None,
            break_glass: None,
            request_justified: false,
            named_supervisor: false,
            place: None,
            escalation_level: None,
        }
    }
}

/// The place a patient who does not exist is judged to be on: a code no place is expected to have (were one given
/// it, those on duty there would be told only that there is no such patient).
const NOBODYS_PLACE: &str = "no-such-patient";

/// How a refusal names the place of a patient its reader may not see.
const VEILED_PLACE: &str = "the patient's ward or department";

/// A patient as judged for someone who may not learn where they are: on nobody's ward, the place named as "the
/// patient's ward or department".
fn veiled(nhs: &NhsNumber) -> Result<PatientFacts, StoreError> {
    Ok(PatientFacts {
        nhs_number: nhs.clone(),
        place: remit_domain::place::PlaceCode::parse(NOBODYS_PLACE)?,
        place_name: VEILED_PLACE.to_owned(),
    })
}

/// How a refusal is told: plainly, or veiled for someone who may not learn where the patient is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    Plainly,
    Veiled,
}

/// The facts a question needs, loaded as they stand now.
pub struct Facts {
    pub actor: StaffProfile,
    pub supervisor: Option<StaffProfile>,
    pub colleague: Option<StaffProfile>,
    /// The patient as the policy sees them: where the work happens.
    pub patient: Option<PatientFacts>,
    /// The patient's record as the store holds it (its id, the scale 2 prescription, the actor's open tasks), for
    /// the command that follows the question.
    pub record: Option<PatientRecord>,
    /// The patient as a refusal to someone who may not learn where they are judges them (see [`Facts::decide`]).
    veiled: Option<PatientFacts>,
    pub today: chrono::NaiveDate,
}

impl Facts {
    /// Loads them. Unknown staff, patients or activities are bad input (not-found / invalid errors).
    pub async fn load(store: &Store, pack: &PolicyPack, ask: &Ask) -> Result<Self, StoreError> {
        Self::load_with(store, pack, ask, None).await
    }

    /// Loads them, reusing the actor's profile when this request already loaded it (signing in loads it), and
    /// reading the patient's record as the store stood then.
    pub async fn load_with(
        store: &Store,
        pack: &PolicyPack,
        ask: &Ask,
        actor: Option<&Principal>,
    ) -> Result<Self, StoreError> {
        if pack.activity(&ask.activity).is_none() {
            let known: Vec<&str> = pack.activities().iter().map(|a| a.id.as_str()).collect();
            return Err(StoreError::Invalid(format!(
                "action: `{}` is not an activity of the policy pack (known: {})",
                ask.activity,
                known.join(", ")
            )));
        }
        let (actor, versions) = match actor {
            Some(a) if a.profile.staff.username == ask.staff => (a.profile.clone(), Some(a.versions)),
            _ => (store.staff_profile(&ask.staff).await?, None),
        };
        let supervisor = match &ask.supervisor {
            Some(u) => Some(store.staff_profile(u).await?),
            None => None,
        };
        let colleague = match &ask.colleague {
            Some(u) => Some(store.staff_profile(u).await?),
            None => None,
        };
        let record = match &ask.patient {
            Some(nhs) => match store.patient_record(nhs, actor.id, versions).await {
                Ok(r) => Some(r),
                // Judged as a patient on nobody's ward, so that the answer is the one a patient the actor may not
                // see gets (see `Facts::decide`); the command that follows finds no record to act on.
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let patient = match &record {
            None => ask.patient.as_ref().map(veiled).transpose()?,
            Some(r) => Some(match &ask.place {
                Some(code) if *code != r.patient.place => PatientFacts {
                    nhs_number: r.patient.nhs_number.clone(),
                    place: code.clone(),
                    place_name: store.place(code).await?.name,
                },
                _ => PatientFacts {
                    nhs_number: r.patient.nhs_number.clone(),
                    place: r.patient.place.clone(),
                    place_name: r.place_name.clone(),
                },
            }),
        };
        let veiled = ask.patient.as_ref().map(veiled).transpose()?;
        Ok(Self {
            actor,
            supervisor,
            colleague,
            patient,
            record,
            veiled,
            today: store.now().date_naive(),
        })
    }

    /// The patient's record the question was about, taken for the command that follows it.
    pub fn take_record(&mut self) -> Result<PatientRecord, StoreError> {
        self.record.take().ok_or_else(|| match &self.patient {
            Some(p) => StoreError::NotFound(format!("no patient with NHS number `{}`", p.nhs_number)),
            None => StoreError::Invalid("the question names no patient".into()),
        })
    }

    /// Asks the pack. A refusal about a patient whose place the actor does not know already — one on no ward they
    /// are on duty in, for whom they hold no open task, or one who does not exist — is judged as about a patient on
    /// nobody's ward and names the place only as "the patient's ward or department": both answer alike, so that a
    /// refusal tells nobody where a patient is, or whether there is one.
    pub fn decide(&self, pack: &PolicyPack, ask: &Ask) -> Decision {
        let mut q = self.question(ask);
        let decision = pack.decide(&q);
        if decision.permitted() || self.knows_place() {
            return decision;
        }
        q.open_task = false;
        self.decide_veiled(pack, q).unwrap_or(decision)
    }

    /// Whether the actor knows where the patient is already: on duty where the question is judged or where the
    /// patient is, or holding an open task for them.
    fn knows_place(&self) -> bool {
        let (Some(record), Some(facts)) = (&self.record, &self.patient) else {
            return false;
        };
        let on_duty = &self.actor.on_duty;
        on_duty.contains(&facts.place) || on_duty.contains(&record.patient.place) || !record.task_activities.is_empty()
    }

    /// `q`'s refusal as told to someone who may not learn where the patient is: judged on nobody's ward, the place
    /// named as "the patient's ward or department", so that nothing in it (its reasons, or which rules fired)
    /// depends on where the patient is. `None` when it would not be a refusal so judged: veiling changes what a
    /// refusal says, never that it is one.
    pub fn decide_veiled<'a>(&'a self, pack: &PolicyPack, mut q: Question<'a>) -> Option<Decision> {
        q.patient = Some(self.veiled.as_ref()?);
        let said = pack.decide(&q);
        (!said.permitted()).then_some(said)
    }

    /// Asks as if the actor held an open task for the patient (a task about to be delegated to them opens the
    /// record to them), for a listener who may or may not learn where the patient is (see
    /// [`Facts::decide_veiled`]).
    pub fn decide_as_if_tasked(&self, pack: &PolicyPack, ask: &Ask, told: Told) -> Decision {
        let mut q = self.question(ask);
        q.open_task = true;
        let said = pack.decide(&q);
        match told {
            Told::Plainly => said,
            Told::Veiled => self.decide_veiled(pack, q).unwrap_or(said),
        }
    }

    /// The question these facts and `ask` make.
    pub fn question<'a>(&'a self, ask: &'a Ask) -> Question<'a> {
        let mut q = Question::new(&self.actor, &ask.activity, self.today);
        q.patient = self.patient.as_ref();
        q.supervision = ask.supervision;
        q.supervisor = self
            .supervisor
            .as_ref()
            .map_or(SupervisorRef::Nobody, SupervisorRef::Named);
        q.exam_region = ask.exam;
        q.colleague = self.colleague.as_ref();
        q.competency = ask.competency.as_ref().map(CompetencyId::as_str);
        q.break_glass = ask.break_glass.is_some();
        q.request_justified = ask.request_justified;
        q.named_supervisor = ask.named_supervisor;
        q.escalation_level = ask.escalation_level.map(remit_domain::obs::EscalationLevel::as_str);
        q.open_task = self.record.as_ref().is_some_and(|r| r.task_opens(&ask.activity));
        q
    }
}

/// May `actor` read the patient's record now (`record.read`)? With `place`, judged where the work happens (an X-ray
/// request's department) rather than where the patient is. Unaudited: for questions inside a command, and for what
/// a list leaves out.
pub async fn may_read(
    store: &Store,
    pack: &PolicyPack,
    actor: &Username,
    patient: &NhsNumber,
    place: Option<remit_domain::place::PlaceCode>,
) -> Result<Decision, StoreError> {
    let mut ask = Ask::new(actor.clone(), "record.read");
    ask.patient = Some(patient.clone());
    ask.place = place;
    check(store, pack, &ask).await
}

/// Something kept about a patient that more people than those who may read the patient's record may read.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// An X-ray request: its referrer, and anyone who may read the patient's record on the patient's ward or in the
    /// department.
    Request(&'a RequestView),
    /// A delegated task: its delegator, delegatee and named supervisor, and anyone who may read the patient's
    /// record.
    Task(&'a TaskView),
}

impl Item<'_> {
    fn patient(&self) -> &NhsNumber {
        match self {
            Item::Request(r) => &r.patient,
            Item::Task(t) => &t.patient,
        }
    }

    /// Whether `who` reads it as a party to it rather than through the patient's record.
    fn party(&self, who: &str) -> bool {
        match self {
            Item::Request(r) => r.referrer == who,
            Item::Task(t) => t.delegator == who || t.delegatee == who || t.supervisor.as_deref() == Some(who),
        }
    }

    /// Where else than the patient's place the record may be read for it: the request's department.
    fn also_at(&self) -> Result<Option<remit_domain::place::PlaceCode>, StoreError> {
        match self {
            Item::Request(r) => Ok(Some(remit_domain::place::PlaceCode::parse(&r.department)?)),
            Item::Task(_) => Ok(None),
        }
    }
}

/// May `principal` read `item` now? Unaudited: for lists, which leave out what their reader may not see.
pub async fn may_read_item(
    store: &Store,
    pack: &PolicyPack,
    principal: &Principal,
    item: Item<'_>,
) -> Result<bool, StoreError> {
    let who = &principal.profile.staff.username;
    if item.party(who.as_str()) || may_read(store, pack, who, item.patient(), None).await?.permitted() {
        return Ok(true);
    }
    Ok(match item.also_at()? {
        Some(place) => may_read(store, pack, who, item.patient(), Some(place))
            .await?
            .permitted(),
        None => false,
    })
}

/// Opens `item` to `principal`, or refuses with the reason, audited (`imaging.read`, `task.read`): for a read of
/// the one item.
pub async fn open_item(
    store: &Store,
    pack: &PolicyPack,
    principal: &Principal,
    item: Item<'_>,
) -> Result<Outcome<()>, StoreError> {
    if may_read_item(store, pack, principal, item).await? {
        return Ok(Outcome::Done(()));
    }
    let name = &principal.profile.staff.name;
    let (action, target, why) = match item {
        Item::Request(r) => (
            "imaging.read",
            format!("imaging-request:{}", r.id),
            format!("{name} is not on duty where this patient is, nor in the department, and did not refer them."),
        ),
        Item::Task(t) => (
            "task.read",
            format!("task:{}", t.id),
            format!("{name} is not part of this task and may not read the record of its patient"),
        ),
    };
    Ok(Outcome::Refused(
        refuse_read(store, principal, action, &target, vec![why]).await?,
    ))
}

/// Opens the patient's record to `actor` (`record.read`), or refuses with every reason, audited: the one decision
/// "may this person see this patient". With `also`, a record the actor may not read where the patient is opens if
/// they may read it there (an imaging department, for its own records). A stated break-glass reason opens a record
/// outside the actor's duty; that read is audited with the reason. What is opened is the patient's record as the
/// question saw it. A patient who does not exist is refused as one the actor may not see (see [`Facts::decide`]).
pub async fn open_record(
    store: &Store,
    pack: &PolicyPack,
    actor: &Principal,
    patient: &NhsNumber,
    break_glass: Option<&str>,
    also: Option<&remit_domain::place::PlaceCode>,
) -> Result<Outcome<PatientRecord>, StoreError> {
    let username = &actor.profile.staff.username;
    let mut ask = Ask::new(username.clone(), "record.read");
    ask.patient = Some(patient.clone());
    let mut facts = Facts::load_with(store, pack, &ask, Some(actor)).await?;
    let mut decision = facts.decide(pack, &ask);
    if decision.permitted() {
        return Ok(Outcome::Done(facts.take_record()?));
    }
    if let Some(place) = also.filter(|_| facts.record.is_some()) {
        let mut there = ask.clone();
        there.place = Some(place.clone());
        let mut facts = Facts::load_with(store, pack, &there, Some(actor)).await?;
        if facts.decide(pack, &there).permitted() {
            return Ok(Outcome::Done(facts.take_record()?));
        }
    }
    let who = format!("staff:{username}");
    let target = format!("patient:{patient}");
    if let Some(reason) = break_glass {
        let mut glass = ask.clone();
        glass.break_glass = Some(reason.to_owned());
        decision = facts.decide(pack, &glass);
        if decision.permitted() {
            // Audited whether or not there is such a patient: probing numbers by break-glass leaves a trail.
            let mut draft = AuditDraft::permit(&who, "record.read", &target);
            draft.reasons = vec![format!("break-glass: {reason}")];
            store.record(draft).await?;
            return Ok(Outcome::Done(facts.take_record()?));
        }
    }
    refuse(store, &who, "record.read", &target, decision.reasons, &()).await
}

/// Which of these patients (NHS number and place) `actor` may read now (`record.read`): their duty, an open task,
/// with the actor's profile and the places loaded once. Where no policy names a particular patient, the question is
/// asked once per place and open-task fact, not once per patient.
pub async fn readable(
    store: &Store,
    pack: &PolicyPack,
    actor: &StaffProfile,
    patients: &[(NhsNumber, String)],
) -> Result<std::collections::BTreeSet<NhsNumber>, StoreError> {
    let (places, tasks) = tokio::try_join!(store.places(), store.open_task_patients(actor.id))?;
    readable_among(pack, actor, &places, &tasks, store.now().date_naive(), patients)
}

/// [`readable`], given what it reads: every place, and the patients for whom `actor` holds an open task.
pub fn readable_among(
    pack: &PolicyPack,
    actor: &StaffProfile,
    places: &[Place],
    tasks: &std::collections::BTreeSet<String>,
    today: chrono::NaiveDate,
    patients: &[(NhsNumber, String)],
) -> Result<std::collections::BTreeSet<NhsNumber>, StoreError> {
    let places: std::collections::BTreeMap<&str, &str> =
        places.iter().map(|p| (p.code.as_str(), p.name.as_str())).collect();
    let alike = pack.alike_for_every_patient("record.read");
    let mut asked: std::collections::HashMap<(&str, bool), bool> = std::collections::HashMap::new();
    let mut out = std::collections::BTreeSet::new();
    for (nhs, place) in patients {
        let open_task = tasks.contains(nhs.as_str());
        let ask = || -> Result<bool, StoreError> {
            let facts = PatientFacts {
                nhs_number: nhs.clone(),
                place: remit_domain::place::PlaceCode::parse(place)?,
                place_name: places.get(place.as_str()).map(|n| (*n).to_owned()).unwrap_or_default(),
            };
            let mut q = Question::new(actor, "record.read", today);
            q.patient = Some(&facts);
            q.open_task = open_task;
            Ok(pack.permits(&q))
        };
        let permitted = match asked.get(&(place.as_str(), open_task)) {
            Some(p) if alike => *p,
            _ => {
                let p = ask()?;
                asked.insert((place.as_str(), open_task), p);
                p
            }
        };
        if permitted {
            out.insert(nhs.clone());
        }
    }
    Ok(out)
}

/// Asks about someone whose profile is loaded already, for a patient whose place is known, with no query: whether
/// a person on duty where the patient is may act on an escalation at `level` (`escalation.acknowledge`,
/// `escalation.review`). No open task is asked about: a task reaches its patient only for its own activity.
pub fn may_act_on_escalation(
    pack: &PolicyPack,
    profile: &StaffProfile,
    activity: &str,
    patient: &PatientFacts,
    level: remit_domain::obs::EscalationLevel,
    today: chrono::NaiveDate,
) -> bool {
    let mut q = Question::new(profile, activity, today);
    q.patient = Some(patient);
    q.escalation_level = Some(level.as_str());
    pack.permits(&q)
}

/// Loads the facts and asks.
pub async fn check(store: &Store, pack: &PolicyPack, ask: &Ask) -> Result<Decision, StoreError> {
    let facts = Facts::load(store, pack, ask).await?;
    Ok(facts.decide(pack, ask))
}

/// Asks, and records the question and its answer in the audit log (a refusal with every reason).
pub async fn check_audited(
    store: &Store,
    pack: &PolicyPack,
    requester: &str,
    ask: &Ask,
) -> Result<Decision, StoreError> {
    let decision = check(store, pack, ask).await?;
    let mut draft = AuditDraft::permit(
        requester,
        format!("scope.check:{}", ask.activity),
        format!("staff:{}", ask.staff),
    )
    .with_payload(ask);
    if !decision.permitted() {
        draft.decision = AuditDecision::Deny;
        draft.reasons = decision.reasons.clone();
    }
    store.record(draft).await?;
    Ok(decision)
}

/// What a person may do now.
#[derive(Debug, Clone, Serialize)]
pub struct StaffScope {
    pub staff: Username,
    pub name: String,
    pub level: Option<u8>,
    pub on_duty: Vec<String>,
    pub activities: Vec<ScopeLine>,
}

pub async fn show(store: &Store, pack: &PolicyPack, staff: &Username) -> Result<StaffScope, StoreError> {
    let profile: StaffProfile = store.staff_profile(staff).await?;
    let activities = pack.scope(&profile, store.now().date_naive());
    Ok(StaffScope {
        staff: profile.staff.username.clone(),
        name: profile.staff.name.to_string(),
        level: profile.staff.level.map(|l| l.get()),
        on_duty: profile.on_duty.iter().map(ToString::to_string).collect(),
        activities,
    })
}

/// What stands between a person and doing an activity alone ([`PolicyPack::path_to`]: the pack asked again with the
/// person changed a step at a time), with who may sign off each competency it needs for them now.
#[derive(Debug, Clone, Serialize)]
pub struct Progression {
    pub staff: Username,
    pub name: String,
    pub level: Option<u8>,
    #[serde(flatten)]
    pub path: remit_policy::Path,
    /// For each competency among the steps: the usernames of those who may sign it off for this person now.
    pub signed_off_by: std::collections::BTreeMap<String, Vec<String>>,
}

pub async fn progression(
    store: &Store,
    pack: &PolicyPack,
    staff: &Username,
    activity: &str,
    region: Option<ExamRegion>,
) -> Result<Progression, StoreError> {
    let profile = store.staff_profile(staff).await?;
    let today = store.now().date_naive();
    let path = pack.path_to(&profile, activity.trim(), region, today).ok_or_else(|| {
        StoreError::NotFound(format!(
            "no activity `{}` in the policy pack (see `remit scope show {staff}`)",
            activity
                .chars()
                .take(60)
                .flat_map(char::escape_debug)
                .collect::<String>()
        ))
    })?;
    let wanted: Vec<&str> = path
        .steps
        .iter()
        .filter_map(|s| match s {
            remit_policy::Step::Competency { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let mut signed_off_by = std::collections::BTreeMap::new();
    if !wanted.is_empty() {
        let mut assessors = Vec::new();
        for s in store.list_staff().await? {
            if s.staff.username != *staff && s.staff.is_active() {
                assessors.push(store.staff_profile(&s.staff.username).await?);
            }
        }
        for c in wanted {
            let who: Vec<String> = assessors
                .iter()
                .filter(|a| {
                    let mut q = Question::new(a, "competency.sign-off", today);
                    q.colleague = Some(&profile);
                    q.competency = Some(c);
                    pack.permits(&q)
                })
                .map(|a| a.staff.username.to_string())
                .collect();
            signed_off_by.insert(c.to_owned(), who);
        }
    }
    Ok(Progression {
        staff: profile.staff.username.clone(),
        name: profile.staff.name.to_string(),
        level: profile.staff.level.map(|l| l.get()),
        path,
        signed_off_by,
    })
}

/// What the next Career Framework level would let a person do ([`PolicyPack::next_level`]), and the routes to the
/// registration it needs.
#[derive(Debug, Clone, Serialize)]
pub struct Prospect {
    pub staff: Username,
    pub name: String,
    /// `null` at level 9.
    pub next: Option<remit_policy::NextLevel>,
}

pub async fn next_level(store: &Store, pack: &PolicyPack, staff: &Username) -> Result<Prospect, StoreError> {
    let profile = store.staff_profile(staff).await?;
    let next = pack.next_level(&profile, store.now().date_naive());
    Ok(Prospect {
        staff: profile.staff.username.clone(),
        name: profile.staff.name.to_string(),
        next,
    })
}
