//! The controls against an attacker on the hospital network: the one decision on a patient named in a path, refusals
//! that are audited and do not tell whether a patient exists, sign-in throttling, bounded resources and event
//! streams that end with the right to them.

use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use anyhow::{Context, Result, bail, ensure};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use remit_domain::audit::Decision;
use remit_server::{AppState, Config};
use remit_store::changes::{Change, Kind};
use remit_store::demo::DEMO_PASSWORD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::helpers::{Auth, TestApp, TestDb, form_encode};

crate::tests!(
    every_route_naming_a_patient_passes_the_one_decision,
    a_set_naming_a_patient_there_is_not_is_refused_like_one_out_of_reach,
    refused_reads_are_audited,
    parallel_sign_ins_check_no_more_passwords_than_allowed,
    one_address_cannot_spray_passwords_across_usernames,
    a_success_neither_rearms_a_wait_nor_is_kept_out_by_guesses_elsewhere,
    overlong_credentials_are_refused_before_any_work,
    a_half_sent_header_does_not_hold_a_connection,
    connections_beyond_the_limit_wait,
    metric_labels_come_from_closed_sets,
    event_streams_are_capped_per_person,
    event_streams_carry_only_readable_places_and_end_with_the_right_to_them,
    pages_carry_no_inline_script_and_a_strict_policy,
);

/// Margaret Hughes, on Ward 7; ben.rn is on duty on Ward 9 only.
const MARGARET: &str = "9990001375";
/// A well-formed NHS number that no patient has.
const NOBODY: &str = "9991000003";

/// Refused `record.read` entries for a patient.
async fn refused_reads(app: &TestApp, nhs: &str) -> Result<usize> {
    let target = format!("patient:{nhs}");
    Ok(app
        .store
        .audit_log(100_000)
        .await?
        .iter()
        .filter(|e| e.action == "record.read" && e.target == target && e.decision == Decision::Deny)
        .count())
}

/// Every route whose path names a patient, found in the server's source and its OpenAPI document, refuses someone
/// who may not see the patient with the same answer whether or not the patient exists, and audits each refusal.
async fn every_route_naming_a_patient_passes_the_one_decision(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let admin = app.token_for("admin").await?;
    let doc = app.get("/api/openapi.json", &admin).await?.json()?;
    let mut templates = crate::auth::declared_paths()?;
    templates.extend(doc["paths"].as_object().context("paths")?.keys().cloned());
    templates.retain(|t| t.contains("{nhs}") || t.contains("{nhs_number}"));
    templates.sort();
    templates.dedup();
    ensure!(templates.len() >= 12, "{templates:?}");
    // ben.rn is on duty elsewhere; admin is on duty nowhere.
    let ben = app.token_for("ben.rn").await?;
    let mut tried = 0;
    for who in [&ben, &admin] {
        for template in &templates {
            for method in ["GET", "POST"] {
                let ask = |nhs: &str| {
                    let path = crate::auth::concrete(template).replace("9990001375", nhs);
                    who.apply(Request::builder().method(method).uri(path))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from("{}"))
                };
                let before = refused_reads(&app, MARGARET).await?;
                let real = app.send(ask(MARGARET)?).await?;
                if real.status == StatusCode::METHOD_NOT_ALLOWED {
                    continue;
                }
                ensure!(
                    real.status == StatusCode::FORBIDDEN,
                    "{method} {template}: {} {}",
                    real.status,
                    real.body
                );
                ensure!(
                    refused_reads(&app, MARGARET).await? == before + 1,
                    "{method} {template}: the refusal is not audited"
                );
                ensure!(
                    !real.body.contains("Margaret") && !real.body.contains("Ward 7"),
                    "{method} {template}: the refusal names the patient or their ward: {}",
                    real.body
                );
                let before = refused_reads(&app, NOBODY).await?;
                let none = app.send(ask(NOBODY)?).await?;
                ensure!(
                    none.status == real.status && none.body.replace(NOBODY, MARGARET) == real.body,
                    "{method} {template}: a patient there is not answers otherwise:\n{}\n{}",
                    real.body,
                    none.body
                );
                ensure!(refused_reads(&app, NOBODY).await? == before + 1);
                tried += 1;
            }
        }
    }
    ensure!(tried >= 28, "only {tried} routes tried");
    // Nor does a question whose answer would turn on where the patient is: naming, in turn, supervisors on duty on
    // each ward, Ben learns nothing of whether Margaret exists or where.
    for supervisor in ["priya.rn", "dr.reid", "kim.outreach"] {
        let ask = |nhs: &str| {
            serde_json::json!({"staff": "ben.rn", "action": "vitals.record", "patient": nhs,
                               "supervision": "indirect", "supervisor": supervisor})
        };
        let real = app.post_json("/api/scope/check", &ben, &ask(MARGARET)).await?;
        let none = app.post_json("/api/scope/check", &ben, &ask(NOBODY)).await?;
        ensure!(real.status == StatusCode::OK, "{}", real.body);
        ensure!(real.body == none.body, "{supervisor}:\n{}\n{}", real.body, none.body);
    }
    // Someone who may read the record gets it.
    let priya = app.token_for("priya.rn").await?;
    let res = app.get(&format!("/fhir/Patient/{MARGARET}"), &priya).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    // Break-glass finds no patient there is not, and the attempt is in the audit log all the same.
    let res = app
        .send(
            ben.apply(Request::get(format!("/fhir/Patient/{NOBODY}")))
                .header("remit-break-glass", "probing")
                .body(Body::empty())?,
        )
        .await?;
    ensure!(res.status == StatusCode::NOT_FOUND, "{} {}", res.status, res.body);
    let glassed = app.store.audit_log(10).await?;
    ensure!(
        glassed
            .iter()
            .any(|e| e.target == format!("patient:{NOBODY}") && e.reasons.iter().any(|r| r.contains("probing"))),
        "a break-glass read of nobody was not audited"
    );
    // Break-glass reads a record outside one's duty, audited; it writes nothing.
    let glass = |method: &str| {
        ben.apply(
            Request::builder()
                .method(method)
                .uri(format!("/patients/{MARGARET}/prescribe")),
        )
        .header("remit-break-glass", "cardiac arrest call")
        .body(Body::empty())
    };
    let res = app.send(glass("GET")?).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let res = app.send(glass("POST")?).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN,
        "break-glass is for reading: {}",
        res.status
    );
    Ok(())
}

async fn refused_reads_are_audited(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let ben = app.token_for("ben.rn").await?;
    let priya = app.token_for("priya.rn").await?;
    // A task for Margaret, delegated by Priya to Alex: Ben is no part of it and may not read her record.
    let task = serde_json::json!({
        "resourceType": "Task", "status": "requested", "intent": "order",
        "code": {"coding": [{"system": "urn:remit:activity", "code": "vitals.record"}]},
        "for": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": MARGARET}},
        "owner": {"reference": "Practitioner/alex.ap"}
    });
    let res = app.post_json("/fhir/Task", &priya, &task).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let task_id = res.json()?["id"].as_str().context("task id")?.to_owned();
    let alex_cookie = app.sign_in("alex.ap", DEMO_PASSWORD).await?;
    // An escalation of Margaret's: a NEWS2 7 recorded by Alex.
    let seven = serde_json::json!({"set": {"respiration_rate": 25, "spo2": 93, "on_oxygen": false, "systolic_bp": 105,
        "pulse": 105, "consciousness": "alert", "temperature": 37.5}});
    let res = app
        .post_json(&format!("/api/patients/{MARGARET}/observations"), &alex, &seven)
        .await?;
    let escalation = res.json()?["escalation"]["id"].as_i64().context("raised")?;
    for (who, path, action) in [
        (&ben, format!("/api/escalations/{escalation}"), "record.read"),
        (&alex, "/metrics".to_owned(), "metrics.read"),
        (&alex_cookie, "/audit".to_owned(), "audit.read"),
        (&alex_cookie, "/education".to_owned(), "competency.matrix"),
        (&ben, "/api/imaging/requests/1".to_owned(), "imaging.read"),
        (&ben, "/fhir/ServiceRequest/1".to_owned(), "imaging.read"),
        (&ben, "/fhir/DiagnosticReport/1".to_owned(), "imaging.read"),
        (&ben, "/imaging/requests/1".to_owned(), "imaging.read"),
        (&ben, format!("/fhir/Task/{task_id}"), "task.read"),
        (
            &alex,
            "/api/imaging/operators/jo.ap/activity".to_owned(),
            "imaging.operator-activity",
        ),
    ] {
        let count = || async {
            Ok::<_, anyhow::Error>(
                app.store
                    .audit_log(100_000)
                    .await?
                    .iter()
                    .filter(|e| e.action == action && e.decision == Decision::Deny)
                    .count(),
            )
        };
        let before = count().await?;
        let res = app.get(&path, who).await?;
        ensure!(
            res.status == StatusCode::FORBIDDEN,
            "{path}: {} {}",
            res.status,
            res.body
        );
        ensure!(
            count().await? == before + 1,
            "{path}: the refusal is not audited as {action}"
        );
    }
    Ok(())
}

/// A sign-in form post from `source`.
fn login_from(source: Option<&str>, username: &str, password: &str) -> Result<Request<Body>> {
    let mut req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "remit.test")
        .header(header::ORIGIN, "http://remit.test")
        .body(Body::from(form_encode(&[
            ("username", username),
            ("password", password),
        ])))?;
    if let Some(s) = source {
        let addr: SocketAddr = s.parse()?;
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    Ok(req)
}

/// Signs in from `source` through the form; the answer's status.
async fn sign_in_from(app: &TestApp, source: &str, username: &str, password: &str) -> Result<StatusCode> {
    let req = login_from(Some(source), username, password)?;
    Ok(app.router.clone().oneshot(req).await?.status())
}

async fn parallel_sign_ins_check_no_more_passwords_than_allowed(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let mut attempts = Vec::new();
    for i in 0..100 {
        let router = app.router.clone();
        let req = login_from(Some("10.0.0.5:40000"), "alex.ap", &format!("guess-{i}"))?;
        attempts.push(tokio::spawn(
            async move { router.oneshot(req).await.map(|r| r.status()) },
        ));
    }
    let (mut checked, mut throttled) = (0, 0);
    for a in attempts {
        match a.await?? {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => bail!("a wrong password answered {other}"),
        }
    }
    ensure!(checked <= 5, "{checked} passwords were checked where 5 are allowed");
    ensure!(checked + throttled == 100);
    // Each throttled attempt is in the audit log.
    let audited = app
        .store
        .audit_log(100_000)
        .await?
        .iter()
        .filter(|e| e.action == "session.sign-in" && e.reasons.iter().any(|r| r.starts_with("throttled")))
        .count();
    ensure!(
        audited == throttled,
        "{audited} throttled attempts audited of {throttled}"
    );
    // The rightful user, from their own ward PC, is not locked out.
    let status = sign_in_from(&app, "10.0.7.1:50000", "alex.ap", DEMO_PASSWORD).await?;
    ensure!(status == StatusCode::SEE_OTHER, "{status}");
    // From the guesser's address the account waits, a second and then longer; never a lockout of fifteen minutes.
    let status = sign_in_from(&app, "10.0.0.5:40000", "alex.ap", DEMO_PASSWORD).await?;
    ensure!(status == StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(chrono::Duration::seconds(2));
    let status = sign_in_from(&app, "10.0.0.5:40000", "alex.ap", DEMO_PASSWORD).await?;
    ensure!(status == StatusCode::SEE_OTHER, "{status}");
    Ok(())
}

async fn one_address_cannot_spray_passwords_across_usernames(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let mut answers = Vec::new();
    for i in 0..40 {
        answers.push(sign_in_from(&app, "10.9.9.9:1234", &format!("user{i}"), "Winter2026!").await?);
    }
    let checked = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    ensure!(
        checked == 20,
        "one address checked {checked} passwords across 40 usernames: {answers:?}"
    );
    ensure!(answers[20..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    // Another address is not held back by it.
    let status = sign_in_from(&app, "10.0.7.2:1", "priya.rn", DEMO_PASSWORD).await?;
    ensure!(status == StatusCode::SEE_OTHER, "{status}");
    Ok(())
}

async fn overlong_credentials_are_refused_before_any_work(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let before = app.store.audit_log(100_000).await?.len();
    for (username, password) in [
        ("a".repeat(900_000), "x".to_owned()),
        ("alex.ap".to_owned(), "p".repeat(5000)),
    ] {
        let res = app.send(login_from(None, &username, &password)?).await?;
        ensure!(res.status == StatusCode::UNPROCESSABLE_ENTITY, "{}", res.status);
        ensure!(res.body.contains("at most 64 characters"), "{}", res.body);
        ensure!(
            !res.body
                .contains("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
    }
    ensure!(
        app.store.audit_log(100_000).await?.len() == before,
        "an overlong attempt was audited"
    );
    Ok(())
}

async fn a_success_neither_rearms_a_wait_nor_is_kept_out_by_guesses_elsewhere(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    // A shared ward PC runs past its free failures; once its wait is over, one person signing in does not make
    // the next wait.
    for i in 0..20 {
        ensure!(sign_in_from(&app, "10.0.7.9:1", &format!("typo{i}"), "x").await? == StatusCode::UNAUTHORIZED);
    }
    app.clock.advance(chrono::Duration::seconds(2));
    ensure!(sign_in_from(&app, "10.0.7.9:1", "priya.rn", DEMO_PASSWORD).await? == StatusCode::SEE_OTHER);
    ensure!(sign_in_from(&app, "10.0.7.9:1", "alex.ap", DEMO_PASSWORD).await? == StatusCode::SEE_OTHER);
    // Guesses at Sam's password from eleven addresses hold the username back everywhere but Sam's own ward PC.
    ensure!(sign_in_from(&app, "10.0.7.1:1", "sam.hca", DEMO_PASSWORD).await? == StatusCode::SEE_OTHER);
    for a in 0..11 {
        for g in 0..5 {
            sign_in_from(&app, &format!("10.66.0.{a}:1"), "sam.hca", &format!("guess{g}")).await?;
        }
    }
    ensure!(sign_in_from(&app, "10.0.8.8:1", "sam.hca", DEMO_PASSWORD).await? == StatusCode::TOO_MANY_REQUESTS);
    ensure!(sign_in_from(&app, "10.0.7.1:1", "sam.hca", DEMO_PASSWORD).await? == StatusCode::SEE_OTHER);
    Ok(())
}

/// A real server on a loopback port, with `config`.
async fn serve(app: &TestApp, config: Config) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(app.store.clone(), app.pack.clone(), config);
    tokio::spawn(remit_server::serve(listener, state, std::future::pending()));
    Ok(addr)
}

/// Reads until the peer closes or `wait` passes; what was read, and whether it closed.
async fn read_until_closed(s: &mut tokio::net::TcpStream, wait: StdDuration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

async fn a_half_sent_header_does_not_hold_a_connection(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let config = Config {
        header_timeout: StdDuration::from_millis(500),
        request_timeout: StdDuration::from_millis(500),
        ..Config::default()
    };
    let addr = serve(&app, config).await?;
    // Half a header, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await?;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: remit.test\r\nX-Slow: ")
        .await?;
    let (_, closed) = read_until_closed(&mut slow, StdDuration::from_secs(20)).await;
    ensure!(closed, "a half-sent header kept its connection open");
    // A body that trickles in is refused once its time is up, and nothing is written.
    let before = app.store.audit_log(100_000).await?.len();
    let mut trickle = tokio::net::TcpStream::connect(addr).await?;
    trickle
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: remit.test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 60\r\n\r\nusername=alex.ap&pass",
        )
        .await?;
    let (text, _) = read_until_closed(&mut trickle, StdDuration::from_secs(20)).await;
    ensure!(
        text.starts_with("HTTP/1.1 4"),
        "a trickled body was not refused: {text}"
    );
    ensure!(app.store.audit_log(100_000).await?.len() == before);
    // A whole request is answered, and the connection is closed once idle.
    let mut ok = tokio::net::TcpStream::connect(addr).await?;
    ok.write_all(b"GET /health HTTP/1.1\r\nHost: remit.test\r\n\r\n")
        .await?;
    let (text, closed) = read_until_closed(&mut ok, StdDuration::from_secs(20)).await;
    ensure!(text.starts_with("HTTP/1.1 200"), "{text}");
    ensure!(closed, "an idle keep-alive connection was kept");
    Ok(())
}

async fn connections_beyond_the_limit_wait(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let config = Config {
        max_connections: 2,
        header_timeout: StdDuration::from_secs(60),
        ..Config::default()
    };
    let addr = serve(&app, config).await?;
    let first = tokio::net::TcpStream::connect(addr).await?;
    let _second = tokio::net::TcpStream::connect(addr).await?;
    // Let the server take both before the third arrives.
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(addr).await?;
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: remit.test\r\nConnection: close\r\n\r\n")
        .await?;
    let (text, _) = read_until_closed(&mut third, StdDuration::from_millis(1000)).await;
    ensure!(
        text.is_empty(),
        "a third connection was served beyond the limit of two: {text}"
    );
    drop(first);
    let (text, _) = read_until_closed(&mut third, StdDuration::from_secs(20)).await;
    ensure!(text.starts_with("HTTP/1.1 200"), "served once a place was free: {text}");
    Ok(())
}

async fn metric_labels_come_from_closed_sets(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let admin = app.token_for("admin").await?;
    for m in ["FOO", "BAR", "BAZ"] {
        app.send(Request::builder().method(m).uri("/health").body(Body::empty())?)
            .await?;
    }
    app.get("/no/such/path/9990001375", &admin).await?;
    let text = app.get("/metrics", &admin).await?.body;
    ensure!(!text.contains("FOO") && !text.contains("BAZ"), "{text}");
    ensure!(text.contains("method=\"other\""), "{text}");
    ensure!(!text.contains("9990001375"), "a path reached a label");
    Ok(())
}

/// The app with its own settings.
fn router_with(app: &TestApp, config: Config) -> axum::Router {
    remit_server::app(AppState::new(app.store.clone(), app.pack.clone(), config))
}

async fn open_stream(router: &axum::Router, who: &Auth) -> Result<axum::response::Response> {
    Ok(router
        .clone()
        .oneshot(who.apply(Request::get("/events")).body(Body::empty())?)
        .await?)
}

async fn event_streams_are_capped_per_person(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let router = router_with(&app, Config::default());
    let priya = app.token_for("priya.rn").await?;
    let mut open = Vec::new();
    for _ in 0..Config::default().max_streams_per_person {
        let res = open_stream(&router, &priya).await?;
        ensure!(res.status() == StatusCode::OK);
        open.push(res);
    }
    let res = open_stream(&router, &priya).await?;
    ensure!(res.status() == StatusCode::TOO_MANY_REQUESTS, "{}", res.status());
    // Another person is not held back by it, and a stream closed gives its place back.
    ensure!(open_stream(&router, &app.token_for("alex.ap").await?).await?.status() == StatusCode::OK);
    open.pop();
    ensure!(open_stream(&router, &priya).await?.status() == StatusCode::OK);
    Ok(())
}

/// The next event of a stream within `wait`, keep-alive comments passed over: `Ok(Some(text))`, `Ok(None)` when it
/// ended, `Err` when nothing came.
async fn next_event(body: &mut axum::body::BodyDataStream, wait: StdDuration) -> Result<Option<String>> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(chunk)) => {
                let text = String::from_utf8_lossy(&chunk?).into_owned();
                if text.lines().all(|l| l.is_empty() || l.starts_with(':')) {
                    continue;
                }
                return Ok(Some(text));
            }
            Ok(None) => return Ok(None),
            Err(_) => bail!("nothing within {wait:?}"),
        }
    }
}

async fn event_streams_carry_only_readable_places_and_end_with_the_right_to_them(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let config = Config {
        stream_check: StdDuration::from_millis(200),
        ..Config::default()
    };
    let state = AppState::new(app.store.clone(), app.pack.clone(), config);
    let changes = app.store.changes().clone();
    let router = remit_server::app(state);
    // Ben, on Ward 9, signed in in a browser.
    let ben = app.sign_in("ben.rn", DEMO_PASSWORD).await?;
    let mut stream = open_stream(&router, &ben).await?.into_body().into_data_stream();
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    changes.publish(Change::new(Kind::Escalation, "ward-7"));
    ensure!(
        next_event(&mut stream, StdDuration::from_millis(800)).await.is_err(),
        "Ben was told of Ward 7"
    );
    changes.publish(Change::new(Kind::Escalation, "ward-9"));
    let got = next_event(&mut stream, StdDuration::from_secs(5))
        .await?
        .context("ended")?;
    ensure!(got.contains("event: escalation"), "{got}");
    // Signing out ends it.
    let csrf = app.csrf(&ben).await?;
    let res = router
        .clone()
        .oneshot(
            ben.apply(Request::post("/logout"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "remit.test")
                .header(header::ORIGIN, "http://remit.test")
                .body(Body::from(form_encode(&[("csrf", &csrf)])))?,
        )
        .await?;
    ensure!(res.status() == StatusCode::SEE_OTHER, "{}", res.status());
    ensure!(
        next_event(&mut stream, StdDuration::from_secs(5)).await?.is_none(),
        "the stream outlived sign-out"
    );

    // A revoked token's stream ends, as does a suspended person's.
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let mut alex_stream = open_stream(&router, &alex).await?.into_body().into_data_stream();
    let mut priya_stream = open_stream(&router, &priya).await?.into_body().into_data_stream();
    let alex_id = app
        .store
        .staff_id(&remit_domain::staff::Username::parse("alex.ap")?)
        .await?;
    let mut tx = app.store.begin().await?;
    tx.revoke_tokens(alex_id, "test").await?;
    tx.commit(remit_domain::audit::AuditDraft::permit(
        "test",
        "token.revoke",
        "staff:alex.ap",
    ))
    .await?;
    ensure!(
        next_event(&mut alex_stream, StdDuration::from_secs(5)).await?.is_none(),
        "outlived its token"
    );
    crate::helpers::expect_status(&db.remit(&["staff", "suspend", "priya.rn", "--reason", "test"]), 0)?;
    ensure!(
        next_event(&mut priya_stream, StdDuration::from_secs(5))
            .await?
            .is_none(),
        "outlived suspension"
    );
    Ok(())
}

async fn pages_carry_no_inline_script_and_a_strict_policy(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let priya = app.sign_in("priya.rn", DEMO_PASSWORD).await?;
    for path in [
        "/login".to_owned(),
        "/wards/ward-7".to_owned(),
        format!("/patients/{MARGARET}"),
        format!("/patients/{MARGARET}/observations/new"),
        "/inbox".to_owned(),
        "/me".to_owned(),
    ] {
        let res = app.get(&path, &priya).await?;
        ensure!(res.status == StatusCode::OK, "{path}: {}", res.status);
        let csp = res.header("content-security-policy").context("no CSP")?;
        ensure!(
            csp.contains("script-src 'self'")
                && csp.contains("style-src 'self'")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        ensure!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        ensure!(
            !res.body.contains("<script>") && !res.body.contains("<style"),
            "{path}: inline script or style"
        );
        ensure!(
            !res.body.contains(" style=\"") && !res.body.contains(" onclick="),
            "{path}: an inline attribute"
        );
        ensure!(res.header("cache-control") == Some("no-store"), "{path}");
    }
    for file in ["remit.css", "live.js", "record.js", "components.js"] {
        let res = app.get(&format!("/static/{file}"), &Auth::None).await?;
        ensure!(
            res.status == StatusCode::OK && !res.body.is_empty(),
            "{file}: {}",
            res.status
        );
        ensure!(res.header("cache-control") == Some("public, max-age=300"), "{file}");
    }
    // The NHS.UK frontend library, vendored with its version in the names: kept by browsers for a year, and every
    // icon its stylesheet names is served where it looks.
    let css = app.get("/static/nhsuk-frontend-10.6.1.min.css", &Auth::None).await?;
    ensure!(css.status == StatusCode::OK && css.body.contains("--nhsuk-frontend-version:\"10.6.1\""));
    ensure!(css.header("cache-control") == Some("public, max-age=31536000, immutable"));
    let icons: Vec<&str> = css
        .body
        .split("url(")
        .skip(1)
        .filter_map(|u| u.split(')').next())
        .filter(|u| u.starts_with('/'))
        .collect();
    ensure!(icons.len() >= 4, "{icons:?}");
    for icon in icons {
        let res = app.get(icon, &Auth::None).await?;
        ensure!(
            res.status == StatusCode::OK && res.header("content-type") == Some("image/svg+xml"),
            "{icon}: {}",
            res.status
        );
        ensure!(res.header("cache-control") == Some("public, max-age=300"), "{icon}");
    }
    // Compressed for a browser that asks (static files only: a page's CSRF token beside what people typed is never
    // compressed, for BREACH).
    let gzip = |path: &str, auth: &Auth| -> Result<axum::http::Request<axum::body::Body>> {
        Ok(auth
            .apply(axum::http::Request::get(path))
            .header("accept-encoding", "gzip")
            .body(axum::body::Body::empty())?)
    };
    let zipped = app
        .send(gzip("/static/nhsuk-frontend-10.6.1.min.css", &Auth::None)?)
        .await?;
    ensure!(
        zipped.header("content-encoding") == Some("gzip") && zipped.body.len() < css.body.len() / 4,
        "{:?} {} bytes",
        zipped.header("content-encoding"),
        zipped.body.len()
    );
    let alex = app.sign_in("alex.ap", remit_store::demo::DEMO_PASSWORD).await?;
    let page = app.send(gzip("/patients/9990001375", &alex)?).await?;
    ensure!(page.status == StatusCode::OK && page.header("content-encoding").is_none());
    let js = app.get("/static/nhsuk-frontend-10.6.1.min.js", &Auth::None).await?;
    ensure!(js.status == StatusCode::OK && js.body.contains("initAll"));
    Ok(())
}

/// A set names its patient in its body (no gate): for a patient there is not, the answer and the audit are those
/// for a real patient the recorder may not see — never "no such patient" — so that recording tells nobody whether a
/// patient exists.
async fn a_set_naming_a_patient_there_is_not_is_refused_like_one_out_of_reach(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let ben = app.token_for("ben.rn").await?;
    let taken = (app.store.now() - chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let answer = |nhs: &'static str| {
        let mut bundle = crate::obs::bundle_of_seven();
        for e in bundle["entry"].as_array_mut().expect("entries") {
            e["resource"]["subject"]["identifier"]["value"] = serde_json::json!(nhs);
            e["resource"]["effectiveDateTime"] = serde_json::json!(taken);
        }
        let ben = &ben;
        let app = &app;
        async move {
            let res = crate::obs::post_fhir(app, "/fhir", ben, &bundle).await?;
            let refused = app
                .store
                .audit_log(100_000)
                .await?
                .iter()
                .filter(|e| {
                    e.action == "vitals.record" && e.target == format!("patient:{nhs}") && e.decision == Decision::Deny
                })
                .count();
            anyhow::Ok((res.status, res.body, refused))
        }
    };
    let (there, there_body, there_audited) = answer(MARGARET).await?;
    let (nobody, nobody_body, nobody_audited) = answer(NOBODY).await?;
    ensure!(there == StatusCode::FORBIDDEN, "{there}: {there_body}");
    ensure!(nobody == StatusCode::FORBIDDEN, "{nobody}: {nobody_body}");
    ensure!(
        there_body == nobody_body,
        "the answers differ:\n{there_body}\n{nobody_body}"
    );
    ensure!(
        !nobody_body.contains("no patient") && !there_body.contains("Ward 7"),
        "{nobody_body}"
    );
    ensure!(
        there_audited == 1 && nobody_audited == 1,
        "{there_audited} {nobody_audited}"
    );
    Ok(())
}
