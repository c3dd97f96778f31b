//! Several SAT sessions to one CM, used as one client: commands go to the
//! least busy session, dead sessions are replaced with backoff, a CM without a
//! free SAT port gets fewer sessions for a while, and what is safe to retry is
//! retried.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use ucsync_ossi::vocabulary::Vocabulary;
use ucsync_ossi::{Request, Response};

use crate::{SatConfig, SatError, SatSession};

#[derive(Default)]
struct Slot {
    session: Option<Arc<SatSession>>,
    /// No new connection on this slot before this time.
    retry_at: Option<Instant>,
    failures: u32,
}

/// A client for one CM over one or more SAT sessions.
pub struct SatClient {
    cfg: SatConfig,
    slots: Vec<Mutex<Slot>>,
    fingerprint: String,
}

impl std::fmt::Debug for SatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatClient")
            .field("target", &self.cfg.target())
            .field("sessions", &self.slots.len())
            .finish()
    }
}

fn backoff(cfg: &SatConfig, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(10);
    (cfg.backoff * factor).min(cfg.max_backoff)
}

/// Whether a command only reads, so sending it again is harmless.
fn read_only(req: &Request) -> bool {
    let verb = req.text().split_whitespace().next().unwrap_or_default();
    Vocabulary::builtin()
        .resolve_verb(verb)
        .is_ok_and(|v| matches!(v, "list" | "display" | "status"))
}

impl SatClient {
    /// Opens the first session (whose errors are returned: wrong password,
    /// host key, no answer) and as many more as the CM grants now; the rest
    /// are opened later when they are needed.
    pub async fn connect(cfg: SatConfig) -> Result<SatClient, SatError> {
        let first = SatSession::connect(&cfg).await?;
        let fingerprint = first.fingerprint().to_string();
        let mut pinned = cfg.clone();
        // Every further session must present the same key.
        pinned.host_key = Some(fingerprint.clone());
        let n = cfg.sessions.max(1);
        let mut slots = vec![Slot {
            session: Some(Arc::new(first)),
            ..Slot::default()
        }];
        let more = futures::future::join_all((1..n).map(|_| SatSession::connect(&pinned))).await;
        for r in more {
            slots.push(match r {
                Ok(s) => Slot { session: Some(Arc::new(s)), ..Slot::default() },
                Err(e) => {
                    tracing::warn!(target = %cfg.target(), error = %e, "fewer SAT sessions than asked for");
                    Slot { session: None, retry_at: Some(Instant::now() + backoff(&cfg, 1)), failures: 1 }
                }
            });
        }
        Ok(SatClient {
            cfg: pinned,
            slots: slots.into_iter().map(Mutex::new).collect(),
            fingerprint,
        })
    }

    /// The SHA-256 fingerprint of the CM's host key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn config(&self) -> &SatConfig {
        &self.cfg
    }

    /// Sessions open now.
    pub async fn open_sessions(&self) -> usize {
        let mut n = 0;
        for s in &self.slots {
            if s.lock()
                .await
                .session
                .as_ref()
                .is_some_and(|s| !s.is_closed())
            {
                n += 1;
            }
        }
        n
    }

    async fn session(&self) -> Result<Arc<SatSession>, SatError> {
        let mut attempts = 0u32;
        loop {
            let mut best: Option<Arc<SatSession>> = None;
            let mut reopen: Option<usize> = None;
            for (i, slot) in self.slots.iter().enumerate() {
                let s = slot.lock().await;
                match &s.session {
                    Some(sess) if !sess.is_closed() => {
                        if best
                            .as_ref()
                            .is_none_or(|b| sess.in_flight() < b.in_flight())
                        {
                            best = Some(sess.clone());
                        }
                    }
                    _ => {
                        if reopen.is_none() && s.retry_at.is_none_or(|t| t <= Instant::now()) {
                            reopen = Some(i);
                        }
                    }
                }
            }
            let busy = best
                .as_ref()
                .is_some_and(|b| b.in_flight() >= self.cfg.window);
            match (best, reopen) {
                (Some(b), None) => return Ok(b),
                (Some(b), Some(_)) if !busy => return Ok(b),
                (best, Some(i)) => {
                    let mut slot = self.slots[i].lock().await;
                    if slot.session.as_ref().is_some_and(|s| !s.is_closed()) {
                        continue;
                    }
                    match SatSession::connect(&self.cfg).await {
                        Ok(s) => {
                            let s = Arc::new(s);
                            *slot = Slot {
                                session: Some(s.clone()),
                                retry_at: None,
                                failures: 0,
                            };
                            return Ok(s);
                        }
                        Err(e) => {
                            slot.session = None;
                            slot.failures += 1;
                            slot.retry_at =
                                Some(Instant::now() + backoff(&self.cfg, slot.failures));
                            tracing::warn!(target = %self.cfg.target(), error = %e, "cannot open a SAT session");
                            if let Some(b) = best {
                                return Ok(b);
                            }
                            let permanent = matches!(
                                e,
                                SatError::AuthFailed { .. } | SatError::HostKeyMismatch { .. }
                            );
                            attempts += 1;
                            if permanent || attempts >= 3 {
                                return Err(e);
                            }
                        }
                    }
                }
                (None, None) => {
                    // Every slot is waiting out its backoff.
                    attempts += 1;
                    if attempts > 3 {
                        return Err(SatError::Closed {
                            target: self.cfg.target(),
                        });
                    }
                }
            }
            tokio::time::sleep(backoff(&self.cfg, attempts)).await;
        }
    }

    /// Runs one command. "Data locked" and "in use" answers are retried with
    /// backoff; a read is sent again on a new session when the connection
    /// breaks. A write is never sent twice: if the connection breaks under
    /// it, the error says so, as the CM may or may not have applied it.
    pub async fn run(&self, req: &Request) -> Result<Response, SatError> {
        let mut transient = 0u32;
        let mut broken = 0u32;
        loop {
            let session = self.session().await?;
            match session.run(req).await {
                Ok(resp) => match resp.failure() {
                    None => return Ok(resp),
                    Some(e)
                        if e.kind().is_transient()
                            && transient + 1 < self.cfg.transient_attempts =>
                    {
                        transient += 1;
                        tracing::debug!(command = %req.text(), error = %e, "retrying");
                        tokio::time::sleep(backoff(&self.cfg, transient)).await;
                    }
                    Some(e) => {
                        return Err(SatError::Command {
                            target: self.cfg.target(),
                            command: req.text().to_string(),
                            error: e.clone(),
                        });
                    }
                },
                Err(e) if e.breaks_session() && read_only(req) && broken < 2 => {
                    broken += 1;
                    tracing::warn!(target = %self.cfg.target(), error = %e, "session lost; sending the read again");
                    tokio::time::sleep(backoff(&self.cfg, broken)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs a command line (`list station`) with no field lines.
    pub async fn command(&self, text: &str) -> Result<Response, SatError> {
        self.run(&Request::command(text)?).await
    }

    /// Logs every session off, at once; a session that has not logged off
    /// within the logoff timeout (a CM that stopped answering) is dropped.
    pub async fn close(&self) {
        let mut sessions = Vec::new();
        for slot in &self.slots {
            if let Some(s) = slot.lock().await.session.take() {
                sessions.push(s);
            }
        }
        let limit = self.cfg.logoff_timeout;
        futures::future::join_all(sessions.iter().filter(|s| !s.is_closed()).map(|s| async move {
            match tokio::time::timeout(limit, s.logoff()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "logoff"),
                Err(_) => {
                    tracing::warn!(target = %self.cfg.target(), after = ?limit, "the CM did not answer the logoff: connection dropped");
                    s.abort();
                }
            }
        }))
        .await;
    }
}
