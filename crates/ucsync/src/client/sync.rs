//! `ucsync sync init|incremental|force-init`: ask for syncs, and with
//! `--wait` follow the jobs to their end — progress bars on a terminal,
//! plain lines otherwise.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::{ArgGroup, Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use ucsync_api::model::{JobView, PlanView, SyncBody, SyncResponse};
use ucsync_core::{JobState, SyncType};

use super::render::{self, count};
use super::{ApiClient, Output, OutputArg, confirm, print, print_json};
use crate::{Exit, FAILED, bad_input};

#[derive(Debug, Subcommand)]
pub(crate) enum SyncCmd {
    /// Read everything from the elements and store it (refused by the
    /// discrepancy check when it would delete too much).
    Init(SyncArgs),
    /// Read only what changed since the last sync (may become an init).
    Incremental(SyncArgs),
    /// An init without the discrepancy check: stored objects the elements no
    /// longer have are deleted, however many. First a preview shows what
    /// would be deleted (per object type, with the first keys) and asks;
    /// yes applies exactly that preview.
    ForceInit(ForceArgs),
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["elements", "all"])))]
pub(crate) struct SyncArgs {
    /// The elements to sync.
    #[arg(value_name = "ELEMENT")]
    pub elements: Vec<String>,
    /// Every element.
    #[arg(long)]
    pub all: bool,
    /// Follow the jobs until they end; exit 1 if any did not succeed.
    #[arg(long)]
    pub wait: bool,
    /// A preview: each job reads and diffs as the sync would, keeps its plan
    /// and applies nothing; with --wait the plans are shown (per object type,
    /// with the first keys deleted). `ucsync job apply ID` applies one.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ForceArgs {
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl SyncArgs {
    pub(crate) fn body(&self, sync_type: SyncType) -> SyncBody {
        SyncBody {
            sync_type,
            elements: (!self.all).then(|| self.elements.clone()),
            all: self.all.then_some(true),
            dry_run: self.dry_run,
        }
    }
}

pub(super) async fn run(client: &ApiClient, cmd: SyncCmd) -> Result<(), Exit> {
    let (sync_type, args) = match cmd {
        SyncCmd::Init(a) => (SyncType::Init, a),
        SyncCmd::Incremental(a) => (SyncType::Incremental, a),
        SyncCmd::ForceInit(f) => {
            if !f.yes && !f.sync.dry_run {
                return ask_force(client, &f.sync).await;
            }
            (SyncType::ForceInit, f.sync)
        }
    };
    let body = args.body(sync_type);
    let v = client
        .call(Method::POST, &["sync"], &[], Some(&body))
        .await?;
    let resp: SyncResponse = client.typed(v.clone())?;
    match args.output.output {
        Output::Json => print_json(&v)?,
        Output::Table => print(&jobs_table(&resp))?,
    }
    if !args.wait {
        return Ok(());
    }
    let jobs = resp.jobs.into_iter().map(|r| r.job).collect();
    let jobs = follow(client, jobs, args.output.output).await?;
    if args.dry_run && args.output.output == Output::Table {
        for p in plans(client, &jobs).await? {
            print(&plan_text(&p))?;
        }
    }
    outcome(&jobs)
}

/// The plans of the dry runs among `jobs` that succeeded.
async fn plans(client: &ApiClient, jobs: &[JobView]) -> Result<Vec<PlanView>, Exit> {
    let mut out = Vec::new();
    for j in jobs
        .iter()
        .filter(|j| j.dry_run && j.state == JobState::Succeeded && j.applied_at.is_none())
    {
        out.push(
            client
                .get::<PlanView>(&["jobs", &j.id.to_string(), "plan"], &[])
                .await?,
        );
    }
    Ok(out)
}

/// A forced init asked for on a terminal: a preview of it first — the
/// plan of each element, what it would delete per object type with the
/// first keys — then the question; yes applies exactly the plans shown
/// (refused, element by element, where something changed since). Without a
/// terminal there is no one to ask, so it refuses before asking the
/// service anything.
async fn ask_force(client: &ApiClient, args: &SyncArgs) -> Result<(), Exit> {
    if !std::io::stdin().is_terminal() {
        return Err(bad_input(anyhow!(
            "force-init needs confirmation and there is no terminal to ask on: pass --yes"
        )));
    }
    let mut body = args.body(SyncType::ForceInit);
    body.dry_run = true;
    let v = client
        .call(Method::POST, &["sync"], &[], Some(&body))
        .await?;
    let resp: SyncResponse = client.typed(v)?;
    if resp.jobs.is_empty() {
        return Err(bad_input(anyhow!("there are no elements to sync")));
    }
    eprintln!("A preview of the forced init: reading the elements, applying nothing…");
    let jobs = resp.jobs.into_iter().map(|r| r.job).collect();
    let jobs = follow(client, jobs, Output::Table).await?;
    outcome(&jobs)?;
    let plans = plans(client, &jobs).await?;
    eprintln!(
        "A forced init replaces the stored data with what the elements hold now, without the discrepancy check:"
    );
    for p in &plans {
        eprintln!("{}", plan_text(p));
    }
    let names: Vec<&str> = plans.iter().map(|p| p.element.as_str()).collect();
    let question = format!("Apply these plans (a forced init of {})?", names.join(", "));
    if !confirm(&question, "force-init")? {
        return Err(Exit {
            code: FAILED,
            error: anyhow!("nothing was done: the answer was not yes"),
        });
    }
    for p in &plans {
        let v = client
            .call(
                Method::POST,
                &["jobs", &p.job.to_string(), "apply"],
                &[],
                None::<&()>,
            )
            .await?;
        let job: JobView = client.typed(v.clone())?;
        match args.output.output {
            Output::Json => print_json(&v)?,
            Output::Table => print(&summary_line(&job))?,
        }
    }
    Ok(())
}

/// A plan, per object type: what it adds, changes and deletes, and the
/// first keys it deletes.
pub(super) fn plan_text(p: &PlanView) -> String {
    let mut t = render::table(&["OBJECT TYPE", "ADD", "CHANGE", "DELETE", "FIRST DELETED"]);
    let (mut add, mut change, mut delete) = (0, 0, 0);
    for (ty, c) in &p.types {
        add += c.add;
        change += c.change;
        delete += c.delete;
        let mut first = c.first_deleted.join(", ");
        let more = c.delete.saturating_sub(c.first_deleted.len() as u64);
        if more > 0 {
            first.push_str(&format!(" and {} more", count(more)));
        }
        t.add_row([
            ty.clone(),
            count(c.add),
            count(c.change),
            count(c.delete),
            first,
        ]);
    }
    let head = format!(
        "job {} {}: a plan ({}) that would add {}, change {}, delete {}",
        p.job,
        p.element,
        p.sync_type,
        count(add),
        count(change),
        count(delete)
    );
    if p.types.is_empty() {
        format!("{head}: nothing to apply")
    } else {
        format!(
            "{head}\n{t}\napply it: ucsync job apply {}; field by field: ucsync job changes {}",
            p.job, p.job
        )
    }
}

pub(super) fn jobs_table(resp: &SyncResponse) -> String {
    let mut t = render::table(&["JOB", "ELEMENT", "REQUESTED", "TYPE", "STATE", "REQUEST"]);
    for r in &resp.jobs {
        let j = &r.job;
        t.add_row([
            j.id.to_string(),
            j.element.clone(),
            j.requested.to_string(),
            j.sync_type.to_string(),
            j.state.to_string(),
            if r.joined { "joined" } else { "queued" }.to_string(),
        ]);
    }
    t.to_string()
}

/// Objects done and expected, summed over the object types.
pub(super) fn progress(job: &JobView) -> (u64, u64) {
    job.progress
        .values()
        .fold((0, 0), |(d, e), p| (d + p.done, e + p.expected))
}

/// `job 12 cm1 init`
fn label(job: &JobView) -> String {
    format!("job {} {} {}", job.id, job.element, job.sync_type)
}

/// Which object type a job reads, of how many: the types it has finished
/// plus one (its totals are known before it reads, so `n` does not grow),
/// and the type it is in the middle of, if one is.
pub(super) fn type_of(job: &JobView) -> Option<(usize, usize, Option<&str>)> {
    let n = job.progress.len();
    if n == 0 {
        return None;
    }
    let finished = job
        .progress
        .values()
        .filter(|p| p.done >= p.expected)
        .count();
    let current = job
        .progress
        .iter()
        .find(|(_, p)| p.done > 0 && p.done < p.expected)
        .map(|(t, _)| t.as_str());
    Some(((finished + 1).min(n), n, current))
}

/// `job 12 cm1 init: running, type 3 of 14 (station), 1200/5040 objects`
pub(super) fn status_line(job: &JobView) -> String {
    let (done, expected) = progress(job);
    if expected == 0 && done == 0 {
        return format!("{}: {}", label(job), job.state);
    }
    let of_type = match type_of(job) {
        Some((k, n, Some(t))) if n > 1 => format!(", type {k} of {n} ({t})"),
        Some((k, n, None)) if n > 1 => format!(", type {k} of {n}"),
        _ => String::new(),
    };
    format!(
        "{}: {}{of_type}, {done}/{expected} objects",
        label(job),
        job.state
    )
}

/// `about 3 min left`, from objects left and the rate so far.
fn eta(left: u64, per_sec: f64) -> String {
    let secs = (left as f64 / per_sec).ceil() as u64;
    if secs < 120 {
        format!("about {secs} s left")
    } else if secs < 7200 {
        format!("about {} min left", secs.div_ceil(60))
    } else {
        format!("about {} h left", secs.div_ceil(3600))
    }
}

/// The last line of a job: its counts, or why it did not succeed.
pub(super) fn summary_line(job: &JobView) -> String {
    let c = &job.counts;
    let counts = format!(
        "added {}, changed {}, deleted {}, unchanged {}, skipped {}",
        c.added, c.changed, c.deleted, c.unchanged, c.skipped
    );
    let why = job.error.as_deref().or(job.reason.as_deref());
    match (job.state, why) {
        (JobState::Succeeded, _) if job.dry_run && job.applied_at.is_none() => format!(
            "{}: planned, nothing applied (would add {}, change {}, delete {}; unchanged {}, skipped {})",
            label(job),
            c.would_add,
            c.would_change,
            c.would_delete,
            c.unchanged,
            c.skipped
        ),
        (_, _) if job.applied_at.is_some() => format!(
            "{}: plan applied by {} ({counts})",
            label(job),
            job.applied_by.as_deref().unwrap_or("?")
        ),
        (JobState::Succeeded, _) => format!("{}: succeeded ({counts})", label(job)),
        (state, Some(why)) => format!("{}: {state}: {why}", label(job)),
        (state, None) => format!("{}: {state}", label(job)),
    }
}

/// The exit of a wait: 0 when every job succeeded, 1 otherwise.
pub(super) fn outcome(jobs: &[JobView]) -> Result<(), Exit> {
    let bad: Vec<&JobView> = jobs
        .iter()
        .filter(|j| j.state != JobState::Succeeded)
        .collect();
    let error = match bad.as_slice() {
        [] => return Ok(()),
        [j] => anyhow!("job {} on {} {}", j.id, j.element, j.state),
        _ => anyhow!(
            "{} of {} jobs did not succeed ({})",
            bad.len(),
            jobs.len(),
            bad.iter()
                .map(|j| format!("job {} on {} {}", j.id, j.element, j.state))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(Exit {
        code: FAILED,
        error,
    })
}

/// Decides which lines to print when not on a terminal: every change of
/// state at once, progress at most every `every`, so a long init logs a
/// line now and then rather than one per poll; a progress line adds the
/// rate since the job was first seen running and what is left at it.
#[derive(Debug)]
pub(super) struct Lines {
    every: Duration,
    last: HashMap<i64, (JobState, u64, u64, Instant)>,
    /// Objects done when each job was first seen running, and when.
    first: HashMap<i64, (u64, Instant)>,
}

impl Lines {
    pub(super) fn new(every: Duration) -> Lines {
        Lines {
            every,
            last: HashMap::new(),
            first: HashMap::new(),
        }
    }

    /// The progress line with the rate and what is left, once known.
    fn progress_line(&mut self, job: &JobView, now: Instant) -> String {
        let (done, expected) = progress(job);
        let line = status_line(job);
        if job.state != JobState::Running {
            return line;
        }
        let (done0, t0) = *self.first.entry(job.id).or_insert((done, now));
        let secs = (now - t0).as_secs_f64();
        if done <= done0 || secs <= 0.0 {
            return line;
        }
        let per_sec = (done - done0) as f64 / secs;
        let mut line = format!("{line}, {}/s", count(per_sec.round() as u64));
        if expected > done {
            line.push_str(&format!(", {}", eta(expected - done, per_sec)));
        }
        line
    }

    pub(super) fn update(&mut self, job: &JobView, now: Instant) -> Option<String> {
        let (done, expected) = progress(job);
        let new_state = || {
            Some(if job.state.is_finished() {
                summary_line(job)
            } else {
                status_line(job)
            })
        };
        let line = match self.last.get(&job.id) {
            None => new_state(),
            Some((state, ..)) if *state != job.state => new_state(),
            Some((_, d, e, at)) if (*d, *e) != (done, expected) && now - *at >= self.every => {
                Some(self.progress_line(job, now))
            }
            Some(_) => None,
        };
        if job.state == JobState::Running {
            self.first.entry(job.id).or_insert((done, now));
        }
        if line.is_some() {
            self.last.insert(job.id, (job.state, done, expected, now));
        }
        line
    }
}

/// Progress bars on a terminal, one per job.
struct Bars {
    multi: MultiProgress,
    bars: HashMap<i64, ProgressBar>,
    /// While a job does not know how many objects it expects.
    waiting: ProgressStyle,
    counting: ProgressStyle,
}

/// How progress is shown.
enum Display {
    Bars(Box<Bars>),
    Lines {
        lines: Lines,
        /// Standard error when standard output carries JSON.
        to_stderr: bool,
    },
}

impl Display {
    fn new(jobs: &[JobView], output: Output) -> Display {
        if !std::io::stderr().is_terminal() {
            return Display::Lines {
                lines: Lines::new(LINE_EVERY),
                to_stderr: output == Output::Json,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let waiting = ProgressStyle::with_template("{prefix:.bold} {spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let counting = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {per_sec} {msg} ({elapsed}, about {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bars = jobs
            .iter()
            .map(|j| {
                let bar = multi.add(ProgressBar::new(0).with_style(waiting.clone()));
                bar.set_prefix(label(j));
                bar.enable_steady_tick(Duration::from_millis(120));
                (j.id, bar)
            })
            .collect();
        Display::Bars(Box::new(Bars {
            multi,
            bars,
            waiting,
            counting,
        }))
    }

    fn show(&mut self, job: &JobView) {
        match self {
            Display::Bars(b) => {
                let Some(bar) = b.bars.get(&job.id) else {
                    return;
                };
                let (done, expected) = progress(job);
                let style = if expected > 0 {
                    &b.counting
                } else {
                    &b.waiting
                };
                bar.set_style(style.clone());
                bar.set_length(expected.max(done));
                bar.set_position(done);
                if job.state.is_finished() {
                    bar.finish_with_message(job.state.to_string());
                } else {
                    let of_type = match type_of(job) {
                        Some((k, n, _)) if n > 1 => format!(", type {k} of {n}"),
                        _ => String::new(),
                    };
                    bar.set_message(format!("{}{of_type}", job.state));
                }
            }
            Display::Lines { lines, to_stderr } => {
                if let Some(line) = lines.update(job, Instant::now()) {
                    if *to_stderr {
                        eprintln!("{line}");
                    } else {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    }
                }
            }
        }
    }
}

/// The most often a job's progress is printed without a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// How often a job is asked for while waiting.
const POLL: Duration = Duration::from_millis(300);
/// Polls that may fail in a row (a service restarting) before the wait
/// gives up.
const POLL_FAILURES: u32 = 20;

/// Follows jobs until each has ended; exit 1 if any did not succeed.
pub(super) async fn wait(client: &ApiClient, jobs: Vec<JobView>) -> Result<(), Exit> {
    wait_with(client, jobs, Output::Table).await
}

async fn wait_with(client: &ApiClient, jobs: Vec<JobView>, output: Output) -> Result<(), Exit> {
    let jobs = follow(client, jobs, output).await?;
    outcome(&jobs)
}

/// Follows jobs to their end, showing them; returns them as they ended.
async fn follow(
    client: &ApiClient,
    jobs: Vec<JobView>,
    output: Output,
) -> Result<Vec<JobView>, Exit> {
    let mut jobs: Vec<JobView> = jobs.into_iter().fold(Vec::new(), |mut v, j| {
        if !v.iter().any(|x: &JobView| x.id == j.id) {
            v.push(j);
        }
        v
    });
    let mut display = Display::new(&jobs, output);
    for j in &jobs {
        display.show(j);
    }
    let mut failures = 0;
    while jobs.iter().any(|j| !j.state.is_finished()) {
        tokio::time::sleep(POLL).await;
        for j in jobs.iter_mut().filter(|j| !j.state.is_finished()) {
            let id = j.id.to_string();
            match client.get::<JobView>(&["jobs", &id], &[]).await {
                Ok(now) => {
                    failures = 0;
                    *j = now;
                    display.show(j);
                }
                Err(e) => {
                    failures += 1;
                    if failures >= POLL_FAILURES {
                        return Err(e);
                    }
                }
            }
        }
    }
    if let Display::Bars(b) = display {
        // The bars go; the outcome stays, one line per job, like without a terminal.
        let _ = b.multi.clear();
        for j in &jobs {
            if output == Output::Json {
                eprintln!("{}", summary_line(j));
            } else {
                print(&summary_line(j))?;
            }
        }
    }
    Ok(jobs)
}
