//! Competency sign-off: an assessor who passes `competency.sign-off` (registered, level 5 or above, holding the
//! competency valid now, not their own) records it with date and evidence; it expires by the catalogue's validity.
//! The CLI and the education lead's page both come here.

use chrono::NaiveDate;
use remit_domain::audit::AuditDraft;
use remit_domain::staff::{CompetencyId, Username};
use remit_policy::PolicyPack;
use remit_store::{Store, StoreError};
use serde::Serialize;

use crate::scope::{self, Ask, Outcome, refuse};

/// A sign-off, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct SignOff {
    pub staff: Username,
    pub competency: CompetencyId,
    pub assessor: Username,
    /// The day of the assessment; today if not given. Never in the future.
    pub date: Option<NaiveDate>,
    pub evidence: String,
}

/// What a sign-off recorded.
#[derive(Debug, Clone, Serialize)]
pub struct SignedOff {
    pub staff: Username,
    pub competency: CompetencyId,
    pub assessor: Username,
    pub signed_off_on: NaiveDate,
    pub expires_on: NaiveDate,
}

pub async fn sign_off(
    store: &Store,
    pack: &PolicyPack,
    s: &SignOff,
    audit_actor: &str,
) -> Result<Outcome<SignedOff>, StoreError> {
    let evidence = remit_domain::staff::parse_title("evidence", &s.evidence)?;
    let catalogue = pack.competency_catalogue();
    let Some(c) = catalogue.iter().find(|c| c.id == s.competency).cloned() else {
        return Err(StoreError::Invalid(format!(
            "competency: `{}` is not in the catalogue",
            s.competency
        )));
    };
    let today = store.now().date_naive();
    let date = s.date.unwrap_or(today);
    if date > today {
        return Err(StoreError::Invalid(format!("date: `{date}` is in the future")));
    }
    let staff_id = store.staff_id(&s.staff).await?;
    let assessor_id = store.staff_id(&s.assessor).await?;
    let target = format!("staff:{}", s.staff);
    let mut ask = Ask::new(s.assessor.clone(), "competency.sign-off");
    ask.colleague = Some(s.staff.clone());
    ask.competency = Some(s.competency.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "competency.sign-off", &target, d.reasons, &ask).await;
    }
    let expires = c.expiry_from(date);
    #[derive(Serialize)]
    struct Payload<'a> {
        competency: &'a CompetencyId,
        date: NaiveDate,
        evidence: &'a str,
    }
    let draft = AuditDraft::permit(audit_actor, "competency.sign-off", target).with_payload(&Payload {
        competency: &s.competency,
        date,
        evidence: &evidence,
    });
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.insert_competency_record(staff_id, &c, date, expires, Some(assessor_id), &evidence)
                    .await
                    .map(drop)
            })
        })
        .await?;
    Ok(Outcome::Done(SignedOff {
        staff: s.staff.clone(),
        competency: s.competency.clone(),
        assessor: s.assessor.clone(),
        signed_off_on: date,
        expires_on: expires,
    }))
}

/// A CPD entry as given: hours as typed ("1.5"), what was done and what was learnt, whether it was learning with
/// others, and how it was done (a `CpdMethod`, or blank).
#[derive(Debug, Clone)]
pub struct NewCpd {
    pub staff: Username,
    pub date: NaiveDate,
    pub hours: String,
    pub activity: String,
    pub reflection: String,
    pub participatory: bool,
    pub method: Option<String>,
}

/// Hours as typed ("1.5") in whole minutes: more than none and at most `most_hours`.
pub(crate) fn parse_hours(field: &str, typed: &str, most_hours: u32) -> Result<i64, StoreError> {
    let hours = typed.trim();
    let echoed: String = hours.chars().take(20).flat_map(char::escape_debug).collect();
    let h: f64 = hours
        .parse()
        .ok()
        .filter(|h: &f64| h.is_finite())
        .ok_or_else(|| StoreError::Invalid(format!("{field}: `{echoed}` is not a number of hours such as 1.5")))?;
    let minutes = (h * 60.0).round() as i64;
    if !(1..=i64::from(most_hours) * 60).contains(&minutes) {
        return Err(StoreError::Invalid(format!(
            "{field}: `{echoed}` must be more than 0 and at most {most_hours}"
        )));
    }
    Ok(minutes)
}

/// A person's own words (a reflection, a note): 1 to 4000 characters, trimmed, with no control character but the
/// line breaks and tabs of ordinary writing.
pub(crate) fn parse_text(field: &str, typed: &str) -> Result<String, StoreError> {
    let text = typed.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        return Err(StoreError::Invalid(format!("{field}: must be 1 to 4000 characters")));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(StoreError::Invalid(format!(
            "{field}: holds a control character; write it as ordinary text"
        )));
    }
    Ok(text.to_owned())
}

/// A day something was done: not after today (UK time) and not more than ten years ago.
pub(crate) fn check_done_on(store: &Store, date: NaiveDate) -> Result<(), StoreError> {
    let today = remit_domain::time::london_date(store.now());
    if date > today {
        return Err(StoreError::Invalid(format!("date: `{date}` is in the future")));
    }
    if date < today - chrono::Duration::days(3653) {
        return Err(StoreError::Invalid(format!(
            "date: `{date}` is more than ten years ago"
        )));
    }
    Ok(())
}

/// Records continuing professional development for `c.staff`, audited as `cpd.add` by `audit_actor`: more than no
/// time and at most a day, not in the future nor more than ten years ago, with what was done and a reflection (not
/// audited: the person's own words), whether it was participatory and how it was done. Answers the entry's id and
/// the minutes recorded.
pub async fn add_cpd(store: &Store, c: &NewCpd, audit_actor: &str) -> Result<(i64, i64), StoreError> {
    let minutes = parse_hours("hours", &c.hours, 24)?;
    let activity = remit_domain::staff::parse_title("activity", &c.activity)?;
    let reflection = parse_text("reflection", &c.reflection)?;
    let method = c
        .method
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(remit_domain::revalidation::CpdMethod::parse)
        .transpose()?;
    check_done_on(store, c.date)?;
    let staff_id = store.staff_id(&c.staff).await?;
    let entry = remit_store::competency::NewCpdEntry {
        date: c.date,
        minutes,
        activity,
        reflection,
        participatory: c.participatory,
        method,
    };
    let by = audit_actor.to_owned();
    let draft = AuditDraft::permit(audit_actor, "cpd.add", format!("staff:{}", c.staff)).with_payload(&(
        entry.date,
        minutes,
        &entry.activity,
        entry.participatory,
        entry.method,
    ));
    let (id, _) = store
        .command(draft, move |tx| {
            Box::pin(async move { tx.add_cpd(staff_id, &entry, &by).await })
        })
        .await?;
    Ok((id, minutes))
}

/// An enrolment as asked for: a route of the pack (its id), or a programme named in words.
#[derive(Debug, Clone)]
pub struct Enrol {
    pub staff: Username,
    pub route: Option<String>,
    pub programme: Option<String>,
    pub provider: String,
    pub starts_on: NaiveDate,
    pub expected_end: NaiveDate,
    /// Who records it: they must pass `competency.manage` (an education lead or an administrator).
    pub by: Username,
}

/// Records a staff member's enrolment on a programme, audited as `enrolment.add`: by someone who may manage
/// competency records, on a route the pack lists (or a programme named), with a provider, ending after it starts and
/// within ten years. Answers the enrolment's id, or the refusal's reasons.
pub async fn enrol(
    store: &Store,
    pack: &PolicyPack,
    e: &Enrol,
    audit_actor: &str,
) -> Result<crate::scope::Outcome<i64>, StoreError> {
    // Who may not manage competency records is refused, audited, before anything they sent is judged.
    let target = format!("staff:{}", e.staff);
    let mut ask = Ask::new(e.by.clone(), "competency.manage");
    ask.colleague = Some(e.staff.clone());
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(
            store,
            audit_actor,
            "enrolment.add",
            &target,
            d.reasons,
            &(&e.route, &e.programme),
        )
        .await;
    }
    let route = match e.route.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(id) => Some(pack.routes().iter().find(|r| r.id == id).ok_or_else(|| {
            let known: Vec<&str> = pack.routes().iter().map(|r| r.id.as_str()).collect();
            StoreError::Invalid(format!(
                "route: `{}` is not a route of the policy pack ({})",
                id.chars().take(60).flat_map(char::escape_debug).collect::<String>(),
                if known.is_empty() {
                    "it lists none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })?),
        None => None,
    };
    let programme = match (route, e.programme.as_deref().map(str::trim).filter(|p| !p.is_empty())) {
        (_, Some(p)) => remit_domain::staff::parse_title("programme", p)?,
        (Some(r), None) => r.title.clone(),
        (None, None) => {
            return Err(StoreError::Invalid(
                "programme: name the route (a route of the policy pack) or the programme".into(),
            ));
        }
    };
    let provider = remit_domain::staff::parse_title("provider", &e.provider)?;
    if e.expected_end <= e.starts_on {
        return Err(StoreError::Invalid(format!(
            "expected_end: `{}` must be after the start, `{}`",
            e.expected_end, e.starts_on
        )));
    }
    if e.expected_end > e.starts_on + chrono::Duration::days(3653) {
        return Err(StoreError::Invalid(
            "expected_end: must be within ten years of the start".into(),
        ));
    }
    let (staff_id, _, status) = store
        .credentials_of(&e.staff)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no staff member `{}`", e.staff)))?;
    if status != remit_domain::staff::StaffStatus::Active {
        return Err(StoreError::Conflict(format!(
            "{} is suspended: reinstate them before enrolling them",
            e.staff
        )));
    }
    let new = remit_store::competency::NewEnrolment {
        route: route.map(|r| r.id.clone()),
        programme,
        provider,
        starts_on: e.starts_on,
        expected_end: e.expected_end,
    };
    let by = e.by.to_string();
    let draft = AuditDraft::permit(audit_actor, "enrolment.add", target).with_payload(&new);
    let (id, _) = store
        .command(draft, move |tx| {
            Box::pin(async move { tx.add_enrolment(staff_id, &new, &by).await })
        })
        .await?;
    Ok(crate::scope::Outcome::Done(id))
}
