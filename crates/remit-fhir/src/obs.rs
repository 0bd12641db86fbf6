//! Vital signs as FHIR `Observation`s (the vital-signs profile: LOINC codes, UCUM units), a set as a transaction
//! `Bundle`, the NEWS2 total as an Observation derived from its parameters, and `Patient`.
//!
//! Each stored set version gives one Observation per parameter recorded, with the id `{version}-{part}` (`rr`,
//! `spo2`, `o2`, `bp`, `pulse`, `acvpu`, `temp`, `news2`). A parameter that was not obtained is an Observation with
//! a `dataAbsentReason` (`asked-declined` when the patient refused, `not-performed` otherwise).

use fhir_model::r4b::resources::{Bundle, Observation};
use remit_domain::news2::Consciousness;
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::SetView;
use remit_domain::obs::{Absence, Missing, Param, Readings};
use remit_domain::patient::Patient;
use remit_domain::staff::Username;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{Issue, Json, NHS_NUMBER_SYSTEM, parse_strict, parse_strict_at};

pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const ABSENT_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
pub const NEWS2_CODE: &str = "1104051000000101";
/// remit's code system for NEWS2 risk.
pub const RISK_SYSTEM: &str = "urn:remit:news2-risk";

/// The parts of a set: (id suffix, LOINC code, display).
pub const PARTS: [(&str, &str, &str); 7] = [
    ("rr", "9279-1", "Respiratory rate"),
    (
        "spo2",
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
    ),
    ("o2", "3151-8", "Inhaled oxygen flow rate"),
    ("bp", "85354-9", "Blood pressure panel with all children optional"),
    ("pulse", "8867-4", "Heart rate"),
    ("acvpu", "67775-7", "Level of consciousness"),
    ("temp", "8310-5", "Body temperature"),
];

const ACVPU: [(Consciousness, &str, &str); 5] = [
    (Consciousness::Alert, "LA9340-6", "Alert"),
    (Consciousness::NewConfusion, "LA6560-2", "Confused"),
    (Consciousness::Voice, "LA17108-4", "Verbal"),
    (Consciousness::Pain, "LA17107-6", "Painful"),
    (Consciousness::Unresponsive, "LA9343-0", "Unresponsive"),
];

fn param_of(part: &str) -> Option<Param> {
    Some(match part {
        "rr" => Param::RespirationRate,
        "spo2" => Param::Spo2,
        "bp" => Param::SystolicBp,
        "pulse" => Param::Pulse,
        "acvpu" => Param::Consciousness,
        "temp" => Param::Temperature,
        _ => return None,
    })
}

fn quantity(value: f64, unit: &str, code: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": code})
}

fn subject(nhs: &NhsNumber) -> Value {
    // Only strings: nothing that JSON cannot hold.
    serde_json::to_value(PatientRef(nhs)).unwrap_or(Value::Null)
}

/// The FHIR version of a stored set version: its number, and one more once the set is marked entered in error (a
/// change a client must see as a version of its own).
pub fn version_id(set: &SetView) -> i64 {
    set.version + i64::from(set.state == "entered-in-error")
}

/// When the set last changed: when it was marked entered in error, or recorded.
fn last_updated(set: &SetView) -> &str {
    match (set.state.as_str(), &set.changed_at) {
        ("entered-in-error", Some(at)) => at,
        _ => &set.recorded_at,
    }
}

/// The weak ETag of a FHIR version.
pub fn etag(version_id: i64) -> String {
    format!("W/\"{version_id}\"")
}

/// A set's FHIR status: final, amended once corrected, or entered in error.
fn status(set: &SetView) -> &'static str {
    match set.state.as_str() {
        "entered-in-error" => "entered-in-error",
        _ if set.version > 1 => "amended",
        _ => "final",
    }
}

/// What every parameter's Observation of a set shares.
fn base(set: &SetView, part: &str, code: &str, display: &str) -> Value {
    let mut coding = vec![json!({"system": LOINC, "code": code, "display": display})];
    if part == "spo2" {
        // The vital signs profile codes SpO2 as 2708-6 too.
        coding.push(json!({"system": LOINC, "code": "2708-6", "display": "Oxygen saturation in Arterial blood"}));
    }
    json!({
        "resourceType": "Observation",
        "id": format!("{}-{part}", set.set_id),
        "meta": {
            "versionId": version_id(set).to_string(),
            "lastUpdated": last_updated(set),
            "profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"],
        },
        "status": status(set),
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": coding},
        "subject": subject(&set.patient),
        "effectiveDateTime": set.taken_at,
        "issued": set.recorded_at,
        "performer": [{"reference": format!("Practitioner/{}", set.recorded_by)}],
    })
}

/// Every Observation of one stored set version: its parameters, then the NEWS2 total.
pub fn set_to_fhir(set: &SetView) -> Vec<Value> {
    let r = &set.readings;
    let mut out = Vec::new();
    for (part, code, display) in PARTS {
        let mut v = base(set, part, code, display);
        let missing = param_of(part).and_then(|p| r.missing.iter().find(|m| m.parameter == p));
        if let Some(m) = missing {
            let (c, d) = match m.absence {
                Absence::Refused => ("asked-declined", "Asked But Declined"),
                Absence::NotObtained => ("not-performed", "Not Performed"),
            };
            v["dataAbsentReason"] =
                json!({"coding": [{"system": ABSENT_SYSTEM, "code": c, "display": d}], "text": m.reason});
        } else {
            match part {
                "rr" => v["valueQuantity"] = quantity(f64::from(r.respiration_rate.unwrap_or(0)), "/min", "/min"),
                "spo2" => v["valueQuantity"] = quantity(f64::from(r.spo2.unwrap_or(0)), "%", "%"),
                "o2" => {
                    let flow = if r.on_oxygen {
                        f64::from(r.oxygen_flow_tenths.unwrap_or(0)) / 10.0
                    } else {
                        0.0
                    };
                    v["valueQuantity"] = quantity(flow, "L/min", "L/min");
                    if let Some(d) = r.oxygen_device {
                        v["device"] = json!({"display": d.as_str()});
                    }
                    if r.on_oxygen && r.oxygen_flow_tenths.is_none() {
                        v.as_object_mut().map(|o| o.remove("valueQuantity"));
                        v["valueString"] = json!("on oxygen, flow not recorded");
                    }
                }
                "bp" => {
                    let mut comps = vec![json!({
                        "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                        "valueQuantity": quantity(f64::from(r.systolic_bp.unwrap_or(0)), "mmHg", "mm[Hg]"),
                    })];
                    if let Some(d) = r.diastolic_bp {
                        comps.push(json!({
                            "code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                            "valueQuantity": quantity(f64::from(d), "mmHg", "mm[Hg]"),
                        }));
                    }
                    v["component"] = Value::Array(comps);
                }
                "pulse" => v["valueQuantity"] = quantity(f64::from(r.pulse.unwrap_or(0)), "/min", "/min"),
                "acvpu" => {
                    let c = r.consciousness.unwrap_or(Consciousness::Alert);
                    let (_, code, display) = ACVPU.iter().find(|(k, _, _)| *k == c).copied().unwrap_or(ACVPU[0]);
                    v["valueCodeableConcept"] =
                        json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": c.as_str()});
                }
                _ => {
                    let t = r.temperature_tenths.unwrap_or(0);
                    v["valueQuantity"] = quantity(f64::from(t) / 10.0, "Cel", "Cel");
                }
            }
        }
        out.push(v);
    }
    out.push(total_to_fhir(set));
    out
}

/// The NEWS2 total Observation of a set alone (the last of [`set_to_fhir`]'s), derived from every parameter's.
pub fn total_to_fhir(set: &SetView) -> Value {
    // Only strings, numbers and string-keyed maps: nothing that JSON cannot hold.
    serde_json::to_value(Total(set)).unwrap_or(Value::Null)
}

/// The NEWS2 total Observation of a set, derived from its parameters, written straight to JSON: the answer to every
/// set recorded carries it, so it is not built as a tree first. [`total_to_fhir`] gives it as a tree.
pub struct Total<'a>(pub &'a SetView);

impl Serialize for Total<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let set = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("resourceType", "Observation")?;
        m.serialize_entry("id", &Shown(format_args!("{}-news2", set.set_id)))?;
        m.serialize_entry(
            "meta",
            &Meta {
                version_id: Shown(version_id(set)),
                last_updated: last_updated(set),
            },
        )?;
        m.serialize_entry("status", status(set))?;
        m.serialize_entry(
            "category",
            &[Concept::<&str> {
                coding: [Coding::shown(CATEGORY_SYSTEM, "survey", "Survey")],
                text: None,
            }],
        )?;
        m.serialize_entry(
            "code",
            &Concept::<&str> {
                coding: [Coding::shown(
                    SNOMED,
                    NEWS2_CODE,
                    "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score",
                )],
                text: None,
            },
        )?;
        m.serialize_entry("subject", &PatientRef(&set.patient))?;
        m.serialize_entry("effectiveDateTime", &set.taken_at)?;
        m.serialize_entry("issued", &set.recorded_at)?;
        m.serialize_entry(
            "performer",
            &[Reference {
                reference: Shown(format_args!("Practitioner/{}", set.recorded_by)),
            }],
        )?;
        m.serialize_entry("derivedFrom", &DerivedFrom(set.set_id))?;
        match (set.total, set.risk) {
            (Some(total), Some(risk)) => {
                m.serialize_entry("valueInteger", &total)?;
                let incomplete = match set.complete {
                    true => "",
                    false => "; incomplete set: the total counts only the parameters obtained",
                };
                m.serialize_entry(
                    "interpretation",
                    &[Concept {
                        coding: [Coding::plain(RISK_SYSTEM, risk.as_str())],
                        text: Some(Shown(format_args!(
                            "{} risk, {} monitoring{incomplete}",
                            risk.as_str(),
                            set.monitoring.as_str()
                        ))),
                    }],
                )?;
            }
            // NEWS2 does not apply to the patient (under 16, pregnant, recently delivered): no score, and why.
            _ => {
                let why = set.not_scored.map_or("NEWS2 does not apply", |n| n.sentence());
                m.serialize_entry(
                    "dataAbsentReason",
                    &Concept {
                        coding: [Coding::plain(ABSENT_SYSTEM, "not-applicable")],
                        text: Some(why),
                    },
                )?;
            }
        }
        m.end()
    }
}

/// A value written as its `Display` text, without a `String` first.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    version_id: Shown<i64>,
    last_updated: &'a str,
}

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

impl<'a> Coding<'a> {
    fn shown(system: &'a str, code: &'a str, display: &'a str) -> Self {
        Coding {
            system,
            code,
            display: Some(display),
        }
    }

    fn plain(system: &'a str, code: &'a str) -> Self {
        Coding {
            system,
            code,
            display: None,
        }
    }
}

#[derive(Serialize)]
struct Concept<'a, T> {
    coding: [Coding<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<T>,
}

#[derive(Serialize)]
struct Reference<T> {
    reference: T,
}

/// A reference to a patient, with their NHS number.
struct PatientRef<'a>(&'a NhsNumber);

impl Serialize for PatientRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("reference", &Shown(format_args!("Patient/{}", self.0)))?;
        m.serialize_entry(
            "identifier",
            &Identifier {
                system: NHS_NUMBER_SYSTEM,
                value: self.0.as_str(),
            },
        )?;
        m.end()
    }
}

#[derive(Serialize)]
struct Identifier<'a> {
    system: &'a str,
    value: &'a str,
}

/// The references to a set's parameters' Observations, in [`PARTS`] order.
struct DerivedFrom(i64);

impl Serialize for DerivedFrom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(PARTS.iter().map(|(part, _, _)| Reference {
            reference: Shown(PartRef(self.0, part)),
        }))
    }
}

/// `Observation/{set}-{part}`.
struct PartRef(i64, &'static str);

impl std::fmt::Display for PartRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observation/{}-{}", self.0, self.1)
    }
}

/// Splits an Observation id into the version id and the part.
pub fn parse_id(id: &str) -> Option<(i64, &str)> {
    let (n, part) = id.split_once('-')?;
    let n: i64 = n.parse().ok()?;
    (part == "news2" || PARTS.iter().any(|(p, _, _)| *p == part)).then_some((n, part))
}

/// The part names an Observation search `code` selects (`9279-1`, `http://loinc.org|9279-1`, the NEWS2 code).
fn parts_for_code(code: &str) -> Option<Vec<&'static str>> {
    let code = code.rsplit('|').next().unwrap_or(code);
    if code == NEWS2_CODE {
        return Some(vec!["news2"]);
    }
    if code == "2708-6" {
        return Some(vec!["spo2"]);
    }
    if code == "85353-1" {
        return Some(PARTS.iter().map(|p| p.0).collect());
    }
    PARTS.iter().find(|p| p.1 == code).map(|p| vec![p.0])
}

/// A set as it arrives over FHIR: the patient, when it was taken, and the readings.
#[derive(Debug, Clone)]
pub struct IncomingSet {
    pub patient: NhsNumber,
    pub effective: String,
    pub readings: Readings,
}

fn err(code: &'static str, at: String, msg: impl Into<String>) -> Issue {
    Issue::new(code, msg).at(at)
}

fn coding_codes<'a>(cc: &'a Json<'_>, system: &str) -> Vec<&'a str> {
    cc.get("coding")
        .and_then(Json::as_array)
        .map(|cs| {
            cs.iter()
                .filter(|c| c.get("system").and_then(Json::as_str) == Some(system))
                .filter_map(|c| c.get("code").and_then(Json::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a quantity's value, checking its UCUM unit.
fn value_of(q: Option<&Json<'_>>, at: &str, unit: &str) -> Result<f64, Issue> {
    let q = q.ok_or_else(|| err("required", format!("{at}.valueQuantity"), "needs a valueQuantity"))?;
    let system = q.get("system").and_then(Json::as_str);
    let code = q.get("code").and_then(Json::as_str);
    if system != Some(UCUM) || code != Some(unit) {
        return Err(err(
            "value",
            format!("{at}.valueQuantity"),
            format!("must be in UCUM `{unit}` (system {UCUM}, code {unit})"),
        ));
    }
    q.get("value")
        .and_then(Json::as_f64)
        .ok_or_else(|| err("required", format!("{at}.valueQuantity.value"), "needs a number"))
}

fn whole(x: f64, at: &str) -> Result<Value, Issue> {
    if x.fract() != 0.0 {
        return Err(err("value", at.to_owned(), format!("`{x}` is not a whole number")));
    }
    Ok(json!(x as i64))
}

fn patient_of(subject: &Json<'_>, at: &str) -> Result<NhsNumber, Issue> {
    let raw = if let Some(r) = subject.get("reference").and_then(Json::as_str) {
        r.strip_prefix("Patient/")
            .ok_or_else(|| err("value", format!("{at}.reference"), "must be `Patient/{NHS number}`"))?
            .to_owned()
    } else if let Some(i) = subject.get("identifier") {
        if i.get("system").and_then(Json::as_str) != Some(NHS_NUMBER_SYSTEM) {
            return Err(err(
                "value",
                format!("{at}.identifier.system"),
                format!("must be {NHS_NUMBER_SYSTEM}"),
            ));
        }
        i.get("value").and_then(Json::as_str).unwrap_or_default().to_owned()
    } else {
        return Err(err(
            "required",
            at.to_owned(),
            "needs a reference or an NHS number identifier",
        ));
    };
    NhsNumber::parse(&raw).map_err(|e| err("value", at.to_owned(), e.to_string()))
}

/// Checks one Observation and adds what it says to `fields` (the JSON form `Readings::from_json` reads). Returns the
/// patient and the effective time.
fn read_observation(
    o: &Json<'_>,
    at: &str,
    fields: &mut Map<String, Value>,
    missing: &mut Vec<Value>,
) -> Result<(NhsNumber, String), Issue> {
    let status = o.get("status").and_then(Json::as_str).unwrap_or_default();
    if status != "final" {
        return Err(err(
            "value",
            format!("{at}.status"),
            format!("`{status}` must be `final`"),
        ));
    }
    let vital = o.get("category").and_then(Json::as_array).is_some_and(|cs| {
        cs.iter()
            .any(|c| coding_codes(c, CATEGORY_SYSTEM).contains(&"vital-signs"))
    });
    if !vital {
        return Err(err(
            "value",
            format!("{at}.category"),
            format!("must include `vital-signs` ({CATEGORY_SYSTEM})"),
        ));
    }
    let patient = patient_of(
        o.get("subject")
            .ok_or_else(|| err("required", format!("{at}.subject"), "is required"))?,
        &format!("{at}.subject"),
    )?;
    let effective = o
        .get("effectiveDateTime")
        .and_then(Json::as_str)
        .ok_or_else(|| err("required", format!("{at}.effectiveDateTime"), "is required"))?
        .to_owned();
    let codes = coding_codes(o.get("code").unwrap_or(&Json::Null), LOINC);
    let part = codes
        .iter()
        .find_map(|c| {
            if *c == "2708-6" {
                Some("spo2")
            } else {
                PARTS.iter().find(|p| p.1 == *c).map(|p| p.0)
            }
        })
        .ok_or_else(|| {
            err(
                "code-invalid",
                format!("{at}.code"),
                "is not a NEWS2 parameter: use LOINC 9279-1, 59408-5 (or 2708-6), 3151-8, 85354-9, 8867-4, 67775-7 or 8310-5",
            )
        })?;
    let name = match part {
        "rr" => "respiration_rate",
        "spo2" => "spo2",
        "o2" => "on_oxygen",
        "bp" => "systolic_bp",
        "pulse" => "pulse",
        "acvpu" => "consciousness",
        _ => "temperature",
    };
    if fields.contains_key(name) || missing.iter().any(|m| m["parameter"] == name) {
        return Err(err(
            "duplicate",
            format!("{at}.code"),
            format!("the set already has a {name} Observation"),
        ));
    }
    if let Some(absent) = o.get("dataAbsentReason") {
        let Some(param) = param_of(part) else {
            return Err(err(
                "value",
                format!("{at}.dataAbsentReason"),
                "air or oxygen is always known: send 0 L/min for air",
            ));
        };
        let refused = coding_codes(absent, ABSENT_SYSTEM).contains(&"asked-declined");
        let reason = absent
            .get("text")
            .and_then(Json::as_str)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                err(
                    "required",
                    format!("{at}.dataAbsentReason.text"),
                    "say why it could not be recorded",
                )
            })?;
        missing.push(json!({
            "parameter": param.as_str(),
            "absence": if refused { "refused" } else { "not-obtained" },
            "reason": reason,
        }));
        return Ok((patient, effective));
    }
    let q = o.get("valueQuantity");
    match part {
        "rr" => {
            fields.insert(
                name.into(),
                whole(value_of(q, at, "/min")?, &format!("{at}.valueQuantity.value"))?,
            );
        }
        "pulse" => {
            fields.insert(
                name.into(),
                whole(value_of(q, at, "/min")?, &format!("{at}.valueQuantity.value"))?,
            );
        }
        "spo2" => {
            fields.insert(
                name.into(),
                whole(value_of(q, at, "%")?, &format!("{at}.valueQuantity.value"))?,
            );
        }
        "temp" => {
            fields.insert(name.into(), json!(value_of(q, at, "Cel")?));
        }
        "o2" => {
            let flow = value_of(q, at, "L/min")?;
            fields.insert("on_oxygen".into(), json!(flow > 0.0));
            if flow > 0.0 {
                fields.insert("oxygen_flow".into(), json!(flow));
            }
        }
        "bp" => {
            let comps = o.get("component").and_then(Json::as_array).ok_or_else(|| {
                err(
                    "required",
                    format!("{at}.component"),
                    "needs the systolic (8480-6) component",
                )
            })?;
            for (i, c) in comps.iter().enumerate() {
                let cat = format!("{at}.component[{i}]");
                let codes = coding_codes(c.get("code").unwrap_or(&Json::Null), LOINC);
                let key = if codes.contains(&"8480-6") {
                    "systolic_bp"
                } else if codes.contains(&"8462-4") {
                    "diastolic_bp"
                } else {
                    return Err(err(
                        "code-invalid",
                        format!("{cat}.code"),
                        "must be 8480-6 or 8462-4 (LOINC)",
                    ));
                };
                let v = whole(
                    value_of(c.get("valueQuantity"), &cat, "mm[Hg]")?,
                    &format!("{cat}.valueQuantity.value"),
                )?;
                fields.insert(key.into(), v);
            }
            if !fields.contains_key("systolic_bp") {
                return Err(err(
                    "required",
                    format!("{at}.component"),
                    "needs the systolic (8480-6) component",
                ));
            }
        }
        _ => {
            let cc = o.get("valueCodeableConcept").ok_or_else(|| {
                err(
                    "required",
                    format!("{at}.valueCodeableConcept"),
                    "needs an ACVPU answer code",
                )
            })?;
            let codes = coding_codes(cc, LOINC);
            let c = ACVPU
                .iter()
                .find(|(_, code, _)| codes.contains(code))
                .map(|(c, _, _)| *c)
                .ok_or_else(|| {
                    err(
                        "code-invalid",
                        format!("{at}.valueCodeableConcept"),
                        "must be LA9340-6, LA6560-2, LA17108-4, LA17107-6 or LA9343-0 (LOINC)",
                    )
                })?;
            fields.insert(name.into(), json!(c.as_str()));
        }
    }
    Ok((patient, effective))
}

fn finish(
    mut fields: Map<String, Value>,
    missing: Vec<Value>,
    patient: NhsNumber,
    effective: String,
    at: &str,
) -> Result<IncomingSet, Issue> {
    if !fields.contains_key("on_oxygen") {
        return Err(err(
            "required",
            at.to_owned(),
            "the set needs an inhaled oxygen flow rate Observation (3151-8): 0 L/min for air",
        ));
    }
    if !missing.is_empty() {
        fields.insert("missing".into(), Value::Array(missing));
    }
    let (readings, _) = Readings::from_json(&fields).map_err(|e| {
        let element = match e.field() {
            "respiration_rate" | "pulse" | "spo2" | "temperature" | "systolic_bp" | "diastolic_bp"
            | "consciousness" => "value",
            _ => "set",
        };
        err(
            if element == "value" { "value" } else { "required" },
            at.to_owned(),
            e.to_string(),
        )
    })?;
    Ok(IncomingSet {
        patient,
        effective,
        readings,
    })
}

/// Reads a transaction Bundle of a set: every entry a `POST Observation`, one per parameter, all for one patient at
/// one time. Unknown elements, wrong codes and impossible values are named.
pub fn bundle_to_set(input: &Json<'_>) -> Result<IncomingSet, Issue> {
    check_bundle(input)?;
    if input.get("type").and_then(Json::as_str) != Some("transaction") {
        return Err(err("value", "Bundle.type".into(), "must be `transaction`"));
    }
    let entries = input
        .get("entry")
        .and_then(Json::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| err("required", "Bundle.entry".into(), "needs one Observation per parameter"))?;
    let mut fields = Map::new();
    let mut missing = Vec::new();
    let mut who: Option<(NhsNumber, String)> = None;
    for (i, e) in entries.iter().enumerate() {
        let at = format!("Bundle.entry[{i}]");
        let method = e.pointer("/request/method").and_then(Json::as_str);
        let url = e.pointer("/request/url").and_then(Json::as_str);
        if method != Some("POST") || url != Some("Observation") {
            return Err(err("value", format!("{at}.request"), "must be `POST Observation`"));
        }
        let o = e
            .get("resource")
            .filter(|r| r.get("resourceType").and_then(Json::as_str) == Some("Observation"))
            .ok_or_else(|| err("value", format!("{at}.resource"), "must be an Observation"))?;
        let here = read_observation(o, &format!("{at}.resource"), &mut fields, &mut missing)?;
        match &who {
            None => who = Some(here),
            Some(w) if w.0 != here.0 => {
                return Err(err(
                    "value",
                    format!("{at}.resource.subject"),
                    "every Observation must be for the same patient",
                ));
            }
            Some(w) if w.1 != here.1 => {
                return Err(err(
                    "value",
                    format!("{at}.resource.effectiveDateTime"),
                    "every Observation of a set must have the same effectiveDateTime",
                ));
            }
            _ => {}
        }
    }
    let (patient, effective) = who.ok_or_else(|| err("required", "Bundle.entry".into(), "is empty"))?;
    finish(fields, missing, patient, effective, "Bundle.entry")
}

/// The model's check of a Bundle whose every entry holds an Observation, as [`parse_strict`] would make it but
/// cheaper: the model reads a Bundle's resources through its `Resource` enum, which takes each resource into a buffer
/// of its own to find its type before reading it from there. Here the Bundle is checked without its entries'
/// resources, and each resource is read as the Observation it says it is. Any other Bundle is checked whole.
fn check_bundle(input: &Json<'_>) -> Result<(), Issue> {
    let entries = input.get("entry").and_then(Json::as_array).unwrap_or_default();
    let resources: Option<Vec<&Json<'_>>> = entries
        .iter()
        .map(|e| {
            e.get("resource")
                .filter(|r| r.get("resourceType").and_then(Json::as_str) == Some("Observation"))
        })
        .collect();
    let (Json::Object(members), Some(resources)) = (input, resources) else {
        return parse_strict::<Bundle>(input, "Bundle").map(drop);
    };
    fn without_resource<'a>(e: &Json<'a>) -> Json<'a> {
        match e {
            Json::Object(m) => Json::Object(m.iter().filter(|(k, _)| k != "resource").cloned().collect()),
            other => other.clone(),
        }
    }
    let shell = Json::Object(
        members
            .iter()
            .map(|(k, v)| match (k.as_ref(), v) {
                ("entry", Json::Array(es)) => (k.clone(), Json::Array(es.iter().map(without_resource).collect())),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    );
    let _: Bundle = parse_strict(&shell, "Bundle")?;
    for (i, r) in resources.into_iter().enumerate() {
        let _: Observation = parse_strict_at(r, "Observation", &format!("Bundle.entry[{i}].resource"))?;
    }
    Ok(())
}

/// Reads one Observation posted on its own: a set of one parameter, the others recorded as not obtained.
pub fn observation_to_set(input: &Json<'_>) -> Result<(IncomingSet, &'static str), Issue> {
    one_observation(input, false)
}

/// Reads one Observation sent to correct that parameter of a set: only its part of the readings counts (see
/// [`amended_readings`]); the rest of the set is the set's own.
pub fn observation_for_update(input: &Json<'_>) -> Result<(IncomingSet, &'static str), Issue> {
    one_observation(input, true)
}

fn one_observation(input: &Json<'_>, part_only: bool) -> Result<(IncomingSet, &'static str), Issue> {
    let _: Observation = parse_strict(input, "Observation")?;
    let mut fields = Map::new();
    let mut missing = Vec::new();
    let (patient, effective) = read_observation(input, "Observation", &mut fields, &mut missing)?;
    if !fields.contains_key("on_oxygen") {
        fields.insert("on_oxygen".into(), json!(false));
    }
    let acvpu_given = fields.contains_key("consciousness") || missing.iter().any(|m| m["parameter"] == "consciousness");
    let stand_in = part_only && !acvpu_given;
    let mut part = "o2";
    for p in Param::ALL {
        let present = fields.contains_key(p.as_str()) || missing.iter().any(|m| m["parameter"] == p.as_str());
        if present {
            part = PARTS.iter().find(|x| param_of(x.0) == Some(*p)).map_or("o2", |x| x.0);
        } else {
            missing.push(json!({"parameter": p.as_str(), "absence": "not-obtained", "reason": "recorded on its own, as a single observation"}));
        }
    }
    if stand_in {
        // A stand-in the correction does not use: a set must say its consciousness.
        missing.retain(|m| m["parameter"] != "consciousness");
        fields.insert("consciousness".into(), json!("alert"));
    }
    let set = finish(fields, missing, patient, effective, "Observation")?;
    Ok((set, part))
}

/// The missing parameters that `observation_to_set` adds: for telling a single observation from a set.
pub fn is_single(m: &Missing) -> bool {
    m.reason == "recorded on its own, as a single observation"
}

/// A patient as FHIR.
pub fn patient_to_fhir(p: &Patient) -> Value {
    json!({
        "resourceType": "Patient",
        "id": p.nhs_number.as_str(),
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": p.nhs_number.as_str()}],
        "name": [{"use": "official", "family": p.family_name.as_str(), "given": [p.given_name.as_str()]}],
        "gender": p.sex.as_str(),
        "birthDate": p.date_of_birth.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn obs(code: &str, value: Value) -> Value {
        let mut o = json!({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": "Patient/9990002746"},
            "effectiveDateTime": "2026-11-25T10:00:00Z"
        });
        for (k, v) in value.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    }

    fn q(v: f64, unit: &str) -> Value {
        json!({"valueQuantity": {"value": v, "unit": unit, "system": UCUM, "code": unit}})
    }

    pub(crate) fn bundle() -> Value {
        let entries: Vec<Value> = [
            obs("9279-1", q(22.0, "/min")),
            obs("59408-5", q(95.0, "%")),
            obs("3151-8", q(0.0, "L/min")),
            obs("85354-9", json!({"component": [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 105, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 70, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}]})),
            obs("8867-4", q(95.0, "/min")),
            obs("67775-7", json!({"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9340-6"}]}})),
            obs("8310-5", q(38.2, "Cel")),
        ]
        .into_iter()
        .map(|r| json!({"resource": r, "request": {"method": "POST", "url": "Observation"}}))
        .collect();
        json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    }

    /// The set of [`bundle`] as stored: version 1 of set 16, by alex.ap, scored unless `not_scored`, and with
    /// every parameter unless `without_pulse`.
    fn stored(not_scored: Option<remit_domain::obs::NotScored>, without_pulse: bool) -> SetView {
        use remit_domain::news2::Spo2Scale;
        use remit_domain::obs::NewSet;
        let incoming = bundle_to_set(&Json::from_value(&bundle())).unwrap();
        let mut readings = incoming.readings;
        if without_pulse {
            readings.pulse = None;
        }
        let at = remit_domain::time::parse_instant("at", &incoming.effective).unwrap();
        let new = NewSet {
            patient_id: 1,
            taken_at: at,
            recorded_at: at,
            recorded_by: 1,
            supervisor_id: None,
            assessment: readings.assess_for(Spo2Scale::One, not_scored),
            readings,
            scale: Spo2Scale::One,
            next_due_at: at,
        };
        SetView::inserted(&new, 16, 16, &incoming.patient, "alex.ap", None)
    }

    #[test]
    fn the_news2_total_is_written_as_fhir_has_it() {
        let incomplete = stored(None, true);
        assert_eq!(
            total_to_fhir(&incomplete),
            json!({
                "resourceType": "Observation",
                "id": "16-news2",
                "meta": {"versionId": "1", "lastUpdated": "2026-11-25T10:00:00.000000Z"},
                "status": "final",
                "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}]}],
                "code": {"coding": [{"system": SNOMED, "code": NEWS2_CODE,
                    "display": "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score"}]},
                "subject": {"reference": "Patient/9990002746",
                    "identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9990002746"}},
                "effectiveDateTime": "2026-11-25T10:00:00.000000Z",
                "issued": "2026-11-25T10:00:00.000000Z",
                "performer": [{"reference": "Practitioner/alex.ap"}],
                "derivedFrom": PARTS.iter().map(|(p, _, _)| json!({"reference": format!("Observation/16-{p}")}))
                    .collect::<Vec<_>>(),
                "valueInteger": incomplete.total.unwrap(),
                "interpretation": [{"coding": [{"system": RISK_SYSTEM, "code": incomplete.risk.unwrap().as_str()}],
                    "text": format!("{} risk, {} monitoring; incomplete set: the total counts only the parameters obtained",
                        incomplete.risk.unwrap().as_str(), incomplete.monitoring.as_str())}],
            })
        );
        // Written straight to text: the same document, its members in FHIR's order.
        let text = serde_json::to_string(&Total(&incomplete)).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            total_to_fhir(&incomplete)
        );
        let members = [
            "resourceType",
            "id",
            "meta",
            "status",
            "category",
            "code",
            "subject",
            "effectiveDateTime",
            "issued",
            "performer",
            "derivedFrom",
            "valueInteger",
            "interpretation",
        ];
        let at: Vec<usize> = members
            .iter()
            .map(|m| text.find(&format!("\"{m}\":")).unwrap())
            .collect();
        assert!(at.is_sorted(), "{text}");
        let under_16 = stored(Some(remit_domain::obs::NotScored::Under16), false);
        let v = total_to_fhir(&under_16);
        assert_eq!(
            v["dataAbsentReason"],
            json!({"coding": [{"system": ABSENT_SYSTEM, "code": "not-applicable"}],
                "text": remit_domain::obs::NotScored::Under16.sentence()})
        );
        assert!(
            v.get("valueInteger").is_none() && v.get("interpretation").is_none(),
            "{v}"
        );
    }

    #[test]
    fn a_transaction_bundle_reads_as_a_set() {
        let s = bundle_to_set(&Json::from_value(&bundle())).unwrap();
        assert_eq!(s.patient.as_str(), "9990002746");
        let r = &s.readings;
        assert_eq!(
            (
                r.respiration_rate,
                r.spo2,
                r.on_oxygen,
                r.systolic_bp,
                r.diastolic_bp,
                r.pulse
            ),
            (Some(22), Some(95), false, Some(105), Some(70), Some(95))
        );
        assert_eq!(r.temperature_tenths, Some(382));
    }

    #[test]
    fn wrong_codes_units_and_unknown_elements_are_named() {
        let mut b = bundle();
        b["entry"][0]["resource"]["code"]["coding"][0]["code"] = json!("1234-5");
        assert_eq!(
            bundle_to_set(&Json::from_value(&b)).unwrap_err().expression.as_deref(),
            Some("Bundle.entry[0].resource.code")
        );
        let mut b = bundle();
        b["entry"][6]["resource"]["valueQuantity"]["code"] = json!("[degF]");
        assert_eq!(
            bundle_to_set(&Json::from_value(&b)).unwrap_err().expression.as_deref(),
            Some("Bundle.entry[6].resource.valueQuantity")
        );
        // Unknown elements are named wherever they are: in a resource, an entry, its request or the Bundle itself.
        for (at, path) in [
            ("Bundle.entry[1].resource.colour", "/entry/1/resource"),
            ("Bundle.entry[1].resource.code.colour", "/entry/1/resource/code"),
            ("Bundle.entry[2].colour", "/entry/2"),
            ("Bundle.entry[3].request.colour", "/entry/3/request"),
            ("Bundle.colour", ""),
        ] {
            let mut b = bundle();
            b.pointer_mut(path).unwrap()["colour"] = json!("red");
            let e = bundle_to_set(&Json::from_value(&b)).unwrap_err();
            assert_eq!(e.expression.as_deref(), Some(at));
            assert!(e.diagnostics.contains(at), "{}", e.diagnostics);
        }
        // A resource the model cannot read is named at its entry.
        let mut b = bundle();
        b["entry"][4]["resource"]["status"] = json!(7);
        assert_eq!(
            bundle_to_set(&Json::from_value(&b)).unwrap_err().expression.as_deref(),
            Some("Bundle.entry[4].resource")
        );
        // An entry that is not an Observation is checked with the whole Bundle, its unknown elements named as ever.
        let mut b = bundle();
        b["entry"][5]["resource"] = json!({"resourceType": "Patient", "colour": "red"});
        assert_eq!(
            bundle_to_set(&Json::from_value(&b)).unwrap_err().expression.as_deref(),
            Some("Bundle.entry[5].resource.colour")
        );
        let mut b = bundle();
        b["entry"][0]["resource"]["valueQuantity"]["value"] = json!(81);
        assert!(
            bundle_to_set(&Json::from_value(&b))
                .unwrap_err()
                .diagnostics
                .contains("respiration_rate")
        );
        let mut b = bundle();
        b["entry"].as_array_mut().unwrap().remove(4);
        assert!(
            bundle_to_set(&Json::from_value(&b))
                .unwrap_err()
                .diagnostics
                .contains("pulse")
        );
        let mut b = bundle();
        b["entry"][3]["resource"]["subject"] = json!({"reference": "Patient/9990001375"});
        assert!(bundle_to_set(&Json::from_value(&b)).is_err());
    }

    #[test]
    fn a_refused_parameter_is_a_data_absent_reason() {
        let mut b = bundle();
        let o = b["entry"][6]["resource"].as_object_mut().unwrap();
        o.remove("valueQuantity");
        o.insert(
            "dataAbsentReason".into(),
            json!({"coding": [{"system": ABSENT_SYSTEM, "code": "asked-declined"}], "text": "asleep"}),
        );
        let s = bundle_to_set(&Json::from_value(&b)).unwrap();
        assert_eq!(s.readings.missing[0].absence, Absence::Refused);
        assert_eq!(s.readings.temperature_tenths, None);
    }
}

/// The supervisor named among a resource's performers: a `Practitioner/{username}` other than `me`, the person
/// recording. `at` is where the resource is in the body, for the error.
pub fn supervisor(resource: &Json<'_>, me: &Username, at: &str) -> Result<Option<Username>, Issue> {
    let mut found = None;
    for (i, p) in resource
        .get("performer")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let r = p.get("reference").and_then(Json::as_str).unwrap_or_default();
        let u = r.strip_prefix("Practitioner/").ok_or_else(|| {
            Issue::new("value", "a performer is `Practitioner/{username}`").at(format!("{at}.performer[{i}]"))
        })?;
        let u =
            Username::parse(u).map_err(|e| Issue::new("value", e.to_string()).at(format!("{at}.performer[{i}]")))?;
        if &u != me {
            found = Some(u);
        }
    }
    Ok(found)
}

/// The supervisor named among the performers of a transaction Bundle's Observations (see [`supervisor`]).
pub fn bundle_supervisor(bundle: &Json<'_>, me: &Username) -> Result<Option<Username>, Issue> {
    let mut found = None;
    for (i, e) in bundle
        .get("entry")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let resource = e.get("resource").unwrap_or(&Json::Null);
        if let Some(s) = supervisor(resource, me, &format!("Bundle.entry[{i}].resource"))? {
            found = Some(s);
        }
    }
    Ok(found)
}

/// The conditions of a transaction's entries (`request.ifNoneExist`), each with where it is.
pub fn if_none_exist(bundle: &Json<'_>) -> Vec<(String, String)> {
    bundle
        .get("entry")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| {
            let c = e.pointer("/request/ifNoneExist").and_then(Json::as_str)?;
            Some((format!("Bundle.entry[{i}].request.ifNoneExist"), c.to_owned()))
        })
        .collect()
}

/// The `transaction-response` to a Bundle of a set, recorded as `set`: one entry per request entry, in order (the
/// parameter each posted Observation became), then the NEWS2 total Observation. Written as it is rather than built
/// as a `Value` first.
///
/// `status` is `201 Created`, or `200 OK` when the set was there already (a conditional create's retry).
pub fn transaction_response<'a>(bundle: &Json<'_>, set: &'a SetView, status: &'static str) -> impl Serialize + 'a {
    let id = set.set_id;
    let vid = version_id(set);
    let mut entry: Vec<AnswerEntry<'a>> = bundle
        .get("entry")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let code = e
                .get("resource")
                .and_then(|r| r.get("code"))
                .and_then(|c| c.get("coding"))
                .and_then(Json::as_array)
                .and_then(|c| c.first())
                .and_then(|c| c.get("code"))
                .and_then(Json::as_str)
                .unwrap_or_default();
            let part = parts_for_code(code).and_then(|p| p.first().copied()).unwrap_or("rr");
            AnswerEntry {
                full_url: None,
                resource: None,
                response: EntryResponse {
                    status,
                    location: format!("Observation/{id}-{part}/_history/{vid}"),
                    etag: etag(vid),
                    last_modified: Some(last_updated(set)),
                },
            }
        })
        .collect();
    let news2 = format!("Observation/{id}-news2");
    entry.push(AnswerEntry {
        full_url: Some(news2.clone()),
        resource: Some(Total(set)),
        response: EntryResponse {
            status,
            location: format!("{news2}/_history/{vid}"),
            etag: etag(vid),
            last_modified: None,
        },
    });
    TransactionResponse {
        resource_type: "Bundle",
        kind: "transaction-response",
        entry,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransactionResponse<'a> {
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    entry: Vec<AnswerEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AnswerEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    full_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<Total<'a>>,
    response: EntryResponse<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryResponse<'a> {
    status: &'static str,
    location: String,
    etag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: Option<&'a str>,
}

/// One Observation of a set version, by its part (`rr`, …, `news2`).
pub fn observation_of(set: &SetView, part: &str) -> Option<Value> {
    let id = format!("{}-{part}", set.set_id);
    set_to_fhir(set).into_iter().find(|r| r["id"] == id.as_str())
}

/// Every FHIR version of one part of a set, oldest first, from its stored versions (oldest first): each stored
/// version as it stood when current, and, when the set was marked entered in error, that as one more.
pub fn versions_of(history: &[SetView], part: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for set in history {
        if set.state == "entered-in-error" {
            let mut before = set.clone();
            before.state = "current".to_owned();
            out.extend(observation_of(&before, part));
        }
        out.extend(observation_of(set, part));
    }
    out
}

/// A `history` Bundle of a part's versions, newest first.
pub fn history_bundle(versions: Vec<Value>) -> Value {
    let total = versions.len();
    let entry: Vec<Value> = versions
        .into_iter()
        .rev()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default().to_owned();
            let vid = r["meta"]["versionId"].as_str().unwrap_or("1").to_owned();
            let first = vid == "1";
            json!({
                "fullUrl": format!("Observation/{id}"),
                "request": {"method": if first { "POST" } else { "PUT" },
                            "url": if first { "Observation".to_owned() } else { format!("Observation/{id}") }},
                "response": {"status": if first { "201 Created" } else { "200 OK" },
                             "etag": format!("W/\"{vid}\""),
                             "lastModified": r["meta"]["lastUpdated"].clone()},
                "resource": r,
            })
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "history", "total": total, "entry": entry})
}

/// The readings of `old` with one part's replaced by those of `incoming` (a set of that one part, as
/// [`observation_to_set`] reads a lone Observation): what an update of one Observation of a set amends it to.
pub fn amended_readings(old: &Readings, part: &str, incoming: &Readings) -> Readings {
    let mut r = old.clone();
    let params: &[Param] = match part {
        "rr" => &[Param::RespirationRate],
        "spo2" => &[Param::Spo2],
        "bp" => &[Param::SystolicBp],
        "pulse" => &[Param::Pulse],
        "acvpu" => &[Param::Consciousness],
        "temp" => &[Param::Temperature],
        _ => &[],
    };
    match part {
        "rr" => r.respiration_rate = incoming.respiration_rate,
        "spo2" => r.spo2 = incoming.spo2,
        "o2" => {
            r.on_oxygen = incoming.on_oxygen;
            r.oxygen_flow_tenths = incoming.oxygen_flow_tenths;
            r.oxygen_device = incoming.oxygen_device;
        }
        "bp" => {
            r.systolic_bp = incoming.systolic_bp;
            r.diastolic_bp = incoming.diastolic_bp;
        }
        "pulse" => r.pulse = incoming.pulse,
        "acvpu" => r.consciousness = incoming.consciousness,
        "temp" => r.temperature_tenths = incoming.temperature_tenths,
        _ => {}
    }
    r.missing.retain(|m| !params.contains(&m.parameter));
    r.missing.extend(
        incoming
            .missing
            .iter()
            .filter(|m| params.contains(&m.parameter) && !is_single(m))
            .cloned(),
    );
    r
}

/// The Observations of a set version a search answers: all but a parameter not obtained that is one of a pair
/// recorded together (it is said in the pair's own).
pub fn searched(set: &SetView) -> Vec<Value> {
    set_to_fhir(set)
        .into_iter()
        .filter(|r| {
            let single_absent = r.get("dataAbsentReason").is_some()
                && set
                    .readings
                    .missing
                    .iter()
                    .any(|m| is_single(m) && r["dataAbsentReason"]["text"] == m.reason.as_str());
            !single_absent
        })
        .collect()
}
