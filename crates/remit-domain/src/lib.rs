//! The pure domain of remit: the values a clinical action is about, parsed at the edge so that past it an invalid
//! value cannot exist.
//!
//! **Invariant:** this crate does no I/O and depends on no web framework, database driver or async runtime.
#![forbid(unsafe_code)]

pub mod adt;
pub mod audit;
pub mod clinical;
pub mod competency;
pub mod error;
pub mod escalation;
pub mod imaging;
pub mod news2;
pub mod nhs;
pub mod obs;
pub mod patient;
pub mod pay;
pub mod place;
pub mod revalidation;
pub mod roster;
pub mod staff;
pub mod supervision;
pub mod task;
pub mod time;

pub use error::InvalidValue;
