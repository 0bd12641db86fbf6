//! What a store has read and uses again while nothing it is made of has changed. Every request needs its actor's
//! staff profile, and most clinical requests a patient's record: each is one larger query, and on PostgreSQL a round
//! trip. Instead, a request reads the database's two version counters in one small query when it is authenticated
//! ([`Versions`]): triggers move `profile_version` on with any change to what a profile is made of, and
//! `record_version` with any change to what a patient's record is made of, in the same transaction as the change and
//! whoever makes it (this server, the command line, a SQL prompt). A profile or record read under versions that
//! still stand is what a read now would give, so it is used again; anything else is read afresh.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// The columns of a statement that reads the version counters (named `profiles` and `records`; see [`versions_of`]),
/// as text to put in a statement's `concat!`.
macro_rules! versions_columns {
    () => {
        "(SELECT n FROM profile_version WHERE id = 1) AS profiles, \
         (SELECT n FROM record_version WHERE id = 1) AS records"
    };
}

/// The versions a row read with [`versions_columns`] holds.
pub(crate) fn versions_of(row: &crate::db::Row) -> crate::Result<Versions> {
    Ok(Versions {
        profiles: crate::col(row, "profiles")?,
        records: crate::col(row, "records")?,
    })
}

/// The version counters as they stand where the statement runs: on the store, or inside a write transaction (which
/// sees its own changes).
pub(crate) async fn read_versions(on: crate::db::On<'_>) -> crate::Result<Versions> {
    let row = crate::db::query(concat!("SELECT ", versions_columns!()))
        .fetch_one(on)
        .await?;
    versions_of(&row)
}

/// The database's version counters as a request found them when it began (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub(crate) profiles: i64,
    pub(crate) records: i64,
}

impl Versions {
    /// Whether a profile kept under `assumed` (taken without asking the database: see
    /// [`crate::Store::kept_token_holder`]) still stands when a statement read these versions.
    pub fn confirm(self, assumed: Versions) -> bool {
        self.profiles == assumed.profiles
    }

    /// Whether these versions are older than `other` in either counter (both only move on).
    fn older_than(self, other: Versions) -> bool {
        self.profiles < other.profiles || self.records < other.records
    }
}

/// What a store keeps of one kind (profiles by whose they are, records by patient and reader): all of it read under
/// one set of versions; each item good until a time, if one is known (a profile's holder's next duty beginning or
/// ending).
pub(crate) struct Kept<K, V> {
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    versions: Option<Versions>,
    items: HashMap<K, Item<V>>,
}

struct Item<V> {
    read_at: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    value: V,
}

/// How many items of one kind are kept at most: about one a person (or a person and patient) in use at once.
const MAX_KEPT: usize = 4096;

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                versions: None,
                items: HashMap::new(),
            }),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    /// The versions what is kept was read under, if anything is.
    pub(crate) fn versions(&self) -> Option<Versions> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).versions
    }

    /// The item kept for `key`, if it was read under `versions` and still stands at `now`.
    pub(crate) fn get(&self, key: &K, versions: Versions, now: DateTime<Utc>) -> Option<V> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.versions != Some(versions) {
            return None;
        }
        let item = inner.items.get(key)?;
        // A clock that went back (tests set it) is not trusted with an item read later.
        (item.read_at <= now && item.until.is_none_or(|u| now < u)).then(|| item.value.clone())
    }

    /// Keeps `value`, read after `versions` were: if anything in it changed in between, the versions have moved on
    /// since and the next request reads it again.
    pub(crate) fn keep(
        &self,
        key: K,
        versions: Versions,
        read_at: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        value: &V,
    ) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.versions.is_some_and(|kept| versions.older_than(kept)) {
            return;
        }
        if inner.versions != Some(versions) || inner.items.len() >= MAX_KEPT {
            inner.items.clear();
            inner.versions = Some(versions);
        }
        inner.items.insert(
            key,
            Item {
                read_at,
                until,
                value: value.clone(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn v(profiles: i64, records: i64) -> Versions {
        Versions { profiles, records }
    }

    #[test]
    fn an_item_stands_only_under_its_versions_and_until_its_time() {
        let kept: Kept<i64, &str> = Kept::default();
        let t = DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z")
            .expect("time")
            .to_utc();
        assert!(kept.get(&1, v(3, 7), t).is_none(), "nothing kept yet");
        kept.keep(1, v(3, 7), t, Some(t + Duration::hours(1)), &"one");
        assert_eq!(kept.get(&1, v(3, 7), t + Duration::minutes(59)), Some("one"));
        assert!(kept.get(&1, v(4, 7), t).is_none(), "the profile version moved on");
        assert!(kept.get(&1, v(3, 8), t).is_none(), "the record version moved on");
        assert!(
            kept.get(&1, v(3, 7), t + Duration::hours(1)).is_none(),
            "its time has come"
        );
        assert!(
            kept.get(&1, v(3, 7), t - Duration::seconds(1)).is_none(),
            "read later than asked"
        );
        assert!(kept.get(&2, v(3, 7), t).is_none(), "another key");

        // Read under older versions than those kept: not kept. Newer in either counter: the older go.
        kept.keep(2, v(2, 7), t, None, &"two");
        assert!(kept.get(&2, v(2, 7), t).is_none());
        kept.keep(2, v(3, 6), t, None, &"two");
        assert!(kept.get(&2, v(3, 6), t).is_none());
        kept.keep(2, v(3, 8), t, None, &"two");
        assert!(kept.get(&1, v(3, 7), t).is_none() && kept.get(&1, v(3, 8), t).is_none());
        assert_eq!(kept.get(&2, v(3, 8), t + Duration::days(365)), Some("two"));

        // A profile kept under a profile version (records 0) is confirmed by a statement's versions with the same
        // profile version, whatever its record version; not by a later one.
        assert!(v(3, 8).confirm(v(3, 0)) && v(3, 0).confirm(v(3, 0)));
        assert!(!v(4, 8).confirm(v(3, 0)), "a profile changed since");

        // Bounded: a full store starts again.
        for key in 0..(MAX_KEPT as i64 + 10) {
            kept.keep(100 + key, v(3, 8), t, None, &"many");
        }
        let held = kept.inner.lock().expect("lock").items.len();
        assert!(held <= MAX_KEPT, "{held} kept");
    }
}
