//! The demo trust's observation stories (the stable patient, the deteriorating one, the red parameter, the overdue
//! patient, the scale 2 patient, the unacknowledged 7), seeded through the same scoring and escalation code as real
//! sets, with times relative to now.

use chrono::{DateTime, Duration, Utc};
use remit_domain::audit::AuditDraft;
use remit_domain::news2::{Consciousness, Spo2Scale};
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::{OxygenDevice, Readings};
use remit_domain::staff::Username;
use remit_policy::PolicyPack;
use remit_store::demo::SeedOutcome;
use remit_store::obs::{EscalationChange, NewSet};
use remit_store::{Store, StoreError};

use crate::obs::{SetRef, escalate};
use remit_domain::imaging::{Catalogue, RequestStatus};
use remit_store::imaging::NewRequest;

/// One set of the story: minutes ago, the recorder, and the values (RR, SpO2, O2 L/min, SBP, pulse, ACVPU, temp).
struct Story {
    patient: &'static str,
    minutes_ago: i64,
    by: &'static str,
    values: (u8, u8, u16, u16, u16, Consciousness, u16),
    /// Acknowledge the escalation it raises, this many minutes after, by this nurse.
    acknowledge: Option<(i64, &'static str)>,
}

fn readings(v: (u8, u8, u16, u16, u16, Consciousness, u16)) -> Readings {
    let (rr, spo2, flow, sbp, pulse, c, temp) = v;
    Readings {
        respiration_rate: Some(rr),
        spo2: Some(spo2),
        on_oxygen: flow > 0,
        oxygen_flow_tenths: (flow > 0).then_some(flow),
        oxygen_device: (flow > 0).then_some(OxygenDevice::NasalCannula),
        systolic_bp: Some(sbp),
        diastolic_bp: Some(sbp * 6 / 10),
        pulse: Some(pulse),
        consciousness: Some(c),
        temperature_tenths: Some(temp),
        missing: Vec::new(),
    }
}

const A: Consciousness = Consciousness::Alert;

fn stories() -> Vec<Story> {
    let s = |patient, minutes_ago, by, values| Story {
        patient,
        minutes_ago,
        by,
        values,
        acknowledge: None,
    };
    let acked = |mut st: Story, after, by| {
        st.acknowledge = Some((after, by));
        st
    };
    let mut out = Vec::new();
    // Margaret Hughes: stable, NEWS2 0-1 over three days.
    for (i, temp) in [369, 360, 368, 371, 360, 367].into_iter().enumerate() {
        let st = s(
            "9990001375",
            72 * 60 - 12 * 60 * i as i64 - 60,
            if i % 2 == 0 { "priya.rn" } else { "alex.ap" },
            (16, 97, 0, 128, 76, A, temp),
        );
        out.push(if temp == 360 { acked(st, 10, "priya.rn") } else { st });
    }
    // David Clarke: deteriorating, 2, 4, 6 over the last 12 hours; the urgent escalation is acknowledged and waits
    // for the medical team's review.
    out.push(acked(
        s("9990002746", 12 * 60, "alex.ap", (21, 96, 0, 124, 84, A, 372)),
        15,
        "priya.rn",
    ));
    out.push(acked(
        s("9990002746", 6 * 60, "alex.ap", (22, 96, 0, 118, 95, A, 382)),
        10,
        "priya.rn",
    ));
    out.push(acked(
        s("9990002746", 40, "alex.ap", (23, 94, 0, 114, 112, A, 384)),
        8,
        "priya.rn",
    ));
    // Aisha Rahman: a single red parameter (new confusion) at the last set.
    out.push(s("9990004110", 9 * 60, "priya.rn", (17, 97, 0, 132, 80, A, 368)));
    out.push(acked(
        s(
            "9990004110",
            30,
            "alex.ap",
            (18, 96, 0, 130, 82, Consciousness::NewConfusion, 369),
        ),
        5,
        "priya.rn",
    ));
    // George Wilson: 4-hourly after a score of 1, last seen six hours ago: two hours overdue.
    out.push(acked(
        s("9990005486", 6 * 60, "alex.ap", (18, 96, 0, 126, 80, A, 381)),
        10,
        "priya.rn",
    ));
    // Fatima Noor: routine.
    out.push(s("9990006857", 3 * 60, "alex.ap", (16, 98, 0, 122, 72, A, 366)));
    // Peter O'Neill: COPD on scale 2, 2 L/min by nasal cannula, SpO2 within his target.
    out.push(acked(
        s("9990008221", 2 * 60, "ben.rn", (19, 89, 20, 134, 86, A, 371)),
        10,
        "ben.rn",
    ));
    // Susan Blake: NEWS2 7 an hour ago, not acknowledged.
    out.push(s("9990009597", 60, "ben.rn", (25, 93, 0, 105, 105, A, 375)));
    out
}

/// Seeds the demo trust (if the database is empty) and its observation stories. Idempotent.
pub async fn seed(
    store: &Store,
    pack: &PolicyPack,
    catalogue: &Catalogue,
    actor: &str,
) -> Result<SeedOutcome, StoreError> {
    let outcome = store.seed_demo(actor, &pack.competency_catalogue()).await?;
    if outcome == SeedOutcome::AlreadyPresent {
        return Ok(outcome);
    }
    let now = store.now();
    let okafor = store.staff_id(&Username::parse("dr.okafor")?).await?;
    let peter = store.patient_id(&NhsNumber::parse("9990008221")?).await?;
    let draft = AuditDraft::permit(actor, "vitals.prescribe-scale-2", "patient:9990008221")
        .with_payload(&serde_json::json!({"by": "dr.okafor", "target": "88-92", "seeded": "demo"}));
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.prescribe_scale2(peter, 88, 92, "COPD with hypercapnic respiratory failure", okafor)
                    .await
            })
        })
        .await?;
    let mut list = stories();
    list.sort_by_key(|s| std::cmp::Reverse(s.minutes_ago));
    for st in list {
        seed_set(store, actor, &st, now).await?;
    }
    seed_imaging(store, catalogue, actor).await?;
    Ok(outcome)
}

async fn seed_set(store: &Store, actor: &str, st: &Story, now: DateTime<Utc>) -> Result<(), StoreError> {
    let nhs = NhsNumber::parse(st.patient)?;
    let patient = store.patient(&nhs).await?;
    let patient_id = store.patient_id(&nhs).await?;
    let by = store.staff_id(&Username::parse(st.by)?).await?;
    let scale = if store.scale2(patient_id).await?.is_some() {
        Spo2Scale::Two
    } else {
        Spo2Scale::One
    };
    let r = readings(st.values);
    let assessment = r.assess(scale);
    let taken_at = now - Duration::minutes(st.minutes_ago);
    let new = NewSet {
        patient_id,
        taken_at,
        recorded_at: taken_at + Duration::minutes(2),
        recorded_by: by,
        supervisor_id: None,
        readings: r,
        scale,
        assessment,
        next_due_at: assessment.next_due(taken_at),
    };
    let ack = match st.acknowledge {
        Some((after, nurse)) => Some((
            taken_at + Duration::minutes(after),
            store.staff_id(&Username::parse(nurse)?).await?,
        )),
        None => None,
    };
    let draft = AuditDraft::permit(actor, "vitals.record", format!("patient:{nhs}"))
        .with_payload(&serde_json::json!({"by": st.by, "total": assessment.total, "seeded": "demo"}));
    let place = patient.place.to_string();
    let actor = actor.to_owned();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                let stored = tx.insert_set(&new, None).await?;
                let raised = escalate(
                    tx,
                    SetRef {
                        at: taken_at,
                        patient_id,
                        place: &place,
                        stored,
                    },
                    &new.readings,
                    &assessment,
                    &actor,
                )
                .await?;
                if let (Some(id), Some((at, nurse))) = (raised, ack) {
                    let to = if assessment.escalation.is_some_and(|l| l.needs_medical_review()) {
                        "acknowledged"
                    } else {
                        "closed"
                    };
                    tx.move_escalation(
                        id,
                        &["open"],
                        to,
                        EscalationChange {
                            acknowledged_by: Some(nurse),
                            at: Some(at),
                            ..EscalationChange::default()
                        },
                    )
                    .await?;
                    tx.escalation_event(id, &actor, "acknowledged", None).await?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// John Murphy's chest X-ray, referred by dr.okafor and justified by tom.rad, awaiting exposure; Linda Evans's
/// lumbar spine, referred by maria.acp, awaiting justification.
async fn seed_imaging(store: &Store, catalogue: &Catalogue, actor: &str) -> Result<(), StoreError> {
    let stories = [
        (
            "9990012334",
            "chest-pa",
            "dr.okafor",
            "Productive cough for three weeks, crackles right base: ? consolidation.",
            Some("tom.rad"),
        ),
        (
            "9990013705",
            "lumbar-spine",
            "maria.acp",
            "Low back pain after a fall two days ago, tender L3: ? fracture.",
            None,
        ),
    ];
    for (nhs, exam, referrer, info, practitioner) in stories {
        let exam = catalogue.examination(exam)?;
        let new = NewRequest {
            patient_id: store.patient_id(&NhsNumber::parse(nhs)?).await?,
            department: catalogue.department.clone(),
            examination: exam.id.clone(),
            region: exam.region.as_str().to_owned(),
            clinical_info: info.to_owned(),
            referrer_id: store.staff_id(&Username::parse(referrer)?).await?,
        };
        let justifier = match practitioner {
            Some(p) => Some(store.staff_id(&Username::parse(p)?).await?),
            None => None,
        };
        let draft = AuditDraft::permit(actor, "imaging.refer", format!("patient:{nhs}"))
            .with_payload(&serde_json::json!({"examination": exam.id, "by": referrer, "seeded": "demo"}));
        store
            .command(draft, move |tx| {
                Box::pin(async move {
                    let id = tx.insert_request(&new).await?;
                    if let Some(p) = justifier {
                        tx.decide_request(
                            id,
                            &[RequestStatus::Referred],
                            RequestStatus::Justified,
                            p,
                            "Justified: chest X-ray indicated.",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await?;
    }
    Ok(())
}
