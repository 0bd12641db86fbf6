//! The JSON API about staff: who I am (`/api/me`), what a person may do now (`/api/staff/{username}/scope`), and a
//! scope question answered and audited (`/api/scope/check`).

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use crate::http::openapi::{ApiJson, ErrorBody};
use axum::Json;
use axum::extract::{Path, Query, State};
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::{StaffProfile, Username};
use remit_policy::{ExamRegion, Supervision};
use remit_services::scope;
use remit_services::scope::Ask;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
pub(crate) struct StaffView {
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
pub(crate) async fn me(State(state): State<AppState>, actor: Actor) -> Json<StaffView> {
    Json(StaffView::new(&actor.profile, state.store.now().date_naive()))
}

/// A question about one action.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeCheckBody {
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
pub(crate) struct ScopeDecision {
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
pub(crate) async fn scope_check(
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
pub(crate) struct StaffScopeView {
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
pub(crate) async fn staff_scope(
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ProgressionQuery {
    /// An activity of the policy pack, such as `procedure.catheterisation`.
    activity: String,
    /// For X-ray exposures: chest, appendicular or axial (chest when not given).
    #[serde(default)]
    region: Option<String>,
}

/// What stands between a staff member and doing an activity alone, asked of the policy pack: today's least
/// supervision and why, the steps (competencies, entitlement, level, registration) that would let them, who may sign
/// off each competency, and whatever no step changes.
#[utoipa::path(get, path = "/api/staff/{username}/progression", tag = "scope",
    params(("username" = String, Path, description = "The staff member's username"), ProgressionQuery),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(crate) async fn progression(
    State(state): State<AppState>,
    _actor: Actor,
    Path(username): Path<String>,
    query: Result<Query<ProgressionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<scope::Progression>, AppError> {
    let Query(q) = query.map_err(|e| AppError::Unprocessable(format!("query: {}", e.body_text())))?;
    let username = Username::parse(&username)?;
    let region = q.region.as_deref().map(ExamRegion::parse).transpose()?;
    Ok(Json(
        scope::progression(&state.store, &state.pack, &username, &q.activity, region).await?,
    ))
}

/// What the next Career Framework level would let a staff member do under the policy pack: with the level alone and
/// with each registration that would add more, what they would still need, the employer's routes to that
/// registration, and the band the level usually carries.
#[utoipa::path(get, path = "/api/staff/{username}/next-level", tag = "scope",
    params(("username" = String, Path, description = "The staff member's username")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(crate) async fn next_level(
    State(state): State<AppState>,
    _actor: Actor,
    Path(username): Path<String>,
) -> Result<Json<scope::Prospect>, AppError> {
    let username = Username::parse(&username)?;
    Ok(Json(scope::next_level(&state.store, &state.pack, &username).await?))
}

/// An enrolment on a programme, as the education lead records it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrolBody {
    /// A route of the policy pack (`routes.toml`), such as `nursing-associate`; or leave it out and name the programme.
    #[serde(default)]
    route: Option<String>,
    /// The programme in words (the route's title when left out).
    #[serde(default)]
    programme: Option<String>,
    /// The university or training provider.
    provider: String,
    /// YYYY-MM-DD.
    starts_on: String,
    /// YYYY-MM-DD, after the start.
    expected_end: String,
}

/// Record a staff member's enrolment on a programme (an apprenticeship or a degree): for education leads and
/// administrators (`competency.manage`).
#[utoipa::path(post, path = "/api/staff/{username}/enrolments", tag = "staff", request_body = EnrolBody,
    params(("username" = String, Path, description = "The staff member's username")),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(crate) async fn enrol(
    State(state): State<AppState>,
    actor: Actor,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<EnrolBody>,
) -> Result<(axum::http::StatusCode, Json<serde_json::Value>), AppError> {
    let e = remit_services::competency::Enrol {
        staff: Username::parse(&username)?,
        route: body.route,
        programme: body.programme,
        provider: body.provider,
        starts_on: remit_domain::time::parse_date("starts_on", &body.starts_on)?,
        expected_end: remit_domain::time::parse_date("expected_end", &body.expected_end)?,
        by: actor.profile.staff.username.clone(),
    };
    let id = crate::http::error::done(
        remit_services::competency::enrol(&state.store, &state.pack, &e, &actor.audit_name()).await?,
    )?;
    let recorded = state
        .store
        .enrolments(Some(&e.staff))
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or_else(|| AppError::NotFound(format!("no enrolment {id}")))?;
    Ok((axum::http::StatusCode::CREATED, Json(serde_json::json!(recorded))))
}

/// A staff member's enrolments on programmes, those ending soonest first: for the person themselves, education leads
/// and administrators.
#[utoipa::path(get, path = "/api/staff/{username}/enrolments", tag = "staff",
    params(("username" = String, Path, description = "The staff member's username")),
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(crate) async fn enrolments(
    State(state): State<AppState>,
    actor: Actor,
    Path(username): Path<String>,
) -> Result<Json<Vec<remit_store::competency::Enrolment>>, AppError> {
    let username = Username::parse(&username)?;
    own_or_education_lead(&state, &actor, &username, "enrolment.read", "enrolments").await?;
    state.store.staff_id(&username).await?;
    Ok(Json(state.store.enrolments(Some(&username)).await?))
}

/// Refuses, audited, a person's careers records (`what`: enrolments, revalidation records) to anyone but them,
/// education leads and administrators.
async fn own_or_education_lead(
    state: &AppState,
    actor: &Actor,
    username: &Username,
    activity: &str,
    what: &str,
) -> Result<(), AppError> {
    if &actor.profile.staff.username == username || actor.is_education_lead() {
        return Ok(());
    }
    let why = vec![format!(
        "A person's {what} are for them, education leads and administrators."
    )];
    let reasons = scope::refuse_read(&state.store, actor, activity, &format!("staff:{username}"), why).await?;
    Err(AppError::Refused(reasons))
}

/// Where each of a staff member's registrations stands against what its regulator asks (the policy pack's
/// `revalidation.toml`): every requirement with what is recorded in the cycle, the state (`ready`, `on-track`,
/// `behind`, `due-soon`, `lapsed`) and any warning. For the person themselves, education leads and administrators.
#[utoipa::path(get, path = "/api/staff/{username}/revalidation", tag = "staff",
    params(("username" = String, Path, description = "The staff member's username")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(crate) async fn revalidation(
    State(state): State<AppState>,
    actor: Actor,
    Path(username): Path<String>,
) -> Result<Json<remit_services::revalidation::Revalidation>, AppError> {
    let username = Username::parse(&username)?;
    own_or_education_lead(&state, &actor, &username, "revalidation.read", "revalidation records").await?;
    Ok(Json(
        remit_services::revalidation::status(&state.store, &state.pack, &username).await?,
    ))
}

/// A piece of revalidation evidence.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvidenceBody {
    /// `practice-hours` (outside the roster), `feedback`, `reflective-account`, `reflective-discussion` or
    /// `confirmation`.
    kind: String,
    /// YYYY-MM-DD, not in the future.
    date: String,
    /// Practice hours only, such as "37.5".
    #[serde(default)]
    hours: Option<String>,
    /// What it was, without anything that identifies a patient.
    note: String,
    /// A reflective discussion's registrant, or the confirmer: name and registration number.
    #[serde(default)]
    with: Option<String>,
}

/// Record evidence towards one's own revalidation. Only the registrant records their own.
#[utoipa::path(post, path = "/api/staff/{username}/revalidation/evidence", tag = "staff", request_body = EvidenceBody,
    params(("username" = String, Path, description = "The staff member's username: your own")),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(crate) async fn add_evidence(
    State(state): State<AppState>,
    actor: Actor,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<EvidenceBody>,
) -> Result<(axum::http::StatusCode, Json<remit_store::revalidation::Evidence>), AppError> {
    let username = Username::parse(&username)?;
    if actor.profile.staff.username != username {
        let why = vec!["Revalidation evidence is recorded by the registrant themselves.".to_owned()];
        // Audited, then answered as the refusal it is (nothing the caller sent is logged).
        crate::http::error::done(
            scope::refuse::<()>(
                &state.store,
                &actor.audit_name(),
                "revalidation.evidence",
                &format!("staff:{username}"),
                why,
                &(),
            )
            .await?,
        )?;
    }
    let e = remit_services::revalidation::AddEvidence {
        staff: username.clone(),
        kind: body.kind,
        date: remit_domain::time::parse_date("date", &body.date)?,
        hours: body.hours,
        note: body.note,
        with_whom: body.with,
    };
    let id = remit_services::revalidation::add_evidence(&state.store, &state.pack, &e, &actor.audit_name()).await?;
    let recorded = state
        .store
        .revalidation_evidence(&username)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or_else(|| AppError::NotFound(format!("no revalidation evidence {id}")))?;
    Ok((axum::http::StatusCode::CREATED, Json(recorded)))
}
