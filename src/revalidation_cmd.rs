//! `remit revalidation`: where a registrant stands against what their regulator asks, evidence towards it, and who is
//! due.

use remit_domain::revalidation::Status;
use remit_domain::staff::Username;
use remit_domain::time::{parse_date, uk_date};
use remit_policy::PolicyPack;
use remit_services::revalidation::{self, AddEvidence, Revalidation};

use crate::cli::RevalidationCommand;
use crate::competency_cmd::parse_within;
use crate::{CliResult, cli_actor, open_with_pack, print_json};

fn print_status(s: &Status) {
    println!(
        "  {}, {} {}: renewal {} ({}), apply by {}, cycle from {}: {}",
        s.title,
        s.regulator,
        s.number,
        uk_date(s.renewal),
        s.when,
        uk_date(s.apply_by),
        uk_date(s.cycle_from),
        s.state_words
    );
    for p in &s.requirements {
        let mark = match p.met {
            Some(true) => "met ",
            Some(false) => "    ",
            None => "decl",
        };
        println!("    [{mark}] {}: {}", p.text, p.words);
    }
    for w in &s.warnings {
        println!("    ! {w}");
    }
    println!("    source: {}", s.source);
}

fn print_person(r: &Revalidation) {
    println!("{} ({})", r.name, r.staff);
    if r.registrations.is_empty() && r.not_tracked.is_empty() {
        println!("  no professional registration: nothing to revalidate");
    }
    for s in &r.registrations {
        print_status(s);
    }
    for n in &r.not_tracked {
        println!("  {n}: the policy pack lists no revalidation requirements for this regulator");
    }
}

pub async fn revalidation(url: &str, pack: &PolicyPack, cmd: RevalidationCommand) -> CliResult {
    match cmd {
        RevalidationCommand::Status { username, json } => {
            let username = Username::parse(&username)?;
            let store = open_with_pack(url, pack).await?;
            let r = revalidation::status(&store, pack, &username).await?;
            if json {
                return print_json(&r);
            }
            print_person(&r);
            Ok(())
        }
        RevalidationCommand::Record {
            staff,
            kind,
            date,
            hours,
            note,
            with_whom,
            json,
        } => {
            let e = AddEvidence {
                staff: Username::parse(&staff)?,
                kind,
                date: parse_date("date", &date)?,
                hours,
                note,
                with_whom,
            };
            let store = open_with_pack(url, pack).await?;
            let id = revalidation::add_evidence(&store, pack, &e, &cli_actor()).await?;
            let recorded = store
                .revalidation_evidence(&e.staff)
                .await?
                .into_iter()
                .find(|x| x.id == id);
            if json {
                return print_json(&recorded);
            }
            println!("{}: {} on {} recorded", e.staff, e.kind, uk_date(e.date));
            Ok(())
        }
        RevalidationCommand::Due { within, json } => {
            let days = parse_within(&within)?;
            let store = open_with_pack(url, pack).await?;
            let due = revalidation::due_within(&store, pack, days).await?;
            if json {
                return print_json(&due);
            }
            if due.is_empty() {
                println!("no revalidation is due within {days} days");
            }
            for r in &due {
                print_person(r);
            }
            Ok(())
        }
    }
}
