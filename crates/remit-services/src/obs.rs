//! Vital signs: recording a set, correcting it, recording that observations were not done, SpO2 scale 2
//! prescriptions, pregnancy status, and the NEWS2 escalations a set raises.
//!
//! Recording asks the policy (`vitals.record`; a level 2–3 recorder names their supervisor), scores the set on the
//! scale the patient's record says (scale 2 only under a current prescription) — or gives no score where NEWS2 does
//! not apply (under 16, pregnant, up to six weeks after birth) —, stores it and raises or raises again the patient's
//! escalation, all in one transaction with its audit entry. A set worse than the escalation still open (higher
//! score or level, acknowledged or not) raises it again: it carries the new score and waits for acknowledgement
//! anew. A correction is a new version: it is re-scored, and the escalations of the set follow it — a higher score
//! raises them again, a lower one leaves them open with a note saying why, never closing them by itself.
//!
//! Escalations move along the employer's routes (`escalation.toml` in the policy pack): each wait (for
//! acknowledgement, then for review) has its time, and each time it runs out the escalation goes one step further.

use chrono::{DateTime, Duration, Utc};
use remit_domain::audit::AuditDraft;
use remit_domain::escalation::{Group, Routes, Wait};
use remit_domain::news2::Spo2Scale;
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::{Assessment, EscalationLevel, NotScored, PregnancyRecord, PregnancyStatus, Readings};
use remit_domain::staff::{StaffProfile, Username};
use remit_domain::time::{format_instant, london_date};
use remit_policy::{PolicyPack, Supervision};
use remit_store::changes::Kind;
use remit_store::delivery::DeliveryEvent;
use remit_store::obs::{
    Amends, EscalationChange, EscalationFilter, EscalationView, NewEscalation, NewSet, PatientObs, Scale2, SetView,
    StoredSet,
};
use remit_store::{Store, StoreError, WriteTx};
use serde::Serialize;

use crate::Principal;
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
    /// The escalation level the set calls for, and the response in Chart 4's words (for an incomplete set, with
    /// what is missing; where NEWS2 does not apply, why).
    pub escalation_level: Option<EscalationLevel>,
    pub response: String,
    /// The sepsis screen NICE NG51 asks for, when the set calls for one.
    pub sepsis: Option<&'static str>,
    /// The escalation now open for the patient because of this set (new or raised further), if any.
    pub escalation: Option<EscalationView>,
    pub scale2: Option<Scale2>,
}

impl Recorded {
    /// What `readings`, assessed so, call for, beside the set stored from them and the escalation they raised.
    fn of(
        set: SetView,
        readings: &Readings,
        assessment: &Assessment,
        escalation: Option<EscalationView>,
        scale2: Option<Scale2>,
    ) -> Self {
        Self {
            set,
            escalation_level: assessment.escalation,
            response: readings.response(assessment),
            sepsis: assessment.sepsis_prompt(),
            escalation,
            scale2,
        }
    }

    /// The answer to recording or correcting a set, read back as stored.
    async fn load(
        store: &Store,
        version_id: i64,
        readings: &Readings,
        assessment: &Assessment,
        escalation: Option<i64>,
        scale2: Option<Scale2>,
    ) -> Result<Self, StoreError> {
        let set = store.obs_version(version_id).await?;
        let escalation = match escalation {
            Some(id) => Some(store.escalation(id).await?),
            None => None,
        };
        Ok(Self::of(set, readings, assessment, escalation, scale2))
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
    known: Option<&Principal>,
) -> Result<(Vec<String>, scope::Facts), StoreError> {
    let mut ask = Ask::new(by.clone(), "vitals.record");
    ask.patient = Some(patient.clone());
    if let Some(s) = supervisor {
        ask.supervision = Supervision::Indirect;
        ask.supervisor = Some(s.clone());
    }
    let facts = scope::Facts::load_with(store, pack, &ask, known).await?;
    let reasons = facts.decide(pack, &ask).reasons;
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

/// "NEWS2 7 (emergency)", or "no NEWS2 (under 16)" for a set NEWS2 did not score.
fn score_words(score: Option<u8>, level: EscalationLevel, not_scored: Option<NotScored>) -> String {
    match (score, not_scored) {
        (Some(s), _) => format!("NEWS2 {s} ({})", level.as_str()),
        (None, Some(n)) => format!("no NEWS2 ({}): for the registered nurse's judgement", n.as_str()),
        (None, None) => format!("no NEWS2 ({})", level.as_str()),
    }
}

/// Raises an escalation for a set that calls for one when none is open for the patient. A set worse than the one
/// still open — a higher score, or a higher level — raises that one again (see [`WriteTx::raise_again`]): it
/// carries the new score and a level never lower than it had, and waits for acknowledgement anew. A set no worse
/// leaves it as it is.
pub(crate) async fn escalate(
    tx: &mut WriteTx,
    set: SetRef<'_>,
    readings: &Readings,
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
    // Every set stored passes here: the board shows it.
    tx.announce(Kind::Set, place);
    let Some(level) = a.escalation else {
        return Ok(None);
    };
    tx.announce(Kind::Escalation, place);
    let mut new = NewEscalation {
        patient_id,
        place: place.to_owned(),
        set_id,
        version_id,
        level,
        score: a.total,
        about: readings.escalation_about(a),
        raised_at: at,
    };
    let Some(open) = live else {
        let what = format!("raised: {}", score_words(a.total, level, a.not_scored));
        let id = tx.raise_escalation(&new, actor, &what).await?;
        // Delivered outside remit too (when the employer has a gateway), from the same transaction: never lost.
        tx.enqueue_delivery(id, DeliveryEvent::Raised, level, 0).await?;
        return Ok(Some(id));
    };
    let higher_score = matches!((a.total, open.score), (Some(now), Some(was)) if now > was);
    if level <= open.level && !higher_score {
        // No worse, but a set the nurse must judge (incomplete, or unscored) is never passed over: the open
        // escalation says so and its history records it.
        if let Some(about) = new.about.as_deref() {
            tx.escalation_about(open.id, about).await?;
            tx.escalation_event(open.id, actor, &format!("a later set: {about}"), None)
                .await?;
        }
        return Ok(None);
    }
    new.level = level.max(open.level);
    let what = format!(
        "{RAISED_AGAIN}{}, worse than the {} it carried{}",
        score_words(a.total, new.level, a.not_scored),
        open.score.map_or_else(|| "set".to_owned(), |s| format!("NEWS2 {s}")),
        if open.acknowledged {
            " when acknowledged: it waits for acknowledgement of the new score"
        } else {
            ""
        }
    );
    tx.raise_again(open.id, &new, actor, &what).await?;
    tx.enqueue_delivery(open.id, DeliveryEvent::RaisedAgain, new.level, 0)
        .await?;
    Ok(Some(open.id))
}

/// Records a set.
/// `by`: the recorder when the caller already knows them (signing in does), else their profile is loaded here.
pub async fn record(
    store: &Store,
    pack: &PolicyPack,
    r: &RecordSet,
    audit_actor: &str,
    by: Option<&Principal>,
) -> Result<Outcome<Recorded>, StoreError> {
    let now = store.now();
    let taken_at = r.taken_at.unwrap_or(now);
    check_taken_at(taken_at, now)?;
    r.readings.validate()?;
    let (mut reasons, mut facts) = may_record(store, pack, &r.by, &r.patient, r.supervisor.as_ref(), by).await?;
    let target = format!("patient:{}", r.patient);
    // A patient there is not was judged as one on nobody's ward: refused as one the recorder may not see, never
    // answered "no such patient", so that a set tells nobody whether a patient exists.
    let record = match facts.take_record() {
        Ok(record) => record,
        Err(_) if !reasons.is_empty() => {
            return refuse(store, audit_actor, "vitals.record", &target, reasons, r).await;
        }
        Err(e) => return Err(e),
    };
    let scale = match scale_for(r.scale, record.scale2.as_ref()) {
        Ok(s) => s,
        Err(reason) => {
            reasons.push(reason);
            Spo2Scale::One
        }
    };
    if !reasons.is_empty() {
        return refuse(store, audit_actor, "vitals.record", &target, reasons, r).await;
    }
    let patient_id = record.id;
    let not_scored = NotScored::of(
        record.patient.date_of_birth,
        record.pregnancy.as_ref(),
        london_date(taken_at),
    );
    let assessment = r.readings.assess_for(scale, not_scored);
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
        total: Option<u8>,
        risk: Option<&'static str>,
        complete: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        not_scored: Option<&'static str>,
    }
    let draft = AuditDraft::permit(audit_actor, "vitals.record", target).with_payload(&Payload {
        set: r,
        spo2_scale: scale_name(scale),
        total: assessment.total,
        risk: assessment.risk.map(|r| r.as_str()),
        complete: assessment.complete,
        not_scored: assessment.not_scored.map(NotScored::as_str),
    });
    let place = record.patient.place.to_string();
    let actor = audit_actor.to_owned();
    let written = new.clone();
    let readings = new.readings.clone();
    // The writer stores the set, perhaps together with others' (`Store::command_with_set`); the rest follows it.
    let ((version_id, set_id, escalation), _) = store
        .command_with_set(new, draft, move |tx, stored| {
            Box::pin(async move {
                let esc = escalate(
                    tx,
                    SetRef {
                        at: now,
                        patient_id,
                        place: &place,
                        stored,
                    },
                    &readings,
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
        response: r.readings.response(&assessment),
        sepsis: assessment.sepsis_prompt(),
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
    let taken_at =
        remit_domain::time::parse_instant("taken_at", &old.taken_at).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let not_scored = NotScored::of(
        record.patient.date_of_birth,
        record.pregnancy.as_ref(),
        london_date(taken_at),
    );
    let assessment = a.readings.assess_for(scale, not_scored);
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
                let news2 = |s: Option<u8>| s.map_or_else(|| "not scored".to_owned(), |s| s.to_string());
                for e in tx.live_escalations_of_set(set_id).await? {
                    let lower = assessment.escalation.is_none_or(|l| l < e.level);
                    let note = lower.then(|| {
                        format!(
                            "The set that raised this was corrected by {by_name}: NEWS2 now {} (was {}). Reason: \
                             {reason}. It stays open until someone closes it.",
                            news2(assessment.total),
                            news2(e.score)
                        )
                    });
                    // A correction that leaves the set unscored (NEWS2 no longer applies) keeps the score the
                    // escalation carries: its response is never lowered by a correction.
                    tx.follow_correction(e.id, version_id, assessment.total.or(e.score), note.as_deref())
                        .await?;
                    tx.announce(Kind::Escalation, &place);
                    tx.escalation_event(
                        e.id,
                        &actor,
                        &format!(
                            "set corrected: NEWS2 now {} (was {})",
                            news2(assessment.total),
                            news2(e.score)
                        ),
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
                    &new.readings,
                    &assessment,
                    &actor,
                )
                .await?;
                Ok((version_id, esc))
            })
        })
        .await?;
    Ok(Outcome::Done(
        Recorded::load(store, version_id, &a.readings, &assessment, escalation, None).await?,
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
    let patient = old.patient.to_string();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.retire_version(version, "entered-in-error", by_id, Some(&reason))
                    .await?;
                let place = tx.announce_patient(Kind::Set, &patient).await?;
                for e in tx.live_escalations_of_set(set_id).await? {
                    let note = format!(
                        "The set that raised this was marked entered in error by {by_name}: {reason}. It stays open \
                         until someone closes it."
                    );
                    tx.follow_correction(e.id, version, e.score, Some(&note)).await?;
                    tx.escalation_event(e.id, &actor, "set entered in error", Some(&reason))
                        .await?;
                    if let Some(p) = &place {
                        tx.announce(Kind::Escalation, p);
                    }
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
    remit_domain::news2::check_scale2_target(low, high)?;
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
    let by_id = store.staff_id(&p.by).await?;
    let target = format!("patient:{}", p.patient);
    let mut ask = Ask::new(p.by.clone(), "vitals.prescribe-scale-2");
    ask.patient = Some(p.patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "vitals.prescribe-scale-2", &target, d.reasons, p).await;
    }
    let patient_id = store.patient_id(&p.patient).await?;
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
    let by_id = store.staff_id(by).await?;
    let target = format!("patient:{patient}");
    let mut ask = Ask::new(by.clone(), "vitals.prescribe-scale-2");
    ask.patient = Some(patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    let payload = serde_json::json!({"by": by.as_str(), "reason": reason});
    if !d.permitted() {
        return refuse(store, audit_actor, "vitals.end-scale-2", &target, d.reasons, &payload).await;
    }
    // Asked after the decision, so that nobody learns from the answer whether a patient they may not see exists, or
    // is on scale 2.
    let patient_id = store.patient_id(patient).await?;
    if store.scale2(patient_id).await?.is_none() {
        return Err(StoreError::Invalid(
            "patient: has no SpO2 scale 2 prescription to end".into(),
        ));
    }
    let draft = AuditDraft::permit(audit_actor, "vitals.end-scale-2", target).with_payload(&payload);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.end_scale2(patient_id, by_id, &reason).await.map(|_| ()) })
        })
        .await?;
    Ok(Outcome::Done(()))
}

/// What an escalation is waiting for in `state`.
fn wait_of(state: &str) -> Wait {
    if state == "acknowledged" {
        Wait::Review
    } else {
        Wait::Acknowledgement
    }
}

/// Moves escalations along the employer's cascade as time passes: each wait (for acknowledgement, then for review)
/// that ran past its time takes a step, and a late sweep takes every step due, each dated when it fell due. Each
/// move is audited as `system` and announced to open pages. Each step is taken by an update conditional on what was
/// read, so that when several instances sweep at once, one takes it and the others change nothing. Returns how many
/// moved.
pub async fn sweep(store: &Store, routes: &Routes) -> Result<usize, StoreError> {
    let now = store.now();
    let mut moved = 0;
    for w in store.waiting().await? {
        let wait = wait_of(&w.state);
        let steps = routes.steps_due(w.level, wait, w.stage, w.notified_at, now);
        let Some(&last) = steps.last() else {
            continue;
        };
        let mut tx = store.begin().await?;
        if !tx
            .escalation_step(w.id, (&w.state, w.level), (w.stage, w.notified_at), last)
            .await?
        {
            // Moved meanwhile (answered, or taken by another instance's sweep): nothing to do. Rolled back now, so
            // that the connection goes back to the pool rather than be closed.
            tx.rollback().await?;
            continue;
        }
        let within = routes.within(w.level, wait).unwrap_or_default().num_minutes();
        let waited = match wait {
            Wait::Acknowledgement => "not acknowledged",
            Wait::Review => "not reviewed",
        };
        for &(stage, at) in &steps {
            let to: Vec<String> = routes
                .step_groups(w.level, wait, stage)
                .iter()
                .map(|g| routes.group_title(g))
                .collect();
            let what = format!("cascaded (step {stage}): {waited} within {within} minutes");
            let note = format!("told again, and now also {}", to.join(" and "));
            tx.escalation_event_at(w.id, at, "system", &what, Some(&note)).await?;
        }
        tx.enqueue_delivery(w.id, DeliveryEvent::Cascaded, w.level, last.0)
            .await?;
        tx.announce(Kind::Escalation, &w.place);
        let draft = AuditDraft::permit("system", "escalation.cascade", format!("escalation:{}", w.id))
            .with_payload(&serde_json::json!({"stage": last.0, "waiting_for": waited}));
        tx.commit(draft).await?;
        moved += 1;
    }
    Ok(moved)
}

/// Whether an escalation (in `state`, at `level` and `stage`, its wait's clock started at `notified_at`) is due to
/// move along the cascade at `now`: what a list of escalations checks before it is shown. One whose time cannot be
/// read is reported as due, so that the sweep meets it and reports it.
pub fn cascade_due(
    routes: &Routes,
    (state, level, stage, notified_at): (&str, EscalationLevel, u8, &str),
    now: DateTime<Utc>,
) -> bool {
    matches!(state, "open" | "acknowledged")
        && remit_domain::time::parse_instant("notified_at", notified_at).map_or(true, |since| {
            !routes.steps_due(level, wait_of(state), stage, since, now).is_empty()
        })
}

/// What `read` reads, once the cascade has moved on any escalation in it that waited too long: read, and only if
/// `due` finds one in it due to move at the time given, swept and read again. (Escalations not in what is read are
/// left to their own reads and to the server's periodic sweep.)
pub(crate) async fn swept<T, F, R, D>(store: &Store, routes: &Routes, read: F, due: D) -> Result<T, StoreError>
where
    F: Fn() -> R,
    R: std::future::Future<Output = Result<T, StoreError>>,
    D: Fn(&T, DateTime<Utc>) -> bool,
{
    let first = read().await?;
    swept_after(store, routes, first, read, due).await
}

/// [`swept`] for what the caller has read once already (`first`, by `read`).
pub async fn swept_after<T, F, R, D>(store: &Store, routes: &Routes, first: T, read: F, due: D) -> Result<T, StoreError>
where
    F: Fn() -> R,
    R: std::future::Future<Output = Result<T, StoreError>>,
    D: Fn(&T, DateTime<Utc>) -> bool,
{
    if !due(&first, store.now()) {
        return Ok(first);
    }
    sweep(store, routes).await?;
    read().await
}

/// Someone an escalation is addressed to now, and as what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    pub username: String,
    pub name: String,
    #[serde(rename = "as")]
    pub as_: String,
}

/// An escalation with the people it is addressed to now and how long it has waited.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationNotice {
    #[serde(flatten)]
    pub escalation: EscalationView,
    pub response: &'static str,
    /// The sepsis screen NICE NG51 asks for, at every level above a ward response.
    pub sepsis: Option<&'static str>,
    /// `acknowledgement` or `review`, while it is open.
    pub waiting_for: Option<&'static str>,
    pub waiting_minutes: i64,
    pub recipients: Vec<Recipient>,
    /// Nobody on duty where the patient is could acknowledge it: the people the routes name for that are told.
    pub no_one_to_acknowledge: bool,
    /// Its score rose since it was raised: the newest such change, in its history's words.
    pub score_rose: Option<String>,
    /// Where its latest delivery to the employer's paging gateway stands, where there is one (filled in by the
    /// server that delivers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<remit_store::delivery::DeliveryStatus>,
}

/// The response to an escalation raised by a set NEWS2 did not score.
pub const JUDGEMENT: &str = "NEWS2 does not apply to this patient: the registered nurse assesses them and decides \
     on the response and the frequency of observations.";

/// Who is on duty at a place, with the answers to the two questions a route asks of each: may they acknowledge
/// this escalation, and may they review it.
struct OnDuty {
    profile: StaffProfile,
    leads: bool,
    reviews: bool,
}

async fn on_duty(
    store: &Store,
    pack: &PolicyPack,
    place: &str,
    facts: &remit_policy::PatientFacts,
    level: EscalationLevel,
) -> Result<Vec<OnDuty>, StoreError> {
    let now = store.now();
    let today = now.date_naive();
    // Every profile under one reading of the versions.
    let versions = store.versions().await?;
    let mut out = Vec::new();
    for profile in store.profiles_on_duty_at(place, now, versions).await? {
        // Each person is asked with their profile loaded once. They are on duty where the patient is.
        let may = |activity: &str| scope::may_act_on_escalation(pack, &profile, activity, facts, level, today);
        let (leads, reviews) = (may("escalation.acknowledge"), may("escalation.review"));
        out.push(OnDuty {
            profile,
            leads,
            reviews,
        });
    }
    Ok(out)
}

/// Whether anyone on duty at `place` could acknowledge an escalation for `patient` there, with the profiles the store
/// keeps under `versions` (the ward board's own statement reads them). Only that question is asked, and only until
/// someone can: a board that shows an escalation asks it, and the policy decision is most of a board's work.
pub async fn anyone_leads(
    store: &Store,
    pack: &PolicyPack,
    place: &remit_domain::place::Place,
    (patient, level): (&NhsNumber, EscalationLevel),
    versions: remit_store::Versions,
) -> Result<bool, StoreError> {
    let facts = remit_policy::PatientFacts {
        nhs_number: patient.clone(),
        place: place.code.clone(),
        place_name: place.name.clone(),
    };
    let now = store.now();
    let today = now.date_naive();
    Ok(store
        .profiles_on_duty_at(place.code.as_str(), now, versions)
        .await?
        .iter()
        .any(|p| scope::may_act_on_escalation(pack, p, "escalation.acknowledge", &facts, level, today)))
}

/// The people on duty a group names, with what they are told as.
fn resolve<'a>(routes: &Routes, g: &Group, people: &'a [OnDuty]) -> Vec<(&'a StaffProfile, String)> {
    let lead = || people.iter().filter(|p| p.leads);
    match g {
        Group::Lead => lead()
            .map(|p| (&p.profile, "registered staff on duty".to_owned()))
            .collect(),
        Group::NurseInCharge => {
            // Graded staff (a registrar, outreach covering the hospital) are called by their grade, not as the
            // place's nurse in charge.
            let ungraded = || lead().filter(|p| p.profile.staff.grade.is_none());
            let top = ungraded().filter_map(|p| p.profile.staff.level).max();
            ungraded()
                .filter(|p| top.is_some() && p.profile.staff.level == top)
                .map(|p| (&p.profile, "nurse in charge".to_owned()))
                .collect()
        }
        Group::MedicalCover => people
            .iter()
            .filter(|p| p.reviews)
            .map(|p| (&p.profile, "medical cover".to_owned()))
            .collect(),
        Group::Grade(grade) => {
            let title = routes.grade_title(grade).unwrap_or(grade.as_str()).to_lowercase();
            people
                .iter()
                .filter(|p| p.profile.staff.grade.as_ref() == Some(grade))
                .map(|p| (&p.profile, title.clone()))
                .collect()
        }
        Group::FirstOf(list) => list
            .iter()
            .map(|g| resolve(routes, g, people))
            .find(|found| !found.is_empty())
            .unwrap_or_default(),
    }
}

/// Who an escalation goes to now: the groups of the employer's route for its level, at the step of the wait it is
/// in, resolved against who is on duty where the patient is. When nobody there could acknowledge it, the people the
/// routes name for that case are told too, wherever they are on duty. Returns the recipients and whether nobody
/// could acknowledge it.
pub async fn recipients(
    store: &Store,
    pack: &PolicyPack,
    e: &EscalationView,
) -> Result<(Vec<Recipient>, bool), StoreError> {
    let routes = pack.escalation();
    let patient = store.patient(&e.patient).await?;
    let place = store.place(&patient.place).await?;
    let facts = remit_policy::PatientFacts {
        nhs_number: patient.nhs_number.clone(),
        place: patient.place.clone(),
        place_name: place.name,
    };
    let here = on_duty(store, pack, &e.place, &facts, e.level).await?;
    let who = |(p, as_): (&StaffProfile, String)| Recipient {
        username: p.staff.username.to_string(),
        name: p.staff.name.to_string(),
        as_,
    };
    let mut out: Vec<Recipient> = Vec::new();
    for g in routes.groups(e.level, wait_of(&e.state), e.stage) {
        for r in resolve(routes, &g, &here).into_iter().map(who) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    let no_one = e.state == "open" && !here.iter().any(|p| p.leads);
    if no_one {
        for r in told_when_no_one_can_acknowledge(store, pack).await? {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    Ok((out, no_one))
}

/// The people the routes name for an escalation nobody where the patient is could acknowledge: staff of those
/// grades, wherever they are on duty. Empty when none is on duty, which the board and inbox then say.
pub async fn told_when_no_one_can_acknowledge(store: &Store, pack: &PolicyPack) -> Result<Vec<Recipient>, StoreError> {
    let routes = pack.escalation();
    let now = store.now();
    let versions = store.versions().await?;
    let mut anywhere: Vec<OnDuty> = Vec::new();
    for place in store.places().await? {
        for profile in store.profiles_on_duty_at(place.code.as_str(), now, versions).await? {
            if !anywhere.iter().any(|a| a.profile.id == profile.id) {
                // Only grades are named here (`Routes::parse` holds it), so no policy question is needed.
                anywhere.push(OnDuty {
                    profile,
                    leads: false,
                    reviews: false,
                });
            }
        }
    }
    let mut out: Vec<Recipient> = Vec::new();
    for g in &routes.no_one_to_acknowledge {
        for (p, as_) in resolve(routes, g, &anywhere) {
            let r = Recipient {
                username: p.staff.username.to_string(),
                name: p.staff.name.to_string(),
                as_: format!("{as_}: nobody on duty where the patient is can acknowledge"),
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Escalations as notices (after moving the cascade along), newest first.
pub async fn notices(
    store: &Store,
    pack: &PolicyPack,
    filter: &EscalationFilter,
) -> Result<Vec<EscalationNotice>, StoreError> {
    notices_with(store, pack, filter, Recipients::Named).await
}

/// Whether a list of escalations names who each is addressed to, which costs a policy question per person on duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    Named,
    Omitted,
}

/// Escalations as notices, with or without working out who each is addressed to (for pages that show the
/// escalation but not its recipients).
pub async fn notices_with(
    store: &Store,
    pack: &PolicyPack,
    filter: &EscalationFilter,
    recipients: Recipients,
) -> Result<Vec<EscalationNotice>, StoreError> {
    let now = store.now();
    let routes = pack.escalation();
    let mut out = Vec::new();
    let due = |list: &Vec<EscalationView>, now| {
        list.iter()
            .any(|e| cascade_due(routes, (&e.state, e.level, e.stage, &e.notified_at), now))
    };
    for e in swept(store, routes, || store.escalations(filter), due).await? {
        out.push(notice(store, pack, e, now, recipients).await?);
    }
    Ok(out)
}

async fn notice(
    store: &Store,
    pack: &PolicyPack,
    e: EscalationView,
    now: DateTime<Utc>,
    named: Recipients,
) -> Result<EscalationNotice, StoreError> {
    let raised = remit_domain::time::parse_instant("raised_at", &e.raised_at)
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let until = match (&e.acknowledged_at, &e.reviewed_at) {
        (Some(t), _) | (None, Some(t)) => {
            remit_domain::time::parse_instant("at", t).map_err(|err| StoreError::Corrupt(err.to_string()))?
        }
        _ => now,
    };
    let open = matches!(e.state.as_str(), "open" | "acknowledged");
    let (recipients, no_one) = match named {
        Recipients::Named if open => recipients(store, pack, &e).await?,
        _ => (Vec::new(), false),
    };
    Ok(EscalationNotice {
        response: match e.score {
            Some(_) => e.level.response(),
            None => JUDGEMENT,
        },
        sepsis: e.score.and(e.level.sepsis_prompt()),
        waiting_for: open.then(|| match wait_of(&e.state) {
            Wait::Acknowledgement => "acknowledgement",
            Wait::Review => "review",
        }),
        waiting_minutes: (until - raised).num_minutes(),
        recipients,
        no_one_to_acknowledge: no_one,
        score_rose: e
            .history
            .iter()
            .rev()
            .find(|h| h.what.starts_with(RAISED_AGAIN))
            .map(|h| h.what.clone()),
        delivery: None,
        escalation: e,
    })
}

/// How many of `notices` wait for acknowledgement: an inbox's count.
pub fn to_acknowledge(notices: &[EscalationNotice]) -> usize {
    notices
        .iter()
        .filter(|n| n.waiting_for == Some("acknowledgement"))
        .count()
}

/// How an escalation's history begins the entry of a worse set raising it again.
const RAISED_AGAIN: &str = "raised again: ";

/// The open escalations addressed to `username` now, most urgent first: those waiting for acknowledgement before
/// those waiting for review, then the most severe, then the longest waiting.
pub async fn inbox(store: &Store, pack: &PolicyPack, username: &str) -> Result<Vec<EscalationNotice>, StoreError> {
    let filter = EscalationFilter {
        open: true,
        place: None,
        patient: None,
    };
    let mut list: Vec<EscalationNotice> = notices(store, pack, &filter)
        .await?
        .into_iter()
        .filter(|n| n.recipients.iter().any(|r| r.username == username))
        .collect();
    list.sort_by_key(|n| {
        std::cmp::Reverse((
            n.waiting_for == Some("acknowledgement"),
            n.escalation.level,
            n.waiting_minutes,
        ))
    });
    Ok(list)
}

/// A set as it was recorded, read back: the answer [`record`] gave, again (the same assessment of the same readings,
/// and the escalation the set raised or raised further while it is still about this version), for the page a browser
/// is sent to once it has recorded a set, so that reloading that page shows the answer and records nothing. A set of
/// another patient's is not found.
pub async fn recorded(
    store: &Store,
    record: &remit_store::patient::PatientRecord,
    version_id: i64,
) -> Result<Recorded, StoreError> {
    let patient = &record.patient.nhs_number;
    let set = store.obs_version(version_id).await?;
    if &set.patient != patient {
        return Err(StoreError::NotFound(format!("no set {version_id} for this patient")));
    }
    let scale = if set.spo2_scale == 2 {
        Spo2Scale::Two
    } else {
        Spo2Scale::One
    };
    let assessment = set.readings.assess_for(scale, set.not_scored);
    let filter = EscalationFilter {
        open: false,
        place: None,
        patient: Some(patient.clone()),
    };
    let escalation = store
        .escalations(&filter)
        .await?
        .into_iter()
        .find(|e| e.version_id == version_id);
    let readings = set.readings.clone();
    Ok(Recorded::of(
        set,
        &readings,
        &assessment,
        escalation,
        record.scale2.clone(),
    ))
}

/// One escalation as a notice.
pub async fn notice_of(store: &Store, pack: &PolicyPack, id: i64) -> Result<EscalationNotice, StoreError> {
    let e = store.escalation(id).await?;
    notice(store, pack, e, store.now(), Recipients::Named).await
}

/// One escalation as it stands now, the cascade moved along first if it waited too long: for a read of it, which
/// [`notice_now`] then makes a notice once the reader may see it.
pub async fn escalation_now(store: &Store, pack: &PolicyPack, id: i64) -> Result<EscalationView, StoreError> {
    let routes = pack.escalation();
    let due = |e: &EscalationView, now| cascade_due(routes, (&e.state, e.level, e.stage, &e.notified_at), now);
    swept(store, routes, || store.escalation(id), due).await
}

/// [`escalation_now`]'s escalation as a notice, with the people it is addressed to now.
pub async fn notice_now(store: &Store, pack: &PolicyPack, e: EscalationView) -> Result<EscalationNotice, StoreError> {
    notice(store, pack, e, store.now(), Recipients::Named).await
}

/// Acknowledges an escalation as the registered professional leading care where the patient is. Where the routes
/// give the level no review (a ward-level escalation, NEWS2 1–4), it is then closed: the nurse's assessment is the
/// response. Higher levels wait for the review, on its own clock from now.
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
    ask.escalation_level = Some(e.level);
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
    let to = if pack.escalation().acknowledgement_closes(e.level) {
        "closed"
    } else {
        "acknowledged"
    };
    let draft = AuditDraft::permit(audit_actor, "escalation.acknowledge", target).with_payload(&payload);
    let actor = audit_actor.to_owned();
    let place = e.place.clone();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.announce(Kind::Escalation, &place);
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
    ask.escalation_level = Some(e.level);
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
    let place = e.place.clone();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.announce(Kind::Escalation, &place);
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

/// Records that a patient's observations were not done, and why: by the people who may record them, audited. The
/// patient stays overdue (nothing was measured), and the ward's board and inbox show the reason to the registered
/// nurse.
pub async fn missed(
    store: &Store,
    pack: &PolicyPack,
    patient: &NhsNumber,
    by: &Username,
    reason: &str,
    audit_actor: &str,
) -> Result<Outcome<i64>, StoreError> {
    let reason = need_reason(reason, "recorded as not done (what stopped the observations)")?;
    let mut ask = Ask::new(by.clone(), "vitals.missed");
    ask.patient = Some(patient.clone());
    let mut facts = scope::Facts::load(store, pack, &ask).await?;
    let reasons = facts.decide(pack, &ask).reasons;
    let target = format!("patient:{patient}");
    let payload = serde_json::json!({"by": by.as_str(), "reason": reason});
    if !reasons.is_empty() {
        return refuse(store, audit_actor, "vitals.missed", &target, reasons, &payload).await;
    }
    let record = facts.take_record()?;
    let (patient_id, place) = (record.id, record.patient.place.to_string());
    let by_id = facts.actor.id;
    let draft = AuditDraft::permit(audit_actor, "vitals.missed", target).with_payload(&payload);
    let (id, _) = store
        .command(draft, move |tx| {
            Box::pin(async move {
                // The board shows the reason.
                tx.announce(Kind::Escalation, &place);
                tx.record_missed(patient_id, by_id, &reason).await
            })
        })
        .await?;
    Ok(Outcome::Done(id))
}

/// A change to a patient's pregnancy status: pregnant or postpartum until a date, or not pregnant (`None`).
#[derive(Debug, Clone, Serialize)]
pub struct PregnancyChange {
    pub patient: NhsNumber,
    pub by: Username,
    #[serde(serialize_with = "ser_pregnancy")]
    pub status: Option<PregnancyStatus>,
    pub until: Option<chrono::NaiveDate>,
}

fn ser_pregnancy<S: serde::Serializer>(p: &Option<PregnancyStatus>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.map_or("not-pregnant", PregnancyStatus::as_str))
}

/// Parses a pregnancy status as people give it: `pregnant`, `postpartum` or `not-pregnant`.
pub fn parse_pregnancy(input: &str) -> Result<Option<PregnancyStatus>, StoreError> {
    match input.trim() {
        "not-pregnant" => Ok(None),
        other => PregnancyStatus::parse(other).map(Some).map_err(|_| {
            StoreError::Invalid(format!(
                "status: `{}` is not pregnant, postpartum or not-pregnant",
                other.chars().take(40).collect::<String>()
            ))
        }),
    }
}

/// Records a patient's pregnancy status when `by` may (`record.pregnancy-status`), audited. From the next set on,
/// NEWS2 does not apply while it holds.
pub async fn set_pregnancy(
    store: &Store,
    pack: &PolicyPack,
    c: &PregnancyChange,
    audit_actor: &str,
) -> Result<Outcome<Option<PregnancyRecord>>, StoreError> {
    let today = london_date(store.now());
    let record = match c.status {
        Some(status) => Some(PregnancyRecord::new(status, c.until, today)?),
        None if c.until.is_some() => {
            return Err(StoreError::Invalid(
                "until: give an end date only with pregnant or postpartum".into(),
            ));
        }
        None => None,
    };
    let target = format!("patient:{}", c.patient);
    let mut ask = Ask::new(c.by.clone(), "record.pregnancy-status");
    ask.patient = Some(c.patient.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "record.pregnancy-status", &target, d.reasons, c).await;
    }
    let patient_id = store.patient_id(&c.patient).await?;
    let draft = AuditDraft::permit(audit_actor, "record.pregnancy-status", target).with_payload(c);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.set_pregnancy(patient_id, record.as_ref()).await })
        })
        .await?;
    Ok(Outcome::Done(record))
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
                latest_score: p.latest.as_ref().and_then(|s| s.total),
                latest_risk: p.latest.as_ref().and_then(|s| s.risk).map(|r| r.as_str()),
                latest_incomplete: p.latest.as_ref().is_some_and(|s| !s.complete),
            })
        })
        .collect();
    out.sort_by_key(|o| std::cmp::Reverse(o.minutes_late));
    out
}
