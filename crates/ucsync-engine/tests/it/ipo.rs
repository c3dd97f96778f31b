//! IP Office elements through the engine, against the IP Office emulator
//! over HTTP: the automatic init, the version-checked incremental, the
//! faults, and administering.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use ucsync_connect::WriteOp;
use ucsync_core::{ElementName, Fields, JobState, ObjectId, SyncType};
use ucsync_emulator::ipo::{Data, Faults, IpoEmulator, IpoSettings, Served, Sizes};
use ucsync_store::Job;
use ucsync_testkit::emulators::{OTHER, OWN, ipo as start};

use crate::Rig;
use crate::sync::stored;

fn settings(users: usize) -> IpoSettings {
    IpoSettings {
        logins: vec![
            (OWN.0.into(), OWN.1.into()),
            (OTHER.0.into(), OTHER.1.into()),
        ],
        sizes: Sizes {
            users,
            extensions: users + 5,
            ..Sizes::default()
        },
        ..IpoSettings::default()
    }
}

type Table = BTreeMap<String, BTreeMap<String, Vec<(String, String)>>>;

/// The text of a value as the model document spells it.
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// What the emulator holds, as ucsync should store it: mapped here from the
/// emulator's own types by the model document, not by the connector.
fn on_ipo(d: &Data) -> Table {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let mut out = Table::new();
    let mut put = |t: &str, key: String, fields: Vec<(&str, String)>| {
        let mut f: Vec<(String, String)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        f.sort();
        out.entry(t.to_string()).or_default().insert(key, f);
    };
    for u in d.users.values() {
        put(
            "user",
            u.name.clone(),
            vec![
                ("name", u.name.clone()),
                ("full_name", opt(&u.full_name)),
                ("extension", u.extension.clone()),
                ("profile", word(&u.profile)),
                ("locale", opt(&u.locale)),
                ("email", opt(&u.email)),
                ("voicemail_code", opt(&u.voicemail_code)),
            ],
        );
    }
    for e in d.extensions.values() {
        put(
            "extension",
            e.id.clone(),
            vec![
                ("id", e.id.clone()),
                ("base_extension", e.base_extension.clone()),
                ("type", word(&e.kind)),
                ("location", opt(&e.location)),
            ],
        );
    }
    for g in d.hunt_groups.values() {
        put(
            "hunt-group",
            g.name.clone(),
            vec![
                ("name", g.name.clone()),
                ("extension", g.extension.clone()),
                ("ring_mode", word(&g.ring_mode)),
                ("members", g.members.join(",")),
                ("voicemail", g.voicemail.to_string()),
            ],
        );
    }
    for s in d.short_codes.values() {
        put(
            "short-code",
            s.code.clone(),
            vec![
                ("code", s.code.clone()),
                ("feature", s.feature.clone()),
                ("telephone_number", opt(&s.telephone_number)),
                (
                    "line_group_id",
                    s.line_group_id.map(|n| n.to_string()).unwrap_or_default(),
                ),
            ],
        );
    }
    for r in d.incoming_call_routes.values() {
        put(
            "incoming-call-route",
            format!("{}:{}", r.line_group_id, r.incoming_number),
            vec![
                ("line_group_id", r.line_group_id.to_string()),
                ("incoming_number", r.incoming_number.clone()),
                ("bearer_capability", word(&r.bearer_capability)),
                ("destination", r.destination.clone()),
            ],
        );
    }
    out
}

/// Another administrator changes the configuration through the service.
async fn admin(emu: &IpoEmulator, method: Method, path: &str, body: Option<Value>) -> u16 {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/{path}", emu.url()))
        .basic_auth(OTHER.0, Some(OTHER.1));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn log_of(rig: &Rig, job: &Job) -> String {
    rig.store.job_log_lines(job.id).await.unwrap().join("\n")
}

#[tokio::test]
async fn adding_an_ip_office_syncs_it_and_the_database_equals_its_configuration() {
    let emu = start(settings(150)).await;
    let rig = Rig::new(2).await;
    let job = rig.add_ipo("ipo1", &emu, OWN.1).await;
    assert_eq!(
        (job.state, job.sync_type),
        (JobState::Succeeded, SyncType::Init),
        "{:?}",
        job.error
    );
    let want = on_ipo(&emu.data());
    assert_eq!(want["user"].len(), 150);
    assert_eq!(stored(rig.store.as_ref(), &rig.secret, "ipo1").await, want);
    // Every type's total, from the one snapshot, is what was read.
    for (t, objects) in &want {
        let n = objects.len() as u64;
        assert_eq!(job.progress.get(t.as_str()), Some(&(n, n)), "{t}");
    }
    let e = rig.store.element("ipo1").await.unwrap().unwrap();
    assert_eq!(e.sync.sync_point, Some(emu.config_version()));
    assert_eq!(e.sync.version_at_init.as_deref(), Some("11.1.3.0 build 14"));
    // Voicemail codes are secrets: stored encrypted, never as they are.
    let raw = rig
        .store
        .objects(
            e.id,
            &ucsync_store::ObjectQuery {
                object_type: Some("user".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let code = raw
        .iter()
        .find_map(|o| o.fields.get("voicemail_code").filter(|v| !v.is_empty()))
        .unwrap();
    assert!(ucsync_core::SecretKey::is_encrypted(code), "{code}");
    // Like a CM, it gets a daily incremental, made before the job's wait
    // ends.
    assert!(
        rig.store
            .schedules()
            .await
            .unwrap()
            .iter()
            .any(|s| s.default_for.as_deref() == Some("ipo1")),
        "no default schedule"
    );
}

#[tokio::test]
async fn an_unchanged_configuration_costs_one_small_request_and_the_job_says_so() {
    let emu = start(settings(40)).await;
    let rig = Rig::new(2).await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    let before = stored(rig.store.as_ref(), &rig.secret, "ipo1").await;
    emu.clear_served();
    let job = rig.sync("ipo1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.sync_type),
        (JobState::Succeeded, SyncType::Incremental),
        "{:?}",
        job.error
    );
    assert_eq!(
        emu.served(),
        [Served {
            method: "GET".into(),
            path: "/config/v1/configuration".into(),
            status: 304,
            body_bytes: Some(0),
        }]
    );
    let log = log_of(&rig, &job).await;
    assert!(
        log.contains("an incremental on an IP Office is a version-checked full read")
            && log.contains("is unchanged since the last sync, so there is nothing to do"),
        "{log}"
    );
    let c = job.counts;
    assert_eq!((c.added, c.changed, c.deleted), (0, 0, 0));
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        before
    );
}

#[tokio::test]
async fn an_incremental_pulls_changes_made_through_the_emulator_api() {
    let emu = start(settings(40)).await;
    let rig = Rig::new(2).await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    let d = emu.data();
    let user = d.users.keys().next().unwrap().clone();
    let route = d.incoming_call_routes.keys().last().unwrap().clone();
    assert_eq!(
        admin(
            &emu,
            Method::PATCH,
            &format!("users/{user}"),
            Some(json!({"full_name": "Zebulon Outside"}))
        )
        .await,
        200
    );
    assert_eq!(
        admin(
            &emu,
            Method::POST,
            "short-codes",
            Some(json!({"code": "*99", "feature": "park-call"}))
        )
        .await,
        201
    );
    assert_eq!(
        admin(
            &emu,
            Method::DELETE,
            &format!("incoming-call-routes/{route}"),
            None
        )
        .await,
        204
    );
    emu.clear_served();
    let job = rig.sync("ipo1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.sync_type),
        (JobState::Succeeded, SyncType::Incremental),
        "{:?}",
        job.error
    );
    let c = job.counts;
    assert_eq!((c.added, c.changed, c.deleted), (1, 1, 1), "{c:?}");
    let want = on_ipo(&emu.data());
    assert!(
        want["user"][&user].contains(&("full_name".into(), "Zebulon Outside".into())),
        "{:?}",
        want["user"][&user]
    );
    assert_eq!(stored(rig.store.as_ref(), &rig.secret, "ipo1").await, want);
    let log = log_of(&rig, &job).await;
    assert!(
        log.contains("an incremental on an IP Office is a version-checked full read")
            && log.contains("the configuration version changed from"),
        "{log}"
    );
    // The configuration was read whole once: one conditional request answered in full.
    let served = emu.served();
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(
        (served[0].path.as_str(), served[0].status),
        ("/config/v1/configuration", 200)
    );
    let e = rig.store.element("ipo1").await.unwrap().unwrap();
    assert_eq!(e.sync.sync_point, Some(emu.config_version()));
    // And after it, nothing to do again.
    let again = rig.sync("ipo1", SyncType::Incremental).await;
    assert!(log_of(&rig, &again).await.contains("nothing to do"));
}

#[tokio::test]
async fn init_and_force_init_always_read_and_diff_with_the_discrepancy_check() {
    let emu = start(settings(40)).await;
    let rig = Rig::new(2).await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    // Unchanged, an init still reads everything.
    emu.clear_served();
    let init = rig.sync("ipo1", SyncType::Init).await;
    assert_eq!(init.state, JobState::Succeeded, "{:?}", init.error);
    assert!(
        emu.served()
            .iter()
            .any(|s| s.path == "/config/v1/configuration" && s.status == 200),
        "{:?}",
        emu.served()
    );
    let total: u64 = on_ipo(&emu.data()).values().map(|t| t.len() as u64).sum();
    assert_eq!(init.counts.unchanged, total);
    // Another administrator removes most users: an init refuses to delete them.
    let d = emu.data();
    let members: Vec<&String> = d.hunt_groups.values().flat_map(|g| &g.members).collect();
    let doomed: Vec<String> = d
        .users
        .keys()
        .filter(|u| !members.contains(u))
        .take(25)
        .cloned()
        .collect();
    assert_eq!(doomed.len(), 25);
    for u in &doomed {
        assert_eq!(
            admin(&emu, Method::DELETE, &format!("users/{u}"), None).await,
            204
        );
    }
    let before = stored(rig.store.as_ref(), &rig.secret, "ipo1").await;
    let refused = rig.sync("ipo1", SyncType::Init).await;
    assert_eq!(refused.state, JobState::Failed);
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        before
    );
    let forced = rig.sync("ipo1", SyncType::ForceInit).await;
    assert_eq!(forced.state, JobState::Succeeded, "{:?}", forced.error);
    assert_eq!(forced.counts.deleted, 25);
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        on_ipo(&emu.data())
    );
}

#[tokio::test]
async fn every_fault_fails_the_job_with_its_cause_and_changes_nothing() {
    let emu = start(settings(30)).await;
    // A short timeout, for the stall.
    let rig = Rig::with_factory(
        ucsync_engine::RunnerSettings {
            init_pool: 2,
            ..Default::default()
        },
        ucsync_testkit::factory_with(|o| o.timeout = Some(Duration::from_millis(700))),
    )
    .await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    // A change waits on the IP Office, so every sync has something to write.
    let user = emu.data().users.keys().next().unwrap().clone();
    admin(
        &emu,
        Method::PATCH,
        &format!("users/{user}"),
        Some(json!({"locale": "fra"})),
    )
    .await;
    let before = stored(rig.store.as_ref(), &rig.secret, "ipo1").await;
    let point = rig
        .store
        .element("ipo1")
        .await
        .unwrap()
        .unwrap()
        .sync
        .sync_point;
    let cases: Vec<(Faults, &str)> = vec![
        (
            Faults {
                status: Some(401),
                ..Faults::default()
            },
            "401 Unauthorized",
        ),
        (
            Faults {
                status: Some(403),
                ..Faults::default()
            },
            "403 Forbidden",
        ),
        (
            Faults {
                status: Some(500),
                ..Faults::default()
            },
            "500 Internal Server Error",
        ),
        (
            Faults {
                stall: true,
                ..Faults::default()
            },
            "did not answer within 0.7 s",
        ),
        (
            Faults {
                cut_after_bytes: Some(300),
                ..Faults::default()
            },
            "was cut while",
        ),
        (
            Faults {
                invalid_json: true,
                ..Faults::default()
            },
            "sent invalid JSON while reading the configuration",
        ),
        (
            Faults {
                missing_field: Some("extension".into()),
                ..Faults::default()
            },
            "does not match the model while reading the configuration: users[0]: missing field `extension`",
        ),
    ];
    for (faults, cause) in cases {
        emu.set_faults(faults.clone());
        for t in [SyncType::Incremental, SyncType::Init] {
            let job = rig.sync("ipo1", t).await;
            assert_eq!(job.state, JobState::Failed, "{faults:?} {t}");
            let error = job.error.clone().unwrap_or_default();
            assert!(error.contains(cause), "{faults:?} {t}: {error}");
            assert_eq!(
                stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
                before,
                "{faults:?} {t}"
            );
            let e = rig.store.element("ipo1").await.unwrap().unwrap();
            assert_eq!(e.sync.sync_point, point, "{faults:?} {t}");
        }
    }
    emu.set_faults(Faults::default());
    let job = rig.sync("ipo1", SyncType::Incremental).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    assert_eq!(job.counts.changed, 1);
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        on_ipo(&emu.data())
    );
}

#[tokio::test]
async fn a_wrong_password_fails_the_init_and_says_what_to_check() {
    let emu = start(settings(5)).await;
    let rig = Rig::new(2).await;
    let job = rig.add_ipo("ipo1", &emu, "wrong").await;
    assert_eq!(job.state, JobState::Failed);
    let error = job.error.unwrap_or_default();
    assert!(
        error.contains("401 Unauthorized")
            && error.contains("check the element's login and password"),
        "{error}"
    );
    assert!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn after_a_software_upgrade_an_incremental_is_refused_until_an_init() {
    let emu = start(settings(10)).await;
    let rig = Rig::new(2).await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    emu.set_software_version("12.0.0.0 build 1");
    let job = rig.sync("ipo1", SyncType::Incremental).await;
    assert_eq!(job.state, JobState::Failed);
    let error = job.error.unwrap_or_default();
    assert!(
        error.contains("upgraded from 11.1.3.0 build 14 to 12.0.0.0 build 1"),
        "{error}"
    );
    let init = rig.sync("ipo1", SyncType::Init).await;
    assert_eq!(init.state, JobState::Succeeded, "{:?}", init.error);
    let e = rig.store.element("ipo1").await.unwrap().unwrap();
    assert_eq!(e.sync.version_at_init.as_deref(), Some("12.0.0.0 build 1"));
    assert_eq!(e.sync.sync_point, Some(emu.config_version()));
    let again = rig.sync("ipo1", SyncType::Incremental).await;
    assert_eq!(again.state, JobState::Succeeded, "{:?}", again.error);
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    Fields::new(
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
}

#[tokio::test]
async fn ip_office_objects_are_administered_through_ucsync() {
    let emu = start(settings(10)).await;
    let rig = Rig::new(2).await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    let name = ElementName::parse("ipo1").unwrap();
    let added = rig
        .runner
        .administer(
            &name,
            WriteOp::Add {
                id: ObjectId::new("user", "NewHire"),
                fields: fields(&[
                    ("extension", "2999"),
                    ("profile", "basic"),
                    ("full_name", "New Hire"),
                    ("voicemail_code", "4321"),
                ]),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added.fields.get("full_name"), Some("New Hire"));
    assert_eq!(
        emu.data().users["NewHire"].voicemail_code.as_deref(),
        Some("4321")
    );
    let group = emu.data().hunt_groups.keys().next().unwrap().clone();
    rig.runner
        .administer(
            &name,
            WriteOp::Change {
                id: ObjectId::new("hunt-group", &group),
                fields: fields(&[("members", "NewHire"), ("voicemail", "true")]),
            },
        )
        .await
        .unwrap();
    let code = emu.data().short_codes.keys().next().unwrap().clone();
    let gone = rig
        .runner
        .administer(
            &name,
            WriteOp::Remove {
                id: ObjectId::new("short-code", &code),
            },
        )
        .await
        .unwrap();
    assert!(gone.is_none());
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        on_ipo(&emu.data())
    );
    // What the IP Office refuses changes nothing.
    let before = stored(rig.store.as_ref(), &rig.secret, "ipo1").await;
    let e = rig
        .runner
        .administer(
            &name,
            WriteOp::Remove {
                id: ObjectId::new("user", "NewHire"),
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("member of hunt group"), "{e}");
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        before
    );
    // The next incremental reads the new version and finds it all in place.
    let job = rig.sync("ipo1", SyncType::Incremental).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let c = job.counts;
    assert_eq!((c.added, c.changed, c.deleted), (0, 0, 0), "{c:?}");
}

#[tokio::test]
async fn an_ip_office_preview_applies_unless_its_configuration_changed_since() {
    let emu = start(settings(40)).await;
    let rig = Rig::new(2).await;
    rig.add_ipo("ipo1", &emu, OWN.1).await;
    let user = emu.data().users.keys().next().unwrap().clone();
    let rename = |name: &'static str| {
        let emu = &emu;
        let user = user.clone();
        async move {
            let body = Some(json!({ "full_name": name }));
            admin(emu, Method::PATCH, &format!("users/{user}"), body).await
        }
    };
    assert_eq!(rename("Preview One").await, 200);
    let before = stored(rig.store.as_ref(), &rig.secret, "ipo1").await;
    let job = crate::plans::preview(&rig, "ipo1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.counts.would_change, job.counts.changed),
        (JobState::Succeeded, 1, 0),
        "{:?}",
        job.error
    );
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        before
    );
    // The configuration version moves on: the plan is stale.
    assert_eq!(rename("Preview Two").await, 200);
    let stale = rig.runner.apply_plan(job.id, "admin").await.unwrap_err();
    assert!(
        matches!(stale, ucsync_engine::RunnerError::Stale(_)),
        "{stale}"
    );
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        before
    );
    // A new preview applies, and the database holds what the IP Office does.
    let job = crate::plans::preview(&rig, "ipo1", SyncType::Incremental).await;
    rig.runner.apply_plan(job.id, "admin").await.unwrap();
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "ipo1").await,
        on_ipo(&emu.data())
    );
}
