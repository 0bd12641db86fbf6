//! X-ray work under IR(ME)R 2017: the examination catalogue with local diagnostic reference levels (data the employer
//! edits), the request's states from referral to report, the pregnancy enquiry, and the exposure record.
//!
//! Doses are kept in whole milli-gray square centimetres (a DAP of 0.125 Gy·cm² is 125), so a DRL comparison is an
//! integer comparison.

use crate::nhs::NhsNumber;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{FileError, InvalidValue, echo};
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

named_enum!(
    /// What a DRL is set for: each projection (radiograph) or the whole examination. A DAP is compared with it the
    /// same way.
    DrlPer, "drl_per", {
        Projection => "projection",
        Examination => "examination",
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
    /// Whether the DRL is for each projection or the whole examination.
    pub drl_per: DrlPer,
}

/// The catalogue: examinations, the department that performs them, and the pregnancy enquiry's ages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    pub title: String,
    /// Where the DRL figures come from (national DRLs with their year, or local ones), or that they are placeholders.
    pub drl_source: String,
    pub department: String,
    pub pregnancy_min_age: u32,
    pub pregnancy_max_age: u32,
    pub examinations: Vec<Examination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    title: String,
    drl_source: String,
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
    drl_per: String,
}

impl Catalogue {
    /// The default catalogue shipped with remit (placeholder DRLs).
    pub fn shipped() -> Self {
        Self::parse(SHIPPED).expect("the shipped catalogue is valid (a test holds this)")
    }

    /// Parses and checks a catalogue; an error names the line.
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let raw: RawCatalogue = toml::from_str(text).map_err(|e| FileError::toml(text, &e))?;
        let fail = |needle: &str, message: String| FileError::near(text, needle, message);
        if raw.drl_source.trim().is_empty() {
            return Err(fail(
                "drl_source",
                "drl_source: say where the DRLs come from (national DRLs and their year, local audit), or that they are placeholders".into(),
            ));
        }
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
            let drl_per = DrlPer::parse(&e.drl_per).map_err(|err| fail(&at, format!("{}: {err}", e.id)))?;
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
                drl_per,
            });
        }
        if examinations.is_empty() {
            return Err(fail("examination", "the catalogue has no examinations".into()));
        }
        Ok(Self {
            title: raw.title,
            drl_source: raw.drl_source.trim().to_owned(),
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

    /// Whether the pregnancy enquiry must be made before exposing this patient for this examination: for everyone
    /// within the catalogue's age range, whatever their recorded sex (childbearing potential is not read from it:
    /// the Society of Radiographers' inclusive pregnancy status guidance), where the catalogue asks for it.
    pub fn needs_pregnancy_enquiry(&self, exam: &Examination, born: NaiveDate, today: NaiveDate) -> bool {
        if !exam.pregnancy_enquiry {
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
    /// The answer to the pregnancy enquiry (the Society of Radiographers' inclusive pregnancy status guidance: the
    /// person says whether there is any possibility, whatever their recorded sex).
    Pregnancy, "answer", {
        NoPossibility => "no-possibility",
        NotPregnant => "not-pregnant",
        CouldBe => "could-be",
        IsPregnant => "is-pregnant",
        Declined => "declined",
    }
);

impl Pregnancy {
    /// Whether the answer sends the request back to the practitioner.
    pub fn returns_request(self) -> bool {
        !matches!(self, Pregnancy::NoPossibility | Pregnancy::NotPregnant)
    }

    /// The nearest answer the older `pregnancy` column allows (kept for history).
    pub fn legacy(self) -> &'static str {
        match self {
            Pregnancy::NoPossibility => Pregnancy::NotPregnant.as_str(),
            other => other.as_str(),
        }
    }

    /// The answer in words.
    pub fn words(self) -> &'static str {
        match self {
            Pregnancy::NoPossibility => "no possibility of pregnancy",
            Pregnancy::NotPregnant => "not pregnant",
            Pregnancy::CouldBe => "could be pregnant",
            Pregnancy::IsPregnant => "is pregnant",
            Pregnancy::Declined => "declined to answer",
        }
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
    /// Each projection's dose-area product, mGy·cm², in the order of `projections`, when measured per projection
    /// (their sum is `dap`); empty when only the examination's total is known.
    pub projection_dap: Vec<u32>,
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

/// How an exposure's DAP compares with its examination's DRL, compared the way the DRL is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrlComparison {
    pub exceeded: bool,
    /// For a DRL set per projection: the projections above it.
    pub projections_over: Vec<String>,
}

impl ExposureRecord {
    /// Compares the DAP with the examination's DRL: each projection's where the DRL is per projection (which needs
    /// each projection's DAP), the total where it is for the whole examination.
    pub fn against(&self, exam: &Examination) -> Result<DrlComparison, InvalidValue> {
        match exam.drl_per {
            DrlPer::Examination => Ok(DrlComparison {
                exceeded: self.dap > exam.drl_dap,
                projections_over: Vec::new(),
            }),
            DrlPer::Projection if self.projection_dap.is_empty() => Err(InvalidValue::new(
                "projection_dap",
                format!(
                    "the DRL for {} is set per projection: give each projection's DAP, in the order of the projections",
                    exam.title
                ),
            )),
            DrlPer::Projection => {
                let over: Vec<String> = self
                    .projections
                    .iter()
                    .zip(&self.projection_dap)
                    .filter(|(_, dap)| **dap > exam.drl_dap)
                    .map(|(p, _)| p.clone())
                    .collect();
                Ok(DrlComparison {
                    exceeded: !over.is_empty(),
                    projections_over: over,
                })
            }
        }
    }

    /// Checks every field, naming the first that is wrong. `projection_dap` (Gy·cm², one per projection) may be
    /// given instead of, or as well as, the total: given both, the total must be their sum.
    pub fn parse(
        projections: &[String],
        kv: f64,
        mas: f64,
        (dap_gycm2, projection_dap): (Option<f64>, &[f64]),
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
        let projection_dap = projection_dap
            .iter()
            .map(|d| scaled("projection_dap", *d, 3, 0, 100_000))
            .collect::<Result<Vec<_>, _>>()?;
        if !projection_dap.is_empty() && projection_dap.len() != projections.len() {
            return Err(InvalidValue::new(
                "projection_dap",
                format!(
                    "{} DAPs for {} projections: give one for each projection, in order",
                    projection_dap.len(),
                    projections.len()
                ),
            ));
        }
        let sum: u32 = projection_dap.iter().sum();
        let dap = match dap_gycm2 {
            Some(d) => {
                let d = scaled("dap", d, 3, 0, 100_000)?;
                if !projection_dap.is_empty() && d != sum {
                    return Err(InvalidValue::new(
                        "dap",
                        format!(
                            "the total `{}` is not the sum of the projections' `{}`",
                            gycm2(d),
                            gycm2(sum)
                        ),
                    ));
                }
                d
            }
            None if projection_dap.is_empty() => {
                return Err(InvalidValue::new(
                    "dap",
                    "give the exposure's dose-area product, or each projection's",
                ));
            }
            None => sum,
        };
        // One projection: its DAP is the exposure's.
        let projection_dap = if projection_dap.is_empty() && projections.len() == 1 {
            vec![dap]
        } else {
            projection_dap
        };
        Ok(Self {
            projections,
            projection_dap,
            kv: scaled("kv", kv, 0, 40, 150)?,
            mas_hundredths: scaled("mas", mas, 2, 1, 100_000)?,
            dap,
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
        assert_eq!(e.line, Some(20));
        let bad = SHIPPED
            .to_owned()
            .replacen("drl_per = \"projection\"", "drl_per = \"radiograph\"", 1);
        let e = Catalogue::parse(&bad).unwrap_err();
        assert!(e.message.contains("radiograph") && e.line.is_some(), "{e}");
        let bad = SHIPPED.to_owned().replacen("drl_dap = 0.10", "drl_dap = -1", 1);
        assert!(Catalogue::parse(&bad).unwrap_err().message.contains("drl_dap"));
        let bad = SHIPPED
            .to_owned()
            .replacen("title = \"Chest PA\"", "title = \"Chest PA\"\ncolour = 1", 1);
        let e = Catalogue::parse(&bad).unwrap_err();
        assert!(e.message.contains("colour") && e.line.is_some(), "{e}");
    }

    #[test]
    fn the_pregnancy_enquiry_follows_age_and_examination_not_sex() {
        let c = Catalogue::shipped();
        let lumbar = c.examination("lumbar-spine").unwrap();
        let chest = c.examination("chest-pa").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let born = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // Whatever the recorded sex: the person says whether there is any possibility.
        assert!(c.needs_pregnancy_enquiry(lumbar, born(1990, 1, 1), today));
        assert!(!c.needs_pregnancy_enquiry(chest, born(1990, 1, 1), today));
        // Hip counts with the pelvis.
        assert!(c.needs_pregnancy_enquiry(c.examination("hip").unwrap(), born(1990, 1, 1), today));
        // 12 on the day: asked; 11 the day before the birthday: not; 55: asked; 56: not.
        assert!(c.needs_pregnancy_enquiry(lumbar, born(2014, 11, 25), today));
        assert!(!c.needs_pregnancy_enquiry(lumbar, born(2014, 11, 26), today));
        assert!(c.needs_pregnancy_enquiry(lumbar, born(1971, 11, 26), today));
        assert!(!c.needs_pregnancy_enquiry(lumbar, born(1970, 11, 25), today));
        assert!(!Pregnancy::NoPossibility.returns_request() && Pregnancy::CouldBe.returns_request());
        assert_eq!(Pregnancy::NoPossibility.legacy(), "not-pregnant");
    }

    #[test]
    fn drls_are_compared_the_way_they_are_set() {
        let c = Catalogue::shipped();
        assert!(
            c.drl_source.contains("Placeholders"),
            "the shipped figures say what they are"
        );
        let lumbar = c.examination("lumbar-spine").unwrap();
        assert_eq!((lumbar.drl_per, lumbar.drl_dap), (DrlPer::Projection, 2500));
        let knee = c.examination("knee").unwrap();
        assert_eq!(knee.drl_per, DrlPer::Examination);
        let p = vec!["AP".to_owned(), "LAT".to_owned()];
        // Per projection: each projection against the DRL; a total alone cannot be compared.
        let two = ExposureRecord::parse(&p, 85.0, 20.0, (None, &[1.2, 2.6]), 100.0, &[]).unwrap();
        assert_eq!(two.dap, 3800);
        let c1 = two.against(lumbar).unwrap();
        assert_eq!(
            (c1.exceeded, c1.projections_over.clone()),
            (true, vec!["LAT".to_owned()])
        );
        let under = ExposureRecord::parse(&p, 85.0, 20.0, (Some(4.8), &[2.4, 2.4]), 100.0, &[]).unwrap();
        assert!(
            !under.against(lumbar).unwrap().exceeded,
            "4.8 in all, but each projection under 2.5"
        );
        let total = ExposureRecord::parse(&p, 85.0, 20.0, (Some(2.8), &[]), 100.0, &[]).unwrap();
        assert_eq!(total.against(lumbar).unwrap_err().field(), "projection_dap");
        // A single projection's DAP is the exposure's.
        let one = ExposureRecord::parse(&p[..1], 85.0, 20.0, (Some(2.6), &[]), 100.0, &[]).unwrap();
        assert_eq!(one.projection_dap, vec![2600]);
        assert_eq!(one.against(lumbar).unwrap().projections_over, vec!["AP".to_owned()]);
        // Per examination: the total.
        assert!(!total.against(knee).unwrap().exceeded || knee.drl_dap < 2800);
        let knee_total = ExposureRecord::parse(&p, 60.0, 5.0, (Some(0.2), &[]), 100.0, &[]).unwrap();
        assert!(!knee_total.against(knee).unwrap().exceeded);
        // The total and the parts must agree; one DAP for each projection.
        assert_eq!(
            ExposureRecord::parse(&p, 85.0, 20.0, (Some(3.0), &[1.4, 1.4]), 100.0, &[])
                .unwrap_err()
                .field(),
            "dap"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 85.0, 20.0, (None, &[1.4]), 100.0, &[])
                .unwrap_err()
                .field(),
            "projection_dap"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 85.0, 20.0, (None, &[]), 100.0, &[])
                .unwrap_err()
                .field(),
            "dap"
        );
    }

    #[test]
    fn an_exposure_record_is_checked_field_by_field() {
        let p = vec!["PA".to_owned()];
        let ok = ExposureRecord::parse(&p, 110.0, 2.5, (Some(0.125), &[]), 180.0, &[]).unwrap();
        assert_eq!((ok.kv, ok.mas_hundredths, ok.dap, ok.sid_cm), (110, 250, 125, 180));
        assert_eq!(gycm2(ok.dap), "0.125");
        assert_eq!(
            ExposureRecord::parse(&[], 110.0, 2.5, (Some(0.1), &[]), 180.0, &[])
                .unwrap_err()
                .field(),
            "projections"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 30.0, 2.5, (Some(0.1), &[]), 180.0, &[])
                .unwrap_err()
                .field(),
            "kv"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 0.001, (Some(0.1), &[]), 180.0, &[])
                .unwrap_err()
                .field(),
            "mas"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 2.5, (Some(0.1234), &[]), 180.0, &[])
                .unwrap_err()
                .field(),
            "dap"
        );
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 2.5, (Some(0.1), &[]), 20.0, &[])
                .unwrap_err()
                .field(),
            "sid_cm"
        );
        let no_reason = [Repeat {
            projection: "PA".into(),
            reason: " ".into(),
        }];
        assert_eq!(
            ExposureRecord::parse(&p, 110.0, 2.5, (Some(0.1), &[]), 180.0, &no_reason)
                .unwrap_err()
                .field(),
            "repeats"
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureView {
    pub operator: String,
    pub supervisor: Option<String>,
    pub exposed_at: String,
    pub projections: Vec<String>,
    /// Each projection's DAP, Gy·cm², in the order of `projections`, where it was given per projection.
    pub projection_dap: Vec<f64>,
    pub kv: u32,
    pub mas: f64,
    /// Gy·cm².
    pub dap: f64,
    pub sid_cm: u32,
    pub repeats: Vec<Repeat>,
    /// The local DRL it was compared with, Gy·cm², and whether that DRL is per projection or per examination.
    pub drl_dap: f64,
    pub drl_per: String,
    pub drl_exceeded: bool,
    /// For a DRL per projection: the projections above it.
    pub drl_over: Vec<String>,
    /// For an exposure above its DRL: the practitioner's review, once done.
    pub drl_review: Option<DrlReview>,
}

/// An IR(ME)R practitioner's review of an exposure above its DRL: who, when, and what the review found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrlReview {
    pub by: String,
    pub at: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportView {
    pub reporter: String,
    pub reported_at: String,
    pub findings: String,
    pub conclusion: String,
}

/// A request as people see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub patient: NhsNumber,
    pub patient_name: String,
    pub department: String,
    pub examination: String,
    pub region: String,
    pub clinical_info: String,
    pub status: RequestStatus,
    pub referrer: String,
    pub referred_at: String,
    pub practitioner: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    pub pregnancy: Option<Pregnancy>,
    pub pregnancy_by: Option<String>,
    pub pregnancy_at: Option<String>,
    pub returned_reason: Option<String>,
    pub exposure: Option<ExposureView>,
    pub report: Option<ReportView>,
}
