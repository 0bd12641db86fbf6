//! Web sessions, API bearer tokens and the record of sign-in attempts.
//!
//! Session ids and tokens are random 256-bit secrets; only their SHA-256 is stored, so a copy of the database does
//! not let anyone sign in.

use chrono::{DateTime, Duration, Utc};
use remit_domain::staff::Username;
use remit_domain::time::{format_instant, parse_instant};

use crate::credentials::{random_secret, secret_digest};
use crate::db::query;
use crate::kept::{Versions, versions_of};
use crate::{Result, Store, StoreError, WriteTx, col, stored};

/// How long a session lasts.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after sign-in, however busy.
    pub absolute: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// A live session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub staff_id: i64,
    pub csrf_token: String,
    /// The versions read with the session: its holder's profile is read under them ([`Store::session_holder`]),
    /// with no query of its own for the versions.
    pub versions: Versions,
}

/// A new session: the id goes in the cookie, and is not kept.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub csrf_token: String,
}

/// Failed sign-ins for one username within this window …
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// … at or above this count refuse further attempts until the oldest of them leaves the window.
pub const THROTTLE_FAILURES: i64 = 5;

impl Store {
    /// The live session for a cookie value, refreshing its idle clock. An expired session is deleted.
    pub async fn session(&self, id: &str, limits: SessionLimits) -> Result<Option<SessionInfo>> {
        let digest = secret_digest(id);
        let Some(row) = query(concat!(
            "SELECT s.staff_id, s.csrf_token, s.created_at, s.last_seen_at, st.status, ",
            versions_columns!(),
            " FROM web_session s JOIN staff st ON st.id = s.staff_id WHERE s.id_hash = $1"
        ))
        .bind(&digest)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let now = self.now();
        let created = stored(
            "session",
            parse_instant("created_at", &col::<String>(&row, "created_at")?),
        )?;
        let seen = stored(
            "session",
            parse_instant("last_seen_at", &col::<String>(&row, "last_seen_at")?),
        )?;
        let status: String = col(&row, "status")?;
        if now - seen > limits.idle || now - created > limits.absolute || status != "active" {
            self.end_session(id).await?;
            return Ok(None);
        }
        // Refresh at most once a minute, so that reads stay reads.
        if now - seen > Duration::minutes(1) {
            query("UPDATE web_session SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(&digest)
                .bind(format_instant(now))
                .execute(self.pool())
                .await?;
        }
        Ok(Some(SessionInfo {
            staff_id: col(&row, "staff_id")?,
            csrf_token: col(&row, "csrf_token")?,
            versions: versions_of(&row)?,
        }))
    }

    /// Ends a session on the server (sign-out, or expiry).
    pub async fn end_session(&self, id: &str) -> Result<bool> {
        let done = query("DELETE FROM web_session WHERE id_hash = $1")
            .bind(secret_digest(id))
            .execute(self.pool())
            .await?;
        Ok(done > 0)
    }

    /// When sign-in for this username is refused because of recent failures, the time it opens again.
    pub async fn sign_in_locked_until(&self, username: &str) -> Result<Option<DateTime<Utc>>> {
        let now = self.now();
        let since = format_instant(now - Duration::minutes(THROTTLE_WINDOW_MINUTES));
        let rows = query(
            "SELECT at FROM sign_in_attempt WHERE username = $1 AND succeeded = 0 AND at > $2 \
             AND at > COALESCE((SELECT MAX(at) FROM sign_in_attempt WHERE username = $1 AND succeeded = 1), '') \
             ORDER BY at DESC LIMIT $3",
        )
        .bind(username)
        .bind(&since)
        .bind(THROTTLE_FAILURES)
        .fetch_all(self.pool())
        .await?;
        if (rows.len() as i64) < THROTTLE_FAILURES {
            return Ok(None);
        }
        let oldest: String = col(&rows[rows.len() - 1], "at")?;
        let oldest = stored("sign-in attempt", parse_instant("at", &oldest))?;
        Ok(Some(oldest + Duration::minutes(THROTTLE_WINDOW_MINUTES)))
    }

    /// Notes a sign-in attempt (kept outside the audit log's transactions: it is throttling state).
    pub async fn note_sign_in_attempt(&self, username: &str, succeeded: bool) -> Result<()> {
        query("INSERT INTO sign_in_attempt (username, at, succeeded) VALUES ($1, $2, $3)")
            .bind(username)
            .bind(format_instant(self.now()))
            .bind(i64::from(succeeded))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

impl WriteTx {
    /// Ends a session as part of a command (sign-out).
    pub async fn end_session(&mut self, id: &str) -> Result<()> {
        query("DELETE FROM web_session WHERE id_hash = $1")
            .bind(secret_digest(id))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Starts a session with a fresh id and CSRF token.
    pub async fn create_session(&mut self, staff_id: i64) -> Result<NewSession> {
        let session = NewSession {
            id: random_secret(),
            csrf_token: random_secret(),
        };
        let now = format_instant(self.now());
        query(
            "INSERT INTO web_session (id_hash, staff_id, csrf_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(secret_digest(&session.id))
        .bind(staff_id)
        .bind(&session.csrf_token)
        .bind(&now)
        .execute(self.conn())
        .await?;
        Ok(session)
    }

    /// Creates an API token for a staff member; the token is returned once and only its digest kept.
    pub async fn create_token(&mut self, staff_id: i64, label: &str) -> Result<String> {
        let token = format!("remit_{}", random_secret());
        query("INSERT INTO api_token (staff_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4)")
            .bind(staff_id)
            .bind(secret_digest(&token))
            .bind(label)
            .bind(format_instant(self.now()))
            .execute(self.conn())
            .await?;
        Ok(token)
    }

    /// Revokes every token with this label for a staff member; says how many.
    pub async fn revoke_tokens(&mut self, staff_id: i64, label: &str) -> Result<u64> {
        let done =
            query("UPDATE api_token SET revoked_at = $3 WHERE staff_id = $1 AND label = $2 AND revoked_at IS NULL")
                .bind(staff_id)
                .bind(label)
                .bind(format_instant(self.now()))
                .execute(self.conn())
                .await?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("no live token labelled `{label}`")));
        }
        Ok(done)
    }
}

/// Parses a token label: short free text.
pub fn parse_token_label(input: &str) -> Result<String> {
    let s = input.trim();
    if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) {
        return Err(StoreError::Invalid("label: must be 1 to 100 characters of text".into()));
    }
    Ok(s.to_owned())
}

/// Usernames in sign-in forms are compared in their parsed form, so `Alex.AP ` and `alex.ap` are throttled alike.
pub fn normalise_username(input: &str) -> String {
    Username::parse(&input.to_ascii_lowercase()).map_or_else(|_| input.trim().to_ascii_lowercase(), |u| u.to_string())
}
