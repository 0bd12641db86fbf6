//! `remit imaging` and `remit clinical`: the IR(ME)R chain, worklists, dose records, diagnoses and prescriptions,
//! each on a staff member's behalf (`--by`) through the same checks as the API.

use remit_services::imaging::Verdict;
use std::process::ExitCode;

use remit_domain::clinical::{Diagnosis, Prescription};
use remit_domain::imaging::{Catalogue, ExposureRecord, Pregnancy, Repeat, Stage};
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_policy::{PolicyPack, Supervision};
use remit_services::imaging::{self, Exposure, Referral};
use remit_services::scope::Outcome;
use remit_store::imaging::{DoseRow, RequestView};

use crate::cli::{ClinicalCommand, ImagingCommand};
use crate::{CliError, CliResult, on_behalf, open_with_pack, print_json, refused};

fn line(r: &RequestView) -> String {
    let mut s = format!(
        "{:>4}  {:<11} {:<16} {} {}  referred by {} at {}",
        r.id, r.status, r.examination, r.patient, r.patient_name, r.referrer, r.referred_at
    );
    if let Some(p) = &r.practitioner {
        s.push_str(&format!("; decided by {p}"));
    }
    if let Some(n) = r.decision_note.as_deref().filter(|n| !n.is_empty()) {
        s.push_str(&format!(" ({n})"));
    }
    if let Some(why) = &r.returned_reason
        && r.status == remit_domain::imaging::RequestStatus::Returned
    {
        s.push_str(&format!("; returned: {why}"));
    }
    if let Some(x) = &r.exposure {
        s.push_str(&format!(
            "; exposed by {} DAP {:.3} Gy·cm² (DRL {:.3}){}",
            x.operator,
            x.dap,
            x.drl_dap,
            if x.drl_exceeded { " ABOVE DRL" } else { "" }
        ));
    }
    s
}

fn show(r: &RequestView, json: bool) -> CliResult<ExitCode> {
    if json {
        print_json(r)?;
    } else {
        println!("{}", line(r));
    }
    Ok(ExitCode::SUCCESS)
}

fn done(o: Outcome<RequestView>, json: bool) -> CliResult<ExitCode> {
    match o {
        Outcome::Refused(reasons) => Ok(refused(&reasons)),
        Outcome::Done(r) => show(&r, json),
    }
}

fn doses(rows: &[DoseRow], csv: bool, json: bool, cumulative: bool) -> CliResult<ExitCode> {
    if csv {
        print!("{}", imaging::dose_csv(rows, cumulative));
    } else if json {
        print_json(&rows)?;
    } else {
        for r in rows {
            println!(
                "{} {} {} by {}: {:.3} Gy·cm²{}{}",
                remit_domain::time::uk_long_text(&r.exposed_at),
                r.patient,
                r.examination,
                r.operator,
                r.dap,
                if r.drl_exceeded {
                    format!(
                        " (above the DRL per {}{})",
                        r.drl_per,
                        if r.drl_over.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", r.drl_over.join(", "))
                        }
                    )
                } else {
                    String::new()
                },
                if cumulative {
                    format!(", cumulative {:.3}", r.cumulative_dap)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn supervision(s: &str, supervisor: Option<&str>) -> CliResult<(Supervision, Option<Username>)> {
    Ok((Supervision::parse(s)?, supervisor.map(Username::parse).transpose()?))
}

pub async fn imaging(url: &str, pack: &PolicyPack, catalogue: &Catalogue, cmd: ImagingCommand) -> CliResult<ExitCode> {
    match cmd {
        ImagingCommand::Refer {
            patient,
            examination,
            clinical_info,
            by,
            json,
        } => {
            let r = Referral {
                patient: NhsNumber::parse(&patient)?,
                examination,
                clinical_info,
                by: Username::parse(&by)?,
            };
            let store = open_with_pack(url, pack).await?;
            done(
                imaging::refer(&store, pack, catalogue, &r, &on_behalf(&r.by)).await?,
                json,
            )
        }
        ImagingCommand::Justify { id, by, note, json } => {
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            done(
                imaging::decide(&store, pack, id, &by, Verdict::Justify, &note, &on_behalf(&by)).await?,
                json,
            )
        }
        ImagingCommand::Reject { id, by, reason, json } => {
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            done(
                imaging::decide(&store, pack, id, &by, Verdict::Reject, &reason, &on_behalf(&by)).await?,
                json,
            )
        }
        ImagingCommand::Pregnancy {
            id,
            by,
            answer,
            supervision: s,
            supervisor,
            json,
        } => {
            let by = Username::parse(&by)?;
            let answer = Pregnancy::parse(&answer)?;
            let (s, sup) = supervision(&s, supervisor.as_deref())?;
            let store = open_with_pack(url, pack).await?;
            let op = imaging::Operator {
                by: by.clone(),
                supervision: s,
                supervisor: sup,
            };
            let o = imaging::pregnancy(&store, (pack, catalogue), id, &op, answer, &on_behalf(&by)).await?;
            done(o, json)
        }
        ImagingCommand::Expose {
            id,
            by,
            supervision: s,
            supervisor,
            projections,
            kv,
            mas,
            dap,
            projection_dap,
            sid,
            repeats,
            json,
        } => {
            let repeats = repeats
                .iter()
                .map(|r| {
                    r.split_once(':')
                        .map(|(p, why)| Repeat {
                            projection: p.to_owned(),
                            reason: why.to_owned(),
                        })
                        .ok_or_else(|| CliError::Usage(format!("repeat: `{r}` is not PROJECTION:REASON")))
                })
                .collect::<CliResult<Vec<_>>>()?;
            let (s, sup) = supervision(&s, supervisor.as_deref())?;
            let e = Exposure {
                request: id,
                by: Username::parse(&by)?,
                supervision: s,
                supervisor: sup,
                record: ExposureRecord::parse(&projections, kv, mas, (dap, &projection_dap), sid, &repeats)?,
            };
            let store = open_with_pack(url, pack).await?;
            done(
                imaging::expose(&store, pack, catalogue, &e, &on_behalf(&e.by)).await?,
                json,
            )
        }
        ImagingCommand::Report {
            id,
            by,
            findings,
            conclusion,
            json,
        } => {
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            done(
                imaging::report(&store, pack, id, &by, &findings, &conclusion, &on_behalf(&by)).await?,
                json,
            )
        }
        ImagingCommand::ReviewDose { id, by, note, json } => {
            let by = Username::parse(&by)?;
            let store = open_with_pack(url, pack).await?;
            done(
                imaging::review_drl(&store, pack, id, &by, &note, &on_behalf(&by)).await?,
                json,
            )
        }
        ImagingCommand::Show { id, json } => {
            let store = open_with_pack(url, pack).await?;
            show(&store.imaging_request(id).await?, json)
        }
        ImagingCommand::Worklist { stage, json } => {
            let stage = Stage::parse(&stage)?;
            let store = open_with_pack(url, pack).await?;
            let list = store.imaging_worklist(stage).await?;
            if json {
                print_json(&list)?;
            } else {
                for r in &list {
                    println!("{}", line(r));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ImagingCommand::DoseHistory { patient, csv, json } => {
            let nhs = NhsNumber::parse(&patient)?;
            let store = open_with_pack(url, pack).await?;
            let id = store.patient_id(&nhs).await?;
            doses(&store.dose_history(id).await?, csv, json, true)
        }
        ImagingCommand::OperatorActivity { operator, csv, json } => {
            let u = Username::parse(&operator)?;
            let store = open_with_pack(url, pack).await?;
            let id = store.staff_id(&u).await?;
            doses(&store.operator_activity(id).await?, csv, json, false)
        }
    }
}

pub async fn clinical(url: &str, pack: &PolicyPack, cmd: ClinicalCommand) -> CliResult<ExitCode> {
    match cmd {
        ClinicalCommand::Diagnose {
            patient,
            by,
            diagnosis,
            code,
            json,
        } => {
            let nhs = NhsNumber::parse(&patient)?;
            let by = Username::parse(&by)?;
            let d = Diagnosis::parse(&diagnosis, code.as_deref())?;
            let store = open_with_pack(url, pack).await?;
            match imaging::diagnose(&store, pack, &nhs, &by, &d, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(r) => {
                    if json {
                        print_json(&r)?;
                    } else {
                        println!("diagnosis {} recorded for {nhs}: {}", r.id, r.content.text);
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        ClinicalCommand::Prescribe {
            patient,
            by,
            medicine,
            dose,
            route,
            frequency,
            json,
        } => {
            let nhs = NhsNumber::parse(&patient)?;
            let by = Username::parse(&by)?;
            let p = Prescription::parse(&medicine, &dose, &route, &frequency)?;
            let store = open_with_pack(url, pack).await?;
            match imaging::prescribe(&store, pack, &nhs, &by, &p, &on_behalf(&by)).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(r) => {
                    if json {
                        print_json(&r)?;
                    } else {
                        println!(
                            "prescription {} recorded for {nhs}: {} {} {} {}",
                            r.id, r.content.medicine, r.content.dose, r.content.route, r.content.frequency
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}
