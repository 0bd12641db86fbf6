//! X-ray referrals as `ServiceRequest`, reports as `DiagnosticReport`, diagnoses as `Condition` and prescriptions as
//! `MedicationRequest`.

use fhir_model::r4b::resources::{Condition, DiagnosticReport, MedicationRequest, ServiceRequest};
use remit_domain::clinical::Prescription;
use remit_domain::imaging::RequestStatus;
use remit_domain::imaging::RequestView;
use remit_domain::nhs::NhsNumber;
use serde_json::{Value, json};

use crate::{Issue, Json, NHS_NUMBER_SYSTEM, parse_strict};

/// remit's code system for the examinations of the catalogue.
pub const EXAMINATION_SYSTEM: &str = "urn:remit:examination";
pub const SNOMED: &str = "http://snomed.info/sct";

fn err(code: &'static str, at: &str, msg: impl Into<String>) -> Issue {
    Issue::new(code, msg).at(at.to_owned())
}

/// The patient a resource is about, if its `subject` can be read at all: asked before its content is judged (see
/// the server's clinical routes), so that a refusal comes before a complaint about the content.
pub fn subject_if_readable(v: &Json<'_>) -> Option<NhsNumber> {
    subject_of(v, "subject").ok()
}

fn subject_of(v: &Json<'_>, at: &str) -> Result<NhsNumber, Issue> {
    let s = v.get("subject").ok_or_else(|| err("required", at, "is required"))?;
    let raw = if let Some(r) = s.get("reference").and_then(Json::as_str) {
        r.strip_prefix("Patient/")
            .ok_or_else(|| err("value", at, "must be `Patient/{NHS number}`"))?
            .to_owned()
    } else if let Some(i) = s.get("identifier") {
        if i.get("system").and_then(Json::as_str) != Some(NHS_NUMBER_SYSTEM) {
            return Err(err(
                "value",
                at,
                format!("the identifier system must be {NHS_NUMBER_SYSTEM}"),
            ));
        }
        i.get("value").and_then(Json::as_str).unwrap_or_default().to_owned()
    } else {
        return Err(err("required", at, "needs a reference or an NHS number identifier"));
    };
    NhsNumber::parse(&raw).map_err(|e| err("value", at, e.to_string()))
}

fn expect(v: &Json<'_>, key: &str, want: &str, at: &str) -> Result<(), Issue> {
    match v.get(key).and_then(Json::as_str) {
        Some(x) if x == want => Ok(()),
        Some(x) => Err(err("value", at, format!("`{x}` must be `{want}`"))),
        None => Err(err("required", at, format!("is required (`{want}`)"))),
    }
}

fn subject(nhs: &NhsNumber) -> Value {
    json!({"reference": format!("Patient/{nhs}"), "identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs.as_str()}})
}

/// A referral as it arrives: patient, examination id, clinical information.
pub fn referral_from_fhir(v: &Json<'_>) -> Result<(NhsNumber, String, String), Issue> {
    let _: ServiceRequest = parse_strict(v, "ServiceRequest")?;
    expect(v, "status", "active", "ServiceRequest.status")?;
    expect(v, "intent", "order", "ServiceRequest.intent")?;
    let patient = subject_of(v, "ServiceRequest.subject")?;
    let exam = v
        .pointer("/code/coding")
        .and_then(Json::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("system").and_then(Json::as_str) == Some(EXAMINATION_SYSTEM))
        })
        .and_then(|c| c.get("code").and_then(Json::as_str))
        .ok_or_else(|| {
            err(
                "required",
                "ServiceRequest.code",
                format!("name the examination as a coding in {EXAMINATION_SYSTEM}"),
            )
        })?;
    let info = v
        .pointer("/reasonCode/0/text")
        .and_then(Json::as_str)
        .or_else(|| v.pointer("/note/0/text").and_then(Json::as_str))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            err(
                "required",
                "ServiceRequest.reasonCode",
                "the clinical information is required (reasonCode[0].text)",
            )
        })?;
    Ok((patient, exam.to_owned(), info.to_owned()))
}

/// A request as `ServiceRequest`.
pub fn request_to_fhir(r: &RequestView, title: Option<&str>) -> Value {
    let status = match r.status {
        RequestStatus::Rejected => "revoked",
        RequestStatus::Reported => "completed",
        _ => "active",
    };
    let mut coding = json!({"system": EXAMINATION_SYSTEM, "code": r.examination});
    if let Some(t) = title {
        coding["display"] = json!(t);
    }
    let mut notes = vec![json!({"text": format!("IR(ME)R status: {}", r.status)})];
    if let Some(n) = r.decision_note.as_deref().filter(|n| !n.is_empty()) {
        let what = if r.status == RequestStatus::Rejected {
            "Rejected"
        } else {
            "Justification"
        };
        notes.push(json!({"text": format!("{what}: {n}")}));
    }
    if let Some(why) = &r.returned_reason {
        notes.push(json!({"text": why}));
    }
    // Its last change: the latest of the times its steps were taken.
    let exposure = r.exposure.as_ref();
    let last = [
        Some(r.referred_at.as_str()),
        r.decided_at.as_deref(),
        r.pregnancy_at.as_deref(),
        exposure.map(|x| x.exposed_at.as_str()),
        exposure.and_then(|x| x.drl_review.as_ref()).map(|d| d.at.as_str()),
        r.report.as_ref().map(|x| x.reported_at.as_str()),
    ]
    .into_iter()
    .flatten()
    .max();
    json!({
        "resourceType": "ServiceRequest",
        "id": r.id.to_string(),
        "meta": {"lastUpdated": last},
        "status": status,
        "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "363679005", "display": "Imaging"}]}],
        "code": {"coding": [coding]},
        "subject": subject(&r.patient),
        "authoredOn": r.referred_at,
        "requester": {"reference": format!("Practitioner/{}", r.referrer)},
        "reasonCode": [{"text": r.clinical_info}],
        "note": notes,
    })
}

/// A report as it arrives: the request it is based on, findings and conclusion.
pub fn report_from_fhir(v: &Json<'_>) -> Result<(i64, String, String), Issue> {
    let _: DiagnosticReport = parse_strict(v, "DiagnosticReport")?;
    expect(v, "status", "final", "DiagnosticReport.status")?;
    let based = v
        .pointer("/basedOn/0/reference")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("ServiceRequest/"))
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| err("required", "DiagnosticReport.basedOn", "must be `ServiceRequest/{id}`"))?;
    let conclusion = v
        .get("conclusion")
        .and_then(Json::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| err("required", "DiagnosticReport.conclusion", "is required"))?;
    let findings = v
        .pointer("/presentedForm/0/title")
        .and_then(Json::as_str)
        .unwrap_or_default();
    Ok((based, findings.to_owned(), conclusion.to_owned()))
}

/// A reported request as `DiagnosticReport`.
pub fn report_to_fhir(r: &RequestView) -> Option<Value> {
    let rep = r.report.as_ref()?;
    let mut v = json!({
        "resourceType": "DiagnosticReport",
        "id": r.id.to_string(),
        "meta": {"lastUpdated": rep.reported_at},
        "basedOn": [{"reference": format!("ServiceRequest/{}", r.id)}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
        "code": {"coding": [{"system": EXAMINATION_SYSTEM, "code": r.examination}]},
        "subject": subject(&r.patient),
        "issued": rep.reported_at,
        "resultsInterpreter": [{"reference": format!("Practitioner/{}", rep.reporter)}],
        "conclusion": rep.conclusion,
    });
    if !rep.findings.is_empty() {
        v["presentedForm"] = json!([{"contentType": "text/plain", "title": rep.findings}]);
    }
    Some(v)
}

/// A diagnosis as it arrives: patient, text, SNOMED code.
pub fn condition_from_fhir(v: &Json<'_>) -> Result<(NhsNumber, String, Option<String>), Issue> {
    let _: Condition = parse_strict(v, "Condition")?;
    let patient = subject_of(v, "Condition.subject")?;
    let code = v
        .get("code")
        .ok_or_else(|| err("required", "Condition.code", "name the diagnosis"))?;
    let snomed = code
        .get("coding")
        .and_then(Json::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("system").and_then(Json::as_str) == Some(SNOMED))
        })
        .and_then(|c| c.get("code").and_then(Json::as_str))
        .map(str::to_owned);
    let text = code
        .get("text")
        .and_then(Json::as_str)
        .or_else(|| code.pointer("/coding/0/display").and_then(Json::as_str))
        .ok_or_else(|| err("required", "Condition.code.text", "give the diagnosis in words"))?;
    Ok((patient, text.to_owned(), snomed))
}

/// A recorded diagnosis as `Condition`.
pub fn condition_to_fhir(id: i64, patient: &NhsNumber, by: &str, at: &str, text: &str, snomed: Option<&str>) -> Value {
    let mut code = json!({"text": text});
    if let Some(c) = snomed {
        code["coding"] = json!([{"system": SNOMED, "code": c}]);
    }
    json!({
        "resourceType": "Condition",
        "id": id.to_string(),
        "meta": {"lastUpdated": at},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}]}],
        "code": code,
        "subject": subject(patient),
        "recordedDate": at,
        "recorder": {"reference": format!("Practitioner/{by}")},
    })
}

/// A prescription as it arrives: patient, medicine, dose, route, frequency.
pub fn medication_request_from_fhir(v: &Json<'_>) -> Result<(NhsNumber, String, String, String, String), Issue> {
    let _: MedicationRequest = parse_strict(v, "MedicationRequest")?;
    expect(v, "status", "active", "MedicationRequest.status")?;
    expect(v, "intent", "order", "MedicationRequest.intent")?;
    let patient = subject_of(v, "MedicationRequest.subject")?;
    let medicine = v
        .pointer("/medicationCodeableConcept/text")
        .and_then(Json::as_str)
        .ok_or_else(|| {
            err(
                "required",
                "MedicationRequest.medicationCodeableConcept.text",
                "name the medicine",
            )
        })?;
    let at = "MedicationRequest.dosageInstruction[0]";
    let d = v
        .pointer("/dosageInstruction/0")
        .ok_or_else(|| err("required", at, "give the dose, route and frequency"))?;
    let q = d.pointer("/doseAndRate/0/doseQuantity").ok_or_else(|| {
        let why = if d.get("text").is_some() {
            // Allowed by FHIR, but a dose in words cannot be checked against the medicine's limits.
            "a dose given only as text (dosageInstruction.text) cannot be checked: give it as \
             doseAndRate[0].doseQuantity, with a value and a unit (such as 500 mg), and the route and frequency as \
             route.text and timing.code.text"
        } else {
            "give the dose as a doseQuantity"
        };
        err("required", &format!("{at}.doseAndRate"), why)
    })?;
    let dose = format!(
        "{} {}",
        q.get("value").and_then(Json::as_f64).unwrap_or(-1.0),
        q.get("unit").and_then(Json::as_str).unwrap_or_default()
    );
    let route = d
        .pointer("/route/text")
        .and_then(Json::as_str)
        .ok_or_else(|| err("required", &format!("{at}.route.text"), "give the route"))?;
    let frequency = d
        .pointer("/timing/code/text")
        .and_then(Json::as_str)
        .ok_or_else(|| err("required", &format!("{at}.timing.code.text"), "give the frequency"))?;
    Ok((
        patient,
        medicine.to_owned(),
        dose,
        route.to_owned(),
        frequency.to_owned(),
    ))
}

/// A recorded prescription as `MedicationRequest`.
pub fn medication_request_to_fhir(id: i64, patient: &NhsNumber, by: &str, at: &str, p: &Prescription) -> Value {
    let (dose, route, frequency, medicine) = (&p.dose, p.route.as_str(), &p.frequency, &p.medicine);
    let (value, unit) = dose.split_once(' ').unwrap_or((dose, ""));
    json!({
        "resourceType": "MedicationRequest",
        "id": id.to_string(),
        "meta": {"lastUpdated": at},
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": medicine},
        "subject": subject(patient),
        "authoredOn": at,
        "requester": {"reference": format!("Practitioner/{by}")},
        "dosageInstruction": [{
            "text": format!("{dose} {route} {frequency}"),
            "route": {"text": route},
            "timing": {"code": {"text": frequency}},
            "doseAndRate": [{"doseQuantity": {"value": value.parse::<f64>().unwrap_or(0.0), "unit": unit}}]
        }],
    })
}
