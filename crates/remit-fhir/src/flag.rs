//! A NEWS2 escalation as a FHIR `Flag`, for integrators who poll (`GET /fhir/Flag?status=active&patient=…`).
//!
//! Why Flag and not DetectedIssue: an escalation is a warning about a patient that stays in force until it is
//! closed, which is what Flag is for, and Flag's `status` (`active` / `inactive`) and `period` say exactly whether
//! and when it stood. DetectedIssue describes an issue with a proposed or performed action (an interaction, a
//! duplicate) and has no state of being open. The mapping:
//!
//! | remit | Flag |
//! |---|---|
//! | open or acknowledged | `status` `active` |
//! | reviewed, closed or superseded | `status` `inactive`, `period.end` its last event |
//! | level (`ward`, `single-red`, `urgent`, `emergency`) | `code.coding` in `urn:remit:escalation-level`; `code.text` the response |
//! | state (`open`, `acknowledged`, …) | extension `urn:remit:extension:escalation-state` (`valueCode`) |
//! | place | extension `urn:remit:extension:place` (`valueIdentifier`, `urn:remit:place`) |
//! | the set it was raised for | extension `http://hl7.org/fhir/StructureDefinition/flag-detail`: its NEWS2 Observation |
//! | raised at | `period.start` |
//! | its last event | `meta.lastUpdated` |

use remit_domain::nhs::NhsNumber;
use serde_json::{Value, json};

use crate::NHS_NUMBER_SYSTEM;
use crate::encounter::PLACE_SYSTEM;

pub const LEVEL_SYSTEM: &str = "urn:remit:escalation-level";
pub const STATE_EXTENSION: &str = "urn:remit:extension:escalation-state";
pub const PLACE_EXTENSION: &str = "urn:remit:extension:place";
pub const DETAIL_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/flag-detail";

/// What a Flag says of an escalation.
#[derive(Debug, Clone)]
pub struct Escalation<'a> {
    pub id: i64,
    pub patient: &'a NhsNumber,
    pub place: &'a str,
    /// `ward`, `single-red`, `urgent` or `emergency`.
    pub level: &'a str,
    /// The response the level calls for, in words.
    pub response: String,
    /// The set it was raised for.
    pub set_id: i64,
    pub state: &'a str,
    pub raised_at: &'a str,
    /// Its last event: when it closed, if it has.
    pub last_at: &'a str,
}

/// Whether an escalation in this state still stands.
pub fn is_open(state: &str) -> bool {
    matches!(state, "open" | "acknowledged")
}

/// An escalation as a Flag.
pub fn to_fhir(e: &Escalation<'_>) -> Value {
    let open = is_open(e.state);
    let mut period = json!({"start": e.raised_at});
    if !open {
        period["end"] = json!(e.last_at);
    }
    json!({
        "resourceType": "Flag",
        "id": e.id.to_string(),
        "meta": {"lastUpdated": e.last_at},
        "extension": [
            {"url": STATE_EXTENSION, "valueCode": e.state},
            {"url": PLACE_EXTENSION, "valueIdentifier": {"system": PLACE_SYSTEM, "value": e.place}},
            {"url": DETAIL_EXTENSION, "valueReference": {"reference": format!("Observation/{}-news2", e.set_id)}},
        ],
        "status": if open { "active" } else { "inactive" },
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "clinical", "display": "Clinical"}]}],
        "code": {"coding": [{"system": LEVEL_SYSTEM, "code": e.level}], "text": e.response},
        "subject": {"reference": format!("Patient/{}", e.patient), "identifier": {"system": NHS_NUMBER_SYSTEM, "value": e.patient.as_str()}},
        "period": period,
    })
}
