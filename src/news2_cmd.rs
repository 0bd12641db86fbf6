//! `remit news2`: the batch scorer. JSON Lines in, one line out per line in, in order; needs no database.
//! Exit 0 when every line scored, 1 when any line was an error, 2 when the input could not be read.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use remit_domain::news2::VitalSigns;

/// Scores every line of `input` onto `output`; returns how many lines were errors.
pub fn score_lines(input: &mut impl BufRead, output: &mut impl Write) -> std::io::Result<u64> {
    let mut errors = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        let result = std::str::from_utf8(&line)
            .map_err(|_| "the line is not valid UTF-8".to_owned())
            .and_then(|text| {
                serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("the line is not valid JSON: {e}"))
            })
            .and_then(|value| VitalSigns::from_json(&value).map_err(|e| e.to_string()));
        match result {
            Ok(set) => serde_json::to_writer(&mut *output, &set.score())?,
            Err(message) => {
                errors += 1;
                serde_json::to_writer(&mut *output, &serde_json::json!({ "error": message }))?;
            }
        }
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(errors)
}

pub fn run() -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match score_lines(&mut stdin.lock(), &mut out) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: the input could not be read: {e}");
            ExitCode::from(2)
        }
    }
}
