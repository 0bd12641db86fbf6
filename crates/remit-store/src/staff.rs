//! Staff, their registrations, entitlements, roles and duty.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use remit_domain::escalation::Grade;
use remit_domain::place::PlaceCode;
pub use remit_domain::staff::StaffProfile;
use remit_domain::staff::{
    Annotation, CareerLevel, Entitlement, PersonName, Registration, Regulator, Role, Staff, StaffStatus, Username,
};
use remit_domain::time::format_instant;
use serde::Serialize;

use crate::db::{Row, query, query_built};
use crate::error::on_unique;
use crate::kept::Versions;
use crate::{Result, Store, StoreError, WriteTx, col, stored};

/// What is needed to add a staff member.
#[derive(Debug, Clone, Serialize)]
pub struct NewStaff {
    pub username: Username,
    pub name: PersonName,
    pub job_title: String,
    pub level: Option<CareerLevel>,
    pub trainee: bool,
    pub roles: BTreeSet<Role>,
    pub professional_bodies: Vec<String>,
    pub grade: Option<Grade>,
    #[serde(skip)]
    pub password_hash: Option<String>,
}

/// A line of the staff list.
#[derive(Debug, Clone, Serialize)]
pub struct StaffSummary {
    #[serde(flatten)]
    pub staff: Staff,
    pub on_duty: Vec<PlaceCode>,
}

const STAFF_COLUMNS: &str = "id, username, name, job_title, level, trainee, status, grade";

fn staff_from_row(row: &Row) -> Result<(i64, Staff)> {
    Ok((
        col(row, "id")?,
        staff_from_parts(
            col(row, "username")?,
            col(row, "name")?,
            col(row, "job_title")?,
            col(row, "level")?,
            col(row, "trainee")?,
            col(row, "status")?,
            col(row, "grade")?,
        )?,
    ))
}

fn staff_from_parts(
    username: String,
    name: String,
    job_title: String,
    level: Option<i64>,
    trainee: i64,
    status: String,
    grade: Option<String>,
) -> Result<Staff> {
    Ok(Staff {
        username: stored("staff username", Username::parse(&username))?,
        name: stored("staff name", PersonName::parse(&name))?,
        job_title,
        level: level
            .map(CareerLevel::new)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        trainee: trainee != 0,
        roles: BTreeSet::new(),
        status: stored("staff status", StaffStatus::parse(&status))?,
        professional_bodies: Vec::new(),
        grade: grade.map(|g| stored("grade", Grade::parse(&g))).transpose()?,
    })
}

/// Whose profile [`Store::profile_of`] reads, as the condition on the `staff` table that finds them and its one
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Whose {
    Username(String),
    Id(i64),
    /// The holder of a bearer token, by the token's digest: only while the token is not revoked and its holder is
    /// active.
    TokenDigest(String),
}

/// The staff profiles a store has read (see [`Store::profile_of`]).
pub(crate) type Profiles = crate::kept::Kept<Whose, StaffProfile>;

impl Store {
    /// The id of an existing staff member, or a not-found error naming the username.
    pub async fn staff_id(&self, username: &Username) -> Result<i64> {
        let row = query("SELECT id FROM staff WHERE username = $1")
            .bind(username.as_str())
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => col(&r, "id"),
            None => Err(StoreError::NotFound(format!("no staff member `{username}`"))),
        }
    }

    /// Everyone, with where they are on duty now.
    pub async fn list_staff(&self) -> Result<Vec<StaffSummary>> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff ORDER BY username");
        let rows = query_built(sql).fetch_all(self.pool()).await?;
        // Everyone's roles, memberships and current duty in one more query (not three a person).
        let parts = query(
            "SELECT 'role' AS kind, staff_id, role AS a FROM staff_role \
             UNION ALL SELECT 'body', staff_id, body FROM staff_membership \
             UNION ALL SELECT DISTINCT 'duty', staff_id, place_code FROM duty \
               WHERE starts_at <= $1 AND (ends_at IS NULL OR ends_at > $1) \
             ORDER BY 1, 2, 3",
        )
        .bind(format_instant(self.now()))
        .fetch_all(self.pool())
        .await?;
        let mut summaries = Vec::with_capacity(rows.len());
        let mut index_of = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let (id, staff) = staff_from_row(row)?;
            index_of.insert(id, summaries.len());
            summaries.push(StaffSummary {
                staff,
                on_duty: Vec::new(),
            });
        }
        for r in &parts {
            let kind: String = col(r, "kind")?;
            let a: String = col(r, "a")?;
            let Some(&i) = index_of.get(&col::<i64>(r, "staff_id")?) else {
                continue;
            };
            let summary = &mut summaries[i];
            match kind.as_str() {
                "role" => {
                    summary.staff.roles.insert(stored("role", Role::parse(&a))?);
                }
                "body" => summary.staff.professional_bodies.push(a),
                _ => summary.on_duty.push(stored("place", PlaceCode::parse(&a))?),
            }
        }
        Ok(summaries)
    }

    /// A staff member with registrations, entitlements, duty and competency records, as they stand now.
    pub async fn staff_profile(&self, username: &Username) -> Result<StaffProfile> {
        self.profile_of(Whose::Username(username.as_str().to_owned()))
            .await?
            .map(|(profile, _)| profile)
            .ok_or_else(|| StoreError::NotFound(format!("no staff member `{username}`")))
    }

    /// A staff member's profile as it stood under `versions` (read by a statement of the request's own): the one the
    /// store keeps while nothing in it has changed, else read afresh.
    pub async fn staff_profile_under(&self, username: &Username, versions: Versions) -> Result<StaffProfile> {
        self.profile_under(Whose::Username(username.as_str().to_owned()), versions)
            .await?
            .map(|(profile, _)| profile)
            .ok_or_else(|| StoreError::NotFound(format!("no staff member `{username}`")))
    }

    /// The profile of a session's holder, under the versions read with the session (no query for them).
    pub async fn session_holder(&self, session: &crate::session::SessionInfo) -> Result<(StaffProfile, Versions)> {
        self.profile_under(Whose::Id(session.staff_id), session.versions)
            .await?
            .ok_or_else(|| StoreError::NotFound("no such staff member".into()))
    }

    /// The profile of whoever holds a bearer token, if the token exists, is not revoked and its holder is active,
    /// with the versions it was read under: the rest of the request passes them to [`Store::patient_record`].
    pub async fn token_holder(&self, token: &str) -> Result<Option<(StaffProfile, Versions)>> {
        self.profile_of(Whose::TokenDigest(crate::credentials::secret_digest(token)))
            .await
    }

    /// The holder of a bearer token as this store last read them, without asking the database: the profile kept for
    /// the token under the newest profile version the store has seen, if it stands at this time. Not an answer on
    /// its own: the database may have moved on since (a token revoked, a role taken away). A statement that reads the
    /// versions with what it reads confirms it ([`Versions::confirm`]); where they moved on, the holder is read afresh
    /// ([`Store::token_holder`]).
    ///
    /// The versions given name the record counter too when the records this store keeps were read under the same
    /// profile version (a decision for the holder then reads a patient's record from them, see `patient_record`);
    /// else it is 0, which only a database whose records never changed holds.
    pub fn kept_token_holder(&self, token: &str) -> Option<(StaffProfile, Versions)> {
        let under = self.shared.profiles.versions()?;
        let whose = Whose::TokenDigest(crate::credentials::secret_digest(token));
        let profile = self.shared.profiles.get(&whose, under, self.now())?;
        let versions = self
            .shared
            .records
            .versions()
            .filter(|records| records.profiles == under.profiles)
            .unwrap_or(under);
        Some((profile, versions))
    }

    /// The version counters as they stand now (see `kept`): profiles and records read under them are as the database
    /// stood then.
    pub async fn versions(&self) -> Result<Versions> {
        crate::kept::read_versions(self.pool()).await
    }

    /// Everything about a staff member a decision needs, as it stands now, and the versions read before it. A
    /// profile is needed for every request, so one already read is used again while nothing it is made of has
    /// changed (see `kept`) and no duty of theirs has begun or ended since. Checking that is one small query;
    /// reading a profile is a larger one.
    async fn profile_of(&self, whose: Whose) -> Result<Option<(StaffProfile, Versions)>> {
        let versions = self.versions().await?;
        self.profile_under(whose, versions).await
    }

    /// [`Store::profile_of`] under versions already read, before the profile would be.
    async fn profile_under(&self, whose: Whose, versions: Versions) -> Result<Option<(StaffProfile, Versions)>> {
        let now = self.now();
        // A profile is not made of records: kept under the profile version alone.
        let under = Versions { records: 0, ..versions };
        if let Some(kept) = self.shared.profiles.get(&whose, under, now) {
            return Ok(Some((kept, versions)));
        }
        let Some((profile, until)) = self.read_profile(&whose, now).await? else {
            return Ok(None);
        };
        self.shared.profiles.keep(whose, under, now, until, &profile);
        Ok(Some((profile, versions)))
    }

    /// A profile read in one query (each query is a round trip): the staff row, then a row per role, membership,
    /// registration, entitlement, current duty and competency record, the kind in the first column; and when the
    /// next of their duties begins or ends after `now`, if one does.
    async fn read_profile(
        &self,
        whose: &Whose,
        now: DateTime<Utc>,
    ) -> Result<Option<(StaffProfile, Option<DateTime<Utc>>)>> {
        // (PostgreSQL types a bare NULL in a later arm as text, so the duty arm casts its numeric ones.) The rows
        // are put in order here, not by the database: on SQLite an `ORDER BY` over the arms cost a temporary
        // b-tree an arm and made this query, run on every request, three times as long.
        const ARMS: &str = "\
            SELECT 'staff' AS kind, username AS a, name AS b, job_title AS c, status AS d, grade AS e, NULL AS f, \
              NULL AS g, id AS id, level AS level, trainee AS trainee FROM me \
            UNION ALL SELECT 'role', role, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
              FROM staff_role WHERE staff_id = (SELECT id FROM me) \
            UNION ALL SELECT 'body', body, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
              FROM staff_membership WHERE staff_id = (SELECT id FROM me) \
            UNION ALL SELECT 'registration', regulator, number, expires_on, annotations, NULL, NULL, NULL, NULL, \
              NULL, NULL FROM registration WHERE staff_id = (SELECT id FROM me) \
            UNION ALL SELECT 'entitlement', entitlement, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
              FROM entitlement WHERE staff_id = (SELECT id FROM me) \
            UNION ALL SELECT 'duty', place_code, NULL, NULL, NULL, NULL, NULL, NULL, CAST(NULL AS BIGINT), \
              CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) \
              FROM duty WHERE staff_id = (SELECT id FROM me) AND starts_at <= $2 AND (ends_at IS NULL OR ends_at > $2) \
            UNION ALL SELECT 'competency', r.competency_id, r.signed_off_on, r.expires_on, a.username, r.evidence, \
              r.revoked_at, r.revoke_reason, NULL, NULL, NULL \
              FROM competency_record r LEFT JOIN staff a ON a.id = r.assessor_id WHERE r.staff_id = (SELECT id FROM me) \
            UNION ALL SELECT 'next', MIN(t), NULL, NULL, NULL, NULL, NULL, NULL, CAST(NULL AS BIGINT), \
              CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) FROM \
              (SELECT starts_at AS t FROM duty WHERE staff_id = (SELECT id FROM me) AND starts_at > $2 \
               UNION ALL SELECT ends_at FROM duty WHERE staff_id = (SELECT id FROM me) AND ends_at > $2) later";
        let cond = match whose {
            Whose::Username(_) => "username = $1",
            Whose::Id(_) => "id = $1",
            Whose::TokenDigest(_) => {
                "status = 'active' AND id = \
                 (SELECT staff_id FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL)"
            }
        };
        let sql = format!("WITH me AS (SELECT {STAFF_COLUMNS} FROM staff WHERE {cond}) {ARMS}");
        let query = query_built(sql);
        let query = match whose {
            Whose::Username(name) => query.bind(name.as_str()),
            Whose::Id(id) => query.bind(*id),
            Whose::TokenDigest(digest) => query.bind(digest.as_str()),
        };
        let mut rows = query.bind(format_instant(now)).fetch_all(self.pool()).await?;
        fn key(r: &Row) -> [Option<&str>; 4] {
            [r.text("kind"), r.text("a"), r.text("b"), r.text("c")]
        }
        rows.sort_by(|x, y| key(x).cmp(&key(y)));
        let mut found = None;
        let mut roles = BTreeSet::new();
        let mut professional_bodies = Vec::new();
        let mut registrations = Vec::new();
        let mut entitlements = BTreeSet::new();
        let mut on_duty = Vec::new();
        let mut competencies = Vec::new();
        let mut until = None;
        for r in &rows {
            let kind: String = col(r, "kind")?;
            if kind == "next" {
                if let Some(at) = col::<Option<String>>(r, "a")? {
                    until = Some(stored(
                        "duty time",
                        remit_domain::time::parse_instant("duty time", &at),
                    )?);
                }
                continue;
            }
            let a: String = col(r, "a")?;
            let text = |name: &str| col::<Option<String>>(r, name);
            let need = |name: &str| -> Result<String> {
                text(name)?.ok_or_else(|| StoreError::Corrupt(format!("a {kind} of a staff member lacks a value")))
            };
            match kind.as_str() {
                "staff" => {
                    let staff = staff_from_parts(
                        a,
                        need("b")?,
                        need("c")?,
                        col(r, "level")?,
                        col(r, "trainee")?,
                        need("d")?,
                        text("e")?,
                    )?;
                    found = Some((col::<i64>(r, "id")?, staff));
                }
                "role" => {
                    roles.insert(stored("role", Role::parse(&a))?);
                }
                "body" => professional_bodies.push(a),
                "registration" => {
                    registrations.push(registration_from_parts(&a, need("b")?, &need("c")?, &need("d")?)?)
                }
                "entitlement" => {
                    entitlements.insert(stored("entitlement", Entitlement::parse(&a))?);
                }
                "duty" => on_duty.push(stored("place", PlaceCode::parse(&a))?),
                _ => competencies.push(crate::competency::record_from_parts(crate::competency::RecordParts {
                    competency_id: a,
                    signed_off_on: need("b")?,
                    expires_on: need("c")?,
                    assessor: text("d")?,
                    evidence: need("e")?,
                    revoked_at: text("f")?,
                    revoke_reason: text("g")?,
                })?),
            }
        }
        let Some((id, mut staff)) = found else {
            return Ok(None);
        };
        staff.roles = roles;
        staff.professional_bodies = professional_bodies;
        // Two duty rows may overlap at the same place.
        on_duty.dedup();
        let profile = StaffProfile {
            id,
            staff,
            registrations,
            entitlements,
            on_duty,
            competencies,
        };
        Ok(Some((profile, until)))
    }

    /// The profiles of the active staff on duty at `place` at `at`, by username, as they stood under `versions`: the
    /// ones the store keeps cost no query, so this is one.
    pub async fn profiles_on_duty_at(
        &self,
        place: &str,
        at: DateTime<Utc>,
        versions: Versions,
    ) -> Result<Vec<StaffProfile>> {
        let mut out = Vec::new();
        for u in self.on_duty_at(place, at).await? {
            out.push(self.staff_profile_under(&u, versions).await?);
        }
        Ok(out)
    }

    /// The active staff on duty at `place` at `at`, by username.
    pub async fn on_duty_at(&self, place: &str, at: DateTime<Utc>) -> Result<Vec<Username>> {
        let at = format_instant(at);
        let rows = query(
            "SELECT DISTINCT s.username FROM duty d JOIN staff s ON s.id = d.staff_id WHERE d.place_code = $1 \
             AND d.starts_at <= $2 AND (d.ends_at IS NULL OR d.ends_at > $2) AND s.status = 'active' \
             ORDER BY s.username",
        )
        .bind(place)
        .bind(&at)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| stored("username", Username::parse(&col::<String>(r, "username")?)))
            .collect()
    }

    /// The active staff who work at `place`: rostered there at any time since `since` (on duty now, earlier, or in a
    /// duty yet to start), by username, each with whether they are on duty there at `now`.
    pub async fn rostered_at(
        &self,
        place: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Username, bool)>> {
        let rows = query(
            "SELECT s.username, CAST(MAX(CASE WHEN d.starts_at <= $3 AND (d.ends_at IS NULL OR d.ends_at > $3) \
             THEN 1 ELSE 0 END) AS BIGINT) AS on_now FROM duty d JOIN staff s ON s.id = d.staff_id \
             WHERE d.place_code = $1 AND (d.ends_at IS NULL OR d.ends_at > $2) AND s.status = 'active' \
             GROUP BY s.username ORDER BY s.username",
        )
        .bind(place)
        .bind(format_instant(since))
        .bind(format_instant(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    stored("username", Username::parse(&col::<String>(r, "username")?))?,
                    col::<i64>(r, "on_now")? == 1,
                ))
            })
            .collect()
    }

    /// The stored password hash and status for sign-in.
    pub async fn credentials_of(&self, username: &Username) -> Result<Option<(i64, Option<String>, StaffStatus)>> {
        let row = query("SELECT id, password_hash, status FROM staff WHERE username = $1")
            .bind(username.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok((
                col(&r, "id")?,
                col(&r, "password_hash")?,
                stored("status", StaffStatus::parse(&col::<String>(&r, "status")?))?,
            ))
        })
        .transpose()
    }
}

impl WriteTx {
    /// Adds a staff member; a taken username is a conflict.
    pub async fn insert_staff(&mut self, s: &NewStaff) -> Result<i64> {
        let now = format_instant(self.now());
        let row = query(
            "INSERT INTO staff (username, name, job_title, level, trainee, status, password_hash, created_at, grade) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8) RETURNING id",
        )
        .bind(s.username.as_str())
        .bind(s.name.as_str())
        .bind(&s.job_title)
        .bind(s.level.map(|l| i64::from(l.get())))
        .bind(i64::from(s.trainee))
        .bind(s.password_hash.as_deref())
        .bind(&now)
        .bind(s.grade.as_ref().map(Grade::as_str))
        .fetch_one(self.conn())
        .await
        .map_err(|e| on_unique(e, || format!("username `{}` is already taken", s.username)))?;
        let id: i64 = col(&row, "id")?;
        for role in &s.roles {
            query("INSERT INTO staff_role (staff_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(role.as_str())
                .execute(self.conn())
                .await?;
        }
        for body in &s.professional_bodies {
            query("INSERT INTO staff_membership (staff_id, body) VALUES ($1, $2)")
                .bind(id)
                .bind(body)
                .execute(self.conn())
                .await
                .map_err(|e| on_unique(e, || format!("professional body `{body}` is listed twice")))?;
        }
        Ok(id)
    }

    pub async fn add_registration(&mut self, staff_id: i64, r: &Registration) -> Result<()> {
        registration_args(
            query(
                "INSERT INTO registration (staff_id, regulator, number, expires_on, annotations) \
                 VALUES ($1, $2, $3, $4, $5)",
            ),
            staff_id,
            r,
        )
        .execute(self.conn())
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!("{} registration `{}` is already recorded", r.regulator, r.number)
            })
        })?;
        Ok(())
    }

    /// Records a registration's renewal: the registration held (same regulator and number) takes its new expiry,
    /// which must be later, and the annotations given.
    pub async fn renew_registration(&mut self, staff_id: i64, r: &Registration) -> Result<()> {
        let row = query("SELECT expires_on FROM registration WHERE staff_id = $1 AND regulator = $2 AND number = $3")
            .bind(staff_id)
            .bind(r.regulator.as_str())
            .bind(&r.number)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!(
                "no {} registration `{}` of this staff member to renew (record it with add-registration)",
                r.regulator, r.number
            )));
        };
        let held = stored(
            "expiry",
            remit_domain::time::parse_date("expires_on", &col::<String>(&row, "expires_on")?),
        )?;
        if r.expires_on <= held {
            return Err(StoreError::Conflict(format!(
                "the new expiry, {}, must be later than the one recorded, {held}",
                r.expires_on
            )));
        }
        registration_args(
            query(
                "UPDATE registration SET expires_on = $4, annotations = $5 WHERE staff_id = $1 AND regulator = $2 \
                 AND number = $3",
            ),
            staff_id,
            r,
        )
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn grant_entitlement(&mut self, staff_id: i64, e: Entitlement, granted_by: &str) -> Result<()> {
        let now = format_instant(self.now());
        query("INSERT INTO entitlement (staff_id, entitlement, granted_at, granted_by) VALUES ($1, $2, $3, $4)")
            .bind(staff_id)
            .bind(e.as_str())
            .bind(&now)
            .bind(granted_by)
            .execute(self.conn())
            .await
            .map_err(|err| on_unique(err, || format!("the entitlement `{e}` is already granted")))?;
        Ok(())
    }

    /// Ends any duty in progress now and, unless `places` is empty, starts duty in each place until `until`.
    pub async fn set_duty(&mut self, staff_id: i64, places: &[PlaceCode], until: Option<DateTime<Utc>>) -> Result<()> {
        let now = format_instant(self.now());
        if let Some(u) = until
            && u <= self.now()
        {
            return Err(StoreError::Invalid(format!(
                "until: `{}` is not in the future",
                format_instant(u)
            )));
        }
        query(
            "UPDATE duty SET ends_at = $2 WHERE staff_id = $1 AND starts_at <= $2 AND (ends_at IS NULL OR ends_at > $2)",
        )
        .bind(staff_id)
        .bind(&now)
        .execute(self.conn())
        .await?;
        let until = until.map(format_instant);
        for place in places {
            query("INSERT INTO duty (staff_id, place_code, starts_at, ends_at) VALUES ($1, $2, $3, $4)")
                .bind(staff_id)
                .bind(place.as_str())
                .bind(&now)
                .bind(until.as_deref())
                .execute(self.conn())
                .await
                .map_err(|e| {
                    if e.is_foreign_key_violation() {
                        StoreError::NotFound(format!("no place `{place}`"))
                    } else {
                        e
                    }
                })?;
        }
        Ok(())
    }

    /// Records a shift of a roster, unless the same shift (staff, place, start and end) is recorded already: whether
    /// it was added.
    pub async fn add_shift(
        &mut self,
        staff_id: i64,
        place: &PlaceCode,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<bool> {
        let (start, end) = (format_instant(starts_at), format_instant(ends_at));
        let there = query(
            "SELECT COUNT(*) AS n FROM duty WHERE staff_id = $1 AND place_code = $2 AND starts_at = $3 AND ends_at = $4",
        )
        .bind(staff_id)
        .bind(place.as_str())
        .bind(&start)
        .bind(&end)
        .fetch_one(self.conn())
        .await?;
        if col::<i64>(&there, "n")? > 0 {
            return Ok(false);
        }
        self.insert_duty(staff_id, place, starts_at, Some(ends_at)).await?;
        Ok(true)
    }

    /// Records duty with explicit times (used to seed histories).
    pub async fn insert_duty(
        &mut self,
        staff_id: i64,
        place: &PlaceCode,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        query("INSERT INTO duty (staff_id, place_code, starts_at, ends_at) VALUES ($1, $2, $3, $4)")
            .bind(staff_id)
            .bind(place.as_str())
            .bind(format_instant(starts_at))
            .bind(ends_at.map(format_instant))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Suspends or reinstates. Suspension ends every session and revokes no tokens, but a suspended account's
    /// tokens are refused at use.
    pub async fn set_status(&mut self, staff_id: i64, status: StaffStatus) -> Result<()> {
        query("UPDATE staff SET status = $2 WHERE id = $1")
            .bind(staff_id)
            .bind(status.as_str())
            .execute(self.conn())
            .await?;
        if status == StaffStatus::Suspended {
            query("DELETE FROM web_session WHERE staff_id = $1")
                .bind(staff_id)
                .execute(self.conn())
                .await?;
            // Tokens die with the suspension: reinstating the person gives them back no old token.
            query("UPDATE api_token SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL")
                .bind(staff_id)
                .bind(format_instant(self.now()))
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Sets a new password hash and ends the member's sessions.
    pub async fn set_password(&mut self, staff_id: i64, password_hash: &str) -> Result<()> {
        query("UPDATE staff SET password_hash = $2 WHERE id = $1")
            .bind(staff_id)
            .bind(password_hash)
            .execute(self.conn())
            .await?;
        query("DELETE FROM web_session WHERE staff_id = $1")
            .bind(staff_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Sets (or with `None` clears) the grade escalation routes address a staff member by.
    pub async fn set_grade(&mut self, staff_id: i64, grade: Option<&Grade>) -> Result<()> {
        query("UPDATE staff SET grade = $2 WHERE id = $1")
            .bind(staff_id)
            .bind(grade.map(Grade::as_str))
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// A registration from its stored columns.
pub(crate) fn registration_from_parts(
    regulator: &str,
    number: String,
    expires_on: &str,
    annotations: &str,
) -> Result<Registration> {
    Ok(Registration {
        regulator: stored("regulator", Regulator::parse(regulator))?,
        number,
        expires_on: stored("expiry", remit_domain::time::parse_date("expires_on", expires_on))?,
        annotations: annotations
            .split(',')
            .filter(|a| !a.is_empty())
            .map(|a| stored("annotation", Annotation::parse(a)))
            .collect::<Result<_>>()?,
    })
}

/// A registration's columns as a statement's `$1`…`$5`: the holder, regulator, number, expiry and annotations.
fn registration_args(q: crate::db::Query, staff_id: i64, r: &Registration) -> crate::db::Query {
    let annotations: Vec<&str> = r.annotations.iter().map(Annotation::as_str).collect();
    q.bind(staff_id)
        .bind(r.regulator.as_str())
        .bind(&r.number)
        .bind(r.expires_on.to_string())
        .bind(annotations.join(","))
}
