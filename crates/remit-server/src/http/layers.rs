//! The layers every request passes: request ids, the trace span (the route template, never the path), the body's
//! size limit and deadline, the write threads, the protective headers and the Content-Security-Policy, metrics.

use crate::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::{Router, middleware};
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: random, short, and never derived from the request.
#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = &remit_store::credentials::random_secret()[..16];
        axum::http::HeaderValue::from_str(id).ok().map(RequestId::new)
    }
}

/// A client's request id is kept only if it is a plain token of bounded length (a correlation id from a proxy in
/// front); anything else is dropped and the server makes its own, so that nothing a client sends can forge log
/// fields or plant text in the logs.
async fn plain_request_id(mut req: Request) -> Request {
    let plain = req.headers().get(REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    });
    if !plain {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// What a page may load: its own scripts, styles and requests only, no inline script or style, no plug-ins, no
/// framing, and forms that post back to remit — and, where staff sign in through the trust's provider, whose
/// sign-out redirects there, to the provider (`extra_form_action`).
fn csp(extra_form_action: Option<&str>) -> String {
    let form_action = match extra_form_action {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
}

/// What the protective headers need: whether remit is served over HTTPS, and the policy.
#[derive(Clone)]
pub(crate) struct Protection {
    secure: bool,
    csp: axum::http::HeaderValue,
}

/// The headers every answer carries: no sniffing of content types, no framing by another site, no referrer sent to
/// another site (same-origin: a form post keeps its `Origin`, which the CSRF check reads), the [`CSP`], nothing kept
/// by a browser's or proxy's cache unless the answer says otherwise (only remit's static files do: ward PCs are
/// shared, and most answers name patients or staff);
/// HSTS when remit is served over HTTPS (`--secure-cookies`).
async fn protective_headers(
    axum::extract::State(Protection { secure, csp }): axum::extract::State<Protection>,
    mut res: axum::response::Response,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    use axum::http::header;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

/// A browser asking for a page is answered an error as a page, not JSON: a 4xx or 5xx answered in JSON to a request
/// that accepts HTML and is not for the API, FHIR, the event stream or metrics becomes remit's error page, with the
/// same status, the same words and the same headers (the request id among them).
async fn html_errors(req: Request, next: middleware::Next) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let path = req.uri().path();
    let machine = [
        "/api/", "/fhir", "/events", "/metrics", "/health", "/static/", "/assets/",
    ]
    .iter()
    .any(|p| path.starts_with(p));
    let res = next.run(req).await;
    let status = res.status();
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !wants_html || machine || !json || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let message = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let page = crate::http::pages::ErrorPage::new(status, message).render_html();
    let mut res = page.into_response();
    *res.status_mut() = status;
    let own: Vec<HeaderName> = res.headers().keys().cloned().collect();
    for (name, value) in parts.headers.iter() {
        if !own.contains(name) {
            res.headers_mut().append(name.clone(), value.clone());
        }
    }
    res
}

/// Gives the request's body a deadline: frames after it are an error for whoever reads the body, so a client that
/// trickles a body cannot hold a connection and a handler for long.
async fn body_deadline(axum::extract::State(within): axum::extract::State<Duration>, req: Request) -> Request {
    let (parts, body) = req.into_parts();
    let body = Deadline {
        body,
        sleep: Box::pin(tokio::time::sleep(within)),
    };
    Request::from_parts(parts, axum::body::Body::new(body))
}

struct Deadline {
    body: axum::body::Body,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future as _;
        // What has arrived is read whenever the handler asks; only waiting for more is cut short.
        let frame = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if frame.is_pending() && self.sleep.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Some(Err(axum::Error::new("the request body did not arrive in time"))));
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The layers every request passes, outermost last: the client's request id kept only if plain, a request id, the
/// trace span, the body's deadline and size limit, the write threads (SQLite), the protective headers, metrics.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    tracing::error!("a request's handler panicked");
    crate::http::error::AppError::Internal("a handler panicked".into()).into_response()
}

pub(crate) fn wrap(router: Router, state: &AppState) -> Router {
    router
        // A handler that panics is answered 500, never by a dropped connection; what it said is not echoed.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn_with_state(state.clone(), crate::http::metrics::track))
        .layer(middleware::from_fn(html_errors))
        .layer(middleware::map_response_with_state(
            Protection {
                secure: state.config.secure_cookies,
                csp: axum::http::HeaderValue::from_str(&csp(
                    state.config.oidc.as_ref().and_then(|o| o.end_session_origin()).as_deref(),
                ))
                .expect("a policy of plain ASCII"),
            },
            protective_headers,
        ))
        .layer(middleware::from_fn_with_state(state.store.backend(), crate::http::writes::on_write_threads))
        // The limit inside the deadline, so that a body too large is answered 413 as it streams in.
        .layer(RequestBodyLimitLayer::new(state.config.body_limit))
        .layer(middleware::map_request_with_state(state.config.request_timeout, body_deadline))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The route template, never the path itself: paths can carry NHS numbers.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str)
                        .to_owned();
                    let request_id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    tracing::info_span!("request", %request_id, method = %req.method(), %route, staff = tracing::field::Empty)
                })
                .on_request(())
                .on_response(|res: &axum::response::Response, latency: Duration, _span: &Span| {
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "response");
                })
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
        .layer(middleware::map_request(plain_request_id))
}
