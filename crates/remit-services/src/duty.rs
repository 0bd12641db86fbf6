//! Duty from the roster: a roster export ([`remit_domain::roster`]), read whole and checked — every line's staff
//! member and place known — before any of it is written, then written in one transaction with one audit entry. A
//! shift already recorded is not recorded twice, so importing the same roster again changes nothing.

use remit_domain::audit::AuditDraft;
use remit_domain::roster::{LineError, Shift};
use remit_store::{Store, StoreError};
use serde::Serialize;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Shifts in the roster (a shift given twice counted once).
    pub shifts: usize,
    pub added: usize,
    /// Shifts recorded before (an earlier import of the same roster).
    pub already: usize,
}

/// Records `shifts` (read by [`remit_domain::roster::parse`]); a staff member or place remit does not know is an
/// error naming its line, and nothing is written. `source` names the roster in the audit entry.
pub async fn import(
    store: &Store,
    shifts: Vec<Shift>,
    source: &str,
    audit_actor: &str,
) -> Result<Imported, ImportError> {
    let places: Vec<String> = store.places().await?.into_iter().map(|p| p.code.to_string()).collect();
    let mut errors = Vec::new();
    let mut resolved = Vec::new();
    for s in shifts {
        let id = match store.staff_id(&s.staff).await {
            Ok(id) => Some(id),
            Err(StoreError::NotFound(_)) => {
                errors.push(LineError {
                    line: s.line,
                    message: format!("no staff member `{}`", s.staff),
                });
                None
            }
            Err(e) => return Err(e.into()),
        };
        if !places.iter().any(|p| p == s.place.as_str()) {
            errors.push(LineError {
                line: s.line,
                message: format!("no place `{}`", s.place),
            });
        }
        if let Some(id) = id {
            resolved.push((id, s));
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Lines(errors));
    }
    #[derive(Serialize)]
    struct Payload<'a> {
        source: &'a str,
        shifts: usize,
    }
    let total = resolved.len();
    let draft =
        AuditDraft::permit(audit_actor, "duty.import", "roster").with_payload(&Payload { source, shifts: total });
    let (added, _) = store
        .command(draft, move |tx| {
            Box::pin(async move {
                let mut added = 0;
                for (id, s) in &resolved {
                    if tx.add_shift(*id, &s.place, s.starts_at, s.ends_at).await? {
                        added += 1;
                    }
                }
                Ok(added)
            })
        })
        .await?;
    Ok(Imported {
        shifts: total,
        added,
        already: total - added,
    })
}

/// Why a roster was not imported: lines naming what remit does not know, or the store's own error.
#[derive(Debug)]
pub enum ImportError {
    Lines(Vec<LineError>),
    Store(StoreError),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Store(e)
    }
}
