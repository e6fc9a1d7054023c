//! The single writer thread, with group commit.
//!
//! HTTP handlers prepare their batches in parallel, then hand them to this
//! thread. While it commits one group, new batches queue up; it then takes
//! everything queued (up to a bound) as the next group: one transaction, one
//! fsync, one checkpoint for all of them. Under light load a batch commits
//! alone and at once; under heavy load groups grow and the cost per event
//! falls. No timer is needed.

use std::sync::mpsc;
use std::thread::JoinHandle;

use pedigree_schema::receipt::Receipt;
use tokio::sync::oneshot;

use crate::log::{Appender, LogError, Prepared};
use crate::rejection::Rejection;

type Outcomes = Vec<Result<Receipt, Rejection>>;

struct Job {
    batch: Vec<Result<Prepared, Rejection>>,
    reply: oneshot::Sender<Result<Outcomes, LogError>>,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct LogWriter {
    jobs: mpsc::SyncSender<Job>,
}

impl LogWriter {
    /// Starts the writer thread. It stops when every handle is dropped.
    pub fn spawn(
        mut appender: Appender,
        max_group_events: usize,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(1024);
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut group = vec![first];
                    let mut events = group[0].batch.len();
                    while events < max_group_events {
                        match queue.try_recv() {
                            Ok(job) => {
                                events += job.batch.len();
                                group.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    commit_group(&mut appender, group);
                }
            })?;
        Ok((Self { jobs }, thread))
    }

    /// Appends a prepared batch; resolves once it is durably committed.
    pub async fn append(
        &self,
        batch: Vec<Result<Prepared, Rejection>>,
    ) -> Result<Outcomes, LogError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { batch, reply })
            .map_err(|_| LogError::WriterGone)?;
        answer.await.map_err(|_| LogError::WriterGone)?
    }
}

fn commit_group(appender: &mut Appender, group: Vec<Job>) {
    let sizes: Vec<usize> = group.iter().map(|job| job.batch.len()).collect();
    let (batches, replies): (Vec<_>, Vec<_>) =
        group.into_iter().map(|job| (job.batch, job.reply)).unzip();
    match appender.append(batches.into_iter().flatten().collect()) {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for (reply, size) in replies.into_iter().zip(sizes) {
                // A caller that went away (timeout, disconnect) still had its
                // events committed; resubmitting returns the same receipts.
                let _ = reply.send(Ok(outcomes.by_ref().take(size).collect()));
            }
        }
        Err(error) => {
            tracing::error!(%error, "append failed; the whole group was rolled back");
            for reply in replies {
                let _ = reply.send(Err(LogError::Inconsistent(format!(
                    "append failed: {error}"
                ))));
            }
        }
    }
}
