//! Pages for one's own work and for the roles around it: my work (tasks, scope, competencies and CPD), the education
//! lead's competency matrix and sign-off, the radiography worklists and exposure form, and the audit log with its
//! chain's verification. Each action passes the same function as the API and the CLI; a refusal shows every reason.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use remit_domain::imaging::{ExposureRecord, Pregnancy, Stage};
use remit_domain::staff::{CompetencyId, Username};
use remit_domain::task::Move;
use remit_policy::{ScopeLine, Supervision};
use remit_store::VerifyOutcome;
use remit_store::competency::{CpdEntry, StaffCompetency};
use remit_store::imaging::RequestView;
use remit_store::task::{TaskFilter, TaskView};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Actor;
use crate::error::{AppError, render};
use crate::scope::Outcome;
use crate::ward_pages::refused_page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(my_work))
        .route("/tasks/{id}/{move}", post(task_move))
        .route("/education", get(education))
        .route("/education/sign-off", post(sign_off))
        .route("/imaging", get(worklists))
        .route("/imaging/requests/{id}", get(request_page))
        .route("/imaging/requests/{id}/{step}", post(request_step))
        .route("/audit", get(audit))
}

/// Refused or failed: what to show at the top of the page.
#[derive(Default)]
struct Notice {
    message: Option<String>,
    error: Option<String>,
    reasons: Vec<String>,
}

impl Notice {
    fn of<T>(o: Result<Outcome<T>, remit_store::StoreError>, done: impl FnOnce(T) -> String) -> Result<Self, AppError> {
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

    fn status(&self) -> StatusCode {
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
#[template(path = "me.html")]
struct MyWork<'a> {
    actor: &'a Actor,
    notice: Notice,
    level: String,
    on_duty: String,
    mine: Vec<TaskView>,
    delegated: Vec<TaskView>,
    scope: Vec<ScopeLine>,
    competencies: Vec<StaffCompetency>,
    cpd: Vec<CpdEntry>,
}

async fn my_work_page(state: &AppState, actor: &Actor, notice: Notice) -> Result<Response, AppError> {
    let me = actor.profile.staff.username.to_string();
    let mine = state
        .store
        .list_tasks(&TaskFilter {
            owner: Some(me.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|t| t.status.is_open())
        .collect();
    let delegated = state
        .store
        .list_tasks(&TaskFilter {
            requester: Some(me.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|t| t.status.is_open())
        .collect();
    let scope = crate::scope::show(&state.store, &state.pack, &actor.profile.staff.username).await?;
    let competencies = state
        .store
        .competency_records(Some(&actor.profile.staff.username))
        .await?;
    let cpd = state.store.cpd_entries(Some(&actor.profile.staff.username)).await?;
    let places = state.store.places().await?;
    let on_duty: Vec<String> = actor
        .profile
        .on_duty
        .iter()
        .map(|c| {
            places
                .iter()
                .find(|p| &p.code == c)
                .map_or_else(|| c.to_string(), |p| p.name.clone())
        })
        .collect();
    let status = notice.status();
    let page = render(&MyWork {
        actor,
        notice,
        level: actor.profile.staff.level.map_or_else(
            || "no clinical level".to_owned(),
            |l| format!("level {l} — {}", l.name()),
        ),
        on_duty: if on_duty.is_empty() {
            "not on duty".into()
        } else {
            on_duty.join(", ")
        },
        mine,
        delegated,
        scope: scope.activities,
        competencies,
        cpd,
    })?;
    Ok((status, page).into_response())
}

async fn my_work(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    my_work_page(&state, &actor, Notice::default()).await
}

#[derive(Deserialize, Default)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn task_move(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, mv)): Path<(i64, String)>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, AppError> {
    let mv = Move::parse(&mv)?;
    let note = Some(form.reason).filter(|r| !r.trim().is_empty());
    let o = crate::tasks::make_move(
        &state.store,
        &state.pack,
        id,
        mv,
        &actor.profile.staff.username,
        note,
        &actor.audit_name(),
    )
    .await;
    let notice = Notice::of(o, |t| format!("Task {} is now {}.", t.id, t.status.as_str()))?;
    my_work_page(&state, &actor, notice).await
}

struct MatrixRow {
    name: String,
    cells: Vec<(String, &'static str)>,
}

struct Matrix {
    place: String,
    competencies: Vec<String>,
    rows: Vec<MatrixRow>,
}

#[derive(Template)]
#[template(path = "education.html")]
struct EducationPage<'a> {
    actor: &'a Actor,
    notice: Notice,
    matrices: Vec<Matrix>,
    expiring: Vec<(i64, Vec<StaffCompetency>)>,
    staff: Vec<(String, String)>,
    catalogue: Vec<(String, String)>,
}

async fn education_page(state: &AppState, actor: &Actor, notice: Notice) -> Result<Response, AppError> {
    if !actor.is_education_lead() {
        let why = vec!["The competency matrix is for education leads and administrators.".to_owned()];
        let reasons = crate::scope::refuse_read(&state.store, actor, "competency.matrix", "competencies", why).await?;
        return refused_page(actor, "Open the competency matrix", &reasons);
    }
    let now = state.store.now();
    let records = state.store.competency_records(None).await?;
    let catalogue = state.pack.competency_catalogue();
    // Each person's best record of each competency: valid beats expired beats revoked.
    let mut best: BTreeMap<(String, String), (&'static str, String)> = BTreeMap::new();
    for r in &records {
        let key = (r.staff.clone(), r.record.competency.to_string());
        let rank = |s: &str| match s {
            "valid" => 3,
            "not-yet-valid" => 2,
            "expired" => 1,
            _ => 0,
        };
        let cell = (r.status, format!("{} until {}", r.status, r.record.expires_on));
        if best.get(&key).is_none_or(|b| rank(b.0) <= rank(r.status)) {
            best.insert(key, cell);
        }
    }
    let mut matrices = Vec::new();
    for place in state.store.places().await? {
        let staff = state.store.on_duty_at(place.code.as_str(), now).await?;
        if staff.is_empty() {
            continue;
        }
        let mut rows = Vec::new();
        for u in &staff {
            let p = state.store.staff_profile(u).await?;
            let cells = catalogue
                .iter()
                .map(|c| {
                    best.get(&(u.to_string(), c.id.to_string()))
                        .map_or(("—".to_owned(), "none"), |(status, text)| (text.clone(), *status))
                })
                .collect();
            rows.push(MatrixRow {
                name: p.staff.name.to_string(),
                cells,
            });
        }
        matrices.push(Matrix {
            place: place.name,
            competencies: catalogue.iter().map(|c| c.id.to_string()).collect(),
            rows,
        });
    }
    let mut expiring = Vec::new();
    let mut shown = std::collections::BTreeSet::new();
    for days in [30, 60, 90] {
        let list: Vec<StaffCompetency> = state
            .store
            .competencies_expiring(days)
            .await?
            .into_iter()
            .filter(|c| shown.insert((c.staff.clone(), c.record.competency.to_string())))
            .collect();
        expiring.push((days, list));
    }
    let staff = state
        .store
        .list_staff()
        .await?
        .into_iter()
        .map(|s| (s.staff.username.to_string(), s.staff.name.to_string()))
        .collect();
    let status = notice.status();
    let page = render(&EducationPage {
        actor,
        notice,
        matrices,
        expiring,
        staff,
        catalogue: catalogue.iter().map(|c| (c.id.to_string(), c.title.clone())).collect(),
    })?;
    Ok((status, page).into_response())
}

async fn education(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    education_page(&state, &actor, Notice::default()).await
}

#[derive(Deserialize)]
struct SignOffForm {
    staff: String,
    competency: String,
    #[serde(default)]
    evidence: String,
}

/// A sign-off from the education lead's page: the signed-in person is the assessor, and must pass
/// `competency.sign-off` for that colleague and competency.
async fn sign_off(
    State(state): State<AppState>,
    actor: Actor,
    Form(form): Form<SignOffForm>,
) -> Result<Response, AppError> {
    // The form is the education page's: decided before anything is written, so that the answer and the write agree.
    if !actor.is_education_lead() {
        let reasons = vec!["The competency sign-off form is for education leads and administrators.".to_owned()];
        let target = format!("staff:{}", form.staff.trim().chars().take(40).collect::<String>());
        crate::scope::refuse::<()>(
            &state.store,
            &actor.audit_name(),
            "competency.sign-off",
            &target,
            reasons.clone(),
            &serde_json::json!({"competency": form.competency.trim().chars().take(40).collect::<String>()}),
        )
        .await?;
        return refused_page(&actor, "Sign off a competency", &reasons);
    }
    let s = crate::competency::SignOff {
        staff: Username::parse(&form.staff)?,
        competency: CompetencyId::parse(&form.competency)?,
        assessor: actor.profile.staff.username.clone(),
        date: None,
        evidence: form.evidence,
    };
    let o = crate::competency::sign_off(&state.store, &state.pack, &s, &actor.audit_name()).await;
    let notice = Notice::of(o, |d| {
        format!(
            "{}: `{}` signed off, valid until {}.",
            d.staff, d.competency, d.expires_on
        )
    })?;
    education_page(&state, &actor, notice).await
}

#[derive(Template)]
#[template(path = "imaging.html")]
struct WorklistPage<'a> {
    actor: &'a Actor,
    lists: Vec<(&'static str, Vec<RequestView>)>,
}

async fn worklists(State(state): State<AppState>, actor: Actor) -> Result<Html<String>, AppError> {
    let mut lists = Vec::new();
    for (stage, title) in [
        (Stage::AwaitingJustification, "Awaiting justification"),
        (Stage::AwaitingExposure, "Awaiting exposure"),
        (Stage::AwaitingReport, "Awaiting report"),
        (Stage::DrlExceeded, "Dose above the local DRL: for review"),
    ] {
        let mut visible = Vec::new();
        for r in state.store.imaging_worklist(stage).await? {
            if crate::imaging_api::readable(&state, &actor, &r).await? {
                visible.push(r);
            }
        }
        lists.push((title, visible));
    }
    render(&WorklistPage { actor: &actor, lists })
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage<'a> {
    actor: &'a Actor,
    notice: Notice,
    r: RequestView,
    title: String,
    radiographers: Vec<(String, String)>,
    /// Whether the catalogue asks the pregnancy enquiry for this examination and patient.
    asks_pregnancy: bool,
    /// Whether the examination's DRL is set per projection (each projection's DAP is then needed).
    drl_per_projection: bool,
}

async fn request_view(state: &AppState, actor: &Actor, id: i64, notice: Notice) -> Result<Response, AppError> {
    let r = state.store.imaging_request(id).await?;
    if let Some(reasons) = crate::imaging_api::refusal(state, actor, &r).await? {
        return refused_page(actor, "Open this X-ray request", &reasons);
    }
    let exam = state.imaging.examination(&r.examination).ok();
    let title = exam.map_or_else(|| r.examination.clone(), |e| e.title.clone());
    let today = state.store.now().date_naive();
    let born = state.store.patient(&r.patient).await?.date_of_birth;
    let asks_pregnancy = exam.is_some_and(|e| {
        state
            .imaging
            .needs_pregnancy_enquiry(e, born, remit_domain::time::london_date(state.store.now()))
    });
    let mut radiographers = Vec::new();
    for u in state.store.on_duty_at(&r.department, state.store.now()).await? {
        let p = state.store.staff_profile(&u).await?;
        let radiographer = p
            .registrations
            .iter()
            .any(|g| g.is_current(today) && g.profession().is_some_and(|(code, _)| code == "RA"));
        if radiographer && u != actor.profile.staff.username {
            radiographers.push((u.to_string(), p.staff.name.to_string()));
        }
    }
    let status = notice.status();
    let page = render(&RequestPage {
        actor,
        notice,
        r,
        title,
        radiographers,
        asks_pregnancy,
        drl_per_projection: exam.is_some_and(|e| e.drl_per == remit_domain::imaging::DrlPer::Projection),
    })?;
    Ok((status, page).into_response())
}

async fn request_page(State(state): State<AppState>, actor: Actor, Path(id): Path<i64>) -> Result<Response, AppError> {
    request_view(&state, &actor, id, Notice::default()).await
}

#[derive(Deserialize, Default)]
struct StepForm {
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

async fn request_step(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, step)): Path<(i64, String)>,
    Form(f): Form<StepForm>,
) -> Result<Response, AppError> {
    let (store, pack) = (&state.store, &state.pack);
    let by = actor.profile.staff.username.clone();
    let who = actor.audit_name();
    let said = |r: RequestView| format!("Request {} is now {}.", r.id, r.status);
    let operator = |f: &StepForm| -> Result<crate::imaging::Operator, AppError> {
        let supervisor = match f.supervisor.trim() {
            "" => None,
            s => Some(Username::parse(s)?),
        };
        Ok(crate::imaging::Operator {
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
            crate::imaging::decide(store, pack, id, &by, true, &f.note, &who).await,
            said,
        )?,
        "reject" => Notice::of(
            crate::imaging::decide(store, pack, id, &by, false, &f.note, &who).await,
            said,
        )?,
        "pregnancy" => {
            let answer = Pregnancy::parse(&f.answer)?;
            let op = operator(&f)?;
            Notice::of(
                crate::imaging::pregnancy(store, (pack, &state.imaging), id, &op, answer, &who).await,
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
                    let e = crate::imaging::Exposure {
                        request: id,
                        by: op.by,
                        supervision: op.supervision,
                        supervisor: op.supervisor,
                        record,
                    };
                    Notice::of(
                        crate::imaging::expose(store, pack, &state.imaging, &e, &who).await,
                        said,
                    )?
                }
            }
        }
        "report" => Notice::of(
            crate::imaging::report(store, pack, id, &by, "", &f.conclusion, &who).await,
            said,
        )?,
        other => {
            return Err(AppError::NotFound(format!(
                "`{}` is not a step of an X-ray request",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    request_view(&state, &actor, id, notice).await
}

struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    decision: String,
    reasons: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    actor: &'a Actor,
    intact: bool,
    verified: i64,
    problem: Option<String>,
    rows: Vec<AuditRow>,
}

async fn audit(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    if !actor.is_admin() {
        let why = vec!["The audit log is for administrators.".to_owned()];
        let reasons = crate::scope::refuse_read(&state.store, &actor, "audit.read", "audit-log", why).await?;
        return refused_page(&actor, "Open the audit log", &reasons);
    }
    let v = state.store.verify_audit().await?;
    let (intact, problem) = match &v.outcome {
        VerifyOutcome::Intact => (true, None),
        VerifyOutcome::Broken(b) => (false, Some(b.to_string())),
    };
    let rows = state
        .store
        .audit_log(200)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            decision: format!("{:?}", e.decision).to_lowercase(),
            reasons: e.reasons.join(" "),
        })
        .collect();
    Ok(render(&AuditPage {
        actor: &actor,
        intact,
        verified: v.verified,
        problem,
        rows,
    })?
    .into_response())
}
