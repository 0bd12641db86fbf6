//! What pages share: the notice at a page's top (done, refused with every reason, or an error), the refused page
//! with its break-glass form, and the page that asks an unsigned-in reader to sign in.

use crate::http::auth::Actor;
use crate::http::error::{AppError, render};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use remit_services::scope::Outcome;

/// Refused or failed: what to show at the top of the page.
#[derive(Default)]
pub(crate) struct Notice {
    pub(crate) message: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) reasons: Vec<String>,
}

impl Notice {
    pub(crate) fn of<T>(
        o: Result<Outcome<T>, remit_store::StoreError>,
        done: impl FnOnce(T) -> String,
    ) -> Result<Self, AppError> {
        match o {
            Ok(Outcome::Done(v)) => Ok(Self {
                message: Some(done(v)),
                ..Self::default()
            }),
            Ok(Outcome::Refused(reasons)) => Ok(Self {
                reasons,
                ..Self::default()
            }),
            Err(e) => match AppError::from(e) {
                AppError::Internal(m) => Err(AppError::Internal(m)),
                other => Ok(Self {
                    error: Some(other.to_string()),
                    ..Self::default()
                }),
            },
        }
    }

    /// Whether the form's work was done (no refusal, no error): the page is then reached by a redirect, so that
    /// reloading it repeats nothing (post/redirect/get).
    pub(crate) fn done(&self) -> bool {
        self.message.is_some() && self.reasons.is_empty() && self.error.is_none()
    }

    pub(crate) fn status(&self) -> StatusCode {
        if !self.reasons.is_empty() {
            StatusCode::FORBIDDEN
        } else if self.error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage<'a> {
    actor: &'a Actor,
    what: &'a str,
    reasons: &'a [String],
    /// Where a break-glass reason may be stated to open a record anyway.
    break_glass: Option<String>,
}

impl RefusedPage<'_> {
    fn respond(&self) -> Result<Response, AppError> {
        Ok((StatusCode::FORBIDDEN, render(self)?).into_response())
    }
}

/// The page for a record the reader may not open, with the break-glass form where one may state a reason.
pub(crate) fn refused_record_page(
    actor: &Actor,
    reasons: &[String],
    break_glass: Option<String>,
) -> Result<Response, AppError> {
    RefusedPage {
        actor,
        what: "Open this patient's record",
        reasons,
        break_glass,
    }
    .respond()
}

pub(crate) fn refused_page(actor: &Actor, what: &str, reasons: &[String]) -> Result<Response, AppError> {
    RefusedPage {
        actor,
        what,
        reasons,
        break_glass: None,
    }
    .respond()
}

#[derive(Template)]
#[template(path = "sign_in_needed.html")]
pub struct SignInNeeded;

impl SignInNeeded {
    pub fn render_html(&self) -> Html<String> {
        Html(
            self.render()
                .unwrap_or_else(|_| "<a href=\"/login\">Sign in</a>".into()),
        )
    }
}

/// A page's query as it arrived: [`just_saved`] reads it.
pub(crate) type PageQuery<T> = Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>;

/// What a page's query says was just saved (the ids a form's redirect names, post/redirect/get), or what is wrong
/// with it.
pub(crate) fn just_saved<T>(query: PageQuery<T>) -> Result<T, AppError> {
    query
        .map(|q| q.0)
        .map_err(|e| AppError::Unprocessable(format!("query: {}", e.body_text())))
}
