//! Admissions, transfers and discharges from the patient administration system: HL7 v2 ADT messages read into
//! values, the employer's map of the system's locations to remit's places, and the acknowledgement (ACK) that
//! answers every message.
//!
//! The fields read: MSH-3/4 the sender, MSH-9 the event, MSH-10 the control id; PID-3 the NHS number (the repeat
//! whose assigning authority, component 4, is `NHS`, or whose identifier type, component 5, is `NH`), PID-5 the name,
//! PID-7 the date of birth, PID-8 administrative sex; PV1-2 the patient class, PV1-3 the location (point of care
//! and bed), PV1-19 the visit number; MRG-1 the NHS number a merge retires. A message is answered `AA` when applied,
//! `AE` when it was read but cannot be applied (each reason in words, with the HL7 error code), and `AR` when it
//! cannot be read or is not an event remit takes. A reason never repeats the message beyond the value it is about.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::error::{InvalidValue, echo};
use crate::nhs::NhsNumber;
use crate::patient::{Sex, parse_bed, parse_date_of_birth};
use crate::place::PlaceCode;
use crate::roster::LineError;
use crate::staff::PersonName;

/// The ADT events remit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A01: admitted to a ward.
    Admit,
    /// A02: moved to another place.
    Transfer,
    /// A03: discharged.
    Discharge,
    /// A04: registered (an attendance: the emergency department, an outpatient clinic, radiology).
    Register,
    /// A08: details corrected.
    Update,
    /// A11: the admission (or registration) was a mistake.
    CancelAdmit,
    /// A12: the transfer was a mistake; PV1-3 is where the patient is after all.
    CancelTransfer,
    /// A13: the discharge was a mistake.
    CancelDischarge,
    /// A40: two records are one person; MRG-1 is the number that goes.
    Merge,
}

impl Event {
    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "A01" => Self::Admit,
            "A02" => Self::Transfer,
            "A03" => Self::Discharge,
            "A04" => Self::Register,
            "A08" => Self::Update,
            "A11" => Self::CancelAdmit,
            "A12" => Self::CancelTransfer,
            "A13" => Self::CancelDischarge,
            "A40" => Self::Merge,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Admit => "A01",
            Self::Transfer => "A02",
            Self::Discharge => "A03",
            Self::Register => "A04",
            Self::Update => "A08",
            Self::CancelAdmit => "A11",
            Self::CancelTransfer => "A12",
            Self::CancelDischarge => "A13",
            Self::Merge => "A40",
        }
    }

    /// The audit log's name for it.
    pub fn action(self) -> &'static str {
        match self {
            Self::Admit => "adt.admit",
            Self::Transfer => "adt.transfer",
            Self::Discharge => "adt.discharge",
            Self::Register => "adt.register",
            Self::Update => "adt.update",
            Self::CancelAdmit => "adt.cancel-admit",
            Self::CancelTransfer => "adt.cancel-transfer",
            Self::CancelDischarge => "adt.cancel-discharge",
            Self::Merge => "adt.merge",
        }
    }

    /// Whether the event needs the patient's details in full (it may create the patient or corrects them).
    fn needs_details(self) -> bool {
        matches!(self, Self::Admit | Self::Register | Self::Update)
    }

    /// Whether the event needs a location (PV1-3).
    fn needs_location(self) -> bool {
        matches!(
            self,
            Self::Admit | Self::Register | Self::Transfer | Self::CancelTransfer
        )
    }
}

/// The kind of stay (FHIR's v3 ActCode for `Encounter.class`), from PV1-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StayClass {
    Inpatient,
    Emergency,
    Ambulatory,
    PreAdmission,
}

impl StayClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inpatient => "IMP",
            Self::Emergency => "EMER",
            Self::Ambulatory => "AMB",
            Self::PreAdmission => "PRENC",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "IMP" => Self::Inpatient,
            "EMER" => Self::Emergency,
            "AMB" => Self::Ambulatory,
            "PRENC" => Self::PreAdmission,
            _ => return None,
        })
    }

    /// FHIR's display for the code.
    pub fn display(self) -> &'static str {
        match self {
            Self::Inpatient => "inpatient encounter",
            Self::Emergency => "emergency",
            Self::Ambulatory => "ambulatory",
            Self::PreAdmission => "pre-admission",
        }
    }

    /// PV1-2 (HL7 table 0004), or what the event implies when it is empty or not one remit knows.
    fn from_pv1(code: &str, event: Event) -> Self {
        match code {
            "E" => Self::Emergency,
            "O" | "R" => Self::Ambulatory,
            "P" => Self::PreAdmission,
            "I" | "B" => Self::Inpatient,
            _ if event == Event::Register => Self::Ambulatory,
            _ => Self::Inpatient,
        }
    }
}

/// Where a stay stands (FHIR's `Encounter.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StayStatus {
    InProgress,
    Finished,
    /// A cancelled admission or registration.
    EnteredInError,
}

impl StayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in-progress",
            Self::Finished => "finished",
            Self::EnteredInError => "entered-in-error",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Ok(match s {
            "in-progress" => Self::InProgress,
            "finished" => Self::Finished,
            "entered-in-error" => Self::EnteredInError,
            other => {
                return Err(InvalidValue::new(
                    "status",
                    format!("`{}` is not in-progress, finished or entered-in-error", echo(other)),
                ));
            }
        })
    }
}

/// A patient's stay: admitted or registered, in a place, finished when discharged (FHIR `Encounter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    pub id: i64,
    pub nhs_number: NhsNumber,
    pub status: StayStatus,
    pub class: StayClass,
    pub place: PlaceCode,
    pub place_name: String,
    pub bed: Option<String>,
    pub visit_number: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// MSH: who sent the message and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-10: the sender's id for this message; a replay carries the same one.
    pub control_id: String,
    /// MSH-9.2, as sent.
    pub trigger: String,
    /// MSH-12.
    pub version: String,
}

impl Header {
    /// The sender, as the audit log and the replay record name it: `PAS` or `PAS@RTH`.
    pub fn sender(&self) -> String {
        match self.sending_facility.as_str() {
            "" => self.sending_application.clone(),
            f => format!("{}@{f}", self.sending_application),
        }
    }
}

/// PV1-3 as sent: the point of care (a ward or department of the patient administration system) and the bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub point_of_care: String,
    pub bed: Option<String>,
}

/// The patient's details as PID gives them; those an event does not need may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub date_of_birth: NaiveDate,
    pub sex: Sex,
}

/// An ADT message remit can apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdtMessage {
    pub header: Header,
    pub event: Event,
    pub nhs_number: NhsNumber,
    /// In full for A01, A04 and A08; `None` for events that do not need them.
    pub details: Option<Details>,
    pub location: Option<Location>,
    pub class: StayClass,
    /// PV1-19.
    pub visit_number: Option<String>,
    /// MRG-1 of a merge: the NHS number that goes.
    pub retired: Option<NhsNumber>,
    /// SHA-256 of the message as received (hex): tells a replay from a different message reusing a control id.
    pub digest: String,
}

/// HL7 table 0357: why a message was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    SegmentSequence = 100,
    RequiredFieldMissing = 101,
    DataType = 102,
    TableValueNotFound = 103,
    UnsupportedMessageType = 200,
    UnsupportedEvent = 201,
    UnknownKey = 204,
    DuplicateKey = 205,
    InternalError = 207,
}

impl ErrorCode {
    fn words(self) -> &'static str {
        match self {
            Self::SegmentSequence => "Segment sequence error",
            Self::RequiredFieldMissing => "Required field missing",
            Self::DataType => "Data type error",
            Self::TableValueNotFound => "Table value not found",
            Self::UnsupportedMessageType => "Unsupported message type",
            Self::UnsupportedEvent => "Unsupported event code",
            Self::UnknownKey => "Unknown key identifier",
            Self::DuplicateKey => "Duplicate key identifier",
            Self::InternalError => "Application internal error",
        }
    }
}

/// Why a message was not applied: the HL7 error code and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: ErrorCode,
    pub reason: String,
}

impl Problem {
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// What reading a message gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A message remit can try to apply.
    Message(Box<AdtMessage>),
    /// Read, but not applicable as it stands (`AE`).
    NotApplicable(Header, Problem),
    /// Not readable, or not an event remit takes (`AR`); the header where it could be read.
    Rejected(Header, Problem),
}

/// A field's component, unescaped, or `None` when empty.
fn component(
    seg: &hl7_parser::message::Segment<'_>,
    seps: &hl7_parser::message::Separators,
    field: usize,
    comp: usize,
) -> Option<String> {
    let c = seg.field(field)?.component(comp)?;
    let v = c.display(seps).to_string();
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn header_of(msg: &hl7_parser::Message<'_>) -> Header {
    let Some(msh) = msg.segment("MSH") else {
        return Header::default();
    };
    let seps = &msg.separators;
    let get = |f: usize, c: usize| component(msh, seps, f, c).unwrap_or_default();
    Header {
        sending_application: get(3, 1),
        sending_facility: get(4, 1),
        receiving_application: get(5, 1),
        receiving_facility: get(6, 1),
        control_id: get(10, 1),
        trigger: get(9, 2),
        version: get(12, 1),
    }
}

/// Reads an ADT message (segments separated by carriage returns; newlines are taken too). `today` bounds dates of
/// birth.
pub fn read(text: &str, today: NaiveDate) -> Read {
    let text = text.trim_matches(|c: char| c == '\r' || c == '\n' || c == ' ');
    if !text.starts_with("MSH") {
        return Read::Rejected(
            Header::default(),
            Problem::new(
                ErrorCode::SegmentSequence,
                "the message does not begin with an MSH segment",
            ),
        );
    }
    let msg = match hl7_parser::parse_message_with_lenient_newlines(text) {
        Ok(m) => m,
        // The parser's error quotes the message: say only where.
        Err(hl7_parser::parser::ParseError::FailedToParse { position, .. }) => {
            return Read::Rejected(
                Header::default(),
                Problem::new(
                    ErrorCode::SegmentSequence,
                    format!("the message could not be read as HL7 v2 (at character {position})"),
                ),
            );
        }
        Err(_) => {
            return Read::Rejected(
                Header::default(),
                Problem::new(ErrorCode::SegmentSequence, "the message ends before it is complete"),
            );
        }
    };
    let header = header_of(&msg);
    let msh = msg.segment("MSH").expect("begins with MSH");
    let seps = &msg.separators;
    if header.control_id.is_empty() {
        return Read::Rejected(
            header,
            Problem::new(ErrorCode::RequiredFieldMissing, "MSH-10 (message control id) is empty"),
        );
    }
    if header.control_id.chars().count() > 199 {
        return Read::Rejected(
            header,
            Problem::new(
                ErrorCode::DataType,
                "MSH-10 (message control id) is longer than 199 characters",
            ),
        );
    }
    let kind = component(msh, seps, 9, 1).unwrap_or_default();
    if kind != "ADT" {
        return Read::Rejected(
            header,
            Problem::new(
                ErrorCode::UnsupportedMessageType,
                format!("remit takes ADT messages, not `{}`", echo(&kind)),
            ),
        );
    }
    let Some(event) = Event::from_code(&header.trigger) else {
        return Read::Rejected(
            header.clone(),
            Problem::new(
                ErrorCode::UnsupportedEvent,
                format!(
                    "remit does not take ADT {} (it takes A01, A02, A03, A04, A08, A11, A12, A13 and A40)",
                    echo(&header.trigger)
                ),
            ),
        );
    };
    match fields(&msg, event, today, text) {
        Ok(m) => Read::Message(Box::new(AdtMessage { header, ..m })),
        Err(p) => Read::NotApplicable(header, p),
    }
}

fn missing(what: &str) -> Problem {
    Problem::new(ErrorCode::RequiredFieldMissing, format!("{what} is empty"))
}

fn bad(field: &str, e: &InvalidValue) -> Problem {
    Problem::new(ErrorCode::DataType, format!("{field}: {}", e.message()))
}

/// The NHS number of an identifier list (PID-3 or MRG-1): the repeat whose assigning authority is NHS.
fn nhs_of(
    seg: &hl7_parser::message::Segment<'_>,
    seps: &hl7_parser::message::Separators,
    field: usize,
    name: &str,
) -> Result<NhsNumber, Problem> {
    let f = seg.field(field).ok_or_else(|| missing(name))?;
    for r in f.repeats() {
        let part = |n: usize| {
            r.component(n)
                .map(|c| c.display(seps).to_string().trim().to_owned())
                .unwrap_or_default()
        };
        if part(4).eq_ignore_ascii_case("NHS") || part(5) == "NH" {
            return NhsNumber::parse(&part(1)).map_err(|e| bad(name, &e));
        }
    }
    Err(Problem::new(
        ErrorCode::RequiredFieldMissing,
        format!("{name} has no NHS number (an identifier with assigning authority NHS)"),
    ))
}

fn fields(msg: &hl7_parser::Message<'_>, event: Event, today: NaiveDate, text: &str) -> Result<AdtMessage, Problem> {
    let seps = &msg.separators;
    let pid = msg
        .segment("PID")
        .ok_or_else(|| Problem::new(ErrorCode::SegmentSequence, "the message has no PID segment"))?;
    let nhs_number = nhs_of(pid, seps, 3, "PID-3")?;
    let details = if event.needs_details() {
        let name = |c: usize, what: &'static str| -> Result<PersonName, Problem> {
            let v = component(pid, seps, 5, c).ok_or_else(|| missing(what))?;
            PersonName::parse(&v).map_err(|e| bad(what, &e))
        };
        let dob = component(pid, seps, 7, 1).ok_or_else(|| missing("PID-7 (date of birth)"))?;
        let dob_day = dob.get(..8).unwrap_or(&dob);
        let iso = if dob_day.len() == 8 && dob_day.bytes().all(|b| b.is_ascii_digit()) {
            format!("{}-{}-{}", &dob_day[..4], &dob_day[4..6], &dob_day[6..8])
        } else {
            return Err(Problem::new(
                ErrorCode::DataType,
                format!("PID-7 (date of birth): `{}` is not a date such as 19500131", echo(&dob)),
            ));
        };
        let sex_code = component(pid, seps, 8, 1).ok_or_else(|| missing("PID-8 (administrative sex)"))?;
        let sex = match sex_code.as_str() {
            "F" => Sex::Female,
            "M" => Sex::Male,
            "O" | "A" => Sex::Other,
            "U" | "N" => Sex::Unknown,
            other => {
                return Err(Problem::new(
                    ErrorCode::TableValueNotFound,
                    format!(
                        "PID-8 (administrative sex): `{}` is not F, M, O, A, U or N",
                        echo(other)
                    ),
                ));
            }
        };
        Some(Details {
            family_name: name(1, "PID-5.1 (family name)")?,
            given_name: name(2, "PID-5.2 (given name)")?,
            date_of_birth: parse_date_of_birth(&iso, today).map_err(|e| bad("PID-7 (date of birth)", &e))?,
            sex,
        })
    } else {
        None
    };
    let pv1 = msg.segment("PV1");
    let location = match pv1.and_then(|s| component(s, seps, 3, 1)) {
        Some(point_of_care) => {
            let bed = pv1
                .and_then(|s| component(s, seps, 3, 3))
                .map(|b| parse_bed(&b).map_err(|e| bad("PV1-3.3 (bed)", &e)))
                .transpose()?;
            Some(Location { point_of_care, bed })
        }
        None if event.needs_location() => return Err(missing("PV1-3 (assigned patient location)")),
        None => None,
    };
    let class = StayClass::from_pv1(&pv1.and_then(|s| component(s, seps, 2, 1)).unwrap_or_default(), event);
    let visit_number = pv1
        .and_then(|s| component(s, seps, 19, 1))
        .map(|v| v.chars().take(64).collect());
    let retired = if event == Event::Merge {
        let mrg = msg
            .segment("MRG")
            .ok_or_else(|| Problem::new(ErrorCode::SegmentSequence, "an A40 merge has no MRG segment"))?;
        let retired = nhs_of(mrg, seps, 1, "MRG-1")?;
        if retired == nhs_number {
            return Err(Problem::new(
                ErrorCode::DataType,
                "MRG-1 names the same NHS number as PID-3: there is nothing to merge",
            ));
        }
        Some(retired)
    } else {
        None
    };
    Ok(AdtMessage {
        header: Header::default(),
        event,
        nhs_number,
        details,
        location,
        class,
        visit_number,
        retired,
        digest: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

/// The acknowledgement's code (MSA-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// `AA`: applied (or applied before: a replay).
    Applied,
    /// `AE`: read, not applied.
    Error,
    /// `AR`: not read, or not an event remit takes.
    Rejected,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "AA",
            Self::Error => "AE",
            Self::Rejected => "AR",
        }
    }
}

/// Escapes text for a field under the default separators.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '~' => out.push_str("\\R\\"),
            '&' => out.push_str("\\T\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The ACK answering a message with `header` (as far as it could be read): `text` says what was done or why not,
/// `problem` the error code for `AE` and `AR`; `control_id` is remit's own id for the ACK. MSA-3 holds the first 80
/// characters of `text`, ERR-8 all of it.
pub fn ack(
    header: &Header,
    code: AckCode,
    text: &str,
    problem: Option<ErrorCode>,
    control_id: &str,
    at: DateTime<Utc>,
) -> String {
    let version = if header.version.is_empty() {
        "2.5.1"
    } else {
        header.version.as_str()
    };
    let trigger = escape(&header.trigger);
    let mut out = format!(
        "MSH|^~\\&|{}|{}|{}|{}|{}||ACK^{trigger}^ACK|{}|P|{}\r",
        escape(&header.receiving_application)
            .chars()
            .take(180)
            .collect::<String>(),
        escape(&header.receiving_facility).chars().take(180).collect::<String>(),
        escape(&header.sending_application),
        escape(&header.sending_facility),
        at.format("%Y%m%d%H%M%S+0000"),
        escape(control_id),
        escape(version),
    );
    // MSA-3 is 80 characters at most; ERR-8 carries the whole.
    let short: String = text.chars().take(80).collect();
    out.push_str(&format!(
        "MSA|{}|{}|{}\r",
        code.as_str(),
        escape(&header.control_id),
        escape(&short)
    ));
    match problem {
        Some(p) => out.push_str(&format!(
            "ERR|||{}^{}^HL70357|E||||{}\r",
            p as u16,
            p.words(),
            escape(text)
        )),
        // An applied message's words that MSA-3 cannot hold go whole in an ERR of severity I (information).
        None if text.chars().count() > 80 => {
            out.push_str(&format!("ERR|||0^Message accepted^HL70357|I||||{}\r", escape(text)));
        }
        None => {}
    }
    out
}

/// The employer's map from the patient administration system's points of care to remit's places.
///
/// The format (UTF-8, one mapping a line): `point of care,place code`, such as `W7,ward-7`. Blank lines and lines
/// starting `#` are skipped. A point of care is mapped once. Without a map, a point of care that is itself a place
/// code is that place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    map: std::collections::BTreeMap<String, (PlaceCode, usize)>,
}

impl Locations {
    /// Reads a map: every mapping, or every error with its line.
    pub fn parse(text: &str) -> Result<Self, Vec<LineError>> {
        let mut map = std::collections::BTreeMap::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let Some((from, to)) = l.split_once(',') else {
                errors.push(LineError {
                    line,
                    message: "expected `point of care,place code`, such as `W7,ward-7`".into(),
                });
                continue;
            };
            let (from, to) = (from.trim(), to.trim());
            if from.is_empty() {
                errors.push(LineError {
                    line,
                    message: "the point of care is empty".into(),
                });
                continue;
            }
            match PlaceCode::parse(to) {
                Err(e) => errors.push(LineError {
                    line,
                    message: e.message().to_owned(),
                }),
                Ok(place) => {
                    if let Some((_, first)) = map.get(from) {
                        errors.push(LineError {
                            line,
                            message: format!("`{}` is mapped already, on line {first}", echo(from)),
                        });
                    } else {
                        map.insert(from.to_owned(), (place, line));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { map })
        } else {
            Err(errors)
        }
    }

    /// Every mapping, with its line: to check that each place exists.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &PlaceCode, usize)> {
        self.map.iter().map(|(k, (p, l))| (k.as_str(), p, *l))
    }

    /// The place a point of care is, or why none.
    pub fn place(&self, point_of_care: &str) -> Result<PlaceCode, Problem> {
        if let Some((p, _)) = self.map.get(point_of_care) {
            return Ok(p.clone());
        }
        if self.map.is_empty()
            && let Ok(p) = PlaceCode::parse(point_of_care)
        {
            return Ok(p);
        }
        Err(Problem::new(
            ErrorCode::TableValueNotFound,
            format!(
                "PV1-3: the point of care `{}` is not a ward or department remit knows",
                echo(point_of_care)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    fn msg(event: &str, rest: &str) -> String {
        format!(
            "MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206101500||ADT^{event}^ADT_A01|MSG0001|P|2.5.1\r\
             EVN|{event}|20261206101500\r{rest}"
        )
    }

    const PID: &str = "PID|1||9990001375^^^NHS^NH~H123^^^RTH^MR||Rahman^Aisha^^^Mrs||19580412|F\r";

    fn applied(text: &str) -> AdtMessage {
        match read(text, today()) {
            Read::Message(m) => *m,
            other => panic!("not read: {other:?}"),
        }
    }

    fn problem(text: &str) -> (bool, Problem) {
        match read(text, today()) {
            Read::NotApplicable(_, p) => (false, p),
            Read::Rejected(_, p) => (true, p),
            Read::Message(m) => panic!("read: {m:?}"),
        }
    }

    #[test]
    fn an_admission_is_read_in_full() {
        let m = applied(&msg("A01", &format!("{PID}PV1|1|I|W7^^12^RTH||||||||||||||||V0042\r")));
        assert_eq!(m.event, Event::Admit);
        assert_eq!(m.header.sender(), "PAS@RTH");
        assert_eq!(m.header.control_id, "MSG0001");
        assert_eq!(m.nhs_number.as_str(), "9990001375");
        let d = m.details.unwrap();
        assert_eq!((d.given_name.as_str(), d.family_name.as_str()), ("Aisha", "Rahman"));
        assert_eq!(d.date_of_birth.to_string(), "1958-04-12");
        assert_eq!(d.sex, Sex::Female);
        assert_eq!(
            m.location,
            Some(Location {
                point_of_care: "W7".into(),
                bed: Some("12".into())
            })
        );
        assert_eq!(m.class, StayClass::Inpatient);
        assert_eq!(m.visit_number.as_deref(), Some("V0042"));
    }

    #[test]
    fn escapes_are_undone() {
        let m = applied(&msg(
            "A02",
            "PID|1||9990001375^^^NHS\rPV1|1|I|W7||||||||||||||||V\\T\\1\r",
        ));
        assert_eq!(m.visit_number.as_deref(), Some("V&1"));
    }

    #[test]
    fn a_bad_check_digit_is_not_applicable_and_says_why() {
        let (rejected, p) = problem(&msg(
            "A01",
            "PID|1||9990001376^^^NHS||Rahman^Aisha||19580412|F\rPV1|1|I|W7\r",
        ));
        assert!(!rejected);
        assert_eq!(p.code, ErrorCode::DataType);
        assert!(p.reason.starts_with("PID-3: "), "{}", p.reason);
        assert!(p.reason.contains("check digit"), "{}", p.reason);
    }

    #[test]
    fn what_each_event_needs_is_asked_for() {
        let (_, p) = problem(&msg("A01", "PID|1||9990001375^^^NHS||Rahman^Aisha||19580412|F\r"));
        assert_eq!(p.reason, "PV1-3 (assigned patient location) is empty");
        let (_, p) = problem(&msg(
            "A01",
            "PID|1||H123^^^RTH^MR||Rahman^Aisha||19580412|F\rPV1|1|I|W7\r",
        ));
        assert!(p.reason.contains("no NHS number"), "{}", p.reason);
        let (_, p) = problem(&msg(
            "A04",
            "PID|1||9990001375^^^NHS||Rahman^Aisha||19580412|X\rPV1|1|E|ED\r",
        ));
        assert_eq!(p.code, ErrorCode::TableValueNotFound);
        let (_, p) = problem(&msg(
            "A01",
            "PID|1||9990001375^^^NHS||Rahman^Aisha||21000101|F\rPV1|1|I|W7\r",
        ));
        assert!(p.reason.contains("future"), "{}", p.reason);
        let (_, p) = problem(&msg("A40", PID));
        assert!(p.reason.contains("MRG"), "{}", p.reason);
        // A discharge needs only the number.
        let m = applied(&msg("A03", "PID|1||9990001375^^^NHS\rPV1|1|I|W7\r"));
        assert_eq!((m.event, m.details), (Event::Discharge, None));
        let m = applied(&msg("A40", &format!("{PID}MRG|9990002746^^^NHS\r")));
        assert_eq!(m.retired.unwrap().as_str(), "9990002746");
    }

    #[test]
    fn what_cannot_be_read_is_rejected() {
        for (text, code) in [
            ("hello", ErrorCode::SegmentSequence),
            (
                "MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206||ORU^R01|1|P|2.5.1\r",
                ErrorCode::UnsupportedMessageType,
            ),
            (
                "MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206||ADT^A05|1|P|2.5.1\r",
                ErrorCode::UnsupportedEvent,
            ),
            (
                "MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206||ADT^A01||P|2.5.1\r",
                ErrorCode::RequiredFieldMissing,
            ),
        ] {
            let (rejected, p) = problem(text);
            assert!(rejected, "{text}");
            assert_eq!(p.code, code, "{text}");
        }
    }

    #[test]
    fn the_ack_answers_the_sender_and_escapes_its_text() {
        let Read::NotApplicable(h, p) = read(&msg("A01", "PID|1||9990001375^^^NHS||R^A||19580412|F\r"), today()) else {
            panic!()
        };
        let at = DateTime::parse_from_rfc3339("2026-12-06T10:15:01Z").unwrap().to_utc();
        let a = ack(&h, AckCode::Error, "no ward | here", Some(p.code), "R1", at);
        let segs: Vec<&str> = a.split('\r').collect();
        assert_eq!(
            segs[0],
            "MSH|^~\\&|REMIT|RTH|PAS|RTH|20261206101501+0000||ACK^A01^ACK|R1|P|2.5.1"
        );
        assert_eq!(segs[1], "MSA|AE|MSG0001|no ward \\F\\ here");
        assert_eq!(
            segs[2],
            "ERR|||101^Required field missing^HL70357|E||||no ward \\F\\ here"
        );
    }

    #[test]
    fn a_location_map_is_checked_whole() {
        let l = Locations::parse("# PAS code, place\nW7,ward-7\n\nXR, xray\n").unwrap();
        assert_eq!(l.place("W7").unwrap().as_str(), "ward-7");
        assert_eq!(l.place("XR").unwrap().as_str(), "xray");
        assert_eq!(l.place("ward-7").unwrap_err().code, ErrorCode::TableValueNotFound);
        let errors = Locations::parse("W7,ward-7\nW7,ward-8\nnonsense\nW9,Not A Code\n").unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(errors[0].message.contains("line 1"));
        // Without a map, a place code is its own place.
        assert_eq!(Locations::default().place("ward-7").unwrap().as_str(), "ward-7");
    }
}
