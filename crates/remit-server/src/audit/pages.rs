//! The audit log page for administrators, with the chain's verification.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, render};
use crate::http::pages::{PageQuery, just_saved, refused_page};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use remit_store::AuditFilter;
use remit_store::VerifyOutcome;
use serde::Deserialize;

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
    /// The chain's verification, when asked for: whether it is intact, how many entries were checked, what broke.
    verified: Option<(bool, i64, Option<String>)>,
    rows: Vec<AuditRow>,
    query: AuditQuery,
    /// The address of the next, older page, with the same filter, when there may be one.
    older: Option<String>,
}

/// The audit page's query: a filter (an exact actor, action or target), where the page starts (entries older than
/// `before`), and whether to verify the whole chain now.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    before: Option<i64>,
    verify: Option<u8>,
}

/// Entries on one page of the log.
const PAGE: i64 = 100;

fn given(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    actor: Actor,
    query: PageQuery<AuditQuery>,
) -> Result<Response, AppError> {
    if !actor.is_admin() {
        let why = vec!["The audit log is for administrators.".to_owned()];
        let reasons = remit_services::scope::refuse_read(&state.store, &actor, "audit.read", "audit-log", why).await?;
        return refused_page(&actor, "Open the audit log", &reasons);
    }
    let q = just_saved(query)?;
    // Verifying reads the whole chain: done when asked, not on every view.
    let verified = match q.verify {
        Some(_) => {
            let v = state.store.verify_audit().await?;
            Some(match &v.outcome {
                VerifyOutcome::Intact => (true, v.verified, None),
                VerifyOutcome::Broken(b) => (false, v.verified, Some(b.to_string())),
            })
        }
        None => None,
    };
    let filter = AuditFilter {
        actor: given(&q.actor),
        action: given(&q.action),
        target: given(&q.target),
    };
    let entries = state.store.audit_page(&filter, q.before, PAGE).await?;
    let older = match entries.last() {
        Some(last) if entries.len() as i64 == PAGE => Some(format!(
            "/audit?actor={}&action={}&target={}&before={}",
            encode(q.actor.trim()),
            encode(q.action.trim()),
            encode(q.target.trim()),
            last.seq
        )),
        _ => None,
    };
    let rows = entries
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
        verified,
        rows,
        query: q,
        older,
    })?
    .into_response())
}
