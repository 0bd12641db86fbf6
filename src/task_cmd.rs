//! `remit task`: delegation from the command line, through the same checks as every other way in.

use std::process::ExitCode;

use remit_domain::nhs::NhsNumber;
use remit_domain::staff::{Username, parse_title};
use remit_domain::task::{Move, TaskStatus};
use remit_policy::{ExamRegion, PolicyPack, Supervision};
use remit_services::tasks::{self, Delegation, Outcome};
use remit_store::task::{TaskFilter, TaskView};

use crate::cli::{TaskCommand, TaskMove, TaskMoveWithReason};
use crate::{CliError, CliResult, on_behalf, open_with_pack, print_json, refused};

fn line(t: &TaskView) -> String {
    format!(
        "{:>4}  {:<26} {:<26} {} -> {}  patient {}{}",
        t.id,
        t.status.as_str(),
        t.activity,
        t.delegator,
        t.delegatee,
        t.patient,
        t.supervisor
            .as_deref()
            .map(|s| format!("  supervised by {s}"))
            .unwrap_or_default()
    )
}

pub async fn task(url: &str, pack: &PolicyPack, cmd: TaskCommand, max_supervisees: usize) -> CliResult<ExitCode> {
    match cmd {
        TaskCommand::Delegate {
            delegator,
            delegatee,
            patient,
            activity,
            exam,
            supervision,
            supervisor,
            due,
            notes,
            json,
        } => {
            let d = Delegation {
                delegator: Username::parse(&delegator)?,
                delegatee: Username::parse(&delegatee)?,
                patient: NhsNumber::parse(&patient)?,
                activity: activity.trim().to_owned(),
                exam: exam.as_deref().map(ExamRegion::parse).transpose()?,
                supervision: Supervision::parse(&supervision)?,
                supervisor: supervisor.as_deref().map(Username::parse).transpose()?,
                due_at: due.as_deref().map(remit_store::task::parse_due).transpose()?,
                notes: if notes.trim().is_empty() {
                    String::new()
                } else {
                    parse_title("notes", &notes)?
                },
            };
            let store = open_with_pack(url, pack).await?;
            if let Some(due) = d.due_at
                && due <= store.now()
            {
                return Err(CliError::Usage(format!(
                    "due: `{}` is not in the future",
                    remit_domain::time::format_instant(due)
                )));
            }
            let actor = on_behalf(&d.delegator);
            match tasks::delegate(&store, pack, &d, &actor, max_supervisees).await? {
                Outcome::Refused(reasons) => Ok(refused(&reasons)),
                Outcome::Done(done) => {
                    if let Some(w) = &done.warning {
                        eprintln!("warning: {w}");
                    }
                    if json {
                        print_json(&done)?;
                    } else {
                        println!("task {} delegated: {}", done.task.id, line(&done.task));
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        TaskCommand::Accept(m) => simple(url, pack, m, Move::Accept).await,
        TaskCommand::Start(m) => simple(url, pack, m, Move::Start).await,
        TaskCommand::Complete(m) => simple(url, pack, m, Move::Complete).await,
        TaskCommand::Countersign(m) => simple(url, pack, m, Move::Countersign).await,
        TaskCommand::Decline(m) => with_reason(url, pack, m, Move::Decline).await,
        TaskCommand::Fail(m) => with_reason(url, pack, m, Move::Fail).await,
        TaskCommand::Return(m) => with_reason(url, pack, m, Move::Return).await,
        TaskCommand::Cancel(m) => with_reason(url, pack, m, Move::Cancel).await,
        TaskCommand::List {
            owner,
            requester,
            status,
            patient,
            json,
        } => {
            let filter = TaskFilter {
                owner: owner
                    .as_deref()
                    .map(Username::parse)
                    .transpose()?
                    .map(|u| u.to_string()),
                requester: requester
                    .as_deref()
                    .map(Username::parse)
                    .transpose()?
                    .map(|u| u.to_string()),
                status: status.as_deref().map(TaskStatus::parse).transpose()?,
                patient: patient.as_deref().map(NhsNumber::parse).transpose()?,
            };
            let store = open_with_pack(url, pack).await?;
            let list = store.list_tasks(&filter).await?;
            if json {
                print_json(&list)?;
            } else {
                for t in &list {
                    println!("{}", line(t));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Show { id, json } => {
            let store = open_with_pack(url, pack).await?;
            let t = store.task(id).await?;
            if json {
                print_json(&t)?;
            } else {
                println!("{}", line(&t));
                if !t.notes.is_empty() {
                    println!("      notes: {}", t.notes);
                }
                for e in &t.history {
                    println!(
                        "      {} {} {} -> {}{}",
                        remit_domain::time::uk_long_text(&e.at),
                        e.by,
                        e.mv,
                        e.to,
                        e.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Load { json } => {
            let store = open_with_pack(url, pack).await?;
            let load = store.supervision_load().await?;
            if json {
                print_json(&load)?;
            } else {
                for l in &load {
                    println!("{} ({}): {}", l.name, l.supervisor, l.supervisees.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_move(
    url: &str,
    pack: &PolicyPack,
    id: i64,
    actor: &str,
    mv: Move,
    note: Option<String>,
    json: bool,
) -> CliResult<ExitCode> {
    let actor = Username::parse(actor)?;
    let store = open_with_pack(url, pack).await?;
    let audit_actor = on_behalf(&actor);
    match tasks::make_move(&store, pack, id, mv, &actor, note, &audit_actor).await? {
        Outcome::Refused(reasons) => Ok(refused(&reasons)),
        Outcome::Done(t) => {
            if json {
                print_json(&t)?;
            } else {
                println!("task {}: {}", t.id, t.status);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn simple(url: &str, pack: &PolicyPack, m: TaskMove, mv: Move) -> CliResult<ExitCode> {
    run_move(url, pack, m.id, &m.actor, mv, m.notes, m.json).await
}

async fn with_reason(url: &str, pack: &PolicyPack, m: TaskMoveWithReason, mv: Move) -> CliResult<ExitCode> {
    run_move(url, pack, m.id, &m.actor, mv, Some(m.reason), m.json).await
}
