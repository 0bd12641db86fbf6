//! Web sessions, API bearer tokens and the record of sign-in attempts.
//!
//! Session ids and tokens are random 256-bit secrets; only their SHA-256 is stored, so a copy of the database does
//! not let anyone sign in.

use chrono::{DateTime, Duration, Utc};
use remit_domain::staff::{StaffStatus, Username};
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

/// What one kind of throttle key allows: this many failures before each further attempt waits, twice as long each
/// time (one second, two, four …) up to [`THROTTLE_MAX_DELAY_SECONDS`]; failures are forgotten after
/// [`THROTTLE_FORGET_MINUTES`] without one.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    pub free_failures: i64,
}

/// A username tried from one address: the key a guesser at one account meets first. The rightful user signs in from
/// another address unhindered, and from the same one waits at most [`THROTTLE_MAX_DELAY_SECONDS`].
pub const THROTTLE_PAIR: ThrottleRule = ThrottleRule { free_failures: 5 };
/// One address, whatever usernames it tries: a password sprayed across many accounts.
pub const THROTTLE_ADDRESS: ThrottleRule = ThrottleRule { free_failures: 20 };
/// One username from any address: guessing spread across many addresses.
pub const THROTTLE_USERNAME: ThrottleRule = ThrottleRule { free_failures: 50 };
/// The longest wait between attempts on one key.
pub const THROTTLE_MAX_DELAY_SECONDS: i64 = 15 * 60;
/// Failures are forgotten after this long without one.
pub const THROTTLE_FORGET_MINUTES: i64 = 60;

impl ThrottleRule {
    /// How long after its `failures`-th failure a key waits.
    pub fn delay(self, failures: i64) -> Duration {
        if failures < self.free_failures {
            return Duration::zero();
        }
        let doublings = (failures - self.free_failures).min(20) as u32;
        Duration::seconds((1_i64 << doublings).min(THROTTLE_MAX_DELAY_SECONDS))
    }
}

/// The throttle keys of one sign-in attempt.
#[derive(Debug, Clone)]
pub struct ThrottleKeys {
    /// The username from this address ([`THROTTLE_PAIR`]): cleared by a success.
    pub pair: String,
    /// This address, whatever the username ([`THROTTLE_ADDRESS`]).
    pub address: String,
    /// The username from anywhere ([`THROTTLE_USERNAME`]): not applied from an address the username signed in from
    /// successfully within [`THROTTLE_TRUSTED_DAYS`], so that guesses spread over many addresses cannot keep the
    /// rightful user out of their own ward PC.
    pub username: String,
}

impl ThrottleKeys {
    /// The keys for `username` tried from `address`.
    pub fn new(address: &str, username: &str) -> Self {
        Self {
            pair: format!("pair:{address}|{username}"),
            address: format!("address:{address}"),
            username: format!("username:{username}"),
        }
    }

    /// The key that remembers a success of the username from this address.
    fn known(&self) -> String {
        format!("known:{}", &self.pair["pair:".len()..])
    }
}

/// An address a username signed in from successfully is trusted for the username-wide throttle this long.
pub const THROTTLE_TRUSTED_DAYS: i64 = 30;

/// A sign-in attempt may go ahead (holding the tries it took, to give back if it succeeds), or must wait until a
/// time.
#[derive(Debug)]
pub enum Throttle {
    Go(SignInTry),
    WaitUntil(DateTime<Utc>),
}

/// The tries an attempt took: each key, and the version its change left, with what it was before.
#[derive(Debug)]
pub struct SignInTry {
    keys: ThrottleKeys,
    taken: Vec<Taken>,
}

#[derive(Debug)]
struct Taken {
    key: String,
    rule: ThrottleRule,
    /// The version the try left: while the key is still at it, nobody has changed it since.
    version: i64,
    /// The key as it was before (`None`: new, or its failures forgotten).
    before: Option<ThrottleRow>,
}

/// How often a compare-and-set is tried again when parallel attempts keep changing a key first.
const CAS_TRIES: usize = 100;

impl Store {
    /// The live session for a cookie value, refreshing its idle clock. An expired session is deleted.
    pub async fn session(&self, id: &str, limits: SessionLimits) -> Result<Option<SessionInfo>> {
        self.session_with(id, limits, true).await
    }

    /// The live session for a cookie value, without refreshing its idle clock: whether it still stands, asked by
    /// something that is not the person's own activity (an open event stream).
    pub async fn session_standing(&self, id: &str, limits: SessionLimits) -> Result<Option<SessionInfo>> {
        self.session_with(id, limits, false).await
    }

    async fn session_with(&self, id: &str, limits: SessionLimits, refresh: bool) -> Result<Option<SessionInfo>> {
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
        if refresh && now - seen > Duration::minutes(1) {
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

    /// Takes a try on each key for a sign-in attempt about to check a password, counted as a failure until
    /// [`Store::sign_in_succeeded`] gives it back: each key's count and wait change by a compare-and-set, so that
    /// parallel attempts cannot both take the last free try. When any key must wait, nothing is taken and the answer
    /// is the latest time among them.
    pub async fn take_sign_in_try(&self, keys: &ThrottleKeys) -> Result<Throttle> {
        let now = self.now();
        let trusted = self
            .throttle_row(&keys.known())
            .await?
            .is_some_and(|k| k.blocked_until > now);
        let mut rules = vec![
            (keys.pair.clone(), THROTTLE_PAIR),
            (keys.address.clone(), THROTTLE_ADDRESS),
        ];
        if !trusted {
            rules.push((keys.username.clone(), THROTTLE_USERNAME));
        }
        let mut latest = None;
        for (key, _) in &rules {
            if let Some(row) = self.throttle_row(key).await?
                && !row.forgotten(now)
                && row.blocked_until > now
            {
                latest = latest.max(Some(row.blocked_until));
            }
        }
        if let Some(until) = latest {
            return Ok(Throttle::WaitUntil(until));
        }
        let mut taken = Vec::new();
        for (key, rule) in rules {
            match self.count_failure(&key, rule, now).await? {
                Ok(t) => taken.push(t),
                Err(until) => {
                    // A parallel attempt took the last try first: give back what this one took.
                    self.give_back(&taken).await?;
                    return Ok(Throttle::WaitUntil(until));
                }
            }
        }
        Ok(Throttle::Go(SignInTry {
            keys: keys.clone(),
            taken,
        }))
    }

    /// The attempt was the rightful user's: its tries are given back, the username's count from this address is
    /// cleared, and the address is remembered as the username's own.
    pub async fn sign_in_succeeded(&self, t: SignInTry) -> Result<()> {
        self.give_back(&t.taken).await?;
        query("DELETE FROM sign_in_throttle WHERE key = $1")
            .bind(&t.keys.pair)
            .execute(self.pool())
            .await?;
        let now = self.now();
        let until = format_instant(now + Duration::days(THROTTLE_TRUSTED_DAYS));
        query(
            "INSERT INTO sign_in_throttle (key, failures, last_failure_at, blocked_until, version) \
             VALUES ($1, 0, $2, $3, 1) ON CONFLICT (key) DO UPDATE SET blocked_until = $3, \
             version = sign_in_throttle.version + 1",
        )
        .bind(t.keys.known())
        .bind(format_instant(now))
        .bind(until)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Undoes the failures `taken` counted: a key nobody changed since is put back as it was; one others have
    /// failed on since loses this attempt's failure and keeps theirs.
    async fn give_back(&self, taken: &[Taken]) -> Result<()> {
        for t in taken {
            for _ in 0..CAS_TRIES {
                let Some(row) = self.throttle_row(&t.key).await? else {
                    break;
                };
                let (failures, last, blocked) = match (&t.before, row.version == t.version) {
                    (Some(b), true) => (b.failures, b.last_failure_at, b.blocked_until),
                    (None, true) => (0, row.last_failure_at, row.last_failure_at),
                    (_, false) => {
                        let f = (row.failures - 1).max(0);
                        (f, row.last_failure_at, row.last_failure_at + t.rule.delay(f))
                    }
                };
                if self.set_throttle(&t.key, &row, failures, last, blocked).await? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Counts one failure on `key`, unless it must wait (`Err` with until when); tried again when a parallel attempt
    /// changed it first.
    async fn count_failure(
        &self,
        key: &str,
        rule: ThrottleRule,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<Taken, DateTime<Utc>>> {
        for _ in 0..CAS_TRIES {
            let Some(row) = self.throttle_row(key).await? else {
                // Keys long quiet are forgotten as new ones come.
                query("DELETE FROM sign_in_throttle WHERE blocked_until < $1 AND last_failure_at < $2")
                    .bind(format_instant(now))
                    .bind(format_instant(now - Duration::minutes(THROTTLE_FORGET_MINUTES)))
                    .execute(self.pool())
                    .await?;
                let inserted = query(
                    "INSERT INTO sign_in_throttle (key, failures, last_failure_at, blocked_until, version) \
                     VALUES ($1, 1, $2, $3, 1) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(format_instant(now))
                .bind(format_instant(now + rule.delay(1)))
                .execute(self.pool())
                .await?;
                if inserted > 0 {
                    return Ok(Ok(Taken {
                        key: key.to_owned(),
                        rule,
                        version: 1,
                        before: None,
                    }));
                }
                continue;
            };
            let forgotten = row.forgotten(now);
            if !forgotten && row.blocked_until > now {
                return Ok(Err(row.blocked_until));
            }
            let failures = if forgotten { 1 } else { row.failures + 1 };
            if self
                .set_throttle(key, &row, failures, now, now + rule.delay(failures))
                .await?
            {
                return Ok(Ok(Taken {
                    key: key.to_owned(),
                    rule,
                    version: row.version + 1,
                    before: (!forgotten).then_some(row),
                }));
            }
        }
        // Contended beyond reason: this attempt waits a moment rather than check a password.
        Ok(Err(now + Duration::seconds(1)))
    }

    async fn throttle_row(&self, key: &str) -> Result<Option<ThrottleRow>> {
        let Some(row) =
            query("SELECT failures, last_failure_at, blocked_until, version FROM sign_in_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(self.pool())
                .await?
        else {
            return Ok(None);
        };
        let at = |c: &'static str| -> Result<DateTime<Utc>> {
            stored("sign-in throttle", parse_instant(c, &col::<String>(&row, c)?))
        };
        Ok(Some(ThrottleRow {
            failures: col(&row, "failures")?,
            last_failure_at: at("last_failure_at")?,
            blocked_until: at("blocked_until")?,
            version: col(&row, "version")?,
        }))
    }

    /// Sets a key's count and wait if nobody changed it since `row` was read; says whether it did.
    async fn set_throttle(
        &self,
        key: &str,
        row: &ThrottleRow,
        failures: i64,
        last_failure_at: DateTime<Utc>,
        blocked_until: DateTime<Utc>,
    ) -> Result<bool> {
        let done = query(
            "UPDATE sign_in_throttle SET failures = $2, last_failure_at = $3, blocked_until = $4, \
             version = version + 1 WHERE key = $1 AND version = $5",
        )
        .bind(key)
        .bind(failures)
        .bind(format_instant(last_failure_at))
        .bind(format_instant(blocked_until))
        .bind(row.version)
        .execute(self.pool())
        .await?;
        Ok(done > 0)
    }
}

/// A throttle key as stored.
#[derive(Debug, Clone)]
struct ThrottleRow {
    failures: i64,
    last_failure_at: DateTime<Utc>,
    blocked_until: DateTime<Utc>,
    version: i64,
}

impl ThrottleRow {
    /// Whether its failures are forgotten: none for [`THROTTLE_FORGET_MINUTES`].
    fn forgotten(&self, now: DateTime<Utc>) -> bool {
        self.last_failure_at <= now - Duration::minutes(THROTTLE_FORGET_MINUTES)
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

/// A sign-in through the OpenID Connect provider under way (see migration `0017_oidc_flow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcFlow {
    pub verifier: String,
    pub nonce: String,
    /// The page of remit's to return to.
    pub next: String,
}

/// How long a sign-in at the provider may take.
pub const OIDC_FLOW_MINUTES: i64 = 10;

impl Store {
    /// Keeps a sign-in under way under its `state`; those older than [`OIDC_FLOW_MINUTES`] are forgotten.
    pub async fn put_oidc_flow(&self, state: &str, flow: &OidcFlow) -> Result<()> {
        let now = self.now();
        query("DELETE FROM oidc_flow WHERE created_at < $1")
            .bind(format_instant(now - Duration::minutes(OIDC_FLOW_MINUTES)))
            .execute(self.pool())
            .await?;
        query("INSERT INTO oidc_flow (state_digest, verifier, nonce, next, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(secret_digest(state))
            .bind(flow.verifier.as_str())
            .bind(flow.nonce.as_str())
            .bind(flow.next.as_str())
            .bind(format_instant(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the sign-in under way under `state`, once: `None` when there is none, it was taken, or it is too old.
    pub async fn take_oidc_flow(&self, state: &str) -> Result<Option<OidcFlow>> {
        let now = self.now();
        let row =
            query("DELETE FROM oidc_flow WHERE state_digest = $1 AND created_at >= $2 RETURNING verifier, nonce, next")
                .bind(secret_digest(state))
                .bind(format_instant(now - Duration::minutes(OIDC_FLOW_MINUTES)))
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| {
            Ok(OidcFlow {
                verifier: col(&r, "verifier")?,
                nonce: col(&r, "nonce")?,
                next: col(&r, "next")?,
            })
        })
        .transpose()
    }
}

impl Store {
    /// The staff member linked to an identity at the provider: their id, username and status.
    pub async fn staff_by_oidc_subject(&self, subject: &str) -> Result<Option<(i64, Username, StaffStatus)>> {
        let row = query("SELECT id, username, status FROM staff WHERE oidc_subject = $1")
            .bind(subject)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok((
                col(&r, "id")?,
                stored("username", Username::parse(&col::<String>(&r, "username")?))?,
                stored("status", StaffStatus::parse(&col::<String>(&r, "status")?))?,
            ))
        })
        .transpose()
    }

    /// The ID token the session began with, if it began at the provider.
    pub async fn session_id_token(&self, id: &str) -> Result<Option<String>> {
        let row = query("SELECT id_token FROM web_session WHERE id_hash = $1")
            .bind(secret_digest(id))
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| col::<Option<String>>(&r, "id_token"))
            .transpose()?
            .flatten())
    }
}

impl WriteTx {
    /// Links a staff member to their identity at the provider (`None`: unlinks); an identity linked to someone else
    /// is a conflict.
    pub async fn link_oidc_subject(&mut self, staff_id: i64, subject: Option<&str>) -> Result<()> {
        query("UPDATE staff SET oidc_subject = $1 WHERE id = $2")
            .bind(subject)
            .bind(staff_id)
            .execute(self.conn())
            .await
            .map_err(|e| {
                crate::error::on_unique(e, || {
                    format!(
                        "the identity `{}` is linked to another staff member",
                        subject.unwrap_or_default()
                    )
                })
            })?;
        Ok(())
    }

    /// Keeps the ID token a session began with.
    pub async fn set_session_id_token(&mut self, id: &str, id_token: &str) -> Result<()> {
        query("UPDATE web_session SET id_token = $1 WHERE id_hash = $2")
            .bind(id_token)
            .bind(secret_digest(id))
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
