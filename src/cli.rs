//! The command line, as clap parses it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "remit",
    version,
    about = "Scope of practice, supervision and clinical workflow for assistant practitioners"
)]
pub struct Cli {
    /// The database: `sqlite://FILE` (created if absent) or `postgres://…`.
    #[arg(long, global = true, env = "REMIT_DATABASE_URL", default_value = "sqlite://remit.db")]
    pub database_url: String,

    /// A policy pack directory to use instead of the NHS England pack compiled into remit.
    #[arg(long = "policy", global = true, env = "REMIT_POLICY")]
    pub policy: Option<PathBuf>,

    /// An Agenda for Change pay table to use instead of the 2025/26 table compiled into remit.
    #[arg(long = "pay-table", global = true, env = "REMIT_PAY_TABLE")]
    pub pay_table: Option<PathBuf>,

    /// An X-ray examination catalogue (with local DRLs) to use instead of the default compiled into remit.
    #[arg(long = "imaging-catalogue", global = true, env = "REMIT_IMAGING_CATALOGUE")]
    pub imaging_catalogue: Option<PathBuf>,

    /// The most people one supervisor should supervise at once; delegating beyond it warns.
    #[arg(long, global = true, env = "REMIT_MAX_SUPERVISEES", default_value_t = 4)]
    pub max_supervisees: usize,

    /// How log lines are written to standard error.
    #[arg(long, global = true, env = "REMIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web pages and APIs.
    Serve(ServeArgs),
    /// Fill the database with the demo trust (if empty) and serve it.
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Staff, their registrations, entitlements and duty.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Wards and departments.
    #[command(subcommand)]
    Place(PlaceCommand),
    /// Patients.
    #[command(subcommand)]
    Patient(PatientCommand),
    /// API bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Policy packs: validate one, or see what a change would do to each person.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Scope of practice: may this person do this, and what may they do?
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Competency sign-offs, revocations and expiry.
    #[command(subcommand)]
    Competency(CompetencyCommand),
    /// What stands between a person and an activity, asked of the policy pack.
    #[command(subcommand)]
    Progression(ProgressionCommand),
    /// Continuing professional development.
    #[command(subcommand)]
    Cpd(CpdCommand),
    /// Revalidation: where a registrant stands against their regulator's requirements, evidence towards it, and who
    /// is due.
    #[command(subcommand)]
    Revalidation(RevalidationCommand),
    /// Delegated tasks: delegate, accept or decline, start, complete, countersign.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Vital signs: record, amend or void a set, see a patient's sets, who is overdue, SpO2 scale 2.
    #[command(subcommand)]
    Obs(ObsCommand),
    /// NEWS2 escalations: list, acknowledge, review.
    #[command(subcommand)]
    Escalation(EscalationCommand),
    /// X-ray requests under IR(ME)R: refer, justify or reject, pregnancy enquiry, expose, report, worklists, doses.
    #[command(subcommand)]
    Imaging(ImagingCommand),
    /// Diagnoses and prescriptions (only for those whose scope allows them).
    #[command(subcommand)]
    Clinical(ClinicalCommand),
    /// Score observation sets: JSON Lines on standard input, one result line each on standard output.
    News2,
    /// Is this job offer fair? Agenda for Change pay.
    #[command(subcommand)]
    Pay(PayCommand),
    /// Duty from the roster.
    #[command(subcommand)]
    Duty(DutyCommand),
}

#[derive(Debug, Subcommand)]
pub enum DutyCommand {
    /// Import a roster export: CSV with the header `staff,place,start,end`, one shift a line, times in UK time
    /// (2026-12-07 07:30) or with their offset (2026-12-07T07:30:00Z). Checked whole, every error naming its line,
    /// before anything is written; a shift already recorded is not recorded again.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// The values of a set, as flags. A parameter that could not be taken is named with `--missing`.
#[derive(Debug, Args)]
pub struct SetValues {
    /// Respiration rate, breaths a minute.
    #[arg(long = "rr")]
    pub respiration_rate: Option<i64>,
    /// SpO2, percent.
    #[arg(long)]
    pub spo2: Option<i64>,
    /// The SpO2 scale asked for (1 or 2); by default the patient's prescription decides.
    #[arg(long)]
    pub scale: Option<i64>,
    /// The patient is on supplemental oxygen (otherwise breathing air).
    #[arg(long)]
    pub on_oxygen: bool,
    /// Oxygen flow, litres a minute.
    #[arg(long)]
    pub flow: Option<f64>,
    /// Oxygen device: nasal-cannula, simple-mask, venturi-mask, reservoir-mask, high-flow, cpap, niv, other.
    #[arg(long)]
    pub device: Option<String>,
    /// Systolic blood pressure, mmHg.
    #[arg(long = "sbp")]
    pub systolic_bp: Option<i64>,
    /// Diastolic blood pressure, mmHg.
    #[arg(long = "dbp")]
    pub diastolic_bp: Option<i64>,
    /// Pulse, beats a minute.
    #[arg(long)]
    pub pulse: Option<i64>,
    /// ACVPU: alert, new-confusion, voice, pain or unresponsive.
    #[arg(long = "acvpu")]
    pub consciousness: Option<String>,
    /// Temperature, degrees Celsius (one decimal place).
    #[arg(long = "temp")]
    pub temperature: Option<f64>,
    /// A parameter not recorded, as PARAMETER:not-obtained|refused:REASON (repeatable).
    #[arg(long)]
    pub missing: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ObsCommand {
    /// Record a set of vital signs, scored by NEWS2; raises an escalation when the score calls for one.
    Record {
        #[arg(long)]
        patient: String,
        /// Who took the observations.
        #[arg(long)]
        by: String,
        /// The registered colleague supervising a level 2-3 recorder.
        #[arg(long)]
        supervisor: Option<String>,
        /// When they were taken (RFC 3339); now by default.
        #[arg(long)]
        taken_at: Option<String>,
        #[command(flatten)]
        values: SetValues,
        #[arg(long)]
        json: bool,
    },
    /// Correct a set: the corrected values become a new version; the original is kept.
    Amend {
        /// The id of the set's current version.
        version: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        supervisor: Option<String>,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        values: SetValues,
        #[arg(long)]
        json: bool,
    },
    /// Record that a patient's observations were not done, and why: they stay overdue, and the registered nurse
    /// sees the reason on the board and in the inbox.
    Missed {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
    },
    /// Mark a set entered in error (wrong patient, never taken). It is kept, and no longer counts.
    EnteredInError {
        version: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Every version of a set, oldest first.
    History {
        set: i64,
        #[arg(long)]
        json: bool,
    },
    /// A patient's sets, newest first.
    List {
        #[arg(long)]
        patient: String,
        /// Include superseded versions and sets entered in error.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Patients whose observations are overdue, with how late they are.
    Overdue {
        #[arg(long)]
        ward: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record that a patient is scored on SpO2 scale 2, with the target range.
    #[command(name = "prescribe-scale-2")]
    PrescribeScale2 {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        by: String,
        /// The target SpO2 range, e.g. 88-92.
        #[arg(long)]
        target: String,
        /// The clinical indication (hypercapnic respiratory failure).
        #[arg(long)]
        reason: String,
    },
    /// End a patient's SpO2 scale 2 prescription.
    #[command(name = "end-scale-2")]
    EndScale2 {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagingCommand {
    /// Refer a patient for an examination of the catalogue (the referrer must pass `imaging.refer`).
    Refer {
        #[arg(long)]
        patient: String,
        /// The examination's id in the catalogue, e.g. chest-pa.
        #[arg(long)]
        examination: String,
        /// The clinical information that lets a practitioner justify the exposure.
        #[arg(long)]
        clinical_info: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        json: bool,
    },
    /// Justify a request as an IR(ME)R practitioner.
    Justify {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// Reject a request, with the reason the referrer will see.
    Reject {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record the pregnancy enquiry's answer: no-possibility, not-pregnant, could-be, is-pregnant or declined.
    Pregnancy {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        answer: String,
        #[arg(long, default_value = "none")]
        supervision: String,
        #[arg(long)]
        supervisor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record an exposure as its operator.
    Expose {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "none")]
        supervision: String,
        #[arg(long)]
        supervisor: Option<String>,
        /// A projection taken (repeatable), e.g. PA.
        #[arg(long = "projection", required = true)]
        projections: Vec<String>,
        #[arg(long)]
        kv: f64,
        #[arg(long)]
        mas: f64,
        /// Dose-area product, Gy·cm².
        #[arg(long)]
        dap: Option<f64>,
        /// Each projection's dose-area product, Gy·cm², in the order of the projections (repeatable): needed where
        /// the examination's DRL is set per projection.
        #[arg(long = "projection-dap")]
        projection_dap: Vec<f64>,
        /// Source-to-image distance, cm.
        #[arg(long)]
        sid: f64,
        /// A repeated projection, as PROJECTION:REASON (repeatable).
        #[arg(long = "repeat")]
        repeats: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Report an exposed request.
    Report {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "")]
        findings: String,
        #[arg(long)]
        conclusion: String,
        #[arg(long)]
        json: bool,
    },
    /// Record the review of an exposure above its DRL, as an IR(ME)R practitioner: what the review found.
    ReviewDose {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// One request with its exposure and report.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// A worklist: awaiting-justification, awaiting-exposure, awaiting-report or drl-exceeded (above the DRL, not
    /// yet reviewed).
    Worklist {
        #[arg(long)]
        stage: String,
        #[arg(long)]
        json: bool,
    },
    /// A patient's exposures with their cumulative DAP.
    DoseHistory {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
    /// An operator's exposures.
    OperatorActivity {
        #[arg(long)]
        operator: String,
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClinicalCommand {
    /// Record a diagnosis (needs `clinical.diagnose`).
    Diagnose {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        diagnosis: String,
        /// A SNOMED CT concept id.
        #[arg(long)]
        code: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record a prescription (needs `medicines.prescribe`).
    Prescribe {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        medicine: String,
        /// An amount and unit, e.g. "500 mg".
        #[arg(long)]
        dose: String,
        /// oral, intravenous, intramuscular, subcutaneous, inhaled, topical, rectal, sublingual, nasal or other.
        #[arg(long)]
        route: String,
        #[arg(long)]
        frequency: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EscalationCommand {
    /// Escalations, newest first, with whom they are addressed to now.
    List {
        /// Only those not yet closed.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        ward: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an escalation as the responsible registered nurse.
    Acknowledge {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        json: bool,
    },
    /// Record the clinical review of an escalated patient; closes the escalation.
    Review {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Delegate work for a patient. Both the delegator and the delegatee must pass the policy.
    Delegate {
        #[arg(long = "from")]
        delegator: String,
        #[arg(long = "to")]
        delegatee: String,
        #[arg(long)]
        patient: String,
        /// The activity, e.g. procedure.venepuncture.
        #[arg(long)]
        activity: String,
        /// For X-ray work: chest, appendicular or axial.
        #[arg(long)]
        exam: Option<String>,
        /// none, indirect or direct.
        #[arg(long, default_value = "none")]
        supervision: String,
        #[arg(long)]
        supervisor: Option<String>,
        /// When it is due (RFC 3339).
        #[arg(long)]
        due: Option<String>,
        #[arg(long, default_value = "")]
        notes: String,
        #[arg(long)]
        json: bool,
    },
    /// Accept a task delegated to you (the policy is checked again).
    Accept(TaskMove),
    /// Decline a task delegated to you, saying why.
    Decline(TaskMoveWithReason),
    /// Start an accepted task.
    Start(TaskMove),
    /// Complete a task (the policy is checked again); under direct supervision it then awaits countersignature.
    Complete(TaskMove),
    /// Record that the work could not be done, saying why.
    Fail(TaskMoveWithReason),
    /// Countersign work done under your direct supervision.
    Countersign(TaskMove),
    /// Return work awaiting your countersignature, with a comment.
    Return(TaskMoveWithReason),
    /// Cancel a task you delegated, saying why.
    Cancel(TaskMoveWithReason),
    /// List tasks, newest first.
    List {
        /// Delegated to this person.
        #[arg(long)]
        owner: Option<String>,
        /// Delegated by this person.
        #[arg(long)]
        requester: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        patient: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one task with its history.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Who is working under each supervisor's supervision now.
    Load {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct TaskMove {
    pub id: i64,
    /// Who is making the move.
    #[arg(long = "as")]
    pub actor: String,
    /// A note to record with the move.
    #[arg(long)]
    pub notes: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TaskMoveWithReason {
    pub id: i64,
    #[arg(long = "as")]
    pub actor: String,
    #[arg(long)]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PayCommand {
    /// Check an offer against the pay table: the verdict and what the post should pay.
    Check {
        /// The Agenda for Change band: 2 to 9, or 8a to 8d.
        #[arg(long)]
        band: String,
        /// The annual salary offered, including any High Cost Area Supplement, e.g. 27000 or £27,000.
        #[arg(long, allow_hyphen_values = true)]
        salary: String,
        /// none, fringe, outer-london or inner-london.
        #[arg(long, default_value = "none")]
        area: String,
        /// Hours a week (full time is 37.5).
        #[arg(long)]
        hours: Option<String>,
        /// Completed years in the band.
        #[arg(long)]
        years_in_band: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The usual band or bands for a Career Framework level.
    Band {
        #[arg(long)]
        level: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a pack: exit 0 when valid, 1 with the file and line of the first problem.
    Validate { dir: PathBuf },
    /// For every staff member in the database, the activities each would gain or lose, and every change in least
    /// supervision, if the pack in OLD were replaced by the one in NEW.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Ask about one action: exit 0 for permit, 1 for deny (with every reason).
    Check {
        #[arg(long)]
        staff: String,
        #[arg(long)]
        action: String,
        /// The patient's NHS number.
        #[arg(long)]
        patient: Option<String>,
        /// For X-ray exposures: chest, appendicular or axial.
        #[arg(long)]
        exam: Option<String>,
        /// none, indirect or direct.
        #[arg(long, default_value = "none")]
        supervision: String,
        /// The named supervisor's username.
        #[arg(long)]
        supervisor: Option<String>,
        /// A break-glass reason (opens a record outside the person's duty; audited).
        #[arg(long)]
        break_glass: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every activity with the least supervision under which this person may do it now, and why not with less.
    Show {
        username: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProgressionCommand {
    /// What this person needs to do an activity alone (every activity they cannot yet, without --activity): the
    /// competencies to gain and who may sign them off, the registration, entitlement or level, and the supervision
    /// they may work under today.
    Show {
        username: String,
        /// An activity of the pack, such as `procedure.catheterisation`.
        #[arg(long)]
        activity: Option<String>,
        /// For X-ray exposures: chest, appendicular or axial (chest when not given).
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// What the next Career Framework level would let this person do under the pack, with each registration that
    /// would add more, what they would still need, the routes to that registration, and the band the level carries.
    Next {
        username: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CompetencyCommand {
    /// Record a sign-off by an assessor, who must pass `competency.sign-off`. Renewal is a new sign-off.
    SignOff {
        #[arg(long)]
        staff: String,
        #[arg(long)]
        competency: String,
        #[arg(long)]
        assessor: String,
        /// The date of the assessment (YYYY-MM-DD); today if absent.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        evidence: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a person's current sign-off; `--by` must pass `competency.manage`.
    Revoke {
        #[arg(long)]
        staff: String,
        #[arg(long)]
        competency: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Competency records with their status today.
    List {
        #[arg(long)]
        staff: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Current sign-offs that expire within a period, such as 60d, and have not been renewed.
    Expiring {
        #[arg(long, default_value = "60d")]
        within: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CpdCommand {
    /// Record a CPD activity.
    Add {
        #[arg(long)]
        staff: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        /// Hours, e.g. 1.5 (to the minute, at most 24).
        #[arg(long)]
        hours: String,
        #[arg(long)]
        activity: String,
        #[arg(long)]
        reflection: String,
        /// Learning with others (a course, a workshop, a conference): the NMC's participatory hours.
        #[arg(long)]
        participatory: bool,
        /// How it was done: course, study-day, e-learning, conference, workshop, reading, shadowing, supervision or
        /// other.
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// CPD entries, newest first.
    List {
        #[arg(long)]
        staff: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Mark the session cookie Secure (when served over HTTPS).
    #[arg(long)]
    pub secure_cookies: bool,
    /// A proxy in front of remit whose X-Forwarded-For names the client (for sign-in throttling); repeat for several.
    #[arg(long = "trusted-proxy")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections served at once; further ones wait to be accepted.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections: u16,
    /// Seconds to go on serving, once told to stop (SIGTERM), while /health answers 503 "stopping": behind a load
    /// balancer, longer than its health check takes to mark the instance down.
    #[arg(long, default_value_t = 0.0, value_parser = drain_seconds)]
    pub drain: f64,
    #[command(flatten)]
    pub trust: TrustArgs,
}

fn drain_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=300.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds from 0 to 300")),
    }
}

/// How remit is joined to the trust's systems: the paging gateway, the ADT feed, the identity provider.
#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub feed: FeedArgs,
    #[command(flatten)]
    pub oidc: OidcArgs,
}

/// Sign-in through the trust's OpenID Connect provider.
#[derive(Debug, Args)]
pub struct OidcArgs {
    /// The provider's issuer URL (its discovery document is `/.well-known/openid-configuration` under it).
    #[arg(long, env = "REMIT_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// remit's client id at the provider.
    #[arg(long, requires = "oidc_issuer", env = "REMIT_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// A file holding the client secret; else REMIT_OIDC_CLIENT_SECRET.
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// remit's callback as registered at the provider; `http://LISTEN/login/oidc/callback` when not given.
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_redirect_url: Option<String>,
    /// What names the staff member: sub (the identity an administrator linked with `remit staff link-identity`) or
    /// preferred_username (the same as the remit username, where the provider alone sets usernames).
    #[arg(long, default_value = "sub", requires = "oidc_issuer")]
    pub oidc_claim: String,
    /// The provider's name on the sign-in button.
    #[arg(long, default_value = "your trust's sign-in", requires = "oidc_issuer")]
    pub oidc_label: String,
    /// Refuse sign-in with a password: the provider is the only way in.
    #[arg(long, requires = "oidc_issuer")]
    pub no_password_sign_in: bool,
}

/// The patient administration system's ADT feed (HL7 v2 over MLLP).
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// Take admissions, transfers and discharges as HL7 v2 ADT messages over MLLP on this address (see the README).
    #[arg(long)]
    pub mllp_listen: Option<SocketAddr>,
    /// The employer's map of the administration system's points of care to remit's places (`W7,ward-7` a line);
    /// without one, a point of care that is a place code is that place.
    #[arg(long, requires = "mllp_listen")]
    pub adt_locations: Option<PathBuf>,
    /// An address that may send ADT messages; repeat for several. Without any, loopback alone.
    #[arg(long = "mllp-allow", requires = "mllp_listen")]
    pub mllp_allow: Vec<std::net::IpAddr>,
}

/// Where escalations are delivered outside remit.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// Deliver every escalation raised, raised again or moved along the cascade to this http:// URL (a paging or
    /// messaging gateway), signed and at least once (see the README).
    #[arg(long, env = "REMIT_DELIVERY_URL")]
    pub delivery_url: Option<String>,
    /// A file holding the secret that signs each delivery (at least 16 bytes); else REMIT_DELIVERY_SECRET.
    #[arg(long, requires = "delivery_url")]
    pub delivery_secret_file: Option<PathBuf>,
    /// How much of the patient a delivery carries: none (the place and bed), name, or full (name and NHS number).
    #[arg(long, default_value = "none")]
    pub delivery_patient_data: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed the demo trust and exit without serving.
    #[arg(long)]
    pub seed_only: bool,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member.
    Add(StaffAdd),
    /// List staff with where they are on duty now.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one staff member in full.
    Show {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Put a staff member on duty in one or more places now (ending any duty in progress), or take them off duty.
    SetDuty {
        username: String,
        /// A ward or department code; repeat for several.
        #[arg(long = "place", required_unless_present = "off")]
        places: Vec<String>,
        /// When this duty ends (RFC 3339, e.g. 2026-11-25T20:00:00Z); open-ended if absent.
        #[arg(long, conflicts_with = "off")]
        until: Option<String>,
        /// End any duty in progress.
        #[arg(long, conflicts_with = "places")]
        off: bool,
    },
    /// Record a registration: REGULATOR:NUMBER:EXPIRY[:ANNOTATION,…], e.g. NMC:12A3456E:2027-03-31.
    AddRegistration { username: String, registration: String },
    /// Record a registration's renewal: REGULATOR:NUMBER:NEW_EXPIRY[:ANNOTATION,…], the registration already held,
    /// its new expiry later than the one recorded (its annotations as given).
    RenewRegistration { username: String, registration: String },
    /// Grant an IR(ME)R entitlement: irmer-referrer, irmer-practitioner or irmer-operator.
    GrantEntitlement { username: String, entitlement: String },
    /// Suspend a staff member: they can do nothing, and their sessions end now.
    Suspend {
        username: String,
        #[arg(long)]
        reason: String,
    },
    /// Reinstate a suspended staff member.
    Reinstate { username: String },
    /// Set a staff member's password, read from standard input (ends their sessions).
    SetPassword { username: String },
    /// Link a staff member to their identity at the trust's OpenID Connect provider (the ID token's `sub`), or
    /// unlink them; an identity is linked to one staff member at most.
    LinkIdentity {
        username: String,
        #[arg(required_unless_present = "unlink")]
        subject: Option<String>,
        #[arg(long, conflicts_with = "subject")]
        unlink: bool,
    },
    /// Set the grade escalation routes address a staff member by (one the policy pack names), or clear it.
    SetGrade {
        username: String,
        #[arg(required_unless_present = "none")]
        grade: Option<String>,
        #[arg(long, conflicts_with = "grade")]
        none: bool,
    },
}

#[derive(Debug, Args)]
pub struct StaffAdd {
    pub username: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub job_title: String,
    /// Career Framework level, 1 to 9; absent for staff with no clinical level.
    #[arg(long)]
    pub level: Option<String>,
    /// In training for their current role (works only under direct supervision).
    #[arg(long)]
    pub trainee: bool,
    /// A system role: admin or education-lead; repeat for several.
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// A professional body they belong to; repeat for several.
    #[arg(long = "body")]
    pub bodies: Vec<String>,
    /// A registration, REGULATOR:NUMBER:EXPIRY[:ANNOTATION,…]; repeat for several.
    #[arg(long = "registration")]
    pub registrations: Vec<String>,
    /// The grade or team escalation routes address them by, one the policy pack's `escalation.toml` names
    /// (e.g. specialty-registrar, critical-care-outreach).
    #[arg(long)]
    pub grade: Option<String>,
    /// Read an initial password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlaceCommand {
    /// Add a ward or department.
    Add {
        /// A short code such as `ward-7`.
        code: String,
        #[arg(long)]
        name: String,
        /// ward or department
        #[arg(long)]
        kind: String,
    },
    /// List places.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PatientCommand {
    /// Add a patient.
    Add {
        #[arg(long)]
        nhs_number: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date_of_birth: String,
        /// female, male, other or unknown
        #[arg(long)]
        sex: String,
        #[arg(long)]
        place: String,
        #[arg(long)]
        bed: Option<String>,
    },
    /// List patients, optionally in one place.
    List {
        #[arg(long)]
        place: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one patient.
    Show {
        nhs_number: String,
        #[arg(long)]
        json: bool,
    },
    /// Record whether a patient is pregnant or gave birth within six weeks (NEWS2 does not apply then), or is not
    /// pregnant. Recorded on a registered professional's behalf (`record.pregnancy-status`), audited.
    SetPregnancy {
        nhs_number: String,
        /// pregnant, postpartum or not-pregnant
        status: String,
        #[arg(long)]
        by: String,
        /// The last day it holds (YYYY-MM-DD); for postpartum, six weeks from today if absent.
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API bearer token for a staff member; it is printed once and stored only as a digest.
    Create {
        #[arg(long)]
        staff: String,
        #[arg(long, default_value = "api")]
        label: String,
    },
    /// Revoke a staff member's tokens with this label.
    Revoke {
        #[arg(long)]
        staff: String,
        #[arg(long)]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit 0 if intact, 1 naming the first entry that does not match.
    Verify {
        /// A signed checkpoint (from `remit audit checkpoint`) that the log must still contain.
        #[arg(long, requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The public key that signed the checkpoint.
        #[arg(long, requires = "checkpoint")]
        public_key: Option<PathBuf>,
    },
    /// Show the newest entries.
    Log {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Write an ed25519 key pair for signing checkpoints: PREFIX.key (secret) and PREFIX.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a signed statement of the log's head (entry count and hash) to standard output.
    Checkpoint {
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RevalidationCommand {
    /// Where each of this person's registrations stands against what its regulator asks (from the pack's
    /// `revalidation.toml`): every requirement with what is recorded in the cycle, and any warning.
    Status {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Record evidence towards revalidation: practice hours outside the roster, practice-related feedback, a written
    /// reflective account, a reflective discussion or a confirmation.
    Record {
        #[arg(long)]
        staff: String,
        /// practice-hours, feedback, reflective-account, reflective-discussion or confirmation.
        #[arg(long)]
        kind: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        /// For practice hours: how many, e.g. 37.5.
        #[arg(long)]
        hours: Option<String>,
        /// What it was, without anything that identifies a patient.
        #[arg(long)]
        note: String,
        /// For a reflective discussion or a confirmation: who with (name and registration number).
        #[arg(long = "with")]
        with_whom: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Everyone whose revalidation application is due within a period (or whose registration has lapsed), with where
    /// they stand.
    Due {
        /// A period such as 90d or 12w (90 days when not given).
        #[arg(long, default_value = "90d")]
        within: String,
        #[arg(long)]
        json: bool,
    },
}
