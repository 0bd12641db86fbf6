//! Vital signs: recording a set, correcting it, SpO2 scale 2 prescriptions, and the NEWS2 escalations a set raises.
//!
//! Recording asks the policy (`vitals.record`; a level 2–3 recorder names their supervisor), scores the set on the
//! scale the patient's record says (scale 2 only under a current prescription), stores it and raises or raises
//! further the patient's escalation, all in one transaction with its audit entry. A correction is a new version:
//! it is re-scored, and the escalations of the set follow it — a higher score escalates further, a lower one leaves
//! the escalation open with a note saying why, never closing it by itself.

use chrono::{DateTime, Duration, Utc};
use remit_domain::audit::AuditDraft;
use remit_domain::news2::Spo2Scale;
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::{Assessment, EscalationLevel, Readings};
use remit_domain::staff::{Regulator, StaffProfile, Username};
use remit_domain::time::format_instant;
use remit_policy::{PolicyPack, Supervision};
use remit_store::obs::{
    Amends, EscalationChange, EscalationFilter, EscalationView, NewEscalation, NewSet, PatientObs, Scale2, SetView,
    StoredSet,
};
use remit_store::{Store, StoreError, Versions, WriteTx};
use serde::Serialize;

use crate::auth::Actor;
use crate::scope::{self, Ask, Outcome, refuse};

/// A set to record, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct RecordSet {
    pub patient: NhsNumber,
    pub by: Username,
    /// The registered colleague supervising a level 2–3 recorder.
    pub supervisor: Option<Username>,
    /// When the observations were taken; now if not given.
    pub taken_at: Option<DateTime<Utc>>,
    pub readings: Readings,
    /// The scale the request asked for, if it named one.
    pub scale: Option<Spo2Scale>,
}

/// What recording (or correcting) a set did.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub set: SetView,
    /// The escalation level the score calls for, and the response in Chart 4's words.
    pub escalation_level: Option<EscalationLevel>,
    pub response: Option<&'static str>,
    /// The escalation now open for the patient because of this set (new or raised further), if any.
    pub escalation: Option<EscalationView>,
    pub scale2: Option<Scale2>,
}

impl Recorded {
    /// The answer to recording or correcting a set, read back as stored.
    async fn load(
        store: &Store,
        version_id: i64,
        assessment: &Assessment,
        escalation: Option<i64>,
        scale2: Option<Scale2>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            set: store.obs_version(version_id).await?,
            escalation_level: assessment.escalation,
            response: assessment.escalation.map(EscalationLevel::response),
            escalation: match escalation {
                Some(id) => Some(store.escalation(id).await?),
                None => None,
            },
            scale2,
        })
    }
}

/// How far back a set may be entered late: beyond this it is a different kind of record.
const LATE_ENTRY: i64 = 24;

fn check_taken_at(taken_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), StoreError> {
    if taken_at > now + Duration::minutes(1) {
        return Err(StoreError::Invalid(format!(
            "taken_at: `{}` is in the future",
            format_instant(taken_at)
        )));
    }
    if taken_at < now - Duration::hours(LATE_ENTRY) {
        return Err(StoreError::Invalid(format!(
            "taken_at: `{}` is more than {LATE_ENTRY} hours ago",
            format_instant(taken_at)
        )));
    }
    Ok(())
}

fn scale_name(s: Spo2Scale) -> &'static str {
    match s {
        Spo2Scale::One => "1",
        Spo2Scale::Two => "2",
    }
}

/// The scale a set is scored on, or the reason the requested one cannot be used.
fn scale_for(requested: Option<Spo2Scale>, prescription: Option<&Scale2>) -> Result<Spo2Scale, String> {
    match (requested, prescription) {
        (Some(Spo2Scale::Two), None) => Err(
            "SpO2 scale 2 has not been prescribed for this patient: it is used only \
             after a clinician competent to decide it has recorded it with a target range (vitals.prescribe-scale-2). \
             Record the set on scale 1."
                .to_owned(),
        ),
        (Some(Spo2Scale::One), Some(p)) => Err(format!(
            "SpO2 scale 2 is prescribed for this patient (target {}–{}%, by {}): record the set on scale 2, or have \
             the prescription ended first.",
            p.target_low, p.target_high, p.prescribed_by
        )),
        (_, Some(_)) => Ok(Spo2Scale::Two),
        (_, None) => Ok(Spo2Scale::One),
    }
}

/// Asks whether `by` may record vital signs for the patient, under the named supervisor if any: every reason
/// against, and the facts the question was asked of (the patient's record among them).
async fn may_record(
    store: &Store,
    pack: &PolicyPack,
    by: &Username,
    patient: &NhsNumber,
    supervisor: Option<&Username>,
    known: Option<&Actor>,
) -> Result<(Vec<String>, scope::Facts), StoreError> {
    let mut ask = Ask::new(by.clone(), "vitals.record");
    ask.patient = Some(patient.clone());
    if let Some(s) = supervisor {
        ask.supervision = Supervision::Indirect;
        ask.supervisor = Some(s.clone());
    }
    let facts = scope::Facts::load_with(store, pack, &ask, known).await?;
    let reasons = pack.decide(&facts.question(&ask)).reasons;
    Ok((reasons, facts))
}

/// The set a score came from, for raising its escalation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SetRef<'a> {
    pub at: DateTime<Utc>,
    pub patient_id: i64,
    pub place: &'a str,
    pub stored: StoredSet,
}

/// Raises an escalation for a set when its level calls for one above any already open for the patient; the one it
/// goes beyond is superseded by it. An escalation already open at the same or a higher level stays as it is.
pub(crate) async fn escalate(
    tx: &mut WriteTx,
    set: SetRef<'_>,
    a: &Assessment,
    actor: &str,
) -> Result<Option<i64>, StoreError> {
    let SetRef {
        at,
        patient_id,
        place,
        stored: StoredSet {
            version_id,
            set_id,
            open_escalation: live,
        },
    } = set;
    let Some(level) = a.escalation else {
        return Ok(None);
    };
    if live.is_some_and(|(_, live_level)| live_level >= level) {
        return Ok(None);
    }
    let what = format!(
        "raised: NEWS2 {} ({}), {}",
        a.total,
        level.as_str(),
        level.addressed_to()
    );
    let id = tx
        .raise_escalation(
            &NewEscalation {
                patient_id,
                place: place.to_owned(),
                set_id,
                version_id,
                level,
                score: a.total,
                raised_at: at,
            },
            actor,
            &what,
        )
        .await?;
    if let Some((live_id, _)) = live {
        tx.move_escalation(
            live_id,
            &["open", "acknowledged"],
            "superseded",
            EscalationChange {
                superseded_by: Some(id),
                ..EscalationChange::default()
            },
        )
        .await?;
        tx.escalation_event(
            live_id,
            actor,
            &format!(
                "escalated further as escalation {id}: NEWS2 {} ({})",
                a.total,
                level.as_str()
            ),
            None,
        )
        .await?;
    }
    Ok(Some(id))
}

/// Records a set.
/// `by`: the recorder when the request already knows them (signing in does), else their profile is loaded here.
/// `under`: for a recorder the store kept and nobody has confirmed yet ([`crate::auth::Claimed`]), the versions they
/// were kept under: the set is written only if its commit finds them unchanged (else [`StoreError::Unconfirmed`]),
/// and a refusal is answered but not recorded, for the request to be decided again, and recorded, once its holder
/// is confirmed.
pub async fn record(
    store: &Store,
    pack: &PolicyPack,
    r: &RecordSet,
    audit_actor: &str,
    by: Option<&Actor>,
    under: Option<Versions>,
) -> Result<Outcome<Recorded>, StoreError> {
    let now = store.now();
    let taken_at = r.taken_at.unwrap_or(now);
    check_taken_at(taken_at, now)?;
    r.readings.validate()?;
    let (mut reasons, mut facts) = may_record(store, pack, &r.by, &r.patient, r.supervisor.as_ref(), by).await?;
    let record = facts.take_record()?;
    let target = format!("patient:{}", r.patient);
    let scale = match scale_for(r.scale, record.scale2.as_ref()) {
        Ok(s) => s,
        Err(reason) => {
            reasons.push(reason);
            Spo2Scale::One
        }
    };
    if !reasons.is_empty() {
        if under.is_some() {
            // Recorded once the refusal is certain, by the request decided again.
            return Ok(Outcome::Refused(reasons));
        }
        return refuse(store, audit_actor, "vitals.record", &target, reasons, r).await;
    }
    let patient_id = record.id;
    let assessment = r.readings.assess(scale);
    let new = NewSet {
        patient_id,
        taken_at,
        recorded_at: now,
        recorded_by: facts.actor.id,
        supervisor_id: facts.supervisor.as_ref().map(|s| s.id),
        readings: r.readings.clone(),
        scale,
        assessment,
        next_due_at: assessment.next_due(taken_at),
    };
    #[derive(Serialize)]
    struct Payload<'a> {
        #[serde(flatten)]
        set: &'a RecordSet,
        spo2_scale: &'static str,
        total: u8,
        risk: &'static str,
        complete: bool,
    }
    let draft = AuditDraft::permit(audit_actor, "vitals.record", target).with_payload(&Payload {
        set: r,
        spo2_scale: scale_name(scale),
        total: assessment.total,
        risk: assessment.risk.as_str(),
        complete: assessment.complete,
    });
    let place = record.patient.place.to_string();
    let actor = audit_actor.to_owned();
    let written = new.clone();
    let ((version_id, set_id, escalation), _) = store
        .command_under(under, draft, move |tx| {
            Box::pin(async move {
                let stored = tx.insert_set(&new, None).await?;
                let esc = escalate(
                    tx,
                    SetRef {
                        at: now,
                        patient_id,
                        place: &place,
                        stored,
                    },
                    &assessment,
                    &actor,
                )
                .await?;
                Ok((stored.version_id, stored.set_id, esc))
            })
        })
        .await?;
    // The answer is built from what was written, not read back: one query fewer for every set.
    let set = SetView::inserted(
        &written,
        version_id,
        set_id,
        &r.patient,
        r.by.as_str(),
        r.supervisor.as_ref().map(Username::as_str),
    );
    Ok(Outcome::Done(Recorded {
        set,
        escalation_level: assessment.escalation,
        response: assessment.escalation.map(EscalationLevel::response),
        escalation: match escalation {
            Some(id) => Some(store.escalation(id).await?),
            None => None,
        },
        scale2: record.scale2,
    }))
}

/// A correction of a set: new values, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Amendment {
    /// The version being corrected (it must be the set's current version).
    pub version: i64,
    pub by: Username,
    pub supervisor: Option<Username>,
    pub readings: Readings,
    pub reason: String,
}

fn need_reason(reason: &str, what: &str) -> Result<String, StoreError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(StoreError::Invalid(format!("reason: say why the set is being {what}")));
    }
    if r.chars().count() > 500 {
        return Err(StoreError::Invalid("reason: is longer than 500 characters".into()));
    }
    Ok(r.to_owned())
}

/// Amends a set: the corrected values become a new version, re-scored on the scale the set was taken on; the
/// original is kept. The set's open escalations follow the correction.
pub async fn amend(
    store: &Store,
    pack: &PolicyPack,
    a: &Amendment,
    audit_actor: &str,
) -> Result<Outcome<Recorded>, StoreError> {
    let reason = need_reason(&a.reason, "amended")?;
    a.readings.validate()?;
    let now = store.now();
    let old = store.obs_version(a.version).await?;
    if old.state != "current" {
        return Err(StoreError::Conflict(format!(
            "observation set version {} is {}, not current: amend the current version",
            old.id, old.state
        )));
    }
    let target = format!("obs-set:{}", old.set_id);
    let (reasons, mut facts) = may_record(store, pack, &a.by, &old.patient, a.supervisor.as_ref(), None).await?;
    if !reasons.is_empty() {
        return refuse(store, audit_actor, "vitals.amend", &target, reasons, a).await;
    }
    let by_id = facts.actor.id;
    let supervisor_id = facts.supervisor.as_ref().map(|s| s.id);
    let record = facts.take_record()?;
    let patient_id = record.id;
    let scale = if old.spo2_scale == 2 {
        Spo2Scale::Two
    } else {
        Spo2Scale::One
    };
    let assessment = a.readings.assess(scale);
    let taken_at =
        remit_domain::time::parse_instant("taken_at", &old.taken_at).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let new = NewSet {
        patient_id,
        taken_at,
        recorded_at: now,
        recorded_by: by_id,
        supervisor_id,
        readings: a.readings.clone(),
        scale,
        assessment,
        next_due_at: assessment.next_due(taken_at),
    };
    let draft = AuditDraft::permit(audit_actor, "vitals.amend", target).with_payload(a);
    let place = record.patient.place.to_string();
    let actor = audit_actor.to_owned();
    let by_name = a.by.to_string();
    let ((version_id, escalation), _) = store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.retire_version(old.id, "superseded", by_id, None).await?;
                let amends = Amends {
                    set_id: old.set_id,
                    version: old.version,
                    reason: &reason,
                };
                let stored = tx.insert_set(&new, Some(&amends)).await?;
                let StoredSet { version_id, set_id, .. } = stored;
                for e in tx.live_escalations_of_set(set_id).await? {
                    let lower = assessment.escalation.is_none_or(|l| l < e.level);
                    let note = lower.then(|| {
                        format!(
                            "The set that raised this was corrected by {by_name}: NEWS2 now {} (was {}). Reason: \
                             {reason}. It stays open until someone closes it.",
                            assessment.total, e.score
                        )
                    });
                    tx.follow_correction(e.id, version_id, assessment.total, note.as_deref())
                        .await?;
                    tx.escalation_event(
                        e.id,
                        &actor,
                        &format!("set corrected: NEWS2 now {} (was {})", assessment.total, e.score),
                        Some(&reason),
                    )
                    .await?;
                }
                let esc = escalate(
                    tx,
                    SetRef {
                        at: now,
                        patient_id,
                        place: &place,
                        stored,
                    },
                    &assessment,
                    &actor,
                )
                .await?;
                Ok((version_id, esc))
            })
        })
        .await?;
    Ok(Outcome::Done(
        Recorded::load(store, version_id, &assessment, escalation, None).await?,
    ))
}

/// Marks a set entered in error (it was for the wrong patient, or never taken). Its values are kept; its open
/// escalations stay open with a note, for a person to close.
pub async fn entered_in_error(
    store: &Store,
    pack: &PolicyPack,
    version: i64,
    by: &Username,
    reason: &str,
    audit_actor: &str,
) -> Result<Outcome<SetView>, StoreError> {
    let reason = need_reason(reason, "marked entered in error")?;
    let old = store.obs_version(version).await?;
    let by_id = store.staff_id(by).await?;
    let target = format!("obs-set:{}", old.set_id);
    #[derive(Serialize)]
    struct Payload<'a> {
        version: i64,
        by: &'a str,
        reason: &'a str,
    }
    let payload = Payload {
        version,
        by: by.as_str(),
        reason: &reason,
    };
    let (reasons, _) = may_record(store, pack, by, &old.patient, None, None).await?;
    if !reasons.is_empty() {
        return refuse(
            store,
            audit_actor,
            "vitals.entered-in-error",
            &target,
            reasons,
            &payload,
        )
        .await;
    }
    let draft = AuditDraft::permit(audit_actor, "vitals.entered-in-error", target).with_payload(&payload);
    let actor = audit_actor.to_owned();
    let by_name = by.to_string();
    let set_id = old.set_id;
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.retire_version(version, "entered-in-error", by_id, Some(&reason))
                    .await?;
                for e in tx.live_escalations_of_set(set_id).await? {
                    let note = format!(
                        "The set that raised this was marked entered in error by {by_name}: {reason}. It stays open \
                         until someone closes it."
                    );
                    tx.follow_correction(e.id, version, e.score, Some(&note)).await?;
                    tx.escalation_event(e.id, &actor, "set entered in error", Some(&reason))
                        .await?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(Outcome::Done(store.obs_version(version).await?))
}

/// A scale 2 prescription, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Scale2Prescription {
    pub patient: NhsNumber,
    pub by: Username,
    pub target_low: u8,
    pub target_high: u8,
    pub reason: String,
}

/// Parses a target range such as `88-92` (percent).
pub fn parse_target(s: &str) -> Result<(u8, u8), StoreError> {
    let bad = || {
        StoreError::Invalid(format!(
            "target: `{}` is not a range of SpO2 percentages such as 88-92",
            s.chars().take(20).collect::<String>()
        ))
    };
    let (a, b) = s.trim().split_once(['-', '–']).ok_or_else(bad)?;
    let low: u8 = a.trim().parse().map_err(|_| bad())?;
    let high: u8 = b.trim().parse().map_err(|_| bad())?;
    if !(low < high && (70..=100).contains(&low) && high <= 100) {
        return Err(StoreError::Invalid(format!(
            "target: `{low}-{high}` must be a rising range within 70–100%"
        )));
    }
    Ok((low, high))
}

/// Records that a patient is scored on SpO2 scale 2 with a target range, when `by` may decide it.
pub async fn prescribe_scale2(
    store: &Store,
    pack: &PolicyPack,
    p: &Scale2Prescription,
    audit_actor: &str,
) -> Result<Outcome<Scale2>, StoreError> {
    let reason = need_reason(&p.reason, "scored on scale 2 (the clinical indication)")?;
    let patient_id = store.patient_id(&p.patient).await?;
    let by_id = store.staff_id(&p.by).await?;
    let target = format!("patient:{}", p.patient);
    let mut ask = Ask::new(p.by.clone(), "vitals.prescribe-scale-2");
    ask.patient = Some(p.patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "vitals.prescribe-scale-2", &target, d.reasons, p).await;
    }
    let draft = AuditDraft::permit(audit_actor, "vitals.prescribe-scale-2", target).with_payload(p);
    let (low, high) = (p.target_low, p.target_high);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.prescribe_scale2(patient_id, low, high, &reason, by_id).await })
        })
        .await?;
    Ok(Outcome::Done(store.scale2(patient_id).await?.ok_or_else(|| {
        StoreError::Corrupt("the prescription just recorded is missing".into())
    })?))
}

/// Ends a patient's scale 2 prescription (the same people who may start one).
pub async fn end_scale2(
    store: &Store,
    pack: &PolicyPack,
    patient: &NhsNumber,
    by: &Username,
    reason: &str,
    audit_actor: &str,
) -> Result<Outcome<()>, StoreError> {
    let reason = need_reason(reason, "returned to scale 1")?;
    let patient_id = store.patient_id(patient).await?;
    let by_id = store.staff_id(by).await?;
    if store.scale2(patient_id).await?.is_none() {
        return Err(StoreError::Invalid(
            "patient: has no SpO2 scale 2 prescription to end".into(),
        ));
    }
    let target = format!("patient:{patient}");
    let mut ask = Ask::new(by.clone(), "vitals.prescribe-scale-2");
    ask.patient = Some(patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    let payload = serde_json::json!({"by": by.as_str(), "reason": reason});
    if !d.permitted() {
        return refuse(store, audit_actor, "vitals.end-scale-2", &target, d.reasons, &payload).await;
    }
    let draft = AuditDraft::permit(audit_actor, "vitals.end-scale-2", target).with_payload(&payload);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.end_scale2(patient_id, by_id, &reason).await.map(|_| ()) })
        })
        .await?;
    Ok(Outcome::Done(()))
}

/// What happens to an escalation nobody acknowledges: it is sent again after `ack_within`, then to the nurse in
/// charge after twice that, then to the registrar after three times.
pub const STAGES: [&str; 4] = [
    "raised",
    "re-notified: not acknowledged in time",
    "cascaded to the nurse in charge",
    "cascaded to the registrar",
];

/// Moves unacknowledged escalations along the cascade as time passes. Each step is audited as `system`. Returns how
/// many moved.
pub async fn sweep(store: &Store, ack_within: Duration) -> Result<usize, StoreError> {
    let now = store.now();
    let mut moved = 0;
    for (id, raised, stage) in store.unacknowledged().await? {
        let waited = now - raised;
        let due = stage_due(waited, ack_within);
        if due <= stage {
            continue;
        }
        let mut tx = store.begin().await?;
        if !tx.escalation_stage(id, stage, due).await? {
            continue;
        }
        let what = STAGES[usize::from(due)];
        let note = format!("not acknowledged after {} minutes", waited.num_minutes());
        tx.escalation_event(id, "system", what, Some(&note)).await?;
        let draft = AuditDraft::permit("system", "escalation.cascade", format!("escalation:{id}"))
            .with_payload(&serde_json::json!({"stage": due, "what": what}));
        tx.commit(draft).await?;
        moved += 1;
    }
    Ok(moved)
}

/// The stage of the cascade an unacknowledged escalation is due at once it has waited `waited`: a step for each
/// `ack_within`, up to the registrar (3).
fn stage_due(waited: Duration, ack_within: Duration) -> u8 {
    (waited.num_seconds() / ack_within.num_seconds().max(1)).clamp(0, 3) as u8
}

/// Whether an escalation (in `state`, raised at `raised_at`, at `stage`) is due to move along the cascade at `now`:
/// what a list of escalations checks before it is shown. One whose time cannot be read is reported as due, so that
/// the sweep meets it and reports it.
pub(crate) fn cascade_due(state: &str, raised_at: &str, stage: u8, now: DateTime<Utc>, ack_within: Duration) -> bool {
    state == "open"
        && remit_domain::time::parse_instant("raised_at", raised_at)
            .map_or(true, |raised| stage_due(now - raised, ack_within) > stage)
}

/// What `read` reads, once the cascade has moved on any escalation in it that waited too long: read, and only if
/// `due` finds one in it due to move at the time given, swept and read again. (Escalations not in what is read are
/// left to their own reads and to the server's periodic sweep.)
pub(crate) async fn swept<T, F, R, D>(store: &Store, ack_within: Duration, read: F, due: D) -> Result<T, StoreError>
where
    F: Fn() -> R,
    R: std::future::Future<Output = Result<T, StoreError>>,
    D: Fn(&T, DateTime<Utc>) -> bool,
{
    let first = read().await?;
    swept_after(store, ack_within, first, read, due).await
}

/// [`swept`] for what the caller has read once already (`first`, by `read`).
pub(crate) async fn swept_after<T, F, R, D>(
    store: &Store,
    ack_within: Duration,
    first: T,
    read: F,
    due: D,
) -> Result<T, StoreError>
where
    F: Fn() -> R,
    R: std::future::Future<Output = Result<T, StoreError>>,
    D: Fn(&T, DateTime<Utc>) -> bool,
{
    if !due(&first, store.now()) {
        return Ok(first);
    }
    sweep(store, ack_within).await?;
    read().await
}

/// Someone an escalation is addressed to now, and as what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    pub username: String,
    pub name: String,
    #[serde(rename = "as")]
    pub as_: &'static str,
}

/// An escalation with the people it is addressed to now and how long it has waited.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationNotice {
    #[serde(flatten)]
    pub escalation: EscalationView,
    pub response: &'static str,
    pub waiting_minutes: i64,
    pub recipients: Vec<Recipient>,
}

fn gmc_registered(p: &StaffProfile, today: chrono::NaiveDate) -> bool {
    p.registrations
        .iter()
        .any(|r| r.regulator == Regulator::Gmc && r.is_current(today))
}

/// Who an escalation goes to now: the registered nurses on duty where the patient is (those who may acknowledge
/// it), the medical team (those who may review it) when the level calls for them, and as it cascades the nurse in
/// charge (the most senior registered nurse on duty) and the registrar (the doctors on duty).
pub async fn recipients(store: &Store, pack: &PolicyPack, e: &EscalationView) -> Result<Vec<Recipient>, StoreError> {
    let now = store.now();
    let today = now.date_naive();
    let patient = store.patient(&e.patient).await?;
    let place = store.place(&patient.place).await?;
    let facts = remit_policy::PatientFacts {
        nhs_number: patient.nhs_number.clone(),
        place: patient.place.clone(),
        place_name: place.name,
    };
    let mut profiles = Vec::new();
    for u in store.on_duty_at(&e.place, now).await? {
        profiles.push(store.staff_profile(&u).await?);
    }
    // Each person is asked with their profile loaded once (not through `scope::check`, which would load it again
    // for every question).
    let mut nurses = Vec::new();
    let mut medics = Vec::new();
    for p in &profiles {
        let open_task = store.has_open_task(p.id, &e.patient).await?;
        let may = |activity: &str| {
            let mut q = remit_policy::Question::new(p, activity, today);
            q.patient = Some(&facts);
            q.open_task = open_task;
            pack.decide(&q).permitted()
        };
        if may("escalation.acknowledge") {
            nurses.push(p);
        }
        if may("escalation.review") {
            medics.push(p);
        }
    }
    let who = |p: &StaffProfile, as_: &'static str| Recipient {
        username: p.staff.username.to_string(),
        name: p.staff.name.to_string(),
        as_,
    };
    let mut out: Vec<Recipient> = nurses.iter().map(|p| who(p, "registered nurse")).collect();
    if e.level.needs_medical_review() {
        out.extend(medics.iter().map(|p| who(p, "medical team")));
    }
    if e.stage >= 2
        && let Some(top) = nurses.iter().filter_map(|p| p.staff.level).max()
    {
        out.extend(
            nurses
                .iter()
                .filter(|p| p.staff.level == Some(top))
                .map(|p| who(p, "nurse in charge")),
        );
    }
    if e.stage >= 3 {
        out.extend(
            profiles
                .iter()
                .filter(|p| gmc_registered(p, today))
                .map(|p| who(p, "registrar")),
        );
    }
    Ok(out)
}

/// Escalations as notices (after moving the cascade along), newest first.
pub async fn notices(
    store: &Store,
    pack: &PolicyPack,
    filter: &EscalationFilter,
    ack_within: Duration,
) -> Result<Vec<EscalationNotice>, StoreError> {
    notices_with(store, Some(pack), filter, ack_within).await
}

/// Escalations as notices; with no pack, without working out who each is addressed to (for pages that show the
/// escalation but not its recipients, which cost a policy question per person on duty).
pub async fn notices_with(
    store: &Store,
    pack: Option<&PolicyPack>,
    filter: &EscalationFilter,
    ack_within: Duration,
) -> Result<Vec<EscalationNotice>, StoreError> {
    let now = store.now();
    let mut out = Vec::new();
    let due = |list: &Vec<EscalationView>, now| {
        list.iter()
            .any(|e| cascade_due(&e.state, &e.raised_at, e.stage, now, ack_within))
    };
    for e in swept(store, ack_within, || store.escalations(filter), due).await? {
        out.push(notice(store, pack, e, now).await?);
    }
    Ok(out)
}

async fn notice(
    store: &Store,
    pack: Option<&PolicyPack>,
    e: EscalationView,
    now: DateTime<Utc>,
) -> Result<EscalationNotice, StoreError> {
    let raised = remit_domain::time::parse_instant("raised_at", &e.raised_at)
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let until = match (&e.acknowledged_at, &e.reviewed_at) {
        (Some(t), _) | (None, Some(t)) => {
            remit_domain::time::parse_instant("at", t).map_err(|err| StoreError::Corrupt(err.to_string()))?
        }
        _ => now,
    };
    let recipients = match pack {
        Some(pack) if matches!(e.state.as_str(), "open" | "acknowledged") => recipients(store, pack, &e).await?,
        _ => Vec::new(),
    };
    Ok(EscalationNotice {
        response: e.level.response(),
        waiting_minutes: (until - raised).num_minutes(),
        recipients,
        escalation: e,
    })
}

/// One escalation as a notice.
pub async fn notice_of(store: &Store, pack: &PolicyPack, id: i64) -> Result<EscalationNotice, StoreError> {
    let e = store.escalation(id).await?;
    notice(store, Some(pack), e, store.now()).await
}

/// Acknowledges an escalation as the responsible registered nurse. A ward-level escalation (NEWS2 1–4) is then
/// closed: the nurse's assessment is the response. Higher levels wait for the medical team's review.
pub async fn acknowledge(
    store: &Store,
    pack: &PolicyPack,
    id: i64,
    by: &Username,
    audit_actor: &str,
) -> Result<Outcome<EscalationNotice>, StoreError> {
    let e = store.escalation(id).await?;
    let by_id = store.staff_id(by).await?;
    let target = format!("escalation:{id}");
    let payload = serde_json::json!({"escalation": id, "by": by.as_str()});
    let mut ask = Ask::new(by.clone(), "escalation.acknowledge");
    ask.patient = Some(e.patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(
            store,
            audit_actor,
            "escalation.acknowledge",
            &target,
            d.reasons,
            &payload,
        )
        .await;
    }
    if e.state != "open" {
        return refuse(
            store,
            audit_actor,
            "escalation.acknowledge",
            &target,
            vec![format!(
                "Escalation {id} is {}, not waiting for acknowledgement.",
                e.state
            )],
            &payload,
        )
        .await;
    }
    let to = if e.level.needs_medical_review() {
        "acknowledged"
    } else {
        "closed"
    };
    let draft = AuditDraft::permit(audit_actor, "escalation.acknowledge", target).with_payload(&payload);
    let actor = audit_actor.to_owned();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.move_escalation(
                    id,
                    &["open"],
                    to,
                    EscalationChange {
                        acknowledged_by: Some(by_id),
                        ..EscalationChange::default()
                    },
                )
                .await?;
                tx.escalation_event(id, &actor, "acknowledged", None).await
            })
        })
        .await?;
    Ok(Outcome::Done(notice_of(store, pack, id).await?))
}

/// Records the clinical review of an escalated patient, which closes the escalation.
pub async fn review(
    store: &Store,
    pack: &PolicyPack,
    id: i64,
    by: &Username,
    note: &str,
    audit_actor: &str,
) -> Result<Outcome<EscalationNotice>, StoreError> {
    let note = need_reason(note, "reviewed (what the review found and decided)")
        .map_err(|_| StoreError::Invalid("note: say what the review found and decided".into()))?;
    let e = store.escalation(id).await?;
    let by_id = store.staff_id(by).await?;
    let target = format!("escalation:{id}");
    let payload = serde_json::json!({"escalation": id, "by": by.as_str(), "note": note});
    let mut ask = Ask::new(by.clone(), "escalation.review");
    ask.patient = Some(e.patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "escalation.review", &target, d.reasons, &payload).await;
    }
    if !matches!(e.state.as_str(), "open" | "acknowledged") {
        return refuse(
            store,
            audit_actor,
            "escalation.review",
            &target,
            vec![format!("Escalation {id} is {}, not open.", e.state)],
            &payload,
        )
        .await;
    }
    let draft = AuditDraft::permit(audit_actor, "escalation.review", target).with_payload(&payload);
    let actor = audit_actor.to_owned();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.move_escalation(
                    id,
                    &["open", "acknowledged"],
                    "closed",
                    EscalationChange {
                        reviewed_by: Some(by_id),
                        review_note: Some(&note),
                        ..EscalationChange::default()
                    },
                )
                .await?;
                tx.escalation_event(id, &actor, "reviewed", Some(&note)).await
            })
        })
        .await?;
    Ok(Outcome::Done(notice_of(store, pack, id).await?))
}

/// A patient whose observations are overdue, and by how much.
#[derive(Debug, Clone, Serialize)]
pub struct Overdue {
    pub patient: NhsNumber,
    pub name: String,
    pub place: String,
    pub bed: Option<String>,
    pub due_at: String,
    pub minutes_late: i64,
    pub latest_score: Option<u8>,
    pub latest_risk: Option<&'static str>,
    /// Whether the latest set is missing parameters.
    pub latest_incomplete: bool,
}

/// Patients whose next set is overdue now, the latest first.
pub fn overdue(patients: &[PatientObs], now: DateTime<Utc>) -> Vec<Overdue> {
    let mut out: Vec<Overdue> = patients
        .iter()
        .filter_map(|p| {
            let due = remit_domain::time::parse_instant("due", &p.next_due_at).ok()?;
            (due < now).then(|| Overdue {
                patient: p.patient.clone(),
                name: p.name.clone(),
                place: p.place.clone(),
                bed: p.bed.clone(),
                due_at: p.next_due_at.clone(),
                minutes_late: (now - due).num_minutes(),
                latest_score: p.latest.as_ref().map(|s| s.total),
                latest_risk: p.latest.as_ref().map(|s| s.risk.as_str()),
                latest_incomplete: p.latest.as_ref().is_some_and(|s| !s.complete),
            })
        })
        .collect();
    out.sort_by_key(|o| std::cmp::Reverse(o.minutes_late));
    out
}
