//! The demo's side of the REST API: the CLI's [`ApiClient`] and the API's
//! own bodies, with errors as `anyhow` so the walkthrough can `ensure!`, and
//! jobs followed to their end with progress bars on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use ucsync_api::model::{
    ChangePage, ChangeView, JobView, MAX_LIMIT, ObjectPage, ObjectView, SyncBody, SyncResponse,
};
use ucsync_core::SyncType;

use crate::client::{ApiClient, find_token};

/// How often a followed job is asked for.
const POLL: Duration = Duration::from_millis(100);
/// How long the demo waits for a job: far longer than any of its jobs takes,
/// so only a job that hangs ends the demo.
const JOB_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) struct Api {
    client: ApiClient,
}

/// A page of one of the API's lists.
pub(super) trait Page: DeserializeOwned {
    type Item;
    fn into_items(self) -> Vec<Self::Item>;
}

impl Page for ChangePage {
    type Item = ChangeView;
    fn into_items(self) -> Vec<ChangeView> {
        self.items
    }
}

impl Page for ObjectPage {
    type Item = ObjectView;
    fn into_items(self) -> Vec<ObjectView> {
        self.items
    }
}

impl Api {
    /// A client of the service at `url` with the admin token it wrote in
    /// its data directory, found as the CLI finds it — but never
    /// `UCSYNC_TOKEN`, which belongs to some other service.
    pub(super) fn new(url: &str, data_dir: &Path) -> Result<Api> {
        let (token, source) = find_token(None, data_dir).map_err(|e| e.error)?;
        let client = ApiClient::new(url, token, source).map_err(|e| e.error)?;
        Ok(Api { client })
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<T> {
        self.client.get(path, query).await.map_err(|e| e.error)
    }

    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        let v = self
            .client
            .call(method.clone(), path, &[], Some(body))
            .await
            .map_err(|e| e.error)
            .with_context(|| format!("{method} /api/v1/{}", path.join("/")))?;
        self.client.typed(v).map_err(|e| e.error)
    }

    /// Every item of a list, page by page.
    pub(super) async fn all<P: Page>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<Vec<P::Item>> {
        let mut all = Vec::new();
        loop {
            let mut q = query.to_vec();
            q.push(("offset", all.len().to_string()));
            q.push(("limit", MAX_LIMIT.to_string()));
            let items = self.get::<P>(path, &q).await?.into_items();
            let n = items.len() as u64;
            all.extend(items);
            if n < MAX_LIMIT {
                return Ok(all);
            }
        }
    }

    /// `POST /sync` for one element, followed to the job's end.
    pub(super) async fn sync(&self, element: &str, sync_type: SyncType) -> Result<JobView> {
        let body = SyncBody {
            sync_type,
            elements: Some(vec![element.to_string()]),
            all: None,
            dry_run: false,
        };
        let resp: SyncResponse = self.send(Method::POST, &["sync"], &body).await?;
        let job = resp
            .jobs
            .into_iter()
            .next()
            .context("POST /sync answered no job")?
            .job;
        Ok(self.follow(vec![job]).await?.remove(0))
    }

    /// The stations stored for an element.
    pub(super) async fn stations(&self, element: &str) -> Result<Vec<ObjectView>> {
        self.all::<ObjectPage>(
            &["elements", element, "objects"],
            &[("type", "station".to_string())],
        )
        .await
    }

    /// Waits for jobs, with a progress bar each on a terminal and a line
    /// each when they end.
    pub(super) async fn follow(&self, mut jobs: Vec<JobView>) -> Result<Vec<JobView>> {
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("  {prefix:8} [{bar:30}] {pos:>6}/{len:6} {msg}")
            .expect("a valid template")
            .progress_chars("=> ");
        let tty = std::io::stdout().is_terminal();
        let bars: Vec<ProgressBar> = jobs
            .iter()
            .map(|j| {
                let b = if tty {
                    multi.add(ProgressBar::new(0))
                } else {
                    ProgressBar::hidden()
                };
                b.set_style(style.clone());
                b.set_prefix(j.element.clone());
                b
            })
            .collect();
        let deadline = Instant::now() + JOB_TIMEOUT;
        while jobs.iter().any(|j| !j.state.is_finished()) {
            if Instant::now() > deadline {
                let open: Vec<String> = jobs
                    .iter()
                    .filter(|j| !j.state.is_finished())
                    .map(|j| format!("job {} on {} ({})", j.id, j.element, j.state))
                    .collect();
                bail!("{} did not end in {JOB_TIMEOUT:?}", open.join(", "));
            }
            tokio::time::sleep(POLL).await;
            for (j, bar) in jobs.iter_mut().zip(&bars) {
                if j.state.is_finished() {
                    continue;
                }
                *j = self.get(&["jobs", &j.id.to_string()], &[]).await?;
                let (done, expected) = j
                    .progress
                    .values()
                    .fold((0, 0), |(d, e), p| (d + p.done, e + p.expected));
                bar.set_length(expected.max(done));
                bar.set_position(done);
                if j.state.is_finished() {
                    bar.finish_with_message(format!("{} {}", j.sync_type, j.state));
                } else {
                    bar.set_message(format!("{} {}", j.sync_type, j.state));
                }
            }
        }
        for j in &jobs {
            let c = &j.counts;
            println!(
                "  job {} on {}: {} {} — {} added, {} changed, {} deleted, {} unchanged, {} skipped",
                j.id,
                j.element,
                j.sync_type,
                j.state,
                c.added,
                c.changed,
                c.deleted,
                c.unchanged,
                c.skipped
            );
        }
        Ok(jobs)
    }
}
