//! Delegated tasks and their history.

use chrono::{DateTime, Utc};
use remit_domain::nhs::NhsNumber;
use remit_domain::supervision::Supervision;
use remit_domain::task::{Move, TaskStatus};
use remit_domain::time::{format_instant, parse_instant};
use serde::Serialize;

use crate::db::{Row, query, query_built};
use crate::{Result, Store, StoreError, WriteTx, col, stored};

pub use remit_domain::task::{TaskEvent, TaskView};

/// What is needed to delegate a task (ids already resolved).
#[derive(Debug, Clone, Serialize)]
pub struct NewTask {
    pub patient_id: i64,
    pub activity: String,
    pub exam_region: Option<String>,
    pub delegator_id: i64,
    pub delegatee_id: i64,
    pub supervision: Supervision,
    pub supervisor_id: Option<i64>,
    pub due_at: Option<DateTime<Utc>>,
    pub notes: String,
}

/// Who is working under a supervisor's supervision now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupervisionLoad {
    pub supervisor: String,
    pub name: String,
    /// (delegatee, task id), for open tasks with indirect or direct supervision.
    pub supervisees: Vec<String>,
    pub tasks: Vec<i64>,
}

const TASK_COLUMNS: &str = "t.id, p.nhs_number, p.place_code, t.activity, t.exam_region, d.username AS delegator, \
     e.username AS delegatee, t.supervision, s.username AS supervisor, t.due_at, t.notes, t.status, t.created_at, \
     t.updated_at FROM task t JOIN patient p ON p.id = t.patient_id JOIN staff d ON d.id = t.delegator_id \
     JOIN staff e ON e.id = t.delegatee_id LEFT JOIN staff s ON s.id = t.supervisor_id";

fn supervision_of(s: &str) -> Result<Supervision> {
    stored("task supervision", Supervision::parse(s))
}

fn task_from_row(r: &Row) -> Result<TaskView> {
    Ok(TaskView {
        id: col(r, "id")?,
        patient: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        place: col(r, "place_code")?,
        activity: col(r, "activity")?,
        exam_region: col(r, "exam_region")?,
        delegator: col(r, "delegator")?,
        delegatee: col(r, "delegatee")?,
        supervision: supervision_of(&col::<String>(r, "supervision")?)?,
        supervisor: col(r, "supervisor")?,
        due_at: col(r, "due_at")?,
        notes: col(r, "notes")?,
        status: stored("task status", TaskStatus::parse(&col::<String>(r, "status")?))?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        last_note: None,
        history: Vec::new(),
    })
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub owner: Option<String>,
    pub requester: Option<String>,
    pub status: Option<TaskStatus>,
    pub patient: Option<NhsNumber>,
}

impl Store {
    /// One task with its history.
    pub async fn task(&self, id: i64) -> Result<TaskView> {
        let sql = format!("SELECT {TASK_COLUMNS} WHERE t.id = $1");
        let row = query_built(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no task {id}")))?;
        let mut task = task_from_row(&row)?;
        let events = query(
            "SELECT ev.at, s.username, ev.move, ev.from_status, ev.to_status, ev.note FROM task_event ev \
             JOIN staff s ON s.id = ev.actor_id WHERE ev.task_id = $1 ORDER BY ev.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        task.history = events
            .iter()
            .map(|e| {
                Ok(TaskEvent {
                    at: col(e, "at")?,
                    by: col(e, "username")?,
                    mv: col(e, "move")?,
                    from: col(e, "from_status")?,
                    to: col(e, "to_status")?,
                    note: col(e, "note")?,
                })
            })
            .collect::<Result<_>>()?;
        task.last_note = task.history.iter().rev().find_map(|e| e.note.clone());
        Ok(task)
    }

    /// Tasks, newest first.
    pub async fn list_tasks(&self, f: &TaskFilter) -> Result<Vec<TaskView>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} WHERE ($1 IS NULL OR e.username = $1) AND ($2 IS NULL OR d.username = $2) \
             AND ($3 IS NULL OR t.status = $3) AND ($4 IS NULL OR p.nhs_number = $4) ORDER BY t.id DESC"
        );
        let rows = query_built(sql)
            .bind(f.owner.as_deref())
            .bind(f.requester.as_deref())
            .bind(f.status.map(TaskStatus::as_str))
            .bind(f.patient.as_ref().map(NhsNumber::as_str))
            .fetch_all(self.pool())
            .await?;
        let mut out: Vec<TaskView> = rows.iter().map(task_from_row).collect::<Result<_>>()?;
        for t in &mut out {
            let note =
                query("SELECT note FROM task_event WHERE task_id = $1 AND note IS NOT NULL ORDER BY id DESC LIMIT 1")
                    .bind(t.id)
                    .fetch_optional(self.pool())
                    .await?;
            t.last_note = note.map(|r| col(&r, "note")).transpose()?;
        }
        Ok(out)
    }

    /// The patients (by NHS number) for whom a staff member has an open delegated task.
    pub async fn open_task_patients(&self, staff_id: i64) -> Result<std::collections::BTreeSet<String>> {
        let rows = query(
            "SELECT DISTINCT p.nhs_number FROM task t JOIN patient p ON p.id = t.patient_id WHERE t.delegatee_id = $1 \
             AND t.status IN ('requested', 'accepted', 'in-progress', 'awaiting-countersignature')",
        )
        .bind(staff_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| col(r, "nhs_number")).collect()
    }

    /// For every supervisor with anyone working under them now: who, and on which tasks.
    pub async fn supervision_load(&self) -> Result<Vec<SupervisionLoad>> {
        let rows = query(
            "SELECT s.username AS supervisor, s.name, e.username AS delegatee, t.id FROM task t \
             JOIN staff s ON s.id = t.supervisor_id JOIN staff e ON e.id = t.delegatee_id \
             WHERE t.supervision <> 'none' AND t.status IN ('accepted', 'in-progress', 'awaiting-countersignature') \
             ORDER BY s.username, e.username, t.id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<SupervisionLoad> = Vec::new();
        for r in &rows {
            let supervisor: String = col(r, "supervisor")?;
            let delegatee: String = col(r, "delegatee")?;
            let id: i64 = col(r, "id")?;
            if out.last().is_none_or(|l| l.supervisor != supervisor) {
                out.push(SupervisionLoad {
                    supervisor: supervisor.clone(),
                    name: col(r, "name")?,
                    supervisees: Vec::new(),
                    tasks: Vec::new(),
                });
            }
            let load = out.last_mut().expect("just pushed");
            if !load.supervisees.contains(&delegatee) {
                load.supervisees.push(delegatee);
            }
            load.tasks.push(id);
        }
        Ok(out)
    }
}

impl WriteTx {
    /// Records a new task, `requested`, with its first history entry.
    pub async fn insert_task(&mut self, t: &NewTask) -> Result<i64> {
        let now = format_instant(self.now());
        let row = query(
            "INSERT INTO task (patient_id, activity, exam_region, delegator_id, delegatee_id, supervision, \
             supervisor_id, due_at, notes, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'requested', $10, $10) RETURNING id",
        )
        .bind(t.patient_id)
        .bind(&t.activity)
        .bind(t.exam_region.as_deref())
        .bind(t.delegator_id)
        .bind(t.delegatee_id)
        .bind(t.supervision.as_str())
        .bind(t.supervisor_id)
        .bind(t.due_at.map(format_instant))
        .bind(&t.notes)
        .bind(&now)
        .fetch_one(self.conn())
        .await?;
        let id: i64 = col(&row, "id")?;
        self.task_event(id, t.delegator_id, "delegate", None, TaskStatus::Requested, None)
            .await?;
        Ok(id)
    }

    /// Moves a task from `from` to `to`, only if it is still `from`: a task changed meanwhile is a conflict.
    pub async fn move_task(
        &mut self,
        id: i64,
        from: TaskStatus,
        to: TaskStatus,
        actor_id: i64,
        mv: Move,
        note: Option<&str>,
    ) -> Result<()> {
        let done = query("UPDATE task SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2")
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(format_instant(self.now()))
            .execute(self.conn())
            .await?;
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "task {id} has changed since it was read: it is no longer {from}"
            )));
        }
        self.task_event(id, actor_id, mv.as_str(), Some(from), to, note).await
    }

    async fn task_event(
        &mut self,
        id: i64,
        actor_id: i64,
        mv: &str,
        from: Option<TaskStatus>,
        to: TaskStatus,
        note: Option<&str>,
    ) -> Result<()> {
        query(
            "INSERT INTO task_event (task_id, at, actor_id, move, from_status, to_status, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(format_instant(self.now()))
        .bind(actor_id)
        .bind(mv)
        .bind(from.map(TaskStatus::as_str))
        .bind(to.as_str())
        .bind(note)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

/// Parses a due time.
pub fn parse_due(input: &str) -> Result<DateTime<Utc>> {
    parse_instant("due", input).map_err(StoreError::from)
}
