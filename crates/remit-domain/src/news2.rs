//! NEWS2 (Royal College of Physicians, 2017): Chart 1 parameter scores, Chart 3 risk, Chart 4 monitoring.
//!
//! Every value is parsed into a type that holds only accepted values; temperature is kept in tenths of a degree, so
//! 35.0 and 35.1 are 350 and 351 and no floating-point comparison is ever made.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::InvalidValue;

/// The level of consciousness on the ACVPU scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consciousness {
    Alert,
    NewConfusion,
    Voice,
    Pain,
    Unresponsive,
}

impl Consciousness {
    pub const ALL: [Consciousness; 5] = [
        Consciousness::Alert,
        Consciousness::NewConfusion,
        Consciousness::Voice,
        Consciousness::Pain,
        Consciousness::Unresponsive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Consciousness::Alert => "alert",
            Consciousness::NewConfusion => "new-confusion",
            Consciousness::Voice => "voice",
            Consciousness::Pain => "pain",
            Consciousness::Unresponsive => "unresponsive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Which SpO2 scale applies. Scale 2 is for patients with hypercapnic respiratory failure, by a recorded decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spo2Scale {
    One,
    Two,
}

impl Serialize for Spo2Scale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Spo2Scale::One => 1,
            Spo2Scale::Two => 2,
        })
    }
}

/// A complete set of the seven NEWS2 parameters, each within the accepted range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VitalSigns {
    /// Breaths a minute, 0–80.
    pub respiration_rate: u8,
    /// Percent, 0–100.
    pub spo2: u8,
    pub spo2_scale: Spo2Scale,
    pub on_oxygen: bool,
    /// mmHg, 0–300.
    pub systolic_bp: u16,
    /// Beats a minute, 0–300.
    pub pulse: u16,
    pub consciousness: Consciousness,
    /// Tenths of a degree Celsius, 250–450 (25.0–45.0 °C).
    pub temperature_tenths: u16,
}

/// Each parameter's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ParameterScores {
    pub respiration_rate: u8,
    pub spo2: u8,
    pub air_or_oxygen: u8,
    pub systolic_bp: u8,
    pub pulse: u8,
    pub consciousness: u8,
    pub temperature: u8,
}

impl ParameterScores {
    pub fn total(&self) -> u8 {
        self.respiration_rate
            + self.spo2
            + self.air_or_oxygen
            + self.systolic_bp
            + self.pulse
            + self.consciousness
            + self.temperature
    }

    pub fn any_three(&self) -> bool {
        [
            self.respiration_rate,
            self.spo2,
            self.air_or_oxygen,
            self.systolic_bp,
            self.pulse,
            self.consciousness,
            self.temperature,
        ]
        .contains(&3)
    }
}

/// Clinical risk (Chart 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    Low,
    LowMedium,
    Medium,
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::LowMedium => "low-medium",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Minimum frequency of monitoring (Chart 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Monitoring {
    #[serde(rename = "12-hourly")]
    TwelveHourly,
    #[serde(rename = "4-6-hourly")]
    FourToSixHourly,
    #[serde(rename = "hourly")]
    Hourly,
    #[serde(rename = "continuous")]
    Continuous,
}

impl Monitoring {
    pub fn as_str(self) -> &'static str {
        match self {
            Monitoring::TwelveHourly => "12-hourly",
            Monitoring::FourToSixHourly => "4-6-hourly",
            Monitoring::Hourly => "hourly",
            Monitoring::Continuous => "continuous",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Monitoring::TwelveHourly,
            Monitoring::FourToSixHourly,
            Monitoring::Hourly,
            Monitoring::Continuous,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

impl Risk {
    pub fn parse(s: &str) -> Option<Self> {
        [Risk::Low, Risk::LowMedium, Risk::Medium, Risk::High]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The score of a set: its parts, total, risk and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Score {
    pub score: u8,
    pub risk: Risk,
    pub monitoring: Monitoring,
    pub parameters: ParameterScores,
}

pub fn respiration_rate_score(rr: u8) -> u8 {
    match rr {
        0..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    }
}

pub fn spo2_score(spo2: u8, scale: Spo2Scale, on_oxygen: bool) -> u8 {
    match scale {
        Spo2Scale::One => match spo2 {
            0..=91 => 3,
            92..=93 => 2,
            94..=95 => 1,
            _ => 0,
        },
        Spo2Scale::Two => match (spo2, on_oxygen) {
            (0..=83, _) => 3,
            (84..=85, _) => 2,
            (86..=87, _) => 1,
            (88..=92, _) => 0,
            (_, false) => 0,
            (93..=94, true) => 1,
            (95..=96, true) => 2,
            (_, true) => 3,
        },
    }
}

pub fn air_or_oxygen_score(on_oxygen: bool) -> u8 {
    if on_oxygen { 2 } else { 0 }
}

pub fn systolic_bp_score(sbp: u16) -> u8 {
    match sbp {
        0..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    }
}

pub fn pulse_score(pulse: u16) -> u8 {
    match pulse {
        0..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    }
}

pub fn consciousness_score(c: Consciousness) -> u8 {
    if c == Consciousness::Alert { 0 } else { 3 }
}

/// Bands are to one decimal place, upper bounds inclusive: 35.0 scores 3, 35.1 scores 1, 36.0 scores 1, 36.1 scores 0.
pub fn temperature_score(tenths: u16) -> u8 {
    match tenths {
        0..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    }
}

/// Risk and monitoring from the scores: the first condition of Chart 3 that holds.
pub fn risk_of(p: &ParameterScores) -> (Risk, Monitoring) {
    match p.total() {
        t if t >= 7 => (Risk::High, Monitoring::Continuous),
        5..=6 => (Risk::Medium, Monitoring::Hourly),
        _ if p.any_three() => (Risk::LowMedium, Monitoring::Hourly),
        1..=4 => (Risk::Low, Monitoring::FourToSixHourly),
        _ => (Risk::Low, Monitoring::TwelveHourly),
    }
}

impl VitalSigns {
    pub fn parameter_scores(&self) -> ParameterScores {
        ParameterScores {
            respiration_rate: respiration_rate_score(self.respiration_rate),
            spo2: spo2_score(self.spo2, self.spo2_scale, self.on_oxygen),
            air_or_oxygen: air_or_oxygen_score(self.on_oxygen),
            systolic_bp: systolic_bp_score(self.systolic_bp),
            pulse: pulse_score(self.pulse),
            consciousness: consciousness_score(self.consciousness),
            temperature: temperature_score(self.temperature_tenths),
        }
    }

    pub fn score(&self) -> Score {
        let parameters = self.parameter_scores();
        let (risk, monitoring) = risk_of(&parameters);
        Score {
            score: parameters.total(),
            risk,
            monitoring,
            parameters,
        }
    }

    /// Parses one observation set as the batch scorer receives it: a JSON object with exactly the eight fields.
    /// The error names the field and the value.
    pub fn from_json(value: &Value) -> Result<Self, InvalidValue> {
        let Some(obj) = value.as_object() else {
            return Err(InvalidValue::new(
                "set",
                format!("`{}` is not a JSON object", show(value)),
            ));
        };
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(InvalidValue::new(
                "set",
                format!(
                    "`{}` is not a field of an observation set (fields: {})",
                    crate::error::echo(unknown),
                    FIELDS.join(", ")
                ),
            ));
        }
        let spo2_scale = match integer(obj, "spo2_scale", 1, 2)? {
            1 => Spo2Scale::One,
            _ => Spo2Scale::Two,
        };
        let on_oxygen = match field(obj, "on_oxygen")? {
            Value::Bool(b) => *b,
            other => {
                return Err(InvalidValue::new(
                    "on_oxygen",
                    format!("`{}` is not true or false", show(other)),
                ));
            }
        };
        let consciousness = match field(obj, "consciousness")? {
            Value::String(s) => Consciousness::parse(s).ok_or_else(|| {
                InvalidValue::new(
                    "consciousness",
                    format!(
                        "`{}` is not one of alert, new-confusion, voice, pain, unresponsive",
                        crate::error::echo(s)
                    ),
                )
            })?,
            other => {
                return Err(InvalidValue::new(
                    "consciousness",
                    format!(
                        "`{}` is not one of alert, new-confusion, voice, pain, unresponsive",
                        show(other)
                    ),
                ));
            }
        };
        Ok(Self {
            respiration_rate: integer(obj, "respiration_rate", 0, 80)? as u8,
            spo2: integer(obj, "spo2", 0, 100)? as u8,
            spo2_scale,
            on_oxygen,
            systolic_bp: integer(obj, "systolic_bp", 0, 300)? as u16,
            pulse: integer(obj, "pulse", 0, 300)? as u16,
            consciousness,
            temperature_tenths: temperature(field(obj, "temperature")?)?,
        })
    }
}

/// The SpO2 target range scale 2's bands are built for (RCP NEWS2: 88–92% for hypercapnic respiratory failure).
pub const SCALE2_TARGET: (u8, u8) = (88, 92);

/// Checks that a scale 2 prescription's target is the one scale 2 is built for: any other target is not scored by
/// scale 2's bands, so it is refused with that reason.
pub fn check_scale2_target(low: u8, high: u8) -> Result<(), InvalidValue> {
    let (l, h) = SCALE2_TARGET;
    if (low, high) == SCALE2_TARGET {
        return Ok(());
    }
    Err(InvalidValue::new(
        "target",
        format!(
            "`{low}-{high}` is not a scale 2 target: SpO2 scale 2's bands are built for a target of {l}–{h}%. A \
             patient with another target range is scored on scale 1, with the target recorded in their plan"
        ),
    ))
}

/// The fields of a set, in the reference's order.
pub const FIELDS: [&str; 8] = [
    "respiration_rate",
    "spo2",
    "spo2_scale",
    "on_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
];

/// A value as it was written, shortened.
fn show(v: &Value) -> String {
    crate::error::echo(&v.to_string())
}

fn field<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value, InvalidValue> {
    obj.get(name).ok_or_else(|| InvalidValue::new(name, "is missing"))
}

fn integer(obj: &Map<String, Value>, name: &'static str, min: i64, max: i64) -> Result<i64, InvalidValue> {
    let v = field(obj, name)?;
    let n = v
        .as_i64()
        .ok_or_else(|| InvalidValue::new(name, format!("`{}` is not a whole number", show(v))))?;
    if !(min..=max).contains(&n) {
        return Err(InvalidValue::new(
            name,
            format!("`{n}` is outside the accepted {min}–{max}"),
        ));
    }
    Ok(n)
}

/// A temperature in °C with at most one decimal place, 25.0–45.0, as tenths.
pub fn temperature(v: &Value) -> Result<u16, InvalidValue> {
    let bad = |why: &str| InvalidValue::new("temperature", format!("`{}` {why}", show(v)));
    let Some(x) = v.as_f64().filter(|_| v.is_number()) else {
        return Err(bad("is not a number of degrees Celsius"));
    };
    let tenths = (x * 10.0).round();
    if (x * 10.0 - tenths).abs() > 1e-6 {
        return Err(bad("has more than one decimal place"));
    }
    if !(250.0..=450.0).contains(&tenths) {
        return Err(bad("is outside the accepted 25.0–45.0"));
    }
    Ok(tenths as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn respiration_rate_boundaries() {
        for (rr, s) in [
            (0, 3),
            (8, 3),
            (9, 1),
            (11, 1),
            (12, 0),
            (20, 0),
            (21, 2),
            (24, 2),
            (25, 3),
            (80, 3),
        ] {
            assert_eq!(respiration_rate_score(rr), s, "{rr}");
        }
    }

    #[test]
    fn spo2_scale_1_boundaries() {
        for (v, s) in [(0, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)] {
            assert_eq!(spo2_score(v, Spo2Scale::One, false), s, "{v}");
            assert_eq!(
                spo2_score(v, Spo2Scale::One, true),
                s,
                "{v} on oxygen scores the same on scale 1"
            );
        }
    }

    #[test]
    fn spo2_scale_2_boundaries() {
        for (v, air, oxygen) in [
            (0, 3, 3),
            (83, 3, 3),
            (84, 2, 2),
            (85, 2, 2),
            (86, 1, 1),
            (87, 1, 1),
            (88, 0, 0),
            (92, 0, 0),
            (93, 0, 1),
            (94, 0, 1),
            (95, 0, 2),
            (96, 0, 2),
            (97, 0, 3),
            (100, 0, 3),
        ] {
            assert_eq!(spo2_score(v, Spo2Scale::Two, false), air, "{v} on air");
            assert_eq!(spo2_score(v, Spo2Scale::Two, true), oxygen, "{v} on oxygen");
        }
    }

    #[test]
    fn other_boundaries() {
        for (v, s) in [
            (0, 3),
            (90, 3),
            (91, 2),
            (100, 2),
            (101, 1),
            (110, 1),
            (111, 0),
            (219, 0),
            (220, 3),
            (300, 3),
        ] {
            assert_eq!(systolic_bp_score(v), s, "sbp {v}");
        }
        for (v, s) in [
            (0, 3),
            (40, 3),
            (41, 1),
            (50, 1),
            (51, 0),
            (90, 0),
            (91, 1),
            (110, 1),
            (111, 2),
            (130, 2),
            (131, 3),
            (300, 3),
        ] {
            assert_eq!(pulse_score(v), s, "pulse {v}");
        }
        for (v, s) in [
            (250, 3),
            (350, 3),
            (351, 1),
            (360, 1),
            (361, 0),
            (380, 0),
            (381, 1),
            (390, 1),
            (391, 2),
            (450, 2),
        ] {
            assert_eq!(temperature_score(v), s, "temperature {v}");
        }
        assert_eq!(air_or_oxygen_score(true), 2);
        assert_eq!(air_or_oxygen_score(false), 0);
        assert_eq!(consciousness_score(Consciousness::Alert), 0);
        for c in [
            Consciousness::NewConfusion,
            Consciousness::Voice,
            Consciousness::Pain,
            Consciousness::Unresponsive,
        ] {
            assert_eq!(consciousness_score(c), 3, "{c:?}");
        }
    }

    #[test]
    fn temperatures_parse_exactly_at_one_decimal() {
        assert_eq!(temperature(&json!(35.0)).unwrap(), 350);
        assert_eq!(temperature(&json!(35.1)).unwrap(), 351);
        assert_eq!(temperature(&json!(36)).unwrap(), 360);
        assert_eq!(temperature_score(temperature(&json!(35.0)).unwrap()), 3);
        assert_eq!(temperature_score(temperature(&json!(35.1)).unwrap()), 1);
        assert_eq!(temperature_score(temperature(&json!(36.0)).unwrap()), 1);
        assert_eq!(temperature_score(temperature(&json!(36.1)).unwrap()), 0);
        assert_eq!(temperature_score(temperature(&json!(38.1)).unwrap()), 1);
        assert_eq!(temperature_score(temperature(&json!(39.1)).unwrap()), 2);
        assert!(
            temperature(&json!(35.05))
                .unwrap_err()
                .to_string()
                .contains("more than one decimal place")
        );
        assert!(temperature(&json!(24.9)).is_err());
        assert!(temperature(&json!(45.1)).is_err());
        assert!(temperature(&json!("37")).is_err());
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per NEWS2 parameter reads like the chart"
    )]
    fn set(rr: u8, spo2: u8, scale: Spo2Scale, o2: bool, sbp: u16, pulse: u16, c: Consciousness, t: u16) -> VitalSigns {
        VitalSigns {
            respiration_rate: rr,
            spo2,
            spo2_scale: scale,
            on_oxygen: o2,
            systolic_bp: sbp,
            pulse,
            consciousness: c,
            temperature_tenths: t,
        }
    }

    #[test]
    fn the_reference_line() {
        // {"score":10,"risk":"high","monitoring":"continuous","parameters":{"respiration_rate":2,"spo2":2,
        //  "air_or_oxygen":2,"systolic_bp":1,"pulse":2,"consciousness":0,"temperature":1}}
        let s = set(22, 93, Spo2Scale::One, true, 105, 115, Consciousness::Alert, 382).score();
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"score":10,"risk":"high","monitoring":"continuous","parameters":{"respiration_rate":2,"spo2":2,"air_or_oxygen":2,"systolic_bp":1,"pulse":2,"consciousness":0,"temperature":1}}"#
        );
    }

    #[test]
    fn risk_follows_chart_3_in_order() {
        let normal = set(16, 97, Spo2Scale::One, false, 120, 70, Consciousness::Alert, 370);
        assert_eq!(normal.score().score, 0);
        assert_eq!(
            (normal.score().risk, normal.score().monitoring),
            (Risk::Low, Monitoring::TwelveHourly)
        );
        let one = VitalSigns { pulse: 95, ..normal }.score();
        assert_eq!(
            (one.score, one.risk, one.monitoring),
            (1, Risk::Low, Monitoring::FourToSixHourly)
        );
        let four = VitalSigns {
            pulse: 115,
            respiration_rate: 22,
            ..normal
        }
        .score();
        assert_eq!(
            (four.score, four.risk, four.monitoring),
            (4, Risk::Low, Monitoring::FourToSixHourly)
        );
        // A single 3 with a total of 3: low-medium, hourly.
        let red = VitalSigns {
            consciousness: Consciousness::NewConfusion,
            ..normal
        }
        .score();
        assert_eq!(
            (red.score, red.risk, red.monitoring),
            (3, Risk::LowMedium, Monitoring::Hourly)
        );
        let five = VitalSigns {
            consciousness: Consciousness::Voice,
            pulse: 100,
            respiration_rate: 10,
            ..normal
        }
        .score();
        assert_eq!(
            (five.score, five.risk, five.monitoring),
            (5, Risk::Medium, Monitoring::Hourly)
        );
        let six = VitalSigns {
            on_oxygen: true,
            pulse: 115,
            respiration_rate: 22,
            ..normal
        }
        .score();
        assert_eq!((six.score, six.risk), (6, Risk::Medium));
        let seven = VitalSigns {
            on_oxygen: true,
            pulse: 115,
            respiration_rate: 22,
            temperature_tenths: 385,
            ..normal
        }
        .score();
        assert_eq!(
            (seven.score, seven.risk, seven.monitoring),
            (7, Risk::High, Monitoring::Continuous)
        );
        let worst = set(0, 0, Spo2Scale::One, true, 0, 0, Consciousness::Unresponsive, 250).score();
        assert_eq!(worst.score, 20, "the most a set can score");
    }

    #[test]
    fn json_sets_parse_and_bad_ones_name_field_and_value() {
        let ok = json!({"respiration_rate": 22, "spo2": 93, "spo2_scale": 1, "on_oxygen": true, "systolic_bp": 105, "pulse": 115, "consciousness": "alert", "temperature": 38.2});
        assert_eq!(VitalSigns::from_json(&ok).unwrap().score().score, 10);
        let err = |patch: Value| {
            let mut v = ok.clone();
            for (k, x) in patch.as_object().unwrap() {
                if x.is_null() {
                    v.as_object_mut().unwrap().remove(k);
                } else {
                    v[k] = x.clone();
                }
            }
            VitalSigns::from_json(&v).unwrap_err().to_string()
        };
        assert_eq!(
            err(json!({"respiration_rate": 81})),
            "respiration_rate: `81` is outside the accepted 0–80"
        );
        assert_eq!(
            err(json!({"respiration_rate": 12.5})),
            "respiration_rate: `12.5` is not a whole number"
        );
        assert_eq!(
            err(json!({"respiration_rate": "12"})),
            "respiration_rate: `\"12\"` is not a whole number"
        );
        assert_eq!(
            err(json!({"respiration_rate": -1})),
            "respiration_rate: `-1` is outside the accepted 0–80"
        );
        assert_eq!(err(json!({"spo2": 101})), "spo2: `101` is outside the accepted 0–100");
        assert_eq!(
            err(json!({"spo2_scale": 3})),
            "spo2_scale: `3` is outside the accepted 1–2"
        );
        assert_eq!(
            err(json!({"on_oxygen": "yes"})),
            "on_oxygen: `\"yes\"` is not true or false"
        );
        assert_eq!(
            err(json!({"systolic_bp": 301})),
            "systolic_bp: `301` is outside the accepted 0–300"
        );
        assert_eq!(err(json!({"pulse": 301})), "pulse: `301` is outside the accepted 0–300");
        assert!(err(json!({"consciousness": "confused"})).starts_with("consciousness: `confused` is not one of"));
        assert_eq!(
            err(json!({"temperature": 45.5})),
            "temperature: `45.5` is outside the accepted 25.0–45.0"
        );
        assert_eq!(err(json!({"pulse": null})), "pulse: is missing");
        assert!(err(json!({"heart_rate": 80})).starts_with("set: `heart_rate` is not a field"));
        assert!(VitalSigns::from_json(&json!([1, 2])).is_err());
    }

    fn any_set() -> impl Strategy<Value = VitalSigns> {
        (
            0u8..=80,
            0u8..=100,
            prop::bool::ANY,
            prop::bool::ANY,
            0u16..=300,
            0u16..=300,
            0usize..5,
            250u16..=450,
        )
            .prop_map(|(rr, spo2, two, o2, sbp, pulse, c, t)| VitalSigns {
                respiration_rate: rr,
                spo2,
                spo2_scale: if two { Spo2Scale::Two } else { Spo2Scale::One },
                on_oxygen: o2,
                systolic_bp: sbp,
                pulse,
                consciousness: Consciousness::ALL[c],
                temperature_tenths: t,
            })
    }

    proptest! {
        #[test]
        fn the_total_is_the_sum_of_its_parts(s in any_set()) {
            let score = s.score();
            let p = score.parameters;
            prop_assert_eq!(u32::from(score.score), [p.respiration_rate, p.spo2, p.air_or_oxygen, p.systolic_bp, p.pulse, p.consciousness, p.temperature].iter().map(|x| u32::from(*x)).sum::<u32>());
            prop_assert!(score.score <= 20);
            for part in [p.respiration_rate, p.spo2, p.air_or_oxygen, p.systolic_bp, p.pulse, p.consciousness, p.temperature] {
                prop_assert!(part <= 3);
            }
        }

        #[test]
        fn risk_and_monitoring_follow_the_table(s in any_set()) {
            let score = s.score();
            let expected = if score.score >= 7 {
                (Risk::High, Monitoring::Continuous)
            } else if score.score >= 5 {
                (Risk::Medium, Monitoring::Hourly)
            } else if score.parameters.any_three() {
                (Risk::LowMedium, Monitoring::Hourly)
            } else if score.score >= 1 {
                (Risk::Low, Monitoring::FourToSixHourly)
            } else {
                (Risk::Low, Monitoring::TwelveHourly)
            };
            prop_assert_eq!((score.risk, score.monitoring), expected);
        }

        #[test]
        fn scale_2_differs_from_scale_1_only_in_spo2(s in any_set()) {
            let one = VitalSigns { spo2_scale: Spo2Scale::One, ..s }.parameter_scores();
            let two = VitalSigns { spo2_scale: Spo2Scale::Two, ..s }.parameter_scores();
            prop_assert_eq!(ParameterScores { spo2: 0, ..one }, ParameterScores { spo2: 0, ..two });
        }

        #[test]
        fn json_round_trip(s in any_set()) {
            let v = json!({
                "respiration_rate": s.respiration_rate, "spo2": s.spo2,
                "spo2_scale": if s.spo2_scale == Spo2Scale::One { 1 } else { 2 }, "on_oxygen": s.on_oxygen,
                "systolic_bp": s.systolic_bp, "pulse": s.pulse, "consciousness": s.consciousness.as_str(),
                "temperature": f64::from(s.temperature_tenths) / 10.0,
            });
            prop_assert_eq!(VitalSigns::from_json(&v).unwrap(), s);
        }
    }
}
