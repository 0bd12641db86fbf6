//! Moving one's own task along from the my-work page; a refusal shows the page again with every reason.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use crate::http::pages::Notice;
use crate::staff::pages::my_work_page;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
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
