//! Loading a policy pack from a directory: `schema.cedarschema`, every `*.cedar` file, `activities.toml`,
//! `competencies.toml`, `escalation.toml` (escalation routes and times) and, if present, `routes.toml` (routes to a
//! professional registration) and `revalidation.toml` (what each regulator asks to renew a registration). Everything is
//! checked at load; an error names the file and the line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Entity, EntityUid, PolicyId, PolicySet, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::reasons;

/// What is wrong with a pack: the file, the line when known, and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct PackError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl PackError {
    fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// An activity as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub id: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub competency: Option<String>,
    /// For X-ray work: examination region → the competency it needs.
    #[serde(default)]
    pub exam_regions: BTreeMap<String, String>,
    /// Whether the activity is done to or for a patient (from the schema: its resource is a Patient).
    #[serde(skip_deserializing)]
    pub patient_facing: bool,
}

/// A competency in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueCompetency {
    pub id: String,
    pub title: String,
    pub validity_months: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityFile {
    activity: Vec<Activity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompetencyFile {
    competency: Vec<CatalogueCompetency>,
}

/// A route to a professional registration (`routes.toml`): an apprenticeship standard, or a degree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub id: String,
    pub title: String,
    /// The standard's reference (IfATE `ST0827`).
    pub standard: String,
    pub apprenticeship_level: u8,
    /// The regulator whose register it leads to (`NMC`, `HCPC`, `GMC`, `GPhC`).
    pub registration: String,
    pub typical_months: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortened_months: Option<u32>,
    pub entry: String,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    #[serde(default)]
    route: Vec<Route>,
}

/// Checks the routes file: each route's fields in range and its regulator one remit knows.
fn check_routes(path: &Path, text: &str) -> Result<Vec<Route>, PackError> {
    let routes = parse_toml::<RouteFile>(path, text)?.route;
    let mut seen = HashSet::new();
    for r in &routes {
        let at = |m: String| {
            let line = text.find(&format!("\"{}\"", r.id)).map(|i| line_of(text, i));
            PackError::new(path, line, m)
        };
        remit_domain::staff::CompetencyId::parse(&r.id).map_err(|e| at(format!("route id: {e}")))?;
        if !seen.insert(r.id.clone()) {
            return Err(at(format!("route `{}` is listed twice", r.id)));
        }
        remit_domain::staff::Regulator::parse(&r.registration)
            .map_err(|e| at(format!("route `{}`: registration: {e}", r.id)))?;
        if !(2..=7).contains(&r.apprenticeship_level) {
            return Err(at(format!("route `{}`: apprenticeship_level must be 2 to 7", r.id)));
        }
        if r.typical_months == 0 || r.typical_months > 120 {
            return Err(at(format!("route `{}`: typical_months must be 1 to 120", r.id)));
        }
        if r.shortened_months.is_some_and(|s| s == 0 || s >= r.typical_months) {
            return Err(at(format!(
                "route `{}`: shortened_months must be fewer than typical_months",
                r.id
            )));
        }
        if !r.source.starts_with("https://") {
            return Err(at(format!("route `{}`: source must be an https:// address", r.id)));
        }
        for (name, value) in [
            ("title", &r.title),
            ("standard", &r.standard),
            ("entry", &r.entry),
            ("source", &r.source),
        ] {
            if value.trim().is_empty() {
                return Err(at(format!("route `{}`: {name} is empty", r.id)));
            }
        }
    }
    Ok(routes)
}

/// A loaded, validated pack.
pub struct PolicyPack {
    pub(crate) dir: PathBuf,
    pub(crate) schema: Schema,
    /// Policy id → position in load order, so that reasons come out in the pack's order.
    pub(crate) order: HashMap<PolicyId, usize>,
    pub(crate) activities: Vec<Activity>,
    pub(crate) competencies: Vec<CatalogueCompetency>,
    /// Who escalations go to and how long each wait may last.
    pub(crate) escalation: remit_domain::escalation::Routes,
    /// Routes to a professional registration (`routes.toml`; none when the pack has no such file).
    pub(crate) routes: Vec<Route>,
    /// Regulators' revalidation requirements (`revalidation.toml`).
    pub(crate) revalidation: remit_domain::revalidation::Standards,
    /// Per action: what a decision about it needs (built once at load).
    pub(crate) slices: HashMap<String, ActionSlice>,
    pub(crate) authorizer: Authorizer,
}

/// The part of a pack one action's decisions can touch.
pub(crate) struct ActionSlice {
    pub(crate) uid: EntityUid,
    /// The policies whose action scope can match this action: unconstrained, `==` it, or `in` one of its groups.
    /// The others can never apply, so evaluating them would only cost time. Membership of the slice proves the
    /// action scope, so each policy here has it rewritten to unconstrained: Cedar then neither rebuilds nor checks
    /// it on every request.
    pub(crate) policies: PolicySet,
    /// The action's entity and its groups' entities, needed only when a condition asks `action in …`; empty
    /// otherwise, which spares every request the entity hierarchy.
    pub(crate) entities: Vec<Entity>,
    /// Each forbid's `@reason`, looked up once here rather than on every refusal.
    pub(crate) reasons: HashMap<PolicyId, String>,
    /// The attribute names the slice's policies can read (`x.attr`, `x has attr`), by whose they are. Cedar has no
    /// dynamic attribute access, so entities and context built with only these decide exactly as complete ones
    /// would (the strict path builds everything, and the tests compare the two).
    pub(crate) attributes: Attributes,
    /// Whether a policy of the slice names a particular patient. If none does, a decision depends on the patient
    /// only through the facts a question gives about them (their place, the actor's open task for them).
    pub(crate) names_patient: bool,
    /// Cedar's answers so far, by the inputs that got them, when no policy of the slice names a particular patient.
    pub(crate) memo: crate::engine::Memo,
}

/// Attribute names read, by whose.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attributes {
    /// Read on `principal` (and on any staff entity, when the reader could not be told).
    pub(crate) principal: HashSet<String>,
    /// Read on `context.supervisor`.
    pub(crate) supervisor: HashSet<String>,
    /// Read on `resource` when it is a staff member.
    pub(crate) colleague: HashSet<String>,
    /// Context keys read.
    pub(crate) context: HashSet<String>,
    /// Everything read on any staff entity: for a staff member who plays two parts (their own supervisor, or the
    /// colleague of a staff-facing activity).
    pub(crate) any_staff: HashSet<String>,
}

impl Attributes {
    fn extend(&mut self, other: &Attributes) {
        self.principal.extend(other.principal.iter().cloned());
        self.supervisor.extend(other.supervisor.iter().cloned());
        self.colleague.extend(other.colleague.iter().cloned());
        self.context.extend(other.context.iter().cloned());
        self.any_staff.extend(
            other
                .principal
                .iter()
                .chain(&other.supervisor)
                .chain(&other.colleague)
                .cloned(),
        );
    }

    /// Adds every attribute read in a policy (Cedar's JSON form). An attribute read on anything but `principal`,
    /// `resource`, `context` or `context.supervisor` counts for every staff entity, to stay sound.
    fn read_in(&mut self, json: &serde_json::Value) {
        match json {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if (k == "." || k == "has")
                        && let Some(attr) = v.get("attr").and_then(|a| a.as_str())
                    {
                        let left = v.get("left");
                        let var = |name: &str| left.is_some_and(|l| l.get("Var").is_some_and(|x| x == name));
                        let supervisor = left.is_some_and(|l| {
                            l.get(".").is_some_and(|inner| {
                                inner.get("attr").is_some_and(|a| a == "supervisor")
                                    && inner
                                        .get("left")
                                        .is_some_and(|x| x.get("Var").is_some_and(|v| v == "context"))
                            })
                        });
                        let attr = attr.to_owned();
                        if var("principal") {
                            self.principal.insert(attr);
                        } else if var("context") {
                            self.context.insert(attr);
                        } else if supervisor {
                            self.supervisor.insert(attr);
                        } else if var("resource") {
                            self.colleague.insert(attr);
                        } else {
                            self.principal.insert(attr.clone());
                            self.supervisor.insert(attr.clone());
                            self.colleague.insert(attr);
                        }
                    }
                    self.read_in(v);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| self.read_in(i)),
            _ => {}
        }
    }
}

/// Whether a policy's conditions (in Cedar's JSON form) test the action's place in the hierarchy.
fn asks_action_in(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            let direct = k == "in"
                && v.get("left")
                    .is_some_and(|l| l.get("Var").is_some_and(|x| x == "action"));
            direct || asks_action_in(v)
        }),
        serde_json::Value::Array(items) => items.iter().any(asks_action_in),
        _ => false,
    }
}

/// The same policy with its action scope unconstrained.
fn without_action_scope(p: &cedar_policy::Policy) -> Result<Prepared, String> {
    let mut json = p.to_json().map_err(|e| e.to_string())?;
    let needs_hierarchy = json.get("conditions").is_some_and(asks_action_in);
    let mut attributes = Attributes::default();
    attributes.read_in(&json);
    let names_patient = names_a_patient(&json);
    json["action"] = serde_json::json!({"op": "All"});
    let policy = cedar_policy::Policy::from_json(Some(p.id().clone()), json).map_err(|e| e.to_string())?;
    Ok(Prepared {
        policy,
        needs_hierarchy,
        attributes,
        names_patient,
    })
}

/// Whether a policy (Cedar's JSON form) names a particular patient: an entity literal of type `Patient` anywhere, in
/// its scope or its conditions.
fn names_a_patient(json: &serde_json::Value) -> bool {
    use serde_json::Value;
    match json {
        Value::Object(m) => {
            let patient = m
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t == "Patient" || t.ends_with("::Patient"))
                && m.contains_key("id");
            patient || m.values().any(names_a_patient)
        }
        Value::Array(a) => a.iter().any(names_a_patient),
        _ => false,
    }
}

/// A policy made ready for its slices.
#[derive(Clone)]
struct Prepared {
    policy: cedar_policy::Policy,
    needs_hierarchy: bool,
    attributes: Attributes,
    names_patient: bool,
}

impl std::fmt::Debug for PolicyPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyPack")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// The first labelled line of a Cedar diagnostic, and its message with its help.
fn describe(d: &dyn Diagnostic, text: &str) -> (Option<usize>, String) {
    let line = d.labels().and_then(|mut l| l.next()).map(|l| line_of(text, l.offset()));
    let mut message = d.to_string();
    if let Some(help) = d.help() {
        message = format!("{message} ({help})");
    }
    (line, message)
}

fn read(path: &Path) -> Result<String, PackError> {
    std::fs::read_to_string(path).map_err(|e| PackError::new(path, None, format!("cannot be read: {e}")))
}

fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, PackError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start));
        PackError::new(path, line, e.message().to_owned())
    })
}

/// The text of a pack, however it was obtained.
struct Sources {
    schema: (PathBuf, String),
    cedar: Vec<(PathBuf, String)>,
    activities: (PathBuf, String),
    competencies: (PathBuf, String),
    escalation: (PathBuf, String),
    routes: Option<(PathBuf, String)>,
    revalidation: Option<(PathBuf, String)>,
}

/// The NHS England pack shipped with remit, compiled in.
const NHS_ENGLAND: &[(&str, &str)] = &[
    (
        "schema.cedarschema",
        include_str!("../../../policies/nhs-england/schema.cedarschema"),
    ),
    (
        "activities.toml",
        include_str!("../../../policies/nhs-england/activities.toml"),
    ),
    (
        "competencies.toml",
        include_str!("../../../policies/nhs-england/competencies.toml"),
    ),
    (
        "escalation.toml",
        include_str!("../../../policies/nhs-england/escalation.toml"),
    ),
    ("routes.toml", include_str!("../../../policies/nhs-england/routes.toml")),
    (
        "revalidation.toml",
        include_str!("../../../policies/nhs-england/revalidation.toml"),
    ),
    (
        "00-baseline.cedar",
        include_str!("../../../policies/nhs-england/00-baseline.cedar"),
    ),
    (
        "10-patient-facing.cedar",
        include_str!("../../../policies/nhs-england/10-patient-facing.cedar"),
    ),
    (
        "20-vitals.cedar",
        include_str!("../../../policies/nhs-england/20-vitals.cedar"),
    ),
    (
        "30-tasks.cedar",
        include_str!("../../../policies/nhs-england/30-tasks.cedar"),
    ),
    (
        "40-procedures.cedar",
        include_str!("../../../policies/nhs-england/40-procedures.cedar"),
    ),
    (
        "50-medicines-and-diagnosis.cedar",
        include_str!("../../../policies/nhs-england/50-medicines-and-diagnosis.cedar"),
    ),
    (
        "60-imaging.cedar",
        include_str!("../../../policies/nhs-england/60-imaging.cedar"),
    ),
    (
        "70-staff.cedar",
        include_str!("../../../policies/nhs-england/70-staff.cedar"),
    ),
];

impl PolicyPack {
    /// The NHS England pack that remit ships (`policies/nhs-england`), as compiled into the binary.
    pub fn nhs_england() -> Self {
        let dir = PathBuf::from("policies/nhs-england");
        let get = |name: &str| {
            let text = NHS_ENGLAND
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| (*t).to_owned())
                .unwrap_or_default();
            (dir.join(name), text)
        };
        let sources = Sources {
            schema: get("schema.cedarschema"),
            cedar: NHS_ENGLAND
                .iter()
                .filter(|(n, _)| n.ends_with(".cedar"))
                .map(|(n, t)| (dir.join(n), (*t).to_owned()))
                .collect(),
            activities: get("activities.toml"),
            competencies: get("competencies.toml"),
            escalation: get("escalation.toml"),
            routes: Some(get("routes.toml")),
            revalidation: Some(get("revalidation.toml")),
        };
        Self::from_sources(&dir, sources).expect("the shipped NHS England pack is valid (a test holds this)")
    }

    /// Loads and validates the pack in `dir`: `schema.cedarschema`, every `*.cedar` file (in name order),
    /// `activities.toml`, `competencies.toml` and `escalation.toml`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, PackError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(PackError::new(dir, None, "is not a directory"));
        }
        let with_text = |name: &str| -> Result<(PathBuf, String), PackError> {
            let path = dir.join(name);
            Ok((path.clone(), read(&path)?))
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| PackError::new(dir, None, format!("cannot be read: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
            .collect();
        files.sort();
        let sources = Sources {
            schema: with_text("schema.cedarschema")?,
            cedar: files
                .into_iter()
                .map(|f| Ok((f.clone(), read(&f)?)))
                .collect::<Result<_, PackError>>()?,
            activities: with_text("activities.toml")?,
            competencies: with_text("competencies.toml")?,
            escalation: with_text("escalation.toml")?,
            // Optional: a pack from before routes were data has none.
            routes: match dir.join("routes.toml") {
                p if p.exists() => Some(with_text("routes.toml")?),
                _ => None,
            },
            // Optional too: without it, no regulator's requirements are tracked.
            revalidation: match dir.join("revalidation.toml") {
                p if p.exists() => Some(with_text("revalidation.toml")?),
                _ => None,
            },
        };
        Self::from_sources(dir, sources)
    }

    fn from_sources(dir: &Path, sources: Sources) -> Result<Self, PackError> {
        let (schema_path, schema_text) = &sources.schema;
        let (schema, _warnings) = Schema::from_cedarschema_str(schema_text).map_err(|e| {
            let (line, message) = describe(&e, schema_text);
            PackError::new(schema_path, line, message)
        })?;
        let mut cedar = sources.cedar;
        cedar.sort_by(|a, b| a.0.cmp(&b.0));
        if cedar.is_empty() {
            return Err(PackError::new(dir, None, "holds no .cedar policy files"));
        }

        let mut policies = PolicySet::new();
        let mut order = HashMap::new();
        // Where each policy came from, to place validation errors.
        let mut origin: HashMap<PolicyId, (PathBuf, String)> = HashMap::new();
        for (file, text) in &cedar {
            let (file, text) = (file.as_path(), text.clone());
            let set = PolicySet::from_str(&text).map_err(|e| {
                let (line, message) = describe(&e, &text);
                PackError::new(file, line, message)
            })?;
            let mut in_file: Vec<_> = set.policies().cloned().collect();
            // Keep the order of the file.
            in_file.sort_by_key(|p| {
                p.id()
                    .to_string()
                    .trim_start_matches("policy")
                    .parse::<usize>()
                    .unwrap_or(0)
            });
            for (n, p) in in_file.into_iter().enumerate() {
                let Some(id) = p.annotation("id").map(str::to_owned) else {
                    return Err(PackError::new(
                        file,
                        None,
                        format!("policy number {} in the file needs an @id(\"…\") annotation", n + 1),
                    ));
                };
                let line = text.find(&format!("@id(\"{id}\")")).map(|o| line_of(&text, o));
                if p.effect() == cedar_policy::Effect::Forbid {
                    match p.annotation("reason") {
                        None | Some("") => {
                            return Err(PackError::new(
                                file,
                                line,
                                format!(
                                    "forbid policy `{id}` needs a @reason(\"…\") annotation: a refusal must explain itself"
                                ),
                            ));
                        }
                        Some(reason) => reasons::check_placeholders(reason)
                            .map_err(|m| PackError::new(file, line, format!("policy `{id}`: {m}")))?,
                    }
                }
                let pid = PolicyId::new(&id);
                let renamed = p.new_id(pid.clone());
                policies
                    .add(renamed)
                    .map_err(|_| PackError::new(file, line, format!("the policy id `{id}` is used twice")))?;
                order.insert(pid.clone(), order.len());
                origin.insert(pid, (file.to_owned(), text.clone()));
            }
        }

        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if let Some(e) = validation.validation_errors().next() {
            let (file, text) = origin
                .get(e.policy_id())
                .cloned()
                .unwrap_or_else(|| (dir.to_owned(), String::new()));
            let (line, message) = describe(e, &text);
            return Err(PackError::new(
                &file,
                line,
                format!("policy `{}`: {message}", e.policy_id()),
            ));
        }

        let (activities_path, activities_text) = &sources.activities;
        let mut activities = parse_toml::<ActivityFile>(activities_path, activities_text)?.activity;
        let (competencies_path, competencies_text) = &sources.competencies;
        let competencies = parse_toml::<CompetencyFile>(competencies_path, competencies_text)?.competency;
        let mut seen = HashSet::new();
        for c in &competencies {
            remit_domain::staff::CompetencyId::parse(&c.id)
                .map_err(|e| PackError::new(competencies_path, None, e.to_string()))?;
            if !seen.insert(c.id.clone()) {
                return Err(PackError::new(
                    competencies_path,
                    None,
                    format!("competency `{}` is listed twice", c.id),
                ));
            }
            if c.validity_months == 0 || c.validity_months > 120 {
                return Err(PackError::new(
                    competencies_path,
                    None,
                    format!("competency `{}`: validity_months must be 1 to 120", c.id),
                ));
            }
        }

        // The catalogue and the schema's actions must be the same set.
        let groups: HashSet<String> = schema.action_groups().map(|a| a.id().unescaped().to_owned()).collect();
        let mut action_uids = HashMap::new();
        for uid in schema.actions() {
            let name = uid.id().unescaped().to_owned();
            if !groups.contains(&name) {
                action_uids.insert(name, uid.clone());
            }
        }
        let patient_type = cedar_policy::EntityTypeName::from_str("Patient").expect("a valid type name");
        let mut listed = HashSet::new();
        for a in &mut activities {
            let Some(uid) = action_uids.get(&a.id) else {
                return Err(PackError::new(
                    activities_path,
                    None,
                    format!("activity `{}` is not an action in schema.cedarschema", a.id),
                ));
            };
            if !listed.insert(a.id.clone()) {
                return Err(PackError::new(
                    activities_path,
                    None,
                    format!("activity `{}` is listed twice", a.id),
                ));
            }
            a.patient_facing = schema
                .resources_for_action(uid)
                .is_some_and(|mut r| r.any(|t| *t == patient_type));
            for c in a.competency.iter().chain(a.exam_regions.values()) {
                if !seen.contains(c) {
                    return Err(PackError::new(
                        activities_path,
                        None,
                        format!(
                            "activity `{}` names competency `{c}`, which is not in competencies.toml",
                            a.id
                        ),
                    ));
                }
            }
        }
        if let Some(missing) = action_uids.keys().find(|a| !listed.contains(*a)) {
            return Err(PackError::new(
                activities_path,
                None,
                format!("the schema's action `{missing}` has no entry in the catalogue"),
            ));
        }

        let action_entities = schema
            .action_entities()
            .map_err(|e| PackError::new(schema_path, None, format!("the actions cannot be built: {e}")))?;
        let mut slices = HashMap::new();
        // Each policy is rewritten once, whichever slices it lands in.
        let mut rewritten_by_id: HashMap<PolicyId, Prepared> = HashMap::new();
        for (name, uid) in &action_uids {
            let ancestors: HashSet<EntityUid> = action_entities
                .ancestors(uid)
                .map(|a| a.cloned().collect())
                .unwrap_or_default();
            let mut slice = PolicySet::new();
            let mut reasons = HashMap::new();
            let mut needs_hierarchy = false;
            let mut attributes = Attributes::default();
            let mut names_patient = false;
            for p in policies.policies() {
                let applies = match p.action_constraint() {
                    ActionConstraint::Any => true,
                    ActionConstraint::Eq(a) => a == *uid,
                    ActionConstraint::In(groups) => groups.iter().any(|g| g == uid || ancestors.contains(g)),
                };
                if !applies {
                    continue;
                }
                let prepared = match rewritten_by_id.get(p.id()) {
                    Some(done) => done.clone(),
                    None => {
                        let done = without_action_scope(p).map_err(|e| {
                            PackError::new(dir, None, format!("policy `{}` cannot be prepared: {e}", p.id()))
                        })?;
                        rewritten_by_id.insert(p.id().clone(), done.clone());
                        done
                    }
                };
                needs_hierarchy |= prepared.needs_hierarchy;
                names_patient |= prepared.names_patient;
                attributes.extend(&prepared.attributes);
                if let Some(r) = p.annotation("reason") {
                    reasons.insert(p.id().clone(), r.to_owned());
                }
                slice.add(prepared.policy).expect("ids are unique in the whole set");
            }
            let entities: Vec<Entity> = if needs_hierarchy {
                action_entities
                    .clone()
                    .into_iter()
                    .filter(|e| e.uid() == *uid || ancestors.contains(&e.uid()))
                    .collect()
            } else {
                Vec::new()
            };
            slices.insert(
                name.clone(),
                ActionSlice {
                    uid: uid.clone(),
                    policies: slice,
                    entities,
                    reasons,
                    attributes,
                    names_patient,
                    memo: Default::default(),
                },
            );
        }
        let (escalation_path, escalation_text) = &sources.escalation;
        let escalation = remit_domain::escalation::Routes::parse(escalation_text)
            .map_err(|e| PackError::new(escalation_path, e.line, e.message))?;
        let routes = match &sources.routes {
            Some((path, text)) => check_routes(path, text)?,
            None => Vec::new(),
        };
        let revalidation = match &sources.revalidation {
            Some((path, text)) => remit_domain::revalidation::Standards::parse(text)
                .map_err(|e| PackError::new(path, e.line, e.message))?,
            None => remit_domain::revalidation::Standards::default(),
        };
        Ok(Self {
            dir: dir.to_owned(),
            escalation,
            routes,
            revalidation,
            slices,
            schema,
            order,
            activities,
            competencies,
            authorizer: Authorizer::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The routes to a professional registration the employer lists (`routes.toml`).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// What each regulator asks of a registrant to renew (`revalidation.toml`; none listed when the pack has no such
    /// file).
    pub fn revalidation(&self) -> &remit_domain::revalidation::Standards {
        &self.revalidation
    }

    /// The employer's escalation routes and times (`escalation.toml`).
    pub fn escalation(&self) -> &remit_domain::escalation::Routes {
        &self.escalation
    }

    /// The activity catalogue, in the pack's order.
    pub fn activities(&self) -> &[Activity] {
        &self.activities
    }

    pub fn activity(&self, id: &str) -> Option<&Activity> {
        self.activities.iter().find(|a| a.id == id)
    }

    /// Whether every patient in the same place gets the same decision about `activity` from the same actor, given
    /// the same open-task fact: true unless a policy that can apply to it names a particular patient. Lets a list of
    /// patients be judged once per place rather than once per patient.
    pub fn alike_for_every_patient(&self, activity: &str) -> bool {
        self.slices.get(activity).is_some_and(|s| !s.names_patient)
    }

    /// The competency catalogue.
    pub fn competencies(&self) -> &[CatalogueCompetency] {
        &self.competencies
    }

    /// The competency catalogue as the domain knows it (ids were checked at load).
    pub fn competency_catalogue(&self) -> Vec<remit_domain::competency::Competency> {
        self.competencies
            .iter()
            .filter_map(|c| {
                Some(remit_domain::competency::Competency {
                    id: remit_domain::staff::CompetencyId::parse(&c.id).ok()?,
                    title: c.title.clone(),
                    validity_months: c.validity_months,
                })
            })
            .collect()
    }

    /// The number of policies.
    pub fn policy_count(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn shipped_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/nhs-england")
    }

    /// A copy of the shipped pack with one file edited.
    pub(crate) fn edited(file: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(shipped_dir()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        let target = dir.path().join(file);
        let text = std::fs::read_to_string(&target).unwrap_or_default();
        std::fs::write(&target, edit(text)).unwrap();
        dir
    }

    /// A copy of the shipped pack with one file replaced, and the error loading it.
    fn broken(file: &str, edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, PackError) {
        let dir = edited(file, edit);
        let err = PolicyPack::load(dir.path()).unwrap_err();
        (dir, err)
    }

    #[test]
    fn a_policy_naming_a_patient_makes_decisions_patient_specific() {
        let shipped = PolicyPack::nhs_england();
        assert!(shipped.alike_for_every_patient("record.read"));
        assert!(shipped.alike_for_every_patient("vitals.record"));
        assert!(!shipped.alike_for_every_patient("no.such.activity"));
        // Named in the scope, or in a condition.
        for (scope, condition) in [
            ("resource == Patient::\"9990001375\"", ""),
            ("resource", "when { resource == Patient::\"9990001375\" }"),
        ] {
            let dir = edited("10-patient-facing.cedar", |text| {
                format!(
                    "{text}\n@id(\"vip\")\n@reason(\"This patient's record is restricted.\")\n\
                     forbid (principal, action == Action::\"record.read\", {scope})\n{condition};\n"
                )
            });
            let pack = PolicyPack::load(dir.path()).unwrap();
            assert!(!pack.alike_for_every_patient("record.read"), "{scope} {condition}");
            assert!(
                pack.alike_for_every_patient("vitals.record"),
                "other actions are not touched"
            );
        }
    }

    #[test]
    fn the_shipped_pack_loads_and_is_what_is_compiled_in() {
        let from_disk = PolicyPack::load(shipped_dir()).unwrap();
        let compiled = PolicyPack::nhs_england();
        assert_eq!(from_disk.policy_count(), compiled.policy_count());
        assert_eq!(from_disk.activities(), compiled.activities());
        assert_eq!(from_disk.competencies(), compiled.competencies());
        assert_eq!(from_disk.routes(), compiled.routes());
        assert_eq!(compiled.routes().len(), 3);
        assert_eq!(from_disk.revalidation(), compiled.revalidation());
        assert_eq!(compiled.revalidation().all().len(), 2);
        let cedar_files = std::fs::read_dir(shipped_dir())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cedar"))
            .count();
        assert_eq!(
            cedar_files,
            NHS_ENGLAND.iter().filter(|(n, _)| n.ends_with(".cedar")).count(),
            "every file is compiled in"
        );
        assert_eq!(compiled.activities().len(), 37);
        assert_eq!(compiled.competencies().len(), 19);
        assert!(compiled.activity("vitals.record").unwrap().patient_facing);
        assert!(!compiled.activity("staff.manage").unwrap().patient_facing);
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let (_d, e) = broken("30-tasks.cedar", |t| {
            t.replace("unless { principal.registered };", "unless { principal.registered ")
        });
        assert!(e.file.ends_with("30-tasks.cedar"), "{e}");
        // The brace left open on line 6 is found where the next policy starts.
        assert_eq!(e.line, Some(8), "{e}");
    }

    #[test]
    fn a_policy_that_does_not_fit_the_schema_names_file_and_line() {
        let (_d, e) = broken("40-procedures.cedar", |t| {
            t.replace("unless { principal.level >= 3 };", "unless { principal.grade >= 3 };")
        });
        assert!(e.file.ends_with("40-procedures.cedar"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("procedure.venepuncture/level"), "{e}");
    }

    #[test]
    fn a_forbid_without_a_reason_is_refused() {
        let (_d, e) = broken("30-tasks.cedar", |t| {
            t.replacen(
                "@reason(\"Delegating work needs a current professional registration; {actor} {registrations}.\")\n",
                "",
                1,
            )
        });
        assert!(e.message.contains("needs a @reason"), "{e}");
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn an_unknown_placeholder_is_refused() {
        let (_d, e) = broken("20-vitals.cedar", |t| {
            t.replacen("{actor}'s level", "{person}'s level", 1)
        });
        assert!(e.message.contains("`{person}`"), "{e}");
        assert!(e.file.ends_with("20-vitals.cedar"));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let (_d, e) = broken("30-tasks.cedar", |t| {
            t.replace(
                "@id(\"task.countersign/level\")",
                "@id(\"task.countersign/registered\")",
            )
        });
        assert!(e.message.contains("used twice"), "{e}");
    }

    #[test]
    fn the_catalogue_must_match_the_schema() {
        let (_d, e) = broken("activities.toml", |t| {
            t.replacen("id = \"record.read\"", "id = \"record.peek\"", 1)
        });
        assert!(e.message.contains("`record.peek` is not an action"), "{e}");
        let (_d, e) = broken("activities.toml", |t| {
            t.replacen("competency = \"venepuncture\"", "competency = \"phlebotomy\"", 1)
        });
        assert!(e.message.contains("`phlebotomy`"), "{e}");
        let (_d, e) = broken("activities.toml", |t| {
            t.replacen("title = \"Take blood\"", "title = \"Take blood\"\nfee = 3", 1)
        });
        assert!(e.file.ends_with("activities.toml") && e.line.is_some(), "{e}");
        assert!(e.message.contains("fee"), "{e}");
    }

    #[test]
    fn a_bad_schema_or_catalogue_names_its_file() {
        let (_d, e) = broken("schema.cedarschema", |t| t.replace("entity Place;", "entity Place"));
        assert!(e.file.ends_with("schema.cedarschema") && e.line.is_some(), "{e}");
        let (_d, e) = broken("competencies.toml", |t| {
            t.replacen("validity_months = 36", "validity_months = 0", 1)
        });
        assert!(e.message.contains("validity_months"), "{e}");
        let (_d, e) = broken("competencies.toml", |t| {
            t.replacen("validity_months = 36", "validity_months = \"three years\"", 1)
        });
        assert_eq!(e.line, Some(7), "{e}");
    }
}
