//! Sign-in, sessions, tokens and the routes they open.

use std::io::Read;

use anyhow::{Context, Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Duration;
use remit_domain::audit::AuditDraft;
use remit_domain::staff::{StaffStatus, Username};
use remit_store::demo::DEMO_PASSWORD;

use crate::helpers::{Auth, TestApp, TestDb, http, http_get};
use crate::tables::{api, audit, sql};

crate::tests!(
    password_sign_in_can_be_turned_off,
    every_route_but_health_and_sign_in_needs_credentials,
    signing_in_starts_a_new_server_side_session,
    a_wrong_password_is_refused_and_audited,
    signing_out_ends_the_session_on_the_server,
    sessions_end_when_idle_and_at_their_absolute_lifetime,
    a_suspended_account_loses_its_sessions_and_tokens,
    a_profile_is_read_again_once_anything_in_it_changes,
    a_patient_record_is_read_again_once_anything_in_it_changes,
    a_ward_boards_own_statement_confirms_a_kept_token_holder,
    a_set_by_a_kept_token_holder_is_confirmed_by_its_own_commit,
    changes_at_a_sql_prompt_show_at_a_kept_token_holders_next_set,
    a_kept_token_holders_conditional_set_is_confirmed_first_however_its_keys_are_written,
    repeated_failed_sign_ins_are_throttled,
    bearer_tokens_authenticate_api_clients,
    metrics_are_for_administrators,
    cross_site_form_posts_are_refused,
    a_real_server_serves_on_a_real_port,
    the_logs_carry_no_patient_data,
    every_declared_route_refuses_anonymous_requests,
    oversized_bodies_are_refused_early,
    reading_outside_duty_is_refused_and_break_glass_is_the_audited_exception,
    request_ids_are_the_servers_own_unless_a_plain_token,
    a_refused_sign_off_writes_nothing,
    every_answer_carries_the_protective_headers,
);

/// The server's source files, every folder.
fn server_sources() -> Result<Vec<std::path::PathBuf>> {
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/remit-server/src")];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    ensure!(files.len() > 20, "the server's source was not found: {files:?}");
    Ok(files)
}

/// The paths the server declares, read from its source so that a new route cannot escape this sweep.
pub(crate) fn declared_paths() -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for file in server_sources()? {
        let text = std::fs::read_to_string(file)?;
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = rest[i + ".route(".len()..].trim_start();
            if let Some(lit) = rest.strip_prefix('"') {
                let end = lit.find('"').context("unterminated route literal")?;
                paths.push(lit[..end].to_owned());
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Fills each `{parameter}` of a route template with a plausible value.
pub(crate) fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg {
            "{nhs}" | "{nhs_number}" => "9990001375",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn every_declared_route_refuses_anonymous_requests(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let paths = declared_paths()?;
    ensure!(paths.len() > 20 && paths.iter().any(|p| p == "/fhir"), "{paths:?}");
    // Health, the FHIR CapabilityStatement, the static files, and sign-in (with a password, and through the trust's
    // provider and back).
    let public = [
        "/health",
        "/fhir/metadata",
        "/login",
        "/login/oidc",
        "/login/oidc/callback",
        "/static/{file}",
        "/assets/images/{file}",
    ];
    let mut tried = 0;
    for template in paths.iter().filter(|p| !public.contains(&p.as_str())) {
        let path = concrete(template);
        let mut refused = 0;
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let req = Request::builder()
                .method(method)
                .uri(&path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))?;
            let res = app.send(req).await?;
            ensure!(
                matches!(res.status, StatusCode::UNAUTHORIZED | StatusCode::METHOD_NOT_ALLOWED),
                "{method} {path}: {} {}",
                res.status,
                res.body
            );
            refused += usize::from(res.status == StatusCode::UNAUTHORIZED);
        }
        ensure!(refused > 0, "{template}: no method answered 401");
        tried += 1;
    }
    // Every operation of the OpenAPI document, with its own method.
    let admin = app.token_for("admin").await?;
    let doc = app.get("/api/openapi.json", &admin).await?.json()?;
    let ops = doc["paths"].as_object().context("paths")?;
    for (template, item) in ops {
        for method in item.as_object().context("path item")?.keys() {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(concrete(template))
                .body(Body::empty())?;
            let res = app.send(req).await?;
            ensure!(
                res.status == StatusCode::UNAUTHORIZED,
                "{method} {template}: {}",
                res.status
            );
            tried += 1;
        }
    }
    ensure!(tried > 40, "only {tried} routes tried");
    Ok(())
}

async fn oversized_bodies_are_refused_early(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let before = app.store.audit_log(100_000).await?.len();
    let big = format!(
        "{{\"resourceType\":\"Bundle\",\"pad\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    for (path, kind) in [
        ("/fhir", "application/fhir+json"),
        ("/api/patients/9990001375/observations", "application/json"),
        ("/login", "application/x-www-form-urlencoded"),
        ("/patients/9990001375/observations", "application/x-www-form-urlencoded"),
    ] {
        let req = alex
            .apply(Request::post(path))
            .header(header::CONTENT_TYPE, kind)
            .body(Body::from(big.clone()))?;
        let res = app.send(req).await?;
        ensure!(
            res.status == StatusCode::PAYLOAD_TOO_LARGE,
            "POST {path}: {}",
            res.status
        );
    }
    // Without a length announced, the limit still holds as the body streams in.
    let chunks = futures_util::stream::iter(
        (0..64).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 64 * 1024]))),
    );
    let req = alex
        .apply(Request::post("/fhir"))
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(Body::from_stream(chunks))?;
    let res = app.send(req).await?;
    ensure!(
        res.status == StatusCode::PAYLOAD_TOO_LARGE,
        "streamed: {} {}",
        res.status,
        res.body
    );
    ensure!(
        app.store.audit_log(100_000).await?.len() == before,
        "nothing is written"
    );
    Ok(())
}

/// The newest audit entry for reading a record (the escalation sweep may write its own in between).
async fn last_read(app: &TestApp) -> Result<remit_domain::audit::AuditEntry> {
    let log = app.store.audit_log(50).await?;
    log.into_iter()
        .find(|e| e.action == "record.read")
        .context("no record.read entry")
}

async fn reading_outside_duty_is_refused_and_break_glass_is_the_audited_exception(db: TestDb) -> Result<()> {
    const MARGARET: &str = "9990001375";
    let app = TestApp::demo(&db).await?;
    // Ben is on duty on another ward than Margaret's.
    let ben = app.token_for("ben.rn").await?;
    let chart = format!("/api/patients/{MARGARET}/observations");
    let before = app.store.audit_log(100_000).await?.len();
    let res = app.get(&chart, &ben).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    ensure!(res.body.contains("break-glass"), "{}", res.body);
    let last = last_read(&app).await?;
    ensure!(
        last.decision == remit_domain::audit::Decision::Deny && last.seq > before as i64,
        "{last:?}"
    );
    // A blank reason is no reason.
    let blank = |path: &str| {
        ben.apply(Request::get(path))
            .header("remit-break-glass", "   ")
            .body(Body::empty())
    };
    ensure!(app.send(blank(&chart)?).await?.status == StatusCode::FORBIDDEN);
    // With a stated reason the record opens, and the read is audited with the reason.
    let reason = "Cardiac arrest call to the bay; resuscitation team lead";
    let glass = |path: &str| {
        ben.apply(Request::get(path))
            .header("remit-break-glass", reason)
            .body(Body::empty())
    };
    let res = app.send(glass(&chart)?).await?;
    ensure!(res.status == StatusCode::OK, "{}: {}", res.status, res.body);
    let last = last_read(&app).await?;
    ensure!(
        last.actor == "staff:ben.rn"
            && last.decision == remit_domain::audit::Decision::Permit
            && last.reasons == vec![format!("break-glass: {reason}")],
        "{last:?}"
    );
    // FHIR reads too.
    let fhir = format!("/fhir/Observation?patient=Patient/{MARGARET}");
    ensure!(app.get(&fhir, &ben).await?.status == StatusCode::FORBIDDEN);
    ensure!(app.send(glass(&fhir)?).await?.status == StatusCode::OK);
    // Break-glass opens reading only: writing stays refused.
    let res = app
        .send(
            ben.apply(Request::post(chart.as_str()))
                .header("remit-break-glass", reason)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"set": {"respiration_rate": 16, "spo2": 97, "on_oxygen": false,
                        "systolic_bp": 120, "pulse": 70, "consciousness": "alert", "temperature": 37.0}})
                    .to_string(),
                ))?,
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}: {}", res.status, res.body);
    // In the browser the refusal offers break-glass, and the stated reason opens the page.
    let cookie = app.sign_in("ben.rn", DEMO_PASSWORD).await?;
    let page = app.get(&format!("/patients/{MARGARET}"), &cookie).await?;
    ensure!(page.status == StatusCode::FORBIDDEN && page.body.contains("name=\"break_glass\""));
    let page = app
        .get(&format!("/patients/{MARGARET}?break_glass=Bleep+from+the+bay"), &cookie)
        .await?;
    ensure!(
        page.status == StatusCode::OK && page.body.contains("Margaret"),
        "{}",
        page.status
    );
    let last = last_read(&app).await?;
    ensure!(
        last.reasons == vec!["break-glass: Bleep from the bay".to_owned()],
        "{last:?}"
    );
    Ok(())
}

async fn every_route_but_health_and_sign_in_needs_credentials(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    for path in ["/", "/api/me", "/metrics", "/no-such-route", "/patients/9990001375"] {
        let res = app.get(path, &Auth::None).await?;
        ensure!(res.status == StatusCode::UNAUTHORIZED, "GET {path}: {}", res.status);
        ensure!(res.header("www-authenticate").is_some(), "GET {path} names the scheme");
    }
    let res = app.send(Request::post("/logout").body(Body::empty())?).await?;
    ensure!(res.status == StatusCode::UNAUTHORIZED, "POST /logout: {}", res.status);
    let res = app.get("/api/me", &Auth::Bearer("remit_not-a-token".into())).await?;
    ensure!(res.status == StatusCode::UNAUTHORIZED);
    let res = app.get("/api/me", &Auth::Cookie("remit_session=forged".into())).await?;
    ensure!(res.status == StatusCode::UNAUTHORIZED);
    // A browser is sent to sign in.
    let res = app
        .send(
            Request::get("/")
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())?,
        )
        .await?;
    ensure!(res.status == StatusCode::UNAUTHORIZED && res.body.contains("href=\"/login\""));
    ensure!(app.get("/health", &Auth::None).await?.status == StatusCode::OK);
    let login = app.get("/login", &Auth::None).await?;
    ensure!(login.status == StatusCode::OK);
    ensure!(login.body.contains("name=\"username\"") && login.body.contains("name=\"password\""));
    Ok(())
}

async fn signing_in_starts_a_new_server_side_session(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let res = app
        .post_form(
            "/login",
            &Auth::None,
            &[("username", "alex.ap"), ("password", DEMO_PASSWORD)],
        )
        .await?;
    ensure!(res.status == StatusCode::SEE_OTHER && res.header("location") == Some("/"));
    let cookie = res.header("set-cookie").context("cookie")?;
    ensure!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let first = Auth::Cookie(cookie.split(';').next().unwrap().to_owned());
    let front = app.get("/", &first).await?;
    ensure!(
        front.status == StatusCode::SEE_OTHER && front.header("location") == Some("/wards/ward-7"),
        "`/` sends a person on duty to their ward"
    );
    let home = app.get("/me", &first).await?;
    ensure!(home.status == StatusCode::OK && home.body.contains("Alex Morgan") && home.body.contains("Ward 7"));

    // Signing in again, even from the same browser, gives a new id and ends the old one.
    let Auth::Cookie(old) = &first else { unreachable!() };
    let res = app
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, old)
                .body(Body::from(crate::helpers::form_encode(&[
                    ("username", "alex.ap"),
                    ("password", DEMO_PASSWORD),
                ])))?,
        )
        .await?;
    let second = res
        .header("set-cookie")
        .context("cookie")?
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    ensure!(&second != old, "a new session id at sign-in");
    ensure!(
        app.get("/me", &first).await?.status == StatusCode::UNAUTHORIZED,
        "the old session ended"
    );
    ensure!(app.get("/me", &Auth::Cookie(second)).await?.status == StatusCode::OK);

    let entry = app.store.audit_log(1).await?.remove(0);
    ensure!(entry.action == "session.sign-in" && entry.actor == "staff:alex.ap");
    Ok(())
}

async fn a_wrong_password_is_refused_and_audited(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    for (user, pw) in [("alex.ap", "wrong-password"), ("nobody", DEMO_PASSWORD)] {
        let res = app
            .post_form("/login", &Auth::None, &[("username", user), ("password", pw)])
            .await?;
        ensure!(res.status == StatusCode::UNAUTHORIZED, "{user}: {}", res.status);
        ensure!(
            res.body.contains("Wrong username or password."),
            "the same answer whether or not the user exists"
        );
        ensure!(res.header("set-cookie").is_none());
        let entry = app.store.audit_log(1).await?.remove(0);
        ensure!(entry.action == "session.sign-in" && entry.decision == remit_domain::audit::Decision::Deny);
    }
    let res = app.post_form("/login", &Auth::None, &[("username", "alex.ap")]).await?;
    ensure!(
        res.status == StatusCode::UNAUTHORIZED,
        "a missing password is a wrong password"
    );
    Ok(())
}

async fn signing_out_ends_the_session_on_the_server(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let auth = app.sign_in("priya.rn", DEMO_PASSWORD).await?;
    // Without the page's CSRF token, nothing happens.
    let res = app.post_form("/logout", &auth, &[]).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    let res = app.post_form("/logout", &auth, &[("csrf", "0000")]).await?;
    ensure!(res.status == StatusCode::FORBIDDEN);
    ensure!(app.get("/me", &auth).await?.status == StatusCode::OK);
    let csrf = app.csrf(&auth).await?;
    let res = app.post_form("/logout", &auth, &[("csrf", &csrf)]).await?;
    ensure!(res.status == StatusCode::SEE_OTHER && res.header("location") == Some("/login"));
    ensure!(res.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    // The browser's copy of the cookie is worthless now.
    ensure!(app.get("/me", &auth).await?.status == StatusCode::UNAUTHORIZED);
    ensure!(app.store.audit_log(1).await?[0].action == "session.sign-out");
    Ok(())
}

async fn sessions_end_when_idle_and_at_their_absolute_lifetime(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let auth = app.sign_in("alex.ap", DEMO_PASSWORD).await?;
    app.clock.advance(Duration::minutes(29));
    ensure!(
        app.get("/api/me", &auth).await?.status == StatusCode::OK,
        "29 idle minutes are fine"
    );
    app.clock.advance(Duration::minutes(31));
    ensure!(
        app.get("/api/me", &auth).await?.status == StatusCode::UNAUTHORIZED,
        "31 idle minutes end it"
    );

    // A page's own background asking (its inbox count, a live region) is not activity: it does not keep the session
    // open.
    let auth = app.sign_in("alex.ap", DEMO_PASSWORD).await?;
    let background = || -> Result<axum::http::Request<axum::body::Body>> {
        Ok(auth
            .apply(axum::http::Request::get("/api/inbox"))
            .header("x-remit-background", "1")
            .body(axum::body::Body::empty())?)
    };
    for minutes in [10, 10] {
        app.clock.advance(Duration::minutes(minutes));
        ensure!(app.send(background()?).await?.status == StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(11));
    ensure!(
        app.send(background()?).await?.status == StatusCode::UNAUTHORIZED,
        "31 minutes with only background asking end it"
    );

    let auth = app.sign_in("alex.ap", DEMO_PASSWORD).await?;
    for _ in 0..35 {
        app.clock.advance(Duration::minutes(20));
        ensure!(app.get("/api/me", &auth).await?.status == StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(20));
    ensure!(
        app.get("/api/me", &auth).await?.status == StatusCode::UNAUTHORIZED,
        "12 hours end it however busy"
    );
    Ok(())
}

async fn a_suspended_account_loses_its_sessions_and_tokens(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let session = app.sign_in("sam.hca", DEMO_PASSWORD).await?;
    let token = app.token_for("sam.hca").await?;
    ensure!(app.get("/api/me", &session).await?.status == StatusCode::OK);
    ensure!(app.get("/api/me", &token).await?.status == StatusCode::OK);
    let id = app.store.staff_id(&Username::parse("sam.hca")?).await?;
    let mut tx = app.store.begin().await?;
    tx.set_status(id, StaffStatus::Suspended).await?;
    tx.commit(AuditDraft::permit("test", "staff.suspend", "staff:sam.hca"))
        .await?;
    ensure!(app.get("/api/me", &session).await?.status == StatusCode::UNAUTHORIZED);
    ensure!(app.get("/api/me", &token).await?.status == StatusCode::UNAUTHORIZED);
    let res = app
        .post_form(
            "/login",
            &Auth::None,
            &[("username", "sam.hca"), ("password", DEMO_PASSWORD)],
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN && res.body.contains("suspended"));
    ensure!(res.header("set-cookie").is_none());
    // Tokens die with the suspension: reinstated, the person has no old token back.
    let mut tx = app.store.begin().await?;
    tx.set_status(id, StaffStatus::Active).await?;
    tx.commit(AuditDraft::permit("test", "staff.reinstate", "staff:sam.hca"))
        .await?;
    ensure!(
        app.get("/api/me", &token).await?.status == StatusCode::UNAUTHORIZED,
        "a token from before the suspension stays revoked"
    );
    ensure!(app.get("/api/me", &app.token_for("sam.hca").await?).await?.status == StatusCode::OK);
    Ok(())
}

/// The server keeps the staff profiles it reads (one is needed for every request) and uses one again only while
/// nothing in it has changed: a change made behind its back (another process, a SQL prompt) shows at the very next
/// request, and so does a duty beginning or ending as the clock passes it.
async fn a_profile_is_read_again_once_anything_in_it_changes(db: TestDb) -> Result<()> {
    use remit_domain::place::PlaceCode;
    use remit_domain::time::Clock;
    use sqlx::Executor;
    let app = TestApp::demo(&db).await?;
    let token = app.token_for("ben.rn").await?;
    let me = || async {
        let res = app.get("/api/me", &token).await?;
        anyhow::Ok((res.status, res.json().ok()))
    };
    let duty = |v: &Option<serde_json::Value>| -> Vec<String> {
        v.as_ref()
            .and_then(|v| v["on_duty"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect()
    };
    let (status, first) = me().await?;
    ensure!(
        status == StatusCode::OK && duty(&first) == ["ward-9"],
        "{status}: {first:?}"
    );
    ensure!(me().await?.1 == first, "the same profile, asked again");

    // A duty on Ward 7 from an hour from now for two hours: not yet, then on duty there, then no longer.
    let id = app.store.staff_id(&Username::parse("ben.rn")?).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    tx.insert_duty(
        id,
        &PlaceCode::parse("ward-7")?,
        now + Duration::hours(1),
        Some(now + Duration::hours(3)),
    )
    .await?;
    tx.commit(AuditDraft::permit("test", "staff.duty", "staff:ben.rn"))
        .await?;
    ensure!(duty(&me().await?.1) == ["ward-9"], "the duty has not begun");
    app.clock.advance(Duration::minutes(59));
    ensure!(duty(&me().await?.1) == ["ward-9"], "the duty has still not begun");
    app.clock.advance(Duration::minutes(1));
    ensure!(duty(&me().await?.1) == ["ward-7", "ward-9"], "the duty has begun");
    app.clock.advance(Duration::hours(2));
    ensure!(duty(&me().await?.1) == ["ward-9"], "the duty has ended");

    // Changes on a connection of its own, not through the server's store; a session read before them.
    let session = app.sign_in("ben.rn", DEMO_PASSWORD).await?;
    ensure!(
        app.get("/api/me", &session).await?.status == StatusCode::OK,
        "signed in"
    );
    let mut raw = db.raw().await?;
    raw.execute(
        "INSERT INTO staff_role (staff_id, role) SELECT id, 'education-lead' FROM staff WHERE username = 'ben.rn'",
    )
    .await?;
    let (_, after) = me().await?;
    let roles = after.as_ref().map(|v| v["roles"].to_string()).unwrap_or_default();
    ensure!(
        roles.contains("education-lead"),
        "a role added at a SQL prompt: {roles}"
    );
    // A session reads its holder under the versions read with it: the same change shows there.
    let res = app.get("/api/me", &session).await?;
    let roles = res.json()?["roles"].to_string();
    ensure!(
        res.status == StatusCode::OK && roles.contains("education-lead"),
        "a role added at a SQL prompt, through a session: {roles}"
    );
    raw.execute("UPDATE staff SET status = 'suspended' WHERE username = 'ben.rn'")
        .await?;
    ensure!(me().await?.0 == StatusCode::UNAUTHORIZED, "suspended at a SQL prompt");
    ensure!(
        app.get("/api/me", &session).await?.status == StatusCode::UNAUTHORIZED,
        "suspended at a SQL prompt, through a session"
    );
    raw.execute("UPDATE staff SET status = 'active' WHERE username = 'ben.rn'")
        .await?;
    ensure!(me().await?.0 == StatusCode::OK, "reinstated");
    raw.execute("DELETE FROM duty WHERE staff_id = (SELECT id FROM staff WHERE username = 'ben.rn')")
        .await?;
    ensure!(duty(&me().await?.1).is_empty(), "duty removed at a SQL prompt");
    raw.execute("UPDATE api_token SET revoked_at = '2000-01-01T00:00:00.000000Z'")
        .await?;
    ensure!(
        me().await?.0 == StatusCode::UNAUTHORIZED,
        "the token revoked at a SQL prompt"
    );
    Ok(())
}

/// The ward board takes a bearer token's holder from what the server keeps, without a query of its own, and
/// confirms them with the versions its statement reads: anything changed behind the server's back (a SQL prompt)
/// shows at the very next board, as it does on every other route.
async fn a_ward_boards_own_statement_confirms_a_kept_token_holder(db: TestDb) -> Result<()> {
    use sqlx::Executor;
    // ben.rn is on duty on Ward 9, where Susan Blake is.
    let app = TestApp::demo(&db).await?;
    let ben = app.token_for("ben.rn").await?;
    let Auth::Bearer(token) = &ben else {
        unreachable!("token_for gives a bearer token")
    };
    let board = || async {
        let res = app.get("/wards/ward-9", &ben).await?;
        anyhow::Ok((res.status, res.body.contains("Susan Blake")))
    };
    ensure!(
        app.store.kept_token_holder(token).is_none(),
        "nothing kept before the first request"
    );
    ensure!(board().await? == (StatusCode::OK, true), "the first board");
    ensure!(
        app.store.kept_token_holder(token).is_some(),
        "the holder is kept after the first request"
    );
    ensure!(
        board().await? == (StatusCode::OK, true),
        "the board for the kept holder"
    );

    let mut raw = db.raw().await?;
    // Someone else's profile changed: the holder is read again and still stands.
    raw.execute(
        "INSERT INTO staff_role (staff_id, role) SELECT id, 'education-lead' FROM staff WHERE username = 'alex.ap'",
    )
    .await?;
    ensure!(board().await? == (StatusCode::OK, true), "another's profile changed");
    // Their own duty ended: the board shows them nobody.
    raw.execute("DELETE FROM duty WHERE staff_id = (SELECT id FROM staff WHERE username = 'ben.rn')")
        .await?;
    ensure!(
        board().await? == (StatusCode::OK, false),
        "off duty at a SQL prompt, the board shows nobody"
    );
    raw.execute("UPDATE staff SET status = 'suspended' WHERE username = 'ben.rn'")
        .await?;
    ensure!(
        board().await?.0 == StatusCode::UNAUTHORIZED,
        "suspended at a SQL prompt"
    );
    raw.execute("UPDATE staff SET status = 'active' WHERE username = 'ben.rn'")
        .await?;
    ensure!(board().await?.0 == StatusCode::OK, "reinstated");
    ensure!(board().await?.0 == StatusCode::OK, "reinstated, and kept again");
    raw.execute("UPDATE api_token SET revoked_at = '2000-01-01T00:00:00.000000Z'")
        .await?;
    ensure!(
        board().await?.0 == StatusCode::UNAUTHORIZED,
        "the token revoked at a SQL prompt"
    );
    ensure!(
        app.get("/wards/no-such-ward", &ben).await?.status == StatusCode::UNAUTHORIZED,
        "a revoked token does not learn which wards exist"
    );
    Ok(())
}

/// A set posted as a FHIR transaction with a bearer token whose holder the server keeps is decided on what it keeps,
/// without a query of its own, and written only if its commit finds nothing changed since; a command decided under
/// versions that have moved on writes nothing, not even its audit entry or a refusal.
async fn a_set_by_a_kept_token_holder_is_confirmed_by_its_own_commit(db: TestDb) -> Result<()> {
    use sqlx::Executor;
    // alex.ap is on duty on Ward 7, where Margaret Hughes is.
    let app = TestApp::demo(&db).await?;
    let alex = app.bearer_of("alex.ap").await?;
    let Auth::Bearer(token) = &alex else {
        unreachable!("bearer_of gives a bearer token")
    };
    let bundle = set_ten_minutes_ago(&app)?;
    let post = || async { anyhow::Ok(crate::obs::post_fhir(&app, "/fhir", &alex, &bundle).await?.status) };
    ensure!(post().await? == StatusCode::OK, "the first set");
    ensure!(
        app.store.kept_token_holder(token).is_some(),
        "the holder is kept after the first request"
    );
    ensure!(post().await? == StatusCode::OK, "a set by the kept holder");
    // Kept under the versions as they stand (the record counter too, not only the profile's), so that the commit of
    // the holder's next set finds them unchanged and confirms them at once. So recording a set, escalation and all,
    // moves neither counter: the writer relies on it (it reads the counters again only after other commands).
    let (_, kept) = app.store.kept_token_holder(token).context("kept")?;
    let (_, standing) = app.store.token_holder(token).await?.context("the holder")?;
    ensure!(kept == standing, "kept under {kept:?}, the database at {standing:?}");

    // The commit's own check: a command decided under versions that have moved on is not run, and writes nothing
    // (not even its audit entry); under the versions as they are now, it is.
    let (_, before) = app.store.token_holder(token).await?.context("the holder")?;
    db.raw()
        .await?
        .execute(
            "INSERT INTO staff_role (staff_id, role) SELECT id, 'education-lead' FROM staff WHERE username = 'ben.rn'",
        )
        .await?;
    let entries = || async { anyhow::Ok(app.store.audit_log(1_000_000).await?.len()) };
    let logged = entries().await?;
    let nothing = |under| {
        let draft = AuditDraft::permit("staff:test", "test.under", "nothing");
        let store = app.store.under(Some(under));
        async move { store.command(draft, |_| Box::pin(async { Ok(()) })).await }
    };
    ensure!(
        matches!(nothing(before).await, Err(remit_store::StoreError::Unconfirmed)),
        "a command under versions that moved on ran"
    );
    ensure!(entries().await? == logged, "an unconfirmed command left an audit entry");
    // Nor is a refusal recorded for a principal not yet confirmed, under any versions: the decision made again once
    // they are confirmed records it.
    let refusal = AuditDraft::deny("staff:test", "test.under", "nothing", vec!["no".into()]);
    ensure!(
        matches!(
            app.store.under(Some(before)).record(refusal).await,
            Err(remit_store::StoreError::Unconfirmed)
        ),
        "a refusal was recorded for a principal not yet confirmed"
    );
    ensure!(entries().await? == logged, "an unconfirmed refusal left an audit entry");
    let (_, now) = app.store.token_holder(token).await?.context("the holder")?;
    ensure!(now != before, "the versions moved on");
    nothing(now).await?;
    ensure!(
        entries().await? == logged + 1,
        "a command under the versions as they are"
    );
    Ok(())
}

/// A conditional create reads what is recorded before it writes, so its holder is confirmed by a query first: a
/// token revoked behind the server's back finds nothing, and leaves nothing in the log, whether `ifNoneExist` is
/// written plainly or with a JSON escape.
async fn a_kept_token_holders_conditional_set_is_confirmed_first_however_its_keys_are_written(
    db: TestDb,
) -> Result<()> {
    use sqlx::Executor;
    let app = TestApp::demo(&db).await?;
    let alex = app.bearer_of("alex.ap").await?;
    let Auth::Bearer(token) = &alex else {
        unreachable!("bearer_of gives a bearer token")
    };
    let mut bundle = set_ten_minutes_ago(&app)?;
    let effective = bundle["entry"][0]["resource"]["effectiveDateTime"].clone();
    let effective = effective.as_str().context("effectiveDateTime")?;
    for e in bundle["entry"].as_array_mut().context("entries")? {
        e["request"]["ifNoneExist"] = serde_json::json!(format!(
            "patient=Patient/9990001375&date=eq{}",
            effective.replace('+', "%2B")
        ));
    }
    let post = |body: String| {
        let req = Request::post("/fhir")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .body(Body::from(body));
        async { anyhow::Ok(app.send(req?).await?) }
    };
    let plain = bundle.to_string();
    let escaped = plain.replace("\"ifNoneExist\"", "\"i\\u0066NoneExist\"");
    ensure!(escaped != plain, "the key escaped");
    let first = post(plain.clone()).await?;
    ensure!(first.status == StatusCode::OK, "{}", first.body);
    let again = post(escaped.clone()).await?;
    ensure!(
        again.status == StatusCode::OK && again.body.contains("200 OK"),
        "the escaped condition finds the set: {}",
        again.body
    );
    ensure!(app.store.kept_token_holder(token).is_some(), "the holder is kept");

    db.raw()
        .await?
        .execute("UPDATE api_token SET revoked_at = '2000-01-01T00:00:00.000000Z'")
        .await?;
    let logged = app.store.audit_log(1_000_000).await?.len();
    for (how, body) in [("escaped", escaped), ("plain", plain)] {
        let res = post(body).await?;
        ensure!(
            res.status == StatusCode::UNAUTHORIZED && !res.body.contains("9990001375"),
            "{how}: {} {}",
            res.status,
            res.body
        );
    }
    ensure!(
        app.store.audit_log(1_000_000).await?.len() == logged,
        "a revoked token's conditional set left an audit entry"
    );
    Ok(())
}

/// The NEWS2 7 bundle, taken ten minutes ago.
fn set_ten_minutes_ago(app: &TestApp) -> Result<serde_json::Value> {
    let mut bundle = crate::obs::bundle_of_seven();
    let effective = remit_domain::time::format_instant(app.store.now() - Duration::minutes(10));
    for e in bundle["entry"].as_array_mut().context("entries")? {
        e["resource"]["effectiveDateTime"] = serde_json::json!(effective);
    }
    Ok(bundle)
}

/// Anything changed behind the server's back (at a SQL prompt) shows at a kept token holder's very next set, as on
/// every other route; a refusal is recorded once; a set that does not stand leaves nothing written.
async fn changes_at_a_sql_prompt_show_at_a_kept_token_holders_next_set(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let bundle = set_ten_minutes_ago(&app)?;
    let set = |what, status| api(what, "alex.ap", "POST /fhir", status).body(bundle.clone()).into();
    app.story(
        &db,
        vec![
            set("the first set", StatusCode::OK),
            set("a set by the kept holder", StatusCode::OK),
            audit("both written", &["vitals.record", "vitals.record"]),
            sql(concat!(
                "INSERT INTO staff_role (staff_id, role) ",
                "SELECT id, 'education-lead' FROM staff WHERE username = 'ben.rn'"
            )),
            set(
                "someone else's profile changed: the holder is read again",
                StatusCode::OK,
            ),
            sql("UPDATE patient SET place_code = 'ward-9' WHERE nhs_number = '9990001375'"),
            set(
                "the patient moved to a ward where Alex is not on duty",
                StatusCode::FORBIDDEN,
            ),
            audit(
                "written, then refused once",
                &["vitals.record", "vitals.record refused"],
            ),
            sql("UPDATE patient SET place_code = 'ward-7' WHERE nhs_number = '9990001375'"),
            set("the patient back on Ward 7", StatusCode::OK),
            set("and the holder kept again", StatusCode::OK),
            sql("UPDATE staff SET status = 'suspended' WHERE username = 'alex.ap'"),
            set("suspended", StatusCode::UNAUTHORIZED),
            audit("two written, then nothing", &["vitals.record", "vitals.record"]),
            sql("UPDATE staff SET status = 'active' WHERE username = 'alex.ap'"),
            set("reinstated", StatusCode::OK),
            sql("DELETE FROM duty WHERE staff_id = (SELECT id FROM staff WHERE username = 'alex.ap')"),
            set("off duty", StatusCode::FORBIDDEN),
            sql("UPDATE api_token SET revoked_at = '2000-01-01T00:00:00.000000Z'"),
            set("the token revoked", StatusCode::UNAUTHORIZED),
            audit(
                "written, refused once, then nothing",
                &["vitals.record", "vitals.record refused"],
            ),
        ],
    )
    .await
}

/// A clinical request reads the patient's record (where they are, the scale 2 prescription, the reader's open tasks
/// for them) as the database stood when the request began. The server keeps the records it has read and uses one
/// again only while nothing in it, or in any staff profile, has changed: a change made behind its back (another
/// process, a SQL prompt) shows at the very next request.
async fn a_patient_record_is_read_again_once_anything_in_it_changes(db: TestDb) -> Result<()> {
    use sqlx::Executor;
    // Susan Blake (9990009597) is on Ward 9, where ben.rn is on duty.
    let app = TestApp::demo(&db).await?;
    let ben = app.token_for("ben.rn").await?;
    let read = || async {
        let res = app.get("/api/patients/9990009597/observations", &ben).await?;
        anyhow::Ok(res.status)
    };
    ensure!(read().await? == StatusCode::OK, "a patient on the reader's ward");
    ensure!(read().await? == StatusCode::OK, "the same, asked again");

    let mut raw = db.raw().await?;
    raw.execute("UPDATE patient SET place_code = 'ward-7' WHERE nhs_number = '9990009597'")
        .await?;
    ensure!(
        read().await? == StatusCode::FORBIDDEN,
        "moved to Ward 7 at a SQL prompt"
    );
    crate::helpers::delegate_at_sql_prompt(&mut raw, "9990009597", "priya.rn", "ben.rn").await?;
    ensure!(
        read().await? == StatusCode::OK,
        "a task for the patient delegated to the reader at a SQL prompt"
    );
    raw.execute("UPDATE task SET status = 'completed'").await?;
    ensure!(
        read().await? == StatusCode::FORBIDDEN,
        "the task completed at a SQL prompt"
    );
    raw.execute("UPDATE patient SET place_code = 'ward-9' WHERE nhs_number = '9990009597'")
        .await?;
    ensure!(read().await? == StatusCode::OK, "back on Ward 9");

    // Scale 2 prescribed at a SQL prompt: the next set is scored on it, and the answer names it.
    let set = serde_json::json!({"set": {"respiration_rate": 16, "spo2": 90, "on_oxygen": false, "systolic_bp": 124,
        "pulse": 76, "consciousness": "alert", "temperature": 37.0}});
    let path = "/api/patients/9990009597/observations";
    let res = app.post_json(path, &ben, &set).await?;
    ensure!(res.status == StatusCode::CREATED, "{}: {}", res.status, res.body);
    ensure!(res.json()?["set"]["spo2_scale"] == 1, "{}", res.body);
    raw.execute(
        "INSERT INTO scale2 (patient_id, target_low, target_high, reason, prescribed_by, prescribed_at) \
         SELECT p.id, 88, 92, 'COPD with hypercapnic respiratory failure', s.id, '2026-01-01T00:00:00.000000Z' \
         FROM patient p, staff s WHERE p.nhs_number = '9990009597' AND s.username = 'priya.rn'",
    )
    .await?;
    let res = app.post_json(path, &ben, &set).await?;
    let v = res.json()?;
    ensure!(
        res.status == StatusCode::CREATED && v["set"]["spo2_scale"] == 2 && v["scale2"]["target_low"] == 88,
        "scored on the prescription made at a SQL prompt: {v}"
    );

    // A place renamed moves the record version on too (the record carries its place's name).
    let Auth::Bearer(token) = &ben else {
        unreachable!("token_for gives a bearer token")
    };
    let versions = || async { anyhow::Ok(app.store.token_holder(token).await?.context("ben's token")?.1) };
    let before = versions().await?;
    raw.execute("UPDATE place SET name = 'Ward 9 (Respiratory)' WHERE code = 'ward-9'")
        .await?;
    let after = versions().await?;
    ensure!(before != after, "a place renamed: {before:?}, then {after:?}");
    Ok(())
}

async fn repeated_failed_sign_ins_are_throttled(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    for _ in 0..5 {
        let res = app
            .post_form("/login", &Auth::None, &[("username", "Alex.AP"), ("password", "guess")])
            .await?;
        ensure!(res.status == StatusCode::UNAUTHORIZED);
    }
    let res = app
        .post_form(
            "/login",
            &Auth::None,
            &[("username", "alex.ap"), ("password", DEMO_PASSWORD)],
        )
        .await?;
    ensure!(
        res.status == StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits: {}",
        res.status
    );
    ensure!(res.body.contains("Too many failed sign-ins"));
    // Other usernames are not affected.
    app.sign_in("priya.rn", DEMO_PASSWORD).await?;
    app.clock.advance(Duration::minutes(16));
    app.sign_in("alex.ap", DEMO_PASSWORD).await?;
    Ok(())
}

async fn bearer_tokens_authenticate_api_clients(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let token = app.token_for("alex.ap").await?;
    let res = app.get("/api/me", &token).await?;
    ensure!(res.status == StatusCode::OK);
    let me = res.json()?;
    ensure!(me["username"] == "alex.ap" && me["level"] == 4, "{me}");
    ensure!(me["on_duty"] == serde_json::json!(["ward-7"]));
    ensure!(
        !res.body.contains("argon2") && !res.body.contains("password"),
        "no credentials in the profile"
    );
    // A token client does not need a CSRF token: it is not a browser.
    let res = app
        .send(
            Request::post("/logout")
                .header(
                    header::AUTHORIZATION,
                    format!(
                        "Bearer {}",
                        match &token {
                            Auth::Bearer(t) => t,
                            _ => unreachable!(),
                        }
                    ),
                )
                .body(Body::empty())?,
        )
        .await?;
    ensure!(res.status == StatusCode::SEE_OTHER);
    Ok(())
}

async fn metrics_are_for_administrators(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    app.get("/health", &Auth::None).await?;
    let admin = app.token_for("admin").await?;
    let res = app.get("/metrics", &admin).await?;
    ensure!(res.status == StatusCode::OK && res.header("content-type").is_some_and(|c| c.starts_with("text/plain")));
    ensure!(
        res.body
            .contains("remit_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"),
        "{}",
        res.body
    );
    ensure!(res.body.contains("remit_http_request_duration_seconds_bucket"));
    let nurse = app.token_for("priya.rn").await?;
    ensure!(app.get("/metrics", &nurse).await?.status == StatusCode::FORBIDDEN);
    Ok(())
}

async fn cross_site_form_posts_are_refused(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let form = crate::helpers::form_encode(&[("username", "alex.ap"), ("password", DEMO_PASSWORD)]);
    let res = app
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "remit.test")
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::from(form.clone()))?,
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN && res.header("set-cookie").is_none());
    let res = app
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .body(Body::from(form))?,
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN);
    // A signed-in browser tricked into posting from elsewhere, even with a stolen CSRF token, is refused.
    let auth = app.sign_in("alex.ap", DEMO_PASSWORD).await?;
    let csrf = app.csrf(&auth).await?;
    let Auth::Cookie(cookie) = &auth else { unreachable!() };
    let res = app
        .send(
            Request::post("/logout")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, cookie)
                .header(header::HOST, "remit.test")
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::from(format!("csrf={csrf}")))?,
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN);
    ensure!(app.get("/me", &auth).await?.status == StatusCode::OK);
    Ok(())
}

/// A whole run through the routes that carry patient data (reads, writes, refusals, bad input, unknown ids), with
/// the server's logs captured: no demo patient's name or NHS number may appear in them.
async fn the_logs_carry_no_patient_data(db: TestDb) -> Result<()> {
    crate::helpers::expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let token = |who: &str| -> Result<String> {
        let out = db.remit(&["token", "create", "--staff", who]);
        crate::helpers::expect_status(&out, 0)?;
        Ok(crate::helpers::stdout(&out).trim().to_owned())
    };
    let (priya, ben, alex) = (token("priya.rn")?, token("ben.rn")?, token("alex.ap")?);
    let (mut child, addr) = db.serve("debug")?;
    // Drain the logs as they come, so a full pipe never blocks the server.
    let mut stderr = child.stderr.take().context("stderr")?;
    let drain = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let set = r#"{"set": {"respiration_rate": 25, "spo2": 93, "on_oxygen": false, "systolic_bp": 105, "pulse": 105,
        "consciousness": "alert", "temperature": 37.5}}"#;
    let result = (|| -> Result<()> {
        for (who, method, path, body, want) in [
            (&priya, "GET", "/wards/ward-7", "", 200),
            (&priya, "GET", "/patients/9990002746", "", 200),
            (&priya, "GET", "/api/patients/9990002746/observations", "", 200),
            (&priya, "POST", "/api/patients/9990001375/observations", set, 201),
            (
                &priya,
                "POST",
                "/api/patients/9990001375/observations",
                r#"{"set": {"on_oxygen": "maybe"}}"#,
                422,
            ),
            (&ben, "POST", "/api/patients/9990004110/observations", set, 403),
            (&ben, "GET", "/patients/9990005486", "", 403),
            (&priya, "GET", "/patients/9991000003", "", 403),
            (&priya, "GET", "/patients/9990000000", "", 422),
            (
                &priya,
                "GET",
                "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990006857",
                "",
                200,
            ),
            (
                &priya,
                "GET",
                "/fhir/Observation?patient=Patient/9990002746&_count=3",
                "",
                200,
            ),
            (&priya, "GET", "/fhir/Observation/999999-rr", "", 404),
            (
                &alex,
                "POST",
                "/api/patients/9990002746/prescriptions",
                r#"{"medicine": "X", "dose": "5 mg", "route": "oral", "frequency": "daily"}"#,
                403,
            ),
            (&priya, "GET", "/api/escalations?open=true", "", 200),
            (&ben, "GET", "/api/imaging/requests/1", "", 403),
        ] {
            let (status, text) = http(&addr, method, path, who, body)?;
            ensure!(status == want, "{method} {path}: {status}, wanted {want}: {text}");
        }
        Ok(())
    })();
    child.kill()?;
    child.wait()?;
    let logs = drain.join().map_err(|_| anyhow::anyhow!("the log reader panicked"))?;
    result?;
    ensure!(logs.lines().count() >= 14, "the run was logged: {logs}");
    for needle in [
        "Margaret",
        "Hughes",
        "David",
        "Clarke",
        "Aisha",
        "Rahman",
        "George",
        "Wilson",
        "Fatima",
        "Noor",
        "Peter",
        "O'Neill",
        "Susan",
        "Blake",
        "John",
        "Murphy",
        "Linda",
        "Evans",
        "9990001375",
        "9990002746",
        "9990004110",
        "9990005486",
        "9990006857",
        "9990009597",
        "9990009597",
        "9990012334",
        "9990013705",
        "9990000000",
        "9991000003",
    ] {
        ensure!(!logs.contains(needle), "the logs name `{needle}`: {logs}");
    }
    Ok(())
}

async fn a_real_server_serves_on_a_real_port(db: TestDb) -> Result<()> {
    crate::helpers::expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let (mut child, addr) = db.serve("info")?;
    let result = (|| -> Result<()> {
        let (status, body) = http_get(&addr, "/health")?;
        ensure!(status == 200 && body.contains("\"status\":\"ready\""), "{body}");
        let (status, body) = http_get(&addr, "/api/me")?;
        ensure!(status == 401, "{body}");
        ensure!(
            body.to_ascii_lowercase().contains("x-request-id:"),
            "responses carry a request id: {body}"
        );
        Ok(())
    })();
    child.kill()?;
    let out = child.wait_with_output()?;
    result?;
    // Structured logs: one JSON object a line, each request with its id and route template.
    let logs = String::from_utf8_lossy(&out.stderr);
    let request_lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["message"] == "response")
        .collect();
    ensure!(request_lines.len() >= 2, "{logs}");
    ensure!(
        request_lines
            .iter()
            .all(|v| v["span"]["request_id"].is_string() && v["span"]["route"].is_string()),
        "{logs}"
    );
    Ok(())
}

/// A client's `x-request-id` reaches the logs only if it is a plain token of bounded length; anything else is
/// replaced by the server's own.
async fn request_ids_are_the_servers_own_unless_a_plain_token(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let long = "a".repeat(65);
    let cases = [
        ("proxy-7f3a.21", true),
        ("x\" status=200 staff=\"admin", false),
        ("9990001375 Margaret Hughes", false),
        (long.as_str(), false),
    ];
    for (id, kept) in cases {
        let req = Request::get("/health").header("x-request-id", id).body(Body::empty())?;
        let res = app.send(req).await?;
        let answered = res.header("x-request-id").context("an id")?;
        if kept {
            ensure!(answered == id, "`{id}` was replaced by `{answered}`");
        } else {
            ensure!(
                answered != id && answered.len() == 16,
                "`{id}` was kept as `{answered}`"
            );
        }
    }
    Ok(())
}

/// The education page's sign-off form answers and writes alike: a registered nurse who may not use it is refused
/// before anything is written, and the refusal is audited.
async fn a_refused_sign_off_writes_nothing(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let records = app.store.competency_records(None).await?.len();
    let priya = app.sign_in("priya.rn", DEMO_PASSWORD).await?;
    let csrf = app.csrf(&priya).await?;
    let res = app
        .post_form(
            "/education/sign-off",
            &priya,
            &[
                ("csrf", &csrf),
                ("staff", "alex.ap"),
                ("competency", "venepuncture"),
                ("evidence", "observed x3"),
            ],
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    ensure!(
        app.store.competency_records(None).await?.len() == records,
        "nothing written"
    );
    let last = app.store.audit_log(1).await?;
    ensure!(
        last[0].action == "competency.sign-off" && last[0].decision.as_str() == "deny",
        "{:?}",
        last[0]
    );
    Ok(())
}

/// Every answer, public or not, found or not: no sniffing, no framing, no referrer, nothing cached on a shared ward
/// PC; HSTS only when served over HTTPS.
async fn every_answer_carries_the_protective_headers(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let priya = app.sign_in("priya.rn", DEMO_PASSWORD).await?;
    let answers = [
        app.get("/health", &Auth::None).await?,
        app.get("/wards/ward-7", &Auth::None).await?,
        app.get("/wards/ward-7", &priya).await?,
        app.get("/patients/9990001375", &priya).await?,
        app.get("/no-such-page", &priya).await?,
    ];
    for res in &answers {
        let has = |name: &str, value: &str| res.header(name) == Some(value);
        ensure!(
            has("x-content-type-options", "nosniff")
                && has("referrer-policy", "same-origin")
                && has("x-frame-options", "DENY")
                && res
                    .header("content-security-policy")
                    .is_some_and(|c| c.contains("frame-ancestors 'none'"))
                && has("cache-control", "no-store")
                && res.header("strict-transport-security").is_none(),
            "{}: {:?}",
            res.status,
            res.headers
        );
    }
    let config = remit_server::Config {
        secure_cookies: true,
        ..remit_server::Config::default()
    };
    let secure = remit_server::app(remit_server::AppState::new(app.store.clone(), app.pack.clone(), config));
    let res = tower::ServiceExt::oneshot(secure, Request::get("/health").body(Body::empty())?).await?;
    ensure!(
        res.headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("max-age=")),
        "{:?}",
        res.headers()
    );
    Ok(())
}

/// Where the trust's identity provider is the only way in, a password remit keeps signs nobody in, and the sign-in
/// page offers no form; without a provider configured, its routes are not there.
async fn password_sign_in_can_be_turned_off(db: TestDb) -> Result<()> {
    let config = remit_server::Config {
        password_sign_in: false,
        ..remit_server::Config::default()
    };
    let app = TestApp::demo_with_config(&db, config).await?;
    let res = app
        .post_form(
            "/login",
            &Auth::None,
            &[("username", "priya.rn"), ("password", "remit-demo")],
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    ensure!(
        res.body.contains("Sign-in with a password is turned off here."),
        "{}",
        res.body
    );
    ensure!(res.header("set-cookie").is_none(), "no session");
    let page = app.get("/login", &Auth::None).await?;
    ensure!(!page.body.contains("id=\"password\""), "no password form");
    for path in ["/login/oidc", "/login/oidc/callback?code=a&state=b"] {
        ensure!(
            app.get(path, &Auth::None).await?.status == StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Passwords work by default.
    let app = TestApp::demo(&db).await?;
    ensure!(app.sign_in("priya.rn", "remit-demo").await.is_ok());
    Ok(())
}
