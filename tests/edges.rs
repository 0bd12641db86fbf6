//! Hostile input at every parser at the edge: FHIR JSON, NEWS2 lines, the set form's values, policy packs, the pay
//! table and the examination catalogue. Valid inputs are taken apart at random (a value replaced, an element removed,
//! text cut, inserted or repeated); every parser must answer with a value or an error that says where, never panic,
//! and what it accepts must be within the ranges it promises.

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use remit_domain::obs::Readings;
use serde_json::{Map, Value, json};

const DAVID: &str = "9990002746";

/// Keys and strings that FHIR resources and remit's own bodies use, so that random documents reach deep into the
/// parsers rather than failing at the first key.
const WORDS: &[&str] = &[
    "resourceType",
    "Bundle",
    "Observation",
    "transaction",
    "type",
    "entry",
    "resource",
    "request",
    "method",
    "POST",
    "url",
    "status",
    "final",
    "code",
    "coding",
    "system",
    "http://loinc.org",
    "http://unitsofmeasure.org",
    "valueQuantity",
    "value",
    "unit",
    "component",
    "subject",
    "reference",
    "Patient/9990002746",
    "identifier",
    "effectiveDateTime",
    "2026-11-25T10:00:00Z",
    "valueCodeableConcept",
    "text",
    "9279-1",
    "59408-5",
    "8867-4",
    "8310-5",
    "85354-9",
    "8480-6",
    "67775-7",
    "3151-8",
    "LA9340-6",
    "Cel",
    "/min",
    "%",
    "mm[Hg]",
    "L/min",
    "respiration_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
    "missing",
    "parameter",
    "absence",
    "reason",
    "not-obtained",
    "refused",
    "alert",
    "new-confusion",
    "ServiceRequest",
    "reasonCode",
    "Condition",
    "MedicationRequest",
    "DiagnosticReport",
    "basedOn",
    "conclusion",
    "dosageInstruction",
    "scale",
    "spo2_scale",
    "1",
    "2",
    "extension",
    "",
    "\u{0}",
    "\u{202e}",
    "9990001375",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,16}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        (-50.0f64..500.0).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(word(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One change to a JSON document: follow `path` (each step picks a child by index, modulo the number there) and
/// replace what is found with `with`, or remove it.
#[derive(Debug, Clone)]
struct Mutation {
    path: Vec<usize>,
    with: Option<Value>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (vec(any::<usize>(), 1..7), proptest::option::weighted(0.8, arb_json()))
        .prop_map(|(path, with)| Mutation { path, with })
}

fn apply(doc: &mut Value, m: &Mutation) {
    apply_at(doc, &m.path, m.with.as_ref());
}

fn apply_at(at: &mut Value, path: &[usize], with: Option<&Value>) {
    let Some((step, rest)) = path.split_first() else {
        return;
    };
    let child = match at {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step % map.len()).cloned().unwrap_or_default();
            if rest.is_empty() {
                match with {
                    Some(v) => map.insert(key, v.clone()),
                    None => map.remove(&key),
                };
                return;
            }
            map.get_mut(&key)
        }
        Value::Array(items) if !items.is_empty() => {
            let i = step % items.len();
            if rest.is_empty() {
                match with {
                    Some(v) => items[i] = v.clone(),
                    None => drop(items.remove(i)),
                }
                return;
            }
            items.get_mut(i)
        }
        _ => None,
    };
    match child {
        Some(c) => apply_at(c, rest, with),
        None => {
            if let Some(v) = with {
                *at = v.clone();
            }
        }
    }
}

fn observation(code: &str, value: (&str, Value)) -> Value {
    let mut o = json!({
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{DAVID}")},
        "effectiveDateTime": "2026-11-25T10:00:00Z"
    });
    o[value.0] = value.1;
    o
}

fn quantity(v: f64, unit: &str, code: &str) -> (&'static str, Value) {
    (
        "valueQuantity",
        json!({"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}),
    )
}

fn valid_bundle() -> Value {
    let entries: Vec<Value> = [
        observation("9279-1", quantity(22.0, "/min", "/min")),
        observation("59408-5", quantity(95.0, "%", "%")),
        observation("3151-8", quantity(0.0, "L/min", "L/min")),
        observation(
            "85354-9",
            (
                "component",
                json!([{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 105, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]"}}]),
            ),
        ),
        observation("8867-4", quantity(95.0, "/min", "/min")),
        observation(
            "67775-7",
            (
                "valueCodeableConcept",
                json!({"coding": [{"system": "http://loinc.org", "code": "LA9340-6"}]}),
            ),
        ),
        observation("8310-5", quantity(38.2, "Cel", "Cel")),
    ]
    .into_iter()
    .map(|r| json!({"resource": r, "request": {"method": "POST", "url": "Observation"}}))
    .collect();
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

fn valid_clinical() -> Vec<Value> {
    let subject = json!({"reference": format!("Patient/{DAVID}")});
    vec![
        json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "code": {"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
            "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": DAVID}},
            "reasonCode": [{"text": "Fever and crackles: ? pneumonia"}]}),
        json!({"resourceType": "DiagnosticReport", "status": "final", "basedOn": [{"reference": "ServiceRequest/1"}],
            "code": {"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
            "conclusion": "Left lower lobe consolidation."}),
        json!({"resourceType": "Condition", "subject": subject,
            "code": {"text": "Community-acquired pneumonia",
                "coding": [{"system": "http://snomed.info/sct", "code": "385093006"}]}}),
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "Amoxicillin"}, "subject": subject,
            "dosageInstruction": [{"route": {"text": "oral"}, "timing": {"code": {"text": "three times a day"}},
                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]}),
    ]
}

/// What remit accepts as a set must be within the ranges it promises.
/// A set as the API receives it, complete and in range: the start of every mutated one.
fn valid_api_set() -> Map<String, Value> {
    let v = serde_json::json!({"respiration_rate": 18, "spo2": 96, "spo2_scale": 1, "on_oxygen": false,
        "systolic_bp": 120, "diastolic_bp": 80, "pulse": 72, "consciousness": "alert", "temperature": 37.0});
    v.as_object().cloned().unwrap_or_default()
}

/// One change to a set's field: a value (mostly a number, which may or may not be in range), or the field removed.
fn set_field_change() -> impl Strategy<Value = (&'static str, Option<Value>)> {
    let fields: Vec<&'static str> = remit_domain::obs::SET_FIELDS.into_iter().chain(["missing"]).collect();
    (
        proptest::sample::select(fields),
        proptest::option::weighted(0.9, prop_oneof![4 => number(), 1 => arb_json()]),
    )
}

/// The mutated sets start from one the parser accepts, and a change to one field is often still a set: the range
/// check in `api_sets_mutated` runs on sets that parsed.
#[test]
fn mutated_api_sets_start_valid_and_often_still_parse() {
    let valid = valid_api_set();
    let (readings, _) = Readings::from_json(&valid).expect("the valid set parses");
    assert!(readings.validate().is_ok());
    let mut parsed = 0;
    for pulse in -50..500 {
        let mut obj = valid.clone();
        obj.insert("pulse".into(), Value::from(pulse));
        if let Ok((r, _)) = Readings::from_json(&obj) {
            assert!(r.validate().is_ok(), "pulse {pulse} accepted out of range");
            parsed += 1;
        }
    }
    assert!(parsed > 100, "only {parsed} of the pulses from -50 to 499 parsed");
}

fn in_range(r: &Readings) -> Result<(), TestCaseError> {
    prop_assert!(r.validate().is_ok(), "accepted out of range: {r:?}");
    Ok(())
}

/// One change to a text file: cut a span, insert text, or repeat a line.
#[derive(Debug, Clone)]
enum Edit {
    Cut(usize, usize),
    Insert(usize, String),
    RepeatLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Edit::Cut(at, n)),
        (
            any::<usize>(),
            prop_oneof![word(), "[\\[\\]=\"{}(),;:#0-9a-z \n-]{0,12}".prop_map(String::from)]
        )
            .prop_map(|(at, s)| Edit::Insert(at, s)),
        any::<usize>().prop_map(Edit::RepeatLine),
    ]
}

fn edited(text: &str, edits: &[Edit]) -> String {
    let mut t: Vec<char> = text.chars().collect();
    for e in edits {
        match e {
            Edit::Cut(at, n) => {
                let at = at % (t.len() + 1);
                let end = (at + n).min(t.len());
                t.drain(at..end);
            }
            Edit::Insert(at, s) => {
                let at = at % (t.len() + 1);
                t.splice(at..at, s.chars());
            }
            Edit::RepeatLine(i) => {
                let s: String = t.iter().collect();
                let lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    continue;
                }
                let i = i % lines.len();
                let mut out: Vec<&str> = lines.clone();
                out.insert(i, lines[i]);
                t = (out.join("\n") + "\n").chars().collect();
            }
        }
    }
    t.into_iter().collect()
}

/// `doc` as a request body is read: written out, then read into the tree the server reads.
fn as_body(doc: &Value) -> String {
    doc.to_string()
}

fn tree(body: &str) -> remit_fhir::Json<'_> {
    remit_fhir::Json::parse(body.as_bytes()).expect("JSON written by serde_json reads")
}

/// An error that names a line must name one the file has.
fn line_within(line: Option<usize>, text: &str) -> Result<(), TestCaseError> {
    if let Some(l) = line {
        prop_assert!(
            l >= 1 && l <= text.lines().count() + 1,
            "line {l} of {}",
            text.lines().count()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn fhir_bundles_taken_apart(ms in vec(mutation(), 1..4)) {
        let mut doc = valid_bundle();
        for m in &ms {
            apply(&mut doc, m);
        }
        let whole = remit_fhir::conforms(&doc);
        let body = as_body(&doc);
        let doc = tree(&body);
        match remit_fhir::obs::bundle_to_set(&doc) {
            Ok(set) => {
                // Its resources checked one by one, a set is never one the model's check of the whole Bundle refuses.
                prop_assert!(whole.is_ok(), "a set read from a Bundle the model refuses: {whole:?}");
                in_range(&set.readings)?
            }
            Err(issue) => {
                let text = format!("{issue:?}");
                prop_assert!(!text.is_empty());
            }
        }
        if let Some(entries) = doc["entry"].as_array() {
            for e in entries {
                if let Ok((set, _)) = remit_fhir::obs::observation_to_set(&e["resource"]) {
                    in_range(&set.readings)?;
                }
            }
        }
    }

    #[test]
    fn fhir_bundle_resources_taken_apart(entry in 0usize..7, ms in vec(mutation(), 1..3)) {
        let mut doc = valid_bundle();
        for m in &ms {
            apply(&mut doc["entry"][entry]["resource"], m);
        }
        let whole = remit_fhir::conforms(&doc);
        let body = as_body(&doc);
        if remit_fhir::obs::bundle_to_set(&tree(&body)).is_ok() {
            prop_assert!(whole.is_ok(), "a set read from a Bundle the model refuses: {whole:?}");
        }
    }

    #[test]
    fn fhir_values_at_random(entry in 0usize..7, v in number()) {
        let mut doc = valid_bundle();
        let r = &mut doc["entry"][entry]["resource"];
        if r["component"].is_array() {
            r["component"][0]["valueQuantity"]["value"] = v;
        } else if r["valueQuantity"].is_object() {
            r["valueQuantity"]["value"] = v;
        } else {
            r["valueCodeableConcept"]["coding"][0]["code"] = v;
        }
        let body = as_body(&doc);
        match remit_fhir::obs::bundle_to_set(&tree(&body)) {
            Ok(set) => in_range(&set.readings)?,
            Err(issue) => {
                let text = format!("{issue:?}");
                prop_assert!(text.contains("entry"), "the issue names the element: {text}");
            }
        }
    }

    #[test]
    fn fhir_bodies_as_text_at_random(edits in vec(edit(), 1..6)) {
        let text = edited(&valid_bundle().to_string(), &edits);
        let value = serde_json::from_str::<Value>(&text);
        match remit_fhir::Json::parse(text.as_bytes()) {
            Ok(read) => {
                let value = value.map_err(|e| TestCaseError::fail(format!("the tree read what serde_json refuses: {e}")))?;
                prop_assert_eq!(read, remit_fhir::Json::from_value(&value));
            }
            Err(e) if e.to_string().contains("appears twice") => {}
            Err(e) => prop_assert!(value.is_err(), "the tree refused JSON serde_json reads: {e}"),
        }
    }

    #[test]
    fn fhir_documents_at_random(doc in arb_json()) {
        let _ = remit_fhir::conforms(&doc);
        let body = as_body(&doc);
        let read = tree(&body);
        // As serde_json reads the same text (its numbers may differ from `doc`'s in the last place).
        let value: Value = serde_json::from_str(&body).expect("serde_json reads what it wrote");
        prop_assert_eq!(&read, &remit_fhir::Json::from_value(&value), "the tree read from the text is the document");
        let doc = read;
        if let Ok(set) = remit_fhir::obs::bundle_to_set(&doc) {
            in_range(&set.readings)?;
        }
        if let Ok((set, _)) = remit_fhir::obs::observation_to_set(&doc) {
            in_range(&set.readings)?;
        }
        let _ = remit_fhir::clinical::referral_from_fhir(&doc);
        let _ = remit_fhir::clinical::report_from_fhir(&doc);
        let _ = remit_fhir::clinical::condition_from_fhir(&doc);
        let _ = remit_fhir::clinical::medication_request_from_fhir(&doc);
    }

    #[test]
    fn clinical_resources_taken_apart(which in 0usize..4, ms in vec(mutation(), 1..4)) {
        let mut doc = valid_clinical()[which].clone();
        for m in &ms {
            apply(&mut doc, m);
        }
        let _ = remit_fhir::conforms(&doc);
        let body = as_body(&doc);
        let doc = tree(&body);
        if let Ok((_, info, _)) = remit_fhir::clinical::referral_from_fhir(&doc) {
            prop_assert!(!info.trim().is_empty(), "a referral without clinical information was accepted");
        }
        let _ = remit_fhir::clinical::report_from_fhir(&doc);
        if let Ok((_, text, _)) = remit_fhir::clinical::condition_from_fhir(&doc) {
            prop_assert!(!text.trim().is_empty(), "a condition without words was accepted");
        }
        let _ = remit_fhir::clinical::medication_request_from_fhir(&doc);
    }

    #[test]
    fn api_sets_mutated(changes in vec(set_field_change(), 1..4)) {
        let mut obj = valid_api_set();
        for (field, with) in &changes {
            match with {
                Some(v) => obj.insert((*field).to_owned(), v.clone()),
                None => obj.remove(*field),
            };
        }
        if let Ok((readings, _)) = Readings::from_json(&obj) {
            in_range(&readings)?;
        }
        if let Ok(signs) = remit_domain::news2::VitalSigns::from_json(&Value::Object(obj)) {
            prop_assert!(signs.score().score <= 20);
        }
    }

    #[test]
    fn the_pay_table_edited(edits in vec(edit(), 1..4)) {
        let text = edited(include_str!("../data/pay/afc-england-2025-26.toml"), &edits);
        if let Err(e) = remit_domain::pay::PayTable::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
            line_within(e.line, &text)?;
        }
    }

    #[test]
    fn the_revalidation_requirements_edited(edits in vec(edit(), 1..4)) {
        let text = edited(include_str!("../policies/nhs-england/revalidation.toml"), &edits);
        if let Err(e) = remit_domain::revalidation::Standards::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
            line_within(e.line, &text)?;
        }
    }

    #[test]
    fn the_examination_catalogue_edited(edits in vec(edit(), 1..4)) {
        let text = edited(include_str!("../data/imaging/examinations.toml"), &edits);
        if let Err(e) = remit_domain::imaging::Catalogue::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
            line_within(e.line, &text)?;
        }
    }
}

proptest! {
    // Each case compiles and validates a whole pack.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn policy_packs_edited(file in 0usize..64, edits in vec(edit(), 1..3)) {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/nhs-england");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut names: Vec<_> = std::fs::read_dir(&shipped).expect("the shipped pack").map(|e| e.expect("entry").file_name()).collect();
        names.sort();
        let target = names[file % names.len()].clone();
        for name in &names {
            let text = std::fs::read_to_string(shipped.join(name)).expect("pack file");
            let text = if *name == target { edited(&text, &edits) } else { text };
            std::fs::write(dir.path().join(name), &text).expect("write");
        }
        match remit_policy::PolicyPack::load(dir.path()) {
            Ok(pack) => prop_assert!(!pack.activities().is_empty()),
            Err(e) => {
                prop_assert!(e.file.starts_with(dir.path()), "the error names a file of the pack: {e}");
                if let Ok(text) = std::fs::read_to_string(&e.file) {
                    line_within(e.line, &text)?;
                }
            }
        }
    }
}

/// `remit news2` answers every line of hostile input with one line, in order: a score or an error.
#[test]
fn news2_lines_at_random() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let line = prop_oneof![
        arb_json().prop_map(|v| v.to_string().into_bytes()),
        btree_map(word(), number(), 0..9).prop_map(|m| Value::Object(m.into_iter().collect()).to_string().into_bytes()),
        vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..64),
    ];
    let mut lines = Vec::new();
    for _ in 0..2000 {
        lines.push(line.new_tree(&mut runner).expect("a value").current());
    }
    lines.push(
        br#"{"respiration_rate":25,"spo2":93,"spo2_scale":1,"on_oxygen":false,"systolic_bp":105,"pulse":105,"consciousness":"alert","temperature":37.5}"#
            .to_vec(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_remit"))
        .arg("news2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("remit news2 runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input: Vec<u8> = lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("remit news2 finishes");
    writer.join().expect("writer").expect("stdin written");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = String::from_utf8(out.stdout)
        .expect("UTF-8 out")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each answer is JSON"))
        .collect();
    assert_eq!(answers.len(), lines.len(), "one answer per line");
    for a in &answers {
        let score = a["score"].as_u64();
        assert!(score.is_some_and(|s| s <= 20) || a["error"].is_string(), "{a}");
    }
    assert_eq!(answers.last().expect("the valid line")["score"], 7);
}
