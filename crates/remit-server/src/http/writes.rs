//! On SQLite, writing requests are worked on threads of their own.
//!
//! SQLite runs each statement on the thread that asks, so where a request runs decides who gets the processor.
//! Requests that change something (anything but `GET`, `HEAD` and `OPTIONS`) are worked on a runtime of their own;
//! the connections (reading requests off the wire and sending the answers) and the reads stay on the server's
//! runtime. The kernel shares the processor between the two sets of threads, so a ward board waits for other reads,
//! not behind every set that arrived before it (docs/decisions/0005).
//!
//! Not on PostgreSQL: there a request mostly waits for the database, and moving writes to other threads only added
//! wake-ups between the runtimes (about 20% fewer sets a second in the same load).
//!
//! The runtime lives for the process and serves every router in it (as in the tests): a runtime cannot be dropped
//! from inside another.

use crate::http::error::AppError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use remit_store::Backend;
use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};
use tracing::Instrument;

/// The writers' runtime, started on first use; `None` if its threads could not be started (writes then run where
/// they arrive, as reads do).
fn writers() -> Option<&'static Handle> {
    static WRITERS: OnceLock<Option<Runtime>> = OnceLock::new();
    WRITERS
        .get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, usize::from);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("remit-write")
                .enable_all()
                .build()
                .inspect_err(|e| tracing::error!(error = %e, "could not start the threads for writing requests"))
                .ok()
        })
        .as_ref()
        .map(Runtime::handle)
}

/// Runs a writing request on SQLite (everything after this layer: metrics, authentication, the handler) on the
/// writers' threads, inside the request's span.
pub(crate) async fn on_write_threads(State(backend): State<Backend>, req: Request, next: Next) -> Response {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let writers = writers().filter(|_| !reads && backend == Backend::Sqlite);
    let Some(writers) = writers else {
        return next.run(req).await;
    };
    match writers.spawn(next.run(req).in_current_span()).await {
        Ok(res) => res,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => AppError::Internal(format!("a write was stopped before it was answered: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    async fn answered_on(backend: Backend, method: Method) -> String {
        let app = Router::new()
            .route("/", get(thread_name).post(thread_name))
            .layer(axum::middleware::from_fn_with_state(backend, on_write_threads));
        let req = axum::http::Request::builder()
            .method(method)
            .uri("/")
            .body(Body::empty())
            .expect("request");
        let res = app.oneshot(req).await.expect("answer");
        String::from_utf8(to_bytes(res.into_body(), 1024).await.expect("body").to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn on_sqlite_writes_are_worked_on_the_writers_threads_and_reads_where_they_arrive() {
        assert_eq!(answered_on(Backend::Sqlite, Method::POST).await, "remit-write");
        assert_ne!(answered_on(Backend::Sqlite, Method::GET).await, "remit-write");
        assert_ne!(answered_on(Backend::Postgres, Method::POST).await, "remit-write");
    }
}
