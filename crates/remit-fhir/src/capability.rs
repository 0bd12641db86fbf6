//! The server's CapabilityStatement, built from the same definitions the routes use: each resource's interactions
//! here, and its search parameters from [`crate::search`]. A test in the server's suite asks every interaction and
//! parameter listed of the running server, and every route of the server of the statement.

use serde_json::{Value, json};

use remit_domain::task::Move;

use crate::search;

/// What can be done with one resource type.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub name: &'static str,
    pub interactions: &'static [&'static str],
    pub profile: Option<&'static str>,
    /// Named operations on an instance (`$accept`): a task's moves.
    pub operations: &'static [Move],
}

/// Every resource remit serves, with its interactions.
pub const SERVED: [Served; 11] = [
    Served {
        name: "Observation",
        interactions: &["read", "vread", "update", "history-instance", "create", "search-type"],
        profile: Some("http://hl7.org/fhir/StructureDefinition/vitalsigns"),
        operations: &[],
    },
    Served {
        name: "Patient",
        interactions: &["read", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "Encounter",
        interactions: &["read", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "Task",
        interactions: &["read", "create", "patch", "search-type"],
        profile: None,
        operations: &Move::ALL,
    },
    Served {
        name: "ServiceRequest",
        interactions: &["read", "create", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "DiagnosticReport",
        interactions: &["read", "create", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "Condition",
        interactions: &["read", "create", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "MedicationRequest",
        interactions: &["read", "create", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "Practitioner",
        interactions: &["read", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "PractitionerRole",
        interactions: &["read", "search-type"],
        profile: None,
        operations: &[],
    },
    Served {
        name: "Flag",
        interactions: &["read", "search-type"],
        profile: None,
        operations: &[],
    },
];

/// The server's CapabilityStatement.
pub fn statement(version: &str, date: &str) -> Value {
    let resources: Vec<Value> = SERVED
        .iter()
        .map(|r| {
            let mut v = json!({
                "type": r.name,
                "interaction": r.interactions.iter().map(|i| json!({"code": i})).collect::<Vec<_>>(),
            });
            if let Some(p) = r.profile {
                v["profile"] = json!(p);
            }
            if r.interactions.contains(&"vread") {
                // A set's corrections are versions; an update must name the version it corrects; a set can be
                // posted with conditions (If-None-Exist, ifNoneExist) so that a retry does not record it twice.
                v["versioning"] = json!("versioned-update");
                v["readHistory"] = json!(true);
                v["updateCreate"] = json!(false);
                v["conditionalCreate"] = json!(true);
            }
            if let Some(s) = search::ALL.iter().find(|s| s.name == r.name) {
                v["searchParam"] = search::capability_params(s);
                if !s.includes.is_empty() {
                    v["searchInclude"] = json!(s.includes);
                }
            }
            if !r.operations.is_empty() {
                v["operation"] = r
                    .operations
                    .iter()
                    .map(|o| json!({"name": o.as_str(), "definition": format!("urn:remit:operation:task-{}", o.as_str())}))
                    .collect();
            }
            v
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "remit",
        "kind": "instance",
        "software": {"name": "remit", "version": version},
        "implementation": {"description": "remit: scope of practice, vital signs and delegation"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Search follows FHIR R4: a comma is OR, a repeated parameter AND; an unknown parameter \
                is refused unless the request says Prefer: handling=lenient. Every read and search is decided by the \
                same policy as the rest of remit.",
            "security": {"service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "OAuth"}], "text": "Bearer token or session"}]},
            "interaction": [{"code": "transaction"}],
            "resource": resources,
        }]
    })
}
