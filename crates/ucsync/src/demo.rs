//! `ucsync demo`: the tour, on embedded defaults with no set-up. Three
//! emulated CMs of different sizes are added to a fresh SQLite database (each
//! gets its init at once), changed over SAT as an outside login and as
//! ucsync's own login, and synchronized again; then the seed's rules show
//! themselves: an incremental turning into an init, an incremental refused
//! after an upgrade, a plain init refusing to empty a wiped CM, and a
//! force-init doing it. Everything printed is read back from the database;
//! an outcome that differs from the narration fails the demo.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::net::TcpListener;
use ucsync_core::{ElementKind, ElementName, JobState, SecretKey, SyncType, Trigger};
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_engine::{Runner, RunnerSettings, SyncEngine, SyncSettings};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::{Password, SatClient, SatConfig};
use ucsync_store::{ElementSettings, Job, NewElement, ObjectQuery, SqliteStore, Store};

use crate::Exit;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// End after the walkthrough (it always does until the service exists).
    #[arg(long)]
    exit: bool,
}

const OWN: (&str, &str) = ("ucsync", "ucsync-demo-1");
const OUTSIDE: (&str, &str) = ("craft", "craft-demo-1");

pub async fn run(_args: DemoArgs) -> Result<(), Exit> {
    Ok(Tour::start().await?.walk().await?)
}

struct Tour {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Arc<dyn Store>,
    runner: Runner,
    cms: BTreeMap<&'static str, CmEmulator>,
}

/// An emulated CM; its host key is kept in `dir`, so that a restarted CM
/// keeps its identity (and the key ucsync pinned).
fn settings(dir: &std::path::Path, name: &str, stations: usize) -> CmSettings {
    CmSettings {
        name: name.into(),
        host_key: Some(dir.join(format!("{name}.host_key"))),
        logins: vec![
            (OWN.0.into(), OWN.1.into()),
            (OUTSIDE.0.into(), OUTSIDE.1.into()),
        ],
        counts: [("station".to_string(), stations)].into(),
        ..CmSettings::default()
    }
}

async fn sat(emu: &CmEmulator, login: (&str, &str)) -> Result<SatClient> {
    let mut c = SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        login.0,
        Password::new(login.1),
    );
    c.sessions = 1;
    Ok(SatClient::connect(c).await?)
}

fn rename(ext: &str, name: &str) -> Result<Request> {
    Ok(Request::write(
        &format!("change station {ext}"),
        &[(station::NAME, Value::Set(name.into()))],
    )?)
}

impl Tour {
    async fn start() -> Result<Tour> {
        let dir = tempfile::Builder::new().prefix("ucsync-demo-").tempdir()?;
        let path = dir.path().to_path_buf();
        let secret = SecretKey::generate();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&path.join("ucsync.db"), secret.clone()).await?);
        let engine = SyncEngine::new(store.clone(), secret, SyncSettings::default());
        let runner = Runner::new(
            engine,
            ucsync::connectors::factory(SatConfig::DEFAULT_SESSIONS),
            RunnerSettings::default(),
        );
        println!("ucsync demo: a fresh SQLite database in {}", path.display());
        let mut cms = BTreeMap::new();
        for (name, stations, state) in [
            ("cm-east", 300, false),
            ("cm-west", 1500, true),
            ("cm-lab", 40, false),
        ] {
            let mut s = settings(&path, name, stations);
            if state {
                s.state_file = Some(path.join(format!("{name}.translations.json")));
                s.version = "R018x.00.0.822.0".into();
            }
            let emu = CmEmulator::start(s, TcpListener::bind("127.0.0.1:0").await?).await?;
            println!(
                "  emulated CM {name:8} on {} ({} objects)",
                emu.addr(),
                emu.cm().counts().values().sum::<usize>()
            );
            cms.insert(name, emu);
        }
        Ok(Tour {
            _dir: dir,
            dir: path,
            store,
            runner,
            cms,
        })
    }

    fn cm(&self, name: &str) -> &CmEmulator {
        &self.cms[name]
    }

    /// Waits for jobs, with a progress bar each on a terminal and plain lines otherwise.
    async fn follow(&self, jobs: &[Job]) -> Result<Vec<Job>> {
        let tty = std::io::stdout().is_terminal();
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("  {prefix:8} [{bar:30}] {pos:>6}/{len:6} {msg}")
            .expect("valid template")
            .progress_chars("=> ");
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
        let mut done: Vec<Option<Job>> = vec![None; jobs.len()];
        while done.iter().any(Option::is_none) {
            for (i, j) in jobs.iter().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                let now = self.store.job(j.id).await?.context("the job disappeared")?;
                let (pos, len) = now
                    .progress
                    .values()
                    .fold((0, 0), |a, p| (a.0 + p.0, a.1 + p.1));
                bars[i].set_length(len);
                bars[i].set_position(pos);
                bars[i].set_message(now.sync_type.to_string());
                if now.state.is_finished() {
                    bars[i].finish_with_message(format!("{} {}", now.sync_type, now.state));
                    done[i] = Some(now);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let out: Vec<Job> = done.into_iter().flatten().collect();
        for j in &out {
            println!(
                "  job {} on {}: {} {} — {} added, {} changed, {} deleted, {} unchanged",
                j.id,
                j.element,
                j.sync_type,
                j.state,
                j.counts.added,
                j.counts.changed,
                j.counts.deleted,
                j.counts.unchanged
            );
        }
        Ok(out)
    }

    async fn sync(&self, name: &str, t: SyncType) -> Result<Job> {
        let job = self
            .runner
            .request(&ElementName::parse(name)?, t, Trigger::OnDemand, "demo")
            .await?
            .job;
        Ok(self.follow(&[job]).await?.remove(0))
    }

    async fn stored_stations(&self, name: &str) -> Result<usize> {
        let e = self.store.element(name).await?.context("no such element")?;
        Ok(self
            .store
            .objects(
                e.id,
                &ObjectQuery {
                    object_type: Some("station".into()),
                    ..Default::default()
                },
            )
            .await?
            .len())
    }

    async fn walk(mut self) -> Result<()> {
        println!("\n1. Adding the three CMs: each gets its initializing sync at once.");
        let mut jobs = Vec::new();
        for (name, emu) in &self.cms {
            self.store
                .add_element(NewElement {
                    name: ElementName::parse(name)?,
                    kind: ElementKind::Cm,
                    host: "127.0.0.1".into(),
                    alternate_host: None,
                    port: emu.addr().port(),
                    login: OWN.0.into(),
                    password: OWN.1.into(),
                    settings: ElementSettings::default(),
                })
                .await?;
            jobs.push(
                self.runner
                    .request(
                        &ElementName::parse(name)?,
                        SyncType::Init,
                        Trigger::ElementAdded,
                        "demo",
                    )
                    .await?
                    .job,
            );
        }
        for j in self.follow(&jobs).await? {
            ensure!(
                j.state == JobState::Succeeded,
                "the init of {} did not succeed: {:?}",
                j.element,
                j.error
            );
        }
        for e in self.store.elements().await? {
            let objects = self.store.object_count(e.id).await?;
            let on_cm: usize = self.cm(e.name.as_str()).cm().counts().values().sum();
            println!(
                "  {:8} {objects} objects stored (CM version {})",
                e.name,
                e.sync.version_at_init.as_deref().unwrap_or("?")
            );
            ensure!(
                objects as usize >= on_cm,
                "{} stored {objects} objects, the CM has {on_cm} keyed ones",
                e.name
            );
        }

        println!(
            "\n2. Changes on cm-east over SAT: by an outside login, and by ucsync's own login."
        );
        let east = self.cm("cm-east");
        let craft = sat(east, OUTSIDE).await?;
        craft.run(&rename("1001", "Outside, Change")?).await?;
        craft.command("remove station 1300").await?;
        craft
            .command("duplicate station 1002 start 5001 count 2")
            .await?;
        craft.close().await;
        let own = sat(east, OWN).await?;
        own.run(&rename("1003", "Own, Change")?).await?;
        own.run(&Request::write(
            "add station 2002",
            &[(station::TYPE, Value::Set("9611SIP".into()))],
        )?)
        .await?;
        own.close().await;
        println!(
            "  craft: changed 1001, removed 1300, duplicated 1002 to 5001-5002; ucsync: changed 1003, added 2002"
        );
        let job = self.sync("cm-east", SyncType::Incremental).await?;
        ensure!(
            job.state == JobState::Succeeded && job.sync_type == SyncType::Incremental,
            "the incremental did not run as one: {:?}",
            job.error
        );
        println!("  pulled (from the change log):");
        let changes = self.store.changes(job.id).await?;
        for c in &changes {
            println!(
                "    {} {} {} (by {} at {})",
                c.op,
                c.object_type,
                c.key,
                c.by_login.as_deref().unwrap_or("?"),
                c.at_element.as_deref().unwrap_or("?")
            );
        }
        println!("  skipped (from the job log):");
        let log = self.store.job_log_lines(job.id).await?;
        for l in log
            .iter()
            .filter(|l| l.starts_with("skipped") && !l.contains("login or logoff"))
        {
            println!("    {l}");
        }
        let pulled: Vec<String> = changes
            .iter()
            .map(|c| format!("{} {}", c.op, c.key))
            .collect();
        for want in ["change 1001", "delete 1300", "add 5001", "add 5002"] {
            ensure!(pulled.iter().any(|p| p == want), "'{want}' was not pulled");
        }
        ensure!(
            !pulled
                .iter()
                .any(|p| p.ends_with(" 1003") || p.ends_with(" 2002")),
            "an own change was pulled"
        );
        ensure!(
            log.iter()
                .filter(|l| l.contains("one of ucsync's own logins"))
                .count()
                == 2,
            "the own rows were not named as skipped"
        );

        println!(
            "\n3. 1801 outside changes on cm-lab: more than 1800 history rows make the incremental an init."
        );
        let craft = sat(self.cm("cm-lab"), OUTSIDE).await?;
        for i in 0..1801 {
            craft
                .run(&rename(
                    &(1001 + i % 40).to_string(),
                    &format!("Busy, {i}"),
                )?)
                .await?;
        }
        craft.close().await;
        let job = self.sync("cm-lab", SyncType::Incremental).await?;
        println!(
            "  requested {}, ran {}: {}",
            job.requested,
            job.sync_type,
            job.reason.as_deref().unwrap_or("")
        );
        ensure!(
            job.sync_type == SyncType::Init && job.state == JobState::Succeeded,
            "the incremental did not become a successful init"
        );

        println!(
            "\n4. cm-west is upgraded (restarted with a newer version, its translations kept)."
        );
        let west = self.cms.remove("cm-west").context("cm-west")?;
        let port = west.addr().port();
        sat(&west, OUTSIDE)
            .await?
            .command("save translation")
            .await?;
        west.shutdown().await?;
        let mut s = settings(&self.dir, "cm-west", 1500);
        s.state_file = Some(self.dir.join("cm-west.translations.json"));
        s.version = "R020x.01.0.974.0".into();
        self.cms.insert(
            "cm-west",
            CmEmulator::start(s, TcpListener::bind(("127.0.0.1", port)).await?).await?,
        );
        let job = self.sync("cm-west", SyncType::Incremental).await?;
        println!(
            "  incremental: {} — {}",
            job.state,
            job.error.as_deref().unwrap_or("")
        );
        ensure!(
            job.state == JobState::Failed
                && job.error.as_deref().is_some_and(|e| e.contains("upgraded")),
            "the incremental after an upgrade was not refused"
        );

        println!("\n5. cm-lab is wiped (restarted empty).");
        let lab = self.cms.remove("cm-lab").context("cm-lab")?;
        let port = lab.addr().port();
        lab.shutdown().await?;
        let wiped = CmSettings {
            profile: "empty".into(),
            counts: BTreeMap::new(),
            ..settings(&self.dir, "cm-lab", 0)
        };
        self.cms.insert(
            "cm-lab",
            CmEmulator::start(wiped, TcpListener::bind(("127.0.0.1", port)).await?).await?,
        );
        let before = self.stored_stations("cm-lab").await?;
        let job = self.sync("cm-lab", SyncType::Init).await?;
        let would = self
            .store
            .changes(job.id)
            .await?
            .iter()
            .filter(|c| !c.applied && c.op == "delete")
            .count();
        println!(
            "  init: {} — {}",
            job.state,
            job.error.as_deref().unwrap_or("")
        );
        println!(
            "  it would have deleted {would} objects; {} stations are still stored",
            self.stored_stations("cm-lab").await?
        );
        ensure!(
            job.state == JobState::Failed
                && would > 0
                && self.stored_stations("cm-lab").await? == before,
            "the plain init did not refuse"
        );
        let job = self.sync("cm-lab", SyncType::ForceInit).await?;
        let after = self.stored_stations("cm-lab").await?;
        println!(
            "  force-init: {}, {} deleted; {after} stations stored now",
            job.state, job.counts.deleted
        );
        if job.state != JobState::Succeeded || after != 0 {
            bail!("the force-init did not empty cm-lab");
        }

        for emu in std::mem::take(&mut self.cms).into_values() {
            emu.shutdown().await?;
        }
        println!("\nDone: every figure above was read back from the database.");
        Ok(())
    }
}
