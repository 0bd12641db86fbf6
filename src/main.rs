//! `remit`: the command line for administrators, and the way to start the server.
#![forbid(unsafe_code)]

mod audit_cmd;
mod cli;
mod commands;
mod competency_cmd;
mod imaging_cmd;
mod news2_cmd;
mod obs_cmd;
mod pay_cmd;
mod revalidation_cmd;
mod scope_cmd;
mod serve;
mod task_cmd;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use remit_domain::time::SystemClock;
use remit_store::{Store, StoreError};

use crate::cli::{Cli, Command, LogFormat};

/// mimalloc rather than the system allocator: under load the server allocates on one thread (a database
/// connection's) and frees on another (the request's), where glibc's allocator spends a fifth of the server's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command ends when it does not succeed.
#[derive(Debug)]
pub enum CliError {
    /// The command was misused or given bad input: exit status 2.
    Usage(String),
    /// The command ran and found a problem (a broken audit chain, an unreachable database): exit status 1.
    Failed(String),
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if e.is_client_error() {
            CliError::Usage(e.to_string())
        } else {
            CliError::Failed(e.to_string())
        }
    }
}

impl From<remit_domain::InvalidValue> for CliError {
    fn from(e: remit_domain::InvalidValue) -> Self {
        CliError::Usage(e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Prints a value as pretty JSON on standard output, for every `--json`.
/// Text that came from users, made safe for a terminal: control characters (an escape sequence typed as a username,
/// say) are shown escaped (`\u{1b}`), never sent to the administrator's terminal as they are.
pub fn terminal_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub fn print_json(value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Connects and applies pending migrations: every command works on an up-to-date schema.
pub async fn open_store(url: &str) -> CliResult<Store> {
    let store = Store::connect(url, Arc::new(SystemClock)).await?;
    store.migrate().await?;
    Ok(store)
}

/// The policy pack: `--policy DIR` if given, else the NHS England pack compiled in. A bad pack is a usage error
/// naming the file and line.
pub fn load_pack(dir: Option<&std::path::Path>) -> CliResult<Arc<remit_policy::PolicyPack>> {
    match dir {
        Some(d) => remit_policy::PolicyPack::load(d)
            .map(Arc::new)
            .map_err(|e| CliError::Usage(format!("policy pack: {e}"))),
        None => Ok(Arc::new(remit_policy::PolicyPack::nhs_england())),
    }
}

/// The pay table: `--pay-table FILE` if given, else the 2025/26 table compiled in. A malformed file is a usage error
/// naming the line.
pub fn load_pay_table(file: Option<&std::path::Path>) -> CliResult<Arc<remit_domain::pay::PayTable>> {
    match file {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).map_err(|e| CliError::Usage(format!("pay table `{}`: {e}", f.display())))?;
            remit_domain::pay::PayTable::parse(&text)
                .map(Arc::new)
                .map_err(|e| CliError::Usage(format!("pay table {} {e}", f.display())))
        }
        None => Ok(Arc::new(remit_domain::pay::PayTable::shipped())),
    }
}

pub fn load_catalogue(file: Option<&std::path::Path>) -> CliResult<Arc<remit_domain::imaging::Catalogue>> {
    match file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CliError::Usage(format!("imaging catalogue `{}`: {e}", f.display())))?;
            remit_domain::imaging::Catalogue::parse(&text)
                .map(Arc::new)
                .map_err(|e| CliError::Usage(format!("imaging catalogue {} {e}", f.display())))
        }
        None => Ok(Arc::new(remit_domain::imaging::Catalogue::shipped())),
    }
}

/// The store with the pack's competency catalogue in place.
pub async fn open_with_pack(url: &str, pack: &remit_policy::PolicyPack) -> CliResult<Store> {
    let store = open_store(url).await?;
    store.sync_competencies(&pack.competency_catalogue(), "system").await?;
    Ok(store)
}

/// Prints a policy refusal with every reason; the command exits 1.
pub fn refused(reasons: &[String]) -> ExitCode {
    eprintln!("refused:");
    for r in reasons {
        eprintln!("  - {r}");
    }
    ExitCode::from(1)
}

/// How a command done on a staff member's behalf appears in the audit log.
pub fn on_behalf(by: &remit_domain::staff::Username) -> String {
    format!("staff:{by} via {}", cli_actor())
}

/// Who the command acts as in the audit log: the operating-system user at the console.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// When the reader of standard output goes away (`remit staff list | head`), writing fails: stop quietly, with the
/// status a process ended by SIGPIPE has, instead of a panic's message.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    if let Command::News2 = cli.command {
        // The batch scorer needs no database and no runtime.
        return news2_cmd::run();
    }
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(CliError::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> CliResult<ExitCode> {
    let url = cli.database_url;
    let policy = cli.policy;
    let pack = || load_pack(policy.as_deref());
    let pay_file = cli.pay_table.clone();
    let pay = || load_pay_table(pay_file.as_deref());
    let catalogue_file = cli.imaging_catalogue.clone();
    let catalogue = || load_catalogue(catalogue_file.as_deref());
    let config = remit_server::Config {
        max_supervisees: cli.max_supervisees,
        ..remit_server::Config::default()
    };
    match cli.command {
        Command::Serve(args) => serve::serve(&url, pack()?, pay()?, catalogue()?, args, config)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => serve::demo(&url, pack()?, pay()?, catalogue()?, args, config)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::News2 => Ok(news2_cmd::run()),
        Command::Task(cmd) => task_cmd::task(&url, &*pack()?, cmd, cli.max_supervisees).await,
        Command::Imaging(cmd) => imaging_cmd::imaging(&url, &*pack()?, &*catalogue()?, cmd).await,
        Command::Clinical(cmd) => imaging_cmd::clinical(&url, &*pack()?, cmd).await,
        Command::Obs(cmd) => obs_cmd::obs(&url, &*pack()?, cmd).await,
        Command::Escalation(cmd) => obs_cmd::escalation(&url, &*pack()?, cmd).await,
        Command::Pay(cmd) => pay_cmd::pay(&*pay()?, cmd).map(|()| ExitCode::SUCCESS),
        Command::Migrate => {
            open_store(&url).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Staff(cmd) => commands::staff(&url, &*pack()?, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Place(cmd) => commands::place(&url, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Duty(cmd) => commands::duty(&url, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Patient(cmd) => commands::patient(&url, &*pack()?, cmd).await,
        Command::Token(cmd) => commands::token(&url, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Audit(cmd) => audit_cmd::run(&url, cmd).await,
        Command::Policy(cmd) => scope_cmd::policy(&url, cmd).await,
        Command::Scope(cmd) => scope_cmd::scope(&url, &*pack()?, cmd).await,
        Command::Progression(cmd) => scope_cmd::progression(&url, &*pack()?, cmd).await,
        Command::Competency(cmd) => competency_cmd::competency(&url, &*pack()?, cmd)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Cpd(cmd) => competency_cmd::cpd(&url, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Revalidation(cmd) => revalidation_cmd::revalidation(&url, &*pack()?, cmd)
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}
