//! Prometheus metrics: request counts and latencies by route template and status, served to administrators.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use remit_domain::staff::Role;

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency histogram.
    latency: Mutex<BTreeMap<(String, String), Series>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let s = m.entry((method.to_owned(), route.to_owned())).or_default();
            s.count += 1;
            s.sum += seconds;
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    s.buckets[i] += 1;
                }
            }
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP remit_http_requests_total HTTP requests by method, route template and status.\n");
        out.push_str("# TYPE remit_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "remit_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP remit_http_request_duration_seconds HTTP request latency by method and route template.\n");
        out.push_str("# TYPE remit_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for ((method, route), s) in m.iter() {
                let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
                for (le, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                    let _ = writeln!(
                        out,
                        "remit_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "remit_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    s.count
                );
                let _ = writeln!(out, "remit_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
                let _ = writeln!(out, "remit_http_request_duration_seconds_count{{{labels}}} {}", s.count);
            }
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn known_method(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: times every request and counts it under its route template (never the raw path).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Labels come from closed sets, so that no request can add a series: the methods remit knows (any other is
    // `other`), route templates (never the raw path) and status codes.
    let method = known_method(req.method()).to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .observe(&method, &route, res.status().as_u16(), started.elapsed().as_secs_f64());
    res
}

pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    if !actor.profile.staff.has_role(Role::Admin) {
        let why = "Metrics are for administrators: this needs the role `admin`.".to_owned();
        let reasons =
            remit_services::scope::refuse_read(&state.store, &actor, "metrics.read", "metrics", vec![why]).await?;
        return Err(AppError::Refused(reasons));
    }
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(res)
}
