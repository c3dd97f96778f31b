//! Messaging elements (LDAP) through the engine, against the messaging
//! emulator: init, incremental, force-init, prerequisites, faults, LDAPS.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ldap3::{LdapConnAsync, Mod};
use ucsync_connect::ConnectError;
use ucsync_core::{ElementKind, ElementName, JobState, SyncType, Trigger};
use ucsync_emulator::messaging::{Faults, MessagingEmulator, MessagingSettings, Product};
use ucsync_store::{ElementSettings, NewElement, ObjectQuery};
use ucsync_testkit::emulators::{LDAP_PASSWORD as PW, admin_dn, own_dn};
use ucsync_testkit::pki::{LOOPBACK_NAMES, Leaf};
use ucsync_testkit::rig::Added;

use crate::sync::stored;
use crate::{Rig, cm_settings, emulator};

pub(crate) fn kind_of(p: Product) -> ElementKind {
    match p {
        Product::Aura => ElementKind::Messaging,
        Product::Cmm => ElementKind::CmMessaging,
        Product::Mm => ElementKind::ModularMessaging,
    }
}

async fn directory(
    product: Product,
    subscribers: usize,
    change: impl FnOnce(&mut MessagingSettings),
) -> MessagingEmulator {
    let suffix = product.layout().suffix;
    let mut s = MessagingSettings::new(product);
    s.subscribers = subscribers;
    s.logins = vec![(own_dn(suffix), PW.into()), (admin_dn(suffix), PW.into())];
    change(&mut s);
    ucsync_testkit::emulators::messaging(s).await
}

/// A directory administrator's connection.
pub(crate) async fn admin(url: &str, suffix: &str) -> ldap3::Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(&admin_dn(suffix), PW)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap
}

/// Adds a messaging element without syncing it.
pub(crate) async fn add_element(
    rig: &Rig,
    name: &str,
    kind: ElementKind,
    port: u16,
    login: String,
    settings: ElementSettings,
) -> ElementName {
    rig.add(Added {
        name,
        kind,
        port,
        login,
        password: PW.into(),
        settings,
    })
    .await
}

/// What the emulator holds, as the catalog maps it: key -> sorted fields.
fn on_directory(
    emu: &MessagingEmulator,
    link_cm: Option<&str>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mapping = ucsync_connect::messaging::catalog::Catalog::builtin();
    let layout = emu.layout();
    let product = mapping.by_kind(kind_of(emu.product())).unwrap().clone();
    emu.with_directory(|d| {
        d.subscribers
            .iter()
            .map(|(k, e)| {
                let mut fields: Vec<(String, String)> = e
                    .attrs
                    .iter()
                    .filter_map(|(a, v)| Some((product.field_of(a)?.to_string(), v.join("\n"))))
                    .collect();
                if let Some(cm) = link_cm
                    && let Some(ext) = e.get(&product.station)
                {
                    fields.push(("cm".into(), cm.into()));
                    fields.push(("station".into(), ext[0].clone()));
                }
                fields.sort();
                assert!(layout.attrs.contains(&"subscriberPassword"));
                (k.clone(), fields)
            })
            .collect()
    })
}

async fn subscribers(rig: &Rig, name: &str) -> BTreeMap<String, Vec<(String, String)>> {
    stored(rig.store.as_ref(), &rig.secret, name)
        .await
        .remove("subscriber")
        .unwrap_or_default()
}

#[tokio::test]
async fn a_cm_messaging_init_matches_the_directory_and_links_subscribers_to_their_stations() {
    let cm = emulator(cm_settings()).await;
    let rig = Rig::new(4).await;
    assert_eq!(rig.add_cm("cm1", &cm).await.state, JobState::Succeeded);
    let emu = directory(Product::Cmm, 300, |_| {}).await;
    let suffix = emu.layout().suffix;
    let settings = ElementSettings {
        cm: Some("cm1".into()),
        ..Default::default()
    };
    add_element(
        &rig,
        "cmm1",
        ElementKind::CmMessaging,
        emu.addr().port(),
        own_dn(suffix),
        settings,
    )
    .await;
    let job = rig.sync("cmm1", SyncType::Init).await;
    assert_eq!(
        (job.state, job.counts.added),
        (JobState::Succeeded, 300),
        "{:?}",
        job.error
    );
    // The total came from the sync point's key listing, before the read.
    assert_eq!(job.progress.get("subscriber"), Some(&(300, 300)));
    let got = subscribers(&rig, "cmm1").await;
    assert_eq!(got, on_directory(&emu, Some("cm1")));
    // The mailbox password is never read, so never stored.
    let passwords: BTreeMap<String, String> = emu.with_directory(|d| {
        d.subscribers
            .iter()
            .map(|(k, e)| (k.clone(), e.get("subscriberPassword").unwrap()[0].clone()))
            .collect()
    });
    for (k, fields) in &got {
        assert!(
            fields
                .iter()
                .all(|(f, v)| !f.contains("password") && *v != passwords[k]),
            "{k}: {fields:?}"
        );
    }
    // A subscriber given the extension of a station on cm1 is found with it.
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    let q = ObjectQuery {
        object_type: Some("station".into()),
        ..Default::default()
    };
    let station = rig.store.objects(e.id, &q).await.unwrap().remove(0);
    let ext = station.id.key.clone();
    let mut ldap = admin(&format!("ldap://{}", emu.addr()), suffix).await;
    let dn = format!("extension={ext},{}", emu.layout().base);
    let attrs = vec![
        ("objectClass", HashSet::from(["cmmSubscriber"])),
        ("extension", HashSet::from([ext.as_str()])),
        ("sn", HashSet::from(["Station"])),
        ("subscriberName", HashSet::from(["Station,Same"])),
    ];
    ldap.add(&dn, attrs).await.unwrap().success().unwrap();
    let inc = rig.sync("cmm1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.state, inc.counts.added),
        (SyncType::Incremental, JobState::Succeeded, 1)
    );
    let hits = rig.store.search(&ext, 0, 50).await.unwrap();
    let of = |element: &str| {
        hits.iter()
            .find(|h| h.element == element && h.object.id.key == ext)
    };
    assert_eq!(of("cm1").unwrap().object.id.object_type, "station");
    let sub = of("cmm1").unwrap();
    assert_eq!(sub.object.fields.get("cm"), Some("cm1"));
    assert_eq!(sub.object.fields.get("station"), Some(ext.as_str()));
    assert_eq!(sub.name.as_deref(), Some("Station,Same"));
}

#[tokio::test]
async fn incremental_applies_what_a_directory_administrator_added_changed_and_deleted() {
    // 600 mailboxes: past the size limit of a search without paging.
    let emu = directory(Product::Aura, 600, |_| {}).await;
    let (suffix, base) = (emu.layout().suffix, emu.layout().base);
    let rig = Rig::new(4).await;
    add_element(
        &rig,
        "msg1",
        ElementKind::Messaging,
        emu.addr().port(),
        own_dn(suffix),
        ElementSettings::default(),
    )
    .await;
    let init = rig.sync("msg1", SyncType::Init).await;
    assert_eq!(
        (init.state, init.counts.added),
        (JobState::Succeeded, 600),
        "{:?}",
        init.error
    );
    let mut ldap = admin(&format!("ldap://{}", emu.addr()), suffix).await;
    for k in ["9000001", "9000002"] {
        let attrs = vec![
            ("objectClass", HashSet::from(["amSubscriber"])),
            ("mailboxNumber", HashSet::from([k])),
            ("sn", HashSet::from(["New"])),
            ("cn", HashSet::from(["New Person"])),
        ];
        ldap.add(&format!("mailboxNumber={k},{base}"), attrs)
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    for k in ["2000010", "2000020", "2000599"] {
        let mods = vec![Mod::Replace("classOfService", HashSet::from(["9"]))];
        ldap.modify(&format!("mailboxNumber={k},{base}"), mods)
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    for k in ["2000000", "2000300"] {
        ldap.delete(&format!("mailboxNumber={k},{base}"))
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let inc = rig.sync("msg1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.state),
        (SyncType::Incremental, JobState::Succeeded),
        "{:?}",
        inc.error
    );
    assert_eq!(
        (inc.counts.added, inc.counts.changed, inc.counts.deleted),
        (2, 3, 2)
    );
    assert_eq!(subscribers(&rig, "msg1").await, on_directory(&emu, None));
    // Each change names who made it in the directory.
    let changes = rig.store.changes(inc.id).await.unwrap();
    let by: Vec<_> = changes
        .iter()
        .filter(|c| c.op.as_str() == "add")
        .map(|c| c.by_login.clone())
        .collect();
    assert_eq!(by, vec![Some(admin_dn(suffix)); 2]);
    // Nothing changed since: an incremental that changes nothing.
    let again = rig.sync("msg1", SyncType::Incremental).await;
    assert_eq!(
        (
            again.counts.added,
            again.counts.changed,
            again.counts.deleted
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn deletions_past_the_threshold_make_an_init_that_refuses_and_force_init_applies_them() {
    let emu = directory(Product::Mm, 100, |_| {}).await;
    let (suffix, base) = (emu.layout().suffix, emu.layout().base);
    let rig = Rig::new(4).await;
    add_element(
        &rig,
        "mm1",
        ElementKind::ModularMessaging,
        emu.addr().port(),
        own_dn(suffix),
        ElementSettings::default(),
    )
    .await;
    assert_eq!(
        rig.sync("mm1", SyncType::Init).await.state,
        JobState::Succeeded
    );
    let mut ldap = admin(&format!("ldap://{}", emu.addr()), suffix).await;
    for n in 0..30 {
        let k = ucsync_emulator::messaging::extension(n);
        ldap.delete(&format!("numericAddress={k},{base}"))
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let inc = rig.sync("mm1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.state),
        (SyncType::Init, JobState::Failed)
    );
    assert!(
        inc.reason
            .as_deref()
            .unwrap()
            .contains("30 of 100 subscriber objects are gone"),
        "{:?}",
        inc.reason
    );
    assert!(
        inc.error
            .as_deref()
            .unwrap()
            .contains("30 of 100 subscriber objects (30 %)"),
        "{:?}",
        inc.error
    );
    assert_eq!(subscribers(&rig, "mm1").await.len(), 100, "nothing changed");
    let force = rig.sync("mm1", SyncType::ForceInit).await;
    assert_eq!(
        (force.state, force.counts.deleted),
        (JobState::Succeeded, 30)
    );
    assert_eq!(subscribers(&rig, "mm1").await, on_directory(&emu, None));
}

#[tokio::test]
async fn a_directory_clock_set_back_makes_the_incremental_an_init_with_its_reason() {
    let emu = directory(Product::Cmm, 50, |_| {}).await;
    let (suffix, base) = (emu.layout().suffix, emu.layout().base);
    let rig = Rig::new(4).await;
    rig.add_element_only("cm1", 1).await;
    let settings = ElementSettings {
        cm: Some("cm1".into()),
        ..Default::default()
    };
    add_element(
        &rig,
        "cmm1",
        ElementKind::CmMessaging,
        emu.addr().port(),
        own_dn(suffix),
        settings,
    )
    .await;
    assert_eq!(
        rig.sync("cmm1", SyncType::Init).await.state,
        JobState::Succeeded
    );
    let mut ldap = admin(&format!("ldap://{}", emu.addr()), suffix).await;
    let dn = format!("extension=2000007,{base}");
    // The newest change, an hour ahead: the point of the next incremental.
    emu.set_clock_offset(3600);
    ldap.modify(&dn, vec![Mod::Replace("sn", HashSet::from(["Later"]))])
        .await
        .unwrap()
        .success()
        .unwrap();
    let inc = rig.sync("cmm1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.counts.changed),
        (SyncType::Incremental, 1)
    );
    // The clock is set back and the same subscriber changes again.
    emu.set_clock_offset(-3600);
    ldap.modify(&dn, vec![Mod::Replace("sn", HashSet::from(["Earlier"]))])
        .await
        .unwrap()
        .success()
        .unwrap();
    let back = rig.sync("cmm1", SyncType::Incremental).await;
    assert_eq!(
        (back.sync_type, back.state),
        (SyncType::Init, JobState::Succeeded),
        "{:?}",
        back.error
    );
    assert!(
        back.reason
            .as_deref()
            .unwrap()
            .contains("newest modifyTimestamp went backwards"),
        "{:?}",
        back.reason
    );
    assert_eq!(
        subscribers(&rig, "cmm1").await,
        on_directory(&emu, Some("cm1"))
    );
}

#[tokio::test]
async fn a_cm_messaging_element_is_not_synchronized_without_its_cm() {
    let emu = directory(Product::Cmm, 10, |_| {}).await;
    let rig = Rig::new(4).await;
    let settings = ElementSettings {
        cm: Some("cm9".into()),
        ..Default::default()
    };
    add_element(
        &rig,
        "cmm1",
        ElementKind::CmMessaging,
        emu.addr().port(),
        own_dn(emu.layout().suffix),
        settings,
    )
    .await;
    let job = rig.sync("cmm1", SyncType::Init).await;
    assert_eq!(job.state, JobState::Failed);
    assert!(
        job.error
            .as_deref()
            .unwrap()
            .contains("runs on cm 'cm9', which is not in the inventory: add the cm first"),
        "{:?}",
        job.error
    );
    assert!(subscribers(&rig, "cmm1").await.is_empty());
    // With its CM in the inventory it synchronizes.
    rig.add_element_only("cm9", 1).await;
    assert_eq!(
        rig.sync("cmm1", SyncType::Init).await.state,
        JobState::Succeeded
    );
    // A messaging system that is not in the inventory cannot be synchronized.
    let err = rig
        .runner
        .request(
            &ElementName::parse("msg9").unwrap(),
            SyncType::Init,
            Trigger::OnDemand,
            "test",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("msg9"), "{err}");
}

#[tokio::test]
async fn every_fault_fails_the_job_and_leaves_the_database_as_it_was() {
    let emu = directory(Product::Aura, 600, |_| {}).await;
    let suffix = emu.layout().suffix;
    // A short timeout, for the stall.
    let rig = Rig::with_factory(
        ucsync_engine::RunnerSettings {
            init_pool: 4,
            ..Default::default()
        },
        ucsync_testkit::factory_with(|o| o.timeout = Some(Duration::from_secs(3))),
    )
    .await;
    add_element(
        &rig,
        "msg1",
        ElementKind::Messaging,
        emu.addr().port(),
        own_dn(suffix),
        ElementSettings::default(),
    )
    .await;
    assert_eq!(
        rig.sync("msg1", SyncType::Init).await.state,
        JobState::Succeeded
    );
    let before = subscribers(&rig, "msg1").await;
    // A change on the directory that a faulty read must not half-apply.
    let mut ldap = admin(&format!("ldap://{}", emu.addr()), suffix).await;
    let dn = format!("mailboxNumber=2000450,{}", emu.layout().base);
    ldap.modify(&dn, vec![Mod::Replace("sn", HashSet::from(["Changed"]))])
        .await
        .unwrap()
        .success()
        .unwrap();
    let cases: Vec<(&str, Faults, &str)> = vec![
        (
            "cut",
            Faults {
                cut_after_entries: Some(250),
                ..Default::default()
            },
            "closed the connection",
        ),
        (
            "stall",
            Faults {
                stall_after_entries: Some(250),
                ..Default::default()
            },
            "stopped answering",
        ),
        (
            "garble",
            Faults {
                garble_every: Some(300),
                ..Default::default()
            },
            "reading subscribers",
        ),
        (
            "busy",
            Faults {
                refuse_binds: true,
                ..Default::default()
            },
            "refused the bind",
        ),
    ];
    for (what, faults, says) in cases {
        emu.set_faults(faults);
        for t in [SyncType::Init, SyncType::ForceInit] {
            let job = rig.sync("msg1", t).await;
            assert_eq!(job.state, JobState::Failed, "{what} {t}");
            let err = job.error.clone().unwrap_or_default();
            assert!(err.contains(says), "{what} {t}: {err}");
            assert_eq!(subscribers(&rig, "msg1").await, before, "{what} {t}");
        }
    }
    emu.set_faults(Faults::default());
    // A wrong password is refused with what to do.
    rig.store
        .update_element(
            "msg1",
            ucsync_store::ElementUpdate {
                password: Some("wrong".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let job = rig.sync("msg1", SyncType::Init).await;
    assert!(
        job.error
            .as_deref()
            .unwrap()
            .contains("invalid credentials"),
        "{:?}",
        job.error
    );
    rig.store
        .update_element(
            "msg1",
            ucsync_store::ElementUpdate {
                password: Some(PW.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Without faults the next sync takes the change.
    let ok = rig.sync("msg1", SyncType::Init).await;
    assert_eq!(
        (ok.state, ok.counts.changed),
        (JobState::Succeeded, 1),
        "{:?}",
        ok.error
    );
}

#[tokio::test]
async fn a_directory_that_does_not_answer_is_unreachable_and_the_alternate_host_is_tried() {
    let emu = directory(Product::Mm, 20, |_| {}).await;
    let rig = Rig::new(4).await;
    let name = ElementName::parse("mm1").unwrap();
    rig.store
        .add_element(NewElement {
            name: name.clone(),
            kind: ElementKind::ModularMessaging,
            // Nothing listens there: the emulator is on 127.0.0.1 only.
            host: "127.0.0.2".into(),
            alternate_host: Some("127.0.0.1".into()),
            port: emu.addr().port(),
            login: own_dn(emu.layout().suffix),
            password: PW.into(),
            settings: ElementSettings::default(),
        })
        .await
        .unwrap();
    let e = rig.store.element("mm1").await.unwrap().unwrap();
    let err = ucsync_testkit::factory()
        .open(e.clone(), PW.into())
        .await
        .err()
        .expect("nothing answers at 127.0.0.2");
    assert!(err.is_unreachable(), "{err}");
    let report = rig.runner.check(&e).await.unwrap();
    assert_eq!(report.host, "127.0.0.1");
    assert_eq!(report.version, "Modular Messaging 5.2.0.0");
    assert_eq!(rig.sync("mm1", SyncType::Init).await.counts.added, 20);
}

#[tokio::test]
async fn ldaps_trusts_a_ca_file_or_a_pinned_fingerprint_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Leaf::self_signed(LOOPBACK_NAMES);
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    cert.write(&cert_pem, &key_pem);
    let fingerprint = cert.fingerprint();
    let emu = directory(Product::Aura, 30, |s| {
        s.tls = Some((cert_pem.clone(), key_pem.clone()))
    })
    .await;
    let login = own_dn(emu.layout().suffix);
    let rig = Rig::new(4).await;
    let port = emu.addr().port();
    let tls = |ca: Option<&std::path::Path>, pin: Option<&str>| ElementSettings {
        tls: Some(true),
        ca_file: ca.map(|p| p.display().to_string()),
        host_key: pin.map(str::to_string),
        ..Default::default()
    };
    add_element(
        &rig,
        "by-ca",
        ElementKind::Messaging,
        port,
        login.clone(),
        tls(Some(&cert_pem), None),
    )
    .await;
    add_element(
        &rig,
        "by-pin",
        ElementKind::Messaging,
        port,
        login.clone(),
        tls(None, Some(&fingerprint)),
    )
    .await;
    let other = "SHA256:".to_string() + &"00:".repeat(31) + "00";
    add_element(
        &rig,
        "wrong-pin",
        ElementKind::Messaging,
        port,
        login.clone(),
        tls(None, Some(&other)),
    )
    .await;
    add_element(
        &rig,
        "untrusted",
        ElementKind::Messaging,
        port,
        login.clone(),
        tls(None, None),
    )
    .await;
    for ok in ["by-ca", "by-pin"] {
        let job = rig.sync(ok, SyncType::Init).await;
        assert_eq!(
            (job.state, job.counts.added),
            (JobState::Succeeded, 30),
            "{ok}: {:?}",
            job.error
        );
    }
    for bad in ["wrong-pin", "untrusted"] {
        let job = rig.sync(bad, SyncType::Init).await;
        assert_eq!(job.state, JobState::Failed, "{bad}");
        let err = job.error.unwrap();
        assert!(
            err.contains(&fingerprint),
            "{bad}: the message names what the server presented: {err}"
        );
        assert!(subscribers(&rig, bad).await.is_empty());
    }
    // Another certificate than the pinned one: the element is not the one
    // pinned, as a CM with another host key is not.
    let e = rig.store.element("wrong-pin").await.unwrap().unwrap();
    let refused = rig.runner.check(&e).await.unwrap_err();
    assert!(
        matches!(
            refused,
            ucsync_engine::RunnerError::Connect(ConnectError::IdentityMismatch(_))
        ),
        "{refused:?}"
    );
    // The pinned certificate is what a check reports.
    let e = rig.store.element("by-pin").await.unwrap().unwrap();
    assert_eq!(
        rig.runner.check(&e).await.unwrap().fingerprint,
        Some(fingerprint)
    );
    // Plain LDAP to the LDAPS port gets nowhere.
    add_element(
        &rig,
        "plain",
        ElementKind::Messaging,
        port,
        login,
        ElementSettings::default(),
    )
    .await;
    assert_eq!(
        rig.sync("plain", SyncType::Init).await.state,
        JobState::Failed
    );
}

#[tokio::test]
async fn administering_a_subscriber_through_ucsync_changes_the_directory_and_the_database() {
    use ucsync_connect::WriteOp;
    use ucsync_core::{Fields, ObjectId};
    let emu = directory(Product::Mm, 5, |_| {}).await;
    let rig = Rig::new(4).await;
    let name = add_element(
        &rig,
        "mm1",
        ElementKind::ModularMessaging,
        emu.addr().port(),
        own_dn(emu.layout().suffix),
        ElementSettings::default(),
    )
    .await;
    assert_eq!(
        rig.sync("mm1", SyncType::Init).await.state,
        JobState::Succeeded
    );
    let id = ObjectId::new("subscriber", "4242");
    let fields = Fields::new(vec![
        ("common-name".into(), "Through Ucsync".into()),
        ("pbx-extension".into(), "4242".into()),
    ]);
    rig.runner
        .administer(
            &name,
            WriteOp::Add {
                id: id.clone(),
                fields,
            },
        )
        .await
        .unwrap();
    let change = Fields::new(vec![("class-of-service".into(), "7".into())]);
    let after = rig
        .runner
        .administer(
            &name,
            WriteOp::Change {
                id: id.clone(),
                fields: change,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.fields.get("class-of-service"), Some("7"));
    assert_eq!(subscribers(&rig, "mm1").await, on_directory(&emu, None));
    assert_eq!(
        emu.with_directory(|d| d.subscribers["4242"].modifier.clone()),
        own_dn(emu.layout().suffix)
    );
    // Nothing to pull again but what ucsync itself did.
    let inc = rig.sync("mm1", SyncType::Incremental).await;
    assert_eq!(
        (inc.counts.added, inc.counts.changed, inc.counts.deleted),
        (0, 0, 0)
    );
    rig.runner
        .administer(&name, WriteOp::Remove { id })
        .await
        .unwrap();
    assert_eq!(subscribers(&rig, "mm1").await.len(), 5);
    assert_eq!(subscribers(&rig, "mm1").await, on_directory(&emu, None));
    // A field the mapping does not know is refused before anything is sent.
    let bad = Fields::new(vec![("password".into(), "1234".into())]);
    let err = rig
        .runner
        .administer(
            &name,
            WriteOp::Change {
                id: ObjectId::new("subscriber", "2000000"),
                fields: bad,
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("'password' is not a subscriber field"),
        "{err}"
    );
}

#[tokio::test]
async fn a_directory_preview_applies_unless_an_entry_changed_since() {
    let emu = directory(Product::Aura, 50, |_| {}).await;
    let (suffix, base) = (emu.layout().suffix, emu.layout().base);
    let rig = Rig::new(4).await;
    add_element(
        &rig,
        "msg1",
        ElementKind::Messaging,
        emu.addr().port(),
        own_dn(suffix),
        ElementSettings::default(),
    )
    .await;
    let init = rig.sync("msg1", SyncType::Init).await;
    assert_eq!(init.state, JobState::Succeeded, "{:?}", init.error);
    let mut ldap = admin(&format!("ldap://{}", emu.addr()), suffix).await;
    let modify = |k: &str, cos: &'static str| {
        (
            format!("mailboxNumber={k},{base}"),
            vec![Mod::Replace("classOfService", HashSet::from([cos]))],
        )
    };
    let (dn, mods) = modify("2000010", "7");
    ldap.modify(&dn, mods).await.unwrap().success().unwrap();
    ldap.delete(&format!("mailboxNumber=2000020,{base}"))
        .await
        .unwrap()
        .success()
        .unwrap();
    // Changed in the very second of the preview's point, and read again
    // when it is applied: as the plan leaves them, so the plan applies.
    let job = crate::plans::preview(&rig, "msg1", SyncType::Incremental).await;
    assert_eq!(
        (job.state, job.counts.would_change, job.counts.would_delete),
        (JobState::Succeeded, 1, 1),
        "{:?}",
        job.error
    );
    rig.runner.apply_plan(job.id, "admin").await.unwrap();
    assert_eq!(subscribers(&rig, "msg1").await, on_directory(&emu, None));

    // A preview, then an entry changed and one deleted: stale.
    let (dn, mods) = modify("2000011", "8");
    ldap.modify(&dn, mods).await.unwrap().success().unwrap();
    let job = crate::plans::preview(&rig, "msg1", SyncType::Incremental).await;
    let before = subscribers(&rig, "msg1").await;
    let (dn, mods) = modify("2000011", "9");
    ldap.modify(&dn, mods).await.unwrap().success().unwrap();
    let stale = rig.runner.apply_plan(job.id, "admin").await.unwrap_err();
    assert!(
        matches!(stale, ucsync_engine::RunnerError::Stale(_)),
        "{stale}"
    );
    let job = crate::plans::preview(&rig, "msg1", SyncType::Incremental).await;
    ldap.delete(&format!("mailboxNumber=2000030,{base}"))
        .await
        .unwrap()
        .success()
        .unwrap();
    let stale = rig.runner.apply_plan(job.id, "admin").await.unwrap_err();
    assert!(
        matches!(stale, ucsync_engine::RunnerError::Stale(_)),
        "{stale}"
    );
    assert_eq!(subscribers(&rig, "msg1").await, before, "nothing applied");
}
