//! Scope of practice as policy: a pack of Cedar schema, Cedar policies and catalogues, loaded and validated once,
//! and decisions that explain themselves.
//!
//! **Invariant:** Cedar types never leave this crate. Callers ask with a [`Question`] built from domain types and
//! get a [`Decision`] of plain strings.
//!
//! **Invariant:** a decision fails closed: a policy that cannot be evaluated denies, with a reason saying so.
#![forbid(unsafe_code)]

mod engine;
mod pack;
mod progression;
mod reasons;

pub use engine::{Decision, ExamRegion, PatientFacts, Question, ScopeLine, Supervision, SupervisorRef};
pub use pack::{Activity, CatalogueCompetency, PackError, PolicyPack, Route};
pub use progression::{Gain, NextLevel, Path, Step, WithRegistration, supervision_words, usual_band};
