//! Serving the application on a listener: remit's own accept loop over hyper, with a connection limit, a header
//! and idle timeout, the peer's address for sign-in throttling, the follower of other processes' changes, and a
//! graceful shutdown: told to stop, the server says so at `/health` for [`Config::drain`](crate::Config), stops
//! accepting, ends its event streams with a hint to reconnect, and gives the requests in flight time to finish.

use crate::AppState;
use axum::extract::Request;
use std::sync::Arc;
use std::time::Duration;

/// How long requests in flight are given to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often the latencies recorded for metrics are folded into their histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);
/// The longest pause before a follower that lost its way tries again.
const FOLLOW_PAUSE: Duration = Duration::from_secs(5);

/// Passes on what other processes on the same database announce, for as long as the server runs. Until the follower
/// first listens, and whenever it has lost its way (the listening connection dropped or silent, the database
/// unreachable), `/health` and the metrics say so, and open pages are told to read again at every attempt to find it
/// (every few seconds), so that they do not go stale meanwhile; once it is found again they are told once more.
async fn follow(state: AppState) {
    use remit_store::changes::{Change, Followed, Kind};
    use std::sync::atomic::Ordering::Relaxed;
    let mut follower = state.store.follower();
    let mut pause = Duration::from_millis(100);
    state.standing.deaf.store(true, Relaxed);
    state.metrics.following(false);
    loop {
        match follower.next().await {
            Ok(heard) => {
                if state.standing.deaf.swap(false, Relaxed) {
                    state.metrics.following(true);
                }
                if heard == Followed::Resumed {
                    tracing::info!("following other instances' changes again; open pages told to read again");
                    state.metrics.resumed();
                }
                pause = Duration::from_millis(100);
            }
            Err(e) => {
                if !state.standing.deaf.swap(true, Relaxed) {
                    tracing::error!(error = %e, "lost the other instances' changes: open pages read again every few \
                        seconds until they are heard again");
                    state.metrics.following(false);
                }
                state.store.changes().publish(Change::new(Kind::Everything, ""));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(FOLLOW_PAUSE);
            }
        }
    }
}

/// Serves until `shutdown` resolves, then drains (see the module) and finishes the requests in flight (for up to
/// [`SHUTDOWN_GRACE`]).
///
/// Each connection is bounded: at most `max_connections` are served at once (further ones wait in the listen
/// queue), a request's header must arrive within `header_timeout` (and an idle keep-alive connection is closed after
/// it), and a request's body must have arrived within `request_timeout` (see [`app`](crate::app)).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let config = state.config.clone();
    let metrics = state.metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP);
        loop {
            every.tick().await;
            metrics.upkeep();
        }
    });
    let follower = tokio::spawn(follow(state.clone()));
    let (standing, events, drain) = (state.standing.clone(), state.events.clone(), config.drain);
    let router = crate::app(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    // Once told to stop: the end of the drain, until which the server goes on serving while `/health` says it stops.
    let mut until: Option<tokio::time::Instant> = None;
    loop {
        let drained = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        let accepted = async {
            let slot = slots.clone().acquire_owned().await.map_err(std::io::Error::other)?;
            listener.accept().await.map(|a| (slot, a))
        };
        let (slot, (stream, peer)) = tokio::select! {
            () = &mut shutdown, if until.is_none() => {
                standing.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                if drain.is_zero() {
                    break;
                }
                tracing::info!(seconds = drain.as_secs_f64(), "stopping: draining");
                until = Some(tokio::time::Instant::now() + drain);
                continue;
            }
            () = drained => break,
            accepted = accepted => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service_for(&router, peer)));
        tokio::spawn(async move {
            // A client that goes away or times out is not the server's error.
            let _ = conn.await;
            drop(slot);
        });
    }
    // Then no new connections; event streams end with a hint to reconnect (elsewhere), and the requests in flight get
    // a moment to finish.
    drop(listener);
    tracing::info!("stopping: no longer accepting; finishing what is in flight");
    events.stop();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open at shutdown were closed");
    }
    upkeep.abort();
    follower.abort();
    tracing::info!("stopped");
    Ok(())
}

/// The application as hyper serves it on one connection, with the peer's address for the handlers.
fn service_for(
    router: &axum::Router,
    peer: std::net::SocketAddr,
) -> hyper_util::service::TowerToHyperService<
    impl tower::Service<
        Request<hyper::body::Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static,
> {
    use tower::ServiceExt;
    let service = router
        .clone()
        .map_request(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            req
        });
    hyper_util::service::TowerToHyperService::new(service)
}
