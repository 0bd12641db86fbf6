//! The patient's NEWS2 chart as SVG (`templates/chart.svg`): one row per parameter, one column per set (oldest on
//! the left), each cell shaded by its score and showing the value; the total and risk beneath. The template escapes
//! every value it is given.

use askama::Template;
use remit_domain::obs::{CHART_ROWS, SetView, tenths};
use remit_domain::time::uk_short_text;

const LABELS: [&str; 7] = [
    "Resp. rate",
    "SpO2",
    "Air / O2",
    "Systolic BP",
    "Pulse",
    "ACVPU",
    "Temp °C",
];
const LEFT: usize = 110;
const CELL_W: usize = 64;
const CELL_H: usize = 30;
const TOP: usize = 40;

#[derive(Template)]
#[template(path = "chart.svg", escape = "html")]
struct Chart {
    width: usize,
    height: usize,
    columns: Vec<Column>,
}

/// One set's column.
struct Column {
    x: usize,
    when: String,
    cells: Vec<Cell>,
    total_fill: &'static str,
    /// The total, starred when the set is incomplete (a lower bound).
    total: String,
    risk: &'static str,
}

struct Cell {
    fill: &'static str,
    ink: &'static str,
    text: String,
}

/// A parameter score's shade, and the ink that reads on it.
fn shade(score: Option<u8>) -> (&'static str, &'static str) {
    match score {
        Some(3) => ("#d4351c", "#ffffff"),
        Some(2) => ("#f47738", "#0b0c0c"),
        Some(1) => ("#ffdd00", "#0b0c0c"),
        Some(_) => ("#ffffff", "#0b0c0c"),
        None => ("#dddddd", "#0b0c0c"),
    }
}

fn column(c: usize, s: &SetView) -> Column {
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
    let cells = CHART_ROWS
        .iter()
        .zip(values)
        .map(|(row, v)| {
            let (fill, ink) = shade(s.scores.get(row));
            Cell {
                fill,
                ink,
                text: v.unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    Column {
        x: LEFT + CELL_W * c,
        when: uk_short_text(&s.taken_at),
        cells,
        total_fill: match s.risk.map(|r| r.as_str()) {
            Some("high") => "#d4351c",
            Some("medium") => "#f47738",
            Some("low-medium") => "#ffdd00",
            Some(_) => "#ffffff",
            None => "#dddddd",
        },
        total: format!(
            "{}{}",
            s.total.map_or_else(|| "n/a".to_owned(), |t| t.to_string()),
            if s.complete { "" } else { "*" }
        ),
        risk: s.risk.map_or("no NEWS2", |r| r.as_str()),
    }
}

/// The chart of `sets` (newest first, as read), drawn oldest first.
pub fn chart_svg(sets: &[SetView]) -> Result<String, askama::Error> {
    let n = sets.len().max(1);
    Chart {
        width: LEFT + CELL_W * n + 10,
        height: TOP + CELL_H * 9 + 10,
        columns: sets.iter().rev().enumerate().map(|(c, s)| column(c, s)).collect(),
    }
    .render()
}

/// The chart's values as a table, for reading rather than seeing: one column per set (oldest first, as the chart),
/// and rows for every parameter, with the diastolic pressure, the oxygen flow and device, the NEWS2 total and the
/// monitoring frequency the set called for.
pub(crate) struct ValuesTable {
    pub(crate) when: Vec<String>,
    pub(crate) rows: Vec<(&'static str, Vec<String>)>,
}

/// See [`ValuesTable`]; `sets` newest first, as read.
pub(crate) fn values_table(sets: &[SetView]) -> ValuesTable {
    let sets: Vec<&SetView> = sets.iter().rev().collect();
    let text = |f: &dyn Fn(&SetView) -> String| sets.iter().map(|s| f(s)).collect::<Vec<_>>();
    let missing = |s: &SetView, p: remit_domain::obs::Param| {
        s.readings
            .missing
            .iter()
            .find(|m| m.parameter == p)
            .map(|m| m.absence.as_str().replace('-', " "))
    };
    let or_missing = |s: &SetView, p, v: Option<String>| v.or_else(|| missing(s, p)).unwrap_or_else(|| "—".into());
    use remit_domain::obs::Param;
    ValuesTable {
        when: text(&|s| uk_short_text(&s.taken_at)),
        rows: vec![
            (
                "Respiration rate (/min)",
                text(&|s| {
                    or_missing(
                        s,
                        Param::RespirationRate,
                        s.readings.respiration_rate.map(|v| v.to_string()),
                    )
                }),
            ),
            (
                "SpO2 (%)",
                text(&|s| {
                    let v = s.readings.spo2.map(|v| format!("{v} (scale {})", s.spo2_scale));
                    or_missing(s, Param::Spo2, v)
                }),
            ),
            (
                "Air or oxygen",
                text(&|s| {
                    if !s.readings.on_oxygen {
                        return "air".into();
                    }
                    let flow = s.readings.oxygen_flow_tenths.map(|f| format!(" {} L/min", tenths(f)));
                    let device = s
                        .readings
                        .oxygen_device
                        .map(|d| format!(", {}", d.as_str().replace('-', " ")));
                    format!("oxygen{}{}", flow.unwrap_or_default(), device.unwrap_or_default())
                }),
            ),
            (
                "Blood pressure (mmHg)",
                text(&|s| {
                    let v = s.readings.systolic_bp.map(|sys| match s.readings.diastolic_bp {
                        Some(dia) => format!("{sys}/{dia}"),
                        None => sys.to_string(),
                    });
                    or_missing(s, Param::SystolicBp, v)
                }),
            ),
            (
                "Pulse (/min)",
                text(&|s| or_missing(s, Param::Pulse, s.readings.pulse.map(|v| v.to_string()))),
            ),
            (
                "Consciousness",
                text(&|s| {
                    s.readings
                        .consciousness
                        .map_or_else(|| "—".into(), |c| c.as_str().replace('-', " "))
                }),
            ),
            (
                "Temperature (°C)",
                text(&|s| or_missing(s, Param::Temperature, s.readings.temperature_tenths.map(tenths))),
            ),
            (
                "NEWS2",
                text(&|s| match (s.total, s.not_scored) {
                    (_, Some(_)) => "not scored".into(),
                    (Some(t), None) if s.complete => t.to_string(),
                    (Some(t), None) => format!("at least {t}"),
                    (None, None) => "—".into(),
                }),
            ),
            (
                "Next set",
                text(&|s| remit_domain::obs::frequency_text(s.monitoring, s.complete, s.total.is_some()).to_owned()),
            ),
        ],
    }
}
