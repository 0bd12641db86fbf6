//! The pay check page.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, render};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage<'a> {
    actor: &'a Actor,
    bands: Vec<String>,
    form: PayForm,
    error: Option<String>,
    result: Option<remit_domain::pay::PayCheck>,
    table: String,
    effective_from: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct PayForm {
    #[serde(default)]
    band: String,
    #[serde(default)]
    salary: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    years_in_band: String,
}

/// The pay check as a page: the form, and once submitted, the verdict.
pub(crate) async fn pay_page(
    State(state): State<AppState>,
    actor: Actor,
    axum::extract::Query(form): axum::extract::Query<PayForm>,
) -> Result<Response, AppError> {
    let table = &state.pay;
    let blank = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    // A band alone (a link from the next level) only chooses it in the form.
    let (result, error) = if form.salary.trim().is_empty() {
        (None, None)
    } else {
        match remit_domain::pay::Offer::parse(
            table,
            &form.band,
            &form.salary,
            blank(&form.area).as_deref(),
            blank(&form.hours).as_deref(),
            blank(&form.years_in_band).as_deref(),
        ) {
            Ok(offer) => (Some(table.check(&offer)), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = render(&PayPage {
        actor: &actor,
        bands: table.bands.iter().map(|b| b.name.clone()).collect(),
        form,
        error,
        result,
        table: table.title.clone(),
        effective_from: table.effective_from.to_string(),
    })?;
    Ok((status, page).into_response())
}
