//! `/events`: the server-sent event stream open boards and inboxes listen to. Each stream passes on only
//! announcements about places its reader may see, and ends when the reader's credential no longer stands.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Server-sent events: `escalation` whenever an escalation is raised, acknowledged or reviewed.
pub(crate) async fn events(
    State(state): State<AppState>,
    actor: Actor,
    headers: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let max = state.config.max_streams_per_person;
    let Some(guard) = state.events.hold_stream(actor.profile.id, max) else {
        return Err(AppError::TooManyRequests(format!(
            "At most {max} live pages can be open at once for one person: close one and reload this."
        )));
    };
    let rx = state.events.subscribe();
    let mut check = tokio::time::interval(state.config.stream_check);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Live {
        rx,
        check,
        state,
        headers,
        told: 0,
        _guard: guard,
    };
    let stream = futures_util::stream::unfold(live, |mut live| async move {
        live.next().await.map(|e| (Ok::<_, Infallible>(e), live))
    });
    // A keep-alive every few seconds also finds a stream whose page was closed, giving its place back soon.
    let keep_alive = KeepAlive::new().interval(std::time::Duration::from_secs(5));
    Ok(Sse::new(stream).keep_alive(keep_alive).into_response())
}

/// One open event stream: it passes on the announcements of places its reader may see now, and ends when the right
/// to it does (sign-out, the session's end, a revoked token, suspension), checked at each announcement, when a
/// credential ends in this process, and every [`Config::stream_check`](crate::Config) otherwise.
struct Live {
    rx: tokio::sync::broadcast::Receiver<crate::Change>,
    check: tokio::time::Interval,
    state: AppState,
    headers: axum::http::HeaderMap,
    /// Announcements passed on so far: each event carries its own count, not the server's, so that a reader cannot
    /// tell how much changed on other wards.
    told: u64,
    _guard: crate::http::events::StreamGuard,
}

impl Live {
    async fn next(&mut self) -> Option<Event> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let change = tokio::select! {
                c = self.rx.recv() => match c {
                    Ok(c) => Some(c),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
                _ = self.check.tick() => None,
            };
            let actor = crate::http::auth::still_standing(&self.state, &self.headers)
                .await
                .ok()
                .flatten()?;
            if let Some(c) = change
                && !c.place.is_empty()
                && self.sees(&actor, &c.place)
            {
                self.told += 1;
                return Some(Event::default().event("escalation").data(self.told.to_string()));
            }
        }
    }

    /// Whether the reader may see news of `place`: they are on duty there, or are of a grade told of escalations
    /// wherever they are.
    fn sees(&self, actor: &Actor, place: &str) -> bool {
        let p = &actor.profile;
        p.on_duty.iter().any(|d| d.as_str() == place)
            || p.staff
                .grade
                .as_ref()
                .is_some_and(|g| self.state.pack.escalation().told_anywhere(g))
    }
}
