//! Revalidation: where each of a registrant's registrations stands against what its regulator asks
//! (`remit_domain::revalidation`, from the pack's `revalidation.toml`), counted from what is recorded: CPD, the shifts
//! worked on the roster, and the evidence the registrant records here. Who is due within a number of days, for the
//! education lead.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use remit_domain::audit::AuditDraft;
use remit_domain::revalidation::{CpdDone, Evidence, EvidenceKind, Recorded, Status, Worked};
use remit_domain::staff::{Registration, Username};
use remit_domain::time::london_date;
use remit_policy::PolicyPack;
use remit_store::{Store, StoreError};
use serde::Serialize;

use crate::competency::{check_done_on, parse_hours};

/// A person's registrations against their regulators' requirements.
#[derive(Debug, Clone, Serialize)]
pub struct Revalidation {
    pub staff: String,
    pub name: String,
    /// One for each registration whose regulator the pack lists, soonest renewal first.
    pub registrations: Vec<Status>,
    /// Registrations whose regulator the pack lists no requirements for (`GMC 7012345`).
    pub not_tracked: Vec<String>,
}

/// Everything counted towards `registrations`' cycles for one person.
async fn recorded(
    store: &Store,
    pack: &PolicyPack,
    staff: &Username,
    registrations: &[Registration],
) -> Result<Recorded, StoreError> {
    let earliest = registrations
        .iter()
        .filter_map(|r| Some(pack.revalidation().of(r.regulator)?.cycle_from(r.expires_on)))
        .min();
    let Some(earliest) = earliest else {
        return Ok(Recorded::default());
    };
    // CPD is read whole: a continuous record (the HCPC's first standard) does not restart with the cycle.
    let cpd = store
        .cpd_entries(Some(staff))
        .await?
        .into_iter()
        .map(|c| CpdDone {
            on: c.date,
            minutes: (c.hours * 60.0).round() as u32,
            participatory: c.participatory,
            method: c.method,
        })
        .collect();
    let evidence = store
        .revalidation_evidence(staff)
        .await?
        .into_iter()
        .map(|e| Evidence {
            kind: e.kind,
            on: e.date,
            minutes: (e.hours * 60.0).round() as u32,
        })
        .collect();
    // A day early, so that a shift that began late the evening before in UK time is not missed; the cycle's own
    // bounds are applied to the UK date each shift began.
    let since = earliest
        .pred_opt()
        .unwrap_or(earliest)
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    // A shift rostered on two places at once (or recorded twice) is one stretch of practice: overlaps are merged.
    let mut merged: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = Vec::new();
    for (start, end) in store.shifts_worked(staff, since).await? {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let worked = merged
        .into_iter()
        .map(|(start, end)| Worked {
            on: london_date(start),
            minutes: u32::try_from((end - start).num_minutes().max(0)).unwrap_or(u32::MAX),
        })
        .collect();
    Ok(Recorded { cpd, evidence, worked })
}

fn statuses(pack: &PolicyPack, registrations: &[Registration], recorded: &Recorded, today: NaiveDate) -> Vec<Status> {
    let mut out: Vec<Status> = registrations
        .iter()
        .filter_map(|r| Some(pack.revalidation().of(r.regulator)?.status(r, recorded, today)))
        .collect();
    out.sort_by_key(|s| s.renewal);
    out
}

/// Where each of `staff`'s registrations stands today.
pub async fn status(store: &Store, pack: &PolicyPack, staff: &Username) -> Result<Revalidation, StoreError> {
    let profile = store.staff_profile(staff).await?;
    let today = london_date(store.now());
    let recorded = recorded(store, pack, staff, &profile.registrations).await?;
    Ok(Revalidation {
        staff: staff.to_string(),
        name: profile.staff.name.to_string(),
        registrations: statuses(pack, &profile.registrations, &recorded, today),
        not_tracked: profile
            .registrations
            .iter()
            .filter(|r| pack.revalidation().of(r.regulator).is_none())
            .map(|r| format!("{} {}", r.regulator, r.number))
            .collect(),
    })
}

/// Everyone whose application is due within `days` (or whose registration has lapsed), with where they stand, soonest
/// first: the education lead's list. Only registrations whose regulator the pack lists, of staff not suspended.
pub async fn due_within(store: &Store, pack: &PolicyPack, days: i64) -> Result<Vec<Revalidation>, StoreError> {
    let today = london_date(store.now());
    let mut people: BTreeMap<String, (String, Username, Vec<Registration>)> = BTreeMap::new();
    // The application may be due up to a month before renewal (the first of the renewal month).
    for h in store
        .registrations_renewing(today + chrono::Duration::days(days + 31))
        .await?
    {
        if pack.revalidation().of(h.registration.regulator).is_none() {
            continue;
        }
        people
            .entry(h.username.to_string())
            .or_insert_with(|| (h.name.clone(), h.username.clone(), Vec::new()))
            .2
            .push(h.registration);
    }
    let mut out = Vec::with_capacity(people.len());
    for (name, username, registrations) in people.into_values() {
        let recorded = recorded(store, pack, &username, &registrations).await?;
        let due: Vec<Status> = statuses(pack, &registrations, &recorded, today)
            .into_iter()
            .filter(|s| (s.apply_by - today).num_days() <= days)
            .collect();
        if !due.is_empty() {
            out.push(Revalidation {
                staff: username.to_string(),
                name,
                registrations: due,
                not_tracked: Vec::new(),
            });
        }
    }
    out.sort_by_key(|r| r.registrations.iter().map(|s| s.apply_by).min());
    Ok(out)
}

/// A piece of evidence as given.
#[derive(Debug, Clone)]
pub struct AddEvidence {
    pub staff: Username,
    pub kind: String,
    pub date: NaiveDate,
    /// Practice hours only, as typed ("7.5").
    pub hours: Option<String>,
    pub note: String,
    /// The other registrant of a reflective discussion, or the confirmer (name and PIN): required for those two.
    pub with_whom: Option<String>,
}

/// Records revalidation evidence for `e.staff`, audited as `revalidation.evidence` by `audit_actor` (without the
/// note, which is the registrant's own reflection). The person must hold a registration whose regulator the pack
/// lists. Answers the evidence's id.
pub async fn add_evidence(
    store: &Store,
    pack: &PolicyPack,
    e: &AddEvidence,
    audit_actor: &str,
) -> Result<i64, StoreError> {
    let kind = EvidenceKind::parse(&e.kind)?;
    let given = |o: &Option<String>| o.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let minutes = match (kind.has_hours(), given(&e.hours)) {
        (true, Some(h)) => parse_hours("hours", &h, 2000)?,
        (true, None) => {
            return Err(StoreError::Invalid(
                "hours: give the practice hours, such as 7.5".into(),
            ));
        }
        (false, Some(_)) => {
            return Err(StoreError::Invalid(format!(
                "hours: only practice hours carry hours, not {}",
                kind.words()
            )));
        }
        (false, None) => 0,
    };
    let with_whom = match (kind.names_someone(), given(&e.with_whom)) {
        (true, Some(w)) => Some(remit_domain::staff::parse_title("with", &w)?),
        (true, None) => {
            return Err(StoreError::Invalid(format!(
                "with: name who {} was with (their name and registration number)",
                kind.words()
            )));
        }
        (false, Some(_)) => {
            return Err(StoreError::Invalid(
                "with: only a reflective discussion or a confirmation names someone".into(),
            ));
        }
        (false, None) => None,
    };
    let note = crate::competency::parse_text("note", &e.note)?;
    check_done_on(store, e.date)?;
    let profile = store.staff_profile(&e.staff).await?;
    if !profile
        .registrations
        .iter()
        .any(|r| pack.revalidation().of(r.regulator).is_some())
    {
        return Err(StoreError::Conflict(format!(
            "{} holds no registration whose regulator asks for revalidation evidence here",
            e.staff
        )));
    }
    let staff_id = store.staff_id(&e.staff).await?;
    let new = remit_store::revalidation::NewEvidence {
        kind,
        date: e.date,
        minutes,
        note,
        with_whom,
    };
    let by = audit_actor.to_owned();
    // The note and whom it was with are the registrant's own words: not in the audit log.
    let draft = AuditDraft::permit(audit_actor, "revalidation.evidence", format!("staff:{}", e.staff))
        .with_payload(&(kind, e.date, minutes));
    let (id, _) = store
        .command(draft, move |tx| {
            Box::pin(async move { tx.add_evidence(staff_id, &new, &by).await })
        })
        .await?;
    Ok(id)
}
