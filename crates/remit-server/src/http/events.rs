//! News for open pages: the changes the store announces (this process's commits, and what its follower hears from
//! the other processes on the same database), passed to the server-sent event streams of ward boards and inboxes, and
//! the count of each person's open streams. While the server stops, streams end with a hint to reconnect soon.

use std::sync::Arc;

pub use remit_store::changes::{Change, Kind};

/// News for open pages: each stream passes on to its reader only the announcements of places they may see.
pub struct Events {
    changes: Arc<remit_store::changes::Changes>,
    /// Open streams per person (staff id), held to [`Config::max_streams_per_person`].
    open: std::sync::Mutex<std::collections::HashMap<i64, usize>>,
    /// Set when the server begins to stop: streams end, telling browsers to reconnect (to another instance).
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Events {
    pub fn new(changes: Arc<remit_store::changes::Changes>) -> Self {
        Self {
            changes,
            open: std::sync::Mutex::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Tells open streams to check at once that their readers' credentials still stand (a sign-out here).
    pub fn credentials_changed(&self) {
        self.changes.publish(Change::new(Kind::Credentials, ""));
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Ends every open stream (the server is stopping).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves when the server begins to stop.
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Holds one of `staff`'s stream places, if fewer than `max` are open; the place is given back when the guard
    /// is dropped (the stream ends).
    pub fn hold_stream(self: &Arc<Self>, staff: i64, max: usize) -> Option<StreamGuard> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(staff).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamGuard {
            events: self.clone(),
            staff,
        })
    }
}

/// One open event stream of a person's, given back when dropped.
pub struct StreamGuard {
    events: Arc<Events>,
    staff: i64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut open = self
            .events
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.staff) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.staff);
            }
        }
    }
}
