//! Admissions, transfers and discharges from the patient administration system, applied whole or not at all.
//!
//! Each message ([`remit_domain::adt::read`]) is applied in one command with its audit entry (actor
//! `hl7:SENDER`) and the record of its control id, so a replay is acknowledged without being applied twice; one that
//! cannot be applied changes nothing but the audit log, which records the refusal and its reason. A transfer takes
//! the patient's open escalations with them, to the new place's staff; a discharge closes nothing: what is left open
//! is named in the acknowledgement and listed on the board of the place left ([`remit_store::adt::Handover`]).

use remit_domain::adt::{AckCode, AdtMessage, ErrorCode, Event, Header, Locations, Problem, StayClass, StayStatus};
use remit_domain::audit::AuditDraft;
use remit_domain::patient::Patient;
use remit_domain::place::PlaceCode;
use remit_store::adt::LeftOpen;
use remit_store::changes::Kind;
use remit_store::{Store, StoreError};
use serde::Serialize;

/// What a message came to: the acknowledgement's code and text, and the HL7 error code where it was not applied.
/// (The boards it changed are announced by its transaction.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: AckCode,
    pub text: String,
    pub problem: Option<ErrorCode>,
}

impl Outcome {
    fn applied(text: String) -> Self {
        Self {
            code: AckCode::Applied,
            text,
            problem: None,
        }
    }

    /// A message applied before, sent again: acknowledged as it was, nothing applied.
    fn replayed(text: &str) -> Self {
        Self::applied(format!("{text} (a replay: applied once, not again)"))
    }

    pub fn not_applied(code: AckCode, p: Problem) -> Self {
        Self {
            code,
            text: p.reason,
            problem: Some(p.code),
        }
    }
}

/// What is said of work left open, or nothing.
fn left_words(left: LeftOpen) -> String {
    let mut parts = Vec::new();
    let plural = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    if left.escalations > 0 {
        parts.push(plural(left.escalations, "open escalation"));
    }
    if left.tasks > 0 {
        parts.push(plural(left.tasks, "open task"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {} left open, listed for the nurse in charge", parts.join(" and "))
    }
}

/// The audit log's record of what a message asked (not the message: its digest and what remit read of it).
#[derive(Serialize)]
struct Payload<'a> {
    control_id: &'a str,
    event: &'static str,
    digest: &'a str,
}

/// Audits a message that was read but cannot be applied as it stands (`AE`): nothing else is written.
pub async fn refuse_unapplied(store: &Store, header: &Header, p: Problem) -> Result<Outcome, StoreError> {
    let action = format!("adt.{}", header.trigger.to_ascii_lowercase());
    let target = format!("hl7:{}", header.control_id);
    store
        .record(AuditDraft::deny(
            format!("hl7:{}", header.sender()),
            action,
            target,
            vec![p.reason.clone()],
        ))
        .await?;
    Ok(Outcome::not_applied(AckCode::Error, p))
}

/// Applies `msg`, mapping its location through `locations`.
pub async fn apply(store: &Store, msg: &AdtMessage, locations: &Locations) -> Result<Outcome, StoreError> {
    let sender = msg.header.sender();
    let control_id = msg.header.control_id.clone();
    let actor = format!("hl7:{sender}");
    let target = match &msg.retired {
        Some(retired) => format!("patient:{} (merged from patient:{retired})", msg.nhs_number),
        None => format!("patient:{}", msg.nhs_number),
    };
    let refuse = |p: Problem| async {
        let draft = AuditDraft::deny(
            actor.clone(),
            msg.event.action(),
            target.clone(),
            vec![p.reason.clone()],
        );
        store.record(draft).await?;
        Ok::<_, StoreError>(Outcome::not_applied(AckCode::Error, p))
    };
    if let Some((digest, text)) = store.hl7_applied(&sender, &control_id).await? {
        if digest == msg.digest {
            return Ok(Outcome::replayed(&text));
        }
        return refuse(Problem::new(
            ErrorCode::DuplicateKey,
            format!("MSH-10: control id `{control_id}` was used before for a different message"),
        ))
        .await;
    }
    // The place, known before anything is written.
    let place = match &msg.location {
        None => None,
        Some(l) => match locations.place(&l.point_of_care) {
            Err(p) => return refuse(p).await,
            Ok(code) => match store.place(&code).await {
                Ok(_) => Some((code, l.bed.clone())),
                Err(StoreError::NotFound(_)) => {
                    return refuse(Problem::new(
                        ErrorCode::TableValueNotFound,
                        format!(
                            "PV1-3: `{}` maps to `{code}`, which is not a place remit knows",
                            l.point_of_care
                        ),
                    ))
                    .await;
                }
                Err(e) => return Err(e),
            },
        },
    };
    let draft = AuditDraft::permit(actor.clone(), msg.event.action(), target.clone()).with_payload(&Payload {
        control_id: &control_id,
        event: msg.event.code(),
        digest: &msg.digest,
    });
    let (owned, sender_owned) = (msg.clone(), sender.clone());
    let done = store
        .command(draft, move |tx| {
            Box::pin(async move {
                let (text, places) = change(tx, &owned, place).await?;
                for p in &places {
                    tx.announce(Kind::Board, p.as_str());
                }
                tx.record_hl7(
                    &sender_owned,
                    &owned.header.control_id,
                    &owned.digest,
                    owned.event.code(),
                    &text,
                )
                .await?;
                Ok(text)
            })
        })
        .await;
    match done {
        Ok((text, _)) => Ok(Outcome::applied(text)),
        Err(StoreError::NotFound(m)) => refuse(Problem::new(ErrorCode::UnknownKey, m)).await,
        // A stay there already, or the same message applied meanwhile through another connection (a replay).
        Err(StoreError::Conflict(m)) => {
            if let Some((digest, text)) = store.hl7_applied(&sender, &control_id).await?
                && digest == msg.digest
            {
                return Ok(Outcome::replayed(&text));
            }
            refuse(Problem::new(ErrorCode::DuplicateKey, m)).await
        }
        Err(e) => Err(e),
    }
}

fn unknown(msg: &AdtMessage) -> StoreError {
    StoreError::NotFound(format!("PID-3: no patient with NHS number `{}`", msg.nhs_number))
}

/// A stay that is there already (answered 205, duplicate key).
fn in_stay(m: impl Into<String>) -> StoreError {
    StoreError::Conflict(m.into())
}

/// A stay that is not there (answered 204, unknown key).
fn no_stay(m: impl Into<String>) -> StoreError {
    StoreError::NotFound(m.into())
}

/// What is said of escalations that moved with the patient, or nothing.
fn moved_words(moved: u64) -> String {
    match moved {
        0 => String::new(),
        1 => "; 1 open escalation moved with them".to_owned(),
        n => format!("; {n} open escalations moved with them"),
    }
}

/// The change a message makes, in its transaction: what the acknowledgement says, and the places whose boards
/// changed.
async fn change(
    tx: &mut remit_store::WriteTx,
    msg: &AdtMessage,
    place: Option<(PlaceCode, Option<String>)>,
) -> remit_store::Result<(String, Vec<PlaceCode>)> {
    let found = tx.find_patient(&msg.nhs_number).await?;
    let nhs = &msg.nhs_number;
    match msg.event {
        Event::Admit | Event::Register => {
            let (code, bed) = place.expect("read: admissions have a location");
            let details = msg.details.as_ref().expect("read: admissions have details");
            match found {
                // An attendance (the emergency department, a clinic) becomes an admission: the attendance ends.
                Some(f) if matches!(f.stay, Some((_, c)) if c != StayClass::Inpatient) && msg.event == Event::Admit => {
                    // What was open goes with them (escalations) or stays with its delegatee (tasks).
                    tx.end_stay(f.id, StayStatus::Finished).await?;
                    tx.update_details(f.id, details).await?;
                    let (_, moved) = tx
                        .begin_stay(f.id, msg.class, &code, bed.as_deref(), msg.visit_number.as_deref())
                        .await?;
                    Ok((
                        format!(
                            "patient {nhs} admitted to {code} from their attendance in {}{}",
                            f.place,
                            moved_words(moved)
                        ),
                        vec![f.place, code],
                    ))
                }
                Some(f) if f.stay.is_some() => Err(in_stay(format!(
                    "patient {nhs} is in a stay already (in `{}`): send A02 to move them, or A03 first",
                    f.place
                ))),
                Some(f) => {
                    tx.update_details(f.id, details).await?;
                    let (_, moved) = tx
                        .begin_stay(f.id, msg.class, &code, bed.as_deref(), msg.visit_number.as_deref())
                        .await?;
                    Ok((
                        format!("patient {nhs} in {code}{}", moved_words(moved)),
                        vec![f.place, code],
                    ))
                }
                None => {
                    let p = Patient {
                        nhs_number: nhs.clone(),
                        given_name: details.given_name.clone(),
                        family_name: details.family_name.clone(),
                        date_of_birth: details.date_of_birth,
                        sex: details.sex,
                        place: code.clone(),
                        bed,
                    };
                    tx.admit_new_patient(&p, msg.class, msg.visit_number.as_deref()).await?;
                    Ok((format!("patient {nhs} added, in {code}"), vec![code]))
                }
            }
        }
        Event::Transfer | Event::CancelTransfer => {
            let (code, bed) = place.expect("read: transfers have a location");
            let f = found.ok_or_else(|| unknown(msg))?;
            if f.stay.is_none() {
                return Err(no_stay(format!(
                    "patient {nhs} is not in a stay: send A01 or A04 first"
                )));
            }
            let moved = tx.move_patient(f.id, &code, bed.as_deref()).await?;
            let text = if f.place == code {
                let bed = bed.map(|b| format!("bed {b} ")).unwrap_or_default();
                format!("patient {nhs} moved to {bed}in {code}")
            } else {
                format!("patient {nhs} moved from {} to {code}{}", f.place, moved_words(moved))
            };
            Ok((text, vec![f.place, code]))
        }
        Event::Discharge | Event::CancelAdmit => {
            let f = found.ok_or_else(|| unknown(msg))?;
            if f.stay.is_none() {
                return Err(no_stay(format!(
                    "patient {nhs} is not in a stay: there is nothing to end"
                )));
            }
            let (status, done) = if msg.event == Event::Discharge {
                (StayStatus::Finished, "discharged")
            } else {
                (StayStatus::EnteredInError, "admission cancelled")
            };
            let left = tx.end_stay(f.id, status).await?;
            Ok((
                format!("patient {nhs} {done} from {}{}", f.place, left_words(left)),
                vec![f.place],
            ))
        }
        Event::CancelDischarge => {
            let f = found.ok_or_else(|| unknown(msg))?;
            if f.stay.is_some() {
                return Err(in_stay(format!(
                    "patient {nhs} is in a stay: there is no discharge to cancel"
                )));
            }
            let at = tx
                .resume_stay(f.id, place.as_ref().map(|(c, b)| (c, b.as_deref())))
                .await?
                .ok_or_else(|| no_stay(format!("patient {nhs} has no discharge to cancel")))?;
            Ok((
                format!("patient {nhs} back in {at}: discharge cancelled"),
                vec![f.place, at],
            ))
        }
        Event::Update => {
            let f = found.ok_or_else(|| unknown(msg))?;
            tx.update_details(f.id, msg.details.as_ref().expect("read: updates have details"))
                .await?;
            Ok((format!("patient {nhs} details updated"), vec![f.place]))
        }
        Event::Merge => {
            let retired = msg.retired.as_ref().expect("read: merges have MRG-1");
            let was = tx.merge_patients(nhs, retired).await?;
            let now = tx.find_patient(nhs).await?.ok_or_else(|| unknown(msg))?;
            Ok((format!("patient {retired} merged into {nhs}"), vec![was, now.place]))
        }
    }
}
