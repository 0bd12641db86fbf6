//! What FHIR routes share: the error answered as an OperationOutcome, the body's media type and parsing, and the
//! server's capability statement.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use crate::http::gate::{BreakGlass, open_record};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use remit_domain::nhs::NhsNumber;
use remit_fhir::search::{self, Search};
use remit_fhir::{Issue, Json, operation_outcome};
use remit_services::tasks::Outcome;
use remit_store::StoreError;
use remit_store::patient::PatientRecord;
use serde_json::Value;

/// An error answered as an OperationOutcome.
#[derive(Debug)]
pub struct FhirError {
    status: StatusCode,
    issues: Vec<Issue>,
}

impl FhirError {
    pub(crate) fn new(status: StatusCode, issue: Issue) -> Self {
        Self {
            status,
            issues: vec![issue],
        }
    }

    pub(crate) fn with(status: StatusCode, issues: Vec<Issue>) -> Self {
        Self { status, issues }
    }

    /// Whether it is the asker's to put right (4xx): nothing was written.
    pub(crate) fn is_client_error(&self) -> bool {
        self.status.is_client_error()
    }

    pub(crate) fn bad(issue: Issue) -> Self {
        Self::new(StatusCode::BAD_REQUEST, issue)
    }

    pub(crate) fn forbidden(reasons: Vec<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            issues: reasons.into_iter().map(|r| Issue::new("forbidden", r)).collect(),
        }
    }
}

impl FhirError {
    pub(crate) fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
    }
}

/// The one mapping of store errors to answers is `AppError`'s; FHIR says the same in an OperationOutcome.
impl From<StoreError> for FhirError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<AppError> for FhirError {
    fn from(e: AppError) -> Self {
        let status = e.status();
        let code = match &e {
            AppError::BadRequest(_) => "structure",
            AppError::Unprocessable(_) => "invalid",
            AppError::Unauthorized => "login",
            AppError::Forbidden(_) | AppError::Refused(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::TooManyRequests(_) => "throttled",
            AppError::TooLarge(_) => "too-costly",
            AppError::Internal(_) => "exception",
        };
        match e {
            AppError::Refused(reasons) => Self::forbidden(reasons),
            AppError::Internal(cause) => Self::new(status, Issue::new(code, crate::http::error::internal(&cause))),
            other => Self::new(status, Issue::new(code, other.to_string())),
        }
    }
}

impl From<remit_domain::InvalidValue> for FhirError {
    fn from(e: remit_domain::InvalidValue) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, Issue::new("value", e.to_string()))
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        fhir_json(self.status, &operation_outcome(&self.issues))
    }
}

pub(crate) fn fhir_json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    // Only remit's own values are written here, whose JSON cannot fail; were it to, the failure is the server's.
    let mut res = match serde_json::to_string(body) {
        Ok(text) => (status, text).into_response(),
        Err(e) => {
            tracing::error!("an answer could not be written as JSON: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    res
}

/// The body as a [`Json`] tree borrowing from it, if it is of an allowed media type and is JSON.
pub(crate) fn parse_body<'a>(headers: &HeaderMap, body: &'a Bytes, allowed: &[&str]) -> Result<Json<'a>, FhirError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !allowed.iter().any(|a| ct.starts_with(a)) {
        return Err(FhirError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Issue::new("not-supported", format!("send the body as {}", allowed.join(" or "))),
        ));
    }
    Json::parse(body).map_err(|e| FhirError::bad(Issue::new("structure", format!("the body is not valid JSON: {e}"))))
}

/// A request that does not read as FHIR: 400 for a structural problem, 422 for a wrong code or value.
pub(crate) fn invalid(issue: Issue) -> FhirError {
    let status = if matches!(issue.code, "structure" | "invalid") {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    FhirError::with(status, vec![issue])
}

/// `GET /fhir/metadata`: readable without signing in, as FHIR clients expect; it says what the server does, never
/// anything about a patient or a person.
pub(crate) async fn metadata(State(state): State<AppState>) -> Response {
    let date = remit_domain::time::format_instant(state.store.now());
    fhir_json(
        StatusCode::OK,
        &remit_fhir::capability::statement(env!("CARGO_PKG_VERSION"), &date[..10]),
    )
}

/// A search's query parsed against the resource's parameters: unknown parameters refused, or ignored when the
/// request says `Prefer: handling=lenient`.
pub(crate) fn search_of(
    resource: &'static search::Resource,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<Search, FhirError> {
    let lenient = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(str::trim))
        .any(|p| p.eq_ignore_ascii_case("handling=lenient"));
    Search::parse(resource, query, lenient).map_err(FhirError::bad)
}

/// The Bundle that answers a search over `candidates`, with what `_include` asks for found in `pool`; its links
/// absolute, as FHIR asks, at the address the request was sent to.
pub(crate) fn search_answer(
    state: &AppState,
    headers: &HeaderMap,
    search: &Search,
    candidates: Vec<Value>,
    pool: &[Value],
) -> Response {
    let base = format!("{}/fhir", origin(state, headers));
    fhir_json(StatusCode::OK, &search.answer(&base, candidates, pool))
}

/// `scheme://host` of the request (HTTPS where remit is configured to be reached over it), or nothing when its
/// Host is not a plain host name and port, so that links are then relative.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| {
        !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    });
    match host {
        Some(h) => format!("{}://{h}", if state.config.secure_cookies { "https" } else { "http" }),
        None => String::new(),
    }
}

/// The most patients one search may name.
const MAX_PATIENTS: usize = 20;

/// The patients a search names (`patient=`, `subject=`; a comma is OR), each opened under the policy as a read of
/// their record would be: refused for one, refused for the search.
pub(crate) async fn searched_patients(
    state: &AppState,
    actor: &Actor,
    bg: &BreakGlass,
    search: &Search,
) -> Result<Vec<PatientRecord>, FhirError> {
    let mut ids = search.pinned(&["patient", "subject"]).unwrap_or_default();
    ids.sort();
    ids.dedup();
    if ids.len() > MAX_PATIENTS {
        return Err(FhirError::bad(
            Issue::new(
                "too-costly",
                format!("name at most {MAX_PATIENTS} patients in one search"),
            )
            .at("patient"),
        ));
    }
    if bg.reason().is_some() && ids.len() > 1 {
        return Err(FhirError::bad(
            Issue::new("value", "break-glass opens one record at a time: name one patient").at("patient"),
        ));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let nhs = NhsNumber::parse(&id)
            .map_err(|e| FhirError::bad(Issue::new("value", format!("patient: {e}")).at("patient")))?;
        out.push(done(open_record(state, actor, &nhs, bg).await?)?);
    }
    Ok(out)
}

/// The Patient resources a search's page may include of `patients` (each with the place where the work happens, for
/// an X-ray request's department): those the reader may read, asked without an audit entry, as for what a list
/// leaves out.
pub(crate) async fn readable_patients(
    state: &AppState,
    actor: &Actor,
    patients: impl IntoIterator<Item = (NhsNumber, Option<remit_domain::place::PlaceCode>)>,
) -> Result<Vec<Value>, FhirError> {
    let me = &actor.profile.staff.username;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (nhs, place) in patients {
        if seen.contains(&nhs) {
            continue;
        }
        let mut may = remit_services::scope::may_read(&state.store, &state.pack, me, &nhs, None)
            .await?
            .permitted();
        if !may && place.is_some() {
            may = remit_services::scope::may_read(&state.store, &state.pack, me, &nhs, place)
                .await?
                .permitted();
        }
        if may {
            out.push(remit_fhir::obs::patient_to_fhir(&state.store.patient(&nhs).await?));
            seen.insert(nhs);
        }
    }
    Ok(out)
}

/// Answers a search of one kind of resource in the records of the patients it names (each opened under the policy
/// as a read would be): `of` reads one patient's resources, already as FHIR; their Patients are there to include.
pub(crate) async fn search_records<Fut>(
    state: &AppState,
    actor: &Actor,
    bg: &BreakGlass,
    headers: &HeaderMap,
    search: &Search,
    of: impl Fn(NhsNumber) -> Fut,
) -> Result<Response, FhirError>
where
    Fut: std::future::Future<Output = Result<Vec<Value>, StoreError>>,
{
    let records = searched_patients(state, actor, bg, search).await?;
    let mut candidates = Vec::new();
    for r in &records {
        candidates.extend(of(r.patient.nhs_number.clone()).await?);
    }
    Ok(search_answer(
        state,
        headers,
        search,
        candidates,
        &patients_of(&records),
    ))
}

/// The Patient resources of opened records, for `_include`.
pub(crate) fn patients_of(records: &[PatientRecord]) -> Vec<Value> {
    records
        .iter()
        .map(|r| remit_fhir::obs::patient_to_fhir(&r.patient))
        .collect()
}

pub(crate) fn value_at(at: &'static str) -> impl Fn(remit_domain::InvalidValue) -> FhirError {
    move |e| invalid(Issue::new("value", e.to_string()).at(at))
}

pub(crate) fn done<T>(o: Outcome<T>) -> Result<T, FhirError> {
    match o {
        Outcome::Done(v) => Ok(v),
        Outcome::Refused(reasons) => Err(FhirError::forbidden(reasons)),
    }
}

pub(crate) fn created(body: &Value, kind: &str) -> Response {
    let mut res = fhir_json(StatusCode::CREATED, body);
    if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/{kind}/{}", body["id"].as_str().unwrap_or_default())) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    res
}

/// The media types a FHIR body may be sent as.
pub(crate) const JSON: &[&str] = &["application/fhir+json", "application/json"];

pub(crate) fn not_found(kind: &str) -> FhirError {
    FhirError::with(
        StatusCode::NOT_FOUND,
        vec![Issue::new("not-found", format!("no such {kind}"))],
    )
}
