//! The demo trust (shared reference `demo-trust.md`): places, staff, registrations, entitlements, duty, competencies
//! and patients, with dates relative to the day it is seeded so that its story stays true on any day.
//!
//! Seeding is one command: one transaction, one audit entry. Seeding a database that already holds the trust
//! changes nothing.

use std::collections::BTreeSet;

use chrono::{Days, Months, NaiveDate};
use remit_domain::audit::AuditDraft;
use remit_domain::escalation::Grade;
use remit_domain::nhs::NhsNumber;
use remit_domain::patient::{Patient, Sex};
use remit_domain::place::{Place, PlaceCode, PlaceKind};
use remit_domain::staff::{Annotation, CareerLevel, Entitlement, PersonName, Registration, Regulator, Role, Username};

use crate::competency::Competency;
use crate::credentials::hash_password;
use crate::staff::NewStaff;
use crate::{Result, Store, StoreError};

/// Every demo user's password.
pub const DEMO_PASSWORD: &str = "remit-demo";

const PLACES: &[(&str, &str, PlaceKind)] = &[
    ("ward-7", "Ward 7 — Acute Medical Unit", PlaceKind::Ward),
    ("ward-9", "Ward 9 — Respiratory", PlaceKind::Ward),
    ("xray", "X-ray — Radiology department", PlaceKind::Department),
];

struct DemoStaff {
    username: &'static str,
    name: &'static str,
    job_title: &'static str,
    level: Option<i64>,
    trainee: bool,
    roles: &'static [Role],
    bodies: &'static [&'static str],
    /// `REGULATOR:NUMBER:annotations`; the expiry is set relative to the seeding day.
    registration: Option<(&'static str, &'static str, &'static str)>,
    entitlements: &'static [Entitlement],
    duty: &'static [&'static str],
    /// The grade escalation routes address them by.
    grade: Option<&'static str>,
}

const STAFF: &[DemoStaff] = &[
    DemoStaff {
        username: "sam.hca",
        name: "Sam Patel",
        job_title: "Healthcare support worker",
        level: Some(2),
        trainee: false,
        roles: &[],
        bodies: &["UNISON"],
        registration: None,
        entitlements: &[],
        duty: &["ward-7"],
        grade: None,
    },
    DemoStaff {
        username: "alex.ap",
        name: "Alex Morgan",
        job_title: "Assistant practitioner (nursing)",
        level: Some(4),
        trainee: false,
        roles: &[],
        bodies: &["UNISON"],
        registration: None,
        entitlements: &[],
        duty: &["ward-7"],
        grade: None,
    },
    DemoStaff {
        username: "jo.ap",
        name: "Jo Chen",
        job_title: "Assistant practitioner (radiography)",
        level: Some(4),
        trainee: false,
        roles: &[],
        bodies: &["Society of Radiographers"],
        registration: None,
        entitlements: &[Entitlement::IrmerOperator],
        duty: &["xray"],
        grade: None,
    },
    DemoStaff {
        username: "ria.trainee",
        name: "Ria Kaur",
        job_title: "Trainee assistant practitioner (radiography)",
        level: Some(4),
        trainee: true,
        roles: &[],
        bodies: &["Society of Radiographers"],
        registration: None,
        entitlements: &[Entitlement::IrmerOperator],
        duty: &["xray"],
        grade: None,
    },
    DemoStaff {
        username: "priya.rn",
        name: "Priya Shah",
        job_title: "Registered nurse",
        level: Some(5),
        trainee: false,
        roles: &[],
        bodies: &["Royal College of Nursing"],
        registration: Some(("NMC", "19A1234B", "")),
        entitlements: &[],
        duty: &["ward-7"],
        grade: None,
    },
    DemoStaff {
        username: "ben.rn",
        name: "Ben Adeyemi",
        job_title: "Registered nurse",
        level: Some(5),
        trainee: false,
        roles: &[],
        bodies: &["Royal College of Nursing"],
        registration: Some(("NMC", "20B2345C", "")),
        entitlements: &[],
        duty: &["ward-9"],
        grade: None,
    },
    DemoStaff {
        username: "tom.rad",
        name: "Tom Evans",
        job_title: "Diagnostic radiographer",
        level: Some(5),
        trainee: false,
        roles: &[],
        bodies: &["Society of Radiographers"],
        registration: Some(("HCPC", "RA123456", "")),
        entitlements: &[Entitlement::IrmerPractitioner, Entitlement::IrmerOperator],
        duty: &["xray"],
        grade: None,
    },
    DemoStaff {
        username: "maria.acp",
        name: "Maria Lopez",
        job_title: "Advanced clinical practitioner",
        level: Some(7),
        trainee: false,
        roles: &[],
        bodies: &["Royal College of Nursing"],
        registration: Some(("NMC", "05C3456D", "independent-prescriber")),
        entitlements: &[Entitlement::IrmerReferrer],
        duty: &["ward-7"],
        grade: None,
    },
    DemoStaff {
        username: "dr.okafor",
        name: "Dr Nkechi Okafor",
        job_title: "Specialty registrar",
        level: Some(7),
        trainee: false,
        roles: &[],
        bodies: &["British Medical Association"],
        registration: Some(("GMC", "7012345", "")),
        entitlements: &[Entitlement::IrmerReferrer],
        duty: &["ward-7", "ward-9"],
        grade: Some("specialty-registrar"),
    },
    DemoStaff {
        username: "dr.reid",
        name: "Dr Alan Reid",
        job_title: "Consultant radiologist",
        level: Some(8),
        trainee: false,
        roles: &[],
        bodies: &["Royal College of Radiologists"],
        registration: Some(("GMC", "4012345", "")),
        entitlements: &[Entitlement::IrmerPractitioner, Entitlement::IrmerReferrer],
        duty: &["xray"],
        grade: Some("consultant"),
    },
    DemoStaff {
        username: "kim.outreach",
        name: "Kim Taylor",
        job_title: "Critical care outreach nurse",
        level: Some(6),
        trainee: false,
        roles: &[],
        bodies: &["Royal College of Nursing"],
        registration: Some(("NMC", "07C7654E", "")),
        entitlements: &[],
        duty: &["ward-7", "ward-9", "xray"],
        grade: Some("critical-care-outreach"),
    },
    DemoStaff {
        username: "lee.edu",
        name: "Lee Walsh",
        job_title: "Practice education lead",
        level: Some(6),
        trainee: false,
        roles: &[Role::EducationLead],
        bodies: &["Royal College of Nursing"],
        registration: Some(("NMC", "98D4567E", "")),
        entitlements: &[],
        duty: &[],
        grade: None,
    },
    DemoStaff {
        username: "admin",
        name: "System Administrator",
        job_title: "System administrator",
        level: None,
        trainee: false,
        roles: &[Role::Admin],
        bodies: &[],
        registration: None,
        entitlements: &[],
        duty: &[],
        grade: None,
    },
];

/// When a demo competency was signed off, relative to the seeding day.
#[derive(Clone, Copy)]
enum SignedOff {
    /// Signed off this many days ago.
    DaysAgo(u64),
    /// Signed off so that it expires this many days from now (negative: expired that many days ago).
    ExpiresInDays(i64),
}

/// Holder, competency, when, assessor.
const RECORDS: &[(&str, &str, SignedOff, Option<&str>)] = &[
    ("sam.hca", "vital-signs", SignedOff::DaysAgo(200), Some("priya.rn")),
    ("alex.ap", "vital-signs", SignedOff::DaysAgo(400), Some("lee.edu")),
    ("alex.ap", "venepuncture", SignedOff::ExpiresInDays(20), Some("lee.edu")),
    ("alex.ap", "ecg-recording", SignedOff::DaysAgo(300), Some("lee.edu")),
    ("alex.ap", "wound-care", SignedOff::DaysAgo(500), Some("lee.edu")),
    (
        "alex.ap",
        "catheterisation",
        SignedOff::ExpiresInDays(-60),
        Some("lee.edu"),
    ),
    ("jo.ap", "xray-chest", SignedOff::DaysAgo(120), Some("tom.rad")),
    ("jo.ap", "xray-appendicular", SignedOff::DaysAgo(120), Some("tom.rad")),
    ("ria.trainee", "xray-chest", SignedOff::DaysAgo(30), Some("tom.rad")),
    ("priya.rn", "vital-signs", SignedOff::DaysAgo(700), Some("lee.edu")),
    (
        "priya.rn",
        "medicines-administration",
        SignedOff::DaysAgo(90),
        Some("lee.edu"),
    ),
    ("priya.rn", "catheterisation", SignedOff::DaysAgo(250), Some("lee.edu")),
    ("priya.rn", "venepuncture", SignedOff::DaysAgo(250), Some("lee.edu")),
    ("ben.rn", "vital-signs", SignedOff::DaysAgo(365), Some("priya.rn")),
    (
        "ben.rn",
        "medicines-administration",
        SignedOff::DaysAgo(100),
        Some("priya.rn"),
    ),
    ("tom.rad", "xray-chest", SignedOff::DaysAgo(150), None),
    ("tom.rad", "xray-appendicular", SignedOff::DaysAgo(150), None),
    ("tom.rad", "xray-axial", SignedOff::DaysAgo(150), None),
    (
        "maria.acp",
        "advanced-clinical-assessment",
        SignedOff::DaysAgo(600),
        Some("dr.okafor"),
    ),
    ("maria.acp", "vital-signs", SignedOff::DaysAgo(600), Some("lee.edu")),
    (
        "dr.okafor",
        "advanced-clinical-assessment",
        SignedOff::DaysAgo(400),
        None,
    ),
    ("dr.reid", "image-reporting", SignedOff::DaysAgo(800), None),
    ("lee.edu", "vital-signs", SignedOff::DaysAgo(500), Some("priya.rn")),
    ("kim.outreach", "vital-signs", SignedOff::DaysAgo(200), Some("lee.edu")),
    (
        "alex.ap",
        "point-of-care-testing",
        SignedOff::DaysAgo(100),
        Some("lee.edu"),
    ),
    ("alex.ap", "bladder-scanning", SignedOff::DaysAgo(200), Some("lee.edu")),
    ("alex.ap", "cannulation", SignedOff::DaysAgo(150), Some("lee.edu")),
    ("priya.rn", "iv-medicines", SignedOff::DaysAgo(300), Some("lee.edu")),
    (
        "priya.rn",
        "ng-tube-placement",
        SignedOff::DaysAgo(300),
        Some("lee.edu"),
    ),
    ("priya.rn", "pgd-authorisation", SignedOff::DaysAgo(60), Some("lee.edu")),
    ("tom.rad", "pgd-authorisation", SignedOff::DaysAgo(60), None),
    ("lee.edu", "venepuncture", SignedOff::DaysAgo(500), Some("priya.rn")),
    ("lee.edu", "catheterisation", SignedOff::DaysAgo(500), Some("priya.rn")),
    ("lee.edu", "ecg-recording", SignedOff::DaysAgo(500), None),
    ("lee.edu", "wound-care", SignedOff::DaysAgo(500), None),
];

/// NHS number, given name, family name, date of birth, sex, place, bed.
type DemoPatient = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Sex,
    &'static str,
    Option<&'static str>,
);

const PATIENTS: &[DemoPatient] = &[
    (
        "9990001375",
        "Margaret",
        "Hughes",
        "1942-03-14",
        Sex::Female,
        "ward-7",
        Some("1"),
    ),
    (
        "9990002746",
        "David",
        "Clarke",
        "1958-07-02",
        Sex::Male,
        "ward-7",
        Some("2"),
    ),
    (
        "9990004110",
        "Aisha",
        "Rahman",
        "1987-11-19",
        Sex::Female,
        "ward-7",
        Some("3"),
    ),
    (
        "9990005486",
        "George",
        "Wilson",
        "1949-05-23",
        Sex::Male,
        "ward-7",
        Some("4"),
    ),
    (
        "9990006857",
        "Fatima",
        "Noor",
        "1995-02-08",
        Sex::Female,
        "ward-7",
        Some("5"),
    ),
    (
        "9990008221",
        "Peter",
        "O'Neill",
        "1951-09-30",
        Sex::Male,
        "ward-9",
        Some("1"),
    ),
    (
        "9990009597",
        "Susan",
        "Blake",
        "1963-12-11",
        Sex::Female,
        "ward-9",
        Some("2"),
    ),
    ("9990012334", "John", "Murphy", "1970-04-17", Sex::Male, "xray", None),
    ("9990013705", "Linda", "Evans", "1979-08-25", Sex::Female, "xray", None),
];

/// Days from seeding to a demo registration's renewal: Kim's NMC revalidation falls within the education lead's 90
/// days, everyone else's later.
fn renews_in(username: &str) -> u64 {
    match username {
        "kim.outreach" => 75,
        _ => 300,
    }
}

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedOutcome {
    Seeded,
    AlreadyPresent,
}

fn invalid(e: remit_domain::InvalidValue) -> StoreError {
    StoreError::Corrupt(format!("demo data: {e}"))
}

impl Store {
    /// Fills the database with the demo trust, unless it is already there. `catalogue` is the policy pack's
    /// competency catalogue, which the demo's sign-offs draw their validity from.
    pub async fn seed_demo(&self, actor: &str, catalogue: &[Competency]) -> Result<SeedOutcome> {
        let ward7 = PlaceCode::parse("ward-7").map_err(invalid)?;
        if self.place(&ward7).await.is_ok() {
            return Ok(SeedOutcome::AlreadyPresent);
        }
        // Hash before the transaction: argon2 is slow on purpose, and the write lock need not wait for it.
        let password_hashes: Vec<String> = STAFF.iter().map(|_| hash_password(DEMO_PASSWORD)).collect();
        let today = self.now().date_naive();
        let mut tx = self.begin().await?;
        for (code, name, kind) in PLACES {
            tx.insert_place(&Place {
                code: PlaceCode::parse(code).map_err(invalid)?,
                name: (*name).to_owned(),
                kind: *kind,
            })
            .await?;
        }
        for c in catalogue {
            tx.upsert_competency(c).await?;
        }
        let mut ids = std::collections::HashMap::new();
        let since = tx.now() - chrono::Duration::hours(4);
        for (s, hash) in STAFF.iter().zip(password_hashes) {
            let id = tx
                .insert_staff(&NewStaff {
                    username: Username::parse(s.username).map_err(invalid)?,
                    name: PersonName::parse(s.name).map_err(invalid)?,
                    job_title: s.job_title.to_owned(),
                    grade: s.grade.map(Grade::parse).transpose().map_err(invalid)?,
                    level: s.level.map(CareerLevel::new).transpose().map_err(invalid)?,
                    trainee: s.trainee,
                    roles: s.roles.iter().copied().collect(),
                    professional_bodies: s.bodies.iter().map(|b| (*b).to_owned()).collect(),
                    password_hash: Some(hash),
                })
                .await?;
            ids.insert(s.username, id);
            if let Some((regulator, number, annotations)) = s.registration {
                let annotations: BTreeSet<Annotation> = annotations
                    .split(',')
                    .filter(|a| !a.is_empty())
                    .map(Annotation::parse)
                    .collect::<Result<_, _>>()
                    .map_err(invalid)?;
                let regulator = Regulator::parse(regulator).map_err(invalid)?;
                tx.add_registration(
                    id,
                    &Registration {
                        regulator,
                        number: regulator.parse_number(number).map_err(invalid)?,
                        expires_on: today + Days::new(renews_in(s.username)),
                        annotations,
                    },
                )
                .await?;
            }
            for e in s.entitlements {
                tx.grant_entitlement(id, *e, actor).await?;
            }
            for place in s.duty {
                tx.insert_duty(id, &PlaceCode::parse(place).map_err(invalid)?, since, None)
                    .await?;
            }
        }
        for (holder, competency, when, assessor) in RECORDS {
            let c = catalogue
                .iter()
                .find(|c| c.id.as_str() == *competency)
                .ok_or_else(|| StoreError::Corrupt(format!("demo data: no competency `{competency}`")))?;
            let (signed, expires) = match *when {
                SignedOff::DaysAgo(d) => {
                    let signed = today - Days::new(d);
                    (signed, c.expiry_from(signed))
                }
                SignedOff::ExpiresInDays(d) => {
                    let expires = if d >= 0 {
                        today + Days::new(d.unsigned_abs())
                    } else {
                        today - Days::new(d.unsigned_abs())
                    };
                    let signed = expires
                        .checked_sub_months(Months::new(c.validity_months))
                        .unwrap_or(NaiveDate::MIN);
                    (signed, expires)
                }
            };
            tx.insert_competency_record(
                ids[holder],
                c,
                signed,
                expires,
                assessor.map(|a| ids[a]),
                "Demo trust: assessed in practice",
            )
            .await?;
        }
        let mut patient_ids = std::collections::HashMap::new();
        for (nhs, given, family, dob, sex, place, bed) in PATIENTS {
            let id = tx
                .insert_patient(&Patient {
                    nhs_number: NhsNumber::parse(nhs).map_err(invalid)?,
                    given_name: PersonName::parse(given).map_err(invalid)?,
                    family_name: PersonName::parse(family).map_err(invalid)?,
                    date_of_birth: remit_domain::time::parse_date("date_of_birth", dob).map_err(invalid)?,
                    sex: *sex,
                    place: PlaceCode::parse(place).map_err(invalid)?,
                    bed: bed.map(str::to_owned),
                })
                .await?;
            patient_ids.insert(*nhs, id);
        }
        // Fatima Noor's bloods: an open task from the registered nurse to the assistant practitioner.
        let due = tx.now() + chrono::Duration::hours(2);
        tx.insert_task(&crate::task::NewTask {
            patient_id: patient_ids["9990006857"],
            activity: "procedure.venepuncture".into(),
            exam_region: None,
            delegator_id: ids["priya.rn"],
            delegatee_id: ids["alex.ap"],
            supervision: remit_domain::supervision::Supervision::None,
            supervisor_id: None,
            due_at: Some(due),
            notes: "FBC and U&Es before the ward round".into(),
        })
        .await?;
        tx.commit(AuditDraft::permit(actor, "demo.seed", "trust:demo")).await?;
        Ok(SeedOutcome::Seeded)
    }
}

/// The usernames of the demo trust, in the order of the reference.
pub fn demo_usernames() -> impl Iterator<Item = &'static str> {
    STAFF.iter().map(|s| s.username)
}

/// For the store's own tests: a catalogue holding every competency the demo signs off, each valid for a year.
#[cfg(test)]
pub(crate) fn test_catalogue() -> Vec<Competency> {
    RECORDS
        .iter()
        .map(|(_, id, _, _)| Competency {
            id: remit_domain::staff::CompetencyId::parse(id).expect("a competency id"),
            title: (*id).to_owned(),
            validity_months: 12,
        })
        .collect()
}
