//! Is this job offer fair? The Agenda for Change pay check: pay points by years in band, High Cost Area Supplements
//! with their bounds, pro rata for part-time hours. Money is kept in whole pence, so the arithmetic is exact.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{InvalidValue, echo};

/// The table shipped with remit.
const SHIPPED: &str = include_str!("../../../data/pay/afc-england-2025-26.toml");

pub use crate::error::FileError as PayTableError;

/// High Cost Area Supplement areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    None,
    Fringe,
    OuterLondon,
    InnerLondon,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::None, Area::Fringe, Area::OuterLondon, Area::InnerLondon];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::None => "none",
            Area::Fringe => "fringe",
            Area::OuterLondon => "outer-london",
            Area::InnerLondon => "inner-london",
        }
    }

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == input.trim())
            .ok_or_else(|| {
                InvalidValue::new(
                    "area",
                    format!(
                        "`{}` is not one of none, fringe, outer-london, inner-london",
                        echo(input)
                    ),
                )
            })
    }

    /// How the area reads in a sentence: "in outer London".
    fn phrase(self) -> &'static str {
        match self {
            Area::None => "",
            Area::Fringe => " in the London fringe",
            Area::OuterLondon => " in outer London",
            Area::InnerLondon => " in inner London",
        }
    }
}

impl Serialize for Area {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An amount of money in whole pence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pence(pub i64);

impl Pence {
    /// `self × numerator ÷ denominator`, rounded half up.
    fn scaled(self, numerator: i64, denominator: i64) -> Self {
        Pence((self.0 * numerator * 2 + denominator) / (denominator * 2))
    }

    /// Pounds, for JSON.
    pub fn pounds(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Pence {
    /// `£27,485`, or `£13,742.50` when there are pence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sign, p) = if self.0 < 0 { ("-", -self.0) } else { ("", self.0) };
        let pounds = (p / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in pounds.chars().enumerate() {
            if i > 0 && (pounds.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if p % 100 == 0 {
            write!(f, "{sign}£{grouped}")
        } else {
            write!(f, "{sign}£{grouped}.{:02}", p % 100)
        }
    }
}

impl Serialize for Pence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.pounds())
    }
}

/// Parses an amount such as `27000`, `27,000`, `£27,000.50`.
fn parse_money(field: &'static str, input: &str) -> Result<Pence, InvalidValue> {
    let bad = || {
        InvalidValue::new(
            field,
            format!(
                "`{}` is not an amount of money such as 27000 or £27,000.50",
                echo(input)
            ),
        )
    };
    let s: String = input
        .trim()
        .trim_start_matches('£')
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(100)
        .and_then(|p| p.checked_add(frac))
        .map(Pence)
        .ok_or_else(bad)
}

/// Hours a week in hundredths (37.5 hours = 3750).
fn parse_hours(input: &str) -> Result<i64, InvalidValue> {
    let bad = || {
        InvalidValue::new(
            "hours",
            format!("`{}` is not a number of hours a week such as 37.5", echo(input)),
        )
    };
    let s = input.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 4
    {
        return Err(bad());
    }
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    Ok(whole.parse::<i64>().map_err(|_| bad())? * 100 + frac)
}

fn format_hours(h: i64) -> String {
    if h % 100 == 0 {
        (h / 100).to_string()
    } else {
        format!("{}", h as f64 / 100.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayPoint {
    pub years: u32,
    pub salary: Pence,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    pub name: String,
    /// In order of years, the first at 0.
    pub points: Vec<PayPoint>,
}

impl Band {
    /// The point for this many years in band: the highest whose years have been served.
    fn point_for(&self, years: u32) -> &PayPoint {
        self.points
            .iter()
            .rev()
            .find(|p| p.years <= years)
            .unwrap_or(&self.points[0])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hcas {
    pub area: Area,
    /// Hundredths of a percent (20% = 2000).
    pub rate: i64,
    pub minimum: Pence,
    pub maximum: Pence,
}

impl Hcas {
    /// The full-time supplement on a full-time basic salary.
    fn on(&self, basic: Pence) -> Pence {
        basic.scaled(self.rate, 10_000).clamp(self.minimum, self.maximum)
    }
}

/// A validated pay table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayTable {
    pub title: String,
    pub source: String,
    pub effective_from: NaiveDate,
    /// Full-time hours a week, in hundredths.
    pub full_time_hours: i64,
    pub bands: Vec<Band>,
    pub hcas: Vec<Hcas>,
    /// Career Framework level → the usual bands.
    pub levels: BTreeMap<u8, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    title: String,
    source: String,
    effective_from: String,
    full_time_hours: f64,
    band: Vec<RawBand>,
    hcas: Vec<RawHcas>,
    levels: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    band: String,
    points: Vec<RawPoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoint {
    years: u32,
    salary: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHcas {
    area: String,
    rate_percent: f64,
    minimum: f64,
    maximum: f64,
}

fn money(field: &'static str, value: f64, line: Option<usize>) -> Result<Pence, PayTableError> {
    let pence = (value * 100.0).round();
    if !value.is_finite() || value < 0.0 || pence > 1e11 || (value * 100.0 - pence).abs() > 1e-6 {
        return Err(PayTableError {
            line,
            message: format!("{field}: `{value}` is not an amount in pounds and pence"),
        });
    }
    Ok(Pence(pence as i64))
}

impl PayTable {
    /// The Agenda for Change table for England, 2025/26, shipped with remit.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED).expect("the shipped pay table is valid (a test holds this)")
    }

    /// Parses and checks a table; an error names the line.
    pub fn parse(text: &str) -> Result<Self, PayTableError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1;
        // The line of the first occurrence of `needle`, to place errors found after parsing.
        let find = |needle: &str| text.find(needle).map(line_of);
        let raw: RawTable = toml::from_str(text).map_err(|e: toml::de::Error| PayTableError {
            line: e.span().map(|s| line_of(s.start)),
            message: e.message().to_owned(),
        })?;
        let fail = |needle: &str, message: String| PayTableError {
            line: find(needle),
            message,
        };
        let effective_from = NaiveDate::parse_from_str(raw.effective_from.trim(), "%Y-%m-%d").map_err(|_| {
            fail(
                "effective_from",
                format!(
                    "effective_from: `{}` is not a date such as 2025-04-01",
                    raw.effective_from
                ),
            )
        })?;
        let full_time_hours = (raw.full_time_hours * 100.0).round() as i64;
        if !(100..=6000).contains(&full_time_hours) {
            return Err(fail(
                "full_time_hours",
                "full_time_hours: must be between 1 and 60".into(),
            ));
        }
        let mut bands: Vec<Band> = Vec::new();
        for b in raw.band {
            let name = b.band.trim().to_ascii_lowercase();
            let at = find(&format!("band = \"{}\"", b.band));
            if name.is_empty() || bands.iter().any(|x| x.name == name) {
                return Err(PayTableError {
                    line: at,
                    message: format!("band `{}` is empty or listed twice", b.band),
                });
            }
            let mut points = Vec::new();
            for p in &b.points {
                points.push(PayPoint {
                    years: p.years,
                    salary: money("salary", p.salary, at)?,
                });
            }
            if points.first().is_none_or(|p| p.years != 0) {
                return Err(PayTableError {
                    line: at,
                    message: format!("band {name}: the first pay point must be at 0 years"),
                });
            }
            if points
                .windows(2)
                .any(|w| w[1].years <= w[0].years || w[1].salary < w[0].salary)
            {
                return Err(PayTableError {
                    line: at,
                    message: format!("band {name}: pay points must rise in years and not fall in salary"),
                });
            }
            bands.push(Band { name, points });
        }
        if bands.is_empty() {
            return Err(PayTableError {
                line: None,
                message: "the table has no bands".into(),
            });
        }
        let mut hcas: Vec<Hcas> = Vec::new();
        for h in raw.hcas {
            let at = find(&format!("area = \"{}\"", h.area));
            let area = Area::parse(&h.area).map_err(|e| PayTableError {
                line: at,
                message: e.to_string(),
            })?;
            if area == Area::None || hcas.iter().any(|x| x.area == area) {
                return Err(PayTableError {
                    line: at,
                    message: format!("area `{}` is `none` or listed twice", h.area),
                });
            }
            if !(0.0..=100.0).contains(&h.rate_percent) {
                return Err(PayTableError {
                    line: at,
                    message: "rate_percent: must be between 0 and 100".into(),
                });
            }
            let minimum = money("minimum", h.minimum, at)?;
            let maximum = money("maximum", h.maximum, at)?;
            if minimum > maximum {
                return Err(PayTableError {
                    line: at,
                    message: format!("area {}: the minimum is above the maximum", h.area),
                });
            }
            hcas.push(Hcas {
                area,
                rate: (h.rate_percent * 100.0).round() as i64,
                minimum,
                maximum,
            });
        }
        let mut levels = BTreeMap::new();
        for (level, names) in raw.levels {
            let at = find("[levels]");
            let l: u8 = level
                .parse()
                .ok()
                .filter(|l| (1..=9).contains(l))
                .ok_or_else(|| PayTableError {
                    line: at,
                    message: format!("levels: `{level}` is not a Career Framework level 1 to 9"),
                })?;
            let names: Vec<String> = names.iter().map(|n| n.trim().to_ascii_lowercase()).collect();
            if let Some(unknown) = names.iter().find(|n| !bands.iter().any(|b| &b.name == *n)) {
                return Err(PayTableError {
                    line: at,
                    message: format!("levels: level {l} names band `{unknown}`, which the table does not have"),
                });
            }
            levels.insert(l, names);
        }
        Ok(Self {
            title: raw.title,
            source: raw.source,
            effective_from,
            full_time_hours,
            bands,
            hcas,
            levels,
        })
    }

    pub fn band(&self, name: &str) -> Result<&Band, InvalidValue> {
        let lower = name.trim().to_ascii_lowercase();
        let wanted = lower.trim_start_matches("band").trim();
        self.bands.iter().find(|b| b.name == wanted).ok_or_else(|| {
            let known: Vec<&str> = self.bands.iter().map(|b| b.name.as_str()).collect();
            InvalidValue::new(
                "band",
                format!(
                    "`{}` is not an Agenda for Change band: use one of {}",
                    echo(name),
                    known.join(", ")
                ),
            )
        })
    }

    /// The usual bands for a Career Framework level.
    pub fn bands_for_level(&self, level: crate::staff::CareerLevel) -> &[String] {
        self.levels.get(&level.get()).map_or(&[], Vec::as_slice)
    }

    fn hcas_for(&self, area: Area) -> Option<&Hcas> {
        self.hcas.iter().find(|h| h.area == area)
    }
}

/// An offer to check, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub band: String,
    pub salary: Pence,
    pub area: Area,
    /// Hours a week, in hundredths.
    pub hours: i64,
    pub years_in_band: u32,
}

impl Offer {
    /// Parses the parts of an offer as a person types them; `hours` and `years` default to full time and a new
    /// starter.
    pub fn parse(
        table: &PayTable,
        band: &str,
        salary: &str,
        area: Option<&str>,
        hours: Option<&str>,
        years_in_band: Option<&str>,
    ) -> Result<Self, InvalidValue> {
        let band = table.band(band)?.name.clone();
        let salary = parse_money("salary", salary)?;
        if salary.0 <= 0 || salary.0 > 100_000_000 {
            return Err(InvalidValue::new(
                "salary",
                format!("{salary} is not a plausible annual salary: give £1 to £1,000,000"),
            ));
        }
        let area = area.map(Area::parse).transpose()?.unwrap_or(Area::None);
        let hours = match hours {
            Some(h) => parse_hours(h)?,
            None => table.full_time_hours,
        };
        if hours < 100 || hours > table.full_time_hours {
            return Err(InvalidValue::new(
                "hours",
                format!(
                    "`{}` must be from 1 to {} hours a week",
                    format_hours(hours),
                    format_hours(table.full_time_hours)
                ),
            ));
        }
        let years_in_band = match years_in_band {
            Some(y) => y.trim().parse::<u32>().ok().filter(|y| *y <= 50).ok_or_else(|| {
                InvalidValue::new(
                    "years_in_band",
                    format!("`{}` is not a whole number of years from 0 to 50", echo(y)),
                )
            })?,
            None => 0,
        };
        Ok(Self {
            band,
            salary,
            area,
            hours,
            years_in_band,
        })
    }
}

/// Whether an offer is below what the post is due, within the band, or above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Below,
    Within,
    Above,
}

/// The answer, in the shape `remit pay check --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayCheck {
    pub band: String,
    pub hours: f64,
    pub area: Area,
    pub years_in_band: u32,
    /// The band's lowest and highest basic pay, pro rata.
    pub basic_min: Pence,
    pub basic_max: Pence,
    /// The basic pay due for the years in band, pro rata.
    pub expected_basic: Pence,
    /// The supplement on the expected basic pay, pro rata (0 outside the HCAS areas).
    pub hcas: Pence,
    /// The least the post is due (expected basic + HCAS) and the most the band pays (top point + HCAS).
    pub expected_total_min: Pence,
    pub expected_total_max: Pence,
    pub offer: Pence,
    pub verdict: Verdict,
    pub explanation: String,
}

impl PayTable {
    /// Checks an offer against the table.
    pub fn check(&self, offer: &Offer) -> PayCheck {
        let band = self
            .band(&offer.band)
            .expect("an offer's band was parsed against this table");
        let ft = self.full_time_hours;
        let pro = |p: Pence| p.scaled(offer.hours, ft);
        let hcas_ft = |basic: Pence| self.hcas_for(offer.area).map_or(Pence(0), |h| h.on(basic));
        let bottom = band.points[0].salary;
        let top = band.points[band.points.len() - 1].salary;
        let due = band.point_for(offer.years_in_band).salary;
        let expected_basic = pro(due);
        let hcas = pro(hcas_ft(due));
        let expected_total_min = Pence(expected_basic.0 + hcas.0);
        let max_basic = pro(top);
        let max_hcas = pro(hcas_ft(top));
        let expected_total_max = Pence(max_basic.0 + max_hcas.0);
        let verdict = if offer.salary < expected_total_min {
            Verdict::Below
        } else if offer.salary > expected_total_max {
            Verdict::Above
        } else {
            Verdict::Within
        };
        let post = if offer.hours == ft {
            format!("a full-time band {} post", band.name)
        } else {
            format!(
                "a band {} post of {} hours a week",
                band.name,
                format_hours(offer.hours)
            )
        };
        let years = if offer.years_in_band > 0 {
            format!(
                " after {} year{} in the band",
                offer.years_in_band,
                if offer.years_in_band == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        let with_hcas = |basic: Pence, h: Pence| {
            if offer.area == Area::None {
                format!("{basic} basic")
            } else {
                format!("{basic} basic + {h} HCAS")
            }
        };
        let explanation = match verdict {
            Verdict::Below => format!(
                "{} is {} below the least {post}{}{years} pays: {}.",
                offer.salary,
                Pence(expected_total_min.0 - offer.salary.0),
                offer.area.phrase(),
                with_hcas(expected_basic, hcas)
            ),
            Verdict::Above => format!(
                "{} is {} above the most {post}{} pays: {} at the top of the band. Check that the band is right.",
                offer.salary,
                Pence(offer.salary.0 - expected_total_max.0),
                offer.area.phrase(),
                with_hcas(max_basic, max_hcas)
            ),
            Verdict::Within => format!(
                "{} is within what {post}{}{years} pays: from {} ({}) to {} at the top of the band.",
                offer.salary,
                offer.area.phrase(),
                expected_total_min,
                with_hcas(expected_basic, hcas),
                expected_total_max
            ),
        };
        PayCheck {
            band: band.name.clone(),
            hours: offer.hours as f64 / 100.0,
            area: offer.area,
            years_in_band: offer.years_in_band,
            basic_min: pro(bottom),
            basic_max: max_basic,
            expected_basic,
            hcas,
            expected_total_min,
            expected_total_max,
            offer: offer.salary,
            verdict,
            explanation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(band: &str, salary: &str, area: Option<&str>, hours: Option<&str>, years: Option<&str>) -> PayCheck {
        let t = PayTable::shipped();
        t.check(&Offer::parse(&t, band, salary, area, hours, years).unwrap())
    }

    fn bad(band: &str, salary: &str, area: Option<&str>, hours: Option<&str>, years: Option<&str>) -> String {
        let t = PayTable::shipped();
        Offer::parse(&t, band, salary, area, hours, years)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_reference_example() {
        let c = check("4", "27000", Some("outer-london"), None, None);
        assert_eq!(c.verdict, Verdict::Below);
        assert_eq!(
            (c.basic_min, c.basic_max, c.expected_basic),
            (Pence(2_748_500), Pence(3_016_200), Pence(2_748_500))
        );
        assert_eq!(
            c.hcas,
            Pence(455_200),
            "15% of £27,485 is £4,122.75, below the £4,552 minimum"
        );
        assert_eq!(c.expected_total_min, Pence(3_203_700));
        assert_eq!(c.expected_total_max, Pence(3_016_200 + 455_200));
        assert_eq!(
            c.explanation,
            "£27,000 is £5,037 below the least a full-time band 4 post in outer London pays: £27,485 basic + £4,552 HCAS."
        );
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["band"], "4");
        assert_eq!(json["hcas"], 4552.0);
        assert_eq!(json["verdict"], "below");
        assert_eq!(json["offer"], 27000.0);
    }

    #[test]
    fn hcas_is_a_percentage_within_its_bounds() {
        // Above the maximum: 20% of £125,637 is £25,127.40; inner London pays at most £8,465.
        assert_eq!(
            check("9", "1", Some("inner-london"), None, Some("5")).hcas,
            Pence(846_500)
        );
        // Between the bounds: 20% of £38,682 is £7,736.40.
        assert_eq!(check("6", "1", Some("inner-london"), None, None).hcas, Pence(773_640));
        // 5% of £31,049 is £1,552.45, inside the fringe's £1,258 to £2,197.
        assert_eq!(check("5", "1", Some("fringe"), None, None).hcas, Pence(155_245));
        // Below the minimum: 5% of £24,465 is £1,223.25; the fringe pays at least £1,258.
        assert_eq!(check("2", "1", Some("fringe"), None, None).hcas, Pence(125_800));
        assert_eq!(check("2", "1", None, None, None).hcas, Pence(0));
    }

    /// Every pay point of every band of the shipped 2025/26 table, at the first year it applies and the year before
    /// the next (`../shared/reference/pay-afc-2025-26.md`, from the NHS Employers table).
    #[test]
    fn every_point_of_every_band_is_the_published_one() {
        let table: [(&str, &[(u32, i64)]); 11] = [
            ("2", &[(0, 24_465)]),
            ("3", &[(0, 24_937), (2, 26_598)]),
            ("4", &[(0, 27_485), (3, 30_162)]),
            ("5", &[(0, 31_049), (2, 33_487), (4, 37_796)]),
            ("6", &[(0, 38_682), (2, 40_823), (5, 46_580)]),
            ("7", &[(0, 47_810), (2, 50_273), (5, 54_710)]),
            ("8a", &[(0, 55_690), (2, 58_487), (5, 62_682)]),
            ("8b", &[(0, 64_455), (2, 68_631), (5, 74_896)]),
            ("8c", &[(0, 76_965), (2, 81_652), (5, 88_682)]),
            ("8d", &[(0, 91_342), (2, 96_941), (5, 105_337)]),
            ("9", &[(0, 109_179), (2, 115_763), (5, 125_637)]),
        ];
        let t = PayTable::shipped();
        for (band, points) in table {
            let b = t.band(band).unwrap();
            assert_eq!(b.points.len(), points.len(), "band {band} has {} points", points.len());
            for (i, &(years, pounds)) in points.iter().enumerate() {
                let until = points.get(i + 1).map_or(years + 10, |(next, _)| next - 1);
                for y in [years, until] {
                    let c = check(band, "1", None, None, Some(&y.to_string()));
                    assert_eq!(c.expected_basic, Pence(pounds * 100), "band {band} after {y} years");
                }
            }
            assert_eq!(
                check(band, "1", None, None, None).basic_max,
                Pence(points[points.len() - 1].1 * 100)
            );
        }
        // The example people ask about: £121,000 after five years in band 9 is below the £125,637 due.
        let c = check("9", "121000", None, None, Some("5"));
        assert_eq!(c.verdict, Verdict::Below);
        assert_eq!(c.expected_basic, Pence(12_563_700));
    }

    #[test]
    fn years_in_band_choose_the_pay_point() {
        for (years, salary) in [
            (0, 3_104_900),
            (1, 3_104_900),
            (2, 3_348_700),
            (3, 3_348_700),
            (4, 3_779_600),
            (50, 3_779_600),
        ] {
            assert_eq!(
                check("5", "1", None, None, Some(&years.to_string())).expected_basic,
                Pence(salary),
                "{years}"
            );
        }
        let c = check("4", "29000", None, None, Some("3"));
        assert_eq!(c.verdict, Verdict::Below);
        assert_eq!(
            c.explanation,
            "£29,000 is £1,162 below the least a full-time band 4 post after 3 years in the band pays: £30,162 basic."
        );
    }

    #[test]
    fn part_time_is_pro_rata_bounds_included() {
        let c = check("4", "16000", Some("outer-london"), Some("18.75"), None);
        assert_eq!(c.expected_basic, Pence(1_374_250));
        assert_eq!(c.hcas, Pence(227_600), "half the £4,552 minimum");
        assert_eq!(c.expected_total_min, Pence(1_601_850));
        assert_eq!(c.verdict, Verdict::Below);
        assert!(c.explanation.starts_with("£16,000 is £18.50 below the least a band 4 post of 18.75 hours a week in outer London pays: £13,742.50 basic + £2,276 HCAS"), "{}", c.explanation);
        assert_eq!(
            check("4", "1", None, Some("37.5"), None).expected_basic,
            Pence(2_748_500)
        );
        assert_eq!(
            check("4", "1", None, Some("1"), None).expected_basic,
            Pence(73_293),
            "£27,485 / 37.5, to the penny"
        );
    }

    #[test]
    fn the_verdict_changes_exactly_at_the_bounds() {
        let t = PayTable::shipped();
        let at = |s: &str| {
            t.check(&Offer::parse(&t, "4", s, Some("outer-london"), None, None).unwrap())
                .verdict
        };
        assert_eq!(at("32036.99"), Verdict::Below);
        assert_eq!(at("32037"), Verdict::Within);
        assert_eq!(at("34714"), Verdict::Within);
        assert_eq!(at("34714.01"), Verdict::Above);
        let c = check("4", "40000", Some("outer-london"), None, None);
        assert_eq!(
            c.explanation,
            "£40,000 is £5,286 above the most a full-time band 4 post in outer London pays: £30,162 basic + £4,552 HCAS at the top of the band. Check that the band is right."
        );
        let c = check("4", "£33,000", Some("outer-london"), None, None);
        assert_eq!(
            c.explanation,
            "£33,000 is within what a full-time band 4 post in outer London pays: from £32,037 (£27,485 basic + £4,552 HCAS) to £34,714 at the top of the band."
        );
    }

    #[test]
    fn bad_input_is_named() {
        assert!(
            bad("10", "27000", None, None, None)
                .starts_with("band: `10` is not an Agenda for Change band: use one of 2, 3, 4")
        );
        assert!(bad("4b", "27000", None, None, None).contains("band"));
        assert_eq!(check("Band 8A", "60000", None, None, None).band, "8a");
        assert!(bad("4", "27000", Some("london"), None, None).starts_with("area: `london`"));
        for h in ["0.5", "0", "37.51", "40", "abc", "-5", "10.123"] {
            assert!(bad("4", "27000", None, Some(h), None).starts_with("hours:"), "{h}");
        }
        for s in ["-1", "0", "1000000.01", "abc", "27,000.123", "", "£"] {
            assert!(bad("4", s, None, None, None).starts_with("salary:"), "{s}");
        }
        for y in ["-1", "51", "2.5", "three"] {
            assert!(
                bad("4", "27000", None, None, Some(y)).starts_with("years_in_band:"),
                "{y}"
            );
        }
    }

    #[test]
    fn levels_give_the_usual_bands() {
        let t = PayTable::shipped();
        let l = |n| t.bands_for_level(crate::staff::CareerLevel::new(n).unwrap()).to_vec();
        assert_eq!(l(4), ["4"]);
        assert_eq!(l(2), ["2", "3"]);
        assert_eq!(l(8), ["8a", "8b", "8c", "8d"]);
        assert!(l(1).is_empty());
        assert_eq!(t.effective_from.to_string(), "2025-04-01");
        assert!(t.source.contains("NHS Employers"));
    }

    #[test]
    fn a_malformed_table_names_the_line() {
        let broken = SHIPPED.replace(
            "points = [{ years = 0, salary = 27485 }, { years = 3, salary = 30162 }]",
            "points = [{ years = 0, salary = 27485 }, { years = 3 salary = 30162 }]",
        );
        let line_of = |needle: &str| SHIPPED.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let e = PayTable::parse(&broken).unwrap_err();
        assert_eq!(e.line, Some(line_of("salary = 30162")), "{e}");
        let falling = SHIPPED.replace("{ years = 3, salary = 30162 }", "{ years = 3, salary = 20162 }");
        let e = PayTable::parse(&falling).unwrap_err();
        assert_eq!(e.line, Some(line_of("band = \"4\"")), "{e}");
        assert!(e.message.contains("band 4"), "{e}");
        let unknown_band = SHIPPED.replace("4 = [\"4\"]", "4 = [\"4x\"]");
        assert!(PayTable::parse(&unknown_band).unwrap_err().message.contains("`4x`"));
        let extra = SHIPPED.replace("full_time_hours = 37.5", "full_time_hours = 37.5\nweekend_rate = 1.5");
        let e = PayTable::parse(&extra).unwrap_err();
        assert!(
            e.message.contains("weekend_rate") && e.line == Some(line_of("full_time_hours") + 1),
            "{e}"
        );
        let bounds = SHIPPED.replace("minimum = 4552", "minimum = 9999");
        assert!(
            PayTable::parse(&bounds)
                .unwrap_err()
                .message
                .contains("minimum is above the maximum")
        );
        let pence = SHIPPED.replace("salary = 24465", "salary = 24465.555");
        assert!(
            PayTable::parse(&pence)
                .unwrap_err()
                .message
                .contains("pounds and pence")
        );
    }

    #[test]
    fn money_reads_and_prints_as_people_write_it() {
        assert_eq!(Pence(2_748_500).to_string(), "£27,485");
        assert_eq!(Pence(1_374_250).to_string(), "£13,742.50");
        assert_eq!(Pence(12_563_700).to_string(), "£125,637");
        assert_eq!(Pence(999).to_string(), "£9.99");
        assert_eq!(parse_money("s", "£27,000.5").unwrap(), Pence(2_700_050));
    }

    proptest! {
        #[test]
        fn laws_of_the_check(band_i in 0usize..11, area_i in 0usize..4, hours_h in 100i64..=3750, years in 0u32..=10, salary in 1i64..20_000_000) {
            let t = PayTable::shipped();
            let band = t.bands[band_i].name.clone();
            let area = Area::ALL[area_i];
            let offer = Offer { band, salary: Pence(salary), area, hours: hours_h, years_in_band: years };
            let c = t.check(&offer);
            // The total is the sum of its parts, and the range is ordered.
            prop_assert_eq!(c.expected_total_min.0, c.expected_basic.0 + c.hcas.0);
            prop_assert!(c.basic_min <= c.expected_basic && c.expected_basic <= c.basic_max);
            prop_assert!(c.expected_total_min <= c.expected_total_max);
            // The supplement stays within its pro-rata bounds.
            if let Some(h) = t.hcas.iter().find(|h| h.area == area) {
                prop_assert!(c.hcas >= h.minimum.scaled(hours_h, 3750) && c.hcas <= h.maximum.scaled(hours_h, 3750));
            } else {
                prop_assert_eq!(c.hcas, Pence(0));
            }
            // Fewer hours never pay more.
            let fewer = t.check(&Offer { hours: (hours_h - 50).max(100), ..offer.clone() });
            prop_assert!(fewer.expected_total_min <= c.expected_total_min);
            // The verdict agrees with the figures.
            let expected = if salary < c.expected_total_min.0 { Verdict::Below } else if salary > c.expected_total_max.0 { Verdict::Above } else { Verdict::Within };
            prop_assert_eq!(c.verdict, expected);
        }
    }
}
