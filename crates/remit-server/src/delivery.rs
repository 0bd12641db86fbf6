//! Escalations delivered outside remit: to the employer's paging or messaging gateway, as a webhook. Each escalation
//! raised, raised again or moved along the cascade is written to the outbox (`remit_store::delivery`) in the
//! transaction that made it; [`tick`] delivers what is due, at least once, with an idempotency key and an HMAC
//! signature, trying again with backoff, and records the outcome. A delivery that fails for good is shown on the
//! escalation's pages to everyone it is addressed to (the nurse in charge among them once it cascades) and counted
//! in the metrics.
//!
//! The request: `POST` to the configured `http://` URL, `Content-Type: application/json`, `Idempotency-Key` (the
//! same on every attempt of one delivery), and `Remit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the shared secret>`. The body says which escalation, what happened, how urgent, where, who it
//! is for and what to do — and of the patient only what the employer allows ([`PatientData`]).

use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use remit_domain::place::PlaceCode;
use remit_store::StoreError;
use remit_store::changes::Kind;
use remit_store::delivery::{Attempt, DueDelivery};
use serde::Serialize;
use sha2::Sha256;

/// How much of the patient a delivery carries: a pager's screen is seen by others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientData {
    /// The place and bed only.
    None,
    /// And the patient's name.
    Name,
    /// And the name and NHS number.
    Full,
}

impl PatientData {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(PatientData::None),
            "name" => Ok(PatientData::Name),
            "full" => Ok(PatientData::Full),
            other => Err(format!(
                "`{}` is not none, name or full",
                other.chars().take(20).collect::<String>()
            )),
        }
    }
}

/// Where and how escalations are delivered.
#[derive(Clone)]
pub struct Delivery {
    pub url: hyper::Uri,
    pub secret: Vec<u8>,
    pub patient_data: PatientData,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: i64,
    /// How long one attempt may take.
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("url", &self.url)
            .field("patient_data", &self.patient_data)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// A delivery to `url` (an `http://` address: put a TLS-terminating proxy in front of an `https://` gateway),
    /// signed with `secret` (at least 16 bytes).
    pub fn new(url: &str, secret: Vec<u8>, patient_data: PatientData) -> Result<Self, String> {
        let url: hyper::Uri = url.parse().map_err(|_| format!("delivery URL `{url}` is not a URL"))?;
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err(format!(
                "delivery URL `{url}`: give an http:// address (an https:// gateway is reached through a local TLS proxy)"
            ));
        }
        if secret.len() < 16 {
            return Err("delivery secret: at least 16 bytes".into());
        }
        Ok(Self {
            url,
            secret,
            patient_data,
            max_attempts: 8,
            timeout: std::time::Duration::from_secs(10),
        })
    }

    /// The signature of `body` at `t` (unix seconds): what `Remit-Signature` carries after `v1=`.
    pub fn sign(&self, t: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(format!("{t}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The wait before attempt `n + 1` after `n` failed: 5 s, 10 s, 20 s … at most five minutes.
pub fn backoff(attempts: i64) -> Duration {
    Duration::seconds((5_i64 << attempts.clamp(0, 6)).min(300))
}

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    event: &'a str,
    escalation: i64,
    level: &'a str,
    score: Option<u8>,
    /// The step of the cascade (0 when first raised).
    stage: i64,
    place: String,
    bed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patient_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nhs_number: Option<String>,
    /// What to do (Chart 4).
    response: &'a str,
    to: Vec<remit_services::obs::Recipient>,
    /// Whether nobody on duty where the patient is can acknowledge it.
    no_one_to_acknowledge: bool,
    raised_at: String,
    written_at: &'a str,
    /// Where in remit to see it (a path under remit's own address).
    link: String,
}

/// Delivers what is due now: each at most once in this call, all at once (a gateway slow to answer one does not
/// hold back the others). Returns how many were attempted.
pub async fn tick(state: &AppState, d: &Delivery) -> Result<usize, StoreError> {
    // Claimed for longer than an attempt can take, so that no other instance posts it meanwhile.
    let lease = Duration::from_std(d.timeout * 6).unwrap_or_else(|_| Duration::minutes(1));
    let due = state.store.claim_due_deliveries(state.store.now(), lease, 50).await?;
    let n = due.len();
    let attempts = due.into_iter().map(|item| deliver(state, d, item));
    for done in futures_util::future::join_all(attempts).await {
        done?;
    }
    Ok(n)
}

/// One attempt at one delivery, and its outcome recorded.
async fn deliver(state: &AppState, d: &Delivery, item: DueDelivery) -> Result<(), StoreError> {
    let outcome = match body(state, d, &item).await {
        Ok(body) => match post(d, &item.idempotency_key, &body, state.store.now()).await {
            Ok(()) => Attempt::Delivered,
            Err(error) => next_attempt(state.store.now(), d, &item, error),
        },
        Err(e) => Attempt::Failed {
            error: format!("could not be written: {e}"),
        },
    };
    let counted = match &outcome {
        Attempt::Delivered => "delivered",
        Attempt::Retry { .. } => "retry",
        Attempt::Failed { .. } => "failed",
    };
    if !state.store.record_attempt(item.id, item.attempts, &outcome).await? {
        // Another worker recorded this attempt first.
        return Ok(());
    }
    state.metrics.delivery(counted);
    match &outcome {
        Attempt::Failed { error } => {
            tracing::error!(delivery = item.id, escalation = item.escalation_id, %error, "escalation not delivered");
        }
        Attempt::Retry { error, .. } => {
            tracing::warn!(delivery = item.id, escalation = item.escalation_id, %error, "escalation delivery failed; will try again");
        }
        Attempt::Delivered => {}
    }
    // The pages of the escalation say what came of it (a retry changes nothing they show).
    if !matches!(outcome, Attempt::Retry { .. })
        && let Ok(e) = state.store.escalation(item.escalation_id).await
        && let Err(e) = state.store.announce(Kind::Escalation, &e.place).await
    {
        tracing::warn!(error = %e, "a delivery's outcome could not be announced to open pages");
    }
    Ok(())
}

fn next_attempt(now: DateTime<Utc>, d: &Delivery, item: &DueDelivery, error: String) -> Attempt {
    if item.attempts + 1 >= d.max_attempts {
        Attempt::Failed {
            error: format!("{error} (after {} attempts)", item.attempts + 1),
        }
    } else {
        Attempt::Retry {
            at: now + backoff(item.attempts),
            error,
        }
    }
}

async fn body(state: &AppState, d: &Delivery, item: &DueDelivery) -> Result<String, StoreError> {
    let e = state.store.escalation(item.escalation_id).await?;
    let place = match PlaceCode::parse(&e.place) {
        Ok(code) => state.store.place(&code).await.map_or(e.place.clone(), |p| p.name),
        Err(_) => e.place.clone(),
    };
    let (to, no_one) = remit_services::obs::recipients(&state.store, &state.pack, &e).await?;
    let body = Body {
        id: &item.idempotency_key,
        event: &item.event,
        escalation: e.id,
        level: &item.level,
        score: e.score,
        stage: item.stage,
        place,
        bed: e.bed.clone(),
        patient_name: (d.patient_data != PatientData::None).then(|| e.patient_name.clone()),
        nhs_number: (d.patient_data == PatientData::Full).then(|| e.patient.to_string()),
        response: e.level.response(),
        to,
        no_one_to_acknowledge: no_one,
        raised_at: e.raised_at.clone(),
        written_at: &item.created_at,
        // The patient's chart names them in its address: only where the employer allows the NHS number.
        link: match d.patient_data {
            PatientData::Full => format!("/patients/{}", e.patient),
            PatientData::None | PatientData::Name => format!("/wards/{}", e.place),
        },
    };
    serde_json::to_string(&body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// One POST of `body`; an answer other than 2xx, or none within the timeout, is an error in words.
async fn post(d: &Delivery, key: &str, body: &str, now: DateTime<Utc>) -> Result<(), String> {
    let host = d.url.host().unwrap_or_default().to_owned();
    let port = d.url.port_u16().unwrap_or(80);
    let t = now.timestamp();
    let request = hyper::Request::post(d.url.clone())
        .header(
            hyper::header::HOST,
            d.url.authority().map_or(host.clone(), |a| a.to_string()),
        )
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .header("remit-signature", format!("t={t},v1={}", d.sign(t, body)))
        .body(axum::body::Body::from(body.to_owned()))
        .map_err(|e| e.to_string())?;
    let attempt = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("could not connect to {host}:{port}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("could not talk to {host}:{port}: {e}"))?;
        let conn = tokio::spawn(conn);
        let res = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer from {host}:{port}: {e}"));
        conn.abort();
        let status = res?.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the gateway answered {status}"))
        }
    };
    tokio::time::timeout(d.timeout, attempt)
        .await
        .map_err(|_| format!("no answer from {host}:{port} within {} s", d.timeout.as_secs()))?
}

/// Says, on each of `notices`, where its latest delivery stands, when this server delivers escalations.
pub(crate) async fn annotate(
    state: &AppState,
    notices: &mut [remit_services::obs::EscalationNotice],
) -> Result<(), StoreError> {
    if state.config.delivery.is_none() || notices.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = notices.iter().map(|n| n.escalation.id).collect();
    let status = state.store.delivery_status(&ids).await?;
    for n in notices.iter_mut() {
        n.delivery = status
            .iter()
            .find(|(id, _)| *id == n.escalation.id)
            .map(|(_, s)| s.clone());
    }
    Ok(())
}

/// Runs [`tick`] every `every` until aborted.
pub fn spawn(state: AppState, d: Delivery, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            if let Err(e) = tick(&state, &d).await {
                tracing::error!(cause = %e, "escalation delivery failed");
            }
        }
    })
}
