//! Diagnoses and prescriptions: the clinical decisions assistant practitioners never make. Minimal content, but
//! checked: a diagnosis is text (and optionally a SNOMED CT code); a prescription names the medicine, dose, route and
//! frequency.

use serde::Serialize;

use crate::error::{InvalidValue, echo};
use crate::staff::named_enum;

fn text(field: &'static str, s: &str, max: usize) -> Result<String, InvalidValue> {
    let t = s.trim();
    if t.is_empty() {
        return Err(InvalidValue::new(field, "is empty"));
    }
    if t.chars().count() > max {
        return Err(InvalidValue::new(field, format!("is longer than {max} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(InvalidValue::new(field, "holds control characters"));
    }
    Ok(t.to_owned())
}

/// A diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub text: String,
    /// A SNOMED CT concept id, when coded.
    pub snomed: Option<String>,
}

impl Diagnosis {
    pub fn parse(text_in: &str, snomed: Option<&str>) -> Result<Self, InvalidValue> {
        let snomed = match snomed.map(str::trim) {
            None | Some("") => None,
            Some(c) if (6..=18).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()) && !c.starts_with('0') => {
                Some(c.to_owned())
            }
            Some(c) => {
                return Err(InvalidValue::new(
                    "code",
                    format!("`{}` is not a SNOMED CT concept id (6–18 digits)", echo(c)),
                ));
            }
        };
        Ok(Self {
            text: text("diagnosis", text_in, 300)?,
            snomed,
        })
    }
}

named_enum!(
    /// How a medicine is given.
    Route, "route", {
        Oral => "oral",
        Intravenous => "intravenous",
        Intramuscular => "intramuscular",
        Subcutaneous => "subcutaneous",
        Inhaled => "inhaled",
        Topical => "topical",
        Rectal => "rectal",
        Sublingual => "sublingual",
        Nasal => "nasal",
        Other => "other",
    }
);

/// A prescription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prescription {
    pub medicine: String,
    /// An amount and its unit, such as `500 mg`.
    pub dose: String,
    pub route: Route,
    pub frequency: String,
}

impl Prescription {
    pub fn parse(medicine: &str, dose: &str, route: &str, frequency: &str) -> Result<Self, InvalidValue> {
        let medicine = text("medicine", medicine, 200)?;
        let dose_t = text("dose", dose, 40)?;
        let (amount, unit) = dose_t
            .split_once(char::is_whitespace)
            .map(|(a, u)| (a, u.trim()))
            .unwrap_or((&dose_t, ""));
        let ok_amount = amount.parse::<f64>().is_ok_and(|a| a > 0.0 && a <= 100_000.0);
        if !ok_amount || unit.is_empty() || !unit.chars().all(|c| c.is_alphabetic() || "/%.".contains(c)) {
            return Err(InvalidValue::new(
                "dose",
                format!("`{}` is not an amount and a unit, such as `500 mg`", echo(&dose_t)),
            ));
        }
        Ok(Self {
            medicine,
            dose: format!("{amount} {unit}"),
            route: Route::parse(route)?,
            frequency: text("frequency", frequency, 100)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prescriptions_and_diagnoses_are_checked() {
        let p = Prescription::parse("Amoxicillin", "500  mg", "oral", "three times a day").unwrap();
        assert_eq!(p.dose, "500 mg");
        assert_eq!(
            Prescription::parse("", "500 mg", "oral", "daily").unwrap_err().field(),
            "medicine"
        );
        assert_eq!(
            Prescription::parse("X", "lots", "oral", "daily").unwrap_err().field(),
            "dose"
        );
        assert_eq!(
            Prescription::parse("X", "-5 mg", "oral", "daily").unwrap_err().field(),
            "dose"
        );
        assert_eq!(
            Prescription::parse("X", "5 mg", "by mouth", "daily")
                .unwrap_err()
                .field(),
            "route"
        );
        assert_eq!(
            Prescription::parse("X", "5 mg", "oral", " ").unwrap_err().field(),
            "frequency"
        );
        assert!(Diagnosis::parse("Community-acquired pneumonia", Some("385093006")).is_ok());
        assert_eq!(Diagnosis::parse("x", Some("12ab")).unwrap_err().field(), "code");
        assert_eq!(Diagnosis::parse(" ", None).unwrap_err().field(), "diagnosis");
    }
}
