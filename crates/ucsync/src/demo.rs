//! `ucsync demo`: the tour, on embedded defaults with no set-up. It starts
//! three emulated CMs of different sizes and the service itself (a fresh
//! temporary data directory, free ports, so two demos can run at once), then
//! walks through the REST API with the admin token the service wrote, as an
//! administrator's script would: the CMs are added (each gets its init at
//! once) and get their default schedules; they are changed over SAT as an
//! outside login and as ucsync's own login and synchronized again; then the
//! seed's rules show themselves — an incremental turning into an init, an
//! incremental refused after an upgrade, a plain init refusing to empty a
//! wiped CM and a force-init doing it — and a search and a station
//! administered through ucsync end it. Everything printed about ucsync is
//! read back from the API; an outcome that differs from the narration fails
//! the demo. Then the service keeps serving until Ctrl-C, unless `--exit`.

mod api;
mod cms;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use reqwest::Method;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;
use ucsync::serve::{Listeners, Service, Settings};
use ucsync_api::model::{
    ChangePage, ElementCreated, ElementPage, ElementView, JobView, NewElementBody, ObjectPatch,
    ObjectView, Repeat, SchedulePage, ScheduleView, SearchPage, Unit,
};
use ucsync_core::{ElementKind, JobState, SyncType, Trigger};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};

use self::api::Api;
use self::cms::{Cms, NEW_VERSION, OLD_VERSION, OUTSIDE, OWN, rename, sat, station_field};
use crate::Exit;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// End after the walkthrough instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

pub(crate) async fn run(args: DemoArgs) -> Result<(), Exit> {
    let mut tour = Tour::start().await?;
    // Ctrl-C during the walkthrough still stops the service and the CMs
    // cleanly, and the temporary directory goes with them.
    let walked = tokio::select! {
        r = tour.walk() => r,
        () = ucsync::shutdown_signal() => Err(anyhow!("interrupted before the walkthrough ended")),
    };
    if walked.is_ok() && !args.exit {
        tour.serve().await;
    }
    tour.stop().await;
    Ok(walked?)
}

struct Tour {
    /// Removed when the tour ends: the service's data and the CMs' files.
    _tmp: tempfile::TempDir,
    service: Service,
    url: String,
    api: Api,
    cms: Cms,
}

impl Tour {
    async fn start() -> Result<Tour> {
        let tmp = tempfile::Builder::new().prefix("ucsync-demo-").tempdir()?;
        let cms = Cms::start(&tmp.path().join("cms")).await?;
        // Free ports, so that two demos never compete for the default ones.
        let listeners = Listeners::loopback()
            .await
            .context("cannot listen on 127.0.0.1")?;
        let settings = Settings {
            data_dir: tmp.path().join("data"),
            ..Settings::default()
        };
        let service = Service::start(settings, listeners, CancellationToken::new())
            .await
            .context("cannot start the service")?;
        let url = format!("http://{}/", service.http_addr);
        let api = Api::new(&url, &service.data_dir)?;
        println!(
            "ucsync demo: the service on {url}, with a fresh SQLite database in {}",
            service.data_dir.display()
        );
        for (name, emu) in cms.iter() {
            println!(
                "  emulated CM {name:8} on {} ({} objects)",
                emu.addr(),
                cms.objects(name)?
            );
        }
        Ok(Tour {
            _tmp: tmp,
            service,
            url,
            api,
            cms,
        })
    }

    async fn walk(&mut self) -> Result<()> {
        self.add_cms().await?;
        self.default_schedules().await?;
        self.incremental().await?;
        self.escalation().await?;
        self.upgrade().await?;
        self.wipe().await?;
        self.search().await?;
        self.administer().await?;
        println!("\nDone: every figure above about ucsync was read back from its REST API.");
        Ok(())
    }

    async fn add_cms(&self) -> Result<()> {
        println!(
            "\n1. POST /api/v1/elements for each CM: each gets its initializing sync at once."
        );
        let mut jobs = Vec::new();
        for (name, emu) in self.cms.iter() {
            let body = NewElementBody {
                name: name.into(),
                kind: ElementKind::Cm,
                host: "127.0.0.1".into(),
                alternate_host: None,
                port: emu.addr().port().into(),
                login: OWN.0.into(),
                password: OWN.1.into(),
                notify_sync: None,
                own_logins: None,
                host_key: None,
                tls: None,
                ca_file: None,
                cm: None,
            };
            let created: ElementCreated = self.api.send(Method::POST, &["elements"], &body).await?;
            let job = created
                .job
                .with_context(|| format!("adding {name} queued no initializing sync"))?;
            println!(
                "  added {} ({}): job {} {}, trigger {}, requested by {}",
                created.element.name,
                created.element.kind,
                job.id,
                job.requested,
                job.trigger,
                job.requested_by
            );
            ensure!(
                job.requested == SyncType::Init && job.trigger == Trigger::ElementAdded,
                "adding {name} did not queue its init"
            );
            jobs.push(job);
        }
        for j in self.api.follow(jobs).await? {
            ensure!(
                j.state == JobState::Succeeded,
                "the init of {} did not succeed: {:?}",
                j.element,
                j.error
            );
        }
        let elements: ElementPage = self.api.get(&["elements"], &[]).await?;
        ensure!(
            elements.items.len() == 3,
            "GET /elements does not list the three CMs"
        );
        for e in &elements.items {
            let on_cm = self.cms.objects(&e.name)?;
            println!(
                "  {:8} {} objects stored, CM version {}, host key {} pinned",
                e.name,
                e.objects,
                e.sync.version.as_deref().unwrap_or("?"),
                e.settings.host_key.as_deref().unwrap_or("none")
            );
            ensure!(
                e.objects as usize >= on_cm && e.sync.last_init_ok == Some(true),
                "{} stored {} objects, the CM has {on_cm} keyed ones",
                e.name,
                e.objects
            );
        }
        Ok(())
    }

    async fn default_schedules(&self) -> Result<()> {
        println!(
            "\n2. GET /api/v1/schedules: each CM's first init left it a default daily incremental."
        );
        // The runner adds a default schedule just after the init's end, so
        // it may be a moment behind the job.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut defaults = loop {
            let page: SchedulePage = self
                .api
                .get(&["schedules"], &[("limit", "1000".to_string())])
                .await?;
            let defaults: Vec<ScheduleView> = page
                .items
                .into_iter()
                .filter(|s| s.default_for.is_some())
                .collect();
            if defaults.len() >= 3 || Instant::now() > deadline {
                break defaults;
            }
            sleep(Duration::from_millis(100)).await;
        };
        defaults.sort_by(|a, b| a.default_for.cmp(&b.default_for));
        for s in &defaults {
            println!(
                "  {:8} \"{}\": {} {}, next due {} ({}{})",
                s.default_for.as_deref().unwrap_or(""),
                s.name,
                s.sync_type,
                repeat(&s.repeat),
                s.next_due.as_deref().unwrap_or("never"),
                s.time_zone,
                if s.enabled { "" } else { ", disabled" }
            );
        }
        for (name, _) in self.cms.iter() {
            let n = defaults
                .iter()
                .filter(|s| {
                    s.default_for.as_deref() == Some(name)
                        && s.sync_type == SyncType::Incremental
                        && s.enabled
                })
                .count();
            ensure!(
                n == 1,
                "{name} has {n} enabled default incrementals, not one"
            );
        }
        Ok(())
    }

    async fn incremental(&self) -> Result<()> {
        println!(
            "\n3. Changes on cm-east over SAT: by an outside login, and by ucsync's own login."
        );
        let east = self.cms.get("cm-east")?;
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
            "  {}: changed 1001, removed 1300, duplicated 1002 to 5001-5002; {}: changed 1003, added 2002",
            OUTSIDE.0, OWN.0
        );
        println!(
            "  POST /api/v1/sync {{\"type\": \"incremental\", \"elements\": [\"cm-east\"]}} (as every sync below)"
        );
        let job = self.api.sync("cm-east", SyncType::Incremental).await?;
        ensure!(
            job.state == JobState::Succeeded && job.sync_type == SyncType::Incremental,
            "the incremental did not run as one: {:?}",
            job.error
        );
        println!("  pulled (GET /api/v1/jobs/{}/changes):", job.id);
        let changes = self.changes(&job).await?;
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
            job.counts.skipped >= 2,
            "the job counts {} skipped rows, not the two own ones",
            job.counts.skipped
        );
        println!("  skipped (the job's log, GET /api/v1/jobs/{}):", job.id);
        let skipped = self.skipped(&job).await?;
        for l in &skipped {
            println!("    {l}");
        }
        let own = skipped
            .iter()
            .filter(|l| l.contains("one of ucsync's own logins"))
            .count();
        ensure!(
            own == 2,
            "the job's log names {own} own rows as skipped, not 2"
        );
        Ok(())
    }

    async fn escalation(&self) -> Result<()> {
        println!(
            "\n4. 1801 outside changes on cm-lab: more than 1800 history rows make the incremental an init."
        );
        let craft = sat(self.cms.get("cm-lab")?, OUTSIDE).await?;
        for i in 0..1801 {
            craft
                .run(&rename(
                    &(1001 + i % 40).to_string(),
                    &format!("Busy, {i}"),
                )?)
                .await?;
        }
        craft.close().await;
        let job = self.api.sync("cm-lab", SyncType::Incremental).await?;
        println!(
            "  requested {}, ran {}: {}",
            job.requested,
            job.sync_type,
            job.reason.as_deref().unwrap_or("")
        );
        ensure!(
            job.requested == SyncType::Incremental
                && job.sync_type == SyncType::Init
                && job.state == JobState::Succeeded,
            "the incremental did not become a successful init"
        );
        Ok(())
    }

    async fn upgrade(&mut self) -> Result<()> {
        println!(
            "\n5. cm-west is upgraded (restarted with a newer version, its translations and host key kept)."
        );
        self.cms.upgrade("cm-west").await?;
        let job = self.api.sync("cm-west", SyncType::Incremental).await?;
        println!(
            "  incremental: {} — {}",
            job.state,
            job.error.as_deref().unwrap_or("")
        );
        let west: ElementView = self.api.get(&["elements", "cm-west"], &[]).await?;
        println!(
            "  GET /api/v1/elements/cm-west: version {} at the last init",
            west.sync.version.as_deref().unwrap_or("?")
        );
        ensure!(
            job.state == JobState::Failed
                && job.error.as_deref().is_some_and(|e| {
                    e.contains("upgraded") && e.contains(OLD_VERSION) && e.contains(NEW_VERSION)
                }),
            "the incremental after an upgrade was not refused"
        );
        Ok(())
    }

    async fn wipe(&mut self) -> Result<()> {
        println!("\n6. cm-lab is wiped (restarted empty).");
        self.cms.wipe("cm-lab").await?;
        let before = self.api.stations("cm-lab").await?.len();
        let job = self.api.sync("cm-lab", SyncType::Init).await?;
        println!(
            "  init: {} — {}",
            job.state,
            job.error.as_deref().unwrap_or("")
        );
        let would: Vec<_> = self
            .changes(&job)
            .await?
            .into_iter()
            .filter(|c| !c.applied && c.op == "delete")
            .collect();
        let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &would {
            *by_type.entry(c.object_type.as_str()).or_default() += 1;
        }
        let stored = self.api.stations("cm-lab").await?.len();
        println!(
            "  GET /api/v1/jobs/{}/changes: it would have deleted {} objects; {stored} stations are still stored",
            job.id,
            would.len()
        );
        println!(
            "    {}",
            by_type
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        ensure!(
            job.state == JobState::Failed && !would.is_empty() && stored == before,
            "the plain init did not refuse"
        );
        let job = self.api.sync("cm-lab", SyncType::ForceInit).await?;
        let after = self.api.stations("cm-lab").await?.len();
        println!(
            "  force-init: {}, {} deleted; {after} stations stored now",
            job.state, job.counts.deleted
        );
        if job.state != JobState::Succeeded
            || after != 0
            || job.counts.deleted != would.len() as u64
        {
            bail!("the force-init did not empty cm-lab");
        }
        Ok(())
    }

    async fn search(&self) -> Result<()> {
        println!("\n7. GET /api/v1/search?q=Outside: objects by the start of their key or name.");
        let page: SearchPage = self
            .api
            .get(&["search"], &[("q", "Outside".to_string())])
            .await?;
        for h in &page.items {
            println!(
                "  {} {} {} \"{}\"",
                h.element,
                h.object_type,
                h.key,
                h.name.as_deref().unwrap_or("")
            );
        }
        ensure!(
            page.items
                .iter()
                .any(|h| h.element == "cm-east" && h.object_type == "station" && h.key == "1001"),
            "the search did not find station 1001 of cm-east"
        );
        Ok(())
    }

    async fn administer(&self) -> Result<()> {
        println!(
            "\n8. PATCH /api/v1/elements/cm-east/objects/station/1001: a station administered through ucsync."
        );
        let name = station::NAME.to_string();
        let patch = ObjectPatch {
            fields: [(name.clone(), "Through, Ucsync".to_string())].into(),
        };
        let stored: ObjectView = self
            .api
            .send(
                Method::PATCH,
                &["elements", "cm-east", "objects", "station", "1001"],
                &patch,
            )
            .await?;
        let stored_name = stored.fields.get(&name).cloned().unwrap_or_default();
        println!("  stored: station {} named \"{stored_name}\"", stored.key);
        let craft = sat(self.cms.get("cm-east")?, OUTSIDE).await?;
        let on_cm = station_field(&craft, "1001", station::NAME).await?;
        craft.close().await;
        println!("  on cm-east, display station 1001 over SAT: named \"{on_cm}\"");
        ensure!(
            stored_name == "Through, Ucsync" && on_cm == stored_name,
            "the station was not changed on the CM and in the database alike"
        );
        let job = self.api.sync("cm-east", SyncType::Incremental).await?;
        let c = &job.counts;
        let pulled = c.added + c.changed + c.deleted;
        println!("  the next incremental pulls {pulled} objects back; its log:");
        let skipped = self.skipped(&job).await?;
        for l in &skipped {
            println!("    {l}");
        }
        ensure!(
            job.state == JobState::Succeeded
                && pulled == 0
                && skipped
                    .iter()
                    .any(|l| l.contains("station 1001") && l.contains("own logins")),
            "the incremental after administering did not skip the change ucsync made"
        );
        Ok(())
    }

    /// The history rows a job's log says it skipped, and why; logins and
    /// logoffs left out, as every SAT session makes two.
    async fn skipped(&self, job: &JobView) -> Result<Vec<String>> {
        // Only the view of one job carries its log.
        let job: JobView = self.api.get(&["jobs", &job.id.to_string()], &[]).await?;
        Ok(job
            .log
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.starts_with("skipped") && !l.contains("login or logoff"))
            .collect())
    }

    /// Every change of a job: applied, or for a refused init, proposed.
    async fn changes(&self, job: &JobView) -> Result<Vec<ucsync_api::model::ChangeView>> {
        self.api
            .all::<ChangePage>(&["jobs", &job.id.to_string(), "changes"], &[])
            .await
    }

    /// Serves until Ctrl-C (or SIGTERM), saying where to look meanwhile.
    async fn serve(&self) {
        let data = self.service.data_dir.display();
        println!("\nThe service keeps running until Ctrl-C:");
        println!("  console      {}", self.url);
        println!("  data         {data}");
        println!("  admin token  {}", self.service.admin_token_file.display());
        println!(
            "  console user {} (its password in {})",
            ucsync::serve::FIRST_USER,
            self.service.admin_password_file.display()
        );
        println!(
            "  the CLI      ucsync element list --server {} --data-dir {data}",
            self.url.trim_end_matches('/')
        );
        ucsync::shutdown_signal().await;
        println!("stopping the service and the emulated CMs");
    }

    async fn stop(self) {
        self.service.stop().await;
        self.cms.shutdown().await;
    }
}

/// A schedule's repeat, in words.
fn repeat(r: &Repeat) -> String {
    match r {
        Repeat::None => "once".into(),
        Repeat::Every(e) => {
            let unit = match e.unit {
                Unit::Minutes => "minute",
                Unit::Hours => "hour",
                Unit::Days => "day",
                Unit::Weeks => "week",
            };
            match e.n {
                1 => format!("every {unit}"),
                n => format!("every {n} {unit}s"),
            }
        }
        Repeat::Cron(c) => format!("at \"{c}\" (cron)"),
    }
}
