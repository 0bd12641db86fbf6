//! Prometheus metrics: request counts and latencies by route template and status, served to administrators.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::AppError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use remit_domain::staff::Role;
use std::time::Instant;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

const REQUESTS: &str = "remit_http_requests_total";
const LATENCY: &str = "remit_http_request_duration_seconds";
const DELIVERIES: &str = "remit_escalation_deliveries_total";
const ADT: &str = "remit_adt_messages_total";
const FOLLOWING: &str = "remit_changes_following";
const RESUMED: &str = "remit_changes_resumed_total";

/// The server's metrics: a Prometheus recorder of its own (not the process's global one, so that each application
/// counts only its own requests), and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), &BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(REQUESTS, "HTTP requests by method, route template and status.");
            metrics::describe_histogram!(
                LATENCY,
                metrics::Unit::Seconds,
                "HTTP request latency by method and route template."
            );
            metrics::describe_counter!(
                DELIVERIES,
                "Attempts to deliver an escalation to the paging gateway, by outcome (delivered, retry, failed)."
            );
            metrics::describe_counter!(
                ADT,
                "HL7 v2 ADT messages from the patient administration system, by acknowledgement (AA, AE, AR)."
            );
            metrics::describe_gauge!(
                FOLLOWING,
                "1 while this instance hears the changes other instances (and the command line) make; 0 while it has \
                 lost them and its open pages may go stale."
            );
            metrics::describe_counter!(
                RESUMED,
                "Times this instance heard other instances' changes again after losing them (open pages read again)."
            );
        });
        Self { recorder, handle }
    }
}

impl Metrics {
    fn observe(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
                .increment(1);
            metrics::histogram!(LATENCY, "method" => method, "route" => route).record(seconds);
        });
    }

    /// One attempt to deliver an escalation outside remit, by what it came to.
    pub fn delivery(&self, outcome: &'static str) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(DELIVERIES, "outcome" => outcome).increment(1);
        });
    }

    /// One ADT message answered, by its acknowledgement code.
    pub fn adt(&self, ack: &'static str) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(ADT, "ack" => ack).increment(1);
        });
    }

    /// Whether this instance hears the changes of the other processes on its database.
    pub fn following(&self, yes: bool) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!(FOLLOWING).set(if yes { 1.0 } else { 0.0 });
            // Shown from the start, at 0, for alert rules.
            metrics::counter!(RESUMED).increment(0);
        });
    }

    /// The follower found its way again.
    pub fn resumed(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(RESUMED).increment(1);
        });
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds the latencies recorded since the last render into the histograms: run every few seconds while serving,
    /// else they would pile up between scrapes (or for ever, where nobody scrapes).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
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
    let method = known_method(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .observe(method, route, res.status().as_u16(), started.elapsed().as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Latencies recorded between scrapes are folded into the histograms by the upkeep, and the text names routes
    /// by their template with the methods and statuses counted.
    #[test]
    fn requests_are_counted_and_their_latencies_kept_until_rendered() {
        let m = Metrics::default();
        for seconds in [0.0005, 0.002, 0.2] {
            m.observe("GET", "/wards/{place}".to_owned(), 200, seconds);
        }
        m.observe("other", "unmatched".to_owned(), 404, 0.001);
        m.upkeep();
        let text = m.render();
        for line in [
            "remit_http_requests_total{method=\"GET\",route=\"/wards/{place}\",status=\"200\"} 3",
            "remit_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1",
            "remit_http_request_duration_seconds_bucket{method=\"GET\",route=\"/wards/{place}\",le=\"0.001\"} 1",
            "remit_http_request_duration_seconds_bucket{method=\"GET\",route=\"/wards/{place}\",le=\"0.25\"} 3",
            "remit_http_request_duration_seconds_count{method=\"GET\",route=\"/wards/{place}\"} 3",
        ] {
            assert!(text.contains(line), "{line} not in:\n{text}");
        }
    }
}
