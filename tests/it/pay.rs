//! Is this job offer fair? The pay check on the command line, over the API and as a page.

use anyhow::{Result, ensure};
use axum::http::StatusCode;

use crate::helpers::{Auth, TestApp, TestDb, expect_status, stderr, stdout};
use crate::tables::CliCase;

crate::tests!(
    pay_on_the_command_line,
    a_newer_pay_table_is_loaded_and_a_bad_one_named,
    pay_over_the_api_and_as_a_page
);

async fn pay_on_the_command_line(db: TestDb) -> Result<()> {
    let out = db.remit(&[
        "pay",
        "check",
        "--band",
        "4",
        "--salary",
        "27000",
        "--area",
        "outer-london",
        "--json",
    ]);
    expect_status(&out, 0)?;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let expected = serde_json::json!({
        "band": "4", "hours": 37.5, "area": "outer-london", "years_in_band": 0,
        "basic_min": 27485.0, "basic_max": 30162.0, "expected_basic": 27485.0, "hcas": 4552.0,
        "expected_total_min": 32037.0, "expected_total_max": 34714.0, "offer": 27000.0, "verdict": "below",
        "explanation": "£27,000 is £5,037 below the least a full-time band 4 post in outer London pays: £27,485 basic + £4,552 HCAS."
    });
    ensure!(v == expected, "{v}");
    // Band 9 has three points: £125,637 from five years in the band, so £121,000 is below it.
    let out = db.remit(&[
        "pay",
        "check",
        "--band",
        "9",
        "--salary",
        "121000",
        "--years-in-band",
        "5",
        "--json",
    ]);
    expect_status(&out, 0)?;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        v["verdict"] == "below" && v["expected_basic"] == 125637.0 && v["basic_max"] == 125637.0,
        "{v}"
    );
    let out = db.remit(&["pay", "band", "--level", "4", "--json"]);
    ensure!(serde_json::from_str::<serde_json::Value>(&stdout(&out))?["bands"] == serde_json::json!(["4"]));
    let check = |more: &[&'static str]| {
        let mut args = vec!["pay", "check", "--band", "4", "--salary", "27000"];
        args.extend_from_slice(more);
        args
    };
    let bad = |what, args: &[&'static str], words| CliCase::of(what, args, 2).err(words);
    let (london, forty, half, fifty_one) = (
        check(&["--area", "london"]),
        check(&["--hours", "40"]),
        check(&["--hours", "0.5"]),
        check(&["--years-in-band", "51"]),
    );
    db.cli_cases(&[
        CliCase {
            what: "part time, two years in, in words",
            args: vec![
                "pay",
                "check",
                "--band",
                "5",
                "--salary",
                "£18,000",
                "--hours",
                "18.75",
                "--years-in-band",
                "2",
            ],
            status: 0,
            out: &["within what a band 5 post of 18.75 hours a week after 2 years in the band pays"],
            err: &[],
        },
        bad(
            "a band there is not",
            &["pay", "check", "--band", "10", "--salary", "27000"],
            &["band: `10`"],
        ),
        bad("an area there is not", &london, &["area: `london`"]),
        bad("more than full time", &forty, &["hours: `40` must be from 1 to 37.5"]),
        bad("less than an hour a week", &half, &["hours:"]),
        bad(
            "a salary below nothing",
            &["pay", "check", "--band", "4", "--salary", "-5"],
            &["salary:"],
        ),
        bad(
            "a salary nobody is paid",
            &["pay", "check", "--band", "4", "--salary", "5000000"],
            &["salary: £5,000,000 is not a plausible annual salary"],
        ),
        bad("more years than a career", &fifty_one, &["years_in_band: `51`"]),
        bad(
            "a level there is not",
            &["pay", "band", "--level", "10"],
            &["level: `10`"],
        ),
    ])?;
    Ok(())
}

async fn a_newer_pay_table_is_loaded_and_a_bad_one_named(db: TestDb) -> Result<()> {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pay/afc-england-2025-26.toml"),
    )?;
    let dir = tempfile::tempdir()?;
    let newer = dir.path().join("newer.toml");
    std::fs::write(
        &newer,
        shipped
            .replace("salary = 27485", "salary = 28500")
            .replace("2025-04-01", "2026-04-01"),
    )?;
    let out = db.remit(&[
        "--pay-table",
        newer.to_str().unwrap(),
        "pay",
        "check",
        "--band",
        "4",
        "--salary",
        "28000",
    ]);
    expect_status(&out, 0)?;
    ensure!(
        stdout(&out).contains("£28,000 is £500 below") && stdout(&out).contains("effective 2026-04-01"),
        "{}",
        stdout(&out)
    );
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, shipped.replace("rate_percent = 15", "rate_percent = fifteen"))?;
    let line = shipped.lines().position(|l| l.contains("rate_percent = 15")).unwrap() + 1;
    let out = db.remit(&[
        "--pay-table",
        broken.to_str().unwrap(),
        "pay",
        "check",
        "--band",
        "4",
        "--salary",
        "28000",
    ]);
    expect_status(&out, 2)?;
    ensure!(
        stderr(&out).contains(&format!("broken.toml line {line}:")),
        "{}",
        stderr(&out)
    );
    Ok(())
}

async fn pay_over_the_api_and_as_a_page(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let auth = app.token_for("alex.ap").await?;
    let res = app
        .get("/api/pay/check?band=4&salary=27000&area=outer-london", &auth)
        .await?;
    ensure!(res.status == StatusCode::OK, "{} {}", res.status, res.body);
    let v = res.json()?;
    ensure!(
        v["verdict"] == "below" && v["expected_total_min"] == 32037.0 && v["effective_from"] == "2025-04-01",
        "{v}"
    );
    for (query, message) in [
        ("band=4&salary=27000&hours=40", "hours"),
        ("band=12&salary=27000", "band: `12`"),
        ("band=4", "missing field `salary`"),
        ("band=4&salary=27000&bonus=1", "unknown field `bonus`"),
    ] {
        let res = app.get(&format!("/api/pay/check?{query}"), &auth).await?;
        ensure!(
            res.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {} {}",
            res.status,
            res.body
        );
        ensure!(
            res.json()?["error"].as_str().unwrap_or_default().contains(message),
            "{query}: {}",
            res.body
        );
    }
    ensure!(app.get("/api/pay/check?band=4&salary=27000", &Auth::None).await?.status == StatusCode::UNAUTHORIZED);
    let doc = app.get("/api/openapi.json", &auth).await?.json()?;
    ensure!(
        doc["paths"]["/api/pay/check"]["get"]["parameters"]
            .as_array()
            .is_some_and(|p| p.len() == 5),
        "{}",
        doc["paths"]["/api/pay/check"]
    );

    let page = app.sign_in("alex.ap", remit_store::demo::DEMO_PASSWORD).await?;
    let res = app.get("/pay", &page).await?;
    ensure!(
        res.status == StatusCode::OK
            && res.body.contains("<label class=\"nhsuk-label\" for=\"salary\">")
            && res.body.contains("Band 8a")
    );
    let res = app
        .get(
            "/pay?band=4&salary=27000&area=outer-london&hours=&years_in_band=",
            &page,
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.status);
    ensure!(
        res.body
            .contains("£27,000 is £5,037 below the least a full-time band 4 post in outer London pays"),
        "{}",
        res.body
    );
    ensure!(res.body.contains("Below what the post should pay"));
    let res = app.get("/pay?band=4&salary=lots", &page).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("salary: `lots`"),
        "{}",
        res.body
    );
    Ok(())
}
