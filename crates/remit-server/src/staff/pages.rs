//! My work (tasks, scope, competencies and CPD) and the education lead's competency matrix and sign-off.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, render};
use crate::http::pages::{Notice, PageQuery, just_saved, refused_page};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use remit_domain::staff::{CompetencyId, StaffStatus, Username};
use remit_policy::ScopeLine;
use remit_services::tasks::TaskCard;
use remit_store::competency::{CpdEntry, StaffCompetency};
use remit_store::task::{TaskFilter, TaskView};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "me.html")]
struct MyWork<'a> {
    actor: &'a Actor,
    notice: Notice,
    level: String,
    on_duty: String,
    mine: Vec<TaskCard>,
    delegated: Vec<TaskCard>,
    scope: Vec<ScopeLine>,
    competencies: Vec<StaffCompetency>,
    cpd: Vec<CpdEntry>,
    enrolments: Vec<remit_store::competency::Enrolment>,
    /// Each registration against its regulator's requirements.
    revalidation: Vec<remit_domain::revalidation::Status>,
    /// How CPD may be done: (value, words).
    methods: Vec<(&'static str, &'static str)>,
}

/// How a CPD activity may be done, as the form offers it.
fn cpd_methods() -> Vec<(&'static str, &'static str)> {
    remit_domain::revalidation::CpdMethod::ALL
        .iter()
        .map(|m| (m.as_str(), m.words()))
        .collect()
}

/// A form's date: blank is today (UK time).
fn date_or_today(state: &AppState, typed: &str) -> Result<chrono::NaiveDate, remit_domain::InvalidValue> {
    match typed.trim() {
        "" => Ok(remit_domain::time::london_date(state.store.now())),
        d => remit_domain::time::parse_date("date", d),
    }
}

pub(crate) async fn my_work_page(state: &AppState, actor: &Actor, notice: Notice) -> Result<Response, AppError> {
    let me = actor.profile.staff.username.to_string();
    let mine = state
        .store
        .list_tasks(&TaskFilter {
            owner: Some(me.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|t| t.status.is_open())
        .collect::<Vec<TaskView>>();
    let delegated = state
        .store
        .list_tasks(&TaskFilter {
            requester: Some(me.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|t| t.status.is_open())
        .collect::<Vec<TaskView>>();
    let reader = &actor.profile.staff.username;
    let (store, pack) = (&state.store, &state.pack);
    let mine = remit_services::tasks::cards(store, pack, reader, mine).await?;
    let delegated = remit_services::tasks::cards(store, pack, reader, delegated).await?;
    let scope = remit_services::scope::show(&state.store, &state.pack, &actor.profile.staff.username).await?;
    let competencies = state
        .store
        .competency_records(Some(&actor.profile.staff.username))
        .await?;
    let cpd = state.store.cpd_entries(Some(&actor.profile.staff.username)).await?;
    let enrolments = state.store.enrolments(Some(&actor.profile.staff.username)).await?;
    let revalidation = remit_services::revalidation::status(store, pack, reader)
        .await?
        .registrations;
    let places = state.store.places().await?;
    let on_duty: Vec<String> = actor
        .profile
        .on_duty
        .iter()
        .map(|c| {
            places
                .iter()
                .find(|p| &p.code == c)
                .map_or_else(|| c.to_string(), |p| p.name.clone())
        })
        .collect();
    let status = notice.status();
    let page = render(&MyWork {
        actor,
        notice,
        level: actor.profile.staff.level.map_or_else(
            || "no clinical level".to_owned(),
            |l| format!("level {l} — {}", l.name()),
        ),
        on_duty: if on_duty.is_empty() {
            "not on duty".into()
        } else {
            on_duty.join(", ")
        },
        mine,
        delegated,
        scope: scope.activities,
        competencies,
        cpd,
        enrolments,
        revalidation,
        methods: cpd_methods(),
    })?;
    Ok((status, page).into_response())
}

/// What a person's work page says they have just done (a task's form, or the CPD form, redirects here).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustMovedTask {
    task: Option<i64>,
    cpd: Option<i64>,
}

pub(crate) async fn my_work(
    State(state): State<AppState>,
    actor: Actor,
    query: PageQuery<JustMovedTask>,
) -> Result<Response, AppError> {
    let mut notice = Notice::default();
    let saved = just_saved(query)?;
    if let Some(id) = saved.cpd {
        let e = state
            .store
            .cpd_entries(Some(&actor.profile.staff.username))
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no CPD entry {id} of yours")))?;
        notice.message = Some(format!(
            "CPD recorded: {}, {} h{} on {}.",
            e.activity,
            e.hours,
            if e.participatory { ", participatory," } else { "" },
            remit_domain::time::uk_date(e.date)
        ));
    }
    if let Some(id) = saved.task {
        // Said only to a party to the task.
        let t = state.store.task(id).await?;
        let me = actor.profile.staff.username.as_str();
        if t.delegator != me && t.delegatee != me && t.supervisor.as_deref() != Some(me) {
            return Err(AppError::NotFound(format!("no task {id} of yours")));
        }
        notice.message = Some(format!("Task {} is now {}.", t.id, t.status.as_str()));
    }
    my_work_page(&state, &actor, notice).await
}

/// How long after a duty someone still counts among a place's staff on its competency matrix.
const TEAM_DAYS: i64 = 90;

/// A competency as the matrix shows it: red, amber or green (the NHS.UK tag colour; none where not held), in words.
struct MatrixCell {
    tag: &'static str,
    words: String,
}

struct MatrixRow {
    name: String,
    on_duty: bool,
    cells: Vec<MatrixCell>,
}

/// One place's matrix: a row for each person, a column for each competency of the catalogue (a gap is what an
/// education lead looks for).
struct Matrix {
    place: String,
    rows: Vec<MatrixRow>,
}

/// A competency that has lapsed (or was revoked) and is not held afresh.
struct Lapsed {
    name: String,
    competency: String,
    words: String,
}

/// A valid competency this close to expiry is amber.
const AMBER_DAYS: i64 = 60;

fn matrix_cell(best: Option<&StaffCompetency>) -> MatrixCell {
    let Some(c) = best else {
        return MatrixCell {
            tag: "",
            words: "not held".into(),
        };
    };
    let until = crate::http::uk::date(&c.record.expires_on);
    let (tag, words) = match c.status {
        "valid" if c.days_to_expiry <= AMBER_DAYS => (
            "nhsuk-tag--yellow",
            match c.days_to_expiry {
                0 => format!("expires today ({until})"),
                1 => format!("expires tomorrow ({until})"),
                n => format!("expires in {n} days ({until})"),
            },
        ),
        "valid" => ("nhsuk-tag--green", format!("valid until {until}")),
        "not-yet-valid" => (
            "nhsuk-tag--grey",
            format!("valid from {}", crate::http::uk::date(&c.record.signed_off_on)),
        ),
        "expired" => ("nhsuk-tag--red", format!("expired {until}")),
        _ => ("nhsuk-tag--red", "revoked".into()),
    };
    MatrixCell { tag, words }
}

#[derive(Template)]
#[template(path = "education.html")]
struct EducationPage<'a> {
    actor: &'a Actor,
    notice: Notice,
    matrices: Vec<Matrix>,
    /// The competencies' titles: every matrix's columns.
    columns: Vec<String>,
    lapsed: Vec<Lapsed>,
    expiring: Vec<(i64, Vec<StaffCompetency>)>,
    staff: Vec<(String, String)>,
    catalogue: Vec<(String, String)>,
    /// A sign-off not made: what it asked for.
    chosen: (String, String, String),
    /// Who is on which programme: (name, programme, provider, expected end).
    programmes: Vec<(String, String, String, String)>,
    /// The pack's routes: (id, title).
    routes: Vec<(String, String)>,
    /// Registrants whose application is due within `due_days` or whose registration has lapsed.
    due: Vec<remit_services::revalidation::Revalidation>,
    due_days: i64,
}

/// The education page; `chosen` is what a sign-off that was not made asked for (colleague, competency, evidence),
/// shown again so that nothing need be chosen twice.
async fn education_page(
    state: &AppState,
    actor: &Actor,
    notice: Notice,
    chosen: (String, String, String),
) -> Result<Response, AppError> {
    if !actor.is_education_lead() {
        let why = vec!["The competency matrix is for education leads and administrators.".to_owned()];
        let reasons =
            remit_services::scope::refuse_read(&state.store, actor, "competency.matrix", "competencies", why).await?;
        return refused_page(actor, "Open the competency matrix", &reasons);
    }
    let now = state.store.now();
    let records = state.store.competency_records(None).await?;
    let catalogue = state.pack.competency_catalogue();
    // Each person's best record of each competency: valid beats not yet valid beats lapsed (expired or revoked);
    // between two of a kind, the one signed off later.
    let rank = |s: &str| match s {
        "valid" => 2,
        "not-yet-valid" => 1,
        _ => 0,
    };
    let mut best: BTreeMap<(&str, &str), &StaffCompetency> = BTreeMap::new();
    for r in &records {
        let key = (r.staff.as_str(), r.record.competency.as_str());
        let better =
            |b: &&StaffCompetency| (rank(r.status), r.record.signed_off_on) >= (rank(b.status), b.record.signed_off_on);
        if best.get(&key).is_none_or(better) {
            best.insert(key, r);
        }
    }
    let everyone = state.store.list_staff().await?;
    let clinical: Vec<_> = everyone
        .iter()
        .filter(|s| s.staff.status == StaffStatus::Active && s.staff.level.is_some())
        .collect();
    let row = |username: &str, on_duty: bool| -> Option<MatrixRow> {
        let who = clinical.iter().find(|s| s.staff.username.as_str() == username)?;
        Some(MatrixRow {
            name: who.staff.name.to_string(),
            on_duty,
            cells: catalogue
                .iter()
                .map(|c| matrix_cell(best.get(&(username, c.id.as_str())).copied()))
                .collect(),
        })
    };
    // Everyone who works in each place (rostered there within TEAM_DAYS, on duty now or not), then everyone
    // rostered nowhere, so that nobody with a clinical level is missing.
    let mut matrices = Vec::new();
    let mut placed = std::collections::BTreeSet::new();
    for place in state.store.places().await? {
        let team = state
            .store
            .rostered_at(place.code.as_str(), now - chrono::Duration::days(TEAM_DAYS), now)
            .await?;
        let rows: Vec<MatrixRow> = team
            .iter()
            .filter_map(|(u, on)| {
                placed.insert(u.to_string());
                row(u.as_str(), *on)
            })
            .collect();
        if !rows.is_empty() {
            matrices.push(Matrix {
                place: place.name,
                rows,
            });
        }
    }
    let elsewhere: Vec<MatrixRow> = clinical
        .iter()
        .filter(|s| !placed.contains(s.staff.username.as_str()))
        .filter_map(|s| row(s.staff.username.as_str(), false))
        .collect();
    if !elsewhere.is_empty() {
        matrices.push(Matrix {
            place: format!("Not rostered anywhere in the last {TEAM_DAYS} days"),
            rows: elsewhere,
        });
    }
    let title = |id: &str| {
        catalogue
            .iter()
            .find(|c| c.id.as_str() == id)
            .map_or_else(|| id.to_owned(), |c| c.title.clone())
    };
    let lapsed = best
        .values()
        .filter(|c| matches!(c.status, "expired" | "revoked"))
        .filter(|c| clinical.iter().any(|s| s.staff.username.as_str() == c.staff))
        .map(|c| Lapsed {
            name: c.name.clone(),
            competency: title(c.record.competency.as_str()),
            words: matrix_cell(Some(c)).words,
        })
        .collect();
    let mut expiring = Vec::new();
    let mut shown = std::collections::BTreeSet::new();
    for days in [30, 60, 90] {
        let list: Vec<StaffCompetency> = state
            .store
            .competencies_expiring(days)
            .await?
            .into_iter()
            .filter(|c| shown.insert((c.staff.clone(), c.record.competency.to_string())))
            .collect();
        expiring.push((days, list));
    }
    let staff = everyone
        .iter()
        .map(|s| (s.staff.username.to_string(), s.staff.name.to_string()))
        .collect();
    let programmes = state
        .store
        .enrolments(None)
        .await?
        .into_iter()
        .map(|e| {
            let name = everyone
                .iter()
                .find(|s| s.staff.username.as_str() == e.staff)
                .map_or_else(|| e.staff.clone(), |s| s.staff.name.to_string());
            (
                name,
                e.programme,
                e.provider,
                remit_domain::time::uk_date(e.expected_end),
            )
        })
        .collect();
    // 90 days, or as far ahead as any regulator's warnings begin.
    let due_days = i64::from(state.pack.revalidation().warn_days().max(90));
    let due = remit_services::revalidation::due_within(&state.store, &state.pack, due_days).await?;
    let status = notice.status();
    let page = render(&EducationPage {
        due,
        due_days,
        programmes,
        routes: state
            .pack
            .routes()
            .iter()
            .map(|r| (r.id.clone(), r.title.clone()))
            .collect(),
        actor,
        notice,
        matrices,
        columns: catalogue.iter().map(|c| c.title.clone()).collect(),
        lapsed,
        expiring,
        staff,
        catalogue: catalogue.iter().map(|c| (c.id.to_string(), c.title.clone())).collect(),
        chosen,
    })?;
    Ok((status, page).into_response())
}

/// The sign-off the education page says its reader has just made (the sign-off form redirects here).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustSignedOff {
    signed_off: Option<String>,
    competency: Option<String>,
    /// An enrolment just recorded.
    enrolled: Option<i64>,
}

pub(crate) async fn education(
    State(state): State<AppState>,
    actor: Actor,
    query: PageQuery<JustSignedOff>,
) -> Result<Response, AppError> {
    let mut notice = Notice::default();
    let saved = just_saved(query)?;
    if let Some(id) = saved.enrolled {
        let e = state
            .store
            .enrolments(None)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no enrolment {id}")))?;
        notice.message = Some(format!(
            "{}: enrolled on {}, {}, expected to end {}.",
            e.staff,
            e.programme,
            e.provider,
            remit_domain::time::uk_date(e.expected_end)
        ));
    }
    if let JustSignedOff {
        signed_off: Some(staff),
        competency: Some(competency),
        ..
    } = saved
    {
        // The newest sign-off of that competency by the reader.
        let staff = Username::parse(&staff)?;
        let competency = CompetencyId::parse(&competency)?;
        let me = actor.profile.staff.username.as_str();
        let d = state
            .store
            .competency_records(Some(&staff))
            .await?
            .into_iter()
            .filter(|c| c.record.competency == competency && c.record.assessor.as_deref() == Some(me))
            .max_by_key(|c| c.record.signed_off_on)
            .ok_or_else(|| AppError::NotFound(format!("no sign-off of `{competency}` for {staff} by you")))?;
        notice.message = Some(format!(
            "{}: `{}` signed off, valid until {}.",
            d.staff,
            d.record.competency,
            remit_domain::time::uk_date(d.record.expires_on)
        ));
    }
    education_page(&state, &actor, notice, Default::default()).await
}

#[derive(Deserialize)]
pub(crate) struct SignOffForm {
    staff: String,
    competency: String,
    #[serde(default)]
    evidence: String,
}

/// A sign-off from the education lead's page: the signed-in person is the assessor, and must pass
/// `competency.sign-off` for that colleague and competency.
pub(crate) async fn sign_off(
    State(state): State<AppState>,
    actor: Actor,
    Form(form): Form<SignOffForm>,
) -> Result<Response, AppError> {
    // The form is the education page's: decided before anything is written, so that the answer and the write agree.
    if !actor.is_education_lead() {
        let reasons = vec!["The competency sign-off form is for education leads and administrators.".to_owned()];
        let target = format!("staff:{}", form.staff.trim().chars().take(40).collect::<String>());
        remit_services::scope::refuse::<()>(
            &state.store,
            &actor.audit_name(),
            "competency.sign-off",
            &target,
            reasons.clone(),
            &serde_json::json!({"competency": form.competency.trim().chars().take(40).collect::<String>()}),
        )
        .await?;
        return refused_page(&actor, "Sign off a competency", &reasons);
    }
    let chosen = (form.staff.clone(), form.competency.clone(), form.evidence.clone());
    let s = remit_services::competency::SignOff {
        staff: Username::parse(&form.staff)?,
        competency: CompetencyId::parse(&form.competency)?,
        assessor: actor.profile.staff.username.clone(),
        date: None,
        evidence: form.evidence,
    };
    let o = remit_services::competency::sign_off(&state.store, &state.pack, &s, &actor.audit_name()).await;
    if let Ok(remit_services::scope::Outcome::Done(d)) = &o {
        let to = format!("/education?signed_off={}&competency={}", d.staff, d.competency);
        return Ok(axum::response::Redirect::to(&to).into_response());
    }
    let notice = Notice::of(o, |_| String::new())?;
    education_page(&state, &actor, notice, chosen).await
}

#[derive(Deserialize)]
pub(crate) struct EnrolForm {
    staff: String,
    #[serde(default)]
    route: String,
    #[serde(default)]
    programme: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    expected_end: String,
}

/// An enrolment from the education lead's page, recorded by the signed-in person, who must pass
/// `competency.manage`.
pub(crate) async fn enrol(
    State(state): State<AppState>,
    actor: Actor,
    Form(form): Form<EnrolForm>,
) -> Result<Response, AppError> {
    // The form is the education page's: refused, audited, before anything it holds is judged.
    if !actor.is_education_lead() {
        let reasons = vec!["Recording an enrolment is for education leads and administrators.".to_owned()];
        let target = format!("staff:{}", form.staff.trim().chars().take(40).collect::<String>());
        remit_services::scope::refuse::<()>(
            &state.store,
            &actor.audit_name(),
            "enrolment.add",
            &target,
            reasons.clone(),
            &serde_json::json!({"route": form.route.trim().chars().take(40).collect::<String>()}),
        )
        .await?;
        return refused_page(&actor, "Record an enrolment", &reasons);
    }
    let asked = async {
        let e = remit_services::competency::Enrol {
            staff: Username::parse(&form.staff)?,
            route: Some(form.route.clone()),
            programme: Some(form.programme.clone()),
            provider: form.provider.clone(),
            starts_on: remit_domain::time::parse_date("starts_on", &form.starts_on)?,
            expected_end: remit_domain::time::parse_date("expected_end", &form.expected_end)?,
            by: actor.profile.staff.username.clone(),
        };
        remit_services::competency::enrol(&state.store, &state.pack, &e, &actor.audit_name()).await
    };
    let o = asked.await;
    if let Ok(remit_services::scope::Outcome::Done(id)) = &o {
        return Ok(axum::response::Redirect::to(&format!("/education?enrolled={id}")).into_response());
    }
    let notice = Notice::of(o, |_| String::new())?;
    education_page(&state, &actor, notice, Default::default()).await
}

#[derive(Deserialize)]
pub(crate) struct CpdForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    activity: String,
    #[serde(default)]
    reflection: String,
    /// A checkbox: present (`yes`) when ticked.
    #[serde(default)]
    participatory: Option<String>,
    #[serde(default)]
    method: String,
}

/// A person records their own CPD from their work page, then the page saying so (post/redirect/get).
pub(crate) async fn add_cpd(
    State(state): State<AppState>,
    actor: Actor,
    Form(form): Form<CpdForm>,
) -> Result<Response, AppError> {
    let date = date_or_today(&state, &form.date)?;
    let c = remit_services::competency::NewCpd {
        staff: actor.profile.staff.username.clone(),
        date,
        hours: form.hours,
        activity: form.activity,
        reflection: form.reflection,
        participatory: match form.participatory.as_deref() {
            None => false,
            Some("yes") => true,
            Some(other) => {
                return Err(AppError::BadRequest(format!(
                    "participatory: `{}` is not `yes`",
                    other.chars().take(20).collect::<String>()
                )));
            }
        },
        method: Some(form.method),
    };
    match remit_services::competency::add_cpd(&state.store, &c, &actor.audit_name()).await {
        Ok((id, _)) => Ok(axum::response::Redirect::to(&format!("/me?cpd={id}")).into_response()),
        Err(remit_store::StoreError::Invalid(m)) => {
            let notice = Notice {
                error: Some(m),
                ..Notice::default()
            };
            my_work_page(&state, &actor, notice).await
        }
        Err(e) => Err(e.into()),
    }
}

/// One option of the next level, in words.
struct OptionView {
    heading: String,
    /// Activity, today, then, what it still needs.
    gains: Vec<(String, String, String, String)>,
    routes: Vec<remit_policy::Route>,
}

struct NextView {
    to: u8,
    band: &'static str,
    /// The band as the pay check names it (`8a` for `8a-8d`).
    band_for_pay: String,
    options: Vec<OptionView>,
}

struct PathView {
    title: String,
    today: String,
    reasons: Vec<String>,
    /// Each step in words, and who may sign off a competency.
    steps: Vec<(String, Option<String>)>,
    reached: bool,
    remaining: Vec<String>,
}

#[derive(Template)]
#[template(path = "progression.html")]
struct ProgressionPage<'a> {
    actor: &'a Actor,
    /// The pack's activities (id, title).
    activities: Vec<(String, String)>,
    chosen: String,
    path: Option<PathView>,
    next: Option<NextView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProgressionQuery {
    #[serde(default)]
    activity: Option<String>,
}

/// `/me/progression[?activity=…]`: what stands between me and an activity, and what the next level would add.
pub(crate) async fn my_progression(
    State(state): State<AppState>,
    actor: Actor,
    query: Result<axum::extract::Query<ProgressionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let axum::extract::Query(q) = query.map_err(|e| AppError::BadRequest(format!("query: {}", e.body_text())))?;
    let me = &actor.profile.staff.username;
    let (store, pack) = (&state.store, &state.pack);
    let path = match q.activity.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => {
            let p = remit_services::scope::progression(store, pack, me, a, None).await?;
            Some(PathView {
                title: p.path.title.clone(),
                today: remit_policy::supervision_words(p.path.today),
                reasons: p.path.reasons.clone(),
                steps: p
                    .path
                    .steps
                    .iter()
                    .map(|s| {
                        let by = match s {
                            remit_policy::Step::Competency { id, .. } => Some(match p.signed_off_by.get(id) {
                                Some(who) if !who.is_empty() => who.join(", "),
                                _ => "nobody here now".to_owned(),
                            }),
                            _ => None,
                        };
                        (s.sentence(), by)
                    })
                    .collect(),
                reached: p.path.reached,
                remaining: p.path.remaining.clone(),
            })
        }
    };
    let prospect = remit_services::scope::next_level(store, pack, me).await?;
    let next = prospect.next.map(|n| NextView {
        to: n.to,
        band: n.band,
        band_for_pay: n.band.split('-').next().unwrap_or(n.band).to_owned(),
        options: n
            .options
            .into_iter()
            .map(|o| OptionView {
                heading: match &o.registration {
                    None => format!("At level {} alone", n.to),
                    Some(r) => format!("At level {} with a current {r} registration, also", n.to),
                },
                gains: o
                    .gains
                    .iter()
                    .map(|g| {
                        let needs: Vec<String> = g.steps.iter().map(remit_policy::Step::sentence).collect();
                        (
                            g.title.clone(),
                            remit_policy::supervision_words(g.now),
                            remit_policy::supervision_words(g.then),
                            if needs.is_empty() {
                                "nothing more".to_owned()
                            } else {
                                needs.join("; ")
                            },
                        )
                    })
                    .collect(),
                routes: o.routes,
            })
            .collect(),
    });
    let page = render(&ProgressionPage {
        actor: &actor,
        activities: pack
            .activities()
            .iter()
            .map(|a| (a.id.clone(), a.title.clone()))
            .collect(),
        chosen: q.activity.unwrap_or_default(),
        path,
        next,
    })?;
    Ok(page.into_response())
}

#[derive(Template)]
#[template(path = "revalidation.html")]
struct RevalidationPage<'a> {
    actor: &'a Actor,
    notice: Notice,
    revalidation: remit_services::revalidation::Revalidation,
    evidence: Vec<remit_store::revalidation::Evidence>,
    /// What may be recorded: (value, words).
    kinds: Vec<(&'static str, &'static str)>,
    /// What a form not saved asked for, shown again.
    chosen: EvidenceForm,
}

async fn revalidation_page(
    state: &AppState,
    actor: &Actor,
    notice: Notice,
    chosen: EvidenceForm,
) -> Result<Response, AppError> {
    let me = &actor.profile.staff.username;
    let revalidation = remit_services::revalidation::status(&state.store, &state.pack, me).await?;
    let evidence = state.store.revalidation_evidence(me).await?;
    let status = notice.status();
    let page = render(&RevalidationPage {
        actor,
        notice,
        revalidation,
        evidence,
        kinds: remit_domain::revalidation::EvidenceKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.words()))
            .collect(),
        chosen,
    })?;
    Ok((status, page).into_response())
}

/// The evidence the revalidation page says its reader has just recorded (its form redirects here).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustRecorded {
    evidence: Option<i64>,
}

/// A person's own revalidation: each registration against its regulator's requirements, the evidence recorded, and
/// the form to record more.
pub(crate) async fn my_revalidation(
    State(state): State<AppState>,
    actor: Actor,
    query: PageQuery<JustRecorded>,
) -> Result<Response, AppError> {
    let mut notice = Notice::default();
    if let Some(id) = just_saved(query)?.evidence {
        let e = state
            .store
            .revalidation_evidence(&actor.profile.staff.username)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no revalidation evidence {id} of yours")))?;
        notice.message = Some(format!(
            "Recorded: {} on {}.",
            e.kind.words(),
            remit_domain::time::uk_date(e.date)
        ));
    }
    revalidation_page(&state, &actor, notice, EvidenceForm::default()).await
}

#[derive(Deserialize, Default)]
pub(crate) struct EvidenceForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    with: String,
}

/// A person records their own revalidation evidence, then the page saying so (post/redirect/get); what is wrong is
/// said on the page with what they typed kept.
pub(crate) async fn add_evidence(
    State(state): State<AppState>,
    actor: Actor,
    Form(form): Form<EvidenceForm>,
) -> Result<Response, AppError> {
    let date = date_or_today(&state, &form.date).map_err(remit_store::StoreError::from);
    let outcome = match date {
        Ok(date) => {
            let e = remit_services::revalidation::AddEvidence {
                staff: actor.profile.staff.username.clone(),
                kind: form.kind.clone(),
                date,
                hours: Some(form.hours.clone()),
                note: form.note.clone(),
                with_whom: Some(form.with.clone()),
            };
            remit_services::revalidation::add_evidence(&state.store, &state.pack, &e, &actor.audit_name()).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(id) => Ok(axum::response::Redirect::to(&format!("/me/revalidation?evidence={id}")).into_response()),
        Err(remit_store::StoreError::Invalid(m) | remit_store::StoreError::Conflict(m)) => {
            let notice = Notice {
                error: Some(m),
                ..Notice::default()
            };
            revalidation_page(&state, &actor, notice, form).await
        }
        Err(e) => Err(e.into()),
    }
}
