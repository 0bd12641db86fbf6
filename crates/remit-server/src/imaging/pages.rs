//! The radiography pages: the department's worklists, a request with its next step's form, and each step posted.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, render};
use crate::http::pages::{Banner, Notice, PageQuery, just_saved, named, refused_page};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use remit_domain::imaging::{ExposureRecord, Pregnancy, Stage};
use remit_domain::staff::Username;
use remit_policy::Supervision;
use remit_services::imaging::Verdict;
use remit_services::scope;
use remit_services::scope::{Item, Outcome};
use remit_store::imaging::RequestView;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "imaging.html")]
struct WorklistPage<'a> {
    actor: &'a Actor,
    lists: Vec<(&'static str, Vec<RequestView>)>,
    catalogue: &'a remit_domain::imaging::Catalogue,
}

impl WorklistPage<'_> {
    /// An examination's title in the catalogue (its id, should the catalogue no longer hold it).
    fn title<'b>(&'b self, id: &'b str) -> &'b str {
        self.catalogue.examination(id).map_or(id, |e| e.title.as_str())
    }
}

pub(crate) async fn worklists(State(state): State<AppState>, actor: Actor) -> Result<Html<String>, AppError> {
    let mut lists = Vec::new();
    for (stage, title) in [
        (Stage::AwaitingJustification, "Awaiting justification"),
        (Stage::AwaitingExposure, "Awaiting exposure"),
        (Stage::AwaitingReport, "Awaiting report"),
        (Stage::DrlExceeded, "Dose above the local DRL: waiting for review"),
    ] {
        let mut visible = Vec::new();
        for r in state.store.imaging_worklist(stage).await? {
            if scope::may_read_item(&state.store, &state.pack, &actor, Item::Request(&r)).await? {
                visible.push(r);
            }
        }
        lists.push((title, visible));
    }
    render(&WorklistPage {
        actor: &actor,
        lists,
        catalogue: &state.imaging,
    })
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage<'a> {
    actor: &'a Actor,
    banner: Banner,
    notice: Notice,
    r: RequestView,
    title: String,
    radiographers: Vec<(String, String)>,
    /// The steps the reader may take on the request now: the forms shown to them.
    steps: remit_services::imaging::Steps,
    /// Whether the examination's DRL is set per projection (each projection's DAP is then needed).
    drl_per_projection: bool,
    /// The examination's local DRL, in words ("0.100 Gy·cm² for the whole examination"), where it is known.
    drl: Option<String>,
}

/// The request's page, with what the form just posted said, or (`moved`) where a step just taken has left it.
async fn request_view(
    state: &AppState,
    actor: &Actor,
    id: i64,
    mut notice: Notice,
    moved: Moved,
) -> Result<Response, AppError> {
    let r = state.store.imaging_request(id).await?;
    if let Outcome::Refused(reasons) = scope::open_item(&state.store, &state.pack, actor, Item::Request(&r)).await? {
        return refused_page(actor, "Open this X-ray request", &reasons);
    }
    match moved {
        Moved::Step => notice.message = Some(format!("Request {} is now {}.", r.id, r.status)),
        Moved::Reviewed => notice.message = Some(format!("The review of request {}'s dose is recorded.", r.id)),
        Moved::No => {}
    }
    let exam = state.imaging.examination(&r.examination).ok();
    let title = exam.map_or_else(|| r.examination.clone(), |e| e.title.clone());
    let today = state.store.now().date_naive();
    // The record as it stands (a discharged patient's banner says so).
    let record = state.store.patient_record(&r.patient, actor.profile.id, None).await?;
    let banner = Banner::of_record(&record, remit_domain::time::london_date(state.store.now()));
    let radiographer = |p: &remit_domain::staff::StaffProfile| {
        p.registrations
            .iter()
            .any(|g| g.is_current(today) && g.profession().is_some_and(|(code, _)| code == "RA"))
    };
    let radiographers: Vec<(String, String)> = state
        .store
        .profiles_on_duty_at(&r.department, state.store.now(), actor.principal.versions)
        .await?
        .into_iter()
        .filter(|p| radiographer(p) && p.staff.username != actor.profile.staff.username)
        .map(|p| (p.staff.username.to_string(), p.staff.name.to_string()))
        .collect();
    let names: Vec<Username> = radiographers
        .iter()
        .map(|(u, _)| Username::parse(u))
        .collect::<Result<_, _>>()?;
    let steps = remit_services::imaging::steps(
        &state.store,
        (&state.pack, &state.imaging),
        &actor.profile.staff.username,
        &r,
        &names,
    )
    .await?;
    let status = notice.status();
    let page = render(&RequestPage {
        actor,
        banner,
        notice,
        r,
        title,
        radiographers,
        steps,
        drl_per_projection: exam.is_some_and(|e| e.drl_per == remit_domain::imaging::DrlPer::Projection),
        drl: exam.map(|e| {
            format!(
                "{:.3} Gy·cm² {}",
                f64::from(e.drl_dap) / 1000.0,
                match e.drl_per {
                    remit_domain::imaging::DrlPer::Projection => "for each projection",
                    remit_domain::imaging::DrlPer::Examination => "for the whole examination",
                }
            )
        }),
    })?;
    Ok((status, page).into_response())
}

pub(crate) async fn request_page(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    query: PageQuery<JustMoved>,
) -> Result<Response, AppError> {
    let just = just_saved(query)?;
    let moved = match (just.moved, just.reviewed) {
        (_, Some(_)) => Moved::Reviewed,
        (Some(_), None) => Moved::Step,
        (None, None) => Moved::No,
    };
    request_view(&state, &actor, id, Notice::default(), moved).await
}

/// Whether the request page follows a step just taken on the request (its form redirects here), or the review of
/// its dose.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustMoved {
    moved: Option<u8>,
    reviewed: Option<u8>,
}

/// What the request page says was just done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moved {
    No,
    /// A step of the chain: the request's status says where it is now.
    Step,
    /// The review of a dose above the DRL (the status does not change).
    Reviewed,
}

#[derive(Deserialize, Default)]
pub(crate) struct StepForm {
    #[serde(default)]
    note: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    supervisor: String,
    #[serde(default)]
    projections: String,
    #[serde(default)]
    kv: String,
    #[serde(default)]
    mas: String,
    #[serde(default)]
    dap: String,
    /// Each projection's DAP, comma-separated, in the order of the projections.
    #[serde(default)]
    projection_dap: String,
    #[serde(default)]
    sid_cm: String,
    #[serde(default)]
    conclusion: String,
}

fn number(field: &'static str, s: &str) -> Result<f64, remit_domain::InvalidValue> {
    s.trim()
        .parse()
        .map_err(|_| remit_domain::InvalidValue::new(field, format!("`{}` is not a number", s.trim())))
}

pub(crate) async fn request_step(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, step)): Path<(i64, String)>,
    Form(f): Form<StepForm>,
) -> Result<Response, AppError> {
    let (store, pack) = (&state.store, &state.pack);
    let by = actor.profile.staff.username.clone();
    let who = actor.audit_name();
    let said = |r: RequestView| format!("Request {} is now {}.", r.id, r.status);
    let operator = |f: &StepForm| -> Result<remit_services::imaging::Operator, AppError> {
        let supervisor = named(&f.supervisor)?;
        Ok(remit_services::imaging::Operator {
            by: by.clone(),
            supervision: if supervisor.is_some() {
                Supervision::Indirect
            } else {
                Supervision::None
            },
            supervisor,
        })
    };
    let notice = match step.as_str() {
        "justify" => Notice::of(
            remit_services::imaging::decide(store, pack, id, &by, Verdict::Justify, &f.note, &who).await,
            said,
        )?,
        "reject" => Notice::of(
            remit_services::imaging::decide(store, pack, id, &by, Verdict::Reject, &f.note, &who).await,
            said,
        )?,
        "pregnancy" => {
            let answer = Pregnancy::parse(&f.answer)?;
            let op = operator(&f)?;
            Notice::of(
                remit_services::imaging::pregnancy(store, (pack, &state.imaging), id, &op, answer, &who).await,
                said,
            )?
        }
        "expose" => {
            let projections: Vec<String> = f
                .projections
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            let parsed = (|| {
                let per_projection = f
                    .projection_dap
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| number("projection_dap", d))
                    .collect::<Result<Vec<f64>, _>>()?;
                let total = match f.dap.trim() {
                    "" => None,
                    d => Some(number("dap", d)?),
                };
                ExposureRecord::parse(
                    &projections,
                    number("kv", &f.kv)?,
                    number("mas", &f.mas)?,
                    (total, &per_projection),
                    number("sid_cm", &f.sid_cm)?,
                    &[],
                )
            })();
            match parsed {
                Err(e) => Notice {
                    error: Some(e.to_string()),
                    ..Notice::default()
                },
                Ok(record) => {
                    let op = operator(&f)?;
                    let e = remit_services::imaging::Exposure {
                        request: id,
                        by: op.by,
                        supervision: op.supervision,
                        supervisor: op.supervisor,
                        record,
                    };
                    Notice::of(
                        remit_services::imaging::expose(store, pack, &state.imaging, &e, &who).await,
                        said,
                    )?
                }
            }
        }
        "report" => Notice::of(
            remit_services::imaging::report(store, pack, id, &by, "", &f.conclusion, &who).await,
            said,
        )?,
        "review-dose" => Notice::of(
            remit_services::imaging::review_drl(store, pack, id, &by, &f.note, &who).await,
            said,
        )?,
        other => {
            return Err(AppError::NotFound(format!(
                "`{}` is not a step of an X-ray request",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    if notice.done() {
        let said = if step == "review-dose" { "reviewed" } else { "moved" };
        return Ok(axum::response::Redirect::to(&format!("/imaging/requests/{id}?{said}=1")).into_response());
    }
    request_view(&state, &actor, id, notice, Moved::No).await
}
