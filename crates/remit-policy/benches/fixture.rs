//! The staff profiles and questions shared by the decision benchmark and the instruction-count example.

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};
use remit_domain::competency::CompetencyRecord;
use remit_domain::nhs::NhsNumber;
use remit_domain::place::PlaceCode;
use remit_domain::staff::{
    CareerLevel, CompetencyId, PersonName, Registration, Regulator, Staff, StaffProfile, StaffStatus, Username,
};
use remit_policy::{PatientFacts, PolicyPack, Question, Supervision, SupervisorRef};

pub fn profile(
    username: &str,
    name: &str,
    level: i64,
    registered: bool,
    competencies: &[&str],
    today: NaiveDate,
) -> StaffProfile {
    StaffProfile {
        id: 1,
        staff: Staff {
            username: Username::parse(username).unwrap(),
            name: PersonName::parse(name).unwrap(),
            job_title: "Assistant practitioner".into(),
            level: Some(CareerLevel::new(level).unwrap()),
            trainee: false,
            roles: BTreeSet::new(),
            status: StaffStatus::Active,
            professional_bodies: vec![],
            grade: None,
        },
        registrations: if registered {
            vec![Registration {
                regulator: Regulator::Nmc,
                number: "19A1234B".into(),
                expires_on: today + Days::new(300),
                annotations: BTreeSet::new(),
            }]
        } else {
            vec![]
        },
        entitlements: BTreeSet::new(),
        on_duty: vec![PlaceCode::parse("ward-7").unwrap()],
        competencies: competencies
            .iter()
            .map(|c| CompetencyRecord {
                competency: CompetencyId::parse(c).unwrap(),
                signed_off_on: today - Days::new(100),
                expires_on: today + Days::new(300),
                assessor: None,
                evidence: String::new(),
                revoked: false,
                revoke_reason: None,
            })
            .collect(),
    }
}

pub struct Fixture {
    pub pack: PolicyPack,
    pub alex: StaffProfile,
    pub sam: StaffProfile,
    pub priya: StaffProfile,
    pub patient: PatientFacts,
    pub today: NaiveDate,
}

pub fn fixture() -> Fixture {
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    Fixture {
        pack: PolicyPack::nhs_england(),
        alex: profile(
            "alex.ap",
            "Alex Morgan",
            4,
            false,
            &["vital-signs", "venepuncture", "ecg-recording", "wound-care"],
            today,
        ),
        sam: profile("sam.hca", "Sam Patel", 2, false, &["vital-signs"], today),
        priya: profile(
            "priya.rn",
            "Priya Shah",
            5,
            true,
            &["vital-signs", "venepuncture"],
            today,
        ),
        patient: PatientFacts {
            nhs_number: NhsNumber::parse("9990001375").unwrap(),
            place: PlaceCode::parse("ward-7").unwrap(),
            place_name: "Ward 7 — Acute Medical Unit".into(),
        },
        today,
    }
}

/// `n` assistant practitioners with Alex's facts, each a person of their own. Asked about in turn, when they are
/// more than a slice of the pack remembers answers for, none is answered from memory: each question is put to Cedar.
pub fn strangers(f: &Fixture, n: usize) -> Vec<StaffProfile> {
    (0..n)
        .map(|i| {
            let mut p = f.alex.clone();
            p.staff.username = Username::parse(&format!("ap.{i:04}")).unwrap();
            p
        })
        .collect()
}

/// A permitted recording by an assistant practitioner.
pub fn permit(f: &Fixture) -> Question<'_> {
    let mut q = Question::new(&f.alex, "vitals.record", f.today);
    q.patient = Some(&f.patient);
    q
}

/// A refused prescription (one reason rendered).
pub fn deny(f: &Fixture) -> Question<'_> {
    let mut q = Question::new(&f.alex, "medicines.prescribe", f.today);
    q.patient = Some(&f.patient);
    q
}

/// A supervised recording: two staff entities.
pub fn supervised(f: &Fixture) -> Question<'_> {
    let mut q = Question::new(&f.sam, "vitals.record", f.today);
    q.patient = Some(&f.patient);
    q.supervision = Supervision::Indirect;
    q.supervisor = SupervisorRef::Named(&f.priya);
    q
}
