//! Waiting in tests without guessing a sleep: on the runner's event stream
//! where it tells, by looking often where nothing tells.

use std::future::Future;
use std::time::Duration;

use ucsync_core::JobState;
use ucsync_engine::{Event, Runner};
use ucsync_store::{Job, JobId};

/// How long a test waits for anything before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until the job has left the queue (claimed by this runner's node),
/// told by the event stream.
pub async fn claimed(runner: &Runner, id: JobId) -> Job {
    let mut events = runner.subscribe();
    let job = runner
        .store()
        .job(id)
        .await
        .expect("the job read")
        .expect("the job exists");
    if job.state != JobState::Queued {
        return job;
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => panic!("job {id} was not claimed"),
            Ok(Ok(Event::Job { job })) if job.id == id && job.state != JobState::Queued => {
                return *job;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("the event stream failed: {e}"),
        }
    }
}

/// Waits until `done` says yes, looking every 10 ms for at most a minute:
/// for what nothing tells (a job's progress is written, not streamed).
pub async fn until<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
