//! The rules of the seed, each against the emulator over SSH.

use std::collections::BTreeMap;

use ucsync_core::{JobState, SecretKey, SyncType};
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{FieldId, Request, Value};
use ucsync_sat::{Password, SatClient, SatConfig};
use ucsync_store::{ObjectQuery, Store};

use crate::{OUTSIDE, OWN, Rig, cm_settings, emulator};

/// Everything stored for an element, with secrets decrypted: type -> key -> fields.
async fn stored(
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
fn on_cm(emu: &CmEmulator) -> BTreeMap<String, BTreeMap<String, Vec<(String, String)>>> {
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

async fn outside(emu: &CmEmulator) -> SatClient {
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
    let would = rig.store.changes(job.id).await.unwrap();
    assert_eq!(
        would
            .iter()
            .filter(|c| c.op == "delete" && !c.applied)
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
