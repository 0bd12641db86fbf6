//! FHIR vital signs: `POST /fhir` (a transaction Bundle of a set), `POST /fhir/Observation` (one sign),
//! `GET /fhir/Observation/{id}`, Observation search, and `Patient` read and search. Recording goes through
//! `remit_services::obs::record`, so the policy, the scale 2 rule and escalation are the same as every other way in.

use crate::AppState;
use crate::http::auth::{Actor, Claimed};
use crate::http::fhir::{FhirError, done, fhir_json, invalid, parse_body};
use crate::http::gate::{BreakGlass, Opened, open_record};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_domain::time::parse_instant;
use remit_fhir::obs::{IncomingSet, parse_id, parts_for_code, total_to_fhir};
use remit_fhir::{Issue, NHS_NUMBER_SYSTEM, searchset};
use remit_services::obs;
use remit_services::obs::{RecordSet, Recorded};
use remit_services::scope::Outcome;
use remit_store::Versions;
use remit_store::obs::SetVersions;
use serde_json::Value;

async fn record(
    state: &AppState,
    actor: &Actor,
    under: Option<Versions>,
    set: IncomingSet,
    supervisor: Option<Username>,
    at: &str,
) -> Result<Recorded, FhirError> {
    let taken_at = parse_instant("effectiveDateTime", &set.effective)
        .map_err(|e| invalid(Issue::new("value", e.to_string()).at(format!("{at}.effectiveDateTime"))))?;
    let r = RecordSet {
        patient: set.patient,
        by: actor.profile.staff.username.clone(),
        supervisor,
        taken_at: Some(taken_at),
        readings: set.readings,
        scale: None,
    };
    match obs::record(
        &state.store.under(under),
        &state.pack,
        &r,
        &actor.audit_name(),
        Some(&actor.principal),
    )
    .await?
    {
        Outcome::Refused(reasons) => Err(FhirError::forbidden(reasons)),
        Outcome::Done(done) => Ok(done),
    }
}

/// `POST /fhir`: a transaction Bundle of one set. The answer is a `transaction-response` with each Observation's
/// location, then the NEWS2 total Observation.
///
/// A bearer token's holder the server keeps is taken as kept ([`Claimed::provisional`]): the set is written only if
/// its commit finds nothing changed since they were read. Any other outcome (a refusal, bad input, something
/// changed) is not answered until they are confirmed by a query, and the set is then decided again on what the
/// database holds now, as on every other route.
// Not instrumented itself: the request's span is current here, to be given the staff member once confirmed.
pub(crate) async fn transaction(
    State(state): State<AppState>,
    claimed: Claimed,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (actor, under) = claimed.provisional();
    let first = record_bundle(&state, actor, under, &headers, &body).await;
    match first {
        Ok(res) => {
            claimed.committed();
            res
        }
        Err(e) if under.is_none() => e.into_response(),
        Err(e) => match claimed.confirm_by_query(&state).await {
            Err(denied) => denied.into_response(),
            // Answered in the 4xx range, nothing was written: decided again for the holder as they are now.
            Ok(actor) if e.is_client_error() => match record_bundle(&state, &actor, None, &headers, &body).await {
                Ok(res) => res,
                Err(e) => e.into_response(),
            },
            // A failure of the server's own (the commit's outcome may be unknown): answered, not tried again.
            Ok(_) => e.into_response(),
        },
    }
}

#[tracing::instrument(skip_all)]
async fn record_bundle(
    state: &AppState,
    actor: &Actor,
    under: Option<Versions>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(headers, body, &["application/fhir+json", "application/json"])?;
    let set = remit_fhir::obs::bundle_to_set(&v).map_err(invalid)?;
    let supervisor = remit_fhir::obs::bundle_supervisor(&v, &actor.profile.staff.username).map_err(invalid)?;
    let done = record(state, actor, under, set, supervisor, "Bundle.entry[0].resource").await?;
    let total = total_to_fhir(&done.set);
    let answer = remit_fhir::obs::transaction_response(&v, &done.set, &total);
    let mut res = fhir_json(StatusCode::OK, &answer);
    escalation_header(&mut res, &done);
    Ok(res)
}

fn escalation_header(res: &mut Response, done: &Recorded) {
    if let Some(e) = &done.escalation
        && let Ok(v) = HeaderValue::from_str(&format!("{} {}", e.id, e.level.as_str()))
    {
        res.headers_mut().insert("x-remit-escalation", v);
    }
}

/// `POST /fhir/Observation`: one vital sign, recorded as a set of one (the other parameters not obtained). The
/// answer is the created Observation; the NEWS2 total Observation is named in the `Link` header.
#[tracing::instrument(skip_all)]
pub(crate) async fn create_observation(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(&headers, &body, &["application/fhir+json", "application/json"])?;
    let (set, part) = remit_fhir::obs::observation_to_set(&v).map_err(invalid)?;
    let me = actor.profile.staff.username.clone();
    let supervisor = remit_fhir::obs::supervisor(&v, &me, "Observation").map_err(invalid)?;
    let done = record(&state, &actor, None, set, supervisor, "Observation").await?;
    let id = format!("{}-{part}", done.set.id);
    let created = remit_fhir::obs::observation_of(&done.set, part).unwrap_or(Value::Null);
    let mut res = fhir_json(StatusCode::CREATED, &created);
    if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/Observation/{id}")) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    if let Ok(link) = HeaderValue::from_str(&format!("</fhir/Observation/{}-news2>; rel=\"related\"", done.set.id)) {
        res.headers_mut().insert(header::LINK, link);
    }
    escalation_header(&mut res, &done);
    Ok(res)
}

fn not_found(id: &str) -> FhirError {
    FhirError::with(
        StatusCode::NOT_FOUND,
        vec![Issue::new(
            "not-found",
            format!("no Observation `{}`", id.chars().take(40).collect::<String>()),
        )],
    )
}

/// `GET /fhir/Observation/{id}`.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_observation(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let (version, part) = parse_id(&id).ok_or_else(|| not_found(&id))?;
    let set = state.store.obs_version(version).await.map_err(|_| not_found(&id))?;
    done(open_record(&state, &actor, &set.patient, &bg).await?)?;
    let r = remit_fhir::obs::observation_of(&set, part).ok_or_else(|| not_found(&id))?;
    Ok(fhir_json(StatusCode::OK, &r))
}

fn bad_param(name: &str, msg: impl Into<String>) -> FhirError {
    FhirError::with(
        StatusCode::BAD_REQUEST,
        vec![Issue::new("value", msg).at(name.to_owned())],
    )
}

fn patient_param(v: &str) -> Result<NhsNumber, FhirError> {
    let raw = v.strip_prefix("Patient/").unwrap_or(v);
    let raw = raw.strip_prefix(&format!("{NHS_NUMBER_SYSTEM}|")).unwrap_or(raw);
    NhsNumber::parse(raw).map_err(|e| bad_param("patient", e.to_string()))
}

/// `GET /fhir/Observation?patient=…&code=…&date=ge…&_sort=-date&_count=…`: the patient's current observations,
/// newest first.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_observations(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let mut patient = None;
    let mut parts: Option<Vec<&'static str>> = None;
    let mut since = None;
    let mut count: i64 = 50;
    for (k, v) in &params {
        match k.as_str() {
            "patient" | "subject" => patient = Some(patient_param(v)?),
            "code" => {
                let mut all = Vec::new();
                for c in v.split(',') {
                    all.extend(parts_for_code(c).ok_or_else(|| {
                        bad_param(
                            "code",
                            format!(
                                "`{}` is not a code remit records",
                                c.chars().take(40).collect::<String>()
                            ),
                        )
                    })?);
                }
                parts = Some(all);
            }
            "date" => {
                let d = v
                    .strip_prefix("ge")
                    .ok_or_else(|| bad_param("date", "only `ge` (on or after) is supported: date=geYYYY-MM-DD"))?;
                let instant = if d.len() == 10 {
                    format!("{d}T00:00:00Z")
                } else {
                    d.to_owned()
                };
                since = Some(parse_instant("date", &instant).map_err(|e| bad_param("date", e.to_string()))?);
            }
            "_sort" => {
                if v != "-date" {
                    return Err(bad_param("_sort", "only `-date` (newest first) is supported"));
                }
            }
            "_count" => {
                count = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad_param("_count", "must be a whole number 1-1000"))?;
            }
            other => {
                return Err(bad_param(
                    other,
                    format!(
                        "`{}` is not a search parameter of Observation here (patient, code, date, _sort, _count)",
                        other.chars().take(40).collect::<String>()
                    ),
                ));
            }
        }
    }
    let patient = patient.ok_or_else(|| bad_param("patient", "name the patient: patient=Patient/{NHS number}"))?;
    let record = done(open_record(&state, &actor, &patient, &bg).await?)?;
    let sets = state
        .store
        .obs_for_patient(record.id, since, count, SetVersions::Current)
        .await?;
    let count = usize::try_from(count).unwrap_or(0);
    let mut found = Vec::new();
    for s in &sets {
        found.extend(remit_fhir::obs::searched(s, parts.as_deref()));
        if found.len() >= count {
            break;
        }
    }
    found.truncate(count);
    Ok(fhir_json(StatusCode::OK, &searchset(found)))
}

/// `GET /fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|…`.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_patients(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let mut nhs = None;
    for (k, v) in &params {
        match k.as_str() {
            "identifier" | "_id" => nhs = Some(patient_param(v)?),
            other => {
                return Err(bad_param(
                    other,
                    "not a search parameter of Patient here (identifier, _id)",
                ));
            }
        }
    }
    let nhs = nhs.ok_or_else(|| {
        bad_param(
            "identifier",
            "search by identifier=https://fhir.nhs.uk/Id/nhs-number|{number}",
        )
    })?;
    // Asked first: a patient there is not is refused as one the reader may not see, unless they may (break-glass),
    // when the search finds nobody.
    let found = match open_record(&state, &actor, &nhs, &bg)
        .await
        .map_err(FhirError::from)
        .and_then(done)
    {
        Ok(record) => vec![remit_fhir::obs::patient_to_fhir(&record.patient)],
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(fhir_json(StatusCode::OK, &searchset(found)))
}

/// `GET /fhir/Patient/{nhs_number}`: opened by the patient gate.
pub(crate) async fn read_patient(Opened(record): Opened) -> Response {
    fhir_json(StatusCode::OK, &remit_fhir::obs::patient_to_fhir(&record.patient))
}
