//! FHIR vital signs: `POST /fhir` (a transaction Bundle of a set), `POST /fhir/Observation` (one sign),
//! `GET /fhir/Observation/{id}`, Observation search, and `Patient` read and search. Recording goes through
//! `remit_services::obs::record`, so the policy, the scale 2 rule and escalation are the same as every other way in.

use crate::AppState;
use crate::http::auth::{Actor, Claimed};
use crate::http::fhir::{
    FhirError, JSON, done, fhir_json, invalid, parse_body, patients_of, readable_patients, search_answer, search_of,
    searched_patients,
};
use crate::http::gate::{BreakGlass, Opened, open_record};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_domain::time::parse_instant;
use remit_fhir::obs::{IncomingSet, parse_id};
use remit_fhir::{Issue, search};
use remit_services::obs;
use remit_services::obs::{RecordSet, Recorded};
use remit_services::scope;
use remit_services::scope::Outcome;
use remit_store::Versions;
use remit_store::obs::{EscalationFilter, EscalationView, SetVersions, SetView};
use remit_store::patient::PatientRecord;
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
/// database holds now, as on every other route. A conditional create reads what is recorded before it writes, so its
/// holder is confirmed first; whether the Bundle asks for one is read from the parsed body, however its keys are
/// written.
// Not instrumented itself: the request's span is current here, to be given the staff member once confirmed.
pub(crate) async fn transaction(
    State(state): State<AppState>,
    claimed: Claimed,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = parse_body(&headers, &body, &["application/fhir+json", "application/json"])
        .map(|v| (remit_fhir::obs::if_none_exist(&v), v));
    let v = match parsed {
        Ok((conditions, v)) if conditions.is_empty() => v,
        // Conditional, or not a body at all: answered only to a holder confirmed.
        other => {
            return match claimed.confirm_by_query(&state).await {
                Err(denied) => denied.into_response(),
                Ok(actor) => match other {
                    Ok((conditions, v)) => answer(record_bundle(&state, &actor, None, &v, &conditions).await),
                    Err(e) => e.into_response(),
                },
            };
        }
    };
    let (actor, under) = claimed.provisional();
    match record_bundle(&state, actor, under, &v, &[]).await {
        Ok(res) => {
            claimed.committed();
            res
        }
        Err(e) if under.is_none() => e.into_response(),
        Err(e) => match claimed.confirm_by_query(&state).await {
            Err(denied) => denied.into_response(),
            // Answered in the 4xx range, nothing was written: decided again for the holder as they are now.
            Ok(actor) if e.is_client_error() => answer(record_bundle(&state, &actor, None, &v, &[]).await),
            // A failure of the server's own (the commit's outcome may be unknown): answered, not tried again.
            Ok(_) => e.into_response(),
        },
    }
}

fn answer(r: Result<Response, FhirError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// Records the set of a transaction Bundle `v`, whose entries' `ifNoneExist` are `conditions` (read once, by the
/// caller, which confirms the holder first when there are any).
#[tracing::instrument(skip_all)]
async fn record_bundle(
    state: &AppState,
    actor: &Actor,
    under: Option<Versions>,
    v: &remit_fhir::Json<'_>,
    conditions: &[(String, String)],
) -> Result<Response, FhirError> {
    let set = remit_fhir::obs::bundle_to_set(v).map_err(invalid)?;
    let supervisor = remit_fhir::obs::bundle_supervisor(v, &actor.profile.staff.username).map_err(invalid)?;
    // Conditional creates take turns, so that two copies of one retry do not both find nothing and both record.
    let _turn = match conditions.is_empty() {
        true => None,
        false => Some(CONDITIONAL.lock().await),
    };
    if let Some(there) = existing_set(state, actor, conditions, &set).await? {
        // Recorded already: answered as it was, and nothing is written.
        let answer = remit_fhir::obs::transaction_response(v, &there, "200 OK");
        return Ok(fhir_json(StatusCode::OK, &answer));
    }
    let done = record(state, actor, under, set, supervisor, "Bundle.entry[0].resource").await?;
    let answer = remit_fhir::obs::transaction_response(v, &done.set, "201 Created");
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
    let mut _turn = None;
    if let Some(condition) = headers.get("if-none-exist") {
        let condition = condition
            .to_str()
            .map_err(|_| FhirError::bad(Issue::new("value", "If-None-Exist is not text")))?;
        let conditions = [("If-None-Exist".to_owned(), condition.to_owned())];
        _turn = Some(CONDITIONAL.lock().await);
        if let Some(there) = existing_set(&state, &actor, &conditions, &set).await? {
            let r = remit_fhir::obs::observation_of(&there, part).unwrap_or(Value::Null);
            return Ok(versioned(StatusCode::OK, &r));
        }
    }
    let done = record(&state, &actor, None, set, supervisor, "Observation").await?;
    let id = format!("{}-{part}", done.set.set_id);
    let created = remit_fhir::obs::observation_of(&done.set, part).unwrap_or(Value::Null);
    let mut res = fhir_json(StatusCode::CREATED, &created);
    if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/Observation/{id}")) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    if let Ok(link) = HeaderValue::from_str(&format!(
        "</fhir/Observation/{}-news2>; rel=\"related\"",
        done.set.set_id
    )) {
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

/// A set's stored versions, oldest first, and the part, from an Observation's id (`{set}-{part}`; the id of a later
/// version, as remit gave before a set's versions were FHIR versions, finds the same set).
async fn set_of(state: &AppState, id: &str) -> Result<(Vec<SetView>, &'static str), FhirError> {
    let (n, part) = parse_id(id).ok_or_else(|| not_found(id))?;
    let part = remit_fhir::obs::PARTS
        .iter()
        .map(|p| p.0)
        .chain(["news2"])
        .find(|p| *p == part)
        .ok_or_else(|| not_found(id))?;
    let version = state.store.obs_version(n).await.map_err(|_| not_found(id))?;
    let history = state
        .store
        .obs_history(version.set_id)
        .await
        .map_err(|_| not_found(id))?;
    Ok((history, part))
}

/// [`set_of`], for a reader the policy lets read the patient's record.
async fn readable_set(
    state: &AppState,
    actor: &Actor,
    bg: &BreakGlass,
    id: &str,
) -> Result<(Vec<SetView>, &'static str), FhirError> {
    let (history, part) = set_of(state, id).await?;
    done(open_record(state, actor, &history[0].patient, bg).await?)?;
    Ok((history, part))
}

/// A resource answered with its version as the `ETag`.
fn versioned(status: StatusCode, r: &Value) -> Response {
    let mut res = fhir_json(status, r);
    if let Some(v) = r["meta"]["versionId"].as_str()
        && let Ok(tag) = HeaderValue::from_str(&format!("W/\"{v}\""))
    {
        res.headers_mut().insert(header::ETAG, tag);
    }
    res
}

/// `GET /fhir/Observation/{id}`: the Observation as it stands now, its version in `meta.versionId` and the `ETag`.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_observation(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let (history, part) = readable_set(&state, &actor, &bg, &id).await?;
    let now = history.last().ok_or_else(|| not_found(&id))?;
    let r = remit_fhir::obs::observation_of(now, part).ok_or_else(|| not_found(&id))?;
    Ok(versioned(StatusCode::OK, &r))
}

/// `GET /fhir/Observation/{id}/_history`: every version, newest first: each amendment, and the set marked entered
/// in error.
#[tracing::instrument(skip_all)]
pub(crate) async fn observation_history(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let (history, part) = readable_set(&state, &actor, &bg, &id).await?;
    let versions = remit_fhir::obs::versions_of(&history, part);
    Ok(fhir_json(StatusCode::OK, &remit_fhir::obs::history_bundle(versions)))
}

/// `GET /fhir/Observation/{id}/_history/{vid}`: one version.
#[tracing::instrument(skip_all)]
pub(crate) async fn observation_version(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path((id, vid)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let (history, part) = readable_set(&state, &actor, &bg, &id).await?;
    let wanted = vid
        .parse::<usize>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| not_found(&id))?;
    let versions = remit_fhir::obs::versions_of(&history, part);
    let r = versions.get(wanted - 1).ok_or_else(|| {
        FhirError::new(
            StatusCode::NOT_FOUND,
            Issue::new("not-found", format!("Observation {id} has no version {wanted}")),
        )
    })?;
    Ok(versioned(StatusCode::OK, r))
}

/// The version an `If-Match` names (`W/"3"` or `"3"`): required of an update, so that a correction is never made to
/// a version its author has not seen.
fn if_match(headers: &HeaderMap) -> Result<i64, FhirError> {
    let raw = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            FhirError::new(
                StatusCode::PRECONDITION_REQUIRED,
                Issue::new(
                    "required",
                    "send If-Match with the version you are correcting (the ETag of your read: W/\"{version}\")",
                ),
            )
        })?;
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| FhirError::bad(Issue::new("value", "If-Match must be a version: W/\"{version}\"")))
}

/// A correction that lost the race to another (the version it named stopped being current before its commit): 412,
/// as for a stale `If-Match`.
fn stale(e: remit_store::StoreError) -> FhirError {
    match e {
        remit_store::StoreError::Conflict(m) => {
            FhirError::new(StatusCode::PRECONDITION_FAILED, Issue::new("conflict", m))
        }
        other => other.into(),
    }
}

/// `PUT /fhir/Observation/{id}` with `If-Match`: a correction of one parameter of a set (a new version of the set,
/// re-scored; the reason in `note[0].text`), or, with `status` `entered-in-error`, the set marked entered in error.
/// A stale `If-Match` is refused with 412 and nothing changes.
#[tracing::instrument(skip_all)]
pub(crate) async fn update_observation(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let expected = if_match(&headers)?;
    let v = parse_body(&headers, &body, JSON)?;
    let (history, part) = set_of(&state, &id).await?;
    let now = history.last().ok_or_else(|| not_found(&id))?;
    let reason = v
        .pointer("/note/0/text")
        .and_then(remit_fhir::Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let by = actor.profile.staff.username.clone();
    let status = v.get("status").and_then(remit_fhir::Json::as_str);
    // The body is the resource at this address, as FHIR says an update's must be.
    if v.get("id").and_then(remit_fhir::Json::as_str) != Some(id.as_str()) {
        return Err(FhirError::bad(
            Issue::new(
                "value",
                format!(
                    "the body's id must be `{}`, as in the address",
                    id.chars().take(40).collect::<String>()
                ),
            )
            .at("Observation.id"),
        ));
    }
    // Who may not read the patient's record is refused before anything they sent is judged, and a version they may
    // not see says nothing.
    done(scope::open_record(&state.store, &state.pack, &actor, &now.patient, None, None).await?)?;
    if remit_fhir::obs::version_id(now) != expected || now.state != "current" {
        return Err(FhirError::new(
            StatusCode::PRECONDITION_FAILED,
            Issue::new(
                "conflict",
                format!(
                    "Observation {id} is at version {} ({}), not {expected}: read it again before correcting it",
                    remit_fhir::obs::version_id(now),
                    if now.state == "current" {
                        "current"
                    } else {
                        now.state.as_str()
                    }
                ),
            ),
        ));
    }
    if reason.trim().is_empty() {
        return Err(invalid(
            Issue::new(
                "required",
                "say why the observation is being corrected, in note[0].text",
            )
            .at("Observation.note"),
        ));
    }
    if status == Some("entered-in-error") {
        // A set is recorded, scored and escalated whole: it is marked entered in error through its NEWS2 total, and
        // only for the patient it is of.
        if part != "news2" {
            return Err(invalid(
                Issue::new(
                    "not-supported",
                    format!(
                        "a set is marked entered in error as a whole, through its NEWS2 total (Observation \
                         {}-news2); to say one reading was not obtained, correct it with a dataAbsentReason",
                        now.set_id
                    ),
                )
                .at("Observation.status"),
            ));
        }
        if remit_fhir::clinical::subject_if_readable(&v).as_ref() != Some(&now.patient) {
            return Err(invalid(
                Issue::new("value", "the body's subject must be the set's patient").at("Observation.subject"),
            ));
        }
        let set = done(
            obs::entered_in_error(&state.store, &state.pack, now.id, &by, &reason, &actor.audit_name())
                .await
                .map_err(stale)?,
        )?;
        let r = remit_fhir::obs::observation_of(&set, part).ok_or_else(|| not_found(&id))?;
        return Ok(versioned(StatusCode::OK, &r));
    }
    if part == "news2" {
        return Err(invalid(
            Issue::new(
                "not-supported",
                "the NEWS2 total is derived: correct the parameter it is derived from",
            )
            .at("Observation.code"),
        ));
    }
    let (incoming, posted) = remit_fhir::obs::observation_for_update(&v).map_err(invalid)?;
    if posted != part || incoming.patient != now.patient {
        return Err(invalid(
            Issue::new(
                "value",
                format!("the body must be Observation {id}: the same patient and code"),
            )
            .at("Observation.code"),
        ));
    }
    let supervisor = remit_fhir::obs::supervisor(&v, &by, "Observation").map_err(invalid)?;
    let a = obs::Amendment {
        version: now.id,
        by,
        supervisor,
        readings: remit_fhir::obs::amended_readings(&now.readings, part, &incoming.readings),
        reason,
    };
    let done = done(
        obs::amend(&state.store, &state.pack, &a, &actor.audit_name())
            .await
            .map_err(stale)?,
    )?;
    let r = remit_fhir::obs::observation_of(&done.set, part).ok_or_else(|| not_found(&id))?;
    let mut res = versioned(StatusCode::OK, &r);
    escalation_header(&mut res, &done);
    Ok(res)
}

/// The most set versions of one patient an Observation search reads: over two years of hourly observations.
const SETS_SEARCHED: i64 = 20_000;

/// The current Observations of opened records that a search may match: of the sets taken since the earliest date it
/// asks for.
async fn observations_of(
    state: &AppState,
    records: &[PatientRecord],
    search: &search::Search,
) -> Result<Vec<Value>, FhirError> {
    let since = search
        .earliest("date")
        .and_then(chrono::DateTime::from_timestamp_millis);
    let mut out = Vec::new();
    for record in records {
        let sets = state
            .store
            .obs_for_patient(record.id, since, SETS_SEARCHED, SetVersions::All)
            .await?;
        // Each set as it stands now: its current version, or the one marked entered in error.
        for s in sets.iter().filter(|s| s.state != "superseded") {
            // Kept only if they match, unless a page may include what a NEWS2 total is derived from.
            let keep_all = search.includes_anything();
            out.extend(
                remit_fhir::obs::searched(s)
                    .into_iter()
                    .filter(|r| keep_all || search.matches(r)),
            );
        }
    }
    Ok(out)
}

/// Held by a conditional create from its search to its write, so that this process does not record one retry twice.
/// Instances of remit do not share it: two copies of a retry sent at once to two instances can both be recorded.
static CONDITIONAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The set a conditional create's conditions (`If-None-Exist`, or a transaction's `ifNoneExist`: Observation
/// searches) find, if they find one: a client's retry of a set already recorded. Conditions that find more than one
/// set are refused with 412, as FHIR says; the patient each names is opened under the policy as a search would be.
async fn existing_set(
    state: &AppState,
    actor: &Actor,
    conditions: &[(String, String)],
    incoming: &IncomingSet,
) -> Result<Option<SetView>, FhirError> {
    let mut sets = std::collections::BTreeSet::new();
    for (at, condition) in conditions {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(condition.trim_start_matches('?').as_bytes())
            .into_owned()
            .collect();
        let search = search::Search::parse(&search::OBSERVATION, &pairs, false)
            .map_err(|e| invalid(Issue::new("value", format!("{at}: {}", e.diagnostics)).at(at.clone())))?;
        let mut records = Vec::new();
        for id in search.pinned(&["patient", "subject"]).unwrap_or_default() {
            let nhs =
                NhsNumber::parse(&id).map_err(|e| invalid(Issue::new("value", format!("{at}: {e}")).at(at.clone())))?;
            records.push(done(
                scope::open_record(&state.store, &state.pack, actor, &nhs, None, None).await?,
            )?);
        }
        for r in observations_of(state, &records, &search).await? {
            if search.matches(&r)
                && let Some((set, _)) = r["id"].as_str().and_then(parse_id)
            {
                sets.insert(set);
            }
        }
    }
    match sets.len() {
        0 => Ok(None),
        1 => {
            let set = sets.pop_first().unwrap_or_default();
            let history = state.store.obs_history(set).await?;
            let there = history.into_iter().last().ok_or_else(|| not_found("the set found"))?;
            // Only the same set, sent again, is answered as recorded: the conditions must not hide a different one.
            let taken = parse_instant("effectiveDateTime", &incoming.effective).ok();
            let same = there.patient == incoming.patient
                && taken.is_some_and(|t| parse_instant("taken_at", &there.taken_at).ok() == Some(t))
                && there.readings == incoming.readings
                && there.state == "current";
            if !same {
                return Err(FhirError::new(
                    StatusCode::PRECONDITION_FAILED,
                    Issue::new(
                        "duplicate",
                        format!(
                            "the conditions find Observation set {set}, which is not this set (its patient, time or \
                             readings differ, or it was corrected): nothing was recorded; make the conditions name \
                             this set (its patient, code and date=eq its effectiveDateTime)"
                        ),
                    ),
                ));
            }
            Ok(Some(there))
        }
        n => Err(FhirError::new(
            StatusCode::PRECONDITION_FAILED,
            Issue::new(
                "duplicate",
                format!("the conditions find {n} sets, not one: make them name the set (its patient, code and time)"),
            ),
        )),
    }
}

/// `GET /fhir/Observation?patient=…`: the patient's current observations, searched as FHIR says (see
/// `remit_fhir::search`), newest first unless sorted otherwise.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_observations(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::OBSERVATION, &headers, &params)?;
    let records = searched_patients(&state, &actor, &bg, &search).await?;
    let candidates = observations_of(&state, &records, &search).await?;
    let mut pool = patients_of(&records);
    if search.includes_anything() {
        pool.extend(candidates.iter().cloned());
    }
    Ok(search_answer(&state, &headers, &search, candidates, &pool))
}

/// `GET /fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|…` (or `_id`): the patients named, each as a
/// read of their record would be decided.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_patients(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::PATIENT, &headers, &params)?;
    let mut found = Vec::new();
    for id in search.pinned(&["identifier", "_id"]).unwrap_or_default() {
        let nhs =
            NhsNumber::parse(&id).map_err(|e| FhirError::bad(Issue::new("value", e.to_string()).at("identifier")))?;
        // Asked first: a patient there is not is refused as one the reader may not see, unless they may (break-glass),
        // when the search finds nobody.
        match open_record(&state, &actor, &nhs, &bg)
            .await
            .map_err(FhirError::from)
            .and_then(done)
        {
            Ok(record) => found.push(remit_fhir::obs::patient_to_fhir(&record.patient)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(search_answer(&state, &headers, &search, found, &[]))
}

/// `GET /fhir/Patient/{nhs_number}`: opened by the patient gate.
pub(crate) async fn read_patient(Opened(record): Opened) -> Response {
    fhir_json(StatusCode::OK, &remit_fhir::obs::patient_to_fhir(&record.patient))
}

/// An escalation as a Flag (see `remit_fhir::flag` for the mapping).
fn flag(e: &EscalationView) -> Value {
    let response = match &e.about {
        Some(about) => format!("NEWS2 {}: {} {about}", score_text(e.score), e.level.response()),
        None => format!("NEWS2 {}: {}", score_text(e.score), e.level.response()),
    };
    remit_fhir::flag::to_fhir(&remit_fhir::flag::Escalation {
        id: e.id,
        patient: &e.patient,
        place: &e.place,
        level: e.level.as_str(),
        response,
        set_id: e.set_id,
        state: &e.state,
        raised_at: &e.raised_at,
        last_at: e.history.last().map_or(e.raised_at.as_str(), |h| h.at.as_str()),
    })
}

fn score_text(score: Option<u8>) -> String {
    score.map_or_else(|| "not scored".to_owned(), |s| s.to_string())
}

/// `GET /fhir/Flag/{id}`: an escalation, for whoever may read its patient's record.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_flag(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let missing = || crate::http::fhir::not_found("Flag");
    let id: i64 = id.parse().map_err(|_| missing())?;
    let e = state.store.escalation(id).await.map_err(|_| missing())?;
    done(open_record(&state, &actor, &e.patient, &bg).await?)?;
    Ok(fhir_json(StatusCode::OK, &flag(&e)))
}

/// `GET /fhir/Flag?…`: escalations as Flags, newest change first: a patient's (`patient=`, decided as a read of their
/// record), or every one the reader may read (`status=active` for those still standing, `location=` for a place's).
#[tracing::instrument(skip_all)]
pub(crate) async fn search_flags(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::FLAG, &headers, &params)?;
    let open = search.one("status").as_deref() == Some("active");
    let place = search.one("location");
    let mut candidates = Vec::new();
    let pool;
    if search.pinned(&["patient", "subject"]).is_some() {
        let records = searched_patients(&state, &actor, &bg, &search).await?;
        for r in &records {
            let f = EscalationFilter {
                open,
                place: place.clone(),
                patient: Some(r.patient.nhs_number.clone()),
            };
            candidates.extend(state.store.escalations(&f).await?.iter().map(flag));
        }
        pool = patients_of(&records);
    } else {
        let f = EscalationFilter {
            open,
            place,
            patient: None,
        };
        let list = state.store.escalations(&f).await?;
        let pairs: Vec<_> = list.iter().map(|e| (e.patient.clone(), e.place.clone())).collect();
        let ok = scope::readable(&state.store, &state.pack, &actor.profile, &pairs).await?;
        let mut patients = Vec::new();
        for e in list.iter().filter(|e| ok.contains(&e.patient)) {
            let v = flag(e);
            if search.includes_anything() && search.matches(&v) {
                patients.push((e.patient.clone(), None));
            }
            candidates.push(v);
        }
        pool = readable_patients(&state, &actor, patients).await?;
    }
    Ok(search_answer(&state, &headers, &search, candidates, &pool))
}
