//! Tests as tables: one row a request to one of remit's interfaces (the JSON API and FHIR, the pages, the command
//! line) or a step of the clock, run in order by one helper an interface. A row may keep values from its answer
//! under a name; `{name}` in a later row's path, body or arguments stands for the value (in a JSON body, a string
//! that is exactly `"{name}"` becomes the value itself, number or string).

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use crate::helpers::{Auth, TestApp, TestDb, TestResponse, expect_status, stderr, stdout};

/// What an answer must say, besides its status.
pub enum Said {
    /// `error` contains this.
    Error(&'static str),
    /// The string at this JSON pointer contains this.
    Text(&'static str, &'static str),
    /// The value at this JSON pointer.
    At(&'static str, Value),
    /// The body does not contain this.
    Lacks(&'static str),
    /// The body contains these, each after the one before.
    InOrder(&'static [&'static str]),
    /// Nothing, or null, at this JSON pointer.
    Absent(&'static str),
    /// The value at this JSON pointer is the one kept under this name.
    Kept(&'static str, &'static str),
    /// The body contains this (anywhere).
    Contains(&'static str),
    /// The array at this JSON pointer has this many items.
    Count(&'static str, usize),
    /// The array at this JSON pointer holds exactly one item with (at least) these fields.
    Has(&'static str, Value),
    /// The array at this JSON pointer holds no item with (at least) these fields.
    HasNo(&'static str, Value),
    /// Every item of the array at this JSON pointer has (at least) these fields.
    Every(&'static str, Value),
    /// This header starts with this.
    Header(&'static str, &'static str),
    /// The answer passes this check (a validator of a FHIR resource, say).
    Meets(fn(&Value) -> Result<()>),
}

/// One request to the JSON API or FHIR: who sends what, and what comes back.
pub struct ApiCase {
    pub what: &'static str,
    /// A staff member's username (a bearer token each, made once), or nobody signed in.
    pub who: Option<&'static str>,
    pub method: &'static str,
    pub path: String,
    /// The body: JSON, or raw text sent as JSON (malformed on purpose).
    pub body: Option<Result<Value, &'static str>>,
    /// The body's media type, where it is not the interface's own (JSON, FHIR JSON, or a JSON Patch for PATCH).
    pub content_type: Option<&'static str>,
    pub status: StatusCode,
    pub said: Vec<Said>,
    /// Values to keep from the answer: a name and a JSON pointer.
    pub keep: Vec<(&'static str, &'static str)>,
}

/// Splits `"METHOD /path"`.
fn request_line(request: &str) -> (&'static str, String) {
    let (method, path) = request.split_once(' ').expect("a request is `METHOD /path`");
    let method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        .into_iter()
        .find(|m| *m == method)
        .expect("a method remit answers");
    (method, path.to_owned())
}

/// A request to the JSON API or FHIR: `"METHOD /path"`, sent by `who`, answering `status`.
pub fn api(what: &'static str, who: &'static str, request: impl AsRef<str>, status: StatusCode) -> ApiCase {
    let (method, path) = request_line(request.as_ref());
    ApiCase {
        what,
        who: Some(who),
        method,
        path,
        body: None,
        content_type: None,
        status,
        said: Vec::new(),
        keep: Vec::new(),
    }
}

impl ApiCase {
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(Ok(body));
        self
    }

    /// Sent by nobody signed in.
    pub fn signed_out(mut self) -> Self {
        self.who = None;
        self
    }

    /// Answering `status` after all.
    pub fn answers(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn raw_body(mut self, body: &'static str) -> Self {
        self.body = Some(Err(body));
        self
    }

    pub fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = Some(content_type);
        self
    }

    pub fn said(mut self, said: Said) -> Self {
        self.said.push(said);
        self
    }

    pub fn keep(mut self, name: &'static str, pointer: &'static str) -> Self {
        self.keep.push((name, pointer));
        self
    }
}

/// A page read, or a form posted, by someone signed in through the sign-in form.
pub struct PageCase {
    pub what: &'static str,
    pub who: &'static str,
    pub method: &'static str,
    pub path: String,
    /// A posted form's fields (its CSRF token is added).
    pub form: Vec<(&'static str, &'static str)>,
    pub status: StatusCode,
    /// Whether `said` is said by the page the answer redirects to (which must answer 200), not the answer itself.
    pub followed: bool,
    pub said: Vec<Said>,
    /// A name to keep the page a redirect names under.
    pub keep_location: Option<&'static str>,
}

/// A page: `"GET /path"` or `"POST /path"` (a form), by `who`, answering `status`.
pub fn page(what: &'static str, who: &'static str, request: impl AsRef<str>, status: StatusCode) -> PageCase {
    let (method, path) = request_line(request.as_ref());
    PageCase {
        what,
        who,
        method,
        path,
        form: Vec::new(),
        status,
        followed: false,
        said: Vec::new(),
        keep_location: None,
    }
}

impl PageCase {
    /// A form that does its work: answered 303 (post/redirect/get), and what is said, said by the page it
    /// redirects to.
    pub fn redirects(mut self) -> Self {
        self.status = StatusCode::SEE_OTHER;
        self.followed = true;
        self
    }

    /// Keeps the page the answer redirects to as `name`.
    pub fn keep_location(mut self, name: &'static str) -> Self {
        self.keep_location = Some(name);
        self
    }

    pub fn form(mut self, form: &[(&'static str, &'static str)]) -> Self {
        self.form.extend_from_slice(form);
        self
    }

    pub fn said(mut self, said: Said) -> Self {
        self.said.push(said);
        self
    }
}

/// One run of the `remit` binary: its arguments, its exit status, and words its output must hold.
#[derive(Clone)]
pub struct CliCase<'a> {
    pub what: &'static str,
    pub args: Vec<&'a str>,
    pub status: i32,
    /// Words standard output must hold, each.
    pub out: &'a [&'a str],
    /// Words standard error must hold, each.
    pub err: &'a [&'a str],
}

/// A command line run by the administrator, exiting with `status`: `line` is split at spaces, and a part in single
/// quotes is one argument (`staff add sue.site --name 'Sue Grant'`).
pub fn cli(what: &'static str, line: &'static str, status: i32) -> CliCase<'static> {
    CliCase::of(what, &words(line), status)
}

/// `line` split at spaces, a part in single quotes one word.
fn words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (word, after) = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.split_once('\'').expect("a closing quote"),
            None => rest.split_once(' ').unwrap_or((rest, "")),
        };
        out.push(word);
        rest = after.trim_start();
    }
    out
}

impl<'a> CliCase<'a> {
    /// A run of the binary with `args` as they are, exiting with `status`.
    pub fn of(what: &'static str, args: &[&'a str], status: i32) -> Self {
        CliCase {
            what,
            args: args.to_vec(),
            status,
            out: &[],
            err: &[],
        }
    }

    /// These arguments instead.
    pub fn args(self, args: &[&'a str]) -> Self {
        Self {
            args: args.to_vec(),
            ..self
        }
    }

    pub fn out(self, out: &'a [&'a str]) -> Self {
        Self { out, ..self }
    }

    pub fn err(self, err: &'a [&'a str]) -> Self {
        Self { err, ..self }
    }
}

/// A step of a story: a request to one of remit's interfaces, the audit log read, a change at a SQL prompt, or the
/// clock moving on.
pub enum Step {
    Api(ApiCase),
    Page(PageCase),
    Cli(CliCase<'static>),
    /// What the audit log has gained since the story began or since the step before of this kind: these actions
    /// (a refusal as "action refused"), oldest first, and nothing else but the tokens and sessions the harness made
    /// for the rows' senders (with none, only from here on).
    Audit(&'static str, Option<&'static [&'static str]>),
    /// A value known before the story runs, kept under this name.
    Given(&'static str, Value),
    /// A statement run at a SQL prompt, behind the server's back, as another process would.
    Sql(&'static str),
    /// The test clock moves on this long.
    Wait(chrono::Duration),
}

impl From<ApiCase> for Step {
    fn from(case: ApiCase) -> Self {
        Step::Api(case)
    }
}

impl From<PageCase> for Step {
    fn from(case: PageCase) -> Self {
        Step::Page(case)
    }
}

impl From<CliCase<'static>> for Step {
    fn from(case: CliCase<'static>) -> Self {
        Step::Cli(case)
    }
}

/// The audit log has gained these actions, oldest first, and nothing else since the last such step.
pub fn audit(what: &'static str, actions: &'static [&'static str]) -> Step {
    Step::Audit(what, Some(actions))
}

/// The next [`audit`] step counts from here.
pub fn audit_from_here() -> Step {
    Step::Audit("", None)
}

/// `value`, kept as `name` before the story runs.
pub fn given(name: &'static str, value: impl Into<Value>) -> Step {
    Step::Given(name, value.into())
}

/// `statement`, run at a SQL prompt behind the server's back.
pub fn sql(statement: &'static str) -> Step {
    Step::Sql(statement)
}

/// The test clock moves on `minutes`.
pub fn wait(minutes: i64) -> Step {
    Step::Wait(chrono::Duration::minutes(minutes))
}

/// Values kept from earlier answers, by name.
#[derive(Default)]
pub struct Kept(HashMap<&'static str, Value>);

impl Kept {
    /// `text` with each `{name}` replaced by the value kept under it.
    fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.0 {
            let plain = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            out = out.replace(&format!("{{{name}}}"), &plain);
        }
        out
    }

    /// `value` with each string `"{name}"` replaced by the kept value itself and `{name}` within strings by its text.
    fn fill_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => {
                let name = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                match name.and_then(|n| self.0.get(n)) {
                    Some(v) => v.clone(),
                    None => Value::String(self.fill(s)),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_json(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.fill_json(v))).collect()),
            other => other.clone(),
        }
    }

    fn get(&self, name: &str) -> Result<&Value> {
        self.0.get(name).with_context(|| format!("nothing kept as `{name}`"))
    }
}

/// Whether `item` has every field `fields` has, with the same values (an object's fields alike, to any depth).
fn has_fields(item: &Value, fields: &Value) -> bool {
    match (item, fields) {
        (Value::Object(i), Value::Object(f)) => f.iter().all(|(k, v)| i.get(k).is_some_and(|i| has_fields(i, v))),
        _ => item == fields,
    }
}

/// Checks one answer against what it must say.
fn check(what: &str, res: &TestResponse, said: &[Said], kept: &Kept) -> Result<()> {
    let body = &res.body;
    let json = || serde_json::from_str::<Value>(body).with_context(|| format!("{what}: not JSON: {body}"));
    let items = |pointer: &str| -> Result<Vec<Value>> {
        let v = json()?;
        Ok(v.pointer(pointer)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    };
    let matching = |pointer: &str, fields: &Value| -> Result<usize> {
        let fields = kept.fill_json(fields);
        Ok(items(pointer)?.iter().filter(|i| has_fields(i, &fields)).count())
    };
    for said in said {
        let ok = match said {
            Said::Error(words) => json()?["error"].as_str().unwrap_or_default().contains(words),
            Said::Text(pointer, words) => json()?
                .pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains(words)),
            Said::At(pointer, value) => json()?.pointer(pointer) == Some(&kept.fill_json(value)),
            Said::Absent(pointer) => json()?.pointer(pointer).is_none_or(Value::is_null),
            Said::Kept(pointer, name) => json()?.pointer(pointer) == Some(kept.get(name)?),
            Said::Contains(words) => body.contains(&kept.fill(words)),
            Said::Lacks(words) => !body.contains(&kept.fill(words)),
            Said::InOrder(all) => {
                let mut from = 0;
                all.iter().all(|words| match body[from..].find(&kept.fill(words)) {
                    Some(at) => {
                        from += at + 1;
                        true
                    }
                    None => false,
                })
            }
            Said::Count(pointer, n) => json()?
                .pointer(pointer)
                .and_then(Value::as_array)
                .is_some_and(|a| a.len() == *n),
            Said::Has(pointer, fields) => matching(pointer, fields)? == 1,
            Said::HasNo(pointer, fields) => matching(pointer, fields)? == 0,
            Said::Every(pointer, fields) => {
                let all = items(pointer)?;
                !all.is_empty() && matching(pointer, fields)? == all.len()
            }
            Said::Header(name, start) => res.header(name).is_some_and(|h| h.starts_with(&kept.fill(start))),
            Said::Meets(f) => {
                f(&json()?).with_context(|| format!("{what}: {body}"))?;
                true
            }
        };
        ensure!(ok, "{what}: {body}");
    }
    Ok(())
}

impl TestApp {
    /// Runs a table of JSON API cases in order, failing on the first whose answer differs, named by its `what`.
    pub async fn api_cases(&self, cases: &[ApiCase]) -> Result<()> {
        let mut kept = Kept::default();
        for case in cases {
            self.api_case(case, &mut kept).await?;
        }
        Ok(())
    }

    async fn api_case(&self, case: &ApiCase, kept: &mut Kept) -> Result<TestResponse> {
        let auth = match case.who {
            Some(who) => self.bearer_of(who).await?,
            None => Auth::None,
        };
        let body = match &case.body {
            None => Body::empty(),
            Some(Ok(v)) => Body::from(kept.fill_json(v).to_string()),
            Some(Err(raw)) => Body::from(*raw),
        };
        let content_type = match case.content_type {
            Some(t) => t,
            None if case.method == "PATCH" => "application/json-patch+json",
            None if case.path.starts_with("/fhir") => "application/fhir+json",
            None => "application/json",
        };
        let req = auth
            .apply(Request::builder().method(case.method).uri(kept.fill(&case.path)))
            .header(header::CONTENT_TYPE, content_type)
            .body(body)?;
        let res = self.send(req).await?;
        ensure!(res.status == case.status, "{}: {} {}", case.what, res.status, res.body);
        for (name, pointer) in &case.keep {
            let v = res.json()?.pointer(pointer).cloned();
            kept.0.insert(
                name,
                v.with_context(|| format!("{}: nothing at {pointer}: {}", case.what, res.body))?,
            );
        }
        check(case.what, &res, &case.said, kept)?;
        Ok(res)
    }

    async fn page_case(&self, case: &PageCase, kept: &mut Kept) -> Result<()> {
        let (cookie, csrf) = self.session_of(case.who).await?;
        let path = kept.fill(&case.path);
        // As a browser asks: for HTML.
        let res = if case.method == "GET" {
            let req = cookie.apply(Request::get(&path)).header(header::ACCEPT, "text/html");
            self.send(req.body(Body::empty())?).await?
        } else {
            let mut form = case.form.clone();
            form.push(("csrf", &csrf));
            let req = cookie
                .apply(Request::post(&path))
                .header(header::ACCEPT, "text/html")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "remit.test")
                .header(header::ORIGIN, "http://remit.test")
                .body(Body::from(crate::helpers::form_encode(&form)))?;
            self.send(req).await?
        };
        ensure!(res.status == case.status, "{}: {} {}", case.what, res.status, res.body);
        if let Some(name) = case.keep_location {
            let to = res
                .header("location")
                .with_context(|| format!("{}: no location", case.what))?;
            kept.0.insert(name, Value::String(to.to_owned()));
        }
        if !case.followed {
            return check(case.what, &res, &case.said, kept);
        }
        let to = res
            .header("location")
            .with_context(|| format!("{}: no location", case.what))?;
        let page = self.get(to, &cookie).await?;
        ensure!(
            page.status == StatusCode::OK,
            "{}: {to}: {} {}",
            case.what,
            page.status,
            page.body
        );
        check(case.what, &page, &case.said, kept)
    }

    /// Whether `e` is the harness's own doing: a token or a session made for a row's sender.
    fn harness_entry(&self, e: &remit_domain::audit::AuditEntry) -> bool {
        (e.actor == "test" && e.action == "token.create") || e.action == "session.sign-in"
    }

    /// Runs a story told as a table against this app and its database, failing on the first step whose outcome
    /// differs, named by its `what`.
    pub async fn story(&self, db: &TestDb, steps: Vec<Step>) -> Result<()> {
        let mut kept = Kept::default();
        let logged = || async { anyhow::Ok(self.store.audit_log(1_000_000).await?) };
        let mut seen = logged().await?.len();
        let mut prompt: Option<sqlx::AnyConnection> = None;
        for step in &steps {
            match step {
                Step::Sql(statement) => {
                    if prompt.is_none() {
                        prompt = Some(db.raw().await?);
                    }
                    let raw = prompt.as_mut().context("the SQL prompt")?;
                    sqlx::Executor::execute(raw, *statement).await?;
                }
                Step::Audit(what, actions) => {
                    let log = logged().await?;
                    // Newest first.
                    let new: Vec<String> = log[..log.len() - seen]
                        .iter()
                        .rev()
                        .filter(|e| !self.harness_entry(e))
                        .map(|e| match e.decision {
                            remit_domain::audit::Decision::Deny => format!("{} refused", e.action),
                            _ => e.action.clone(),
                        })
                        .collect();
                    if let Some(actions) = actions {
                        ensure!(new == *actions, "{what}: the audit log gained {new:?}");
                    }
                    seen = log.len();
                }
                Step::Given(name, value) => {
                    kept.0.insert(name, value.clone());
                }
                Step::Api(case) => {
                    self.api_case(case, &mut kept).await?;
                }
                Step::Page(case) => self.page_case(case, &mut kept).await?,
                Step::Cli(case) => {
                    let args: Vec<String> = case.args.iter().map(|a| kept.fill(a)).collect();
                    db.cli_cases(&[case.clone().args(&args.iter().map(String::as_str).collect::<Vec<_>>())])?;
                }
                Step::Wait(by) => self.clock.advance(*by),
            }
        }
        Ok(())
    }
}

impl TestDb {
    /// Runs a table of command lines in order, failing on the first whose outcome differs, named by its `what`.
    pub fn cli_cases(&self, cases: &[CliCase<'_>]) -> Result<()> {
        for case in cases {
            let out = self.remit(&case.args);
            expect_status(&out, case.status).map_err(|e| e.context(case.what))?;
            let (o, e) = (stdout(&out), stderr(&out));
            for words in case.out {
                ensure!(o.contains(words), "{}: standard output lacks `{words}`: {o}", case.what);
            }
            for words in case.err {
                ensure!(e.contains(words), "{}: standard error lacks `{words}`: {e}", case.what);
            }
        }
        Ok(())
    }
}
