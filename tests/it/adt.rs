//! Admissions, transfers and discharges from the patient administration system: HL7 v2 ADT over MLLP, sent over a
//! real socket to the listener `remit serve --mllp-listen` runs, and checked through the ACKs, the boards, the
//! inboxes, FHIR `Encounter` and the audit log. (CI also drives it with the independent `hl7` client from PyPI:
//! tests/hl7/check.py.)

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use axum::http::StatusCode;
use remit_domain::adt::Locations;
use remit_server::mllp::{Feed, MAX_MESSAGE};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, TestDb};

crate::tests!(
    an_admission_puts_the_patient_on_the_board_once,
    a_transfer_takes_open_escalations_to_the_new_ward,
    a_discharge_closes_nothing_and_lists_what_was_left,
    a_cancelled_admission_and_a_merge_are_applied_whole,
    messages_that_cannot_be_applied_change_nothing,
    a_location_map_decides_the_place,
    only_allowed_peers_may_send_and_messages_are_bounded,
    stays_are_read_as_the_record_is
);

const MARGARET: &str = "9990001375";
/// Valid NHS numbers (Modulus 11) remit's demo trust does not hold.
const NEW: &str = "9990001006";
const OTHER: &str = "9990001014";

/// The listener on a free loopback port, for `app`.
async fn feed(app: &TestApp, locations: Locations, allow: Vec<IpAddr>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let feed = Feed {
        locations: Arc::new(locations),
        allow,
    };
    tokio::spawn(remit_server::mllp::serve(
        listener,
        app.state.clone(),
        feed,
        std::future::pending(),
    ));
    Ok(addr)
}

/// An ADT message of `event` with control id `id`, then the given segments.
fn adt(event: &str, id: &str, segments: &[&str]) -> String {
    let mut m = format!("MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206101500||ADT^{event}^ADT_A01|{id}|P|2.5.1\rEVN|{event}\r");
    for s in segments {
        m.push_str(s);
        m.push('\r');
    }
    m
}

fn pid(nhs: &str) -> String {
    format!("PID|1||{nhs}^^^NHS^NH~H42^^^RTH^MR||Rahman^Aisha^^^Mrs||19580412|F")
}

/// An acknowledgement as read back.
#[derive(Debug)]
struct Ack {
    code: String,
    control_id: String,
    text: String,
    error: Option<String>,
}

fn read_ack(raw: &str) -> Result<Ack> {
    let segs: Vec<Vec<&str>> = raw.split('\r').map(|s| s.split('|').collect()).collect();
    let msa = segs.iter().find(|s| s[0] == "MSA").context("an MSA segment")?;
    let err = segs.iter().find(|s| s[0] == "ERR");
    // MSA-3 holds 80 characters; ERR-8 the whole text.
    let whole = err
        .and_then(|e| e.get(8))
        .or_else(|| msa.get(3))
        .copied()
        .unwrap_or_default();
    ensure!(segs[0][0] == "MSH" && segs[0][8].starts_with("ACK"), "{raw:?}");
    Ok(Ack {
        code: msa[1].to_owned(),
        control_id: msa.get(2).copied().unwrap_or_default().to_owned(),
        text: whole.to_owned(),
        error: err
            .map(|e| e.get(3).copied().unwrap_or_default().to_owned())
            .filter(|e| !e.starts_with("0^")),
    })
}

/// Sends messages on one connection, each framed, and reads one ACK for each.
async fn send_all(addr: SocketAddr, messages: &[String]) -> Result<Vec<Ack>> {
    let mut s = TcpStream::connect(addr).await?;
    let mut out = Vec::new();
    for m in messages {
        out.push(0x0B);
        out.extend_from_slice(m.as_bytes());
        out.extend_from_slice(&[0x1C, 0x0D]);
    }
    // All at once: the listener answers each in turn.
    s.write_all(&out).await?;
    let mut acks = Vec::new();
    let mut buf = Vec::new();
    while acks.len() < messages.len() {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut chunk)).await??;
        ensure!(n > 0, "the connection closed after {} acknowledgements", acks.len());
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(2).position(|w| w == [0x1C, 0x0D]) {
            ensure!(buf[0] == 0x0B, "an ACK begins with 0x0B");
            acks.push(read_ack(std::str::from_utf8(&buf[1..end])?)?);
            buf.drain(..end + 2);
        }
    }
    Ok(acks)
}

async fn send(addr: SocketAddr, message: String) -> Result<Ack> {
    Ok(send_all(addr, &[message]).await?.remove(0))
}

/// How many audit entries there are of `action`.
async fn audited(app: &TestApp, action: &str) -> Result<usize> {
    Ok(app
        .store
        .audit_log(10_000)
        .await?
        .iter()
        .filter(|e| e.action == action)
        .count())
}

async fn board(app: &TestApp, place: &str, who: &str) -> Result<String> {
    let auth = app.sign_in(who, "remit-demo").await?;
    let res = app.get(&format!("/wards/{place}"), &auth).await?;
    ensure!(res.status == StatusCode::OK, "{} {}", res.status, res.body);
    Ok(res.body)
}

/// The board's table of patients (before the hand-over list).
fn patients_part(board: &str) -> &str {
    board.split("Open work to hand over").next().unwrap_or(board)
}

async fn encounters(app: &TestApp, who: &str, nhs: &str) -> Result<Vec<serde_json::Value>> {
    let auth = app.token_for(who).await?;
    let res = app
        .get(&format!("/fhir/Encounter?patient=Patient/{nhs}"), &auth)
        .await?;
    ensure!(res.status == StatusCode::OK, "{} {}", res.status, res.body);
    Ok(res.json()?["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect())
}

async fn an_admission_puts_the_patient_on_the_board_once(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    ensure!(!board(&app, "ward-9", "ben.rn").await?.contains("Aisha Rahman"));

    let admit = adt("A01", "ADM-1", &[&pid(NEW), "PV1|1|I|ward-9^^4||||||||||||||||V0042"]);
    let ack = send(addr, admit.clone()).await?;
    ensure!(ack.code == "AA" && ack.control_id == "ADM-1", "{ack:?}");
    ensure!(ack.text == format!("patient {NEW} added, in ward-9"), "{ack:?}");
    let b = board(&app, "ward-9", "ben.rn").await?;
    ensure!(
        b.contains("Aisha Rahman") && b.contains(NEW),
        "the new patient is on Ward 9's board"
    );

    // A replay (the sender did not see the ACK) is acknowledged and not applied again.
    let again = send(addr, admit).await?;
    ensure!(again.code == "AA" && again.text.contains("a replay"), "{again:?}");
    ensure!(audited(&app, "adt.admit").await? == 1, "one admission audited");
    let stays = encounters(&app, "ben.rn", NEW).await?;
    ensure!(stays.len() == 1, "{stays:?}");
    let e = &stays[0];
    ensure!(
        e["status"] == "in-progress"
            && e["class"]["code"] == "IMP"
            && e["identifier"][0]["value"] == "V0042"
            && e["location"][0]["location"]["display"]
                .as_str()
                .is_some_and(|d| d.contains("Ward 9") && d.ends_with("bed 4")),
        "{e}"
    );

    // The same control id for a different message is not a replay: refused, nothing changed.
    let other = adt("A02", "ADM-1", &[&pid(NEW), "PV1|1|I|ward-7^^1"]);
    let ack = send(addr, other).await?;
    ensure!(
        ack.code == "AE" && ack.error.as_deref().is_some_and(|e| e.starts_with("205^")),
        "{ack:?}"
    );
    ensure!(board(&app, "ward-9", "ben.rn").await?.contains("Aisha Rahman"));

    // Admitting someone already in a stay is refused with the way forward.
    let twice = send(addr, adt("A01", "ADM-2", &[&pid(NEW), "PV1|1|I|ward-7"])).await?;
    ensure!(twice.code == "AE" && twice.text.contains("A02"), "{twice:?}");
    Ok(())
}

async fn a_transfer_takes_open_escalations_to_the_new_ward(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    let id = app.seven_for_margaret().await?;
    let ben = app.token_for("ben.rn").await?;
    let priya = app.token_for("priya.rn").await?;
    let in_inbox = |auth| {
        let app = &app;
        async move {
            let res = app.get("/api/inbox", auth).await?;
            ensure!(res.status == StatusCode::OK, "{}", res.body);
            anyhow::Ok(res.body.contains(&format!("\"id\":{id}")))
        }
    };
    ensure!(in_inbox(&priya).await? && !in_inbox(&ben).await?);

    let ack = send(addr, adt("A02", "TRF-1", &[&pid(MARGARET), "PV1|1|I|ward-9^^6"])).await?;
    ensure!(ack.code == "AA", "{ack:?}");
    ensure!(
        ack.text == format!("patient {MARGARET} moved from ward-7 to ward-9; 1 open escalation moved with them"),
        "{ack:?}"
    );
    // The escalation is Ward 9's now: its nurse sees it, Ward 7's no longer does.
    ensure!(in_inbox(&ben).await?, "Ward 9's nurse is told");
    ensure!(!in_inbox(&priya).await?, "Ward 7 no longer holds it");
    let e = app.get(&format!("/api/escalations/{id}"), &ben).await?;
    ensure!(
        e.status == StatusCode::OK && e.json()?["place"] == "ward-9",
        "{}",
        e.body
    );
    ensure!(board(&app, "ward-9", "ben.rn").await?.contains("Margaret Hughes"));
    ensure!(!board(&app, "ward-7", "priya.rn").await?.contains("Margaret Hughes"));

    // A cancelled transfer puts her back where PV1-3 says, with the escalation.
    let back = send(addr, adt("A12", "TRF-2", &[&pid(MARGARET), "PV1|1|I|ward-7^^1"])).await?;
    ensure!(back.code == "AA", "{back:?}");
    ensure!(in_inbox(&priya).await? && !in_inbox(&ben).await?);
    ensure!(audited(&app, "adt.transfer").await? == 1 && audited(&app, "adt.cancel-transfer").await? == 1);

    // A new bed on the same ward is not an arrival.
    let bed = send(addr, adt("A02", "TRF-3", &[&pid(MARGARET), "PV1|1|I|ward-7^^11"])).await?;
    ensure!(
        bed.text == format!("patient {MARGARET} moved to bed 11 in ward-7"),
        "{bed:?}"
    );

    // Admitted to the wrong ward, cancelled and admitted again elsewhere: the escalation is not stranded.
    let acks = send_all(
        addr,
        &[
            adt("A11", "TRF-4", &[&pid(MARGARET)]),
            adt("A01", "TRF-5", &[&pid(MARGARET), "PV1|1|I|ward-9^^6"]),
        ],
    )
    .await?;
    ensure!(acks.iter().all(|a| a.code == "AA"), "{acks:?}");
    ensure!(
        acks[1].text.contains("1 open escalation moved with them"),
        "{:?}",
        acks[1]
    );
    ensure!(
        in_inbox(&ben).await? && !in_inbox(&priya).await?,
        "Ward 9's nurse is told"
    );
    Ok(())
}

async fn a_discharge_closes_nothing_and_lists_what_was_left(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    let id = app.seven_for_margaret().await?;
    let ack = send(addr, adt("A03", "DIS-1", &[&pid(MARGARET), "PV1|1|I|ward-7^^1"])).await?;
    ensure!(ack.code == "AA", "{ack:?}");
    ensure!(
        ack.text
            .starts_with(&format!("patient {MARGARET} discharged from ward-7; 1 open escalation"))
            && ack.text.contains("listed for the nurse in charge"),
        "{ack:?}"
    );
    // Off the board, listed under the work to hand over; the escalation still waits, in Ward 7's inbox.
    let b = board(&app, "ward-7", "priya.rn").await?;
    ensure!(!patients_part(&b).contains("Margaret Hughes"), "off the board");
    let handover = b.split("Open work to hand over").nth(1).context("a hand-over list")?;
    ensure!(
        handover.contains("Margaret Hughes") && handover.contains("Discharged") && handover.contains("1 escalation"),
        "{handover}"
    );
    let priya = app.token_for("priya.rn").await?;
    let e = app.get(&format!("/api/escalations/{id}"), &priya).await?;
    ensure!(e.json()?["state"] == "open", "{}", e.body);
    let stays = encounters(&app, "priya.rn", MARGARET).await?;
    ensure!(
        stays[0]["status"] == "finished" && stays[0]["period"]["end"].is_string(),
        "{}",
        stays[0]
    );

    // Her chart says so in the banner, for whoever looks back at it.
    let chart = app
        .get(
            &format!("/patients/{MARGARET}"),
            &app.sign_in("priya.rn", "remit-demo").await?,
        )
        .await?;
    ensure!(
        chart.body.contains("<strong>Discharged</strong>") && chart.body.contains("from Ward 7"),
        "the banner says she was discharged"
    );

    // Discharged twice is refused; a cancelled discharge brings her back to the board.
    let twice = send(addr, adt("A03", "DIS-2", &[&pid(MARGARET)])).await?;
    ensure!(twice.code == "AE" && twice.text.contains("not in a stay"), "{twice:?}");
    let undo = send(addr, adt("A13", "DIS-3", &[&pid(MARGARET), "PV1|1|I|ward-7^^1"])).await?;
    ensure!(undo.code == "AA", "{undo:?}");
    let b = board(&app, "ward-7", "priya.rn").await?;
    ensure!(patients_part(&b).contains("Margaret Hughes") && !b.contains("Open work to hand over"));
    let stays = encounters(&app, "priya.rn", MARGARET).await?;
    ensure!(stays.len() == 1 && stays[0]["status"] == "in-progress", "{stays:?}");
    Ok(())
}

async fn a_cancelled_admission_and_a_merge_are_applied_whole(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    // Admitted by mistake, then cancelled: off the board, the stay entered in error.
    let acks = send_all(
        addr,
        &[
            adt("A01", "C-1", &[&pid(NEW), "PV1|1|I|ward-9^^2"]),
            adt("A11", "C-2", &[&pid(NEW), "PV1|1|I|ward-9^^2"]),
        ],
    )
    .await?;
    ensure!(acks.iter().all(|a| a.code == "AA"), "{acks:?}");
    ensure!(acks[1].text.contains("admission cancelled"), "{:?}", acks[1]);
    ensure!(!patients_part(&board(&app, "ward-9", "ben.rn").await?).contains(NEW));
    ensure!(encounters(&app, "ben.rn", NEW).await?[0]["status"] == "entered-in-error");

    // An attendance in the emergency department (here, X-ray) that becomes an admission.
    let acks = send_all(
        addr,
        &[
            adt("A04", "C-3", &[&pid(NEW), "PV1|1|E|xray"]),
            adt("A01", "C-4", &[&pid(NEW), "PV1|1|I|ward-9^^2"]),
        ],
    )
    .await?;
    ensure!(acks.iter().all(|a| a.code == "AA"), "{acks:?}");
    ensure!(
        acks[1]
            .text
            .contains("admitted to ward-9 from their attendance in xray"),
        "{:?}",
        acks[1]
    );
    let stays = encounters(&app, "ben.rn", NEW).await?;
    let statuses: Vec<_> = stays
        .iter()
        .map(|e| (e["class"]["code"].clone(), e["status"].clone()))
        .collect();
    ensure!(
        statuses
            == [
                (json!("IMP"), json!("in-progress")),
                (json!("EMER"), json!("finished")),
                (json!("IMP"), json!("entered-in-error"))
            ],
        "{statuses:?}"
    );
    // An inpatient admitted again is refused (205), with the way forward.
    let twice = send(addr, adt("A01", "C-5", &[&pid(NEW), "PV1|1|I|ward-7"])).await?;
    ensure!(
        twice.code == "AE" && twice.error.as_deref().is_some_and(|e| e.starts_with("205^")),
        "{twice:?}"
    );

    // Two records, one person: OTHER's set becomes Margaret's, and OTHER is gone.
    let ack = send(addr, adt("A01", "M-1", &[&pid(OTHER), "PV1|1|I|ward-7^^8"])).await?;
    ensure!(ack.code == "AA", "{ack:?}");
    let alex = app.token_for("alex.ap").await?;
    let set = json!({"set": {"respiration_rate": 16, "spo2": 97, "on_oxygen": false, "systolic_bp": 125,
        "pulse": 72, "consciousness": "alert", "temperature": 36.8}});
    let res = app
        .post_json(&format!("/api/patients/{OTHER}/observations"), &alex, &set)
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let before = app
        .get(&format!("/api/patients/{MARGARET}/observations"), &alex)
        .await?;
    let count = |b: &str| b.matches("\"set_id\"").count();
    let had = count(&before.body);
    let merged = send(
        addr,
        adt("A40", "M-2", &[&pid(MARGARET), &format!("MRG|{OTHER}^^^NHS^NH")]),
    )
    .await?;
    ensure!(merged.code == "AA", "{merged:?}");
    let after = app
        .get(&format!("/api/patients/{MARGARET}/observations"), &alex)
        .await?;
    ensure!(count(&after.body) == had + 1, "{} then {}", before.body, after.body);
    let gone = app.get(&format!("/fhir/Patient/{OTHER}"), &alex).await?;
    ensure!(gone.status != StatusCode::OK, "{}", gone.status);
    // Merged twice: the retired number is gone, so nothing is applied.
    let again = send(
        addr,
        adt("A40", "M-3", &[&pid(MARGARET), &format!("MRG|{OTHER}^^^NHS")]),
    )
    .await?;
    ensure!(again.code == "AE" && again.text.contains("MRG-1"), "{again:?}");
    ensure!(
        matches!(
            app.store.verify_audit().await?.outcome,
            remit_store::VerifyOutcome::Intact
        ),
        "the audit chain holds"
    );
    Ok(())
}

async fn messages_that_cannot_be_applied_change_nothing(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    let patients = || async { anyhow::Ok(app.store.list_patients(None).await?.len()) };
    let before = patients().await?;
    let cases: Vec<(String, &str, &str, &str)> = vec![
        // (message, code, HL7 error code, words in the reason)
        (
            adt("A01", "X-1", &[&pid(NEW), "PV1|1|I|ward-99"]),
            "AE",
            "103",
            "not a place remit knows",
        ),
        (
            adt("A01", "X-2", &[&pid("9990001007"), "PV1|1|I|ward-9"]),
            "AE",
            "102",
            "check digit",
        ),
        (adt("A01", "X-3", &[&pid(NEW)]), "AE", "101", "PV1-3"),
        (
            adt(
                "A01",
                "X-4",
                &["PID|1||9990001006^^^NHS||Rahman^Aisha||19580412|Q", "PV1|1|I|ward-9"],
            ),
            "AE",
            "103",
            "PID-8",
        ),
        (
            adt("A02", "X-5", &[&pid(NEW), "PV1|1|I|ward-9"]),
            "AE",
            "204",
            "no patient",
        ),
        (adt("A05", "X-6", &[&pid(NEW)]), "AR", "201", "does not take ADT A05"),
        (
            "MSH|^~\\&|LAB|RTH|REMIT|RTH|20261206||ORU^R01|X-7|P|2.5.1\r".to_owned(),
            "AR",
            "200",
            "not `ORU`",
        ),
        ("not HL7 at all".to_owned(), "AR", "100", "MSH"),
    ];
    let messages: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    let acks = send_all(addr, &messages).await?;
    for ((_, code, err, words), ack) in cases.iter().zip(&acks) {
        ensure!(ack.code == *code, "{code}: {ack:?}");
        ensure!(
            ack.error.as_deref().is_some_and(|e| e.starts_with(&format!("{err}^"))),
            "{err}: {ack:?}"
        );
        ensure!(ack.text.contains(words), "{words}: {ack:?}");
    }
    ensure!(patients().await? == before, "nothing was added");
    ensure!(!board(&app, "ward-9", "ben.rn").await?.contains("Aisha Rahman"));
    // Each message read but not applied is in the audit log as a refusal, with its reason.
    let refused: Vec<_> = app
        .store
        .audit_log(10_000)
        .await?
        .into_iter()
        .filter(|e| e.actor == "hl7:PAS@RTH" && e.decision == remit_domain::audit::Decision::Deny)
        .collect();
    ensure!(refused.len() == 5, "{refused:?}");
    ensure!(
        refused.iter().any(|e| e.reasons.iter().any(|r| r.contains("ward-99"))),
        "{refused:?}"
    );
    let m = app.state.metrics.render();
    ensure!(
        m.contains("remit_adt_messages_total{ack=\"AE\"} 5") && m.contains("remit_adt_messages_total{ack=\"AR\"} 3"),
        "{m}"
    );
    Ok(())
}

async fn a_location_map_decides_the_place(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let map = Locations::parse("# PAS point of care, remit place\nRESP,ward-9\nAMU,ward-7\n")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let addr = feed(&app, map, Vec::new()).await?;
    let ack = send(addr, adt("A01", "L-1", &[&pid(NEW), "PV1|1|I|RESP^^3"])).await?;
    ensure!(ack.code == "AA" && ack.text.ends_with("in ward-9"), "{ack:?}");
    // With a map, only what it maps is known.
    let ack = send(addr, adt("A02", "L-2", &[&pid(NEW), "PV1|1|I|ward-7"])).await?;
    ensure!(ack.code == "AE" && ack.text.contains("`ward-7`"), "{ack:?}");
    let ack = send(addr, adt("A02", "L-3", &[&pid(NEW), "PV1|1|I|AMU^^5"])).await?;
    ensure!(ack.code == "AA" && ack.text.contains("to ward-7"), "{ack:?}");
    Ok(())
}

async fn only_allowed_peers_may_send_and_messages_are_bounded(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    // Only 10.1.2.3 may send: this loopback client is closed without an answer.
    let closed = feed(&app, Locations::default(), vec!["10.1.2.3".parse()?]).await?;
    let mut s = TcpStream::connect(closed).await?;
    let _ = s.write_all(b"\x0bMSH|^~\\&|PAS|RTH\r\x1c\r").await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
        .await?
        .unwrap_or(0);
    ensure!(n == 0, "no answer to a peer not allowed");

    // A message longer than the limit is refused and the connection closed.
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    let mut s = TcpStream::connect(addr).await?;
    let mut big = vec![0x0B];
    big.extend(std::iter::repeat_n(b'A', MAX_MESSAGE + 16));
    let _ = s.write_all(&big).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut got)).await?;
    let text = String::from_utf8_lossy(&got);
    ensure!(text.contains("MSA|AR||the message is longer than"), "{text}");
    Ok(())
}

async fn stays_are_read_as_the_record_is(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let addr = feed(&app, Locations::default(), Vec::new()).await?;
    ensure!(
        send(addr, adt("A01", "S-1", &[&pid(NEW), "PV1|1|I|ward-9^^4"]))
            .await?
            .code
            == "AA"
    );
    let ben = app.token_for("ben.rn").await?;
    let found = app.get(&format!("/fhir/Encounter?patient=Patient/{NEW}"), &ben).await?;
    let id = found.json()?["entry"][0]["resource"]["id"]
        .as_str()
        .context("an id")?
        .to_owned();
    ensure!(app.get(&format!("/fhir/Encounter/{id}"), &ben).await?.status == StatusCode::OK);
    ensure!(
        app.get(&format!("/fhir/Encounter?patient={NEW}&status=finished"), &ben)
            .await?
            .json()?["total"]
            == 0
    );
    // Ward 7's assistant practitioner may not read a Ward 9 patient's stays, by id or by search.
    let alex = app.token_for("alex.ap").await?;
    ensure!(app.get(&format!("/fhir/Encounter/{id}"), &alex).await?.status == StatusCode::FORBIDDEN);
    ensure!(app.get(&format!("/fhir/Encounter?patient={NEW}"), &alex).await?.status == StatusCode::FORBIDDEN);
    for bad in [
        "/fhir/Encounter",
        "/fhir/Encounter?patient=123",
        "/fhir/Encounter?patient=9990001375&status=open",
        "/fhir/Encounter?colour=red",
    ] {
        let res = app.get(bad, &ben).await?;
        ensure!(
            res.status == StatusCode::BAD_REQUEST && res.body.contains("OperationOutcome"),
            "{bad}: {}",
            res.body
        );
    }
    ensure!(app.get("/fhir/Encounter/999999", &ben).await?.status == StatusCode::NOT_FOUND);
    ensure!(
        app.get(&format!("/fhir/Encounter/{id}"), &crate::helpers::Auth::None)
            .await?
            .status
            == StatusCode::UNAUTHORIZED
    );
    Ok(())
}
