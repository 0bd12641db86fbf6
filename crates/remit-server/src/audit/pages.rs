//! The audit log page for administrators, with the chain's verification.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, render};
use crate::http::pages::refused_page;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use remit_store::VerifyOutcome;

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

pub(crate) async fn audit(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    if !actor.is_admin() {
        let why = vec!["The audit log is for administrators.".to_owned()];
        let reasons = remit_services::scope::refuse_read(&state.store, &actor, "audit.read", "audit-log", why).await?;
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
