//! Moving one's own task along from the my-work page; a refusal shows the page again with every reason.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use crate::http::gate::Opened;
use crate::http::pages::{Notice, named, refused_page};
use crate::staff::pages::my_work_page;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use remit_domain::staff::Username;
use remit_domain::task::Move;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(crate) struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub(crate) async fn task_move(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, mv)): Path<(i64, String)>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, AppError> {
    let mv = Move::parse(&mv)?;
    let note = Some(form.reason).filter(|r| !r.trim().is_empty());
    let o = remit_services::tasks::make_move(
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
    if notice.done() {
        return Ok(axum::response::Redirect::to(&format!("/me?task={id}")).into_response());
    }
    my_work_page(&state, &actor, notice).await
}

#[derive(Deserialize)]
pub(crate) struct DelegateForm {
    #[serde(default)]
    activity: String,
    #[serde(default)]
    delegatee: String,
    #[serde(default)]
    supervision: String,
    #[serde(default)]
    supervisor: String,
    #[serde(default)]
    notes: String,
}

/// Delegation from the patient's chart: decided as every delegation is (both sides' scope, the supervisor's load),
/// then the delegator's work page, naming the task (post/redirect/get); a refusal shows every reason.
pub(crate) async fn delegate(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    Form(form): Form<DelegateForm>,
) -> Result<Response, AppError> {
    let supervision = remit_policy::Supervision::parse(&form.supervision)?;
    let supervisor = named(&form.supervisor)?;
    let d = remit_services::tasks::Delegation {
        delegator: actor.profile.staff.username.clone(),
        delegatee: Username::parse(&form.delegatee)?,
        patient: record.patient.nhs_number.clone(),
        activity: form.activity.trim().to_owned(),
        exam: None,
        supervision,
        supervisor,
        due_at: None,
        notes: form.notes,
    };
    let o = remit_services::tasks::delegate(
        &state.store,
        &state.pack,
        &d,
        &actor.audit_name(),
        state.config.max_supervisees,
    )
    .await;
    if let Ok(remit_services::scope::Outcome::Done(done)) = &o {
        return Ok(axum::response::Redirect::to(&format!("/me?task={}", done.task.id)).into_response());
    }
    let notice = Notice::of(o, |_| String::new())?;
    if !notice.reasons.is_empty() {
        return refused_page(&actor, "Delegate this task", &notice.reasons);
    }
    Err(AppError::Unprocessable(notice.error.unwrap_or_default()))
}
