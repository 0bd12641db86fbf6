//! X-ray work under IR(ME)R 2017: the examination catalogue with local diagnostic reference levels (data the employer
//! edits), the request's states from referral to report, the pregnancy enquiry, and the exposure record.
//!
//! Doses are kept in whole milli-gray square centimetres (a DAP of 0.125 Gy·cm² is 125), so a DRL comparison is an
//! integer comparison.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{FileError, InvalidValue, echo, line_of};
use crate::patient::Sex;
use crate::staff::named_enum;

const SHIPPED: &str = include_str!("../../../data/imaging/examinations.toml");

named_enum!(
    /// The body region an examination belongs to; each has its own operator competency.
    Region, "region", {
        Chest => "chest",
        Appendicular => "appendicular",
        Axial => "axial",
    }
);

/// One examination of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Examination {
    pub id: String,
    pub title: String,
    pub region: Region,
    pub pregnancy_enquiry: bool,
    /// The local DRL, mGy·cm².
    pub drl_dap: u32,
}

/// The catalogue: examinations, the department that performs them, and the pregnancy enquiry's ages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    pub title: String,
    pub department: String,
    pub pregnancy_min_age: u32,
    pub pregnancy_max_age: u32,
    pub examinations: Vec<Examination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    title: String,
    department: String,
    pregnancy: RawPregnancy,
    examination: Vec<RawExamination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPregnancy {
    min_age: u32,
    max_age: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExamination {
    id: String,
    title: String,
    region: String,
    pregnancy_enquiry: bool,
    drl_dap: f64,
}

impl Catalogue {
    /// The default catalogue shipped with remit (placeholder DRLs).
    pub fn shipped() -> Self {
        Self::parse(SHIPPED).expect("the shipped catalogue is valid (a test holds this)")
    }

    /// Parses and checks a catalogue; an error names the line.
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let raw: RawCatalogue = toml::from_str(text).map_err(|e: toml::de::Error| FileError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        let fail = |needle: &str, message: String| FileError {
            line: text.find(needle).map(|o| line_of(text, o)),
            message,
        };
        if raw.department.trim().is_empty() {
            return Err(fail(
                "department",
                "department: name the department that performs examinations".into(),
            ));
        }
        if !(raw.pregnancy.min_age < raw.pregnancy.max_age && raw.pregnancy.max_age <= 70) {
            return Err(fail(
                "min_age",
                format!(
                    "pregnancy: ages {}–{} are not a range within 0–70",
                    raw.pregnancy.min_age, raw.pregnancy.max_age
                ),
            ));
        }
        let mut examinations: Vec<Examination> = Vec::new();
        for e in raw.examination {
            let at = format!("id = \"{}\"", e.id);
            let ok_id = !e.id.is_empty()
                && e.id.len() <= 40
                && e.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok_id {
                return Err(fail(
                    &at,
                    format!("id: `{}` must be lower-case letters, digits and hyphens", echo(&e.id)),
                ));
            }
            if examinations.iter().any(|x| x.id == e.id) {
                return Err(fail(&at, format!("id: `{}` appears twice", e.id)));
            }
            if e.title.trim().is_empty() {
                return Err(fail(&at, format!("{}: the title is empty", e.id)));
            }
            let region = Region::parse(&e.region).map_err(|err| fail(&at, format!("{}: {err}", e.id)))?;
            let drl = (e.drl_dap * 1000.0).round();
            if !(e.drl_dap.is_finite() && drl > 0.0 && drl <= 100_000.0 && (e.drl_dap * 1000.0 - drl).abs() < 1e-6) {
                return Err(fail(
                    &at,
                    format!(
                        "{}: drl_dap `{}` must be a dose-area product in Gy·cm² above 0 and at most 100, to 3 decimal places",
                        e.id, e.drl_dap
                    ),
                ));
            }
            examinations.push(Examination {
                id: e.id,
                title: e.title.trim().to_owned(),
                region,
                pregnancy_enquiry: e.pregnancy_enquiry,
                drl_dap: drl as u32,
            });
        }
        if examinations.is_empty() {
            return Err(fail("examination", "the catalogue has no examinations".into()));
        }
        Ok(Self {
            title: raw.title,
            department: raw.department.trim().to_owned(),
            pregnancy_min_age: raw.pregnancy.min_age,
            pregnancy_max_age: raw.pregnancy.max_age,
            examinations,
        })
    }

    pub fn examination(&self, id: &str) -> Result<&Examination, InvalidValue> {
        self.examinations.iter().find(|e| e.id == id.trim()).ok_or_else(|| {
            let known: Vec<&str> = self.examinations.iter().map(|e| e.id.as_str()).collect();
            InvalidValue::new(
                "examination",
                format!("`{}` is not in the catalogue (known: {})", echo(id), known.join(", ")),
            )
        })
    }

    /// Whether the pregnancy enquiry must be made before exposing this patient for this examination.
    pub fn needs_pregnancy_enquiry(&self, exam: &Examination, sex: Sex, born: NaiveDate, today: NaiveDate) -> bool {
        if !exam.pregnancy_enquiry || sex == Sex::Male {
            return false;
        }
        let age = today.years_since(born).unwrap_or(0);
        (self.pregnancy_min_age..=self.pregnancy_max_age).contains(&age)
    }
}

named_enum!(
    /// Where a request stands (`returned`: sent back to the practitioner by the pregnancy enquiry).
    RequestStatus, "status", {
        Referred => "referred",
        Justified => "justified",
        Rejected => "rejected",
        Returned => "returned",
        Exposed => "exposed",
        Reported => "reported",
    }
);

named_enum!(
    /// The answer to the pregnancy enquiry.
    Pregnancy, "answer", {
        NotPregnant => "not-pregnant",
        CouldBe => "could-be",
        IsPregnant => "is-pregnant",
        Declined => "declined",
    }
);

impl Pregnancy {
    /// Whether the answer sends the request back to the practitioner.
    pub fn returns_request(self) -> bool {
        self != Pregnancy::NotPregnant
    }
}

named_enum!(
    /// The worklists.
    Stage, "stage", {
        AwaitingJustification => "awaiting-justification",
        AwaitingExposure => "awaiting-exposure",
        AwaitingReport => "awaiting-report",
        DrlExceeded => "drl-exceeded",
    }
);

/// A repeated projection and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    pub projection: String,
    pub reason: String,
}

/// The record of an exposure, as the operator gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureRecord {
    pub projections: Vec<String>,
    /// Kilovolts peak, 40–150.
    pub kv: u32,
    /// Milliampere-seconds in hundredths (0.01–1000.00 mAs).
    pub mas_hundredths: u32,
    /// Dose-area product, mGy·cm².
    pub dap: u32,
    /// Source-to-image distance, cm (50–400).
    pub sid_cm: u32,
    pub repeats: Vec<Repeat>,
}

fn short_text(field: &'static str, s: &str, max: usize) -> Result<String, InvalidValue> {
    let t = s.trim();
    if t.is_empty() {
        return Err(InvalidValue::new(field, "is empty"));
    }
    if t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(InvalidValue::new(
            field,
            format!(
                "`{}` is longer than {max} characters or holds control characters",
                echo(t)
            ),
        ));
    }
    Ok(t.to_owned())
}

/// A decimal with at most `places` decimal places, scaled to an integer, within `min..=max` (scaled).
pub fn scaled(field: &'static str, x: f64, places: u32, min: u32, max: u32) -> Result<u32, InvalidValue> {
    let factor = 10f64.powi(places as i32);
    let v = (x * factor).round();
    if !x.is_finite() || (x * factor - v).abs() > 1e-6 {
        return Err(InvalidValue::new(
            field,
            format!("`{x}` has more than {places} decimal places"),
        ));
    }
    if v < f64::from(min) || v > f64::from(max) {
        return Err(InvalidValue::new(
            field,
            format!(
                "`{x}` is outside the accepted {}–{}",
                f64::from(min) / factor,
                f64::from(max) / factor
            ),
        ));
    }
    Ok(v as u32)
}

impl ExposureRecord {
    /// Checks every field, naming the first that is wrong.
    pub fn parse(
        projections: &[String],
        kv: f64,
        mas: f64,
        dap_gycm2: f64,
        sid_cm: f64,
        repeats: &[Repeat],
    ) -> Result<Self, InvalidValue> {
        if projections.is_empty() || projections.len() > 12 {
            return Err(InvalidValue::new("projections", "list the projections taken (1–12)"));
        }
        let projections = projections
            .iter()
            .map(|p| short_text("projections", p, 40))
            .collect::<Result<Vec<_>, _>>()?;
        let repeats = repeats
            .iter()
            .map(|r| {
                Ok(Repeat {
                    projection: short_text("repeats", &r.projection, 40)?,
                    reason: short_text("repeats", &r.reason, 300)
                        .map_err(|_| InvalidValue::new("repeats", "each repeat needs its reason"))?,
                })
            })
            .collect::<Result<Vec<_>, InvalidValue>>()?;
        if repeats.len() > 12 {
            return Err(InvalidValue::new("repeats", "more than 12 repeats"));
        }
        Ok(Self {
            projections,
            kv: scaled("kv", kv, 0, 40, 150)?,
            mas_hundredths: scaled("mas", mas, 2, 1, 100_000)?,
            dap: scaled("dap", dap_gycm2, 3, 0, 100_000)?,
            sid_cm: scaled("sid_cm", sid_cm, 0, 50, 400)?,
            repeats,
        })
    }
}

/// mGy·cm² as Gy·cm² text (`125` → `0.125`).
pub fn gycm2(milli: u32) -> String {
    format!("{}.{:03}", milli / 1000, milli % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_is_valid_and_as_the_reference_says() {
        let c = Catalogue::shipped();
        assert_eq!(c.department, "xray");
        let chest = c.examination("chest-pa").unwrap();
        assert_eq!(
            (chest.region, chest.pregnancy_enquiry, chest.drl_dap),
            (Region::Chest, false, 100)
        );
        let lumbar = c.examination("lumbar-spine").unwrap();
        assert_eq!((lumbar.region, lumbar.pregnancy_enquiry), (Region::Axial, true));
        assert!(c.examination("thoracic-spine").unwrap().pregnancy_enquiry);
        assert!(!c.examination("cervical-spine").unwrap().pregnancy_enquiry);
        assert!(c.examination("hip").unwrap().pregnancy_enquiry);
        assert_eq!(c.examination("brain").unwrap_err().field(), "examination");
    }

    #[test]
    fn a_bad_catalogue_names_the_line() {
        let bad = SHIPPED
            .to_owned()
            .replacen("region = \"chest\"", "region = \"thorax\"", 1);
        let e = Catalogue::parse(&bad).unwrap_err();
        assert!(e.message.contains("thorax"), "{e}");
        assert_eq!(e.line, Some(16));
        let bad = SHIPPED.to_owned().replacen("drl_dap = 0.10", "drl_dap = -1", 1);
        assert!(Catalogue::parse(&bad).unwrap_err().message.contains("drl_dap"));
        let bad = SHIPPED
            .to_owned()
            .replacen("title = \"Chest PA\"", "title = \"Chest PA\"\ncolour = 1", 1);
        let e = Catalogue::parse(&bad).unwrap_err();
        assert!(e.message.contains("colour") && e.line.is_some(), "{e}");
    }

    #[test]
    fn the_pregnancy_enquiry_follows_age_sex_and_examination() {
        let c = Catalogue::shipped();
        let lumbar = c.examination("lumbar-spine").unwrap();
        let chest = c.examination("chest-pa").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let born = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(c.needs_pregnancy_enquiry(lumbar, Sex::Female, born(1990, 1, 1), today));
        assert!(!c.needs_pregnancy_enquiry(lumbar, Sex::Male, born(1990, 1, 1), today));
        assert!(!c.needs_pregnancy_enquiry(chest, Sex::Female, born(1990, 1, 1), today));
        assert!(c.needs_pregnancy_enquiry(lumbar, Sex::Unknown, born(1990, 1, 1), today));
        // 12 on the day: asked; 11 the day before the birthday: not; 55: asked; 56: not.
        assert!(c.needs_pregnancy_enquiry(lumbar, Sex::Female, born(2014, 11, 25), today));
        assert!(!c.needs_pregnancy_enquiry(lumbar, Sex::Female, born(2014, 11, 26), today));
        assert!(c.needs_pregnancy_enquiry(lumbar, Sex::Female, born(1971, 11, 26), today));
        assert!(!c.needs_pregnancy_enquiry(lumbar, Sex::Female, born(1970, 11, 25), today));
    }

    #[test]
    fn an_exposure_record_is_checked_field_by_field() {
        let p = vec!["PA".to_owned()];
        let ok = ExposureRecord::parse(&p, 110.0, 2.5, 0.125, 180.0, &[]).unwrap();
        assert_eq!((ok.kv, ok.mas_hundredths, ok.dap, ok.sid_cm), (110, 250, 125, 180));
        assert_eq!(gycm2(ok.dap), "0.125");
        assert_eq!(
            ExposureRecord::parse(&[], 110.0, 2.5, 0.1, 180.0, &[])
                .unwrap_err()
                .field(),
            "projections"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 30.0, 2.5, 0.1, 180.0, &[])
                .unwrap_err()
                .field(),
            "kv"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 0.001, 0.1, 180.0, &[])
                .unwrap_err()
                .field(),
            "mas"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 2.5, 0.1234, 180.0, &[])
                .unwrap_err()
                .field(),
            "dap"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 2.5, 0.1, 20.0, &[])
                .unwrap_err()
                .field(),
            "sid_cm"
        );
        let no_reason = [Repeat {
            projection: "PA".into(),
            reason: " ".into(),
        }];
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 2.5, 0.1, 180.0, &no_reason)
                .unwrap_err()
                .field(),
            "repeats"
        );
    }
}
