//! `remit competency` and `remit cpd`. A sign-off is done by an assessor and a revocation by someone who manages
//! competencies: each passes the policy decision first, and a refusal is audited with every reason.

use remit_domain::audit::AuditDraft;
use remit_domain::staff::{CompetencyId, Username, parse_title};
use remit_domain::time::parse_date;
use remit_policy::PolicyPack;
use remit_services::scope::{self, Ask, Outcome};
use remit_store::Store;

use crate::cli::{CompetencyCommand, CpdCommand};
use crate::{CliError, CliResult, cli_actor, on_behalf, open_store, open_with_pack, print_json};

/// Asks the pack whether `actor` may do `activity` to `colleague`; a refusal is audited and ends the command.
async fn authorise(store: &Store, pack: &PolicyPack, ask: &Ask, audit_actor: &str, target: &str) -> CliResult {
    let decision = scope::check(store, pack, ask).await?;
    if decision.permitted() {
        return Ok(());
    }
    store
        .record(AuditDraft::deny(audit_actor, ask.activity.clone(), target, decision.reasons.clone()).with_payload(ask))
        .await?;
    Err(CliError::Failed(format!(
        "refused:\n  - {}",
        decision.reasons.join("\n  - ")
    )))
}

/// "60d", "60" or "8w" as a number of days.
pub(crate) fn parse_within(s: &str) -> CliResult<i64> {
    let s = s.trim();
    let (n, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "d"),
    };
    let n: i64 = n
        .parse()
        .map_err(|_| CliError::Usage(format!("within: `{s}` is not a period such as 60d or 8w")))?;
    let days = match unit {
        "d" => n,
        "w" => n * 7,
        _ => {
            return Err(CliError::Usage(format!(
                "within: `{s}` is not a period such as 60d or 8w"
            )));
        }
    };
    if !(0..=3650).contains(&days) {
        return Err(CliError::Usage(format!("within: `{s}` must be at most ten years")));
    }
    Ok(days)
}

pub async fn competency(url: &str, pack: &PolicyPack, cmd: CompetencyCommand) -> CliResult {
    match cmd {
        CompetencyCommand::SignOff {
            staff,
            competency,
            assessor,
            date,
            evidence,
            json,
        } => {
            let s = remit_services::competency::SignOff {
                staff: Username::parse(&staff)?,
                competency: CompetencyId::parse(&competency)?,
                assessor: Username::parse(&assessor)?,
                date: date.as_deref().map(|d| parse_date("date", d)).transpose()?,
                evidence,
            };
            let store = open_with_pack(url, pack).await?;
            let actor = on_behalf(&s.assessor);
            match remit_services::competency::sign_off(&store, pack, &s, &actor).await? {
                Outcome::Refused(reasons) => Err(CliError::Failed(format!("refused:\n  - {}", reasons.join("\n  - ")))),
                Outcome::Done(done) => {
                    if json {
                        return print_json(&done);
                    }
                    println!(
                        "{}: `{}` signed off by {} on {}, valid until {}",
                        done.staff,
                        done.competency,
                        done.assessor,
                        remit_domain::time::uk_date(done.signed_off_on),
                        remit_domain::time::uk_date(done.expires_on)
                    );
                    Ok(())
                }
            }
        }
        CompetencyCommand::Revoke {
            staff,
            competency,
            by,
            reason,
            json,
        } => {
            let staff = Username::parse(&staff)?;
            let by = Username::parse(&by)?;
            let id = CompetencyId::parse(&competency)?;
            let reason = parse_title("reason", &reason)?;
            let store = open_with_pack(url, pack).await?;
            let staff_id = store.staff_id(&staff).await?;
            let actor = on_behalf(&by);
            let target = format!("staff:{staff}");
            let mut ask = Ask::new(by.clone(), "competency.manage");
            ask.colleague = Some(staff.clone());
            authorise(&store, pack, &ask, &actor, &target).await?;
            let draft = AuditDraft::permit(actor.clone(), "competency.revoke", target).with_payload(&(&id, &reason));
            let by_name = format!("staff:{by}");
            let (revoked, _) = store
                .command(draft, move |tx| {
                    Box::pin(async move { tx.revoke_competency(staff_id, &id, &by_name, &reason).await })
                })
                .await?;
            if json {
                return print_json(&serde_json::json!({
                    "staff": staff, "competency": competency, "revoked_by": by, "records_revoked": revoked,
                }));
            }
            println!("{staff}: `{competency}` revoked by {by}");
            Ok(())
        }
        CompetencyCommand::List { staff, json } => {
            let staff = staff.as_deref().map(Username::parse).transpose()?;
            let store = open_store(url).await?;
            if let Some(s) = &staff {
                store.staff_id(s).await?;
            }
            let records = store.competency_records(staff.as_ref()).await?;
            if json {
                return print_json(&records);
            }
            println!(
                "{:<14} {:<30} {:<11} {:<11} STATUS",
                "STAFF", "COMPETENCY", "SIGNED OFF", "EXPIRES"
            );
            for r in records {
                println!(
                    "{:<14} {:<30} {:<11} {:<11} {}",
                    r.staff,
                    r.record.competency,
                    remit_domain::time::uk_date(r.record.signed_off_on),
                    remit_domain::time::uk_date(r.record.expires_on),
                    r.status
                );
            }
            Ok(())
        }
        CompetencyCommand::Expiring { within, json } => {
            let days = parse_within(&within)?;
            let store = open_store(url).await?;
            let records = store.competencies_expiring(days).await?;
            if json {
                return print_json(&records);
            }
            for r in records {
                println!(
                    "{:<14} {:<30} expires {} (in {} days)",
                    r.staff,
                    r.record.competency,
                    remit_domain::time::uk_date(r.record.expires_on),
                    r.days_to_expiry
                );
            }
            Ok(())
        }
    }
}

pub async fn cpd(url: &str, cmd: CpdCommand) -> CliResult {
    match cmd {
        CpdCommand::Add {
            staff,
            date,
            hours,
            activity,
            reflection,
            participatory,
            method,
            json,
        } => {
            let staff = Username::parse(&staff)?;
            let date = parse_date("date", &date)?;
            let store = open_store(url).await?;
            let c = remit_services::competency::NewCpd {
                staff: staff.clone(),
                date,
                hours,
                activity,
                reflection,
                participatory,
                method,
            };
            let (_, minutes) = remit_services::competency::add_cpd(&store, &c, &cli_actor()).await?;
            if json {
                return print_json(&serde_json::json!({"staff": staff, "date": date, "hours": minutes as f64 / 60.0}));
            }
            println!("{staff}: CPD of {minutes} minutes on {date} recorded");
            Ok(())
        }
        CpdCommand::List { staff, json } => {
            let staff = staff.as_deref().map(Username::parse).transpose()?;
            let store = open_store(url).await?;
            if let Some(s) = &staff {
                store.staff_id(s).await?;
            }
            let entries = store.cpd_entries(staff.as_ref()).await?;
            if json {
                return print_json(&entries);
            }
            for e in entries {
                println!("{:<14} {} {:>5.2} h  {}", e.staff, e.date, e.hours, e.activity);
            }
            Ok(())
        }
    }
}
