//! The demo trust is seeded exactly as the reference describes, once.

use anyhow::{Result, ensure};
use chrono::Days;
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::{Entitlement, Regulator, Role, Username};
use remit_store::demo::SeedOutcome;

use crate::helpers::{TestClock, TestDb, expect_status, stdout};

crate::tests!(the_demo_trust_is_the_reference, seeding_twice_changes_nothing);

fn user(s: &str) -> Username {
    Username::parse(s).unwrap()
}

async fn the_demo_trust_is_the_reference(db: TestDb) -> Result<()> {
    let store = db.store(TestClock::new()).await?;
    let catalogue = remit_policy::PolicyPack::nhs_england().competency_catalogue();
    ensure!(store.seed_demo("test", &catalogue).await? == SeedOutcome::Seeded);
    ensure!(store.seed_demo("test", &catalogue).await? == SeedOutcome::AlreadyPresent);
    let today = store.now().date_naive();

    let places: Vec<String> = store.places().await?.iter().map(|p| p.code.to_string()).collect();
    ensure!(places == ["ward-7", "ward-9", "xray"], "{places:?}");

    let staff = store.list_staff().await?;
    ensure!(staff.len() == 13, "{} staff", staff.len());
    let expect = [
        ("sam.hca", Some(2), &["ward-7"][..]),
        ("alex.ap", Some(4), &["ward-7"]),
        ("jo.ap", Some(4), &["xray"]),
        ("ria.trainee", Some(4), &["xray"]),
        ("priya.rn", Some(5), &["ward-7"]),
        ("ben.rn", Some(5), &["ward-9"]),
        ("tom.rad", Some(5), &["xray"]),
        ("maria.acp", Some(7), &["ward-7"]),
        ("dr.okafor", Some(7), &["ward-7", "ward-9"]),
        ("dr.reid", Some(8), &["xray"]),
        ("kim.outreach", Some(6), &["ward-7", "ward-9", "xray"]),
        ("lee.edu", Some(6), &[]),
        ("admin", None, &[]),
    ];
    for (name, level, duty) in expect {
        let p = store.staff_profile(&user(name)).await?;
        ensure!(p.staff.level.map(|l| l.get()) == level, "{name} level");
        let on: Vec<&str> = p.on_duty.iter().map(|c| c.as_str()).collect();
        ensure!(on == duty, "{name} on duty {on:?}");
    }
    // The grades escalation routes address: the registrar covering wards 7 and 9, the consultant radiologist, and
    // critical care outreach across the hospital.
    for (name, grade) in [
        ("dr.okafor", Some("specialty-registrar")),
        ("dr.reid", Some("consultant")),
        ("kim.outreach", Some("critical-care-outreach")),
        ("priya.rn", None),
    ] {
        let p = store.staff_profile(&user(name)).await?;
        ensure!(p.staff.grade.as_ref().map(|g| g.as_str()) == grade, "{name} grade");
    }

    let alex = store.staff_profile(&user("alex.ap")).await?;
    ensure!(alex.registrations.is_empty() && !alex.is_registered(today));
    let comp = |name: &str| {
        alex.competencies
            .iter()
            .find(|c| c.competency.as_str() == name)
            .cloned()
            .unwrap()
    };
    ensure!(comp("catheterisation").expires_on == today - Days::new(60) && !comp("catheterisation").is_valid_on(today));
    ensure!(comp("venepuncture").expires_on == today + Days::new(20) && comp("venepuncture").is_valid_on(today));
    for c in ["vital-signs", "ecg-recording", "wound-care"] {
        ensure!(comp(c).is_valid_on(today), "alex {c}");
    }

    let jo = store.staff_profile(&user("jo.ap")).await?;
    ensure!(jo.entitlements.iter().copied().collect::<Vec<_>>() == [Entitlement::IrmerOperator]);
    let jo_comps: Vec<&str> = jo.competencies.iter().map(|c| c.competency.as_str()).collect();
    ensure!(jo_comps == ["xray-appendicular", "xray-chest"], "{jo_comps:?}");

    let ria = store.staff_profile(&user("ria.trainee")).await?;
    ensure!(ria.staff.trainee && ria.staff.level.unwrap().get() == 4);

    let maria = store.staff_profile(&user("maria.acp")).await?;
    let reg = &maria.registrations[0];
    ensure!(reg.regulator == Regulator::Nmc && reg.annotations.iter().any(|a| a.as_str() == "independent-prescriber"));
    ensure!(maria.is_registered(today));

    let tom = store.staff_profile(&user("tom.rad")).await?;
    ensure!(tom.registrations[0].regulator == Regulator::Hcpc);
    ensure!(
        tom.entitlements.contains(&Entitlement::IrmerPractitioner)
            && tom.entitlements.contains(&Entitlement::IrmerOperator)
    );
    let okafor = store.staff_profile(&user("dr.okafor")).await?;
    ensure!(okafor.registrations[0].regulator == Regulator::Gmc);
    let reid = store.staff_profile(&user("dr.reid")).await?;
    ensure!(
        reid.entitlements.contains(&Entitlement::IrmerPractitioner)
            && reid.entitlements.contains(&Entitlement::IrmerReferrer)
    );
    ensure!(
        store
            .staff_profile(&user("lee.edu"))
            .await?
            .staff
            .has_role(Role::EducationLead)
    );
    ensure!(store.staff_profile(&user("admin")).await?.staff.has_role(Role::Admin));

    let patients = store.list_patients(None).await?;
    ensure!(patients.len() == 9);
    let peter = store.patient(&NhsNumber::parse("9990008221")?).await?;
    ensure!(
        peter.family_name.as_str() == "O'Neill"
            && peter.place.as_str() == "ward-9"
            && peter.bed.as_deref() == Some("1")
    );
    let linda = store.patient(&NhsNumber::parse("9990013705")?).await?;
    ensure!(linda.place.as_str() == "xray" && linda.bed.is_none());
    Ok(())
}

async fn seeding_twice_changes_nothing(db: TestDb) -> Result<()> {
    let out = db.remit(&["demo", "--seed-only"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains("demo trust seeded"));
    let entries = db.store(TestClock::new()).await?.audit_head().await?.0;
    let out = db.remit(&["demo", "--seed-only"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains("already present"));
    let store = db.store(TestClock::new()).await?;
    ensure!(store.list_staff().await?.len() == 13);
    ensure!(
        store.audit_head().await?.0 == entries,
        "the second seeding wrote nothing"
    );
    let log = store.audit_log(100).await?;
    ensure!(
        log.iter().filter(|e| e.action == "demo.seed").count() == 1,
        "one seed, one audit entry"
    );
    Ok(())
}
