//! Delegated tasks (FHIR Task semantics): who may move a task from which status to which, and what each move needs.
//!
//! requested → accepted | rejected; accepted → in-progress; in-progress → completed | failed, or, under direct
//! supervision, → awaiting-countersignature → completed (countersigned) | in-progress (returned with a comment).
//! The delegator may cancel until the work is done.

use crate::nhs::NhsNumber;
use std::fmt;

use serde::Serialize;

use crate::error::InvalidValue;
use crate::supervision::Supervision;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    Requested,
    Accepted,
    Rejected,
    InProgress,
    AwaitingCountersignature,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 8] = [
        TaskStatus::Requested,
        TaskStatus::Accepted,
        TaskStatus::Rejected,
        TaskStatus::InProgress,
        TaskStatus::AwaitingCountersignature,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Requested => "requested",
            TaskStatus::Accepted => "accepted",
            TaskStatus::Rejected => "rejected",
            TaskStatus::InProgress => "in-progress",
            TaskStatus::AwaitingCountersignature => "awaiting-countersignature",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL.into_iter().find(|t| t.as_str() == s.trim()).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            InvalidValue::new(
                "status",
                format!("`{}` is not one of {}", crate::error::echo(s), known.join(", ")),
            )
        })
    }

    /// Still work to be done: the task gives its delegatee access to the patient's record.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TaskStatus::Requested
                | TaskStatus::Accepted
                | TaskStatus::InProgress
                | TaskStatus::AwaitingCountersignature
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Who a person is to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Delegator,
    Delegatee,
    Supervisor,
}

impl Part {
    fn noun(self) -> &'static str {
        match self {
            Part::Delegator => "the person who delegated it",
            Part::Delegatee => "the person it was delegated to",
            Part::Supervisor => "the supervisor named on it",
        }
    }
}

/// Something a person does to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Move {
    Accept,
    Decline,
    Start,
    Complete,
    Fail,
    Countersign,
    Return,
    Cancel,
}

impl Move {
    pub const ALL: [Move; 8] = [
        Move::Accept,
        Move::Decline,
        Move::Start,
        Move::Complete,
        Move::Fail,
        Move::Countersign,
        Move::Return,
        Move::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Move::Accept => "accept",
            Move::Decline => "decline",
            Move::Start => "start",
            Move::Complete => "complete",
            Move::Fail => "fail",
            Move::Countersign => "countersign",
            Move::Return => "return",
            Move::Cancel => "cancel",
        }
    }

    pub fn parse(input: &str) -> Result<Self, crate::InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == input.trim())
            .ok_or_else(|| {
                crate::InvalidValue::new(
                    "move",
                    format!(
                        "`{}` is not one of accept, decline, start, complete, fail, countersign, return, cancel",
                        crate::error::echo(input)
                    ),
                )
            })
    }

    /// The move as a page's button names it.
    pub fn label(self) -> &'static str {
        match self {
            Move::Accept => "Accept",
            Move::Decline => "Decline",
            Move::Start => "Start",
            Move::Complete => "Complete",
            Move::Fail => "Could not be done",
            Move::Countersign => "Countersign",
            Move::Return => "Return for more work",
            Move::Cancel => "Cancel the task",
        }
    }

    /// Who may make the move.
    pub fn by(self) -> Part {
        match self {
            Move::Accept | Move::Decline | Move::Start | Move::Complete | Move::Fail => Part::Delegatee,
            Move::Countersign | Move::Return => Part::Supervisor,
            Move::Cancel => Part::Delegator,
        }
    }

    /// Whether the move must say why (a decline, a failure, a return, a cancellation).
    pub fn needs_reason(self) -> bool {
        matches!(self, Move::Decline | Move::Fail | Move::Return | Move::Cancel)
    }
}

/// Why a move is not possible, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRefused(pub String);

impl fmt::Display for MoveRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The status after `mv`, made by someone in `parts` (a person may hold several parts), or why not.
pub fn next_status(
    current: TaskStatus,
    mv: Move,
    parts: &[Part],
    supervision: Supervision,
) -> Result<TaskStatus, MoveRefused> {
    if !parts.contains(&mv.by()) {
        return Err(MoveRefused(format!(
            "only {} may {} this task",
            mv.by().noun(),
            mv.as_str()
        )));
    }
    use TaskStatus as S;
    let next = match (current, mv) {
        (S::Requested, Move::Accept) => S::Accepted,
        (S::Requested, Move::Decline) => S::Rejected,
        (S::Accepted, Move::Start) => S::InProgress,
        (S::InProgress, Move::Complete) if supervision == Supervision::Direct => S::AwaitingCountersignature,
        (S::InProgress, Move::Complete) => S::Completed,
        (S::InProgress, Move::Fail) => S::Failed,
        (S::AwaitingCountersignature, Move::Countersign) => S::Completed,
        (S::AwaitingCountersignature, Move::Return) => S::InProgress,
        (S::Requested | S::Accepted | S::InProgress, Move::Cancel) => S::Cancelled,
        _ => {
            return Err(MoveRefused(format!(
                "a task that is {} cannot be {}",
                current.as_str(),
                past(mv)
            )));
        }
    };
    Ok(next)
}

/// The moves someone holding `parts` may make on a task that is `current` now: the buttons a page offers them.
pub fn moves(current: TaskStatus, parts: &[Part], supervision: Supervision) -> Vec<Move> {
    Move::ALL
        .into_iter()
        .filter(|mv| next_status(current, *mv, parts, supervision).is_ok())
        .collect()
}

impl TaskView {
    /// The parts `username` holds in this task (a person may hold several).
    pub fn parts_of(&self, username: &str) -> Vec<Part> {
        let mut parts = Vec::new();
        if self.delegator == username {
            parts.push(Part::Delegator);
        }
        if self.delegatee == username {
            parts.push(Part::Delegatee);
        }
        if self.supervisor.as_deref() == Some(username) {
            parts.push(Part::Supervisor);
        }
        parts
    }
}

fn past(mv: Move) -> &'static str {
    match mv {
        Move::Accept => "accepted",
        Move::Decline => "declined",
        Move::Start => "started",
        Move::Complete => "completed",
        Move::Fail => "marked failed",
        Move::Countersign => "countersigned",
        Move::Return => "returned",
        Move::Cancel => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus as S;

    const ALL_PARTS: [Part; 3] = [Part::Delegator, Part::Delegatee, Part::Supervisor];

    /// A page offers each part only the moves the table allows it now.
    #[test]
    fn each_part_is_offered_only_its_moves_now() {
        use Move as M;
        let cases: &[(S, Part, Supervision, &[Move])] = &[
            (
                S::Requested,
                Part::Delegatee,
                Supervision::None,
                &[M::Accept, M::Decline],
            ),
            (S::Requested, Part::Delegator, Supervision::None, &[M::Cancel]),
            (S::Requested, Part::Supervisor, Supervision::Direct, &[]),
            (S::Accepted, Part::Delegatee, Supervision::None, &[M::Start]),
            (
                S::InProgress,
                Part::Delegatee,
                Supervision::Direct,
                &[M::Complete, M::Fail],
            ),
            (
                S::AwaitingCountersignature,
                Part::Supervisor,
                Supervision::Direct,
                &[M::Countersign, M::Return],
            ),
            (S::AwaitingCountersignature, Part::Delegatee, Supervision::Direct, &[]),
            (S::Completed, Part::Delegator, Supervision::None, &[]),
        ];
        for (status, part, supervision, want) in cases {
            assert_eq!(moves(*status, &[*part], *supervision), *want, "{status:?} {part:?}");
        }
    }

    /// Every (status, move) pair, with the status it leads to under indirect and direct supervision.
    #[test]
    fn the_whole_table() {
        let allowed: &[(S, Move, S, S)] = &[
            (S::Requested, Move::Accept, S::Accepted, S::Accepted),
            (S::Requested, Move::Decline, S::Rejected, S::Rejected),
            (S::Requested, Move::Cancel, S::Cancelled, S::Cancelled),
            (S::Accepted, Move::Start, S::InProgress, S::InProgress),
            (S::Accepted, Move::Cancel, S::Cancelled, S::Cancelled),
            (S::InProgress, Move::Complete, S::Completed, S::AwaitingCountersignature),
            (S::InProgress, Move::Fail, S::Failed, S::Failed),
            (S::InProgress, Move::Cancel, S::Cancelled, S::Cancelled),
            (
                S::AwaitingCountersignature,
                Move::Countersign,
                S::Completed,
                S::Completed,
            ),
            (S::AwaitingCountersignature, Move::Return, S::InProgress, S::InProgress),
        ];
        for status in S::ALL {
            for mv in Move::ALL {
                let expected = allowed.iter().find(|(s, m, _, _)| *s == status && *m == mv);
                let indirect = next_status(status, mv, &ALL_PARTS, Supervision::Indirect);
                let direct = next_status(status, mv, &ALL_PARTS, Supervision::Direct);
                match expected {
                    Some((_, _, i, d)) => {
                        assert_eq!(indirect, Ok(*i), "{status:?} {mv:?}");
                        assert_eq!(direct, Ok(*d), "{status:?} {mv:?} direct");
                    }
                    None => {
                        let e = indirect.unwrap_err();
                        assert!(e.0.starts_with(&format!("a task that is {}", status.as_str())), "{e}");
                        assert!(direct.is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn only_the_right_person_moves_a_task() {
        for mv in Move::ALL {
            for part in ALL_PARTS {
                let r = next_status(S::Requested, mv, &[part], Supervision::None);
                if part != mv.by() {
                    assert!(
                        r.unwrap_err().0.starts_with(&format!("only {}", mv.by().noun())),
                        "{mv:?} by {part:?}"
                    );
                }
            }
        }
        assert_eq!(
            next_status(S::Requested, Move::Accept, &[Part::Delegatee], Supervision::None),
            Ok(S::Accepted)
        );
        assert!(next_status(S::Requested, Move::Accept, &[Part::Delegator], Supervision::None).is_err());
    }

    #[test]
    fn closed_tasks_are_closed() {
        for s in [S::Rejected, S::Completed, S::Failed, S::Cancelled] {
            assert!(!s.is_open());
            for mv in Move::ALL {
                assert!(
                    next_status(s, mv, &ALL_PARTS, Supervision::Direct).is_err(),
                    "{s:?} {mv:?}"
                );
            }
        }
        assert!(S::AwaitingCountersignature.is_open());
    }
}

/// One move in a task's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskEvent {
    pub at: String,
    pub by: String,
    #[serde(rename = "move")]
    pub mv: String,
    pub from: Option<String>,
    pub to: String,
    pub note: Option<String>,
}

/// A task as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    pub id: i64,
    pub patient: NhsNumber,
    pub place: String,
    pub activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exam_region: Option<String>,
    pub delegator: String,
    pub delegatee: String,
    pub supervision: Supervision,
    pub supervisor: Option<String>,
    pub due_at: Option<String>,
    pub notes: String,
    pub status: TaskStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Why it was declined, failed, returned or cancelled, from the latest such move.
    pub last_note: Option<String>,
    pub history: Vec<TaskEvent>,
}
