//! Scope of practice as policy: a pack of Cedar schema, Cedar policies and catalogues, loaded and validated once,
//! and decisions that explain themselves.
//!
//! **Invariant:** Cedar types never leave this crate. Callers ask with a [`Question`] built from domain types and
//! get a [`Decision`] of plain strings.
//!
//! **Invariant:** a decision fails closed: a policy that cannot be evaluated denies, with a reason saying so.
#![forbid(unsafe_code)]

// The decision benchmark's fixture, shared with the unit tests, names the crate as its users do.
#[cfg(test)]
extern crate self as remit_policy;
#[cfg(test)]
#[path = "../benches/fixture.rs"]
#[allow(dead_code, reason = "the benchmark uses what the tests do not")]
mod fixture;

mod engine;
mod pack;
mod progression;
mod reasons;

pub use engine::{Decision, ExamRegion, PatientFacts, Question, ScopeLine, Supervision, SupervisorRef};
pub use pack::{Activity, CatalogueCompetency, PackError, PolicyPack, Route};
pub use progression::{Gain, NextLevel, Path, Step, WithRegistration, supervision_words, usual_band};
