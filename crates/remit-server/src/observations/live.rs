//! `/events`: the server-sent event stream open boards and inboxes listen to. Each stream passes on only
//! announcements about places its reader may see, and ends when the reader's credential no longer stands.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use remit_store::changes::Kind;
use std::convert::Infallible;

/// How soon a browser reconnects when the server ends its stream to stop.
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(1);

/// Server-sent events: `escalation` whenever an escalation of a place the reader may see is raised, raised again,
/// acknowledged, reviewed, cascaded or delivered; `change` whenever anything else there changed (a set, a task, a
/// patient come or gone), or everything may have (announcements were missed). When the server stops, the stream ends
/// with a hint to reconnect within a second (through the load balancer, to another instance).
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
    let stopping = state.events.stopping();
    let mut check = tokio::time::interval(state.config.stream_check);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Live {
        rx,
        stopping,
        ended: false,
        actor: None,
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
    /// Turns true when the server begins to stop.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// The last event (the reconnect hint) was sent.
    ended: bool,
    /// The reader as last confirmed (at the last check or announcement passed on).
    actor: Option<Actor>,
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
        if self.ended {
            return None;
        }
        loop {
            let change = tokio::select! {
                c = self.rx.recv() => match c {
                    Ok(c) => Some(c),
                    // Announcements were missed here: everything may have changed.
                    Err(RecvError::Lagged(_)) => Some(crate::Change::new(Kind::Everything, "")),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.check.tick() => None,
                _ = self.stopping.wait_for(|s| *s) => {
                    self.ended = true;
                    return Some(Event::default().event("stopping").retry(RECONNECT).data(""));
                }
            };
            // News of a place the reader could not see a moment ago is passed over without asking the database
            // (their duty is read again at every check); anything else is passed on only if their credential still
            // stands and they may see it now.
            if let (Some(c), Some(last)) = (&change, &self.actor)
                && matches!(c.kind, Kind::Escalation | Kind::Set | Kind::Task | Kind::Board)
                && !self.sees(last, &c.place)
            {
                continue;
            }
            let actor = crate::http::auth::still_standing(&self.state, &self.headers)
                .await
                .ok()
                .flatten()?;
            let name = change.and_then(|c| match c.kind {
                Kind::Credentials => None,
                Kind::Everything => Some("change"),
                _ if !self.sees(&actor, &c.place) => None,
                Kind::Escalation => Some("escalation"),
                Kind::Set | Kind::Task | Kind::Board => Some("change"),
            });
            self.actor = Some(actor);
            let Some(name) = name else { continue };
            self.told += 1;
            return Some(Event::default().event(name).data(self.told.to_string()));
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
