//! The NEWS2 batch scorer, through the real binary.

use anyhow::{Result, ensure};

use crate::helpers::{TestDb, expect_status, stdout};

crate::tests!(the_batch_scorer_scores_every_line_in_order);

async fn the_batch_scorer_scores_every_line_in_order(db: TestDb) -> Result<()> {
    let good = r#"{"respiration_rate":22,"spo2":93,"spo2_scale":1,"on_oxygen":true,"systolic_bp":105,"pulse":115,"consciousness":"alert","temperature":38.2}"#;
    let scale2 = r#"{"respiration_rate":18,"spo2":90,"spo2_scale":2,"on_oxygen":false,"systolic_bp":130,"pulse":80,"consciousness":"alert","temperature":36.1}"#;
    let input = format!(
        "{good}\n{{not json\n{}\n\n{scale2}\r\n{}",
        good.replace("\"respiration_rate\":22", "\"respiration_rate\":81"),
        good.replace(",\"temperature\":38.2", "")
    );
    let out = db.remit_with_stdin(&["news2"], &input);
    expect_status(&out, 1)?;
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    ensure!(lines.len() == 6, "one line out per line in: {lines:?}");
    ensure!(
        lines[0]
            == r#"{"score":10,"risk":"high","monitoring":"continuous","parameters":{"respiration_rate":2,"spo2":2,"air_or_oxygen":2,"systolic_bp":1,"pulse":2,"consciousness":0,"temperature":1}}"#,
        "{}",
        lines[0]
    );
    ensure!(
        lines[1].starts_with(r#"{"error":"the line is not valid JSON"#),
        "{}",
        lines[1]
    );
    ensure!(
        lines[2] == r#"{"error":"respiration_rate: `81` is outside the accepted 0–80"}"#,
        "{}",
        lines[2]
    );
    ensure!(
        lines[3].starts_with(r#"{"error":"the line is not valid JSON"#),
        "an empty line is an error: {}",
        lines[3]
    );
    ensure!(
        lines[4].starts_with(r#"{"score":0,"risk":"low","monitoring":"12-hourly""#),
        "scale 2, 90% on air scores 0: {}",
        lines[4]
    );
    ensure!(lines[5] == r#"{"error":"temperature: is missing"}"#, "{}", lines[5]);

    let out = db.remit_with_stdin(&["news2"], &format!("{good}\n{scale2}\n"));
    expect_status(&out, 0)?;
    ensure!(stdout(&out).lines().count() == 2);
    let out = db.remit_with_stdin(&["news2"], "");
    expect_status(&out, 0)?;
    ensure!(stdout(&out).is_empty());

    // Input that cannot be read at all (standard input is a directory): exit 2.
    let dir = tempfile::tempdir()?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remit"))
        .arg("news2")
        .stdin(std::fs::File::open(dir.path())?)
        .output()?;
    expect_status(&out, 2)?;
    ensure!(crate::helpers::stderr(&out).contains("the input could not be read"));
    Ok(())
}
