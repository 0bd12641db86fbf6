//! Staff as FHIR `Practitioner` (who they are: registrations as identifiers, competencies and IR(ME)R entitlements as
//! qualifications) and `PractitionerRole` (what they do here: job title and Career Framework level, and where they
//! are on duty now). Both are keyed by the username, as every `Practitioner/{username}` reference remit writes is.

use remit_domain::staff::{Regulator, StaffProfile};
use serde_json::{Value, json};

use crate::encounter::PLACE_SYSTEM;

pub const USERNAME_SYSTEM: &str = "urn:remit:username";
pub const COMPETENCY_SYSTEM: &str = "urn:remit:competency";
pub const ENTITLEMENT_SYSTEM: &str = "urn:remit:entitlement";
pub const LEVEL_SYSTEM: &str = "urn:remit:career-framework-level";

/// The identifier system of a regulator's register (the UK Core systems).
pub fn regulator_system(r: Regulator) -> &'static str {
    match r {
        Regulator::Nmc => "https://fhir.hl7.org.uk/Id/nmc-number",
        Regulator::Hcpc => "https://fhir.hl7.org.uk/Id/hcpc-number",
        Regulator::Gmc => "https://fhir.hl7.org.uk/Id/gmc-number",
        Regulator::Gphc => "https://fhir.hl7.org.uk/Id/gphc-number",
    }
}

/// What a Practitioner needs only the staff list for: for narrowing a search before whole profiles are read.
pub fn practitioner_summary(username: &str, name: &str, active: bool) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": username,
        "identifier": [{"system": USERNAME_SYSTEM, "value": username}],
        "active": active,
        "name": [{"text": name}],
    })
}

/// A staff member as a Practitioner. `title` names a competency from the catalogue.
pub fn practitioner(p: &StaffProfile, title: impl Fn(&str) -> Option<String>) -> Value {
    let s = &p.staff;
    let mut v = practitioner_summary(s.username.as_str(), s.name.as_str(), s.is_active());
    let ids = v["identifier"].as_array_mut().expect("an array");
    for r in &p.registrations {
        ids.push(json!({
            "use": "official",
            "system": regulator_system(r.regulator),
            "value": r.number,
            "period": {"end": r.expires_on.to_string()},
        }));
    }
    let mut qualifications: Vec<Value> = p
        .competencies
        .iter()
        .filter(|c| !c.revoked)
        .map(|c| {
            let mut code = json!({"coding": [{"system": COMPETENCY_SYSTEM, "code": c.competency.as_str()}]});
            if let Some(t) = title(c.competency.as_str()) {
                code["text"] = json!(t);
            }
            let mut q = json!({
                "code": code,
                "period": {"start": c.signed_off_on.to_string(), "end": c.expires_on.to_string()},
            });
            if let Some(a) = &c.assessor {
                q["issuer"] = json!({"display": a});
            }
            q
        })
        .collect();
    qualifications.extend(p.entitlements.iter().map(|e| {
        json!({"code": {"coding": [{"system": ENTITLEMENT_SYSTEM, "code": e.as_str()}],
                        "text": format!("IR(ME)R entitlement: {}", e.as_str())}})
    }));
    if !qualifications.is_empty() {
        v["qualification"] = Value::Array(qualifications);
    }
    v
}

/// A staff member's role here as a PractitionerRole: job title and level, and the places they are on duty now.
pub fn practitioner_role(p: &StaffProfile) -> Value {
    let s = &p.staff;
    let mut code = json!({"text": s.job_title});
    if let Some(l) = s.level {
        code["coding"] = json!([{"system": LEVEL_SYSTEM, "code": l.get().to_string(), "display": l.name()}]);
    }
    let mut v = json!({
        "resourceType": "PractitionerRole",
        "id": s.username.as_str(),
        "active": s.is_active(),
        "practitioner": {"reference": format!("Practitioner/{}", s.username)},
        "code": [code],
    });
    if !p.on_duty.is_empty() {
        v["location"] = p
            .on_duty
            .iter()
            .map(|place| json!({"identifier": {"system": PLACE_SYSTEM, "value": place.as_str()}, "display": place.as_str()}))
            .collect();
    }
    v
}
