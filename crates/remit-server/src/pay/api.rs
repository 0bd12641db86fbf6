//! `GET /api/pay/check`: is a pay point right for a band, as JSON.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use crate::http::openapi::ErrorBody;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
pub(crate) struct PayCheckView {
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
pub(crate) async fn pay_check(
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
