//! Staff as remit knows them: who they are, their Career Framework level, their registrations with a regulator,
//! the IR(ME)R entitlements their employer grants, and their system roles.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::competency::CompetencyRecord;
use crate::error::{InvalidValue, echo, parse_slug, parse_text, string_newtype};
use crate::place::PlaceCode;

string_newtype!(
    /// A sign-in name such as `alex.ap`.
    Username,
    |s| parse_slug("username", s, 64)
);

string_newtype!(
    /// A person's name as it is shown.
    PersonName,
    |s| parse_text("name", s, 200)
);

string_newtype!(
    /// A competency identifier from the catalogue, such as `venepuncture`.
    CompetencyId,
    |s| parse_slug("competency", s, 64)
);

/// A Skills for Health Career Framework level, 1 to 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CareerLevel(u8);

impl CareerLevel {
    pub fn new(level: i64) -> Result<Self, InvalidValue> {
        match u8::try_from(level) {
            Ok(l @ 1..=9) => Ok(Self(l)),
            _ => Err(InvalidValue::new(
                "level",
                format!("`{level}` is not a Career Framework level: use 1 to 9"),
            )),
        }
    }

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let n: i64 = input.trim().parse().map_err(|_| {
            InvalidValue::new(
                "level",
                format!("`{}` is not a Career Framework level: use 1 to 9", echo(input)),
            )
        })?;
        Self::new(n)
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The framework's name for the level.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "initial entry",
            2 => "support worker",
            3 => "senior support worker",
            4 => "assistant / associate practitioner",
            5 => "practitioner",
            6 => "senior practitioner",
            7 => "advanced practitioner",
            8 => "consultant practitioner",
            _ => "more senior staff",
        }
    }
}

impl fmt::Display for CareerLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for CareerLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Declares a closed set of named values with their text form, parsing and serde.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(input: &str) -> Result<Self, $crate::InvalidValue> {
                let wanted = input.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| {
                        let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        $crate::InvalidValue::new(
                            $field,
                            format!("`{}` is not one of {}", $crate::error::echo(input), known.join(", ")),
                        )
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// The statutory regulators whose registers remit knows.
    Regulator, "regulator", {
        Nmc => "NMC",
        Hcpc => "HCPC",
        Gmc => "GMC",
        Gphc => "GPhC",
    }
);

impl Regulator {
    /// Checks a registration number against the regulator's published format.
    pub fn parse_number(self, input: &str) -> Result<String, InvalidValue> {
        let n = input.trim().to_ascii_uppercase();
        let b = n.as_bytes();
        let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
        let letters = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_uppercase));
        let (ok, shape) = match self {
            // NMC PIN: two digits, a letter, four digits, a letter (e.g. 12A3456E).
            Regulator::Nmc => (
                b.len() == 8 && digits(0..2) && letters(2..3) && digits(3..7) && letters(7..8),
                "two digits, a letter, four digits and a letter, such as 12A3456E",
            ),
            // HCPC: the profession's prefix (two or three letters) and five or six digits (e.g. RA123456).
            Regulator::Hcpc => {
                let prefix = n.bytes().take_while(u8::is_ascii_uppercase).count();
                (
                    hcpc_profession(&n).is_some()
                        && (prefix + 5..=prefix + 6).contains(&b.len())
                        && digits(prefix..b.len()),
                    "a profession's prefix (RA radiographer, PH physiotherapist, ODP, PA, OT, SL, CS, DT, AS, PO, BS, \
                     CH, HAD, PYL, OR) and five or six digits, such as RA123456",
                )
            }
            // GMC reference number and GPhC registration number: seven digits.
            Regulator::Gmc | Regulator::Gphc => (b.len() == 7 && digits(0..7), "seven digits, such as 7012345"),
        };
        if ok {
            Ok(n)
        } else {
            Err(InvalidValue::new(
                "registration_number",
                format!("`{}` is not a {self} number: expected {shape}", echo(input)),
            ))
        }
    }
}

/// The professions the HCPC registers, by the prefix of their registration numbers (HCPC, "Our registers").
pub const HCPC_PROFESSIONS: &[(&str, &str)] = &[
    ("AS", "arts therapist"),
    ("BS", "biomedical scientist"),
    ("CH", "chiropodist / podiatrist"),
    ("CS", "clinical scientist"),
    ("DT", "dietitian"),
    ("HAD", "hearing aid dispenser"),
    ("ODP", "operating department practitioner"),
    ("OR", "orthoptist"),
    ("OT", "occupational therapist"),
    ("PA", "paramedic"),
    ("PH", "physiotherapist"),
    ("PO", "prosthetist / orthotist"),
    ("PYL", "practitioner psychologist"),
    ("RA", "radiographer"),
    ("SL", "speech and language therapist"),
];

/// The HCPC profession a registration number names by its prefix: its code and title.
pub fn hcpc_profession(number: &str) -> Option<(&'static str, &'static str)> {
    let prefix: String = number.chars().take_while(char::is_ascii_uppercase).collect();
    HCPC_PROFESSIONS.iter().copied().find(|(code, _)| *code == prefix)
}

named_enum!(
    /// IR(ME)R duty-holder entitlements that an employer grants.
    Entitlement, "entitlement", {
        IrmerReferrer => "irmer-referrer",
        IrmerPractitioner => "irmer-practitioner",
        IrmerOperator => "irmer-operator",
    }
);

named_enum!(
    /// System roles, separate from clinical level.
    Role, "role", {
        Admin => "admin",
        EducationLead => "education-lead",
    }
);

named_enum!(
    /// Whether a staff member may act at all.
    StaffStatus, "status", {
        Active => "active",
        Suspended => "suspended",
    }
);

string_newtype!(
    /// An annotation on a registration, such as `independent-prescriber`.
    Annotation,
    |s| parse_slug("annotation", s, 64)
);

/// A registration with a regulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub regulator: Regulator,
    pub number: String,
    pub expires_on: NaiveDate,
    pub annotations: BTreeSet<Annotation>,
}

impl Registration {
    /// The HCPC profession this registration is for (its code, such as `RA`, and title); none for other regulators.
    pub fn profession(&self) -> Option<(&'static str, &'static str)> {
        (self.regulator == Regulator::Hcpc)
            .then(|| hcpc_profession(&self.number))
            .flatten()
    }

    /// A registration counts on the day of its expiry and not after.
    pub fn is_current(&self, today: NaiveDate) -> bool {
        today <= self.expires_on
    }

    /// Parses the command-line form `REGULATOR:NUMBER:EXPIRY[:annotation,…]`, e.g.
    /// `NMC:12A3456E:2027-03-31:independent-prescriber`.
    pub fn parse_spec(input: &str) -> Result<Self, InvalidValue> {
        let parts: Vec<&str> = input.split(':').collect();
        if !(3..=4).contains(&parts.len()) {
            return Err(InvalidValue::new(
                "registration",
                format!(
                    "`{}` should read REGULATOR:NUMBER:EXPIRY[:ANNOTATION,…], such as NMC:12A3456E:2027-03-31",
                    echo(input)
                ),
            ));
        }
        let regulator = Regulator::parse(parts[0])?;
        let number = regulator.parse_number(parts[1])?;
        let expires_on = crate::time::parse_date("registration_expiry", parts[2])?;
        let annotations = match parts.get(3) {
            Some(list) => list
                .split(',')
                .filter(|a| !a.trim().is_empty())
                .map(Annotation::parse)
                .collect::<Result<_, _>>()?,
            None => BTreeSet::new(),
        };
        Ok(Self {
            regulator,
            number,
            expires_on,
            annotations,
        })
    }
}

/// A staff member as the rest of remit sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Staff {
    pub username: Username,
    pub name: PersonName,
    pub job_title: String,
    pub level: Option<CareerLevel>,
    pub trainee: bool,
    pub roles: BTreeSet<Role>,
    pub status: StaffStatus,
    pub professional_bodies: Vec<String>,
    /// The grade or team escalation routes address them by (`specialty-registrar`), if any.
    pub grade: Option<crate::escalation::Grade>,
}

impl Staff {
    pub fn is_active(&self) -> bool {
        self.status == StaffStatus::Active
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A staff member with everything a decision about them needs.
#[derive(Debug, Clone, Serialize)]
pub struct StaffProfile {
    /// The database id; not shown.
    #[serde(skip)]
    pub id: i64,
    #[serde(flatten)]
    pub staff: Staff,
    pub registrations: Vec<Registration>,
    pub entitlements: BTreeSet<Entitlement>,
    /// Where they are on duty at the moment the profile was loaded.
    pub on_duty: Vec<PlaceCode>,
    pub competencies: Vec<CompetencyRecord>,
}

impl StaffProfile {
    /// Registered means at least one registration current today.
    pub fn is_registered(&self, today: NaiveDate) -> bool {
        self.registrations.iter().any(|r| r.is_current(today))
    }
}

/// Parses a job title or a professional body's name.
pub fn parse_title(field: &'static str, input: &str) -> Result<String, InvalidValue> {
    parse_text(field, input, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_one_to_nine() {
        for l in 1..=9 {
            assert_eq!(CareerLevel::new(l).unwrap().get() as i64, l);
        }
        for bad in [0, 10, -1, 256] {
            let err = CareerLevel::new(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
        assert!(CareerLevel::parse("four").is_err());
        assert_eq!(
            CareerLevel::parse(" 4 ").unwrap().name(),
            "assistant / associate practitioner"
        );
    }

    #[test]
    fn regulators_parse_case_insensitively_and_unknown_ones_are_named() {
        assert_eq!(Regulator::parse("gphc").unwrap(), Regulator::Gphc);
        let err = Regulator::parse("GDC").unwrap_err();
        assert_eq!(err.to_string(), "regulator: `GDC` is not one of NMC, HCPC, GMC, GPhC");
    }

    #[test]
    fn hcpc_numbers_name_their_profession() {
        for (number, code) in [
            ("RA123456", "RA"),
            ("PH12345", "PH"),
            ("ODP12345", "ODP"),
            ("PYL123456", "PYL"),
            ("ra654321", "RA"),
        ] {
            let n = Regulator::Hcpc.parse_number(number).unwrap();
            assert_eq!(hcpc_profession(&n).map(|(c, _)| c), Some(code), "{number}");
        }
        for bad in [
            "XX123456",
            "RA1234",
            "RA1234567",
            "ODP1234567",
            "R123456",
            "RA12345A",
            "123456",
        ] {
            let e = Regulator::Hcpc.parse_number(bad).unwrap_err().to_string();
            assert!(e.contains("prefix"), "{bad}: {e}");
        }
        let r = Registration::parse_spec("HCPC:PH12345:2030-01-31").unwrap();
        assert_eq!(r.profession(), Some(("PH", "physiotherapist")));
        assert_eq!(
            Registration::parse_spec("NMC:12A3456E:2030-01-31")
                .unwrap()
                .profession(),
            None
        );
    }

    #[test]
    fn registration_numbers_follow_each_regulator() {
        assert_eq!(Regulator::Nmc.parse_number("12a3456e").unwrap(), "12A3456E");
        assert!(Regulator::Nmc.parse_number("1234567").is_err());
        assert!(Regulator::Hcpc.parse_number("RA123456").is_ok());
        assert!(Regulator::Hcpc.parse_number("RA12345").is_ok());
        assert!(Regulator::Hcpc.parse_number("R1234567").is_err());
        assert!(Regulator::Gmc.parse_number("7012345").is_ok());
        assert!(Regulator::Gmc.parse_number("701234").is_err());
        assert!(Regulator::Gphc.parse_number("20123456").is_err());
    }

    #[test]
    fn registration_specs() {
        let r = Registration::parse_spec("NMC:12A3456E:2027-03-31:independent-prescriber").unwrap();
        assert_eq!(r.regulator, Regulator::Nmc);
        assert!(
            r.annotations
                .contains(&Annotation::parse("independent-prescriber").unwrap())
        );
        assert!(r.is_current(NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()));
        assert!(!r.is_current(NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()));
        assert!(Registration::parse_spec("NMC:12A3456E").is_err());
        assert_eq!(
            Registration::parse_spec("XYZ:1:2027-01-01").unwrap_err().field(),
            "regulator"
        );
    }
}
