//! The plumbing every feature shares: who is asking ([`auth`]), the one gate before any route naming a patient
//! ([`gate`]), the boundary's errors ([`error`]) and FHIR's ([`fhir`]), the JSON extractors and the OpenAPI document
//! ([`openapi`]), what pages share ([`pages`], [`uk`]), sign-in and the static files ([`session`]), sign-in through the trust's OpenID Connect provider ([`oidc`]), the live
//! announcements ([`events`]), metrics, the write threads and the layers every request passes.

pub(crate) mod auth;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod fhir;
pub(crate) mod gate;
pub(crate) mod layers;
pub(crate) mod metrics;
pub mod oidc;
pub(crate) mod openapi;
pub(crate) mod pages;
pub(crate) mod session;
pub mod uk;
pub(crate) mod writes;
