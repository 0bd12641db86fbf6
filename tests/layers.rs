//! The crates' layering, as ARCHITECTURE.md states it, read from `cargo metadata`: a crate that comes to depend on
//! one it must not (the domain on the database, the clinical services on HTTP, the FHIR mapping on the store) fails
//! here, and so does a new crate until its place in the layering is written down below.

use std::collections::BTreeSet;
use std::process::Command;

/// remit's own crates, and the outside crates that mark a layer: the database drivers, the async runtime, HTTP and
/// its server, rendering, the API document, the FHIR model and the policy engine.
const WATCHED: &[&str] = &[
    "remit-domain",
    "remit-policy",
    "remit-fhir",
    "remit-store",
    "remit-services",
    "remit-server",
    "remit-bench",
    "remit",
    "sqlx",
    "rusqlite",
    "tokio",
    "axum",
    "hyper",
    "hyper-util",
    "tower",
    "tower-http",
    "askama",
    "utoipa",
    "utoipa-axum",
    "fhir-model",
    "cedar-policy",
];

/// What each crate may depend on, of the watched crates (normal dependencies; tests and benchmarks may use more).
const ALLOWED: &[(&str, &[&str])] = &[
    // The values remit is about: no I/O, no framework.
    ("remit-domain", &[]),
    // The policy pack and its engine, over the domain's values.
    ("remit-policy", &["remit-domain", "cedar-policy"]),
    // FHIR structures and their mapping to and from the domain's values: nothing of the store or the server.
    ("remit-fhir", &["remit-domain", "fhir-model"]),
    // The database.
    ("remit-store", &["remit-domain", "sqlx", "rusqlite", "tokio"]),
    // The clinical services: the one decision point and every clinical command, knowing nothing of HTTP or FHIR.
    (
        "remit-services",
        &["remit-domain", "remit-policy", "remit-store", "tokio"],
    ),
    // The HTTP face: everything below it, never the binary or the harness.
    (
        "remit-server",
        &[
            "remit-domain",
            "remit-policy",
            "remit-fhir",
            "remit-store",
            "remit-services",
            "tokio",
            "axum",
            "hyper",
            "hyper-util",
            "tower",
            "tower-http",
            "askama",
            "utoipa",
            "utoipa-axum",
        ],
    ),
    // The load harness drives the real binary over HTTP: it never links the server.
    (
        "remit-bench",
        &[
            "remit-domain",
            "remit-policy",
            "remit-store",
            "remit-services",
            "tokio",
            "hyper",
            "hyper-util",
        ],
    ),
    // The command line: the services for its commands, the server for `serve`.
    (
        "remit",
        &[
            "remit-domain",
            "remit-policy",
            "remit-store",
            "remit-services",
            "remit-server",
            "tokio",
        ],
    ),
];

/// Every dependency `metadata` (the answer of `cargo metadata`) shows outside its crate's layer, and every crate
/// whose place is not written down.
fn violations(metadata: &serde_json::Value) -> Vec<String> {
    let mut wrong = Vec::new();
    for p in metadata["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default();
        let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| *n == name) else {
            wrong.push(format!(
                "{name}: a crate whose place in the layering is not written down here"
            ));
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            if d["kind"].is_null() && WATCHED.contains(&dep) && !allowed.contains(&dep) {
                wrong.push(format!("{name} depends on {dep}"));
            }
        }
    }
    wrong
}

#[test]
fn every_crate_depends_only_on_the_layers_below_it() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata answers JSON");
    let wrong = violations(&metadata);
    assert!(wrong.is_empty(), "the layering is broken:\n{}", wrong.join("\n"));
    let names: BTreeSet<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for (name, _) in ALLOWED {
        assert!(
            names.contains(name),
            "{name} is in the layering but not in the workspace"
        );
    }
}

/// The check sees what it forbids: the services taking up HTTP, the FHIR mapping the store, the domain a database,
/// and a crate nobody placed.
#[test]
fn the_layering_check_names_each_dependency_it_forbids() {
    let metadata = serde_json::json!({"packages": [
        {"name": "remit-services", "dependencies": [
            {"name": "remit-store", "kind": null}, {"name": "axum", "kind": null}, {"name": "axum", "kind": "dev"}]},
        {"name": "remit-fhir", "dependencies": [{"name": "remit-store", "kind": null}]},
        {"name": "remit-domain", "dependencies": [{"name": "sqlx", "kind": null}]},
        {"name": "remit-extra", "dependencies": []},
    ]});
    assert_eq!(
        violations(&metadata),
        [
            "remit-services depends on axum",
            "remit-fhir depends on remit-store",
            "remit-domain depends on sqlx",
            "remit-extra: a crate whose place in the layering is not written down here",
        ]
    );
}

/// The Rust files under `dir` (relative to the workspace), every folder.
fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    let mut out = Vec::new();
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                out.push((path, text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// Where `text` puts a question to the policy pack itself (rather than through `remit_services::scope`).
fn asks_the_pack(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter(|l| {
            [
                "pack.decide(",
                "pack.decide_strict(",
                "pack.permits(",
                "pack.least_supervision(",
                "pack.scope(",
            ]
            .iter()
            .any(|call| l.contains(call))
        })
        .map(|l| l.trim().to_owned())
        .collect()
}

/// Every policy question goes through the one decision point, `remit_services::scope`: no handler, command or other
/// service asks the pack itself.
#[test]
fn the_policy_pack_is_asked_only_in_scope() {
    let mut wrong = Vec::new();
    for dir in ["crates/remit-server/src", "crates/remit-services/src", "src"] {
        for (path, text) in sources(dir) {
            if path.ends_with("remit-services/src/scope.rs") {
                assert!(!asks_the_pack(&text).is_empty(), "scope asks the pack");
                continue;
            }
            for line in asks_the_pack(&text) {
                wrong.push(format!("{}: {line}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "the pack asked outside scope:\n{}", wrong.join("\n"));
    assert_eq!(
        asks_the_pack("let d = state.pack.decide(&q);\n// pack.decide(&q)"),
        ["let d = state.pack.decide(&q);"]
    );
}

/// FHIR structures stay inside `remit-fhir`: the server neither names a resource's type nor uses the FHIR model.
#[test]
fn fhir_structures_stay_in_remit_fhir() {
    for dir in ["crates/remit-server/src", "crates/remit-services/src", "src"] {
        for (path, text) in sources(dir) {
            for needle in ["\"resourceType\"", "fhir_model::"] {
                assert!(!text.contains(needle), "{} names {needle}", path.display());
            }
        }
    }
}
