//! News for open pages: escalations raised, acknowledged, reviewed or moved along their cascade, announced with the
//! place of the patient, and the count of each person's open streams.

use std::sync::Arc;

/// News for open pages: each escalation raised, acknowledged, reviewed or moved along its cascade is announced with
/// the place of its patient, and the server-sent event streams of ward boards and inboxes pass on to each reader only
/// the announcements of places they may see.
pub struct Events {
    tx: tokio::sync::broadcast::Sender<Change>,
    seq: std::sync::atomic::AtomicU64,
    /// Open streams per person (staff id), held to [`Config::max_streams_per_person`].
    open: std::sync::Mutex<std::collections::HashMap<i64, usize>>,
}

/// One announcement: its number, and the place it is about.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: u64,
    pub place: Arc<str>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(64).0,
            seq: std::sync::atomic::AtomicU64::new(0),
            open: std::sync::Mutex::default(),
        }
    }
}

impl Events {
    /// Tells subscribers that an escalation of a patient in `place` changed.
    pub fn escalation_raised(&self, place: &str) {
        self.board_changed(place);
    }

    /// Tells subscribers that the board of `place` changed (a patient came, left or was corrected).
    pub fn board_changed(&self, place: &str) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        // No subscriber is not an error.
        let _ = self.tx.send(Change {
            seq,
            place: Arc::from(place),
        });
    }

    /// Tells open streams to check at once that their readers' credentials still stand (a sign-out here).
    pub fn credentials_changed(&self) {
        let _ = self.tx.send(Change {
            seq: 0,
            place: Arc::from(""),
        });
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.tx.subscribe()
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
