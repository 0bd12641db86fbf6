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
    /// Whether the page says something went wrong (its title then starts "Error: ").
    pub(crate) fn is_error(&self) -> bool {
        self.error.is_some() || !self.reasons.is_empty()
    }

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

/// An error as a page, for a person in a browser: what went wrong in a heading, the server's words beneath.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    heading: &'static str,
    message: String,
    status: u16,
}

impl ErrorPage {
    pub(crate) fn new(status: StatusCode, message: String) -> Self {
        let heading = match status {
            StatusCode::NOT_FOUND => "Page not found",
            StatusCode::UNAUTHORIZED => "Sign in needed",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::CONFLICT => "Changed since you opened it",
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "Check what was entered",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts: wait a moment",
            StatusCode::PAYLOAD_TOO_LARGE => "Too much to send at once",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        Self {
            heading,
            message,
            status: status.as_u16(),
        }
    }

    pub(crate) fn render_html(&self) -> Html<String> {
        Html(self.render().unwrap_or_else(|_| format!("<h1>{}</h1>", self.heading)))
    }
}

impl SignInNeeded {
    pub fn render_html(&self) -> Html<String> {
        Html(
            self.render()
                .unwrap_or_else(|_| "<a href=\"/login\">Sign in</a>".into()),
        )
    }
}

/// The colleague a form's field names (a supervisor, say), or nobody when it was left blank.
pub(crate) fn named(field: &str) -> Result<Option<remit_domain::staff::Username>, remit_domain::InvalidValue> {
    match field.trim() {
        "" => Ok(None),
        u => remit_domain::staff::Username::parse(u).map(Some),
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

/// The patient banner every page about one patient carries, as the NHS's patient identification guidance lays it
/// out: the family name in capitals, then the given name; date of birth and age; sex; the NHS number in groups of
/// 3, 3 and 4; where the patient is.
pub(crate) struct Banner {
    pub(crate) name: String,
    pub(crate) born: String,
    pub(crate) age: String,
    pub(crate) sex: String,
    pub(crate) nhs: String,
    pub(crate) place: String,
    pub(crate) bed: String,
    /// When they were discharged, in words, if they are not in a stay now.
    pub(crate) discharged: Option<String>,
}

impl Banner {
    /// The banner of `patient`, at `place_name`, on `today` (London's date).
    pub(crate) fn of(patient: &remit_domain::patient::Patient, place_name: &str, today: chrono::NaiveDate) -> Self {
        let age = match patient.age_on(today) {
            0 => "under a year".to_owned(),
            1 => "1 year".to_owned(),
            n => format!("{n} years"),
        };
        let nhs = patient.nhs_number.as_str();
        let mut sex = patient.sex.as_str().to_owned();
        if let Some(first) = sex.get(..1) {
            sex.replace_range(..1, &first.to_uppercase());
        }
        Self {
            name: format!(
                "{}, {}",
                patient.family_name.as_str().to_uppercase(),
                patient.given_name.as_str()
            ),
            born: remit_domain::time::uk_date(patient.date_of_birth),
            age,
            sex,
            nhs: crate::http::uk::nhs(nhs),
            place: place_name.to_owned(),
            bed: patient.bed.clone().unwrap_or_else(|| "no bed".to_owned()),
            discharged: None,
        }
    }

    /// The banner of a patient's record as the gate opened it.
    pub(crate) fn of_record(record: &remit_store::patient::PatientRecord, today: chrono::NaiveDate) -> Self {
        Self {
            discharged: record.discharged_at.map(remit_domain::time::uk_short),
            ..Self::of(&record.patient, &record.place_name, today)
        }
    }
}
