use remit_domain::InvalidValue;

/// What the store reports. `NotFound`, `Conflict` and `Invalid` carry text safe to show to the person who asked;
/// the others are internal and must not be echoed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not apply migrations: {0}")]
    Migrate(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the embedded database read directly (the audit chain's verification).
    #[error("database error: {0}")]
    Embedded(#[from] rusqlite::Error),
    /// The commit that held the command failed: nothing of it was written.
    #[error("the commit failed: {0}")]
    Commit(String),
}

impl From<InvalidValue> for StoreError {
    fn from(e: InvalidValue) -> Self {
        StoreError::Invalid(e.to_string())
    }
}

impl StoreError {
    /// Whether the message is the asker's fault and safe to show them.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_) | StoreError::Conflict(_) | StoreError::Invalid(_)
        )
    }
}

/// Maps a unique-constraint violation to a conflict with the given message; other errors pass through.
pub(crate) fn on_unique(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message()),
        _ => StoreError::Database(e),
    }
}
