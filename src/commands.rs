//! Staff, patient and token commands. Each parses its input into domain types first (bad input: exit 2, nothing
//! written), then runs as one transaction that ends with its audit entry.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::process::ExitCode;

use futures_util::future::BoxFuture;
use remit_domain::audit::AuditDraft;
use remit_domain::nhs::NhsNumber;
use remit_domain::patient::{Patient, Sex, parse_bed, parse_date_of_birth};
use remit_domain::place::{Place, PlaceCode, PlaceKind};
use remit_domain::staff::{
    CareerLevel, Entitlement, PersonName, Registration, Role, StaffStatus, Username, parse_title,
};
use remit_domain::time::{format_instant, parse_instant};
use remit_store::credentials::{check_new_password, hash_password};
use remit_store::session::parse_token_label;
use remit_store::staff::{NewStaff, StaffProfile};
use remit_store::{Store, StoreError, WriteTx};
use serde::Serialize;

use crate::cli::{DutyCommand, PatientCommand, PlaceCommand, StaffAdd, StaffCommand, TokenCommand};
use crate::{CliError, CliResult, cli_actor, open_store, print_json, terminal_safe};

fn read_password_from_stdin() -> CliResult<String> {
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| CliError::Usage(format!("could not read the password from standard input: {e}")))?;
    let password = buf.trim_end_matches(['\n', '\r']).to_owned();
    check_new_password(&password).map_err(CliError::Usage)?;
    Ok(password)
}

/// Runs a change to one staff member as one audited command.
async fn staff_change<F>(store: &Store, username: &Username, action: &str, payload: &impl Serialize, f: F) -> CliResult
where
    F: for<'a> FnOnce(&'a mut WriteTx, i64) -> BoxFuture<'a, Result<(), StoreError>> + Clone + Send + 'static,
{
    let id = store.staff_id(username).await?;
    let draft = AuditDraft::permit(cli_actor(), action, format!("staff:{username}")).with_payload(payload);
    store.command(draft, move |tx| f(tx, id)).await?;
    Ok(())
}

pub async fn staff(url: &str, pack: &remit_policy::PolicyPack, cmd: StaffCommand) -> CliResult {
    match cmd {
        StaffCommand::Add(args) => staff_add(url, pack, args).await,
        StaffCommand::List { json } => {
            let store = open_store(url).await?;
            let list = store.list_staff().await?;
            if json {
                return print_json(&list);
            }
            println!(
                "{:<14} {:<22} {:>5}  {:<10} ON DUTY",
                "USERNAME", "NAME", "LEVEL", "STATUS"
            );
            for s in list {
                let level = s.staff.level.map_or("-".into(), |l| l.to_string());
                let duty: Vec<&str> = s.on_duty.iter().map(PlaceCode::as_str).collect();
                println!(
                    "{:<14} {:<22} {:>5}  {:<10} {}",
                    s.staff.username,
                    s.staff.name,
                    level,
                    s.staff.status,
                    if duty.is_empty() { "-".into() } else { duty.join(", ") }
                );
            }
            Ok(())
        }
        StaffCommand::Show { username, json } => {
            let username = Username::parse(&username)?;
            let store = open_store(url).await?;
            let profile = store.staff_profile(&username).await?;
            if json {
                return print_json(&profile);
            }
            print_profile(&profile, store.now().date_naive());
            Ok(())
        }
        StaffCommand::SetDuty {
            username,
            places,
            until,
            off,
        } => {
            let username = Username::parse(&username)?;
            let places: Vec<PlaceCode> = if off {
                Vec::new()
            } else {
                places.iter().map(|p| PlaceCode::parse(p)).collect::<Result<_, _>>()?
            };
            let until = until.map(|u| parse_instant("until", &u)).transpose()?;
            let store = open_store(url).await?;
            #[derive(Serialize)]
            struct Payload {
                places: Vec<PlaceCode>,
                until: Option<String>,
            }
            let payload = Payload {
                places: places.clone(),
                until: until.map(format_instant),
            };
            staff_change(&store, &username, "staff.set-duty", &payload, move |tx, id| {
                Box::pin(async move { tx.set_duty(id, &places, until).await })
            })
            .await?;
            println!("{username}: duty updated");
            Ok(())
        }
        StaffCommand::AddRegistration { username, registration } => {
            let username = Username::parse(&username)?;
            let reg = Registration::parse_spec(&registration)?;
            let store = open_store(url).await?;
            let payload = reg.clone();
            staff_change(&store, &username, "staff.add-registration", &payload, move |tx, id| {
                Box::pin(async move { tx.add_registration(id, &reg).await })
            })
            .await?;
            println!("{username}: registration recorded");
            Ok(())
        }
        StaffCommand::RenewRegistration { username, registration } => {
            let username = Username::parse(&username)?;
            let reg = Registration::parse_spec(&registration)?;
            let store = open_store(url).await?;
            let payload = reg.clone();
            let (regulator, until) = (reg.regulator, reg.expires_on);
            staff_change(
                &store,
                &username,
                "staff.renew-registration",
                &payload,
                move |tx, id| Box::pin(async move { tx.renew_registration(id, &reg).await }),
            )
            .await?;
            println!("{username}: {regulator} registration renewed until {until}");
            Ok(())
        }
        StaffCommand::GrantEntitlement { username, entitlement } => {
            let username = Username::parse(&username)?;
            let e = Entitlement::parse(&entitlement)?;
            let store = open_store(url).await?;
            let actor = cli_actor();
            staff_change(&store, &username, "staff.grant-entitlement", &e, move |tx, id| {
                Box::pin(async move { tx.grant_entitlement(id, e, &actor).await })
            })
            .await?;
            println!("{username}: entitlement {e} granted");
            Ok(())
        }
        StaffCommand::Suspend { username, reason } => {
            let username = Username::parse(&username)?;
            let reason = parse_title("reason", &reason)?;
            let store = open_store(url).await?;
            staff_change(&store, &username, "staff.suspend", &reason, |tx, id| {
                Box::pin(async move { tx.set_status(id, StaffStatus::Suspended).await })
            })
            .await?;
            println!("{username}: suspended; their sessions have ended");
            Ok(())
        }
        StaffCommand::LinkIdentity { username, subject, .. } => {
            let username = Username::parse(&username)?;
            // A subject is the provider's opaque identifier: printable, no spaces, at most 255 characters.
            if let Some(s) = &subject
                && (s.is_empty() || s.len() > 255 || !s.chars().all(|c| c.is_ascii_graphic()))
            {
                return Err(remit_domain::InvalidValue::new(
                    "subject",
                    "an identity is 1 to 255 printable characters without spaces, as the provider's `sub` gives it",
                )
                .into());
            }
            let store = open_store(url).await?;
            let linked = subject.clone();
            staff_change(&store, &username, "staff.link-identity", &subject, move |tx, id| {
                let linked = linked.clone();
                Box::pin(async move { tx.link_oidc_subject(id, linked.as_deref()).await })
            })
            .await?;
            match subject {
                Some(s) => println!("{username}: linked to the identity `{s}`"),
                None => println!("{username}: no identity linked"),
            }
            Ok(())
        }
        StaffCommand::Reinstate { username } => {
            let username = Username::parse(&username)?;
            let store = open_store(url).await?;
            staff_change(&store, &username, "staff.reinstate", &(), |tx, id| {
                Box::pin(async move { tx.set_status(id, StaffStatus::Active).await })
            })
            .await?;
            println!("{username}: reinstated");
            Ok(())
        }
        StaffCommand::SetPassword { username } => {
            let username = Username::parse(&username)?;
            let password = read_password_from_stdin()?;
            let store = open_store(url).await?;
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            staff_change(&store, &username, "staff.set-password", &(), |tx, id| {
                Box::pin(async move { tx.set_password(id, &hash).await })
            })
            .await?;
            println!("{username}: password set; their sessions have ended");
            Ok(())
        }
        StaffCommand::SetGrade {
            username,
            grade,
            none: _,
        } => {
            let username = Username::parse(&username)?;
            let grade = grade.as_deref().map(|g| known_grade(pack, g)).transpose()?;
            let store = open_store(url).await?;
            let payload = serde_json::json!({"grade": grade});
            staff_change(&store, &username, "staff.set-grade", &payload, move |tx, id| {
                Box::pin(async move { tx.set_grade(id, grade.as_ref()).await })
            })
            .await?;
            println!("{username}: grade set");
            Ok(())
        }
    }
}

/// A grade, checked against the ones the policy pack's escalation routes name.
fn known_grade(pack: &remit_policy::PolicyPack, g: &str) -> CliResult<remit_domain::escalation::Grade> {
    let grade = remit_domain::escalation::Grade::parse(g)?;
    pack.escalation().known_grade(&grade)?;
    Ok(grade)
}

async fn staff_add(url: &str, pack: &remit_policy::PolicyPack, a: StaffAdd) -> CliResult {
    // Parse everything before touching the database.
    let username = Username::parse(&a.username)?;
    let grade = a.grade.as_deref().map(|g| known_grade(pack, g)).transpose()?;
    let name = PersonName::parse(&a.name)?;
    let job_title = parse_title("job_title", &a.job_title)?;
    let level = a.level.as_deref().map(CareerLevel::parse).transpose()?;
    let roles: BTreeSet<Role> = a.roles.iter().map(|r| Role::parse(r)).collect::<Result<_, _>>()?;
    let bodies: Vec<String> = a
        .bodies
        .iter()
        .map(|b| parse_title("body", b))
        .collect::<Result<_, _>>()?;
    let registrations: Vec<Registration> = a
        .registrations
        .iter()
        .map(|r| Registration::parse_spec(r))
        .collect::<Result<_, _>>()?;
    if a.trainee && level.is_none() {
        return Err(CliError::Usage("trainee: a trainee needs a --level".into()));
    }
    let password_hash = if a.password_stdin {
        let pw = read_password_from_stdin()?;
        Some(
            tokio::task::spawn_blocking(move || hash_password(&pw))
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?,
        )
    } else {
        None
    };
    let new = NewStaff {
        username: username.clone(),
        name,
        job_title,
        level,
        trainee: a.trainee,
        roles,
        professional_bodies: bodies,
        grade,
        password_hash,
    };
    let store = open_store(url).await?;
    #[derive(Serialize)]
    struct Payload<'a> {
        staff: &'a NewStaff,
        registrations: &'a [Registration],
    }
    let draft = AuditDraft::permit(cli_actor(), "staff.add", format!("staff:{username}")).with_payload(&Payload {
        staff: &new,
        registrations: &registrations,
    });
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                let id = tx.insert_staff(&new).await?;
                for r in &registrations {
                    tx.add_registration(id, r).await?;
                }
                Ok(())
            })
        })
        .await?;
    println!("{username}: added");
    Ok(())
}

fn print_profile(p: &StaffProfile, today: chrono::NaiveDate) {
    let s = &p.staff;
    println!("{} ({})", s.name, s.username);
    println!("  job title:    {}", s.job_title);
    println!(
        "  level:        {}",
        s.level.map_or("none".into(), |l| format!("{l} — {}", l.name()))
    );
    if s.trainee {
        println!("  trainee:      yes");
    }
    println!("  status:       {}", s.status);
    let roles: Vec<&str> = s.roles.iter().map(|r| r.as_str()).collect();
    println!(
        "  roles:        {}",
        if roles.is_empty() { "-".into() } else { roles.join(", ") }
    );
    println!(
        "  bodies:       {}",
        if s.professional_bodies.is_empty() {
            "-".into()
        } else {
            s.professional_bodies.join(", ")
        }
    );
    let duty: Vec<&str> = p.on_duty.iter().map(PlaceCode::as_str).collect();
    println!(
        "  on duty:      {}",
        if duty.is_empty() { "no".into() } else { duty.join(", ") }
    );
    for r in &p.registrations {
        let ann: Vec<&str> = r.annotations.iter().map(|a| a.as_str()).collect();
        println!(
            "  registration: {} {} expires {}{}{}",
            r.regulator,
            r.number,
            remit_domain::time::uk_date(r.expires_on),
            if r.is_current(today) { "" } else { " (lapsed)" },
            if ann.is_empty() {
                String::new()
            } else {
                format!(" [{}]", ann.join(", "))
            }
        );
    }
    for e in &p.entitlements {
        println!("  entitlement:  {e}");
    }
    for c in &p.competencies {
        let state = if c.revoked {
            "revoked".to_owned()
        } else if c.is_valid_on(today) {
            format!("valid until {}", remit_domain::time::uk_date(c.expires_on))
        } else {
            format!("expired on {}", remit_domain::time::uk_date(c.expires_on))
        };
        println!(
            "  competency:   {} signed off {} — {state}",
            c.competency,
            remit_domain::time::uk_date(c.signed_off_on)
        );
    }
}

pub async fn place(url: &str, cmd: PlaceCommand) -> CliResult {
    match cmd {
        PlaceCommand::Add { code, name, kind } => {
            let place = Place {
                code: PlaceCode::parse(&code)?,
                name: parse_title("name", &name)?,
                kind: PlaceKind::parse(&kind)?,
            };
            let store = open_store(url).await?;
            let code = place.code.clone();
            let draft = AuditDraft::permit(cli_actor(), "place.add", format!("place:{code}")).with_payload(&place);
            store
                .command(draft, move |tx| Box::pin(async move { tx.insert_place(&place).await }))
                .await?;
            println!("place {code}: added");
            Ok(())
        }
        PlaceCommand::List { json } => {
            let store = open_store(url).await?;
            let places = store.places().await?;
            if json {
                return print_json(&places);
            }
            println!("{:<12} {:<11} NAME", "CODE", "KIND");
            for p in places {
                println!("{:<12} {:<11} {}", p.code, p.kind, p.name);
            }
            Ok(())
        }
    }
}

pub async fn patient(url: &str, pack: &remit_policy::PolicyPack, cmd: PatientCommand) -> CliResult<ExitCode> {
    match cmd {
        PatientCommand::SetPregnancy {
            nhs_number,
            status,
            by,
            until,
            json,
        } => crate::obs_cmd::set_pregnancy(url, pack, (&nhs_number, &status, &by, until.as_deref()), json).await,
        PatientCommand::Add {
            nhs_number,
            given_name,
            family_name,
            date_of_birth,
            sex,
            place,
            bed,
        } => {
            let today = chrono::Utc::now().date_naive();
            let p = Patient {
                nhs_number: NhsNumber::parse(&nhs_number)?,
                given_name: PersonName::parse(&given_name)?,
                family_name: PersonName::parse(&family_name)?,
                date_of_birth: parse_date_of_birth(&date_of_birth, today)?,
                sex: Sex::parse(&sex)?,
                place: PlaceCode::parse(&place)?,
                bed: bed.as_deref().map(parse_bed).transpose()?,
            };
            let store = open_store(url).await?;
            let nhs = p.nhs_number.clone();
            let draft = AuditDraft::permit(cli_actor(), "patient.add", format!("patient:{nhs}")).with_payload(&p);
            store
                .command(draft, move |tx| {
                    Box::pin(async move { tx.insert_patient(&p).await.map(drop) })
                })
                .await?;
            println!("patient {nhs}: added");
            Ok(ExitCode::SUCCESS)
        }
        PatientCommand::List { place, json } => {
            let place = place.as_deref().map(PlaceCode::parse).transpose()?;
            let store = open_store(url).await?;
            if let Some(p) = &place {
                store.place(p).await?;
            }
            let list = store.list_patients(place.as_ref()).await?;
            if json {
                return print_json(&list).map(|()| ExitCode::SUCCESS);
            }
            println!(
                "{:<12} {:<24} {:<10} {:<8} {:<6} BED",
                "NHS NUMBER", "NAME", "BORN", "SEX", "PLACE"
            );
            for p in list {
                println!(
                    "{:<12} {:<24} {:<10} {:<8} {:<6} {}",
                    p.nhs_number,
                    p.display_name(),
                    p.date_of_birth,
                    p.sex,
                    p.place,
                    p.bed.as_deref().unwrap_or("-")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PatientCommand::Show { nhs_number, json } => {
            let nhs = NhsNumber::parse(&nhs_number)?;
            let store = open_store(url).await?;
            let p = store.patient(&nhs).await?;
            if json {
                return print_json(&p).map(|()| ExitCode::SUCCESS);
            }
            println!("{} — NHS number {}", p.display_name(), p.nhs_number);
            println!(
                "  born:  {} ({} years)",
                p.date_of_birth,
                p.age_on(store.now().date_naive())
            );
            println!("  sex:   {}", p.sex);
            println!(
                "  place: {}{}",
                p.place,
                p.bed.map(|b| format!(", bed {b}")).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn token(url: &str, cmd: TokenCommand) -> CliResult {
    match cmd {
        TokenCommand::Create { staff, label } => {
            let username = Username::parse(&staff)?;
            let label = parse_token_label(&label)?;
            let store = open_store(url).await?;
            let profile = store.staff_profile(&username).await?;
            if !profile.staff.is_active() {
                return Err(CliError::Usage(format!("staff member `{username}` is suspended")));
            }
            let draft =
                AuditDraft::permit(cli_actor(), "token.create", format!("staff:{username}")).with_payload(&label);
            let (token, _) = store
                .command(draft, move |tx| {
                    Box::pin(async move { tx.create_token(profile.id, &label).await })
                })
                .await?;
            println!("{token}");
            eprintln!("This token is shown once. Send it as `Authorization: Bearer <token>`.");
            Ok(())
        }
        TokenCommand::Revoke { staff, label } => {
            let username = Username::parse(&staff)?;
            let label = parse_token_label(&label)?;
            let store = open_store(url).await?;
            let id = store.staff_id(&username).await?;
            let draft =
                AuditDraft::permit(cli_actor(), "token.revoke", format!("staff:{username}")).with_payload(&label);
            let (n, _) = store
                .command(draft, move |tx| {
                    Box::pin(async move { tx.revoke_tokens(id, &label).await })
                })
                .await?;
            println!("{username}: {n} token(s) revoked");
            Ok(())
        }
    }
}

pub async fn duty(url: &str, cmd: DutyCommand) -> CliResult {
    match cmd {
        DutyCommand::Import { file, json } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("could not read the roster `{}`: {e}", file.display())))?;
            let lines = |errors: Vec<remit_domain::roster::LineError>| {
                CliError::Usage(format!(
                    "{}: not imported, nothing written:\n{}",
                    file.display(),
                    errors
                        .iter()
                        .map(|e| terminal_safe(&e.to_string()))
                        .collect::<Vec<_>>()
                        .join("\n")
                ))
            };
            let shifts = remit_domain::roster::parse(&text).map_err(lines)?;
            let store = open_store(url).await?;
            let source = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let done = match remit_services::duty::import(&store, shifts, &source, &cli_actor()).await {
                Ok(done) => done,
                Err(remit_services::duty::ImportError::Lines(errors)) => return Err(lines(errors)),
                Err(remit_services::duty::ImportError::Store(e)) => return Err(e.into()),
            };
            if json {
                return print_json(&done);
            }
            println!(
                "{} shifts: {} added, {} recorded already",
                done.shifts, done.added, done.already
            );
            Ok(())
        }
    }
}
