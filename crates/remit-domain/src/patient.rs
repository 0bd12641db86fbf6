//! Patients: identified by NHS number, placed in a ward or department.

use chrono::NaiveDate;
use serde::Serialize;

use crate::error::{InvalidValue, echo, parse_text};
use crate::nhs::NhsNumber;
use crate::place::PlaceCode;
use crate::staff::{PersonName, named_enum};

named_enum!(
    /// Administrative sex, as FHIR's `AdministrativeGender`.
    Sex, "sex", {
        Female => "female",
        Male => "male",
        Other => "other",
        Unknown => "unknown",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Patient {
    pub nhs_number: NhsNumber,
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub date_of_birth: NaiveDate,
    pub sex: Sex,
    pub place: PlaceCode,
    pub bed: Option<String>,
}

impl Patient {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// Age in whole years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        today.years_since(self.date_of_birth).unwrap_or(0)
    }
}

/// A date of birth: a real date, not in the future, not more than 130 years ago.
pub fn parse_date_of_birth(input: &str, today: NaiveDate) -> Result<NaiveDate, InvalidValue> {
    let d = crate::time::parse_date("date_of_birth", input)?;
    if d > today {
        return Err(InvalidValue::new(
            "date_of_birth",
            format!("`{}` is in the future", echo(input)),
        ));
    }
    if today.years_since(d).is_some_and(|y| y > 130) {
        return Err(InvalidValue::new(
            "date_of_birth",
            format!("`{}` is more than 130 years ago", echo(input)),
        ));
    }
    Ok(d)
}

/// A bed label such as `1` or `B12`.
pub fn parse_bed(input: &str) -> Result<String, InvalidValue> {
    parse_text("bed", input, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_birth_are_plausible() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert!(parse_date_of_birth("1950-01-31", today).is_ok());
        assert!(parse_date_of_birth("2026-11-25", today).is_ok());
        assert!(parse_date_of_birth("2026-11-26", today).is_err());
        assert!(parse_date_of_birth("1890-01-01", today).is_err());
        assert!(parse_date_of_birth("31/01/1950", today).is_err());
    }

    #[test]
    fn sex_values_are_fhirs() {
        assert_eq!(Sex::parse("Female").unwrap(), Sex::Female);
        assert!(Sex::parse("f").is_err());
    }
}
