//! The one door to a patient named in a path: every route whose path carries a patient's NHS number (a parameter
//! named `nhs` or `nhs_number`) passes [`gate`] before its handler runs, so that a new route cannot forget to ask.
//!
//! The gate opens the patient's record to the signed-in person (`record.read`, [`scope::open_record`]) or refuses
//! with every reason, audited, in the form of the interface asked (a page, JSON, or a FHIR OperationOutcome). A
//! stated break-glass reason opens a record outside one's duty for reading only (GET). A patient who does not exist
//! and one the reader may not see are refused alike. Handlers take the opened record as [`Opened`].

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use crate::http::fhir::FhirError;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use remit_domain::nhs::NhsNumber;
use remit_fhir::Issue;
use remit_services::scope;
use remit_services::scope::Outcome;
use remit_store::StoreError;
use remit_store::patient::PatientRecord;

/// The path parameters that name a patient by NHS number.
pub(crate) const PATIENT_PARAMS: &[&str] = &["nhs", "nhs_number"];

/// The record of the patient named in the path, opened to the signed-in person by [`gate`].
#[derive(Clone)]
pub(crate) struct Opened(pub PatientRecord);

impl<S: Send + Sync> FromRequestParts<S> for Opened {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<Opened>()
            .ok_or_else(|| AppError::Internal("a handler asked for a patient the gate did not open".into()))
    }
}

/// How the route answers: which interface the path belongs to.
#[derive(Clone, Copy)]
enum Face {
    Page,
    Api,
    Fhir,
}

impl Face {
    fn of(path: &str) -> Self {
        if path.starts_with("/api/") {
            Face::Api
        } else if path.starts_with("/fhir/") {
            Face::Fhir
        } else {
            Face::Page
        }
    }

    fn refused(self, actor: &Actor, reasons: Vec<String>, break_glass: Option<String>) -> Response {
        match self {
            Face::Fhir => FhirError::forbidden(reasons).into_response(),
            Face::Api => AppError::Refused(reasons).into_response(),
            Face::Page => crate::http::pages::refused_record_page(actor, &reasons, break_glass)
                .unwrap_or_else(IntoResponse::into_response),
        }
    }

    fn error(self, e: StoreError) -> Response {
        match self {
            Face::Fhir => FhirError::from(e).into_response(),
            Face::Api | Face::Page => AppError::from(e).into_response(),
        }
    }

    fn not_a_number(self, e: remit_domain::InvalidValue) -> Response {
        match self {
            // FHIR: an id that is no NHS number names no Patient.
            Face::Fhir => {
                FhirError::with(StatusCode::NOT_FOUND, vec![Issue::new("not-found", "no such Patient")]).into_response()
            }
            Face::Api | Face::Page => AppError::from(e).into_response(),
        }
    }
}

/// The NHS number a route's path names, if any; a path parameter that cannot be read is refused (the gate fails
/// closed).
async fn patient_in_path(parts: &mut Parts) -> Result<Option<String>, Response> {
    use axum::extract::rejection::RawPathParamsRejection;
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => Ok(params
            .iter()
            .find(|(name, _)| PATIENT_PARAMS.contains(name))
            .map(|(_, value)| value.to_owned())),
        // A route without parameters.
        Err(RawPathParamsRejection::MissingPathParams(_)) => Ok(None),
        Err(e) => Err(AppError::BadRequest(format!("path: {}", e.body_text())).into_response()),
    }
}

/// Where else than the patient's ward a route's record may be opened: a patient's dose history is the imaging
/// department's record too, read there by those on duty in it.
fn also_at(state: &AppState, route: Option<&MatchedPath>) -> Option<remit_domain::place::PlaceCode> {
    let route = route?.as_str();
    if route != "/api/patients/{nhs_number}/dose-history" {
        return None;
    }
    remit_domain::place::PlaceCode::parse(&state.imaging.department).ok()
}

/// Opens the patient named in the path, or answers the refusal; routes naming no patient pass untouched.
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let raw = match patient_in_path(&mut parts).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(refused) => return refused,
    };
    let face = Face::of(parts.extensions.get::<MatchedPath>().map_or("", MatchedPath::as_str));
    let actor = match Actor::from_request_parts(&mut parts, &state).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let nhs = match NhsNumber::parse(&raw) {
        Ok(n) => n,
        Err(e) => return face.not_a_number(e),
    };
    // Break-glass opens a record for reading only.
    let reading = matches!(parts.method, Method::GET | Method::HEAD);
    let glass = if reading {
        BreakGlass::from_parts(&parts)
    } else {
        BreakGlass::default()
    };
    let also = also_at(&state, parts.extensions.get::<MatchedPath>());
    match scope::open_record(&state.store, &state.pack, &actor, &nhs, glass.reason(), also.as_ref()).await {
        Ok(Outcome::Done(record)) => {
            parts.extensions.insert(Opened(record));
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Outcome::Refused(reasons)) => {
            let again = reading.then(|| parts.uri.path().to_owned());
            face.refused(&actor, reasons, again)
        }
        Err(e) => face.error(e),
    }
}
/// A break-glass reason stated with a request: the `Remit-Break-Glass` header, or `break_glass` in the query (the
/// form on a refused page). Blank is not a reason.
#[derive(Debug, Clone, Default)]
pub struct BreakGlass(pub Option<String>);

/// The longest break-glass reason kept.
const BREAK_GLASS_MAX: usize = 500;

impl BreakGlass {
    pub fn reason(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub(crate) fn from_parts(parts: &axum::http::request::Parts) -> Self {
        let header = parts
            .headers
            .get("remit-break-glass")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "break_glass")
                .map(|(_, v)| v.into_owned())
        });
        let reason = header
            .or(query)
            .map(|r| r.trim().chars().take(BREAK_GLASS_MAX).collect::<String>());
        Self(reason.filter(|r| !r.is_empty()))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for BreakGlass {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// Opens the record of a patient named elsewhere than in the path (a set's patient, a search parameter) as the gate
/// opens one named in it: [`scope::open_record`], the refusal audited.
pub(crate) async fn open_record(
    state: &AppState,
    actor: &Actor,
    patient: &NhsNumber,
    break_glass: &BreakGlass,
) -> Result<Outcome<PatientRecord>, remit_store::StoreError> {
    scope::open_record(&state.store, &state.pack, actor, patient, break_glass.reason(), None).await
}
