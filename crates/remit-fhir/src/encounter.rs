//! A patient's stay (admitted or registered, in a place, finished at discharge) as a FHIR `Encounter`.

use remit_domain::adt::{Stay, StayStatus};
use remit_domain::time::format_instant;
use serde_json::{Value, json};

use crate::NHS_NUMBER_SYSTEM;

/// remit's identifier system for places (wards and departments).
pub const PLACE_SYSTEM: &str = "urn:remit:place";
/// The patient administration system's visit number (PV1-19).
pub const VISIT_NUMBER_SYSTEM: &str = "urn:remit:visit-number";

/// A stay as FHIR.
pub fn stay_to_fhir(s: &Stay) -> Value {
    let mut period = json!({"start": format_instant(s.started_at)});
    if let Some(end) = s.ended_at {
        period["end"] = json!(format_instant(end));
    }
    let mut location = json!({
        "location": {
            "identifier": {"system": PLACE_SYSTEM, "value": s.place.as_str()},
            "display": match &s.bed {
                Some(bed) => format!("{}, bed {bed}", s.place_name),
                None => s.place_name.clone(),
            },
        },
        "status": if s.status == StayStatus::InProgress { "active" } else { "completed" },
    });
    if s.status == StayStatus::EnteredInError {
        location["status"] = json!("completed");
    }
    let mut e = json!({
        "resourceType": "Encounter",
        "id": s.id.to_string(),
        "meta": {"lastUpdated": format_instant(s.ended_at.unwrap_or(s.started_at))},
        "status": s.status.as_str(),
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": s.class.as_str(),
            "display": s.class.display(),
        },
        "subject": {
            "reference": format!("Patient/{}", s.nhs_number),
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": s.nhs_number.as_str()},
        },
        "period": period,
        "location": [location],
    });
    if let Some(v) = &s.visit_number {
        e["identifier"] = json!([{"system": VISIT_NUMBER_SYSTEM, "value": v}]);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use remit_domain::adt::StayClass;

    #[test]
    fn a_stay_is_an_encounter() {
        let s = Stay {
            id: 7,
            nhs_number: remit_domain::nhs::NhsNumber::parse("9990001375").unwrap(),
            status: StayStatus::Finished,
            class: StayClass::Inpatient,
            place: remit_domain::place::PlaceCode::parse("ward-7").unwrap(),
            place_name: "Ward 7".into(),
            bed: Some("3".into()),
            visit_number: Some("V1".into()),
            started_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            ended_at: Some("2026-12-05T16:30:00Z".parse().unwrap()),
        };
        let e = stay_to_fhir(&s);
        assert_eq!(e["status"], "finished");
        assert_eq!(e["class"]["code"], "IMP");
        assert_eq!(e["subject"]["reference"], "Patient/9990001375");
        assert_eq!(e["location"][0]["location"]["display"], "Ward 7, bed 3");
        assert!(e["period"]["end"].as_str().unwrap().starts_with("2026-12-05T16:30:00"));
        // What the model reads is what was sent.
        let parsed: fhir_model::r4b::resources::Encounter = serde_json::from_value(e.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap()["status"], "finished");
    }
}
