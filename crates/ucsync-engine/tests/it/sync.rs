//! The rules of the seed, each against the emulator over SSH.

use std::collections::BTreeMap;

use ucsync_core::{JobState, Password, SecretKey, SyncType};
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{FieldId, Request, Value};
use ucsync_sat::{SatClient, SatConfig};
use ucsync_store::{ObjectQuery, Store};

use crate::{OUTSIDE, OWN, Rig, cm_settings, emulator};

/// Everything stored for an element, with secrets decrypted: type -> key -> fields.
pub(crate) async fn stored(
    store: &dyn Store,
    secret: &SecretKey,
    name: &str,
) -> BTreeMap<String, BTreeMap<String, Vec<(String, String)>>> {
    let e = store.element(name).await.unwrap().unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, Vec<(String, String)>>> = BTreeMap::new();
    for o in store.objects(e.id, &ObjectQuery::default()).await.unwrap() {
        let fields = o
            .fields
            .iter()
            .map(|(f, v)| {
                (
                    f.to_string(),
                    if SecretKey::is_encrypted(v) {
                        secret.decrypt(v).unwrap()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect();
        out.entry(o.id.object_type.clone())
            .or_default()
            .insert(o.id.key.clone(), fields);
    }
    out
}

/// What the emulator holds, in the same shape.
pub(crate) fn on_cm(emu: &CmEmulator) -> BTreeMap<String, BTreeMap<String, Vec<(String, String)>>> {
    let cm = emu.cm();
    let mut out: BTreeMap<String, BTreeMap<String, Vec<(String, String)>>> = BTreeMap::new();
    for form in &cm.model().forms {
        let keys = if form.is_keyed() {
            cm.keys(&form.object_type)
        } else {
            vec![String::new()]
        };
        for k in keys {
            let obj = cm
                .object(
                    &form.object_type,
                    if form.is_keyed() { Some(&k) } else { None },
                )
                .unwrap();
            let mut fields: Vec<(String, String)> =
                obj.into_iter().map(|(f, v)| (f.to_string(), v)).collect();
            fields.sort();
            out.entry(form.object_type.clone())
                .or_default()
                .insert(k, fields);
        }
    }
    out
}

pub(crate) async fn outside(emu: &CmEmulator) -> SatClient {
    let mut c = SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        OUTSIDE.0,
        Password::new(OUTSIDE.1),
    );
    c.sessions = 1;
    // An object in use stays in use here: no waiting for it.
    c.transient_attempts = 1;
    SatClient::connect(c).await.unwrap()
}

async fn own(emu: &CmEmulator) -> SatClient {
    let mut c = SatConfig::new("127.0.0.1", emu.addr().port(), OWN.0, Password::new(OWN.1));
    c.sessions = 1;
    SatClient::connect(c).await.unwrap()
}

fn rename(ext: &str, name: &str) -> Request {
    Request::write(
        &format!("change station {ext}"),
        &[(station::NAME, Value::Set(name.into()))],
    )
    .unwrap()
}

#[tokio::test]
async fn adding_a_cm_inits_it_and_the_database_matches_field_for_field() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    let job = rig.add_cm("cm1", &emu).await;
    assert_eq!(
        job.state,
        JobState::Succeeded,
        "{:?}",
        rig.store.job_log_lines(job.id).await.unwrap()
    );
    let db = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let cm = on_cm(&emu);
    assert_eq!(
        db.keys().collect::<Vec<_>>(),
        cm.keys().collect::<Vec<_>>(),
        "every object type"
    );
    for (t, objects) in &cm {
        assert_eq!(db[t].len(), objects.len(), "{t}");
        for (k, fields) in objects {
            assert_eq!(&db[t][k], fields, "{t} {k}");
        }
    }
    // Security codes are stored encrypted.
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    let raw = rig
        .store
        .objects(
            e.id,
            &ObjectQuery {
                object_type: Some("station".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let code = station::SECURITY_CODE.to_string();
    assert!(
        raw.iter()
            .filter_map(|o| o.fields.get(&code))
            .filter(|v| !v.is_empty())
            .all(SecretKey::is_encrypted)
    );
    assert_eq!(
        job.counts.added as usize,
        cm.values().map(|m| m.len()).sum::<usize>()
    );
    // A second init changes nothing.
    let again = rig.sync("cm1", SyncType::Init).await;
    assert_eq!(
        (
            again.state,
            again.counts.added,
            again.counts.changed,
            again.counts.deleted
        ),
        (JobState::Succeeded, 0, 0, 0)
    );
}

#[tokio::test]
async fn incremental_pulls_outside_changes_and_skips_its_own() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    craft.run(&rename("1001", "Outside, One")).await.unwrap();
    craft.command("remove station 1300").await.unwrap();
    craft
        .command("duplicate station 1002 start 5001 count 2")
        .await
        .unwrap();
    let mine = own(&emu).await;
    mine.run(&rename("1003", "Own, Change")).await.unwrap();
    mine.run(
        &Request::write(
            "add station 2001",
            &[(station::TYPE, Value::Set("9611SIP".into()))],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let job = rig.sync("cm1", SyncType::Incremental).await;
    let log = rig.store.job_log_lines(job.id).await.unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{log:?}");
    assert_eq!(job.sync_type, SyncType::Incremental);
    let db = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let name = |k: &str| {
        db["station"].get(k).and_then(|f| {
            f.iter()
                .find(|(f, _)| *f == station::NAME.to_string())
                .map(|(_, v)| v.clone())
        })
    };
    assert_eq!(name("1001").as_deref(), Some("Outside, One"));
    assert!(!db["station"].contains_key("1300"));
    assert!(db["station"].contains_key("5001") && db["station"].contains_key("5002"));
    assert_ne!(
        name("1003").as_deref(),
        Some("Own, Change"),
        "an own login's change is not pulled"
    );
    assert!(
        !db["station"].contains_key("2001"),
        "a station added by an own login is not pulled"
    );
    for skipped in [
        "ucsync chan station 1003: made by 'ucsync'",
        "ucsync add station 2001: made by 'ucsync'",
    ] {
        assert!(
            log.iter().any(|l| l.contains(skipped)),
            "{skipped} in {log:?}"
        );
    }
    assert_eq!(
        (job.counts.added, job.counts.changed, job.counts.deleted),
        (2, 1, 1)
    );
    let changes = rig.store.changes(job.id).await.unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.key == "1001" && c.by_login.as_deref() == Some("craft"))
    );
    // Idempotent: a second run changes nothing.
    let again = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (
            again.counts.added,
            again.counts.changed,
            again.counts.deleted
        ),
        (0, 0, 0)
    );
    assert!(rig.store.changes(again.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_plain_init_refuses_to_lose_thirty_percent_and_force_init_applies_it() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    // Remove 90 stations (30 %), skipping those a group still uses.
    let mut removed = 0;
    for ext in (1001..=1300).rev() {
        if removed < 90
            && craft
                .command(&format!("remove station {ext}"))
                .await
                .is_ok()
        {
            removed += 1;
        }
    }
    assert_eq!(removed, 90);
    let job = rig.sync("cm1", SyncType::Init).await;
    assert_eq!(job.state, JobState::Failed);
    let err = job.error.clone().unwrap();
    assert!(err.contains("90 of 300 station objects (30 %)"), "{err}");
    // Its counts are what it applied — nothing — and, apart, what it would have.
    let c = job.counts;
    assert_eq!(
        (c.added, c.changed, c.deleted),
        (0, 0, 0),
        "a refused init deleted nothing: {c:?}"
    );
    assert_eq!((c.would_delete, c.would_add, c.would_change), (90, 0, 0));
    let log = rig.store.job_log_lines(job.id).await.unwrap();
    assert!(
        log.iter()
            .any(|l| l == "station: would add 0, change 0, delete 90; 210 unchanged"),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains(" deleted")), "{log:?}");
    let would = rig.store.changes(job.id).await.unwrap();
    assert_eq!(
        would
            .iter()
            .filter(|c| c.op.as_str() == "delete" && !c.applied)
            .count(),
        90
    );
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await["station"].len(),
        300,
        "nothing changed"
    );
    // The failed init makes the next incremental an init, which refuses again.
    let inc = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(inc.sync_type, SyncType::Init);
    assert!(inc.reason.unwrap().contains("last initializing sync"));
    let force = rig.sync("cm1", SyncType::ForceInit).await;
    assert_eq!(
        (force.state, force.counts.deleted),
        (JobState::Succeeded, 90)
    );
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await["station"].len(),
        210
    );
}

#[tokio::test]
async fn escalations_and_the_upgrade_stop() {
    let emu = emulator(CmSettings {
        history_capacity: 5000,
        ..cm_settings()
    })
    .await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    // 1800 rows stay incremental…
    for i in 0..1800 {
        craft
            .run(&rename(&(1001 + i % 300).to_string(), &format!("N{i}")))
            .await
            .unwrap();
    }
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.sync_type),
        (JobState::Succeeded, SyncType::Incremental),
        "{:?}",
        job.reason
    );
    // …1801 do not.
    for i in 0..1801 {
        craft
            .run(&rename(&(1001 + i % 300).to_string(), &format!("M{i}")))
            .await
            .unwrap();
    }
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.sync_type),
        (JobState::Succeeded, SyncType::Init)
    );
    assert_eq!(
        job.reason.as_deref(),
        Some("1801 history rows to apply, more than 1800")
    );
    // A system-wide form.
    craft
        .run(
            &Request::write(
                "cha sys feat",
                &[(FieldId::parse("a7b1ff00").unwrap(), Value::Set("n".into()))],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(job.sync_type, SyncType::Init);
    assert!(
        job.reason
            .unwrap()
            .contains("system-parameters features changed")
    );
}

#[tokio::test]
async fn administering_through_ucsync_is_stored_and_not_pulled_again() {
    use ucsync_connect::WriteOp;
    use ucsync_core::{Fields, ObjectId};
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let cm1 = ucsync_core::ElementName::parse("cm1").unwrap();
    let change = WriteOp::Change {
        id: ObjectId::new("station", "1004"),
        fields: Fields::new(vec![(station::NAME.to_string(), "Via, Ucsync".into())]),
    };
    let after = rig.runner.administer(&cm1, change).await.unwrap().unwrap();
    assert_eq!(
        after.fields.get(&station::NAME.to_string()),
        Some("Via, Ucsync")
    );
    assert_eq!(
        emu.cm()
            .object("station", Some("1004"))
            .unwrap()
            .iter()
            .find(|(f, _)| *f == station::NAME)
            .unwrap()
            .1,
        "Via, Ucsync"
    );
    let db = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    assert!(
        db["station"]["1004"].contains(&(station::NAME.to_string(), "Via, Ucsync".to_string()))
    );
    // A bad value fails on the CM and changes nothing here.
    let bad = WriteOp::Change {
        id: ObjectId::new("station", "1004"),
        fields: Fields::new(vec![(station::TYPE.to_string(), "toaster".into())]),
    };
    let err = rig
        .runner
        .administer(&cm1, bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("code 2a04"),
        "a bad value, named by the CM: {err}"
    );
    assert_eq!(stored(rig.store.as_ref(), &rig.secret, "cm1").await, db);
    // The CM logged the change under ucsync's own login: the incremental skips it.
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (job.counts.changed, job.counts.skipped),
        (0, 1),
        "{:?}",
        rig.store.job_log_lines(job.id).await.unwrap()
    );
}

#[tokio::test]
async fn a_cm_clock_hours_off_and_changes_in_the_sync_minute_lose_nothing() {
    let emu = emulator(CmSettings {
        clock_offset_secs: -7 * 3600 - 1234,
        ..cm_settings()
    })
    .await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    // Two changes right after the init, in the same minute as its sync point.
    craft.run(&rename("1010", "Same, Minute1")).await.unwrap();
    craft.run(&rename("1011", "Same, Minute2")).await.unwrap();
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (job.sync_type, job.counts.changed),
        (SyncType::Incremental, 2),
        "{:?}",
        rig.store.job_log_lines(job.id).await.unwrap()
    );
    let db = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    assert!(
        db["station"]["1011"].contains(&(station::NAME.to_string(), "Same, Minute2".to_string()))
    );
}

#[tokio::test]
async fn changes_made_while_an_init_reads_are_picked_up_next() {
    let emu = emulator(CmSettings {
        latency: std::time::Duration::from_millis(2),
        ..cm_settings()
    })
    .await;
    let rig = Rig::new(8).await;
    let craft = outside(&emu).await;
    let (job, _) = tokio::join!(rig.add_cm("cm1", &emu), async {
        // Stations are read last; these change once the init has begun
        // reading them (1001 among the first, 1299 the last). However far
        // the init has got by then, what it missed the incremental gets.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while emu.cm().command_count("display station", true) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the init never read a station"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        craft.run(&rename("1299", "During, Init")).await.unwrap();
        craft.run(&rename("1001", "During, Init2")).await.unwrap();
    });
    assert_eq!(job.state, JobState::Succeeded);
    rig.sync("cm1", SyncType::Incremental).await;
    let db = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    assert!(
        db["station"]["1299"].contains(&(station::NAME.to_string(), "During, Init".to_string()))
    );
    assert!(
        db["station"]["1001"].contains(&(station::NAME.to_string(), "During, Init2".to_string()))
    );
}

#[tokio::test]
async fn an_upgraded_cm_stops_the_incremental_until_an_init() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("cm.json");
    let settings = CmSettings {
        state_file: Some(state),
        // The same CM after its upgrade: the same host key.
        host_key: Some(dir.path().join("host_key")),
        version: "R018x.00.0.822.0".into(),
        ..cm_settings()
    };
    let emu = emulator(settings.clone()).await;
    let port = emu.addr().port();
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    outside(&emu)
        .await
        .command("save translation")
        .await
        .unwrap();
    emu.shutdown().await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let emu = CmEmulator::start(
        CmSettings {
            version: "R020x.01.0.974.0".into(),
            ..settings
        },
        listener,
    )
    .await
    .unwrap();
    let before = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(job.state, JobState::Failed);
    let err = job.error.unwrap();
    assert!(
        err.contains("from R018x.00.0.822.0 to R020x.01.0.974.0")
            && err.contains("run an initializing sync"),
        "{err}"
    );
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await,
        before,
        "nothing changed"
    );
    let init = rig.sync("cm1", SyncType::Init).await;
    assert_eq!(init.state, JobState::Succeeded);
    assert_eq!(
        rig.sync("cm1", SyncType::Incremental).await.state,
        JobState::Succeeded
    );
    drop(emu);
}

#[tokio::test]
async fn a_wrapped_history_makes_the_incremental_an_init() {
    let emu = emulator(CmSettings {
        history_capacity: 20,
        ..cm_settings()
    })
    .await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    for i in 0..30 {
        craft
            .run(&rename(&(1001 + i).to_string(), "Wrap, Around"))
            .await
            .unwrap();
    }
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        job.sync_type,
        SyncType::Init,
        "{:?}",
        rig.store.job_log_lines(job.id).await.unwrap()
    );
    assert!(job.reason.unwrap().contains("wrapped"));
    let db = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    assert!(
        db["station"]["1001"].contains(&(station::NAME.to_string(), "Wrap, Around".to_string())),
        "the lost row's change is in by the init"
    );
    // An alarm says so; while the small history keeps wrapping (the init's
    // own commands fill it), the one alarm counts each time.
    let open = ucsync_store::AlarmQuery {
        open: Some(true),
        ..Default::default()
    };
    let (alarms, _) = rig.store.alarms(&open).await.unwrap();
    let conditions: Vec<_> = alarms.iter().map(|a| a.condition).collect();
    assert_eq!(conditions, [ucsync_core::AlarmCondition::HistoryWrapped]);
    rig.sync("cm1", SyncType::Incremental).await;
    let (again, _) = rig.store.alarms(&open).await.unwrap();
    assert_eq!(
        (again.len(), again[0].id, again[0].count),
        (1, alarms[0].id, 2)
    );
}

#[tokio::test]
async fn a_connection_cut_mid_init_leaves_the_database_as_it_was() {
    use ucsync_emulator::cm::Faults;
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    // Enough history that reading it crosses the cut, as a long listing does.
    for i in 0..60 {
        craft
            .run(&rename(&(1001 + i).to_string(), "Not, Yet"))
            .await
            .unwrap();
    }
    let before = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let sync_before = rig.store.element("cm1").await.unwrap().unwrap().sync;
    // From now on, every session breaks in the middle of a long listing.
    emu.set_faults(Faults {
        cut_after_records: Some(50),
        ..Faults::default()
    });
    for t in [SyncType::Incremental, SyncType::Init, SyncType::ForceInit] {
        let job = rig.sync("cm1", t).await;
        assert_eq!(job.state, JobState::Failed, "{t}");
        assert!(
            job.error.as_deref().unwrap_or("").contains("lost"),
            "{t}: {:?}",
            job.error
        );
        assert_eq!(
            stored(rig.store.as_ref(), &rig.secret, "cm1").await,
            before,
            "{t}: the database is as it was"
        );
        if t == SyncType::Incremental {
            assert_eq!(
                job.sync_type,
                SyncType::Incremental,
                "it failed as an incremental"
            );
        }
    }
    let after = rig.store.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(
        after.sync_point, sync_before.sync_point,
        "the sync point did not move"
    );
    assert_eq!(
        after.last_init_ok,
        Some(false),
        "the failed inits are recorded"
    );
    // Once the connection holds, the changes come in.
    emu.set_faults(Faults::default());
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.sync_type),
        (JobState::Succeeded, SyncType::Init)
    );
}

#[tokio::test]
async fn bulk_twenty_cms_through_a_pool_of_eight() {
    let mut emus = Vec::new();
    for i in 0..20 {
        emus.push(
            emulator(CmSettings {
                seed: i,
                latency: std::time::Duration::from_millis(1),
                counts: [("station".to_string(), 60)].into(),
                ..cm_settings()
            })
            .await,
        );
    }
    let rig = Rig::new(8).await;
    let names: Vec<String> = (0..20).map(|i| format!("cm{i:02}")).collect();
    let jobs = futures::future::join_all(
        emus.iter()
            .zip(&names)
            .map(|(emu, name)| rig.add_cm(name, emu)),
    )
    .await;
    for j in &jobs {
        assert_eq!(j.state, JobState::Succeeded, "{}: {:?}", j.element, j.error);
    }
    // How many ran at once is up to the scheduler; the pool's bound is not.
    let peak = rig.runner.peak_inits();
    assert!(
        (1..=8).contains(&peak),
        "never more than 8 inits at once (peak {peak})"
    );
    for (i, emu) in emus.iter().enumerate() {
        let db = stored(rig.store.as_ref(), &rig.secret, &format!("cm{i:02}")).await;
        assert_eq!(db["station"].len(), emu.cm().keys("station").len());
    }
}

/// Kills a process in the middle of an init with SIGKILL: the database stays
/// as it was. The test runs itself as the child process that gets killed.
#[tokio::test]
async fn killed_mid_init_leaves_the_database_as_it_was() {
    use std::sync::Arc;
    use ucsync_core::{ElementName, Trigger};
    use ucsync_engine::RunnerSettings;
    use ucsync_store::SqliteStore;

    if let Ok(db) = std::env::var("UCSYNC_TEST_CHILD_DB") {
        // The child: run an init until killed.
        let secret =
            SecretKey::from_hex(&std::env::var("UCSYNC_TEST_CHILD_SECRET").unwrap()).unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(std::path::Path::new(&db), secret.clone())
                .await
                .unwrap(),
        );
        let runner = crate::Rig::runner(
            &store,
            &secret,
            RunnerSettings {
                node: "child".into(),
                ..Default::default()
            },
        );
        let job = runner
            .request(
                &ElementName::parse("cm1").unwrap(),
                SyncType::Init,
                Trigger::OnDemand,
                "child",
            )
            .await
            .unwrap();
        runner.wait(job.job.id).await.unwrap();
        panic!("the child was meant to be killed before its init finished");
    }

    let emu = emulator(CmSettings {
        latency: std::time::Duration::from_millis(4),
        ..cm_settings()
    })
    .await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    for ext in ["1001", "1002", "1299"] {
        craft.run(&rename(ext, "Changed, Since")).await.unwrap();
    }
    let before = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let state_before = rig.store.element("cm1").await.unwrap().unwrap().sync;
    // The child is the only node taking jobs from here on.
    rig.runner.shutdown().await;
    let db = rig.dir.path().join("ucsync.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sync::killed_mid_init_leaves_the_database_as_it_was",
            "--test-threads=1",
        ])
        .env("UCSYNC_TEST_CHILD_DB", &db)
        .env("UCSYNC_TEST_CHILD_SECRET", rig.secret.to_hex())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child's init has read a good part of the CM.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let jobs = rig
            .store
            .jobs(Some("cm1"), Some(JobState::Running), 0, 1)
            .await
            .unwrap();
        let done: u64 = jobs
            .first()
            .map(|j| j.progress.values().map(|p| p.0).sum())
            .unwrap_or(0);
        if done > 100 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child's init did not get going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended on its own"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await,
        before,
        "the database is as it was"
    );
    assert_eq!(
        rig.store.element("cm1").await.unwrap().unwrap().sync,
        state_before
    );
    // The child's node starts again: the job it was running is failed as
    // interrupted, and the next init applies what the killed one did not.
    let restarted = crate::Rig::runner(
        &rig.store,
        &rig.secret,
        RunnerSettings {
            node: "child".into(),
            ..Default::default()
        },
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let interrupted = loop {
        let failed = rig
            .store
            .jobs(Some("cm1"), Some(JobState::Failed), 0, 1)
            .await
            .unwrap();
        if let Some(j) = failed.into_iter().next() {
            break j;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the killed job was not failed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let again = restarted
        .request(
            &ElementName::parse("cm1").unwrap(),
            SyncType::Init,
            Trigger::OnDemand,
            "test",
        )
        .await
        .unwrap();
    let job = restarted.wait(again.job.id).await.unwrap();
    assert_eq!(
        (interrupted.state, interrupted.error.as_deref()),
        (JobState::Failed, Some("interrupted"))
    );
    assert_eq!((job.state, job.counts.changed), (JobState::Succeeded, 3));
    restarted.shutdown().await;
}

#[tokio::test]
async fn connections_can_stay_open_between_jobs() {
    use ucsync_core::{ElementKind, ElementName, Trigger};
    use ucsync_engine::RunnerSettings;
    use ucsync_store::{ElementSettings, NewElement};
    let emu = emulator(cm_settings()).await;
    let rig = Rig::with_settings(RunnerSettings {
        keep_connections: true,
        ..Default::default()
    })
    .await;
    let runner = rig.runner.clone();
    let name = ElementName::parse("cm1").unwrap();
    let e = NewElement {
        name: name.clone(),
        kind: ElementKind::Cm,
        host: "127.0.0.1".into(),
        alternate_host: None,
        port: emu.addr().port(),
        login: OWN.0.into(),
        password: OWN.1.into(),
        settings: ElementSettings::default(),
    };
    rig.store.add_element(e).await.unwrap();
    let logins = || {
        emu.cm()
            .history()
            .iter()
            .filter(|h| h.login == OWN.0 && h.action == "logn")
            .count()
    };
    for t in [SyncType::Init, SyncType::Incremental, SyncType::Incremental] {
        let j = runner
            .request(&name, t, Trigger::OnDemand, "test")
            .await
            .unwrap();
        assert_eq!(
            runner.wait(j.job.id).await.unwrap().state,
            JobState::Succeeded
        );
    }
    let sessions = SatConfig::new("h", 1, "l", Password::new("p")).sessions;
    assert_eq!(
        logins(),
        sessions,
        "one login per SAT session, kept for all three jobs"
    );
    runner.shutdown().await;
    let logoffs = || {
        emu.cm()
            .history()
            .iter()
            .filter(|h| h.login == OWN.0 && h.action == "logf")
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while logoffs() < sessions {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {sessions} sessions logged off",
            logoffs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(logoffs(), sessions, "closed with a clean logoff");
}
