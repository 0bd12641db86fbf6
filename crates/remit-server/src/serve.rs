//! Serving the application on a listener: remit's own accept loop over hyper, with a connection limit, a header
//! and idle timeout, the peer's address for sign-in throttling, and a graceful shutdown.

use crate::AppState;
use axum::extract::Request;
use std::sync::Arc;
use std::time::Duration;

/// How long requests in flight are given to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves until `shutdown` resolves, then finishes the requests in flight (for up to [`SHUTDOWN_GRACE`]).
///
/// Each connection is bounded: at most `max_connections` are served at once (further ones wait in the listen
/// queue), a request's header must arrive within `header_timeout` (and an idle keep-alive connection is closed after
/// it), and a request's body must have arrived within `request_timeout` (see [`app`]).
/// How often the latencies recorded for metrics are folded into their histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let config = state.config.clone();
    let metrics = state.metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP);
        loop {
            every.tick().await;
            metrics.upkeep();
        }
    });
    let router = crate::app(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
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
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                req
            });
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away or times out is not the server's error.
            let _ = conn.await;
            drop(slot);
        });
    }
    // No new connections; those open get a moment to finish (event streams never would).
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open at shutdown were closed");
    }
    upkeep.abort();
    Ok(())
}
