//! FHIR search as the specification defines it, applied to the resources remit has already written as FHIR JSON, so
//! that what a search matches is exactly what the client is shown.
//!
//! Each searchable resource has a [`Resource`]: its parameters, each with a type and the elements it reads. A query
//! is parsed against it into a [`Search`] (comma-separated values are OR, repeated parameters AND; tokens take
//! `system|code`, `|code` and `code`; dates take `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `sa` and `eb`), then applied to
//! the candidates a route has read and opened under the policy: matched, sorted, paged with a cursor that names the
//! last resource shown (so a page is not shifted by writes made while a client pages), and the Patient (or the
//! Observations a NEWS2 total is derived from) included when asked. The CapabilityStatement lists the same
//! parameters, so the two cannot differ.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveDateTime, Utc};
use remit_domain::time::from_london;
use serde_json::{Value, json};

use crate::Issue;

/// A search parameter's type, as FHIR names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Token,
    Reference,
    Date,
    String,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Reference => "reference",
            Self::Date => "date",
            Self::String => "string",
        }
    }
}

/// One search parameter of a resource: its name, type and the elements it reads (dotted paths through the resource,
/// arrays flattened; a `|` separates alternatives).
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Type,
    pub paths: &'static [&'static str],
    pub doc: &'static str,
    /// For a token bound to a FHIR value set: its codes (a code outside it is an error, not an empty answer).
    pub codes: &'static [&'static str],
}

const fn p(name: &'static str, kind: Type, paths: &'static [&'static str], doc: &'static str) -> Param {
    Param {
        name,
        kind,
        paths,
        doc,
        codes: &[],
    }
}

/// A `status`-like token bound to a value set.
const fn coded(
    name: &'static str,
    paths: &'static [&'static str],
    codes: &'static [&'static str],
    doc: &'static str,
) -> Param {
    Param {
        name,
        kind: Type::Token,
        paths,
        doc,
        codes,
    }
}

/// What can be searched of one resource type.
#[derive(Debug)]
pub struct Resource {
    pub name: &'static str,
    pub params: &'static [Param],
    /// The `_include`s offered, as `Resource:param` (the param a reference parameter of this resource).
    pub includes: &'static [&'static str],
    /// The order when none is asked for: a date parameter, newest first.
    pub default_sort: &'static str,
    /// A parameter the search must name (the patient, for a patient's record), with how to name it.
    pub required: Option<(&'static [&'static str], &'static str)>,
}

impl Resource {
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The parameters `_sort` takes: the date parameters and `_id`.
    fn sortable(&self, name: &str) -> bool {
        name == "_id" || self.param(name).is_some_and(|p| p.kind == Type::Date)
    }
}

// The definitions are tables: one parameter a line.
#[rustfmt::skip]
mod defs {
    use super::{Param, Resource, Type::{Date, Reference as Ref, Token}, coded, p};

    const ID: Param = p("_id", Token, &["id"], "the resource's id");
    const LAST_UPDATED: Param = p("_lastUpdated", Date, &["meta.lastUpdated"], "when it last changed");
    const PATIENT: Param = p("patient", Ref, &["subject"], "the patient (Patient/{NHS number})");
    const SUBJECT: Param = p("subject", Ref, &["subject"], "the patient (Patient/{NHS number})");
    const PATIENT_REQUIRED: (&[&str], &str) =
        (&["patient", "subject"], "name the patient: patient=Patient/{NHS number}");

    // FHIR R4's value sets of the status-like elements remit writes.
    const OBSERVATION_STATUS: &[&str] =
        &["registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"];
    const ENCOUNTER_STATUS: &[&str] = &["planned", "arrived", "triaged", "in-progress", "onleave", "finished",
        "cancelled", "entered-in-error", "unknown"];
    const TASK_STATUS: &[&str] = &["draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
        "in-progress", "on-hold", "failed", "completed", "entered-in-error"];
    const REQUEST_STATUS: &[&str] =
        &["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"];
    const REPORT_STATUS: &[&str] = &["registered", "partial", "preliminary", "final", "amended", "corrected",
        "appended", "cancelled", "entered-in-error", "unknown"];
    const CLINICAL_STATUS: &[&str] = &["active", "recurrence", "relapse", "inactive", "remission", "resolved"];
    const MEDICATION_STATUS: &[&str] =
        &["active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"];
    const MEDICATION_INTENT: &[&str] = &["proposal", "plan", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option"];
    const FLAG_STATUS: &[&str] = &["active", "inactive", "entered-in-error"];

    pub const OBSERVATION: Resource = Resource {
        name: "Observation",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            p("code", Token, &["code"], "LOINC code of a vital sign, or the SNOMED code of the NEWS2 total"),
            p("category", Token, &["category"], "vital-signs, or survey for the NEWS2 total"),
            coded("status", &["status"], OBSERVATION_STATUS, "final, amended or entered-in-error"),
            p("date", Date, &["effectiveDateTime"], "when the set was taken"),
            p("performer", Ref, &["performer"], "who recorded it (Practitioner/{username})"),
            p("derived-from", Ref, &["derivedFrom"], "the Observations a NEWS2 total is derived from"),
        ],
        includes: &["Observation:patient", "Observation:subject", "Observation:derived-from"],
        default_sort: "date",
        required: Some(PATIENT_REQUIRED),
    };

    pub const PATIENT_SEARCH: Resource = Resource {
        name: "Patient",
        params: &[
            p("_id", Token, &["id"], "the NHS number"),
            p("identifier", Token, &["identifier"], "https://fhir.nhs.uk/Id/nhs-number|{NHS number}"),
        ],
        includes: &[],
        default_sort: "_id",
        required: Some((&["identifier", "_id"], "search by identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS number}")),
    };

    pub const ENCOUNTER: Resource = Resource {
        name: "Encounter",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            coded("status", &["status"], ENCOUNTER_STATUS, "in-progress, finished or entered-in-error"),
            p("class", Token, &["class"], "IMP (inpatient), EMER or AMB"),
            p("date", Date, &["period"], "when the stay was"),
            p("identifier", Token, &["identifier"], "the visit number"),
            p("location", Token, &["location.location.identifier"], "the place: urn:remit:place|{code}"),
        ],
        includes: &["Encounter:patient", "Encounter:subject"],
        default_sort: "date",
        required: Some(PATIENT_REQUIRED),
    };

    pub const TASK: Resource = Resource {
        name: "Task",
        params: &[
            ID, LAST_UPDATED,
            p("owner", Ref, &["owner"], "who it is delegated to (Practitioner/{username})"),
            p("requester", Ref, &["requester"], "who delegated it"),
            coded("status", &["status"], TASK_STATUS,
                "FHIR task status (awaiting countersignature is in-progress with that business-status)"),
            p("business-status", Token, &["businessStatus"], "awaiting-countersignature"),
            p("patient", Ref, &["for"], "the patient"),
            p("subject", Ref, &["for"], "the patient"),
            p("code", Token, &["code"], "the activity: urn:remit:activity|{activity}"),
            p("authored-on", Date, &["authoredOn"], "when it was delegated"),
            p("modified", Date, &["lastModified"], "when it last changed"),
        ],
        includes: &["Task:patient", "Task:subject"],
        default_sort: "_lastUpdated",
        required: None,
    };

    pub const SERVICE_REQUEST: Resource = Resource {
        name: "ServiceRequest",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            coded("status", &["status"], REQUEST_STATUS, "active, completed or revoked"),
            p("code", Token, &["code"], "the examination: urn:remit:examination|{code}"),
            p("authored", Date, &["authoredOn"], "when it was referred"),
            p("requester", Ref, &["requester"], "the referrer"),
        ],
        includes: &["ServiceRequest:patient", "ServiceRequest:subject"],
        default_sort: "authored",
        required: Some(PATIENT_REQUIRED),
    };

    pub const DIAGNOSTIC_REPORT: Resource = Resource {
        name: "DiagnosticReport",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            p("based-on", Ref, &["basedOn"], "the request (ServiceRequest/{id})"),
            coded("status", &["status"], REPORT_STATUS, "final"),
            p("code", Token, &["code"], "the examination"),
            p("issued", Date, &["issued"], "when it was reported"),
        ],
        includes: &["DiagnosticReport:patient", "DiagnosticReport:subject", "DiagnosticReport:based-on"],
        default_sort: "issued",
        required: Some(PATIENT_REQUIRED),
    };

    pub const CONDITION: Resource = Resource {
        name: "Condition",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            p("code", Token, &["code"], "SNOMED CT code"),
            coded("clinical-status", &["clinicalStatus"], CLINICAL_STATUS, "active"),
            p("recorded-date", Date, &["recordedDate"], "when it was recorded"),
            p("recorder", Ref, &["recorder"], "who recorded it"),
        ],
        includes: &["Condition:patient", "Condition:subject"],
        default_sort: "recorded-date",
        required: Some(PATIENT_REQUIRED),
    };

    pub const MEDICATION_REQUEST: Resource = Resource {
        name: "MedicationRequest",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            coded("status", &["status"], MEDICATION_STATUS, "active"),
            coded("intent", &["intent"], MEDICATION_INTENT, "order"),
            p("authoredon", Date, &["authoredOn"], "when it was prescribed"),
            p("requester", Ref, &["requester"], "the prescriber"),
        ],
        includes: &["MedicationRequest:patient", "MedicationRequest:subject"],
        default_sort: "authoredon",
        required: Some(PATIENT_REQUIRED),
    };

    pub const PRACTITIONER: Resource = Resource {
        name: "Practitioner",
        params: &[
            p("_id", Token, &["id"], "the username"),
            p("identifier", Token, &["identifier"], "a registration (https://fhir.hl7.org.uk/Id/nmc-number|…) or urn:remit:username|…"),
            p("name", super::Type::String, &["name"], "the start of any word of the name"),
            coded("active", &["active"], &["true", "false"], "false for a suspended account"),
        ],
        includes: &[],
        default_sort: "_id",
        required: None,
    };

    pub const PRACTITIONER_ROLE: Resource = Resource {
        name: "PractitionerRole",
        params: &[
            p("_id", Token, &["id"], "the username"),
            p("practitioner", Ref, &["practitioner"], "Practitioner/{username}"),
            coded("active", &["active"], &["true", "false"], "false for a suspended account"),
            p("role", Token, &["code"], "the Career Framework level: urn:remit:career-framework-level|{1-9}"),
            p("location", Token, &["location.identifier"], "where they are on duty now: urn:remit:place|{code}"),
        ],
        includes: &["PractitionerRole:practitioner"],
        default_sort: "_id",
        required: None,
    };

    pub const FLAG: Resource = Resource {
        name: "Flag",
        params: &[
            ID, LAST_UPDATED, PATIENT, SUBJECT,
            coded("status", &["status"], FLAG_STATUS, "active (open) or inactive (closed)"),
            p("code", Token, &["code"], "the escalation level: urn:remit:escalation-level|{level}"),
            p("date", Date, &["period"], "from when it was raised to when it closed"),
            p("location", Token, &["extension.valueIdentifier"], "the place: urn:remit:place|{code}"),
        ],
        includes: &["Flag:patient", "Flag:subject"],
        default_sort: "_lastUpdated",
        required: None,
    };
}

pub use defs::{
    CONDITION, DIAGNOSTIC_REPORT, ENCOUNTER, FLAG, MEDICATION_REQUEST, OBSERVATION, PATIENT_SEARCH as PATIENT,
    PRACTITIONER, PRACTITIONER_ROLE, SERVICE_REQUEST, TASK,
};

/// Every searchable resource, for the CapabilityStatement.
pub const ALL: [&Resource; 11] = [
    &OBSERVATION,
    &PATIENT,
    &ENCOUNTER,
    &TASK,
    &SERVICE_REQUEST,
    &DIAGNOSTIC_REPORT,
    &CONDITION,
    &MEDICATION_REQUEST,
    &FLAG,
    &PRACTITIONER,
    &PRACTITIONER_ROLE,
];

/// The result parameters every search takes, for the CapabilityStatement.
pub const RESULT_PARAMS: [(&str, &str); 6] = [
    ("_count", "number"),
    ("_sort", "string"),
    ("_include", "special"),
    ("_summary", "token"),
    ("_page", "string"),
    ("_total", "token"),
];

/// The most values one parameter may name (a comma-separated list).
pub const MAX_VALUES: usize = 100;

/// The page size when none is asked for, and the largest.
pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

/// A date prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Sa,
    Eb,
}

/// One value of a clause.
#[derive(Debug, Clone, PartialEq)]
enum Wanted {
    /// `system` is `None` for any system, `Some("")` for none.
    Token { system: Option<String>, code: String },
    /// The resource type (if given) and id.
    Reference { kind: Option<String>, id: String },
    /// A range of instants in milliseconds, `[lo, hi)`.
    Date { prefix: Prefix, lo: i64, hi: i64 },
    /// Lower-case: matches the start of a value, case-insensitively.
    Text(String),
}

/// A parameter's modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    None,
    Not,
    Exact,
    Missing,
}

/// One parameter as asked: any of its values (OR).
#[derive(Debug, Clone)]
struct Clause {
    param: &'static Param,
    modifier: Modifier,
    any_of: Vec<Wanted>,
    /// For `:missing`.
    missing: bool,
}

/// A parsed search: every clause must hold (AND).
#[derive(Debug, Clone)]
pub struct Search {
    resource: &'static Resource,
    clauses: Vec<Clause>,
    pub count: usize,
    sort: Vec<(&'static str, bool)>,
    includes: Vec<&'static str>,
    pub summary_count: bool,
    cursor: Option<(Direction, Key)>,
    /// The page asked for, as sent: for the `self` link.
    page: Option<String>,
    /// The parameters as used (those ignored under lenient handling left out), for the Bundle's links.
    used: Vec<(String, String)>,
    /// Parameters left out under lenient handling, named in the answer.
    pub ignored: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    After,
    Before,
}

/// Where a resource falls in the order of a search: its sort values (milliseconds, `None` last), then its id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    values: Vec<Option<i64>>,
    id: String,
}

fn bad(name: &str, msg: impl Into<String>) -> Issue {
    Issue::new("value", msg).at(name.to_owned())
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

impl Search {
    /// Parses a query against a resource's parameters. Under `lenient` (`Prefer: handling=lenient`) a parameter
    /// remit does not know, or a modifier it does not support, is left out and named in [`Search::ignored`];
    /// otherwise it is an error. A value that does not read is an error either way.
    pub fn parse(resource: &'static Resource, query: &[(String, String)], lenient: bool) -> Result<Self, Issue> {
        let mut s = Search {
            resource,
            clauses: Vec::new(),
            count: DEFAULT_COUNT,
            sort: Vec::new(),
            includes: Vec::new(),
            summary_count: false,
            cursor: None,
            page: None,
            used: Vec::new(),
            ignored: Vec::new(),
        };
        let known: Vec<&str> = resource.params.iter().map(|p| p.name).collect();
        for (key, value) in query {
            let (name, modifier) = key.split_once(':').map_or((key.as_str(), None), |(n, m)| (n, Some(m)));
            let mut keep = true;
            match name {
                "_count" => {
                    s.count = value
                        .parse()
                        .ok()
                        .filter(|n| (0..=MAX_COUNT).contains(n))
                        .ok_or_else(|| bad("_count", format!("_count must be a whole number 0-{MAX_COUNT}")))?;
                }
                "_sort" => {
                    s.sort.clear();
                    if value.split(',').count() > 3 {
                        return Err(bad("_sort", "sort by at most three parameters"));
                    }
                    for field in value.split(',') {
                        let (desc, f) = field.strip_prefix('-').map_or((false, field), |f| (true, f));
                        let f = resource
                            .params
                            .iter()
                            .map(|p| p.name)
                            .chain(["_id"])
                            .find(|n| *n == f && resource.sortable(n))
                            .ok_or_else(|| {
                                bad(
                                    "_sort",
                                    format!(
                                        "{} cannot be sorted by `{}`: sort by {}",
                                        resource.name,
                                        clip(f),
                                        sortable_names(resource)
                                    ),
                                )
                            })?;
                        s.sort.push((f, desc));
                    }
                }
                "_include" => {
                    let known = resource.includes.iter().find(|i| **i == value.as_str());
                    match known {
                        Some(i) => s.includes.push(i),
                        None if lenient => {
                            s.ignored.push(format!("_include={}", clip(value)));
                            keep = false;
                        }
                        None => {
                            return Err(bad(
                                "_include",
                                format!(
                                    "`{}` cannot be included with {}: {}",
                                    clip(value),
                                    resource.name,
                                    if resource.includes.is_empty() {
                                        "it includes nothing".to_owned()
                                    } else {
                                        resource.includes.join(", ")
                                    }
                                ),
                            ));
                        }
                    }
                }
                "_summary" => match value.as_str() {
                    "count" => s.summary_count = true,
                    "false" => {}
                    other => {
                        return Err(bad(
                            "_summary",
                            format!("_summary=`{}` is not supported: count or false", clip(other)),
                        ));
                    }
                },
                "_page" => {
                    s.page = Some(value.clone());
                    s.cursor =
                        Some(parse_cursor(value).ok_or_else(|| {
                            bad("_page", "this page link is not one remit gave: start the search again")
                        })?);
                }
                // The total is always counted exactly.
                "_total" if matches!(value.as_str(), "none" | "estimate" | "accurate") => {}
                "_format" if matches!(value.as_str(), "json" | "application/fhir+json" | "application/json") => {}
                "_format" => {
                    return Err(bad(
                        "_format",
                        "remit answers in JSON only: _format=json, or leave it out",
                    ));
                }
                _ => match resource.param(name) {
                    Some(param) => {
                        let asked = modifier;
                        let modifier = match (modifier, param.kind) {
                            (None, _) => Some(Modifier::None),
                            (Some("missing"), _) => Some(Modifier::Missing),
                            (Some("not"), Type::Token) => Some(Modifier::Not),
                            (Some("exact"), Type::String) => Some(Modifier::Exact),
                            (Some(t), Type::Reference) if t == reference_target(param) => Some(Modifier::None),
                            _ => None,
                        };
                        match modifier {
                            Some(m) => s.clauses.push(clause(param, m, value)?),
                            None if lenient => {
                                s.ignored.push(key.clone());
                                keep = false;
                            }
                            None => {
                                return Err(bad(
                                    key,
                                    format!(
                                        "the modifier `:{}` is not supported on {} (a {} parameter)",
                                        clip(asked.unwrap_or_default()),
                                        name,
                                        param.kind.as_str()
                                    ),
                                ));
                            }
                        }
                    }
                    None if lenient => {
                        s.ignored.push(clip(key));
                        keep = false;
                    }
                    None => {
                        return Err(Issue::new(
                            "not-supported",
                            format!(
                                "`{}` is not a search parameter of {} here ({}; and _count, _sort, _include, \
                                 _summary); send Prefer: handling=lenient to have unknown parameters ignored",
                                clip(key),
                                resource.name,
                                known.join(", ")
                            ),
                        )
                        .at(clip(key)));
                    }
                },
            }
            if keep && name != "_page" {
                s.used.push((key.clone(), value.clone()));
            }
        }
        if let Some((names, how)) = resource.required
            && !s
                .clauses
                .iter()
                .any(|c| names.contains(&c.param.name) && c.modifier == Modifier::None)
        {
            return Err(bad(names[0], how));
        }
        Ok(s)
    }

    /// The ids (of a reference parameter) or codes (of a token parameter) that one clause among `names`, without a
    /// modifier, pins the search to: the candidates a route reads. `None` when no clause narrows the search.
    pub fn pinned(&self, names: &[&str]) -> Option<Vec<String>> {
        self.clauses
            .iter()
            .filter(|c| names.contains(&c.param.name) && c.modifier == Modifier::None)
            .map(|c| {
                c.any_of
                    .iter()
                    .filter_map(|w| match w {
                        Wanted::Reference { id, .. } => Some(id.clone()),
                        Wanted::Token { code, .. } => Some(code.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .min_by_key(Vec::len)
    }

    /// The one id or code a parameter pins the search to, if it does.
    pub fn one(&self, name: &str) -> Option<String> {
        self.pinned(&[name]).filter(|v| v.len() == 1).and_then(|mut v| v.pop())
    }

    /// Whether the search asks for anything to be included.
    pub fn includes_anything(&self) -> bool {
        !self.includes.is_empty()
    }

    pub fn resource_name(&self) -> &'static str {
        self.resource.name
    }

    /// The earliest instant (milliseconds) a date parameter admits, when some clause bounds every value from below:
    /// for narrowing what a route reads.
    pub fn earliest(&self, name: &str) -> Option<i64> {
        self.clauses
            .iter()
            .filter(|c| c.param.name == name && c.modifier == Modifier::None)
            .filter_map(|c| {
                c.any_of
                    .iter()
                    .map(|w| match w {
                        Wanted::Date {
                            prefix: Prefix::Eq | Prefix::Ge,
                            lo,
                            ..
                        } => Some(*lo),
                        Wanted::Date {
                            prefix: Prefix::Gt | Prefix::Sa,
                            hi,
                            ..
                        } => Some(*hi),
                        _ => None,
                    })
                    .collect::<Option<Vec<i64>>>()
                    .and_then(|v| v.into_iter().min())
            })
            .max()
    }

    /// Whether a resource matches every clause on the parameters `names` (the others are not asked): for narrowing
    /// candidates by what is known before they are read whole.
    pub fn matches_on(&self, resource: &Value, names: &[&str]) -> bool {
        self.clauses
            .iter()
            .filter(|c| names.contains(&c.param.name))
            .all(|c| c.holds(resource))
    }

    /// Whether a resource matches every clause.
    pub fn matches(&self, resource: &Value) -> bool {
        self.clauses.iter().all(|c| c.holds(resource))
    }

    /// Answers the search over `candidates` (every resource of the type the reader may see, or a superset of those
    /// that match): the Bundle with its links, the page's matches, and the resources included from `pool`
    /// (candidates and Patients, by `Type/id`) that the page refers to. `fhir` is the server's FHIR base
    /// (`https://host/fhir`), from which links and each entry's `fullUrl` are written.
    pub fn answer(&self, fhir: &str, candidates: Vec<Value>, pool: &[Value]) -> Value {
        let base = &format!("{fhir}/{}", self.resource.name);
        let mut matched: Vec<(Key, Value)> = candidates
            .into_iter()
            .filter(|r| self.matches(r))
            .map(|r| (self.key(&r), r))
            .collect();
        let order = self.order();
        matched.sort_by(|a, b| compare(&a.0, &b.0, &order));
        let total = matched.len();
        let mut links = vec![json!({"relation": "self", "url": self.link(base, self.page.as_deref())})];
        if self.summary_count {
            return json!({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links});
        }
        // The window: after the cursor (or before it, going back), `count` long.
        let (start, end) = match &self.cursor {
            None => (0, self.count.min(total)),
            Some((Direction::After, k)) => {
                let s = matched.partition_point(|(m, _)| compare(m, k, &order) != Ordering::Greater);
                (s, (s + self.count).min(total))
            }
            Some((Direction::Before, k)) => {
                let e = matched.partition_point(|(m, _)| compare(m, k, &order) == Ordering::Less);
                (e.saturating_sub(self.count), e)
            }
        };
        if end < total && end > start {
            let cursor = format_cursor(Direction::After, &matched[end - 1].0);
            links.push(json!({"relation": "next", "url": self.link(base, Some(&cursor))}));
        }
        if start > 0 && start < total && end > start {
            let cursor = format_cursor(Direction::Before, &matched[start].0);
            links.push(json!({"relation": "previous", "url": self.link(base, Some(&cursor))}));
        }
        let page: Vec<Value> = matched.drain(start..end).map(|(_, r)| r).collect();
        let included = self.included(&page, pool);
        let mut entries: Vec<Value> = page
            .into_iter()
            .map(|r| json!({"fullUrl": format!("{fhir}/{}", full_url(&r)), "resource": r, "search": {"mode": "match"}}))
            .collect();
        entries.extend(included.into_iter().map(
            |r| json!({"fullUrl": format!("{fhir}/{}", full_url(&r)), "resource": r, "search": {"mode": "include"}}),
        ));
        let mut bundle = json!({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links});
        if !entries.is_empty() {
            bundle["entry"] = Value::Array(entries);
        }
        if !self.ignored.is_empty() {
            // Under lenient handling, what was left out is said (FHIR: an OperationOutcome entry, mode outcome).
            let outcome = json!({
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "not-supported",
                           "diagnostics": format!("ignored: {}", self.ignored.join(", "))}]
            });
            let entry = json!({"resource": outcome, "search": {"mode": "outcome"}});
            match bundle["entry"].as_array_mut() {
                Some(e) => e.push(entry),
                None => bundle["entry"] = json!([entry]),
            }
        }
        bundle
    }

    /// The references of a page's resources that `_include` asks for, resolved in `pool`, each once and none that is
    /// already on the page.
    fn included(&self, page: &[Value], pool: &[Value]) -> Vec<Value> {
        if self.includes.is_empty() {
            return Vec::new();
        }
        let by_ref: HashMap<String, &Value> = pool.iter().map(|r| (full_url(r), r)).collect();
        let on_page: BTreeSet<String> = page.iter().map(full_url).collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for include in &self.includes {
            let name = include.split_once(':').map_or("", |x| x.1);
            let Some(param) = self.resource.param(name) else {
                continue;
            };
            for r in page {
                for v in values(r, param.paths) {
                    let Some(reference) = v.get("reference").and_then(Value::as_str) else {
                        continue;
                    };
                    if on_page.contains(reference) || !seen.insert(reference.to_owned()) {
                        continue;
                    }
                    if let Some(found) = by_ref.get(reference) {
                        out.push((*found).clone());
                    }
                }
            }
        }
        out
    }

    /// The sort in force: as asked, or the resource's default (newest first), then the id.
    fn order(&self) -> Vec<(&'static str, bool)> {
        if self.sort.is_empty() {
            vec![(self.resource.default_sort, self.resource.default_sort != "_id")]
        } else {
            self.sort.clone()
        }
    }

    fn key(&self, r: &Value) -> Key {
        let values = self
            .order()
            .iter()
            .map(|(name, _)| match *name {
                "_id" => None,
                name => {
                    let paths = self.resource.param(name).map_or(&[][..], |p| p.paths);
                    values(r, paths)
                        .into_iter()
                        .filter_map(instant_range)
                        .map(|(lo, _)| lo)
                        .min()
                }
            })
            .collect();
        Key {
            values,
            id: r.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
        }
    }

    /// This search's URL, with `_page` when it is a page's link.
    fn link(&self, base: &str, page: Option<&str>) -> String {
        let mut q: Vec<(String, String)> = self.used.clone();
        if !q.iter().any(|(k, _)| k == "_count") {
            q.push(("_count".into(), self.count.to_string()));
        }
        if let Some(p) = page {
            q.push(("_page".into(), p.to_owned()));
        }
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        format!("{base}?{}", query.join("&"))
    }
}

fn sortable_names(r: &Resource) -> String {
    let mut names: Vec<&str> = r.params.iter().filter(|p| r.sortable(p.name)).map(|p| p.name).collect();
    if !names.contains(&"_id") {
        names.push("_id");
    }
    names.join(", ")
}

/// The resource type a reference parameter points at, for the `:Type` modifier.
fn reference_target(param: &Param) -> &'static str {
    match param.name {
        "patient" | "subject" => "Patient",
        "owner" | "requester" | "performer" | "recorder" | "practitioner" => "Practitioner",
        "based-on" => "ServiceRequest",
        "derived-from" => "Observation",
        _ => "",
    }
}

fn full_url(r: &Value) -> String {
    format!(
        "{}/{}",
        r.get("resourceType").and_then(Value::as_str).unwrap_or_default(),
        r.get("id").and_then(Value::as_str).unwrap_or_default()
    )
}

fn clause(param: &'static Param, modifier: Modifier, value: &str) -> Result<Clause, Issue> {
    let name = param.name;
    if modifier == Modifier::Missing {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => return Err(bad(name, format!("{name}:missing takes true or false"))),
        };
        return Ok(Clause {
            param,
            modifier,
            any_of: Vec::new(),
            missing,
        });
    }
    let mut any_of = Vec::new();
    let values = split_values(value);
    if values.len() > MAX_VALUES {
        return Err(bad(name, format!("{name} names more than {MAX_VALUES} values")));
    }
    for raw in values {
        if raw.is_empty() {
            return Err(bad(name, format!("{name} has an empty value")));
        }
        any_of.push(match param.kind {
            Type::Token
                if !param.codes.is_empty() && !param.codes.contains(&raw.rsplit('|').next().unwrap_or_default()) =>
            {
                return Err(bad(
                    name,
                    format!("`{}` is not a code of {name}: {}", clip(&raw), param.codes.join(", ")),
                ));
            }
            Type::Token => match raw.split_once('|') {
                Some((system, code)) => Wanted::Token {
                    system: Some(system.to_owned()),
                    code: code.to_owned(),
                },
                None => Wanted::Token {
                    system: None,
                    code: raw,
                },
            },
            Type::Reference => {
                // `Patient/123`, `123`, or (for a patient) the NHS number identifier
                // `https://fhir.nhs.uk/Id/nhs-number|123`; not another server's resource.
                let r = raw
                    .strip_prefix(&format!("{}|", crate::NHS_NUMBER_SYSTEM))
                    .unwrap_or(&raw);
                if r.contains("://") {
                    return Err(bad(
                        name,
                        format!("`{}`: name a resource on this server as Type/id", clip(&raw)),
                    ));
                }
                let mut parts = r.rsplitn(3, '/');
                let id = parts.next().unwrap_or_default();
                let kind = parts.next().map(str::to_owned);
                if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
                {
                    return Err(bad(
                        name,
                        format!("`{}` is not a reference (Type/id or id)", clip(&raw)),
                    ));
                }
                Wanted::Reference {
                    kind,
                    id: id.to_owned(),
                }
            }
            Type::Date => {
                let (prefix, rest) = date_prefix(&raw);
                let (lo, hi) = search_range(rest).ok_or_else(|| {
                    bad(
                        name,
                        format!(
                            "`{}` is not a date: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss]+zz:zz, after an \
                             optional prefix (eq, ne, lt, le, gt, ge, sa, eb)",
                            clip(&raw)
                        ),
                    )
                })?;
                Wanted::Date { prefix, lo, hi }
            }
            Type::String => Wanted::Text(raw.to_lowercase()),
        });
    }
    Ok(Clause {
        param,
        modifier,
        any_of,
        missing: false,
    })
}

/// A parameter's values: split at commas not escaped with `\`.
fn split_values(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.last_mut().map(|s| s.push(n)).unwrap_or_default(),
                None => out.last_mut().map(|s| s.push('\\')).unwrap_or_default(),
            },
            ',' => out.push(String::new()),
            c => out.last_mut().map(|s| s.push(c)).unwrap_or_default(),
        }
    }
    out
}

fn date_prefix(raw: &str) -> (Prefix, &str) {
    const PREFIXES: [(&str, Prefix); 8] = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("lt", Prefix::Lt),
        ("le", Prefix::Le),
        ("gt", Prefix::Gt),
        ("ge", Prefix::Ge),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
    ];
    for (text, prefix) in PREFIXES {
        if let Some(rest) = raw.strip_prefix(text) {
            return (prefix, rest);
        }
    }
    (Prefix::Eq, raw)
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The range of instants a date or dateTime stands for, by its precision: `2026` is the whole year. A date, or a time
/// without a zone, is read in the trust's time (London), as people give them.
fn search_range(s: &str) -> Option<(i64, i64)> {
    let local = |n: NaiveDateTime| from_london(n).or_else(|| from_london(n + chrono::Duration::hours(1)));
    let day = |d: NaiveDate| Some(millis(local(d.and_hms_opt(0, 0, 0)?)?));
    match s.len() {
        4 => {
            let y: i32 = s.parse().ok()?;
            let a = NaiveDate::from_ymd_opt(y, 1, 1)?;
            Some((day(a)?, day(a.with_year(y + 1)?)?))
        }
        7 => {
            let a = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()?;
            Some((day(a)?, day(a.checked_add_months(Months::new(1))?)?))
        }
        10 => {
            let a = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some((day(a)?, day(a.succ_opt()?)?))
        }
        _ => {
            if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(s) {
                let width = if s.contains('.') { 1 } else { 1000 };
                return Some((millis(t.with_timezone(&Utc)), millis(t.with_timezone(&Utc)) + width));
            }
            // Minutes only, with a zone (`10:00Z`, `10:00+01:00`) or without; seconds without a zone.
            let zoned = s
                .strip_suffix('Z')
                .map(|m| format!("{m}+00:00"))
                .unwrap_or_else(|| s.to_owned());
            if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(&zoned, "%Y-%m-%dT%H:%M%:z") {
                return Some((millis(t.with_timezone(&Utc)), millis(t.with_timezone(&Utc)) + 60_000));
            }
            let (naive, width) = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .zip([60_000, 1000])
                .find_map(|(f, w)| NaiveDateTime::parse_from_str(s, f).ok().map(|n| (n, w)))?;
            let t = local(naive)?;
            Some((millis(t), millis(t) + width))
        }
    }
}

/// The range of instants an element stands for: a date, a dateTime, an instant, or a Period.
fn instant_range(v: &Value) -> Option<(i64, i64)> {
    match v {
        Value::String(s) => search_range(s),
        Value::Object(o) => {
            let lo = o
                .get("start")
                .and_then(Value::as_str)
                .and_then(search_range)
                .map_or(i64::MIN, |r| r.0);
            let hi = o
                .get("end")
                .and_then(Value::as_str)
                .and_then(search_range)
                .map_or(i64::MAX, |r| r.1);
            (o.contains_key("start") || o.contains_key("end")).then_some((lo, hi))
        }
        _ => None,
    }
}

/// The elements at a resource's paths, arrays flattened.
fn values<'a>(r: &'a Value, paths: &[&str]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for path in paths {
        let mut here = vec![r];
        for step in path.split('.') {
            let mut next = Vec::new();
            for v in here {
                match v.get(step) {
                    Some(Value::Array(items)) => next.extend(items.iter()),
                    Some(x) => next.push(x),
                    None => {}
                }
            }
            here = next;
        }
        out.extend(here);
    }
    out
}

impl Clause {
    fn holds(&self, r: &Value) -> bool {
        let found = values(r, self.param.paths);
        match self.modifier {
            Modifier::Missing => found.is_empty() == self.missing,
            Modifier::Not => !self.any_of.iter().any(|w| found.iter().any(|v| token_matches(v, w))),
            Modifier::Exact => self.any_of.iter().any(|w| {
                found
                    .iter()
                    .any(|v| matches!(w, Wanted::Text(t) if strings(v).iter().any(|s| s.to_lowercase() == *t)))
            }),
            Modifier::None => self.any_of.iter().any(|w| found.iter().any(|v| one_matches(v, w))),
        }
    }
}

fn one_matches(v: &Value, w: &Wanted) -> bool {
    match w {
        Wanted::Token { .. } => token_matches(v, w),
        Wanted::Reference { kind, id } => {
            let reference = v.get("reference").and_then(Value::as_str).unwrap_or_default();
            let (rk, rid) = reference.rsplit_once('/').unwrap_or(("", reference));
            let rk = rk.rsplit('/').next().unwrap_or(rk);
            rid == id && kind.as_deref().is_none_or(|k| k == rk)
        }
        Wanted::Date { prefix, lo, hi } => instant_range(v).is_some_and(|(a, b)| date_matches(*prefix, *lo, *hi, a, b)),
        // The start of the element, or of any word in it (a name given only as text).
        Wanted::Text(t) => strings(v).iter().any(|s| {
            let s = s.to_lowercase();
            s.starts_with(t.as_str()) || s.split([' ', '-']).any(|w| w.starts_with(t.as_str()))
        }),
    }
}

/// FHIR's date comparison: the search range `[lo, hi)` against the element's `[a, b)`.
fn date_matches(prefix: Prefix, lo: i64, hi: i64, a: i64, b: i64) -> bool {
    match prefix {
        Prefix::Eq => a >= lo && b <= hi,
        Prefix::Ne => !(a >= lo && b <= hi),
        Prefix::Lt => a < lo,
        Prefix::Le => a < hi,
        Prefix::Gt => b > hi,
        Prefix::Ge => b > lo,
        Prefix::Sa => a >= hi,
        Prefix::Eb => b <= lo,
    }
}

/// A token against an element: a code, a Coding, a CodeableConcept, an Identifier, or an id.
fn token_matches(v: &Value, w: &Wanted) -> bool {
    let Wanted::Token { system, code } = w else {
        return false;
    };
    let pair_matches = |s: Option<&str>, c: Option<&str>| {
        c == Some(code.as_str())
            && match system.as_deref() {
                None => true,
                Some("") => s.is_none(),
                Some(want) => s == Some(want),
            }
    };
    match v {
        Value::String(s) => system.as_deref().is_none_or(str::is_empty) && s == code,
        Value::Bool(b) => system.is_none() && code == if *b { "true" } else { "false" },
        Value::Object(o) => {
            if let Some(codings) = o.get("coding").and_then(Value::as_array) {
                return codings.iter().any(|c| {
                    pair_matches(
                        c.get("system").and_then(Value::as_str),
                        c.get("code").and_then(Value::as_str),
                    )
                });
            }
            let s = o.get("system").and_then(Value::as_str);
            pair_matches(s, o.get("code").or_else(|| o.get("value")).and_then(Value::as_str))
        }
        _ => false,
    }
}

/// The strings of an element a string parameter reads: a string, or a HumanName's parts.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s],
        Value::Object(o) => ["text", "family", "given", "display"]
            .iter()
            .filter_map(|k| o.get(*k))
            .flat_map(|x| match x {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
                other => other.as_str().into_iter().collect(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An id's order: by its leading number, then the rest (so `10-rr` follows `9-rr`).
fn id_order(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let n = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (s[..n].parse::<u64>().unwrap_or(0), s[n..].to_owned())
    };
    split(a).cmp(&split(b))
}

fn compare(a: &Key, b: &Key, order: &[(&str, bool)]) -> Ordering {
    for (i, (name, desc)) in order.iter().enumerate() {
        let o = if *name == "_id" {
            id_order(&a.id, &b.id)
        } else {
            // Missing values last, whichever the direction.
            match (a.values.get(i).copied().flatten(), b.values.get(i).copied().flatten()) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        };
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    // Ties by id, in the direction of the first key.
    let o = id_order(&a.id, &b.id);
    if order.first().is_some_and(|(_, d)| *d) {
        o.reverse()
    } else {
        o
    }
}

/// A page cursor: `a` (after) or `b` (before), the sort values, and the id, separated by `~`.
fn format_cursor(d: Direction, k: &Key) -> String {
    let mut out = String::from(if d == Direction::After { "a" } else { "b" });
    for v in &k.values {
        out.push('~');
        if let Some(v) = v {
            out.push_str(&v.to_string());
        }
    }
    out.push('~');
    out.push_str(&k.id);
    out
}

fn parse_cursor(s: &str) -> Option<(Direction, Key)> {
    let mut parts: Vec<&str> = s.split('~').collect();
    if parts.len() < 2 {
        return None;
    }
    let d = match *parts.first()? {
        "a" => Direction::After,
        "b" => Direction::Before,
        _ => return None,
    };
    let id = parts.pop()?.to_owned();
    if parts.len() > 4
        || id.is_empty()
        || id.len() > 64
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return None;
    }
    let values = parts[1..]
        .iter()
        .map(|v| if v.is_empty() { Ok(None) } else { v.parse().map(Some) })
        .collect::<Result<_, _>>()
        .ok()?;
    Some((d, Key { values, id }))
}

/// Percent-encoding for a query's names and values: all but the unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The CapabilityStatement's entry of a resource's search parameters.
pub fn capability_params(r: &Resource) -> Value {
    Value::Array(
        r.params
            .iter()
            .map(|p| json!({"name": p.name, "type": p.kind.as_str(), "documentation": p.doc}))
            .chain(
                RESULT_PARAMS
                    .iter()
                    .filter(|(n, _)| *n != "_include" || !r.includes.is_empty())
                    .map(|(n, t)| json!({"name": n, "type": t})),
            )
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn task(id: u32, status: &str, owner: &str, authored: &str) -> Value {
        json!({"resourceType": "Task", "id": id.to_string(), "status": status,
               "owner": {"reference": format!("Practitioner/{owner}")},
               "for": {"reference": "Patient/9990001375"},
               "code": {"coding": [{"system": "urn:remit:activity", "code": "obs"}]},
               "authoredOn": authored, "lastModified": authored,
               "meta": {"lastUpdated": authored}})
    }

    fn tasks() -> Vec<Value> {
        vec![
            task(1, "requested", "ann", "2026-12-01T09:00:00Z"),
            task(2, "accepted", "bob", "2026-12-02T09:00:00Z"),
            task(3, "in-progress", "ann", "2026-12-03T09:00:00Z"),
            task(4, "completed", "bob", "2026-12-04T09:00:00Z"),
        ]
    }

    fn ids(bundle: &Value) -> Vec<String> {
        bundle["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter(|x| x["search"]["mode"] == "match")
                    .map(|x| x["resource"]["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn run(pairs: &[(&str, &str)]) -> Value {
        Search::parse(&TASK, &q(pairs), false)
            .unwrap()
            .answer("/fhir", tasks(), &[])
    }

    #[test]
    fn a_comma_is_or_and_a_repeated_parameter_is_and() {
        assert_eq!(
            ids(&run(&[("status", "requested,accepted,in-progress")])),
            ["3", "2", "1"]
        );
        assert_eq!(
            ids(&run(&[
                ("status", "requested,accepted,in-progress"),
                ("owner", "Practitioner/ann")
            ])),
            ["3", "1"]
        );
        assert_eq!(
            ids(&run(&[("status", "requested"), ("status", "accepted")])),
            Vec::<String>::new()
        );
        assert_eq!(ids(&run(&[("status:not", "completed")])), ["3", "2", "1"]);
    }

    #[test]
    fn tokens_take_a_system_no_system_or_any() {
        assert_eq!(ids(&run(&[("code", "urn:remit:activity|obs")])).len(), 4);
        assert_eq!(ids(&run(&[("code", "obs")])).len(), 4);
        assert_eq!(ids(&run(&[("code", "|obs")])).len(), 0);
        assert_eq!(ids(&run(&[("code", "http://loinc.org|obs")])).len(), 0);
        assert_eq!(ids(&run(&[("status", "|requested")])), ["1"]);
    }

    #[test]
    fn dates_take_prefixes_and_precision() {
        assert_eq!(ids(&run(&[("authored-on", "2026-12-02")])), ["2"]);
        assert_eq!(ids(&run(&[("authored-on", "ge2026-12-02")])), ["4", "3", "2"]);
        assert_eq!(ids(&run(&[("authored-on", "gt2026-12-02")])), ["4", "3"]);
        assert_eq!(ids(&run(&[("authored-on", "lt2026-12-02")])), ["1"]);
        assert_eq!(ids(&run(&[("authored-on", "le2026-12-02")])), ["2", "1"]);
        assert_eq!(ids(&run(&[("authored-on", "ne2026-12-02")])), ["4", "3", "1"]);
        assert_eq!(ids(&run(&[("authored-on", "2026-12")])).len(), 4);
        assert_eq!(ids(&run(&[("authored-on", "2025")])).len(), 0);
        assert_eq!(
            ids(&run(&[
                ("authored-on", "ge2026-12-02T10:00:00+01:00"),
                ("authored-on", "lt2026-12-04")
            ])),
            ["3", "2"]
        );
        assert_eq!(ids(&run(&[("_lastUpdated", "gt2026-12-03T08:59Z")])), ["4", "3"]);
        let e = Search::parse(&TASK, &q(&[("authored-on", "yesterday")]), false).unwrap_err();
        assert_eq!(e.expression.as_deref(), Some("authored-on"));
    }

    #[test]
    fn pages_follow_a_cursor_unshifted_by_new_writes() {
        let first = run(&[("_count", "2")]);
        assert_eq!(ids(&first), ["4", "3"]);
        assert_eq!(first["total"], 4);
        let next = first["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let page = next.split("_page=").nth(1).unwrap();
        let page = page.replace("%7E", "~");
        // A task written between the pages does not shift the second.
        let mut more = tasks();
        more.push(task(5, "requested", "ann", "2026-12-05T09:00:00Z"));
        let second = Search::parse(&TASK, &q(&[("_count", "2"), ("_page", &page)]), false)
            .unwrap()
            .answer("/fhir", more.clone(), &[]);
        assert_eq!(ids(&second), ["2", "1"]);
        let prev = second["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "previous")
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .split("_page=")
            .nth(1)
            .unwrap()
            .replace("%7E", "~");
        let back = Search::parse(&TASK, &q(&[("_count", "2"), ("_page", &prev)]), false)
            .unwrap()
            .answer("/fhir", more, &[]);
        assert_eq!(ids(&back), ["4", "3"]);
        for bad in ["zz", "a", "b", "a~", "a~1~2~3~4~5~6"] {
            assert!(Search::parse(&TASK, &q(&[("_page", bad)]), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn sort_summary_include_and_unknown_parameters() {
        assert_eq!(ids(&run(&[("_sort", "authored-on")])), ["1", "2", "3", "4"]);
        assert_eq!(ids(&run(&[("_sort", "-_id")])), ["4", "3", "2", "1"]);
        assert!(Search::parse(&TASK, &q(&[("_sort", "owner")]), false).is_err());
        let count = run(&[("_summary", "count"), ("owner", "ann")]);
        assert_eq!(count["total"], 2);
        assert!(count.get("entry").is_none());
        let e = Search::parse(&TASK, &q(&[("colour", "red")]), false).unwrap_err();
        assert!(e.diagnostics.contains("lenient"), "{}", e.diagnostics);
        let lenient = Search::parse(&TASK, &q(&[("colour", "red"), ("owner", "ann")]), true).unwrap();
        assert_eq!(lenient.ignored, ["colour"]);
        let b = lenient.answer("/fhir", tasks(), &[]);
        assert_eq!(ids(&b), ["3", "1"]);
        assert!(!b["link"][0]["url"].as_str().unwrap().contains("colour"));
        let patient = json!({"resourceType": "Patient", "id": "9990001375"});
        let b = Search::parse(&TASK, &q(&[("_include", "Task:patient")]), false)
            .unwrap()
            .answer("/fhir", tasks(), std::slice::from_ref(&patient));
        let included: Vec<_> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["search"]["mode"] == "include")
            .collect();
        assert_eq!(included.len(), 1);
        assert!(Search::parse(&TASK, &q(&[("_include", "Task:owner")]), false).is_err());
        // The patient a search must name.
        assert!(Search::parse(&OBSERVATION, &q(&[("code", "9279-1")]), false).is_err());
    }

    #[test]
    fn escaped_commas_stay_in_the_value() {
        assert_eq!(split_values(r"a\,b,c"), ["a,b", "c"]);
    }
}
