//! remit's integration tests: storage, HTTP and CLI, each run against SQLite and against PostgreSQL.
//!
//! Every test gets a fresh database with a unique name, dropped afterwards. The PostgreSQL trials run when
//! `REMIT_TEST_DATABASE_URL` names a server (any database on it: it is used only to create and drop test
//! databases); without it they are listed as ignored and a line says the suite was skipped. The `browser::` trials
//! drive headless Chromium and run when chromium and chromedriver are installed.

mod helpers;
mod tables;

mod adt;
mod audit;
mod auth;
mod browser;
mod cli;
mod crash;
mod delivery;
mod demo;
mod fhir;
mod fhir_search;
mod imaging;
mod instances;
mod news2;
mod obs;
mod oidc;
mod pages;
mod pay;
mod progression;
mod revalidation;
mod safety;
mod scope;
mod security;
mod tasks;

use helpers::{Backend, TestFn};
use libtest_mimic::{Arguments, Trial};

fn main() {
    let args = Arguments::from_args();
    let pg = helpers::postgres_admin_url();
    if pg.is_none() {
        eprintln!(
            "\nPostgreSQL suite skipped: set REMIT_TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB to run it \
             (the postgres:: tests below are marked ignored)\n"
        );
    }
    let tests: Vec<(&'static str, TestFn)> = [
        adt::tests(),
        audit::tests(),
        auth::tests(),
        cli::tests(),
        crash::tests(),
        delivery::tests(),
        demo::tests(),
        fhir::tests(),
        fhir_search::tests(),
        imaging::tests(),
        instances::tests(),
        news2::tests(),
        obs::tests(),
        pages::tests(),
        pay::tests(),
        progression::tests(),
        revalidation::tests(),
        safety::tests(),
        scope::tests(),
        security::tests(),
        tasks::tests(),
    ]
    .concat();
    let mut trials = Vec::new();
    for (name, f) in tests {
        trials.push(Trial::test(format!("sqlite::{name}"), move || {
            helpers::run(Backend::Sqlite, f)
        }));
        trials.push(
            Trial::test(format!("postgres::{name}"), move || helpers::run(Backend::Postgres, f))
                .with_ignored_flag(pg.is_none()),
        );
    }
    // Several instances behind a real load balancer: PostgreSQL (what several instances share) and HAProxy.
    let haproxy = std::path::Path::new(instances::HAPROXY).exists();
    if pg.is_some() && !haproxy {
        eprintln!(
            "Load balancer suite skipped: install haproxy ({}) to run it (the postgres::a_rolling_restart test below \
             is marked ignored)\n",
            instances::HAPROXY
        );
    }
    for (name, f) in instances::load_balancer_tests() {
        trials.push(
            Trial::test(format!("postgres::{name}"), move || helpers::run(Backend::Postgres, f))
                .with_ignored_flag(pg.is_none() || !haproxy),
        );
    }
    for (name, f) in instances::postgres_tests() {
        trials.push(
            Trial::test(format!("postgres::{name}"), move || helpers::run(Backend::Postgres, f))
                .with_ignored_flag(pg.is_none()),
        );
    }
    // A primary and a hot standby of the test's own, the primary killed and the standby promoted.
    let standby = instances::postgres_bin().is_some();
    if !standby {
        eprintln!(
            "Standby suite skipped: install postgresql (its initdb and pg_basebackup, run as the postgres user) to \
             run it (the postgres::remit_carries_on test below is marked ignored)\n"
        );
    }
    for (name, f) in instances::standby_tests() {
        trials.push(
            Trial::test(format!("postgres::{name}"), move || helpers::run(Backend::Postgres, f))
                .with_ignored_flag(pg.is_none() || !standby),
        );
    }
    // The browser suite runs once, on SQLite: it is about the pages, not the database.
    let browser = browser::available();
    if !browser {
        eprintln!(
            "Browser suite skipped: install chromium and chromium-driver ({} and {}) to run it (the browser:: tests \
             below are marked ignored)\n",
            browser::CHROMIUM,
            browser::CHROMEDRIVER
        );
    }
    for (name, f) in browser::tests() {
        trials.push(
            Trial::test(format!("browser::{name}"), move || helpers::run(Backend::Sqlite, f))
                .with_ignored_flag(!browser),
        );
    }
    // Sign-in through a real OpenID provider (Node.js and the npm registry's oidc-provider), in the browser.
    let provider = browser && oidc::prepare();
    if browser && !provider {
        eprintln!(
            "OpenID Connect suite skipped: install Node.js and npm to run it (tests/oidc; the browser::oidc_ tests \
             below are marked ignored)\n"
        );
    }
    for (name, f) in browser::oidc_tests() {
        trials.push(
            Trial::test(format!("browser::{name}"), move || helpers::run(Backend::Sqlite, f))
                .with_ignored_flag(!provider),
        );
    }
    libtest_mimic::run(&args, trials).exit();
}
