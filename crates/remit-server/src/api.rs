//! The JSON API for what FHIR has no resource for. The OpenAPI document at `/api/openapi.json` is generated from
//! these handlers' annotations, so it cannot drift from them.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::routing::get;
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::{StaffProfile, Username};
use remit_policy::{ExamRegion, Supervision};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::scope::{self, Ask};

#[derive(OpenApi)]
#[openapi(
    info(title = "remit API", description = "Scope-of-practice checks and staff data for what FHIR has no resource for."),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Every API route, with its OpenAPI description.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me))
        .routes(routes!(scope_check))
        .routes(routes!(staff_scope))
        .routes(routes!(pay_check))
        .routes(routes!(crate::obs_api::record_set, crate::obs_api::list_sets))
        .routes(routes!(crate::obs_api::set_history))
        .routes(routes!(crate::obs_api::amend_set))
        .routes(routes!(crate::obs_api::set_entered_in_error))
        .routes(routes!(crate::obs_api::prescribe_scale2))
        .routes(routes!(crate::obs_api::overdue))
        .routes(routes!(crate::obs_api::escalations))
        .routes(routes!(crate::obs_api::acknowledge))
        .routes(routes!(crate::obs_api::review))
        .routes(routes!(crate::obs_api::score))
        .routes(routes!(crate::obs_api::missed))
        .routes(routes!(crate::obs_api::pregnancy))
        .routes(routes!(crate::imaging_api::refer))
        .routes(routes!(crate::imaging_api::show))
        .routes(routes!(crate::imaging_api::justify))
        .routes(routes!(crate::imaging_api::reject))
        .routes(routes!(crate::imaging_api::pregnancy))
        .routes(routes!(crate::imaging_api::expose))
        .routes(routes!(crate::imaging_api::report))
        .routes(routes!(crate::imaging_api::worklist))
        .routes(routes!(crate::imaging_api::dose_history))
        .routes(routes!(crate::imaging_api::operator_activity))
        .routes(routes!(crate::imaging_api::diagnose))
        .routes(routes!(crate::imaging_api::prescribe))
}

pub fn router() -> Router<AppState> {
    let (router, doc) = routes().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    router.route("/api/openapi.json", get(move || async move { Json((*doc).clone()) }))
}

/// The generated OpenAPI document, for tools that want it without a server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// Path parameters whose rejections are remit's errors: an id that cannot be one names nothing (404, JSON).
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(AppError::NotFound(format!("path: {}", e.body_text()))),
        }
    }
}

/// A JSON body whose rejections are remit's errors: 400 for malformed JSON, 422 naming the field otherwise.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
                Err(AppError::Unprocessable(format!("body: {detail}")))
            }
            Err(JsonRejection::JsonSyntaxError(_)) => Err(AppError::BadRequest("body: not valid JSON".into())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::BadRequest(
                "send the body as JSON with `Content-Type: application/json`".into(),
            )),
            Err(other) if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::TooLarge("body: larger than the server accepts".into()))
            }
            Err(other) => Err(AppError::BadRequest(format!("body: {}", other.body_text()))),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct ErrorBody {
    /// What was wrong, naming the field.
    error: String,
}

#[derive(Serialize, ToSchema)]
struct RegistrationView {
    regulator: String,
    number: String,
    expires_on: String,
    current: bool,
    annotations: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct CompetencyView {
    competency: String,
    signed_off_on: String,
    expires_on: String,
    valid: bool,
    revoked: bool,
}

/// A staff member as remit sees them now.
#[derive(Serialize, ToSchema)]
struct StaffView {
    username: String,
    name: String,
    job_title: String,
    /// Career Framework level 1-9; absent for staff with no clinical level.
    level: Option<u8>,
    trainee: bool,
    status: String,
    roles: Vec<String>,
    professional_bodies: Vec<String>,
    on_duty: Vec<String>,
    registrations: Vec<RegistrationView>,
    entitlements: Vec<String>,
    competencies: Vec<CompetencyView>,
}

impl StaffView {
    fn new(p: &StaffProfile, today: chrono::NaiveDate) -> Self {
        Self {
            username: p.staff.username.to_string(),
            name: p.staff.name.to_string(),
            job_title: p.staff.job_title.clone(),
            level: p.staff.level.map(|l| l.get()),
            trainee: p.staff.trainee,
            status: p.staff.status.to_string(),
            roles: p.staff.roles.iter().map(ToString::to_string).collect(),
            professional_bodies: p.staff.professional_bodies.clone(),
            on_duty: p.on_duty.iter().map(ToString::to_string).collect(),
            registrations: p
                .registrations
                .iter()
                .map(|r| RegistrationView {
                    regulator: r.regulator.to_string(),
                    number: r.number.clone(),
                    expires_on: r.expires_on.to_string(),
                    current: r.is_current(today),
                    annotations: r.annotations.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            entitlements: p.entitlements.iter().map(ToString::to_string).collect(),
            competencies: p
                .competencies
                .iter()
                .map(|c| CompetencyView {
                    competency: c.competency.to_string(),
                    signed_off_on: c.signed_off_on.to_string(),
                    expires_on: c.expires_on.to_string(),
                    valid: c.is_valid_on(today),
                    revoked: c.revoked,
                })
                .collect(),
        }
    }
}

/// The signed-in staff member: level, registrations, entitlements, duty and competencies as they stand now.
#[utoipa::path(get, path = "/api/me", tag = "staff",
    responses((status = 200, body = StaffView), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, actor: Actor) -> Json<StaffView> {
    Json(StaffView::new(&actor.profile, state.store.now().date_naive()))
}

/// A question about one action.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScopeCheckBody {
    /// The username of the person who would act.
    staff: String,
    /// The activity, e.g. `vitals.record`.
    action: String,
    /// The patient's NHS number.
    #[serde(default)]
    patient: Option<String>,
    /// For X-ray exposures: `chest`, `appendicular` or `axial`.
    #[serde(default)]
    exam: Option<String>,
    /// `none` (the default), `indirect` or `direct`.
    #[serde(default)]
    supervision: Option<String>,
    /// The username of the named supervisor.
    #[serde(default)]
    supervisor: Option<String>,
    /// A break-glass reason: opens a record outside the person's duty, and is audited.
    #[serde(default)]
    break_glass: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum DecisionValue {
    Permit,
    Deny,
}

/// The answer: every unmet requirement in the pack's own words.
#[derive(Serialize, ToSchema)]
struct ScopeDecision {
    decision: DecisionValue,
    reasons: Vec<String>,
    policies: Vec<String>,
}

fn parse_ask(b: &ScopeCheckBody) -> Result<Ask, AppError> {
    let mut ask = Ask::new(Username::parse(&b.staff)?, b.action.trim());
    ask.patient = b.patient.as_deref().map(NhsNumber::parse).transpose()?;
    ask.exam = b.exam.as_deref().map(ExamRegion::parse).transpose()?;
    ask.supervision = b
        .supervision
        .as_deref()
        .map(Supervision::parse)
        .transpose()?
        .unwrap_or(Supervision::None);
    ask.supervisor = b.supervisor.as_deref().map(Username::parse).transpose()?;
    if ask.supervision != Supervision::None && ask.supervisor.is_none() {
        return Err(AppError::Unprocessable(
            "supervisor: supervision `indirect` or `direct` needs the supervisor's username".into(),
        ));
    }
    ask.break_glass = match b.break_glass.as_deref().map(str::trim) {
        Some("") => return Err(AppError::Unprocessable("break_glass: state a reason".into())),
        other => other.map(str::to_owned),
    };
    // A check asks about the person, not a particular imaging request: the request is taken as justified.
    ask.request_justified = true;
    Ok(ask)
}

/// May this person do this, now, to this patient, under this supervision? The question and its answer are audited.
#[utoipa::path(post, path = "/api/scope/check", tag = "scope", request_body = ScopeCheckBody,
    responses(
        (status = 200, description = "The decision, with every unmet requirement", body = ScopeDecision),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The question names a patient whose record the asker may not read",
            body = ErrorBody),
        (status = 404, description = "Unknown staff member", body = ErrorBody),
        (status = 422, description = "A field is not valid", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn scope_check(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<ScopeCheckBody>,
) -> Result<Json<ScopeDecision>, AppError> {
    let ask = parse_ask(&body)?;
    // A question about someone else and a patient is asked only by those who may read that patient's record: the
    // answer would otherwise tell where the patient is (whoever is on duty there may read it).
    if let Some(nhs) = ask
        .patient
        .as_ref()
        .filter(|_| ask.staff != actor.profile.staff.username)
        && let scope::Outcome::Refused(reasons) =
            scope::open_record(&state.store, &state.pack, &actor, nhs, None, None).await?
    {
        return Err(AppError::Refused(reasons));
    }
    let d = scope::check_audited(&state.store, &state.pack, &actor.audit_name(), &ask).await?;
    Ok(Json(ScopeDecision {
        decision: if d.permitted() {
            DecisionValue::Permit
        } else {
            DecisionValue::Deny
        },
        reasons: d.reasons,
        policies: d.policies,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum SupervisionValue {
    None,
    Indirect,
    Direct,
}

#[derive(Serialize, ToSchema)]
struct ScopeLineView {
    activity: String,
    title: String,
    /// The examination region or competency this line is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// The least supervision under which the activity is allowed; null when it is not allowed at all.
    least_supervision: Option<SupervisionValue>,
    reasons: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct StaffScopeView {
    staff: String,
    name: String,
    level: Option<u8>,
    on_duty: Vec<String>,
    activities: Vec<ScopeLineView>,
}

/// What a person may do now: every activity with the least supervision it needs, and why not with less.
#[utoipa::path(get, path = "/api/staff/{username}/scope", tag = "scope",
    params(("username" = String, Path, description = "The staff member's username")),
    responses((status = 200, body = StaffScopeView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn staff_scope(
    State(state): State<AppState>,
    _actor: Actor,
    Path(username): Path<String>,
) -> Result<Json<StaffScopeView>, AppError> {
    let username = Username::parse(&username)?;
    let s = scope::show(&state.store, &state.pack, &username).await?;
    Ok(Json(StaffScopeView {
        staff: s.staff.to_string(),
        name: s.name,
        level: s.level,
        on_duty: s.on_duty,
        activities: s
            .activities
            .into_iter()
            .map(|l| ScopeLineView {
                activity: l.activity,
                title: l.title,
                detail: l.detail,
                least_supervision: l.least_supervision.map(|s| match s {
                    Supervision::None => SupervisionValue::None,
                    Supervision::Indirect => SupervisionValue::Indirect,
                    Supervision::Direct => SupervisionValue::Direct,
                }),
                reasons: l.reasons,
            })
            .collect(),
    }))
}

/// An offer to check. Every field is text as a person would type it; each is checked and named when wrong.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PayQuery {
    /// The Agenda for Change band: 2 to 9, or 8a to 8d.
    pub band: String,
    /// The annual salary offered, including any High Cost Area Supplement.
    pub salary: String,
    /// `none` (the default), `fringe`, `outer-london` or `inner-london`.
    #[serde(default)]
    pub area: Option<String>,
    /// Hours a week, 1 to 37.5 (the default).
    #[serde(default)]
    pub hours: Option<String>,
    /// Completed years in the band (0 by default).
    #[serde(default)]
    pub years_in_band: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum PayVerdict {
    Below,
    Within,
    Above,
}

/// What the post pays, and whether the offer is below, within or above it. Amounts are pounds a year.
#[derive(Serialize, ToSchema)]
struct PayCheckView {
    band: String,
    hours: f64,
    area: String,
    years_in_band: u32,
    basic_min: f64,
    basic_max: f64,
    expected_basic: f64,
    hcas: f64,
    expected_total_min: f64,
    expected_total_max: f64,
    offer: f64,
    verdict: PayVerdict,
    explanation: String,
    /// The table's title and the date it took effect.
    table: String,
    effective_from: String,
}

/// Is this job offer fair? Checks a salary against the Agenda for Change pay table.
#[utoipa::path(get, path = "/api/pay/check", tag = "pay", params(PayQuery),
    responses((status = 200, body = PayCheckView), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pay_check(
    State(state): State<AppState>,
    _actor: Actor,
    query: Result<axum::extract::Query<PayQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PayCheckView>, AppError> {
    let axum::extract::Query(q) = query.map_err(|e| {
        let text = e.body_text();
        let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
        AppError::Unprocessable(format!("query: {detail}"))
    })?;
    let table = &state.pay;
    let offer = remit_domain::pay::Offer::parse(
        table,
        &q.band,
        &q.salary,
        q.area.as_deref(),
        q.hours.as_deref(),
        q.years_in_band.as_deref(),
    )?;
    let c = table.check(&offer);
    Ok(Json(PayCheckView {
        band: c.band,
        hours: c.hours,
        area: c.area.as_str().to_owned(),
        years_in_band: c.years_in_band,
        basic_min: c.basic_min.pounds(),
        basic_max: c.basic_max.pounds(),
        expected_basic: c.expected_basic.pounds(),
        hcas: c.hcas.pounds(),
        expected_total_min: c.expected_total_min.pounds(),
        expected_total_max: c.expected_total_max.pounds(),
        offer: c.offer.pounds(),
        verdict: match c.verdict {
            remit_domain::pay::Verdict::Below => PayVerdict::Below,
            remit_domain::pay::Verdict::Within => PayVerdict::Within,
            remit_domain::pay::Verdict::Above => PayVerdict::Above,
        },
        explanation: c.explanation,
        table: table.title.clone(),
        effective_from: table.effective_from.to_string(),
    }))
}
