//! The database threads and the jobs they run. Each thread owns one connection; a [`Store`]
//! method sends it a job and waits for the answer.
//!
//! A job is typed end to end: [`Request`] holds the work, its result and the channel its
//! caller waits on, all of the caller's type `T`; the threads see it as a [`Job`] (run it,
//! then answer it), so nothing is boxed as `Any` and nothing is downcast. The writer answers
//! only after the batch's transaction is over: [`Job::answer`] is given what became of the
//! job's part of it, and a failed commit turns every answer of the batch into that error.
//!
//! [`Store`]: super::Store

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::sales;
use super::sql::Db;
use super::StoreError;

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

/// Where a database thread's jobs are sent.
pub(super) type Jobs = mpsc::Sender<Box<dyn Job>>;

/// Where a database thread takes its jobs from.
pub(super) type Inbox = mpsc::Receiver<Box<dyn Job>>;

/// A piece of work for a database thread, as the thread sees it.
pub(super) trait Job: Send {
    /// Runs the work on `db`; whether it succeeded (a failed one is rolled back alone).
    fn run(&mut self, db: &mut dyn Db) -> bool;

    /// Sends the caller its answer: the work's result if `outcome` is `Ok` (its savepoint
    /// was released and the transaction committed), else `outcome`'s error.
    fn answer(self: Box<Self>, outcome: Result<(), StoreError>);
}

/// A job whose caller waits for a `T`.
struct Request<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Request<T, F>
where
    T: Send,
    F: FnOnce(&mut dyn Db) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, db: &mut dyn Db) -> bool {
        let Some(work) = self.work.take() else { return false };
        let result = work(db);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, outcome: Result<(), StoreError>) {
        let answer = match (outcome, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Task("the job did not run".into())),
        };
        // The asker may have gone (a closed connection): a write is committed anyway.
        let _ = self.reply.send(answer);
    }
}

/// Sends `work` to a database thread (`name` for the error) and waits for its answer.
pub(super) async fn run_on<T, F>(jobs: &Jobs, name: &str, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Db) -> Result<T, StoreError> + Send + 'static,
{
    let stopped = || StoreError::Task(format!("the database {name} thread has stopped"));
    let (reply, answer) = oneshot::channel();
    let job = Request { work: Some(work), result: None, reply };
    jobs.send(Box::new(job)).map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?
}

/// Starts a thread that opens its connection with `open`, then serves jobs with `serve` until
/// every [`super::Store`] clone is gone. Returns once the connection is open (or failed to
/// open).
pub(super) fn spawn<O>(
    name: &str,
    open: O,
    serve: fn(Box<dyn Db>, &Inbox),
) -> Result<Jobs, StoreError>
where
    O: FnOnce() -> Result<Box<dyn Db>, StoreError> + Send + 'static,
{
    let (sender, jobs) = mpsc::channel::<Box<dyn Job>>();
    let (opened, open_result) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match open() {
            Ok(db) => {
                if opened.send(Ok(())).is_ok() {
                    serve(db, &jobs);
                }
            }
            Err(e) => {
                let _ = opened.send(Err(e));
            }
        })
        .map_err(|e| StoreError::Task(e.to_string()))?;
    open_result.recv().map_err(|_| StoreError::Task(format!("{name} did not start")))??;
    Ok(sender)
}

/// The reader thread: one job at a time, each on a connection that is known to be usable.
pub(super) fn read_loop(mut db: Box<dyn Db>, jobs: &Inbox) {
    while let Ok(mut job) = jobs.recv() {
        match db.ready() {
            Ok(()) => {
                job.run(db.as_mut());
                job.answer(Ok(()));
            }
            Err(e) => job.answer(Err(e)),
        }
    }
}

/// The writer thread: takes whatever jobs are waiting, runs each in a savepoint of one
/// transaction, commits, then answers them all. Ends when every [`super::Store`] clone is gone.
pub(super) fn write_loop(mut db: Box<dyn Db>, jobs: &Inbox) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcomes = run_batch(db.as_mut(), &mut batch);
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            job.answer(outcome);
        }
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint; what became of each job's
/// part: `Ok` once committed, else the error of its savepoint or of the whole transaction.
fn run_batch(db: &mut dyn Db, batch: &mut [Box<dyn Job>]) -> Vec<Result<(), StoreError>> {
    let fail_all = |n: usize, e: &dyn std::fmt::Display| {
        (0..n).map(|_| Err(StoreError::Commit(e.to_string()))).collect::<Vec<_>>()
    };
    let n = batch.len();
    let begin = db.dialect().begin();
    if let Err(e) = db.ready().and_then(|()| db.batch(begin)) {
        return fail_all(n, &e);
    }
    let mut outcomes = Vec::with_capacity(n);
    for job in batch.iter_mut() {
        if let Err(e) = db.batch("SAVEPOINT job") {
            outcomes.push(Err(e));
            continue;
        }
        let ok = job.run(db);
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        let ended = db.batch(end);
        // The job's aggregate changes count only if its savepoint was kept.
        if ok && ended.is_ok() {
            db.deferred().keep_job();
        } else {
            db.deferred().drop_job();
        }
        outcomes.push(ended);
    }
    // The batch's aggregate changes, summed, in its transaction (see `sales::Deferred`).
    let aggregates = db.deferred().take_batch();
    if let Err(e) = sales::apply_now(db, &aggregates) {
        let _ = db.batch("ROLLBACK");
        return fail_all(n, &e);
    }
    if let Err(e) = db.batch("COMMIT") {
        // Nothing of this batch is on disk: every asker gets the error (a 503 for a lead).
        let _ = db.batch("ROLLBACK");
        return fail_all(n, &e);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::super::sql::{Arg, Dialect, Row};
    use super::*;

    /// A connection that records its transaction statements and fails `COMMIT` when told.
    #[derive(Default)]
    struct Fake {
        statements: Vec<String>,
        fail_commit: bool,
        deferred: sales::Deferred,
    }

    impl Db for Fake {
        fn dialect(&self) -> Dialect {
            Dialect::Sqlite
        }
        fn execute(&mut self, _: &str, _: &[Arg]) -> Result<u64, StoreError> {
            Ok(1)
        }
        fn query(&mut self, _: &str, _: &[Arg]) -> Result<Vec<Row>, StoreError> {
            Ok(Vec::new())
        }
        fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
            self.statements.push(sql.to_string());
            if sql == "COMMIT" && self.fail_commit {
                return Err(StoreError::Task("disk full".into()));
            }
            Ok(())
        }
        fn deferred(&mut self) -> &mut sales::Deferred {
            &mut self.deferred
        }
    }

    /// A job answering `result` to a typed receiver.
    fn job<T: Send + 'static>(
        result: Result<T, StoreError>,
    ) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let work = move |_: &mut dyn Db| result;
        (Box::new(Request { work: Some(work), result: None, reply }), answer)
    }

    #[test]
    fn answers_are_typed_and_a_failed_job_is_rolled_back_alone() {
        let mut db = Fake::default();
        let (count, mut count_answer) = job(Ok(3_usize));
        let (text, mut text_answer) = job(Ok("stored".to_string()));
        let (bad, mut bad_answer) = job::<()>(Err(StoreError::Poisoned));
        let mut batch = vec![count, bad, text];
        let outcomes = run_batch(&mut db, &mut batch);
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            job.answer(outcome);
        }
        assert_eq!(count_answer.try_recv().unwrap().unwrap(), 3);
        assert_eq!(text_answer.try_recv().unwrap().unwrap(), "stored");
        assert!(matches!(bad_answer.try_recv().unwrap(), Err(StoreError::Poisoned)));
        assert_eq!(
            db.statements,
            [
                "BEGIN IMMEDIATE",
                "SAVEPOINT job",
                "RELEASE job",
                "SAVEPOINT job",
                "ROLLBACK TO job; RELEASE job",
                "SAVEPOINT job",
                "RELEASE job",
                "COMMIT"
            ]
        );
    }

    #[test]
    fn a_failed_commit_turns_every_answer_into_the_error() {
        let mut db = Fake { fail_commit: true, ..Fake::default() };
        let (count, mut count_answer) = job(Ok(3_usize));
        let (bad, mut bad_answer) = job::<()>(Err(StoreError::Poisoned));
        let mut batch = vec![count, bad];
        let outcomes = run_batch(&mut db, &mut batch);
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            job.answer(outcome);
        }
        for answer in [count_answer.try_recv().map(|r| r.map(|_| ())), bad_answer.try_recv()] {
            match answer.unwrap() {
                Err(StoreError::Commit(e)) => assert!(e.contains("disk full"), "{e}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(db.statements.last().map(String::as_str), Some("ROLLBACK"));
    }
}
