//! The patient's NEWS2 chart as SVG (`templates/chart.html`: the row and band labels in a column of their own that
//! stays in view, the sets in a region that scrolls sideways on a phone), laid out as the Royal College of Physicians' chart: a
//! page of [`SLOTS`] columns, one per set, oldest on the left, blank columns waiting for the sets to come. Above, the
//! NEWS2 total plotted across the sets over its risk bands (0; 1–4 low; 5–6 medium; 7 or more high); beneath, one row
//! per parameter — the value in a cell shaded by its score, blood pressure as systolic/diastolic, oxygen with its
//! flow and device — then the total and how often the next set is due. The template draws it from these numbers and
//! words, and escapes every one.

use askama::Template;
use remit_domain::news2::{Monitoring, Risk};
use remit_domain::obs::{CHART_ROWS, OxygenDevice, SetView, tenths};
use remit_domain::time::uk_short_text;

/// Columns on the chart: the sets a chart page holds.
pub(crate) const SLOTS: usize = 12;

const ROWS: [&str; 9] = [
    "Resp. rate",
    "SpO2 %",
    "Air or O2",
    "BP mmHg",
    "Pulse",
    "ACVPU",
    "Temp °C",
    "NEWS2",
    "Next set in",
];
const LEFT: usize = 120;
const COL_W: usize = 72;
const TOP: usize = 44;
/// The plot's height, for NEWS2 from 0 to [`TOP_SCORE`] (see [`y_of`]).
const PLOT_H: usize = 180;
const TOP_SCORE: usize = 20;
const GAP: usize = 20;
const ROW_H: usize = 28;

#[derive(Template)]
#[template(path = "chart.html")]
struct Chart {
    width: usize,
    height: usize,
    /// How many sets are drawn.
    shown: usize,
    grid_top: usize,
    bands: Vec<Band>,
    ticks: Vec<(u8, usize)>,
    columns: Vec<Column>,
    /// The line between consecutive scored sets: (x1, y1, x2, y2).
    segments: Vec<(usize, usize, usize, usize)>,
    newest: Option<usize>,
}

/// A risk band behind the plot.
struct Band {
    y: usize,
    height: usize,
    fill: &'static str,
    label: &'static str,
}

/// One column of the page: a set's, or blank.
struct Column {
    x: usize,
    centre: usize,
    set: Option<Plotted>,
}

struct Plotted {
    date: String,
    time: String,
    /// Where the total is plotted, and how the point is drawn; `None` where NEWS2 does not apply.
    point: Option<Point>,
    cells: Vec<Cell>,
}

struct Point {
    y: usize,
    /// Where the total is written: above the point, or below it near the top of the plot.
    label_y: usize,
    fill: &'static str,
    /// The total as read beside the point: "≥3" for an incomplete set, whose total is a lower bound.
    label: String,
}

struct Cell {
    fill: &'static str,
    ink: &'static str,
    text: String,
}

/// The y of a NEWS2 total on the plot: 14 units a point up to 10, where nearly every total falls, then 4 a point up
/// to [`TOP_SCORE`].
fn y_of(total: f32) -> usize {
    let t = total.clamp(0.0, TOP_SCORE as f32);
    let up = if t <= 10.0 { t * 14.0 } else { 140.0 + (t - 10.0) * 4.0 };
    TOP + PLOT_H - up.round() as usize
}

/// A parameter score's shade, and the ink that reads on it (the design system's red, orange and yellow).
fn shade(score: Option<u8>) -> (&'static str, &'static str) {
    match score {
        Some(3) => ("#d5281b", "#ffffff"),
        Some(2) => ("#ed8b00", "#212b32"),
        Some(1) => ("#ffeb3b", "#212b32"),
        Some(_) => ("#ffffff", "#212b32"),
        None => ("#e8edee", "#212b32"),
    }
}

fn risk_shade(risk: Option<Risk>) -> &'static str {
    match risk {
        Some(Risk::High) => "#d5281b",
        Some(Risk::Medium) => "#ed8b00",
        Some(Risk::LowMedium) => "#ffeb3b",
        Some(Risk::Low) => "#ffffff",
        None => "#e8edee",
    }
}

/// The RCP chart's letters for how oxygen is given.
fn device_letters(d: OxygenDevice) -> &'static str {
    match d {
        OxygenDevice::NasalCannula => "N",
        OxygenDevice::SimpleMask => "SM",
        OxygenDevice::VenturiMask => "V",
        OxygenDevice::ReservoirMask => "RM",
        OxygenDevice::HighFlow => "HF",
        OxygenDevice::Cpap => "CP",
        OxygenDevice::Niv => "NIV",
        OxygenDevice::Other => "OTH",
    }
}

/// The key to the chart's letters, for the page beneath it.
pub(crate) const KEY: &str = "Air or O2: A air; on oxygen, the flow in L/min and the device — N nasal cannulae, \
     SM simple mask, V Venturi mask, RM reservoir mask, HF high flow, CP CPAP, NIV non-invasive ventilation, OTH \
     other. ACVPU: A alert, C new confusion, V voice, P pain, U unresponsive. ² SpO2 on scale 2. ≥ an incomplete \
     set, whose total is at least this. — not measured.";

fn cells(s: &SetView) -> Vec<Cell> {
    let r = &s.readings;
    let values = [
        r.respiration_rate.map(|v| v.to_string()),
        r.spo2
            .map(|v| format!("{v}{}", if s.spo2_scale == 2 { "²" } else { "" })),
        Some(if r.on_oxygen {
            let flow = r.oxygen_flow_tenths.map(tenths);
            let device = r.oxygen_device.map(device_letters);
            match (flow, device) {
                (Some(f), Some(d)) => format!("{f} {d}"),
                (Some(f), None) => format!("{f} L"),
                (None, Some(d)) => format!("O2 {d}"),
                (None, None) => "O2".into(),
            }
        } else {
            "A".into()
        }),
        r.systolic_bp.map(|sys| match r.diastolic_bp {
            Some(dia) => format!("{sys}/{dia}"),
            None => sys.to_string(),
        }),
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
    let mut cells: Vec<Cell> = CHART_ROWS
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
    let risk = risk_shade(s.risk);
    cells.push(Cell {
        fill: risk,
        ink: if risk == "#d5281b" { "#ffffff" } else { "#212b32" },
        text: match s.total {
            Some(t) if s.complete => t.to_string(),
            Some(t) => format!("≥{t}"),
            None => "n/a".into(),
        },
    });
    cells.push(Cell {
        fill: "#ffffff",
        ink: "#212b32",
        text: if s.total.is_none() || !s.complete {
            "1 h".into()
        } else {
            match s.monitoring {
                Monitoring::TwelveHourly => "12 h",
                Monitoring::FourToSixHourly => "4 h",
                Monitoring::Hourly => "1 h",
                Monitoring::Continuous => "constant",
            }
            .into()
        },
    });
    cells
}

fn plotted(s: &SetView) -> Plotted {
    let (date, time) = uk_short_text(&s.taken_at)
        .rsplit_once(' ')
        .map(|(d, t)| (d.to_owned(), t.to_owned()))
        .unwrap_or_default();
    Plotted {
        date,
        time,
        point: s.total.map(|t| Point {
            y: y_of(f32::from(t)),
            label_y: if y_of(f32::from(t)) < TOP + 16 {
                y_of(f32::from(t)) + 24
            } else {
                y_of(f32::from(t)) - 12
            },
            fill: if s.complete { risk_shade(s.risk) } else { "#ffffff" },
            label: if s.complete { t.to_string() } else { format!("≥{t}") },
        }),
        cells: cells(s),
    }
}

/// The chart of `sets` (newest first, as read; the newest [`SLOTS`] are drawn), oldest on the left.
pub fn chart_html(sets: &[SetView]) -> Result<String, askama::Error> {
    let shown: Vec<&SetView> = sets.iter().take(SLOTS).rev().collect();
    let columns: Vec<Column> = (0..SLOTS)
        .map(|i| Column {
            x: LEFT + COL_W * i,
            centre: LEFT + COL_W * i + COL_W / 2,
            set: shown.get(i).map(|s| plotted(s)),
        })
        .collect();
    let segments = columns
        .windows(2)
        .filter_map(|w| {
            let a = w[0].set.as_ref()?.point.as_ref()?;
            let b = w[1].set.as_ref()?.point.as_ref()?;
            Some((w[0].centre, a.y, w[1].centre, b.y))
        })
        .collect();
    let band = |from: f32, to: f32, fill, label| Band {
        y: y_of(to),
        height: y_of(from) - y_of(to),
        fill,
        label,
    };
    let grid_top = TOP + PLOT_H + GAP;
    Chart {
        width: LEFT + COL_W * SLOTS + 8,
        height: grid_top + ROW_H * ROWS.len() + 8,
        grid_top,
        bands: vec![
            band(6.5, TOP_SCORE as f32, "#f9d4d1", "7+ high"),
            band(4.5, 6.5, "#fbe0b8", "5–6 medium"),
            band(0.5, 4.5, "#fff9c4", "1–4 low"),
            band(0.0, 0.5, "#ffffff", "0"),
        ],
        ticks: [0u8, 1, 5, 7, 10, 20]
            .iter()
            .map(|&t| (t, y_of(f32::from(t))))
            .collect(),
        newest: shown.len().checked_sub(1).map(|i| LEFT + COL_W * i),
        shown: shown.len(),
        columns,
        segments,
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
