//! `remit pay`: is this job offer fair? Needs no database.

use remit_domain::pay::{Offer, PayTable};
use remit_domain::staff::CareerLevel;

use crate::cli::PayCommand;
use crate::{CliResult, print_json};

pub fn pay(table: &PayTable, cmd: PayCommand) -> CliResult {
    match cmd {
        PayCommand::Check {
            band,
            salary,
            area,
            hours,
            years_in_band,
            json,
        } => {
            let offer = Offer::parse(
                table,
                &band,
                &salary,
                Some(&area),
                hours.as_deref(),
                years_in_band.as_deref(),
            )?;
            let check = table.check(&offer);
            if json {
                print_json(&check)?;
            } else {
                println!("{}", check.explanation);
                println!("({}, effective {})", table.title, table.effective_from);
            }
            Ok(())
        }
        PayCommand::Band { level, json } => {
            let level = CareerLevel::parse(&level)?;
            let bands = table.bands_for_level(level);
            if json {
                let v = serde_json::json!({"level": level.get(), "name": level.name(), "bands": bands});
                print_json(&v)?;
            } else if bands.is_empty() {
                println!("level {level} ({}): no usual Agenda for Change band", level.name());
            } else {
                println!("level {level} ({}): band {}", level.name(), bands.join(" or "));
            }
            Ok(())
        }
    }
}
