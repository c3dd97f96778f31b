//! The IP Office connector against the IP Office emulator: reading at a
//! version, the one-request check, writes, errors, and TLS.

use std::time::Duration;

use tokio::sync::mpsc;
use ucsync_connect::ipo::{IpoConfig, IpoConnector, Known, Trust};
use ucsync_connect::{ChangeItem, ConnectError, Connector, ReadEvent, WriteOp};
use ucsync_core::{Fields, Object, ObjectId, Password};
use ucsync_emulator::ipo::{Faults, IpoEmulator, IpoSettings, Sizes};

const RW: (&str, &str) = ("ucsync", "ucsync01");
const RO: (&str, &str) = ("auditor", "auditor01");

fn settings() -> IpoSettings {
    IpoSettings {
        logins: vec![(RW.0.into(), RW.1.into())],
        read_logins: vec![(RO.0.into(), RO.1.into())],
        sizes: Sizes {
            users: 30,
            extensions: 32,
            ..Sizes::default()
        },
        ..IpoSettings::default()
    }
}

use ucsync_testkit::emulators::ipo as start;
use ucsync_testkit::pki::{LOOPBACK_NAMES, Pki};

fn config(emu: &IpoEmulator, login: (&str, &str)) -> IpoConfig {
    IpoConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        login.0,
        Password::new(login.1),
    )
}

async fn read_all(conn: &IpoConnector) -> Vec<Object> {
    let (tx, mut rx) = mpsc::channel(64);
    let reading = conn.read_all(tx);
    let collecting = async {
        let mut out = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let ReadEvent::Object(o) = ev {
                out.push(o);
            }
        }
        out
    };
    let (r, out) = tokio::join!(reading, collecting);
    r.unwrap();
    out
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
async fn the_whole_configuration_is_read_at_one_version() {
    let emu = start(settings()).await;
    let conn = IpoConnector::connect(config(&emu, RO)).await.unwrap();
    assert_eq!(conn.version().await.unwrap(), "11.1.3.0 build 14");
    assert_eq!(conn.sync_point().await.unwrap(), emu.config_version());
    let objects = read_all(&conn).await;
    let counts = emu.counts();
    for (t, n) in &counts {
        assert_eq!(
            objects.iter().filter(|o| o.id.object_type == *t).count(),
            *n,
            "{t}"
        );
    }
    let d = emu.data();
    for u in d.users.values() {
        let o = objects
            .iter()
            .find(|o| o.id == ObjectId::new("user", &u.name))
            .unwrap();
        assert_eq!(o.fields.get("extension"), Some(u.extension.as_str()));
        assert_eq!(
            o.fields.get("voicemail_code"),
            Some(u.voicemail_code.as_deref().unwrap_or(""))
        );
        assert_eq!(conn.display_name(o), u.full_name.clone());
    }
    assert_eq!(conn.secret_fields("user"), ["voicemail_code"]);
    // Plain HTTP has no certificate.
    assert_eq!(conn.fingerprint(), None);
    // Connecting asked the system for its identity; the read was one request more.
    let paths: Vec<String> = emu.served().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, ["/config/v1/system", "/config/v1/configuration"]);
}

#[tokio::test]
async fn an_unchanged_version_is_one_conditional_request_and_a_changed_one_a_full_read() {
    let emu = start(settings()).await;
    let known = Known {
        config_version: emu.config_version(),
        software_version: "11.1.3.0 build 14".into(),
    };
    let mut cfg = config(&emu, RW);
    cfg.known = Some(known.clone());
    let conn = IpoConnector::connect(cfg.clone()).await.unwrap();
    assert_eq!(conn.version().await.unwrap(), known.software_version);
    let set = conn
        .changes_since(&known.config_version, &[])
        .await
        .unwrap();
    assert!(set.items.is_empty());
    assert_eq!(set.new_point, known.config_version);
    assert!(set.report.unwrap().contains("nothing to do"));
    let served = emu.served();
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!((served[0].status, served[0].body_bytes), (304, Some(0)));

    // Someone changes a user: the same check now reads the whole configuration once.
    let user = emu.data().users.keys().next().unwrap().clone();
    conn.write_one(&WriteOp::Change {
        id: ObjectId::new("user", &user),
        fields: fields(&[("full_name", "Changed Name")]),
    })
    .await
    .unwrap();
    emu.clear_served();
    let conn = IpoConnector::connect(cfg).await.unwrap();
    let set = conn
        .changes_since(&known.config_version, &[])
        .await
        .unwrap();
    assert_eq!(set.new_point, emu.config_version());
    let types: Vec<&str> = set
        .items
        .iter()
        .map(|i| match i {
            ChangeItem::Type { object_type, .. } => object_type.as_str(),
            ChangeItem::Object { .. } => panic!("an IP Office reads types, not objects"),
        })
        .collect();
    assert_eq!(
        types,
        [
            "user",
            "extension",
            "hunt-group",
            "short-code",
            "incoming-call-route"
        ]
    );
    let (tx, mut rx) = mpsc::channel(256);
    conn.read_type("user", tx).await.unwrap();
    let mut found = false;
    while let Some(ev) = rx.recv().await {
        if let ReadEvent::Object(o) = ev {
            found |= o.id.key == user && o.fields.get("full_name") == Some("Changed Name");
        }
    }
    assert!(found);
    assert_eq!(emu.served().len(), 1, "{:?}", emu.served());
}

#[tokio::test]
async fn writes_go_through_the_service_and_come_back_as_stored() {
    let emu = start(settings()).await;
    let conn = IpoConnector::connect(config(&emu, RW)).await.unwrap();
    let id = ObjectId::new("incoming-call-route", "1:5550199");
    let added = conn
        .write_one(&WriteOp::Add {
            id: id.clone(),
            fields: fields(&[("destination", "*17"), ("bearer_capability", "any-voice")]),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added.id, id);
    assert_eq!(conn.read_one(&id).await.unwrap(), Some(added));
    assert!(emu.data().incoming_call_routes.contains_key("1:5550199"));
    let code = ObjectId::new("short-code", "*14*N#");
    assert!(
        conn.read_one(&code).await.unwrap().is_some(),
        "# and * survive the path"
    );
    assert_eq!(
        conn.write_one(&WriteOp::Remove { id: code.clone() })
            .await
            .unwrap(),
        None
    );
    assert_eq!(conn.read_one(&code).await.unwrap(), None);
    // Refusals name their cause.
    let e = conn
        .write_one(&WriteOp::Add {
            id: ObjectId::new("user", "Dup"),
            fields: fields(&[("extension", "2000"), ("profile", "basic")]),
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("409 Conflict") && e.to_string().contains("extension 2000"),
        "{e}"
    );
    let e = conn
        .write_one(&WriteOp::Change {
            id: ObjectId::new("user", "Nobody"),
            fields: fields(&[("colour", "red")]),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectError::Refused(_)) && e.to_string().contains("no field 'colour'"),
        "{e}"
    );
    // A read-only service user may read but not write.
    let ro = IpoConnector::connect(config(&emu, RO)).await.unwrap();
    let e = ro
        .write_one(&WriteOp::Remove {
            id: ObjectId::new("extension", "8001"),
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("403 Forbidden") && e.to_string().contains("configuration-write"),
        "{e}"
    );
}

#[tokio::test]
async fn errors_name_their_cause() {
    let emu = start(settings()).await;
    let e = IpoConnector::connect(config(&emu, ("ucsync", "wrong")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("401 Unauthorized"), "{e}");
    assert!(matches!(e, ConnectError::LoginRefused(_)), "{e:?}");
    assert!(!e.is_unreachable());
    let cases: Vec<(Faults, &str)> = vec![
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
            "did not answer within 0.8 s",
        ),
        (
            Faults {
                cut_after_bytes: Some(10),
                ..Faults::default()
            },
            "was cut",
        ),
        (
            Faults {
                invalid_json: true,
                ..Faults::default()
            },
            "invalid JSON",
        ),
        (
            Faults {
                missing_field: Some("name".into()),
                ..Faults::default()
            },
            "missing field `name`",
        ),
    ];
    for (faults, cause) in cases {
        emu.set_faults(faults.clone());
        let mut cfg = config(&emu, RW);
        if faults.stall {
            // Only a stall waits for the timeout; the rest answer at once,
            // however long a loaded machine takes to.
            cfg.timeout = Duration::from_millis(800);
        }
        let conn = IpoConnector::connect(cfg).await.unwrap();
        let e = conn.sync_point().await.unwrap_err();
        assert!(e.to_string().contains(cause), "{faults:?}: {e}");
        assert_eq!(e.is_unreachable(), faults.stall, "{faults:?}");
    }
    // Nothing listening: unreachable, so an alternate host is tried.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&emu, RW);
    cfg.port = port;
    let e = IpoConnector::connect(cfg).await.unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

/// A CA, and a certificate for 127.0.0.1 that it signed, as PEM files.
fn pki() -> Pki {
    Pki::new(LOOPBACK_NAMES)
}

#[tokio::test]
async fn tls_is_verified_against_a_ca_file_or_a_pinned_fingerprint() {
    let certs = pki();
    let emu = start(IpoSettings {
        tls: Some((certs.cert.clone(), certs.key.clone())),
        ..settings()
    })
    .await;
    assert_eq!(
        emu.certificate_fingerprint(),
        Some(certs.fingerprint.clone())
    );
    let with = |trust: Trust| {
        let mut cfg = config(&emu, RO);
        cfg.tls = Some(trust);
        IpoConnector::connect(cfg)
    };
    // Against the CA that signed it.
    let conn = with(Trust::CaFile(certs.ca.clone())).await.unwrap();
    assert_eq!(conn.fingerprint(), Some(certs.fingerprint.clone()));
    assert_eq!(
        read_all(&conn).await.len(),
        emu.counts().values().sum::<usize>()
    );
    // Against its pinned fingerprint, in the spelling `check` reports.
    let pin = ucsync_connect::tls::parse_fingerprint(&certs.fingerprint).unwrap();
    let conn = with(Trust::Pinned(pin)).await.unwrap();
    assert_eq!(conn.version().await.unwrap(), "11.1.3.0 build 14");
    // Any other pin is refused, naming both fingerprints.
    let e = with(Trust::Pinned([7; 32])).await.unwrap_err();
    assert!(
        e.to_string().contains("is not the pinned") && e.to_string().contains(&certs.fingerprint),
        "{e}"
    );
    assert!(!e.is_unreachable());
    // As a CM with another host key is: the element is not the one pinned.
    assert!(matches!(e, ConnectError::IdentityMismatch(_)), "{e:?}");
    // Unknown to the system's trust store: refused (verification is never off).
    let e = with(Trust::System).await.unwrap_err();
    assert!(e.to_string().contains("TLS with the IP Office"), "{e}");
    assert!(matches!(e, ConnectError::Refused(_)), "{e:?}");
    // Another CA: refused.
    let other = pki();
    let e = with(Trust::CaFile(other.ca.clone())).await.unwrap_err();
    assert!(e.to_string().contains("TLS with the IP Office"), "{e}");
    // The settings: TLS off unless asked for; a CA file wins over a pin.
    assert_eq!(Trust::from_settings(None, None, Some("x")).unwrap(), None);
    assert_eq!(
        Trust::from_settings(Some(true), Some("/ca.pem"), Some(&certs.fingerprint)).unwrap(),
        Some(Trust::CaFile("/ca.pem".into()))
    );
    assert!(Trust::from_settings(Some(true), None, Some("SHA256:nope")).is_err());
}
