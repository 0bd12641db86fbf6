//! The patient's NEWS2 chart as SVG: one column a set, one row a parameter, each cell shaded by its score.

use remit_domain::obs::{CHART_ROWS, tenths};
use remit_domain::time::uk_short_text;
use remit_store::obs::SetView;

/// The NEWS2 chart as SVG: one row per parameter, one column per set (oldest on the left), each cell shaded by its
/// score and showing the value; the total and risk beneath.
pub fn chart_svg(sets: &[SetView]) -> String {
    const LABELS: [&str; 7] = [
        "Resp. rate",
        "SpO2",
        "Air / O2",
        "Systolic BP",
        "Pulse",
        "ACVPU",
        "Temp °C",
    ];
    let (left, cell_w, cell_h, top) = (110, 64, 30, 40);
    let n = sets.len().max(1);
    let width = left + cell_w * n + 10;
    let height = top + cell_h * 9 + 10;
    let fill = |s: Option<u8>| match s {
        Some(3) => "#d4351c",
        Some(2) => "#f47738",
        Some(1) => "#ffdd00",
        Some(_) => "#ffffff",
        None => "#dddddd",
    };
    let ink = |s: Option<u8>| if s == Some(3) { "#ffffff" } else { "#0b0c0c" };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"chart-title\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\
         <title id=\"chart-title\">NEWS2 chart, {n} most recent sets, oldest first</title>"
    );
    for (i, label) in LABELS.iter().enumerate() {
        let y = top + cell_h * i;
        out.push_str(&format!(
            "<text x=\"4\" y=\"{}\" font-weight=\"bold\">{label}</text>",
            y + 19
        ));
    }
    out.push_str(&format!(
        "<text x=\"4\" y=\"{}\" font-weight=\"bold\">NEWS2</text><text x=\"4\" y=\"{}\" font-weight=\"bold\">Risk</text>",
        top + cell_h * 7 + 19,
        top + cell_h * 8 + 19
    ));
    for (c, s) in sets.iter().rev().enumerate() {
        let x = left + cell_w * c;
        let when = uk_short_text(&s.taken_at);
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
            x + cell_w / 2,
            top - 8,
            html_escape(&when)
        ));
        let r = &s.readings;
        let values = [
            r.respiration_rate.map(|v| v.to_string()),
            r.spo2
                .map(|v| format!("{v}{}", if s.spo2_scale == 2 { "²" } else { "" })),
            Some(if r.on_oxygen {
                r.oxygen_flow_tenths
                    .map_or("O2".into(), |f| format!("O2 {}", tenths(f)))
            } else {
                "Air".into()
            }),
            r.systolic_bp.map(|v| v.to_string()),
            r.pulse.map(|v| v.to_string()),
            r.consciousness.map(|c| {
                match c.as_str() {
                    "alert" => "A",
                    "new-confusion" => "C",
                    "voice" => "V",
                    "pain" => "P",
                    _ => "U",
                }
                .to_owned()
            }),
            r.temperature_tenths.map(tenths),
        ];
        for (i, (row, v)) in CHART_ROWS.iter().zip(values).enumerate() {
            let score = s.scores.get(row);
            let y = top + cell_h * i;
            out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{}\" stroke=\"#b1b4b6\"/>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                fill(score),
                x + cell_w / 2,
                y + 19,
                ink(score),
                html_escape(&v.unwrap_or_else(|| "—".into()))
            ));
        }
        let y = top + cell_h * 7;
        let total_fill = match s.risk.map(|r| r.as_str()) {
            Some("high") => "#d4351c",
            Some("medium") => "#f47738",
            Some("low-medium") => "#ffdd00",
            Some(_) => "#ffffff",
            None => "#dddddd",
        };
        out.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{total_fill}\" stroke=\"#0b0c0c\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}{}</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
            x + cell_w / 2,
            y + 19,
            s.total.map_or_else(|| "n/a".to_owned(), |t| t.to_string()),
            if s.complete { "" } else { "*" },
            x + cell_w / 2,
            y + cell_h + 19,
            s.risk.map_or("no NEWS2", |r| r.as_str())
        ));
    }
    out.push_str("</svg>");
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
