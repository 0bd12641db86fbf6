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
    /// From the embedded database (SQLite).
    #[error("database error: {0}")]
    Embedded(#[from] rusqlite::Error),
    /// The commit that held the command failed: nothing of it was written.
    #[error("the commit failed: {0}")]
    Commit(String),
    /// A command decided on what the store kept found, at its commit, that the database had changed since: nothing
    /// of it was written, and it is to be decided again on what is read now (see `Store::under`).
    #[error("what the request was decided on changed before it was written: send it again")]
    Unconfirmed,
    /// No database connection came free in time. A failure of the server's own, like any other here: the request may
    /// have been done in part (a command committed before a read that followed it found no connection).
    #[error("the database is busy: {0}")]
    Busy(String),
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
            StoreError::NotFound(_) | StoreError::Conflict(_) | StoreError::Invalid(_) | StoreError::Unconfirmed
        )
    }
}

impl StoreError {
    /// Whether the database refused a row that repeats a unique key.
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => db.is_unique_violation(),
            StoreError::Embedded(e) => matches!(
                e.sqlite_error().map(|e| e.extended_code),
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
            ),
            _ => false,
        }
    }

    /// Whether the database refused a row that names another row that does not exist.
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => db.is_foreign_key_violation(),
            StoreError::Embedded(e) => {
                e.sqlite_error().map(|e| e.extended_code) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
            }
            _ => false,
        }
    }
}

/// Maps a unique-constraint violation to a conflict with the given message; other errors pass through.
pub(crate) fn on_unique(e: StoreError, message: impl FnOnce() -> String) -> StoreError {
    if e.is_unique_violation() {
        StoreError::Conflict(message())
    } else {
        e
    }
}
