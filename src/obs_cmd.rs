//! `remit obs` and `remit escalation`: vital signs and NEWS2 escalations from the command line, through the same
//! checks as the API. Each acts on a staff member's behalf (`--by`), audited as `staff:USER via cli:USER`.

use remit_store::obs::SetVersions;
use std::process::ExitCode;

use remit_domain::news2::Spo2Scale;
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::{Readings, tenths};
use remit_domain::staff::Username;
use remit_domain::time::{parse_instant, uk_long_text, uk_short_text};
use remit_policy::PolicyPack;
use remit_services::obs::{self, Amendment, RecordSet, Recorded, Scale2Prescription};
use remit_services::scope::Outcome;
use remit_store::obs::{EscalationFilter, SetView};
use serde_json::{Map, Value, json};

use crate::cli::{EscalationCommand, ObsCommand, SetValues};
use crate::{CliError, CliResult, on_behalf, open_with_pack, print_json, refused};

/// The flags as the JSON object the API takes, so that one parser checks both.
fn readings(v: &SetValues) -> CliResult<(Readings, Option<Spo2Scale>)> {
    let mut o = Map::new();
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            o.insert(k.to_owned(), val);
        }
    };
    put("respiration_rate", v.respiration_rate.map(Value::from));
    put("spo2", v.spo2.map(Value::from));
    put("spo2_scale", v.scale.map(Value::from));
    put("on_oxygen", Some(Value::Bool(v.on_oxygen)));
    put("oxygen_flow", v.flow.map(Value::from));
    put("oxygen_device", v.device.clone().map(Value::from));
    put("systolic_bp", v.systolic_bp.map(Value::from));
    put("diastolic_bp", v.diastolic_bp.map(Value::from));
    put("pulse", v.pulse.map(Value::from));
    put("consciousness", v.consciousness.clone().map(Value::from));
    put("temperature", v.temperature.map(Value::from));
    let mut missing = Vec::new();
    for m in &v.missing {
        let mut parts = m.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(p), Some(a), Some(r)) => missing.push(json!({"parameter": p, "absence": a, "reason": r})),
            _ => {
                return Err(CliError::Usage(format!(
                    "missing: `{m}` is not PARAMETER:not-obtained|refused:REASON"
                )));
            }
        }
    }
    if !missing.is_empty() {
        o.insert("missing".into(), Value::Array(missing));
    }
    Ok(Readings::from_json(&o)?)
}

fn set_line(s: &SetView) -> String {
    let r = &s.readings;
    let show = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    format!(
        "set {} v{} [{}] taken {} by {}: RR {} SpO2 {} (scale {}{}) BP {}{} P {} {} T {} — {}, next due {}",
        s.set_id,
        s.version,
        s.state,
        uk_long_text(&s.taken_at),
        s.recorded_by,
        show(r.respiration_rate.map(|v| v.to_string())),
        show(r.spo2.map(|v| v.to_string())),
        s.spo2_scale,
        if r.on_oxygen { ", on oxygen" } else { ", air" },
        show(r.systolic_bp.map(|v| v.to_string())),
        r.diastolic_bp.map(|d| format!("/{d}")).unwrap_or_default(),
        show(r.pulse.map(|v| v.to_string())),
        show(r.consciousness.map(|c| c.as_str().to_owned())),
        show(r.temperature_tenths.map(tenths)),
        match (s.total, s.risk, s.not_scored) {
            (Some(t), Some(k), _) => format!(
                "NEWS2 {t}{} {}",
                if s.complete { "" } else { " (incomplete: at least)" },
                k.as_str()
            ),
            (_, _, Some(n)) => n.sentence().to_owned(),
            _ => "no NEWS2".to_owned(),
        },
        uk_short_text(&s.next_due_at)
    )
}

fn print_recorded(r: &Recorded, json: bool) -> CliResult {
    if json {
        return print_json(r);
    }
    println!("{} (version id {})", set_line(&r.set), r.set.id);
    for m in &r.set.readings.missing {
        println!("  {} {}: {}", m.parameter.title(), m.absence.as_str(), m.reason);
    }
    println!("response: {}", r.response);
    if let Some(s) = r.sepsis {
        println!("sepsis: {s}");
    }
    if let Some(e) = &r.escalation {
        println!(
            "escalation {} {} ({}, {})",
            e.id,
            if e.history.last().is_some_and(|h| h.what.starts_with("raised again")) {
                "raised again"
            } else {
                "raised"
            },
            e.level.as_str(),
            e.score.map_or_else(|| "no NEWS2".to_owned(), |s| format!("NEWS2 {s}"))
        );
    }
    Ok(())
}

pub async fn obs(url: &str, pack: &PolicyPack, cmd: ObsCommand) -> CliResult<ExitCode> {
    match cmd {
        ObsCommand::Record {
            patient,
            by,
            supervisor,
            taken_at,
            values,
            json,
        } => {
            let (readings, scale) = readings(&values)?;
            let r = RecordSet {
                patient: NhsNumber::parse(&patient)?,
                by: Username::parse(&by)?,
                supervisor: supervisor.as_deref().map(Username::parse).transpose()?,
                taken_at: taken_at.as_deref().map(|t| parse_instant("taken_at", t)).transpose()?,
                readings,
                scale,
            };
            let store = open_with_pack(url, pack).await?;
            match obs::record(&store, pack, &r, &on_behalf(&r.by), None).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(done) => print_recorded(&done, json).map(|()| ExitCode::SUCCESS),
            }
        }
        ObsCommand::Amend {
            version,
            by,
            supervisor,
            reason,
            values,
            json,
        } => {
            let (readings, _) = readings(&values)?;
            let a = Amendment {
                version,
                by: Username::parse(&by)?,
                supervisor: supervisor.as_deref().map(Username::parse).transpose()?,
                readings,
                reason,
            };
            let store = open_with_pack(url, pack).await?;
            match obs::amend(&store, pack, &a, &on_behalf(&a.by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(done) => print_recorded(&done, json).map(|()| ExitCode::SUCCESS),
            }
        }
        ObsCommand::Missed { patient, by, reason } => {
            let patient = NhsNumber::parse(&patient)?;
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            match obs::missed(&store, pack, &patient, &by, &reason, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(_) => {
                    println!("{patient}: observations recorded as not done; they stay overdue and the nurse is told");
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        ObsCommand::EnteredInError {
            version,
            by,
            reason,
            json,
        } => {
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            match obs::entered_in_error(&store, pack, version, &by, &reason, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(s) => {
                    if json {
                        print_json(&s)?;
                    } else {
                        println!("{}", set_line(&s));
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        ObsCommand::History { set, json } => {
            let store = open_with_pack(url, pack).await?;
            let versions = store.obs_history(set).await?;
            if json {
                print_json(&versions)?;
            } else {
                for v in &versions {
                    println!("{}", set_line(v));
                    if let (Some(r), Some(by)) = (&v.change_reason, &v.changed_by) {
                        println!(
                            "  changed by {by} at {}: {r}",
                            uk_long_text(v.changed_at.as_deref().unwrap_or(""))
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ObsCommand::List {
            patient,
            all,
            limit,
            json,
        } => {
            if !(1..=10_000).contains(&limit) {
                return Err(CliError::Usage(format!("limit: `{limit}` is outside 1–10000")));
            }
            let nhs = NhsNumber::parse(&patient)?;
            let store = open_with_pack(url, pack).await?;
            let id = store.patient_id(&nhs).await?;
            let sets = store
                .obs_for_patient(
                    id,
                    None,
                    limit,
                    if all { SetVersions::All } else { SetVersions::Current },
                )
                .await?;
            if json {
                print_json(&sets)?;
            } else {
                for s in &sets {
                    println!("{}", set_line(s));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ObsCommand::Overdue { ward, json } => {
            let store = open_with_pack(url, pack).await?;
            if let Some(w) = &ward {
                store.place(&remit_domain::place::PlaceCode::parse(w)?).await?;
            }
            let list = obs::overdue(&store.patients_obs(ward.as_deref()).await?, store.now());
            if json {
                print_json(&list)?;
            } else {
                for o in &list {
                    println!(
                        "{} {} bed {}: {} minutes late (due {}), last NEWS2 {}",
                        o.place,
                        o.patient,
                        o.bed.as_deref().unwrap_or("-"),
                        o.minutes_late,
                        uk_short_text(&o.due_at),
                        o.latest_score.map_or("none".to_owned(), |s| s.to_string())
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ObsCommand::PrescribeScale2 {
            patient,
            by,
            target,
            reason,
        } => {
            let (low, high) = obs::parse_target(&target)?;
            let p = Scale2Prescription {
                patient: NhsNumber::parse(&patient)?,
                by: Username::parse(&by)?,
                target_low: low,
                target_high: high,
                reason,
            };
            let store = open_with_pack(url, pack).await?;
            match obs::prescribe_scale2(&store, pack, &p, &on_behalf(&p.by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(s) => {
                    println!(
                        "SpO2 scale 2 prescribed for {}: target {}–{}%",
                        p.patient, s.target_low, s.target_high
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        ObsCommand::EndScale2 { patient, by, reason } => {
            let nhs = NhsNumber::parse(&patient)?;
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            match obs::end_scale2(&store, pack, &nhs, &by, &reason, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(()) => {
                    println!("SpO2 scale 2 ended for {nhs}: scored on scale 1 from now");
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

/// `remit patient set-pregnancy`: on a registered professional's behalf, through the policy.
pub async fn set_pregnancy(
    url: &str,
    pack: &PolicyPack,
    (nhs, status, by, until): (&str, &str, &str, Option<&str>),
    json: bool,
) -> CliResult<ExitCode> {
    let c = obs::PregnancyChange {
        patient: NhsNumber::parse(nhs)?,
        by: Username::parse(by)?,
        status: obs::parse_pregnancy(status)?,
        until: until.map(|u| remit_domain::time::parse_date("until", u)).transpose()?,
    };
    let store = open_with_pack(url, pack).await?;
    match obs::set_pregnancy(&store, pack, &c, &on_behalf(&c.by)).await? {
        Outcome::Refused(reasons) => Ok(refused(&reasons)),
        Outcome::Done(record) => {
            if json {
                print_json(&json!({"patient": c.patient, "pregnancy": record}))?;
            } else {
                match record {
                    Some(p) => println!(
                        "{}: recorded as {}{}; NEWS2 does not apply while it holds",
                        c.patient,
                        p.status.as_str(),
                        p.until
                            .map_or_else(String::new, |u| format!(" until {}", remit_domain::time::uk_date(u)))
                    ),
                    None => println!("{}: recorded as not pregnant; NEWS2 applies", c.patient),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn escalation(url: &str, pack: &PolicyPack, cmd: EscalationCommand) -> CliResult<ExitCode> {
    let store = open_with_pack(url, pack).await?;
    let print = |n: &obs::EscalationNotice, json: bool| -> CliResult {
        if json {
            return print_json(n);
        }
        let e = &n.escalation;
        println!(
            "{:>4} {:<12} {:<10} {} {} {} bed {} — raised {}, waited {} min{}",
            e.id,
            e.state,
            e.level.as_str(),
            e.score
                .map_or_else(|| "no NEWS2".to_owned(), |s| format!("NEWS2 {s:>2}")),
            e.place,
            e.patient,
            e.bed.as_deref().unwrap_or("-"),
            uk_long_text(&e.raised_at),
            n.waiting_minutes,
            match (n.waiting_for, e.stage) {
                (Some(w), 0) => format!(", waiting for {w}"),
                (Some(w), s) => format!(", waiting for {w}, cascaded {s} step{}", if s == 1 { "" } else { "s" }),
                (None, _) => String::new(),
            }
        );
        if let Some(a) = &e.about {
            println!("       {}", crate::terminal_safe(a));
        }
        if let Some(s) = n.sepsis {
            println!("       {s}");
        }
        if n.no_one_to_acknowledge {
            println!("       nobody on duty where the patient is can acknowledge it");
        }
        for r in &n.recipients {
            println!("       to {} ({}) as {}", r.name, r.username, r.as_);
        }
        if let Some(note) = &e.note {
            println!("       note: {}", crate::terminal_safe(note));
        }
        Ok(())
    };
    match cmd {
        EscalationCommand::List { open, ward, json } => {
            if let Some(w) = &ward {
                store.place(&remit_domain::place::PlaceCode::parse(w)?).await?;
            }
            let filter = EscalationFilter {
                open,
                place: ward,
                patient: None,
            };
            let list = obs::notices(&store, pack, &filter).await?;
            if json {
                print_json(&list)?;
            } else {
                for n in &list {
                    print(n, false)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        EscalationCommand::Acknowledge { id, by, json } => {
            let by = Username::parse(&by)?;
            match obs::acknowledge(&store, pack, id, &by, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(n) => print(&n, json).map(|()| ExitCode::SUCCESS),
            }
        }
        EscalationCommand::Review { id, by, note, json } => {
            let by = Username::parse(&by)?;
            match obs::review(&store, pack, id, &by, &note, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(n) => print(&n, json).map(|()| ExitCode::SUCCESS),
            }
        }
    }
}
