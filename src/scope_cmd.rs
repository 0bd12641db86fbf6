//! `remit policy` and `remit scope`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_policy::{ExamRegion, PolicyPack, Supervision};
use remit_services::scope::{self, Ask};
use serde::Serialize;

use crate::cli::{PolicyCommand, ProgressionCommand, ScopeCommand};
use crate::{CliError, CliResult, cli_actor, open_store, open_with_pack, print_json};

fn supervision_text(s: Option<Supervision>) -> &'static str {
    s.map_or("not allowed", Supervision::as_str)
}

pub async fn scope(url: &str, pack: &PolicyPack, cmd: ScopeCommand) -> CliResult<ExitCode> {
    match cmd {
        ScopeCommand::Check {
            staff,
            action,
            patient,
            exam,
            supervision,
            supervisor,
            break_glass,
            json,
        } => {
            let mut ask = Ask::new(Username::parse(&staff)?, action.trim());
            ask.patient = patient.as_deref().map(NhsNumber::parse).transpose()?;
            ask.exam = exam.as_deref().map(ExamRegion::parse).transpose()?;
            ask.supervision = Supervision::parse(&supervision)?;
            ask.supervisor = supervisor.as_deref().map(Username::parse).transpose()?;
            if ask.supervision != Supervision::None && ask.supervisor.is_none() {
                return Err(CliError::Usage(
                    "supervisor: supervision `indirect` or `direct` needs --supervisor USERNAME".into(),
                ));
            }
            if let Some(reason) = break_glass.as_deref().map(str::trim) {
                if reason.is_empty() {
                    return Err(CliError::Usage("break-glass: state a reason".into()));
                }
                ask.break_glass = Some(reason.to_owned());
            }
            ask.request_justified = true;
            let store = open_with_pack(url, pack).await?;
            // The administrator at the command line is told plainly of a patient there is not (a refusal over HTTP
            // does not say, to hide who is a patient).
            if let Some(nhs) = &ask.patient {
                store.patient_id(nhs).await?;
            }
            let decision = scope::check_audited(&store, pack, &cli_actor(), &ask).await?;
            if json {
                print_json(&decision)?;
            } else {
                println!("{}: {} {}", decision.decision, staff, ask.activity);
                for r in &decision.reasons {
                    println!("  - {r}");
                }
            }
            Ok(if decision.permitted() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ScopeCommand::Show { username, json } => {
            let username = Username::parse(&username)?;
            let store = open_with_pack(url, pack).await?;
            let s = scope::show(&store, pack, &username).await?;
            if json {
                print_json(&s)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} ({}), on duty: {}",
                s.name,
                s.staff,
                if s.on_duty.is_empty() {
                    "no".into()
                } else {
                    s.on_duty.join(", ")
                }
            );
            for l in &s.activities {
                let name = match &l.detail {
                    Some(d) => format!("{} ({d})", l.activity),
                    None => l.activity.clone(),
                };
                println!("  {name:<40} {}", supervision_text(l.least_supervision));
                for r in &l.reasons {
                    println!("      {r}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `remit progression show USER [--activity A]`.
pub async fn progression(url: &str, pack: &PolicyPack, cmd: ProgressionCommand) -> CliResult<ExitCode> {
    let (username, activity, region, json) = match cmd {
        ProgressionCommand::Show {
            username,
            activity,
            region,
            json,
        } => (username, activity, region, json),
        ProgressionCommand::Next { username, json } => return next_level(url, pack, &username, json).await,
    };
    let username = Username::parse(&username)?;
    let region = region.as_deref().map(ExamRegion::parse).transpose()?;
    let store = open_with_pack(url, pack).await?;
    let activities: Vec<String> = match activity {
        Some(a) => vec![a],
        None => {
            // Every activity they may not yet do alone.
            let s = scope::show(&store, pack, &username).await?;
            let mut ids: Vec<String> = s
                .activities
                .iter()
                .filter(|l| l.least_supervision != Some(Supervision::None) && l.activity != "competency.sign-off")
                .map(|l| l.activity.clone())
                .collect();
            ids.dedup();
            ids
        }
    };
    let listing = activities.len() > 1;
    let mut all = Vec::new();
    for a in &activities {
        let p = scope::progression(&store, pack, &username, a, region).await?;
        // Listing every activity, one that no step changes (a role the employer grants) is left out.
        if listing && p.path.steps.is_empty() && !p.path.reached {
            continue;
        }
        all.push(p);
    }
    if json {
        return print_json(&all).map(|()| ExitCode::SUCCESS);
    }
    if let Some(first) = all.first() {
        println!(
            "{} ({}), Career Framework level {}",
            crate::terminal_safe(&first.name),
            first.staff,
            first.level.map_or_else(|| "none".to_owned(), |l| l.to_string())
        );
    } else {
        println!("{username} may do every activity of the pack alone.");
    }
    for p in &all {
        let path = &p.path;
        let region = path.region.as_deref().map(|r| format!(", {r}")).unwrap_or_default();
        println!();
        println!("{} ({}{region})", path.title, path.activity);
        println!("  today: {}", remit_policy::supervision_words(path.today));
        for r in &path.reasons {
            println!("    because {r}");
        }
        if path.steps.is_empty() && path.reached {
            continue;
        }
        if !path.steps.is_empty() {
            println!(
                "  {}",
                if path.reached {
                    "to do it alone:"
                } else {
                    "steps that bring it closer:"
                }
            );
        }
        for (i, step) in path.steps.iter().enumerate() {
            let by = match step {
                remit_policy::Step::Competency { id, .. } => match p.signed_off_by.get(id) {
                    Some(who) if !who.is_empty() => format!(" (signed off by: {})", who.join(", ")),
                    _ => " (nobody here may sign it off for them now)".to_owned(),
                },
                _ => String::new(),
            };
            println!("    {}. {}{by}", i + 1, step.sentence());
        }
        if !path.reached {
            println!("  still, which no step here changes:");
            for r in &path.remaining {
                println!("    - {r}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `remit progression next USER`.
async fn next_level(url: &str, pack: &PolicyPack, username: &str, json: bool) -> CliResult<ExitCode> {
    let username = Username::parse(username)?;
    let store = open_with_pack(url, pack).await?;
    let p = scope::next_level(&store, pack, &username).await?;
    if json {
        return print_json(&p).map(|()| ExitCode::SUCCESS);
    }
    let Some(next) = &p.next else {
        println!(
            "{} ({}) is at level 9, the framework's highest.",
            crate::terminal_safe(&p.name),
            p.staff
        );
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "{} ({}): level {} to level {} (usually Agenda for Change band {}; see `remit pay check`)",
        crate::terminal_safe(&p.name),
        p.staff,
        next.from.map_or_else(|| "none".to_owned(), |l| l.to_string()),
        next.to,
        next.band
    );
    for o in &next.options {
        println!();
        match &o.registration {
            None => println!("At level {} alone:", next.to),
            Some(r) => println!("At level {} with a current {r} registration, also:", next.to),
        }
        if o.gains.is_empty() {
            println!("  nothing more than today");
        }
        for g in &o.gains {
            let needs: Vec<String> = g.steps.iter().map(remit_policy::Step::sentence).collect();
            println!(
                "  {} ({}): {} today, {} then{}",
                g.title,
                g.activity,
                remit_policy::supervision_words(g.now),
                remit_policy::supervision_words(g.then),
                if needs.is_empty() {
                    String::new()
                } else {
                    format!("; still needs to {}", needs.join(", "))
                }
            );
        }
        for r in &o.routes {
            let shortened = r
                .shortened_months
                .map(|m| format!(", or {m} shortened"))
                .unwrap_or_default();
            println!(
                "  route: {} ({}, level {}, typically {} months{shortened}): {}",
                r.title, r.standard, r.apprenticeship_level, r.typical_months, r.source
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One person's change for one activity.
#[derive(Debug, Serialize)]
struct Change {
    staff: String,
    activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// `gained`, `lost` or `supervision`.
    change: &'static str,
    from: Option<Supervision>,
    to: Option<Supervision>,
}

pub async fn policy(url: &str, cmd: PolicyCommand) -> CliResult<ExitCode> {
    match cmd {
        PolicyCommand::Validate { dir } => match PolicyPack::load(&dir) {
            Ok(pack) => {
                println!(
                    "{}: valid ({} policies, {} activities, {} competencies)",
                    dir.display(),
                    pack.policy_count(),
                    pack.activities().len(),
                    pack.competencies().len()
                );
                print_routes(pack.escalation());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("{e}");
                Ok(ExitCode::from(1))
            }
        },
        PolicyCommand::Diff { old, new, json } => {
            let old = PolicyPack::load(&old).map_err(|e| CliError::Usage(format!("old pack: {e}")))?;
            let new = PolicyPack::load(&new).map_err(|e| CliError::Usage(format!("new pack: {e}")))?;
            let store = open_store(url).await?;
            let today = store.now().date_naive();
            let mut changes = Vec::new();
            for s in store.list_staff().await? {
                let profile = store.staff_profile(&s.staff.username).await?;
                let key = |l: &remit_policy::ScopeLine| (l.activity.clone(), l.detail.clone());
                let before: BTreeMap<_, _> = old.scope(&profile, today).into_iter().map(|l| (key(&l), l)).collect();
                let after: BTreeMap<_, _> = new.scope(&profile, today).into_iter().map(|l| (key(&l), l)).collect();
                let keys: std::collections::BTreeSet<_> = before.keys().chain(after.keys()).cloned().collect();
                for k in keys {
                    let from = before.get(&k).and_then(|l| l.least_supervision);
                    let to = after.get(&k).and_then(|l| l.least_supervision);
                    let change = match (from, to) {
                        (a, b) if a == b => continue,
                        (None, Some(_)) => "gained",
                        (Some(_), None) => "lost",
                        _ => "supervision",
                    };
                    changes.push(Change {
                        staff: s.staff.username.to_string(),
                        activity: k.0,
                        detail: k.1,
                        change,
                        from,
                        to,
                    });
                }
            }
            if json {
                print_json(&changes)?;
            } else if changes.is_empty() {
                println!("no one's scope changes");
            } else {
                for c in &changes {
                    let name = match &c.detail {
                        Some(d) => format!("{} ({d})", c.activity),
                        None => c.activity.clone(),
                    };
                    println!(
                        "{:<14} {name:<40} {:<11} {} -> {}",
                        c.staff,
                        c.change,
                        supervision_text(c.from),
                        supervision_text(c.to)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The escalation routes and times of a pack, as `policy validate` shows them.
fn print_routes(routes: &remit_domain::escalation::Routes) {
    use remit_domain::obs::EscalationLevel;
    let names = |groups: &[remit_domain::escalation::Group]| {
        groups
            .iter()
            .map(|g| routes.group_title(g))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("escalation routes (escalation.toml):");
    for level in EscalationLevel::ALL {
        let r = routes.level(level);
        println!(
            "  {}: to {}; acknowledged within {} min",
            level.as_str(),
            names(&r.first),
            r.acknowledge_within.num_minutes()
        );
        for (i, step) in r.if_not_acknowledged.iter().enumerate() {
            println!("    not acknowledged, step {}: also {}", i + 1, names(step));
        }
        match &r.review {
            Some(review) => {
                println!(
                    "    then reviewed by {} within {} min",
                    names(&review.by),
                    review.within.num_minutes()
                );
                for (i, step) in review.if_not_reviewed.iter().enumerate() {
                    println!("    not reviewed, step {}: also {}", i + 1, names(step));
                }
            }
            None => println!("    acknowledging closes it"),
        }
    }
    println!("  nobody to acknowledge: {}", names(&routes.no_one_to_acknowledge));
}
