//! The JSON API of vital signs and escalation (`/api/patients/{nhs_number}/sets`, `/api/sets/…`,
//! `/api/escalations/…`, `/api/news2/score`), annotated for the OpenAPI document.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, done};
use crate::http::gate::{BreakGlass, Opened, open_record};
use crate::http::openapi::{ApiJson, ApiPath, BreakGlassHeader};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use remit_domain::obs::Readings;
use remit_domain::staff::Username;
use remit_domain::time::parse_instant;
use remit_services::obs::{Amendment, EscalationNotice, Overdue, RecordSet, Recorded, Scale2Prescription};
use remit_services::{obs, scope};
use remit_store::obs::{EscalationFilter, SetVersions, SetView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A parameter that was not recorded.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MissingBody {
    /// respiration_rate, spo2, systolic_bp, pulse, consciousness or temperature.
    parameter: String,
    /// not-obtained or refused.
    absence: String,
    reason: String,
}

/// A set of vital signs. Each of the six measured parameters is given, or listed under `missing` with a reason.
#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetBody {
    /// Breaths a minute, 0-80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    respiration_rate: Option<i64>,
    /// Percent, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spo2: Option<i64>,
    /// 1 or 2; by default the patient's scale 2 prescription decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spo2_scale: Option<i64>,
    /// Whether the patient is on supplemental oxygen.
    on_oxygen: bool,
    /// Litres a minute, 0-60, one decimal place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oxygen_flow: Option<f64>,
    /// nasal-cannula, simple-mask, venturi-mask, reservoir-mask, high-flow, cpap, niv or other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oxygen_device: Option<String>,
    /// mmHg, 0-300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    systolic_bp: Option<i64>,
    /// mmHg, below the systolic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    diastolic_bp: Option<i64>,
    /// Beats a minute, 0-300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pulse: Option<i64>,
    /// alert, new-confusion, voice, pain or unresponsive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consciousness: Option<String>,
    /// Degrees Celsius, 25.0-45.0, one decimal place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    missing: Vec<MissingBody>,
}

impl SetBody {
    fn readings(&self) -> Result<(Readings, Option<remit_domain::news2::Spo2Scale>), AppError> {
        let v = serde_json::to_value(self).map_err(|e| AppError::Internal(e.to_string()))?;
        let Value::Object(o) = v else {
            return Err(AppError::Internal("a set is an object".into()));
        };
        Ok(Readings::from_json(&o)?)
    }
}

/// Recording a set: the values, and who supervised.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordBody {
    /// The registered colleague supervising a level 2-3 recorder (username).
    #[serde(default)]
    supervisor: Option<String>,
    /// When the observations were taken (RFC 3339); now by default. At most 24 hours ago.
    #[serde(default)]
    taken_at: Option<String>,
    set: SetBody,
}

/// Correcting a set: the corrected values and why.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AmendBody {
    #[serde(default)]
    supervisor: Option<String>,
    reason: String,
    set: SetBody,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    reason: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scale2Body {
    /// The target SpO2 range, e.g. `88-92`.
    target: String,
    /// The clinical indication.
    reason: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewBody {
    /// What the review found and decided.
    note: String,
}

fn username(s: &Option<String>) -> Result<Option<Username>, AppError> {
    Ok(s.as_deref().map(Username::parse).transpose()?)
}

/// Record a set of vital signs for a patient as the signed-in person. The answer carries the NEWS2 score, the
/// response it calls for and any escalation raised.
#[utoipa::path(post, path = "/api/patients/{nhs_number}/observations", tag = "vital signs",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")),
    request_body = RecordBody,
    responses((status = 201, description = "Recorded", body = Object), (status = 400, body = Object),
        (status = 401, body = Object), (status = 403, description = "Refused, with every reason", body = Object),
        (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn record_set(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    ApiJson(body): ApiJson<RecordBody>,
) -> Result<(StatusCode, Json<Recorded>), AppError> {
    let (readings, scale) = body.set.readings()?;
    let r = RecordSet {
        patient: record.patient.nhs_number,
        by: actor.profile.staff.username.clone(),
        supervisor: username(&body.supervisor)?,
        taken_at: body
            .taken_at
            .as_deref()
            .map(|t| parse_instant("taken_at", t))
            .transpose()?,
        readings,
        scale,
    };
    let out = done(
        obs::record(
            &state.store,
            &state.pack,
            &r,
            &actor.audit_name(),
            Some(&actor.principal),
        )
        .await?,
    )?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SetsQuery {
    /// Include superseded versions and sets entered in error.
    #[serde(default)]
    all: Option<bool>,
    /// At most this many, newest first (1-1000, default 100).
    #[serde(default)]
    limit: Option<i64>,
}

/// A patient's sets, newest first.
#[utoipa::path(get, path = "/api/patients/{nhs_number}/observations", tag = "vital signs",
    params(("nhs_number" = String, Path, description = "The patient's NHS number"), SetsQuery, BreakGlassHeader),
    responses((status = 200, body = [Object]), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn list_sets(
    State(state): State<AppState>,
    Opened(record): Opened,
    query: Result<Query<SetsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<SetView>>, AppError> {
    let Query(q) = query.map_err(|e| AppError::Unprocessable(format!("query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::Unprocessable(format!("limit: `{limit}` is outside 1-1000")));
    }
    Ok(Json(
        state
            .store
            .obs_for_patient(
                record.id,
                None,
                limit,
                if q.all.unwrap_or(false) {
                    SetVersions::All
                } else {
                    SetVersions::Current
                },
            )
            .await?,
    ))
}

/// Every version of a set, oldest first: who recorded and who corrected it, when and why.
#[utoipa::path(get, path = "/api/observations/{set_id}/history", tag = "vital signs",
    params(("set_id" = i64, Path, description = "The set's id"), BreakGlassHeader),
    responses((status = 200, body = [Object]), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object)))]
pub(crate) async fn set_history(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    ApiPath(set_id): ApiPath<i64>,
) -> Result<Json<Vec<SetView>>, AppError> {
    let versions = state.store.obs_history(set_id).await?;
    done(open_record(&state, &actor, &versions[0].patient, &bg).await?)?;
    Ok(Json(versions))
}

/// Correct a set: the corrected values become a new version of it, re-scored; the original is kept.
#[utoipa::path(post, path = "/api/observations/{version_id}/amend", tag = "vital signs",
    params(("version_id" = i64, Path, description = "The id of the set's current version")),
    request_body = AmendBody,
    responses((status = 201, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 409, body = Object),
        (status = 422, body = Object)))]
pub(crate) async fn amend_set(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(version): ApiPath<i64>,
    ApiJson(body): ApiJson<AmendBody>,
) -> Result<(StatusCode, Json<Recorded>), AppError> {
    let (readings, _) = body.set.readings()?;
    let a = Amendment {
        version,
        by: actor.profile.staff.username.clone(),
        supervisor: username(&body.supervisor)?,
        readings,
        reason: body.reason,
    };
    let out = done(obs::amend(&state.store, &state.pack, &a, &actor.audit_name()).await?)?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Mark a set entered in error. It is kept, no longer counts, and its open escalations stay open with a note.
#[utoipa::path(post, path = "/api/observations/{version_id}/entered-in-error", tag = "vital signs",
    params(("version_id" = i64, Path, description = "The id of the set's current version")),
    request_body = ReasonBody,
    responses((status = 200, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 409, body = Object),
        (status = 422, body = Object)))]
pub(crate) async fn set_entered_in_error(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(version): ApiPath<i64>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<SetView>, AppError> {
    let by = actor.profile.staff.username.clone();
    Ok(Json(done(
        obs::entered_in_error(
            &state.store,
            &state.pack,
            version,
            &by,
            &body.reason,
            &actor.audit_name(),
        )
        .await?,
    )?))
}

/// Record that a patient is scored on SpO2 scale 2 with a target range (replacing any current prescription).
#[utoipa::path(post, path = "/api/patients/{nhs_number}/scale-2", tag = "vital signs",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")),
    request_body = Scale2Body,
    responses((status = 201, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn prescribe_scale2(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    ApiJson(body): ApiJson<Scale2Body>,
) -> Result<(StatusCode, Json<remit_store::obs::Scale2>), AppError> {
    let (low, high) = obs::parse_target(&body.target)?;
    let p = Scale2Prescription {
        patient: record.patient.nhs_number,
        by: actor.profile.staff.username.clone(),
        target_low: low,
        target_high: high,
        reason: body.reason,
    };
    let out = done(obs::prescribe_scale2(&state.store, &state.pack, &p, &actor.audit_name()).await?)?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MissedBody {
    /// Why the observations could not be done.
    reason: String,
}

/// Record that a patient's observations were not done, and why (nothing was measured: an empty set is not a set).
/// The patient stays overdue; the ward board and the inbox show the reason to the registered nurse.
#[utoipa::path(post, path = "/api/patients/{nhs_number}/observations/missed", tag = "vital signs",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")),
    request_body = MissedBody,
    responses((status = 201, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn missed(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    ApiJson(body): ApiJson<MissedBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let nhs = record.patient.nhs_number;
    let by = actor.profile.staff.username.clone();
    done(obs::missed(&state.store, &state.pack, &nhs, &by, &body.reason, &actor.audit_name()).await?)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"patient": nhs, "reason": body.reason.trim(), "recorded_by": by})),
    ))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PregnancyBody {
    /// `pregnant`, `postpartum` (gave birth within six weeks) or `not-pregnant`.
    status: String,
    /// The last day it holds (YYYY-MM-DD); for `postpartum`, six weeks from today if absent.
    #[serde(default)]
    until: Option<String>,
}

/// Record whether a patient is pregnant or recently gave birth: NEWS2 does not apply while either holds, so sets
/// are recorded without a score and put in front of the registered nurse.
#[utoipa::path(post, path = "/api/patients/{nhs_number}/pregnancy", tag = "vital signs",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")),
    request_body = PregnancyBody,
    responses((status = 200, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn pregnancy(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    ApiJson(body): ApiJson<PregnancyBody>,
) -> Result<Json<Value>, AppError> {
    let c = obs::PregnancyChange {
        patient: record.patient.nhs_number,
        by: actor.profile.staff.username.clone(),
        status: obs::parse_pregnancy(&body.status)?,
        until: body
            .until
            .as_deref()
            .map(|u| remit_domain::time::parse_date("until", u))
            .transpose()?,
    };
    let record = done(obs::set_pregnancy(&state.store, &state.pack, &c, &actor.audit_name()).await?)?;
    Ok(Json(serde_json::json!({"patient": c.patient, "pregnancy": record})))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct WardQuery {
    /// Only this ward or department.
    #[serde(default)]
    ward: Option<String>,
    /// Only escalations not yet closed.
    #[serde(default)]
    open: Option<bool>,
}

fn ward_query(
    query: Result<Query<WardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<WardQuery, AppError> {
    let Query(q) = query.map_err(|e| AppError::Unprocessable(format!("query: {}", e.body_text())))?;
    if let Some(w) = &q.ward {
        remit_domain::place::PlaceCode::parse(w)?;
    }
    Ok(q)
}

/// Patients whose observations are overdue, most overdue first, among those the reader may see.
#[utoipa::path(get, path = "/api/observations/overdue", tag = "vital signs", params(WardQuery),
    responses((status = 200, body = [Object]), (status = 401, body = Object), (status = 404, body = Object),
        (status = 422, body = Object)))]
pub(crate) async fn overdue(
    State(state): State<AppState>,
    actor: Actor,
    query: Result<Query<WardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Overdue>>, AppError> {
    let q = ward_query(query)?;
    if let Some(w) = &q.ward {
        state.store.place(&remit_domain::place::PlaceCode::parse(w)?).await?;
    }
    let list = obs::overdue(&state.store.patients_obs(q.ward.as_deref()).await?, state.store.now());
    let pairs: Vec<_> = list.iter().map(|o| (o.patient.clone(), o.place.clone())).collect();
    let ok = scope::readable(&state.store, &state.pack, &actor.profile, &pairs).await?;
    Ok(Json(list.into_iter().filter(|o| ok.contains(&o.patient)).collect()))
}

/// Escalations, newest first, with the people each is addressed to now, among the patients the reader may see.
#[utoipa::path(get, path = "/api/escalations", tag = "escalations", params(WardQuery),
    responses((status = 200, body = [Object]), (status = 401, body = Object), (status = 404, body = Object),
        (status = 422, body = Object)))]
pub(crate) async fn escalations(
    State(state): State<AppState>,
    actor: Actor,
    query: Result<Query<WardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<EscalationNotice>>, AppError> {
    let q = ward_query(query)?;
    if let Some(w) = &q.ward {
        state.store.place(&remit_domain::place::PlaceCode::parse(w)?).await?;
    }
    let filter = EscalationFilter {
        open: q.open.unwrap_or(false),
        place: q.ward,
        patient: None,
    };
    let mut list = obs::notices(&state.store, &state.pack, &filter).await?;
    crate::delivery::annotate(&state, &mut list).await?;
    let pairs: Vec<_> = list
        .iter()
        .map(|n| (n.escalation.patient.clone(), n.escalation.place.clone()))
        .collect();
    let ok = scope::readable(&state.store, &state.pack, &actor.profile, &pairs).await?;
    Ok(Json(
        list.into_iter()
            .filter(|n| ok.contains(&n.escalation.patient))
            .collect(),
    ))
}

/// The signed-in person's inbox: the open escalations addressed to them now, most urgent first (waiting for
/// acknowledgement before waiting for review, then the most severe, then the longest waiting), and how many wait for
/// acknowledgement.
#[utoipa::path(get, path = "/api/inbox", tag = "escalations",
    responses((status = 200, body = Object), (status = 401, body = Object)))]
pub(crate) async fn inbox(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, AppError> {
    let mut list = obs::inbox(&state.store, &state.pack, actor.profile.staff.username.as_str()).await?;
    crate::delivery::annotate(&state, &mut list).await?;
    let to_acknowledge = obs::to_acknowledge(&list);
    Ok(Json(
        serde_json::json!({"to_acknowledge": to_acknowledge, "escalations": list}),
    ))
}

/// One escalation, with the people it is addressed to now, to those who may read its patient's record (the
/// refusal of anyone else is audited, as every refused read of a record is).
#[utoipa::path(get, path = "/api/escalations/{id}", tag = "escalations",
    params(("id" = i64, Path, description = "The escalation's id"), BreakGlassHeader),
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object)))]
pub(crate) async fn escalation(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EscalationNotice>, AppError> {
    let e = obs::escalation_now(&state.store, &state.pack, id).await?;
    done(open_record(&state, &actor, &e.patient, &bg).await?)?;
    let mut one = [obs::notice_now(&state.store, &state.pack, e).await?];
    crate::delivery::annotate(&state, &mut one).await?;
    let [notice] = one;
    Ok(Json(notice))
}

/// Acknowledge an escalation as the responsible registered nurse.
#[utoipa::path(post, path = "/api/escalations/{id}/acknowledge", tag = "escalations",
    params(("id" = i64, Path, description = "The escalation's id")),
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object)))]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EscalationNotice>, AppError> {
    let by = actor.profile.staff.username.clone();
    let out = done(obs::acknowledge(&state.store, &state.pack, id, &by, &actor.audit_name()).await?)?;
    Ok(Json(out))
}

/// Record the clinical review of an escalated patient, which closes the escalation.
#[utoipa::path(post, path = "/api/escalations/{id}/review", tag = "escalations",
    params(("id" = i64, Path, description = "The escalation's id")), request_body = ReviewBody,
    responses((status = 200, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 409, body = Object),
        (status = 422, body = Object)))]
pub(crate) async fn review(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<EscalationNotice>, AppError> {
    let by = actor.profile.staff.username.clone();
    let out = done(obs::review(&state.store, &state.pack, id, &by, &body.note, &actor.audit_name()).await?)?;
    Ok(Json(out))
}

/// The NEWS2 score of a set as it is being typed, on the scale the patient's record says: nothing is stored. Missing
/// parameters are scored as incomplete.
#[utoipa::path(post, path = "/api/news2/score/{nhs_number}", tag = "vital signs",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")), request_body = SetBody,
    responses((status = 200, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, description = "Refused, with every reason", body = Object), (status = 404, body = Object),
        (status = 422, body = Object)))]
pub(crate) async fn score(
    State(state): State<AppState>,
    Opened(record): Opened,
    ApiJson(body): ApiJson<SetBody>,
) -> Result<Json<Value>, AppError> {
    // What the score depends on (scale 2, age, pregnancy) is the patient's record, opened by the gate to those who
    // may read it.
    let scale = if record.scale2.is_some() {
        remit_domain::news2::Spo2Scale::Two
    } else {
        remit_domain::news2::Spo2Scale::One
    };
    let not_scored = remit_domain::obs::NotScored::of(
        record.patient.date_of_birth,
        record.pregnancy.as_ref(),
        remit_domain::time::london_date(state.store.now()),
    );
    let v = serde_json::to_value(&body).map_err(|e| AppError::Internal(e.to_string()))?;
    let Value::Object(o) = v else {
        return Err(AppError::Internal("a set is an object".into()));
    };
    Ok(Json(crate::observations::pages::live_score(&o, scale, not_scored)?))
}
