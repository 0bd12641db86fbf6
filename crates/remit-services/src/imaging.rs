//! X-ray work under IR(ME)R, enforced step by step: referral (`imaging.refer`) → justification or rejection by a
//! practitioner (`imaging.justify`) → pregnancy enquiry where the catalogue asks for it → exposure by an operator
//! (`imaging.expose`: entitlement, competency for the region, supervision, and only for a justified request) →
//! report (`imaging.report`). Each step is audited, refusals with every reason. Work done in the department (justify,
//! expose, report) is judged by duty in the department, not on the patient's ward. Diagnoses and prescriptions
//! (`clinical.diagnose`, `medicines.prescribe`) live here too: the line assistant practitioners do not cross.

use remit_domain::audit::AuditDraft;
use remit_domain::clinical::{Diagnosis, Prescription};
use remit_domain::imaging::{Catalogue, ExposureRecord, Pregnancy, RequestStatus};
use remit_domain::nhs::NhsNumber;
use remit_domain::place::PlaceCode;
use remit_domain::staff::Username;
use remit_domain::time::london_date;
use remit_policy::{ExamRegion, PolicyPack, Supervision};
use remit_store::imaging::{DoseRow, NewRequest, RequestView};
use remit_store::{Store, StoreError};
use serde::Serialize;

use crate::scope::{self, Ask, Outcome, refuse};

fn text(field: &str, s: &str, max: usize) -> Result<String, StoreError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(StoreError::Invalid(format!("{field}: is required")));
    }
    if t.chars().count() > max {
        return Err(StoreError::Invalid(format!("{field}: is longer than {max} characters")));
    }
    Ok(t.to_owned())
}

fn ask_about(by: &Username, activity: &str, patient: &NhsNumber, place: Option<&str>) -> Result<Ask, StoreError> {
    let mut ask = Ask::new(by.clone(), activity);
    ask.patient = Some(patient.clone());
    if let Some(p) = place {
        ask.place = Some(PlaceCode::parse(p)?);
    }
    Ok(ask)
}

#[derive(Serialize)]
struct Step<'a> {
    request: i64,
    by: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// A referral, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Referral {
    pub patient: NhsNumber,
    pub examination: String,
    pub clinical_info: String,
    pub by: Username,
}

/// Refers a patient for an examination of the catalogue; the clinical information is required.
pub async fn refer(
    store: &Store,
    pack: &PolicyPack,
    catalogue: &Catalogue,
    r: &Referral,
    audit_actor: &str,
) -> Result<Outcome<RequestView>, StoreError> {
    let exam = catalogue.examination(&r.examination)?;
    let clinical_info = text("clinical_info", &r.clinical_info, 2000)?;
    let referrer_id = store.staff_id(&r.by).await?;
    let target = format!("patient:{}", r.patient);
    let ask = ask_about(&r.by, "imaging.refer", &r.patient, None)?;
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "imaging.refer", &target, d.reasons, r).await;
    }
    let patient_id = store.patient_id(&r.patient).await?;
    let new = NewRequest {
        patient_id,
        department: catalogue.department.clone(),
        examination: exam.id.clone(),
        region: exam.region.as_str().to_owned(),
        clinical_info,
        referrer_id,
    };
    let draft = AuditDraft::permit(audit_actor, "imaging.refer", target).with_payload(r);
    let (id, _) = store
        .command(draft, move |tx| Box::pin(async move { tx.insert_request(&new).await }))
        .await?;
    Ok(Outcome::Done(store.imaging_request(id).await?))
}

/// A practitioner's verdict on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Justified: it may be exposed.
    Justify,
    /// Rejected, with the reason.
    Reject,
}

/// A practitioner justifies a request (again, after a pregnancy enquiry returned it) or rejects it with the reason,
/// which the referrer sees.
pub async fn decide(
    store: &Store,
    pack: &PolicyPack,
    id: i64,
    by: &Username,
    verdict: Verdict,
    note: &str,
    audit_actor: &str,
) -> Result<Outcome<RequestView>, StoreError> {
    let justify = verdict == Verdict::Justify;
    let note = if justify {
        note.trim().to_owned()
    } else {
        text("reason", note, 1000).map_err(|_| StoreError::Invalid("reason: say why the request is rejected".into()))?
    };
    let req = store.imaging_request(id).await?;
    let by_id = store.staff_id(by).await?;
    let action = "imaging.justify";
    let target = format!("imaging-request:{id}");
    let payload = Step {
        request: id,
        by: by.as_str(),
        note: Some(&note),
    };
    let ask = ask_about(by, action, &req.patient, Some(&req.department))?;
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, action, &target, d.reasons, &payload).await;
    }
    if !matches!(req.status, RequestStatus::Referred | RequestStatus::Returned) {
        return Err(StoreError::Conflict(format!(
            "imaging request {id} is {}, not waiting for justification",
            req.status
        )));
    }
    let to = if justify {
        RequestStatus::Justified
    } else {
        RequestStatus::Rejected
    };
    let verb = if justify { "imaging.justify" } else { "imaging.reject" };
    let draft = AuditDraft::permit(audit_actor, verb, target).with_payload(&payload);
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.decide_request(
                    id,
                    &[RequestStatus::Referred, RequestStatus::Returned],
                    to,
                    by_id,
                    &note,
                )
                .await
            })
        })
        .await?;
    Ok(Outcome::Done(store.imaging_request(id).await?))
}

/// The operator's question for a request: may `by` expose it, under this supervision?
fn operator_ask(
    req: &RequestView,
    by: &Username,
    supervision: Supervision,
    supervisor: Option<&Username>,
) -> Result<Ask, StoreError> {
    let mut ask = ask_about(by, "imaging.expose", &req.patient, Some(&req.department))?;
    ask.exam = Some(ExamRegion::parse(&req.region)?);
    ask.supervision = supervision;
    ask.supervisor = supervisor.cloned();
    ask.request_justified = req.status == RequestStatus::Justified;
    Ok(ask)
}

/// The operator records the pregnancy enquiry's answer, where the catalogue asks for one. "Could be", "is pregnant"
/// or a declined answer returns the request to the practitioner; "no possibility" and "not pregnant" let it go on.
/// An answer holds for that request on that day only.
pub async fn pregnancy(
    store: &Store,
    (pack, catalogue): (&PolicyPack, &Catalogue),
    id: i64,
    op: &Operator,
    answer: Pregnancy,
    audit_actor: &str,
) -> Result<Outcome<RequestView>, StoreError> {
    let (by, supervision, supervisor) = (&op.by, op.supervision, op.supervisor.as_ref());
    let req = store.imaging_request(id).await?;
    let exam = catalogue.examination(&req.examination)?;
    let by_id = store.staff_id(by).await?;
    let target = format!("imaging-request:{id}");
    #[derive(Serialize)]
    struct Payload<'a> {
        request: i64,
        by: &'a str,
        answer: Pregnancy,
    }
    let payload = Payload {
        request: id,
        by: by.as_str(),
        answer,
    };
    let ask = operator_ask(&req, by, supervision, supervisor)?;
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(
            store,
            audit_actor,
            "imaging.pregnancy-enquiry",
            &target,
            d.reasons,
            &payload,
        )
        .await;
    }
    // After the decision: the answer says something of the patient's age.
    let patient = store.patient(&req.patient).await?;
    if !catalogue.needs_pregnancy_enquiry(exam, patient.date_of_birth, london_date(store.now())) {
        return Err(StoreError::Invalid(format!(
            "answer: the catalogue asks no pregnancy enquiry for {} at this patient's age",
            exam.title
        )));
    }
    let returned = answer.returns_request().then(|| {
        format!(
            "Pregnancy enquiry: {} (recorded by {by}). The practitioner must decide again whether the exposure is justified.",
            answer.words()
        )
    });
    let draft = AuditDraft::permit(audit_actor, "imaging.pregnancy-enquiry", target).with_payload(&payload);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.record_pregnancy(id, answer, by_id, returned.as_deref()).await })
        })
        .await?;
    Ok(Outcome::Done(store.imaging_request(id).await?))
}

/// An operator and the supervision they work under.
#[derive(Debug, Clone, Serialize)]
pub struct Operator {
    pub by: Username,
    pub supervision: Supervision,
    pub supervisor: Option<Username>,
}

/// An exposure to record.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    pub request: i64,
    pub by: Username,
    pub supervision: Supervision,
    pub supervisor: Option<Username>,
    pub record: ExposureRecord,
}

/// Records an exposure, when the operator may perform it now: justified request, pregnancy enquiry answered where
/// needed, entitlement, competency and supervision. A DAP above the local DRL is flagged for review.
pub async fn expose(
    store: &Store,
    pack: &PolicyPack,
    catalogue: &Catalogue,
    e: &Exposure,
    audit_actor: &str,
) -> Result<Outcome<RequestView>, StoreError> {
    if e.supervision != Supervision::None && e.supervisor.is_none() {
        return Err(StoreError::Invalid(
            "supervisor: indirect or direct supervision needs the supervisor's username".into(),
        ));
    }
    let req = store.imaging_request(e.request).await?;
    let by_id = store.staff_id(&e.by).await?;
    let supervisor_id = match &e.supervisor {
        Some(s) => Some(store.staff_id(s).await?),
        None => None,
    };
    let target = format!("imaging-request:{}", e.request);
    let mut ask = operator_ask(&req, &e.by, e.supervision, e.supervisor.as_ref())?;
    // A request exposed already is not "waiting to be justified": the operator is asked about as if it were
    // justified, so that any refusal is about them, and is then told it was exposed (a conflict, below).
    let exposed_already = matches!(req.status, RequestStatus::Exposed | RequestStatus::Reported);
    ask.request_justified |= exposed_already;
    let mut reasons = scope::check(store, pack, &ask).await?.reasons;
    let exam = catalogue.examination(&req.examination)?;
    let patient = store.patient(&req.patient).await?;
    let today = london_date(store.now());
    // The enquiry's reasons say something of the patient's age: for those who may read the record in the department.
    let sees = reasons.is_empty() || {
        let dept = remit_domain::place::PlaceCode::parse(&req.department)?;
        scope::may_read(store, pack, &e.by, &req.patient, Some(dept))
            .await?
            .permitted()
    };
    if sees
        && req.status == RequestStatus::Justified
        && catalogue.needs_pregnancy_enquiry(exam, patient.date_of_birth, today)
    {
        let answered_on = req
            .pregnancy_at
            .as_deref()
            .and_then(|t| remit_domain::time::parse_instant("pregnancy_at", t).ok())
            .map(london_date);
        match (req.pregnancy, answered_on) {
            (Some(_), Some(day)) if day == today => {}
            (Some(_), Some(day)) => reasons.push(format!(
                "The pregnancy enquiry for {} was answered on {}: an answer holds for that request on that day only. \
                 Ask again today before exposing.",
                exam.title,
                remit_domain::time::uk_date(day)
            )),
            _ => reasons.push(format!(
                "{} needs the pregnancy enquiry recorded before exposing: everyone aged {} to {} is asked whether \
                 there is any possibility of pregnancy.",
                exam.title, catalogue.pregnancy_min_age, catalogue.pregnancy_max_age
            )),
        }
    }
    if !reasons.is_empty() {
        return refuse(store, audit_actor, "imaging.expose", &target, reasons, e).await;
    }
    if exposed_already {
        return Err(StoreError::Conflict(format!(
            "imaging request {} is {}: a request is exposed once only",
            e.request, req.status
        )));
    }
    // Compared the way the DRL is set: per projection needs each projection's DAP (bad input otherwise).
    let compared = e.record.against(exam)?;
    let (drl, drl_per) = (exam.drl_dap, exam.drl_per);
    let draft = AuditDraft::permit(audit_actor, "imaging.expose", target).with_payload(e);
    let id = e.request;
    let record = e.record.clone();
    store
        .command(draft, move |tx| {
            Box::pin(async move {
                tx.insert_exposure(id, by_id, supervisor_id, &record, (drl, drl_per, &compared))
                    .await
            })
        })
        .await?;
    Ok(Outcome::Done(store.imaging_request(id).await?))
}

/// Reports an exposed request (a diagnostic interpretation).
pub async fn report(
    store: &Store,
    pack: &PolicyPack,
    id: i64,
    by: &Username,
    findings: &str,
    conclusion: &str,
    audit_actor: &str,
) -> Result<Outcome<RequestView>, StoreError> {
    let conclusion = text("conclusion", conclusion, 2000)?;
    let findings = findings.trim().to_owned();
    if findings.chars().count() > 10_000 {
        return Err(StoreError::Invalid("findings: is longer than 10000 characters".into()));
    }
    let req = store.imaging_request(id).await?;
    let by_id = store.staff_id(by).await?;
    let target = format!("imaging-request:{id}");
    let payload = Step {
        request: id,
        by: by.as_str(),
        note: None,
    };
    let ask = ask_about(by, "imaging.report", &req.patient, Some(&req.department))?;
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, "imaging.report", &target, d.reasons, &payload).await;
    }
    if req.status != RequestStatus::Exposed {
        return Err(StoreError::Conflict(format!(
            "imaging request {id} is {}: only an exposed request is reported",
            req.status
        )));
    }
    let draft = AuditDraft::permit(audit_actor, "imaging.report", target).with_payload(&payload);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.insert_report(id, by_id, &findings, &conclusion).await })
        })
        .await?;
    Ok(Outcome::Done(store.imaging_request(id).await?))
}

/// An IR(ME)R practitioner reviews an exposure above its DRL (`imaging.review-dose`) and records what the review
/// found (the patient's size, a repeat, equipment to check); the request leaves the department's "above the DRL"
/// worklist. Reviewed once only.
pub async fn review_drl(
    store: &Store,
    pack: &PolicyPack,
    id: i64,
    by: &Username,
    note: &str,
    audit_actor: &str,
) -> Result<Outcome<RequestView>, StoreError> {
    let note = text("note", note, 2000)
        .map_err(|_| StoreError::Invalid("note: say what the review found (2000 characters at most)".into()))?;
    let req = store.imaging_request(id).await?;
    let by_id = store.staff_id(by).await?;
    let action = "imaging.review-dose";
    let target = format!("imaging-request:{id}");
    let payload = Step {
        request: id,
        by: by.as_str(),
        note: Some(&note),
    };
    let ask = ask_about(by, action, &req.patient, Some(&req.department))?;
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, action, &target, d.reasons, &payload).await;
    }
    match &req.exposure {
        None => {
            return Err(StoreError::Conflict(format!(
                "imaging request {id} is {}: it has no exposure to review",
                req.status
            )));
        }
        Some(x) if !x.drl_exceeded => {
            return Err(StoreError::Conflict(format!(
                "imaging request {id}'s exposure was within its DRL: there is nothing to review"
            )));
        }
        Some(x) if x.drl_review.is_some() => {
            return Err(StoreError::Conflict(format!(
                "imaging request {id}'s dose above the DRL was reviewed already"
            )));
        }
        Some(_) => {}
    }
    let draft = AuditDraft::permit(audit_actor, action, target).with_payload(&payload);
    store
        .command(draft, move |tx| {
            Box::pin(async move { tx.review_drl(id, by_id, &note).await })
        })
        .await?;
    Ok(Outcome::Done(store.imaging_request(id).await?))
}

pub use remit_store::imaging::Recorded;

/// Records a diagnosis, when `by` may diagnose (`clinical.diagnose`).
pub async fn diagnose(
    store: &Store,
    pack: &PolicyPack,
    patient: &NhsNumber,
    by: &Username,
    d: &Diagnosis,
    audit_actor: &str,
) -> Result<Outcome<Recorded<Diagnosis>>, StoreError> {
    clinical(
        store,
        pack,
        patient,
        by,
        Clinical::Diagnosis.action(),
        d,
        audit_actor,
        |tx, p, b, d| Box::pin(async move { tx.insert_diagnosis(p, b, &d).await }),
    )
    .await
}

/// Records a prescription, when `by` may prescribe (`medicines.prescribe`).
pub async fn prescribe(
    store: &Store,
    pack: &PolicyPack,
    patient: &NhsNumber,
    by: &Username,
    p: &Prescription,
    audit_actor: &str,
) -> Result<Outcome<Recorded<Prescription>>, StoreError> {
    clinical(
        store,
        pack,
        patient,
        by,
        Clinical::Prescription.action(),
        p,
        audit_actor,
        |tx, pid, b, p| Box::pin(async move { tx.insert_prescription(pid, b, &p).await }),
    )
    .await
}

/// A clinical decision a person asks to record: a diagnosis or a prescription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clinical {
    Diagnosis,
    Prescription,
}

impl Clinical {
    fn action(self) -> &'static str {
        match self {
            Clinical::Diagnosis => "clinical.diagnose",
            Clinical::Prescription => "medicines.prescribe",
        }
    }
}

/// Asks whether `by` may make this clinical decision for `patient` at all, before what they sent is judged: someone
/// the policy refuses whatever they wrote (an assistant practitioner prescribing) is told that, with every reason
/// (audited), rather than what is wrong with their dose. `Done`: they may, and their content is judged next (and the
/// decision asked again when it is recorded).
pub async fn refused_whatever_the_content(
    store: &Store,
    pack: &PolicyPack,
    patient: &NhsNumber,
    by: &Username,
    what: Clinical,
    audit_actor: &str,
) -> Result<Outcome<()>, StoreError> {
    let action = what.action();
    let d = scope::check(store, pack, &ask_about(by, action, patient, None)?).await?;
    if d.permitted() {
        return Ok(Outcome::Done(()));
    }
    let payload = serde_json::json!({"content": "not read: refused whatever it said"});
    refuse(
        store,
        audit_actor,
        action,
        &format!("patient:{patient}"),
        d.reasons,
        &payload,
    )
    .await
}

#[allow(clippy::too_many_arguments, reason = "one shape for both clinical decisions")]
async fn clinical<T, F>(
    store: &Store,
    pack: &PolicyPack,
    patient: &NhsNumber,
    by: &Username,
    action: &'static str,
    content: &T,
    audit_actor: &str,
    insert: F,
) -> Result<Outcome<Recorded<T>>, StoreError>
where
    T: Serialize + Clone + Send + Sync + 'static,
    F: for<'a> FnOnce(
            &'a mut remit_store::WriteTx,
            i64,
            i64,
            T,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<i64, StoreError>> + Send + 'a>>
        + Clone
        + Send
        + 'static,
{
    let by_id = store.staff_id(by).await?;
    let target = format!("patient:{patient}");
    let ask = ask_about(by, action, patient, None)?;
    let d = scope::check(store, pack, &ask).await?;
    if !d.permitted() {
        return refuse(store, audit_actor, action, &target, d.reasons, content).await;
    }
    let patient_id = store.patient_id(patient).await?;
    let draft = AuditDraft::permit(audit_actor, action, target).with_payload(content);
    let c = content.clone();
    let (id, entry) = store.command(draft, move |tx| insert(tx, patient_id, by_id, c)).await?;
    Ok(Outcome::Done(Recorded {
        id,
        patient: patient.clone(),
        by: by.to_string(),
        at: entry.at,
        content: content.clone(),
    }))
}

/// Dose rows as CSV (RFC 4180 quoting for the text columns).
pub fn dose_csv(rows: &[DoseRow], cumulative: bool) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from(
        "request,patient,examination,exposed_at,operator,dap_gycm2,drl_gycm2,drl_per,drl_exceeded,drl_over,repeats",
    );
    if cumulative {
        out.push_str(",cumulative_dap_gycm2");
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{:.3},{:.3},{},{},{},{}",
            r.request,
            r.patient,
            q(&r.examination),
            q(&remit_domain::time::uk_long_text(&r.exposed_at)),
            q(&r.operator),
            r.dap,
            r.drl_dap,
            r.drl_per,
            r.drl_exceeded,
            q(&r.drl_over.join(" ")),
            r.repeats
        ));
        if cumulative {
            out.push_str(&format!(",{:.3}", r.cumulative_dap));
        }
        out.push('\n');
    }
    out
}

/// The steps of an X-ray request a person may take now, so that a page offers only those: justify or reject (a
/// request waiting for justification, by an IR(ME)R practitioner), the pregnancy enquiry and the exposure (a justified
/// request; the exposure once any enquiry has its answer today, by an operator, alone or under the supervision of
/// one of `radiographers`), and the report (an exposed request, by a reporter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Steps {
    pub justify: bool,
    pub pregnancy: bool,
    pub expose: bool,
    pub report: bool,
    /// Review the exposure's dose, above its DRL and not yet reviewed.
    pub review_drl: bool,
}

/// See [`Steps`].
pub async fn steps(
    store: &Store,
    (pack, catalogue): (&PolicyPack, &Catalogue),
    by: &Username,
    req: &RequestView,
    radiographers: &[Username],
) -> Result<Steps, StoreError> {
    let may = |ask: Ask| async move { Ok::<_, StoreError>(scope::check(store, pack, &ask).await?.permitted()) };
    let mut steps = Steps::default();
    match req.status {
        RequestStatus::Referred | RequestStatus::Returned => {
            steps.justify = may(ask_about(by, "imaging.justify", &req.patient, Some(&req.department))?).await?;
        }
        RequestStatus::Justified => {
            let mut operator = may(operator_ask(req, by, Supervision::None, None)?).await?;
            if let (false, Some(r)) = (operator, radiographers.first()) {
                operator = may(operator_ask(req, by, Supervision::Indirect, Some(r))?).await?;
            }
            let exam = catalogue.examination(&req.examination)?;
            let born = store.patient(&req.patient).await?.date_of_birth;
            let today = london_date(store.now());
            let asked_today = req
                .pregnancy_at
                .as_deref()
                .and_then(|t| remit_domain::time::parse_instant("pregnancy_at", t).ok())
                .map(london_date)
                == Some(today);
            let enquiry_due = catalogue.needs_pregnancy_enquiry(exam, born, today) && !asked_today;
            steps.pregnancy = operator && enquiry_due;
            steps.expose = operator && !enquiry_due;
        }
        RequestStatus::Exposed => {
            steps.report = may(ask_about(by, "imaging.report", &req.patient, Some(&req.department))?).await?;
        }
        RequestStatus::Rejected | RequestStatus::Reported => {}
    }
    if req
        .exposure
        .as_ref()
        .is_some_and(|x| x.drl_exceeded && x.drl_review.is_none())
    {
        steps.review_drl = may(ask_about(
            by,
            "imaging.review-dose",
            &req.patient,
            Some(&req.department),
        )?)
        .await?;
    }
    Ok(steps)
}
