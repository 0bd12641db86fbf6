//! Delegation: a registered professional hands work to a colleague and stays accountable. The policy decides at
//! delegation, again at acceptance and again at completion, so a competency that lapsed in between stops the work
//! with its reason. Every move and every refusal is audited.

use remit_domain::audit::AuditDraft;
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_domain::task::{Move, TaskStatus, next_status};
use remit_policy::{Decision, ExamRegion, PolicyPack, Supervision};
use remit_store::changes::Kind;
use remit_store::task::{NewTask, TaskView};
use remit_store::{Store, StoreError};
use serde::Serialize;

pub use crate::scope::Outcome;
use crate::scope::{self, Ask, refuse};

/// A request to delegate, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Delegation {
    pub delegator: Username,
    pub delegatee: Username,
    pub patient: NhsNumber,
    pub activity: String,
    pub exam: Option<ExamRegion>,
    pub supervision: Supervision,
    pub supervisor: Option<Username>,
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub notes: String,
}

/// What a successful delegation says.
#[derive(Debug, Clone, Serialize)]
pub struct Delegated {
    pub task: TaskView,
    /// Set when the supervisor now supervises more people than the configured maximum.
    pub warning: Option<String>,
}

/// Activities that are not work to hand on.
const NOT_DELEGABLE: &[&str] = &["task.delegate", "task.countersign"];

/// The activities that can be delegated: work done to or for a patient, not delegation itself.
pub fn delegable(pack: &PolicyPack) -> Vec<&remit_policy::Activity> {
    pack.activities()
        .iter()
        .filter(|a| a.patient_facing && !NOT_DELEGABLE.contains(&a.id.as_str()))
        .collect()
}

/// The delegatee's own question: may they do the work, under the task's supervision, with the task open to them?
fn work_question(
    delegatee: &Username,
    patient: &NhsNumber,
    activity: &str,
    exam: Option<ExamRegion>,
    supervision: Supervision,
    supervisor: Option<&Username>,
) -> Ask {
    let mut ask = Ask::new(delegatee.clone(), activity);
    ask.patient = Some(patient.clone());
    ask.exam = exam;
    ask.supervision = supervision;
    ask.supervisor = supervisor.cloned();
    // Delegated X-ray work is the practical part of a justified request; the exposure itself is checked again
    // against the request when it is recorded.
    ask.request_justified = true;
    ask
}

/// Delegates a task, when both the delegator may delegate and the delegatee may do the work.
pub async fn delegate(
    store: &Store,
    pack: &PolicyPack,
    d: &Delegation,
    audit_actor: &str,
    max_supervisees: usize,
) -> Result<Outcome<Delegated>, StoreError> {
    match pack.activity(&d.activity) {
        Some(a) if a.patient_facing && !NOT_DELEGABLE.contains(&a.id.as_str()) => {}
        Some(_) => {
            return Err(StoreError::Invalid(format!(
                "activity: `{}` is not work that can be delegated",
                d.activity
            )));
        }
        None => {
            return Err(StoreError::Invalid(format!(
                "activity: `{}` is not an activity of the policy pack",
                d.activity
            )));
        }
    }
    if d.supervision != Supervision::None && d.supervisor.is_none() {
        return Err(StoreError::Invalid(
            "supervisor: indirect or direct supervision needs a named supervisor".into(),
        ));
    }
    if d.supervision == Supervision::None && d.supervisor.is_some() {
        return Err(StoreError::Invalid(
            "supervisor: a supervisor is named only with indirect or direct supervision".into(),
        ));
    }
    let delegator_id = store.staff_id(&d.delegator).await?;
    let delegatee_id = store.staff_id(&d.delegatee).await?;
    let supervisor_id = match &d.supervisor {
        Some(s) => Some(store.staff_id(s).await?),
        None => None,
    };
    let target = format!("patient:{}", d.patient);

    let mut may_delegate = Ask::new(d.delegator.clone(), "task.delegate");
    may_delegate.patient = Some(d.patient.clone());
    let first: Decision = scope::check(store, pack, &may_delegate).await?;
    let work = work_question(
        &d.delegatee,
        &d.patient,
        &d.activity,
        d.exam,
        d.supervision,
        d.supervisor.as_ref(),
    );
    // The task will open the record to the delegatee, so it is asked as if it were open.
    let facts = scope::Facts::load(store, pack, &work).await?;
    // A delegator who may not delegate here hears the delegatee's side veiled: it would otherwise say where the
    // patient is (a colleague to name "on duty on Ward 7").
    let told = if first.permitted() {
        scope::Told::Plainly
    } else {
        scope::Told::Veiled
    };
    let second = facts.decide_as_if_tasked(pack, &work, told);
    let mut reasons = first.reasons;
    reasons.extend(second.reasons);
    if d.delegator == d.delegatee {
        // A task reaches its patient beyond the delegatee's duty: handed to oneself it would only widen one's own
        // reach, with nobody else answerable for it.
        reasons.push(format!(
            "Delegating to oneself is not delegation: {} would hand the work to nobody else and stay alone \
             accountable for it. Do it within your own scope, or delegate it to a colleague.",
            d.delegator
        ));
    }
    if !reasons.is_empty() {
        return refuse(store, audit_actor, "task.delegate", &target, reasons, d).await;
    }
    // Asked first, so that a patient there is not answers as one the delegator may not see.
    let patient_id = store.patient_id(&d.patient).await?;

    let new = NewTask {
        patient_id,
        activity: d.activity.clone(),
        exam_region: d.exam.map(|e| e.as_str().to_owned()),
        delegator_id,
        delegatee_id,
        supervision: d.supervision,
        supervisor_id,
        due_at: d.due_at,
        notes: d.notes.clone(),
    };
    let draft = AuditDraft::permit(audit_actor, "task.delegate", target).with_payload(d);
    let patient = d.patient.to_string();
    let (id, _) = store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.announce_patient(Kind::Task, &patient).await?;
                tx.insert_task(&new).await
            })
        })
        .await?;
    let task = store.task(id).await?;
    let warning = match &d.supervisor {
        Some(s) => store
            .supervision_load()
            .await?
            .into_iter()
            .find(|l| l.supervisor == s.as_str())
            .filter(|l| l.supervisees.len() > max_supervisees)
            .map(|l| {
                format!(
                    "{} now supervises {} people ({}), more than the maximum of {max_supervisees}",
                    l.name,
                    l.supervisees.len(),
                    l.supervisees.join(", ")
                )
            }),
        None => None,
    };
    Ok(Outcome::Done(Delegated { task, warning }))
}

/// Makes a move on a task as `actor`, checking who they are to it, the state of the task, and the policy: the
/// delegatee's scope again at acceptance and completion, and the countersigner's right to countersign.
pub async fn make_move(
    store: &Store,
    pack: &PolicyPack,
    id: i64,
    mv: Move,
    actor: &Username,
    note: Option<String>,
    audit_actor: &str,
) -> Result<Outcome<TaskView>, StoreError> {
    let task = store.task(id).await?;
    let actor_id = store.staff_id(actor).await?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if mv.needs_reason() && note.is_none() {
        return Err(StoreError::Invalid(format!(
            "reason: say why the task is being {}",
            match mv {
                Move::Decline => "declined",
                Move::Fail => "marked failed",
                Move::Return => "returned",
                _ => "cancelled",
            }
        )));
    }
    let action = format!("task.{}", mv.as_str());
    let target = format!("task:{id}");
    #[derive(Serialize)]
    struct Payload<'a> {
        task: i64,
        by: &'a str,
        note: Option<&'a str>,
    }
    let payload = Payload {
        task: id,
        by: actor.as_str(),
        note: note.as_deref(),
    };

    let parts = task.parts_of(actor.as_str());
    let to = match next_status(task.status, mv, &parts, task.supervision) {
        Ok(to) => to,
        Err(e) => return refuse(store, audit_actor, &action, &target, vec![format!("{e}.")], &payload).await,
    };

    let decision = match mv {
        Move::Accept | Move::Complete => {
            let supervisor = task.supervisor.as_deref().map(Username::parse).transpose()?;
            let exam = task.exam_region.as_deref().map(ExamRegion::parse).transpose()?;
            let work = work_question(
                actor,
                &task.patient,
                &task.activity,
                exam,
                task.supervision,
                supervisor.as_ref(),
            );
            Some(scope::check(store, pack, &work).await?)
        }
        Move::Countersign => {
            let mut ask = Ask::new(actor.clone(), "task.countersign");
            ask.patient = Some(task.patient.clone());
            ask.named_supervisor = task.supervisor.as_deref() == Some(actor.as_str());
            Some(scope::check(store, pack, &ask).await?)
        }
        _ => None,
    };
    if let Some(d) = decision
        && !d.permitted()
    {
        return refuse(store, audit_actor, &action, &target, d.reasons, &payload).await;
    }

    let from: TaskStatus = task.status;
    let draft = AuditDraft::permit(audit_actor, action, target).with_payload(&payload);
    let patient = task.patient.to_string();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.announce_patient(Kind::Task, &patient).await?;
                tx.move_task(id, from, to, actor_id, mv, note.as_deref()).await
            })
        })
        .await?;
    Ok(Outcome::Done(store.task(id).await?))
}

/// A delegated task as a person reads it on a page: the activity's title rather than its identifier, the patient by
/// name and bed, the people by name, and the moves the reader may make on it now.
#[derive(Debug, Clone, Serialize)]
pub struct TaskCard {
    pub task: TaskView,
    /// "Record a 12-lead ECG", with the examination region for X-ray work.
    pub title: String,
    pub patient_name: String,
    pub bed: Option<String>,
    pub place_name: String,
    pub delegator_name: String,
    pub delegatee_name: String,
    pub supervisor_name: Option<String>,
    /// What the reader may do with it now (nothing, for someone with no part in it).
    #[serde(skip)]
    pub moves: Vec<Move>,
}

/// `tasks` as `reader` reads them (see [`TaskCard`]), in the order given.
pub async fn cards(
    store: &Store,
    pack: &PolicyPack,
    reader: &Username,
    tasks: Vec<TaskView>,
) -> Result<Vec<TaskCard>, StoreError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let (staff, places) = tokio::try_join!(store.list_staff(), store.places())?;
    let name_of = |u: &str| {
        staff
            .iter()
            .find(|s| s.staff.username.as_str() == u)
            .map_or_else(|| u.to_owned(), |s| s.staff.name.to_string())
    };
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let patient = store.patient(&task.patient).await?;
        let activity = pack
            .activity(&task.activity)
            .map_or_else(|| task.activity.clone(), |a| a.title.clone());
        let title = match &task.exam_region {
            Some(region) => format!("{activity} — {region}"),
            None => activity,
        };
        out.push(TaskCard {
            title,
            patient_name: patient.display_name(),
            bed: patient.bed.clone(),
            place_name: places
                .iter()
                .find(|p| p.code == patient.place)
                .map_or_else(|| patient.place.to_string(), |p| p.name.clone()),
            delegator_name: name_of(&task.delegator),
            delegatee_name: name_of(&task.delegatee),
            supervisor_name: task.supervisor.as_deref().map(name_of),
            moves: remit_domain::task::moves(task.status, &task.parts_of(reader.as_str()), task.supervision),
            task,
        });
    }
    Ok(out)
}
