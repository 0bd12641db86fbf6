//! FHIR Task: create (delegate), read, search by owner, requester, status and patient, and moves by JSON Patch of
//! `/status` or by `$accept`, `$countersign`, … operations, all through `remit_services::tasks`. A Task is readable
//! by its participants and by anyone who may read its patient's record.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{FhirError, done, fhir_json, parse_body, readable_patients, search_answer, search_of};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_domain::task::{Move, TaskStatus};
use remit_fhir::Issue;
use remit_policy::{ExamRegion, Supervision};
use remit_services::scope::Item;
use remit_services::tasks::{Delegation, Outcome};
use remit_services::{scope, tasks};
use remit_store::task::{TaskFilter, TaskView};
use serde_json::Value;

fn task_id(raw: &str) -> Result<i64, FhirError> {
    raw.parse().map_err(|_| {
        FhirError::new(
            StatusCode::NOT_FOUND,
            Issue::new("not-found", format!("no Task `{raw}`")),
        )
    })
}

/// The task as FHIR, if `actor` may read it: a participant, or someone who may read the patient's record.
fn task_to_fhir(state: &AppState, t: &TaskView) -> Value {
    let title = state.pack.activity(&t.activity).map(|a| a.title.as_str());
    remit_fhir::task::to_fhir(t, title)
}

#[tracing::instrument(skip_all)]
pub(crate) async fn create_task(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(&headers, &body, &["application/fhir+json", "application/json"])?;
    let req = remit_fhir::task::from_fhir(&v).map_err(FhirError::bad)?;
    let me = actor.profile.staff.username.clone();
    if req.requester.as_deref().is_some_and(|r| r != me.as_str()) {
        return Err(FhirError::new(
            StatusCode::FORBIDDEN,
            Issue::new("forbidden", "a Task is requested by the person who creates it").at("Task.requester"),
        ));
    }
    let at = |path: &'static str| {
        move |e: remit_domain::InvalidValue| {
            FhirError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Issue::new("value", e.to_string()).at(path),
            )
        }
    };
    let d = Delegation {
        delegator: me,
        delegatee: Username::parse(&req.owner).map_err(at("Task.owner"))?,
        patient: req.patient,
        activity: req.activity,
        exam: req
            .exam
            .as_deref()
            .map(ExamRegion::parse)
            .transpose()
            .map_err(at("Task.input"))?,
        supervision: Supervision::parse(&req.supervision).map_err(at("Task.input"))?,
        supervisor: req
            .supervisor
            .as_deref()
            .map(Username::parse)
            .transpose()
            .map_err(at("Task.input"))?,
        due_at: req
            .due
            .as_deref()
            .map(|d| remit_domain::time::parse_instant("due", d))
            .transpose()
            .map_err(at("Task.restriction.period.end"))?,
        notes: req.notes,
    };
    if let Some(due) = d.due_at
        && due <= state.store.now()
    {
        return Err(FhirError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Issue::new("value", "the due time is not in the future").at("Task.restriction.period.end"),
        ));
    }
    match tasks::delegate(
        &state.store,
        &state.pack,
        &d,
        &actor.audit_name(),
        state.config.max_supervisees,
    )
    .await?
    {
        Outcome::Refused(reasons) => Err(FhirError::forbidden(reasons)),
        Outcome::Done(done) => {
            let title = state.pack.activity(&done.task.activity).map(|a| a.title.as_str());
            let mut res = fhir_json(StatusCode::CREATED, &remit_fhir::task::to_fhir(&done.task, title));
            if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/Task/{}", done.task.id)) {
                res.headers_mut().insert(header::LOCATION, loc);
            }
            if let Some(w) = done.warning.and_then(|w| HeaderValue::from_str(&w).ok()) {
                res.headers_mut().insert("x-remit-warning", w);
            }
            Ok(res)
        }
    }
}

#[tracing::instrument(skip_all)]
pub(crate) async fn read_task(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let t = state.store.task(task_id(&id)?).await?;
    done(scope::open_item(&state.store, &state.pack, &actor, Item::Task(&t)).await?)?;
    Ok(fhir_json(StatusCode::OK, &task_to_fhir(&state, &t)))
}

/// `GET /fhir/Task?…`: the tasks the reader may read, searched as FHIR says, the most recently changed first.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_tasks(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&remit_fhir::search::TASK, &headers, &params)?;
    // What the store reads is narrowed by a parameter that names one person or one patient; the search decides.
    let person = |name: &str| {
        search
            .one(name)
            .and_then(|u| Username::parse(&u).ok())
            .map(|u| u.to_string())
    };
    let f = TaskFilter {
        owner: person("owner"),
        requester: person("requester"),
        status: None,
        patient: search
            .pinned(&["patient", "subject"])
            .filter(|p| p.len() == 1)
            .and_then(|p| NhsNumber::parse(&p[0]).ok()),
    };
    let mut candidates = Vec::new();
    let mut patients = Vec::new();
    for t in state.store.list_tasks(&f).await? {
        if scope::may_read_item(&state.store, &state.pack, &actor, Item::Task(&t)).await? {
            let v = task_to_fhir(&state, &t);
            if search.includes_anything() && search.matches(&v) {
                patients.push((t.patient.clone(), None));
            }
            candidates.push(v);
        }
    }
    let pool = readable_patients(&state, &actor, patients).await?;
    Ok(search_answer(&state, &headers, &search, candidates, &pool))
}

/// The move that takes a task from its status to `target`, for the person asking.
fn move_to(current: TaskStatus, target: &str) -> Result<Move, FhirError> {
    let mv = match (current, target) {
        (_, "accepted") => Move::Accept,
        (_, "rejected") => Move::Decline,
        (TaskStatus::AwaitingCountersignature, "in-progress") => Move::Return,
        (_, "in-progress") => Move::Start,
        (TaskStatus::AwaitingCountersignature, "completed") => Move::Countersign,
        (_, "completed") => Move::Complete,
        (_, "failed") => Move::Fail,
        (_, "cancelled") => Move::Cancel,
        (_, other) => {
            return Err(FhirError::bad(
                Issue::new("value", format!("a Task cannot be moved to `{other}`")).at("Task.status"),
            ));
        }
    };
    Ok(mv)
}

async fn apply(
    state: &AppState,
    actor: &Actor,
    id: i64,
    mv: Move,
    reason: Option<String>,
) -> Result<Response, FhirError> {
    let me = actor.profile.staff.username.clone();
    match tasks::make_move(&state.store, &state.pack, id, mv, &me, reason, &actor.audit_name()).await? {
        Outcome::Refused(reasons) => Err(FhirError::forbidden(reasons)),
        Outcome::Done(t) => {
            let title = state.pack.activity(&t.activity).map(|a| a.title.as_str());
            Ok(fhir_json(StatusCode::OK, &remit_fhir::task::to_fhir(&t, title)))
        }
    }
}

/// `PATCH` with a JSON Patch that replaces `/status` (and, for a decline, failure, return or cancellation,
/// `/statusReason`).
#[tracing::instrument(skip_all)]
pub(crate) async fn patch_task(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let id = task_id(&id)?;
    let patch = parse_body(&headers, &body, &["application/json-patch+json"])?;
    let (target, reason) = remit_fhir::task::status_patch(&patch).map_err(FhirError::bad)?;
    let current = state.store.task(id).await?.status;
    apply(&state, &actor, id, move_to(current, &target)?, reason).await
}

/// `POST /fhir/Task/{id}/$accept` and the other named operations, with an optional Parameters body carrying
/// `reason`.
#[tracing::instrument(skip_all)]
pub(crate) async fn task_operation(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let id = task_id(&id)?;
    let mv = Move::ALL
        .into_iter()
        .find(|m| operation.strip_prefix('$') == Some(m.as_str()))
        .ok_or_else(|| {
            FhirError::new(
                StatusCode::NOT_FOUND,
                Issue::new("not-supported", format!("`{operation}` is not an operation on Task")),
            )
        })?;
    let reason = if body.is_empty() {
        None
    } else {
        let p = parse_body(&headers, &body, &["application/fhir+json", "application/json"])?;
        remit_fhir::task::operation_reason(&p).map_err(FhirError::bad)?
    };
    apply(&state, &actor, id, mv, reason).await
}
