//! One scope-of-practice decision, including building the actor's Cedar entities from the staff profile already
//! loaded from the database (no JSON round trips). Criterion reports the mean; a second pass times 50,000 single
//! decisions and prints p50 and p99.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use criterion::{Criterion, criterion_group};

use remit_domain::competency::CompetencyRecord;
use remit_domain::nhs::NhsNumber;
use remit_domain::place::PlaceCode;
use remit_domain::staff::{
    CareerLevel, CompetencyId, PersonName, Registration, Regulator, Staff, StaffProfile, StaffStatus, Username,
};
use remit_policy::{PatientFacts, PolicyPack, Question, Supervision, SupervisorRef};

fn profile(
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

struct Fixture {
    pack: PolicyPack,
    alex: StaffProfile,
    sam: StaffProfile,
    priya: StaffProfile,
    patient: PatientFacts,
    today: NaiveDate,
}

fn fixture() -> Fixture {
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

/// A permitted recording by an assistant practitioner.
fn permit(f: &Fixture) -> Question<'_> {
    let mut q = Question::new(&f.alex, "vitals.record", f.today);
    q.patient = Some(&f.patient);
    q
}

/// A refused prescription (one reason rendered).
fn deny(f: &Fixture) -> Question<'_> {
    let mut q = Question::new(&f.alex, "medicines.prescribe", f.today);
    q.patient = Some(&f.patient);
    q
}

/// A supervised recording: two staff entities.
fn supervised(f: &Fixture) -> Question<'_> {
    let mut q = Question::new(&f.sam, "vitals.record", f.today);
    q.patient = Some(&f.patient);
    q.supervision = Supervision::Indirect;
    q.supervisor = SupervisorRef::Named(&f.priya);
    q
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    assert!(f.pack.decide(&permit(&f)).permitted());
    assert!(!f.pack.decide(&deny(&f)).permitted());
    assert!(f.pack.decide(&supervised(&f)).permitted());
    let mut g = c.benchmark_group("decision");
    g.bench_function("permit vitals.record", |b| {
        b.iter(|| black_box(f.pack.decide(black_box(&permit(&f)))))
    });
    g.bench_function("deny medicines.prescribe", |b| {
        b.iter(|| black_box(f.pack.decide(black_box(&deny(&f)))))
    });
    g.bench_function("permit supervised vitals.record", |b| {
        b.iter(|| black_box(f.pack.decide(black_box(&supervised(&f)))))
    });
    g.finish();
}

fn percentiles() {
    let f = fixture();
    for (name, q) in [
        ("permit vitals.record", permit(&f)),
        ("deny medicines.prescribe", deny(&f)),
        ("permit supervised vitals.record", supervised(&f)),
    ] {
        for _ in 0..2_000 {
            black_box(f.pack.decide(&q));
        }
        let mut samples: Vec<u128> = (0..50_000)
            .map(|_| {
                let t = Instant::now();
                black_box(f.pack.decide(black_box(&q)));
                t.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)] as f64 / 1000.0;
        println!(
            "decision/{name}: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (50,000 decisions)",
            at(0.50),
            at(0.99),
            at(1.0)
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    percentiles();
}
