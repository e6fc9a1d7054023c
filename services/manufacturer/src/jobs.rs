//! Long-running jobs (`jobs` table): what they are, how far they got, how they ended.
//!
//! A job's `detail` is JSON chosen by its kind (for commissioning see
//! [`crate::batches::BatchRecord`]); the API shows it parsed.

use diesel::prelude::*;
use pedigree_party::db::schema::jobs;
use pedigree_party::db::{Database, DbConnection};
use pedigree_party::PartyError;
use pedigree_schema::event::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Done,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Running, Self::Done, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A job as stored.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub total: i64,
    pub done: i64,
    pub detail: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub status: JobStatus,
    pub total: i64,
    pub done: i64,
    pub detail: Option<serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl TryFrom<JobRow> for Job {
    type Error = PartyError;

    fn try_from(row: JobRow) -> Result<Self, PartyError> {
        let corrupt = |what: String| PartyError::Internal(format!("job {}: {what}", row.id));
        let time = |micros: i64| {
            Timestamp::from_unix_micros(micros)
                .ok_or_else(|| corrupt(format!("stored time {micros} out of range")))
        };
        Ok(Self {
            id: row.id,
            status: JobStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("unknown stored status {:?}", row.status)))?,
            total: row.total,
            done: row.done,
            detail: row
                .detail
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt(format!("stored detail: {e}")))?,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
            kind: row.kind,
        })
    }
}

fn now() -> i64 {
    Timestamp::now().unix_micros()
}

fn encode<T: Serialize>(detail: &T) -> Result<String, PartyError> {
    serde_json::to_string(detail).map_err(|e| PartyError::Internal(format!("job detail: {e}")))
}

/// Stores a new running job with nothing done yet; returns its id.
pub fn create<T: Serialize>(
    conn: &mut DbConnection,
    kind: &str,
    total: i64,
    detail: &T,
) -> Result<i64, PartyError> {
    let now = now();
    let values = (
        jobs::kind.eq(kind),
        jobs::status.eq(JobStatus::Running.as_str()),
        jobs::total.eq(total),
        jobs::done.eq(0),
        jobs::detail.eq(encode(detail)?),
        jobs::created_at.eq(now),
        jobs::updated_at.eq(now),
    );
    // `RETURNING` is per backend: diesel's MultiConnection does not derive it.
    let id = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(jobs::table)
            .values(values)
            .returning(jobs::id)
            .get_result(c),
        DbConnection::Pg(c) => diesel::insert_into(jobs::table)
            .values(values)
            .returning(jobs::id)
            .get_result(c),
    }?;
    Ok(id)
}

/// Records that `done` of the job's units are done.
pub fn progress(db: &Database, id: i64, done: i64) -> Result<(), PartyError> {
    diesel::update(jobs::table.find(id))
        .set((jobs::done.eq(done), jobs::updated_at.eq(now())))
        .execute(&mut *db.get()?)?;
    Ok(())
}

/// Records how the job ended, with its final detail.
pub fn finish<T: Serialize>(
    db: &Database,
    id: i64,
    status: JobStatus,
    done: i64,
    detail: &T,
) -> Result<(), PartyError> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(status.as_str()),
            jobs::done.eq(done),
            jobs::detail.eq(encode(detail)?),
            jobs::updated_at.eq(now()),
        ))
        .execute(&mut *db.get()?)?;
    Ok(())
}

/// The job `id`.
pub fn get(db: &Database, id: i64) -> Result<Job, PartyError> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(&mut *db.get()?)
        .optional()?
        .ok_or_else(|| PartyError::not_found(format!("there is no job {id}")))?
        .try_into()
}

/// Every job of `kind`, oldest first.
pub fn of_kind(conn: &mut DbConnection, kind: &str) -> Result<Vec<JobRow>, PartyError> {
    Ok(jobs::table
        .filter(jobs::kind.eq(kind))
        .order(jobs::id)
        .select(JobRow::as_select())
        .load(conn)?)
}
