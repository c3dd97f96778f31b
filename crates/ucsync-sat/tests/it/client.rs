//! The OSSI client against the CM emulator.

use std::time::Duration;

use futures::StreamExt;
use ucsync_emulator::cm::{CmSettings, Faults};
use ucsync_ossi::wellknown::{history, station};
use ucsync_ossi::{ErrorKind, FieldId, Request, Value};
use ucsync_sat::{SatClient, SatError, SatSession};

use crate::{config, emulator, small};

fn fid(s: &str) -> FieldId {
    FieldId::parse(s).unwrap()
}

#[tokio::test]
async fn list_display_change_and_history() {
    let emu = emulator(small()).await;
    let client = SatClient::connect(config(&emu, "dadmin", "dadmin01"))
        .await
        .unwrap();
    assert!(
        emu.fingerprints()
            .contains(&client.fingerprint().to_string())
    );

    let list = client.command("list station").await.unwrap();
    assert_eq!(list.records.len(), 300);
    assert_eq!(list.records[0].fields(), &station::LIST);
    assert_eq!(list.records[0].get(station::EXTENSION), Some("1001"));

    let shown = client.command("display station 1001").await.unwrap();
    let rec = &shown.records[0];
    assert!(rec.len() >= 30, "display returns every field");
    for (fid, value) in emu.cm().object("station", Some("1001")).unwrap() {
        assert_eq!(rec.get(fid), Some(value.as_str()), "{fid}");
    }

    let change = Request::write(
        "cha stat 1001",
        &[
            (station::NAME, Value::Set("Carpenter, Adam".into())),
            (fid("0031ff00"), Value::Clear),
        ],
    )
    .unwrap();
    client.run(&change).await.unwrap();
    let after = client
        .run(&Request::select("display station 1001", &[station::NAME, fid("0031ff00")]).unwrap())
        .await
        .unwrap();
    assert_eq!(after.records[0].get(station::NAME), Some("Carpenter, Adam"));
    assert_eq!(after.records[0].get(fid("0031ff00")), Some(""));

    let hist = client.command("list history").await.unwrap();
    let newest = &hist.records[0];
    assert_eq!(newest.get(history::LOGIN), Some("dadmin"));
    assert_eq!(newest.get(history::ACTION), Some("cha"));
    assert_eq!(newest.get(history::OBJECT), Some("stat"));
    assert_eq!(newest.get(history::QUALIFIER), Some("1001"));
    // Reads are not logged: the row before the change is the login.
    assert_eq!(hist.records[1].get(history::ACTION), Some("logn"));
    client.close().await;
}

#[tokio::test]
async fn empty_type_is_zero_records_and_errors_are_typed() {
    let emu = emulator(CmSettings {
        profile: "empty".into(),
        ..small()
    })
    .await;
    let client = SatClient::connect(config(&emu, "dadmin", "dadmin01"))
        .await
        .unwrap();
    let r = client.command("list station").await.unwrap();
    assert!(r.records.is_empty() && r.is_no_records());

    let cases = [
        ("display station 1001", ErrorKind::NotAssigned),
        ("frobnicate station", ErrorKind::UnknownWord),
        ("d station 1", ErrorKind::AmbiguousWord),
    ];
    for (cmd, kind) in cases {
        match client.command(cmd).await {
            Err(SatError::Command { error, .. }) => assert_eq!(error.kind(), kind, "{cmd}"),
            other => panic!("{cmd}: {other:?}"),
        }
    }
    let bad_field =
        Request::select("display system-parameters features", &[fid("deadbeef")]).unwrap();
    let err = client.run(&bad_field).await.unwrap_err();
    assert_eq!(
        err.ossi_error().map(|e| (e.kind(), e.field)),
        Some((ErrorKind::BadFieldId, fid("deadbeef")))
    );

    client
        .run(
            &Request::write(
                "add station 2001",
                &[(station::TYPE, Value::Set("9611SIP".into()))],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let bad_value = Request::write(
        "change station 2001",
        &[(station::TYPE, Value::Set("toaster".into()))],
    )
    .unwrap();
    let err = client.run(&bad_value).await.unwrap_err();
    assert_eq!(
        err.ossi_error().map(|e| (e.kind(), e.field)),
        Some((ErrorKind::BadValue, station::TYPE))
    );
}

/// A burst of commands is spread over the client's sessions as it is
/// submitted, each session keeping many in flight, and every answer goes
/// back to the command that asked for it.
#[tokio::test]
async fn many_commands_in_flight_on_two_sessions() {
    let emu = emulator(CmSettings {
        latency: Duration::from_millis(5),
        ..small()
    })
    .await;
    let client = SatClient::connect(config(&emu, "dadmin", "dadmin01"))
        .await
        .unwrap();
    assert_eq!(client.open_sessions().await, 2);
    let keys = emu.cm().keys("station");
    let rename = |k: &str| {
        Request::write(
            &format!("change station {k}"),
            &[(station::NAME, Value::Set(format!("Burst, {k}")))],
        )
        .unwrap()
    };
    // Two commands submitted together go to the two sessions, whatever the
    // sessions' own tasks have done yet. The CM's history tells which SAT
    // port each change came in on.
    let (first, second) = (rename(&keys[0]), rename(&keys[1]));
    let (a, b) = tokio::join!(client.run(&first), client.run(&second));
    assert!(a.unwrap().failure().is_none() && b.unwrap().failure().is_none());
    let ports = |n: usize| -> std::collections::BTreeSet<String> {
        let history = emu.cm().history();
        let changes: Vec<_> = history.iter().filter(|h| h.object == "station").collect();
        assert_eq!(changes.len(), n);
        changes.iter().map(|h| h.port.clone()).collect()
    };
    assert_eq!(ports(2).len(), 2, "one command on each session");
    let results: Vec<_> = futures::stream::iter(keys.iter())
        .map(|k| {
            let client = &client;
            async move { client.command(&format!("display station {k}")).await }
        })
        .buffered(64)
        .collect()
        .await;
    for (k, r) in keys.iter().zip(results) {
        assert_eq!(
            r.unwrap().records[0].get(station::EXTENSION),
            Some(k.as_str())
        );
    }
    let renamed: Vec<_> = futures::stream::iter(keys[2..].iter())
        .map(|k| {
            let client = &client;
            let change = rename(k);
            async move { client.run(&change).await }
        })
        .buffered(64)
        .collect()
        .await;
    for r in renamed {
        assert!(r.unwrap().failure().is_none());
    }
    assert_eq!(ports(keys.len()).len(), 2, "both sessions took part");
}

#[tokio::test]
async fn wrong_password_and_pinned_host_key() {
    let emu = emulator(small()).await;
    let err = SatClient::connect(config(&emu, "dadmin", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, SatError::AuthFailed { .. }), "{err:?}");
    assert!(
        !format!("{err}").contains("wrong"),
        "the password is never in a message"
    );

    let mut cfg = config(&emu, "dadmin", "dadmin01");
    cfg.host_key = Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    match SatClient::connect(cfg.clone()).await.unwrap_err() {
        SatError::HostKeyMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, cfg.host_key.unwrap());
            assert!(emu.fingerprints().contains(&actual));
        }
        other => panic!("{other:?}"),
    }
    let mut cfg = config(&emu, "dadmin", "dadmin01");
    cfg.host_key = Some(emu.fingerprints()[0].clone());
    SatClient::connect(cfg).await.unwrap();
}

#[tokio::test]
async fn session_limit_then_fewer_sessions() {
    let emu = emulator(CmSettings {
        max_sessions: 1,
        ..small()
    })
    .await;
    let client = SatClient::connect(config(&emu, "dadmin", "dadmin01"))
        .await
        .unwrap();
    assert_eq!(client.open_sessions().await, 1);
    let err = SatSession::connect(&config(&emu, "craft", "craft01"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SatError::ResourcesUnavailable { .. }),
        "{err:?}"
    );
    // The client still works on the one session it has.
    assert_eq!(
        client
            .command("list station count 3")
            .await
            .unwrap()
            .records
            .len(),
        3
    );
    client.close().await;
    // After logoff the port is free again: the CM frees it before it closes
    // the channel, which is what the logoff waits for.
    SatSession::connect(&config(&emu, "craft", "craft01"))
        .await
        .unwrap();
}

#[tokio::test]
async fn data_locked_is_retried_until_free() {
    let emu = emulator(CmSettings {
        latency: Duration::from_millis(300),
        ..small()
    })
    .await;
    let a = SatSession::connect(&config(&emu, "craft", "craft01"))
        .await
        .unwrap();
    let b = SatClient::connect(config(&emu, "dadmin", "dadmin01"))
        .await
        .unwrap();
    let slow = Request::write(
        "change station 1002",
        &[(station::NAME, Value::Set("First, Writer".into()))],
    )
    .unwrap();
    let second = Request::write(
        "change station 1002",
        &[(station::NAME, Value::Set("Second, Writer".into()))],
    )
    .unwrap();
    // The second writer starts once the CM has the first one's change (and
    // its lock); whether it then finds the lock still held or already
    // released, the changes land in that order.
    let (ra, rb) = tokio::join!(a.run(&slow), async {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while emu.cm().command_count("change station", true) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the first change never reached the CM"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        b.run(&second).await
    });
    assert!(ra.unwrap().failure().is_none());
    rb.unwrap();
    assert_eq!(
        emu.cm()
            .object("station", Some("1002"))
            .unwrap()
            .iter()
            .find(|(f, _)| *f == station::NAME)
            .unwrap()
            .1,
        "Second, Writer"
    );
    // The locked attempt was not logged; both changes were.
    let logged = emu
        .cm()
        .history()
        .iter()
        .filter(|h| h.qualifier == "1002")
        .count();
    assert_eq!(logged, 2);
}

#[tokio::test]
async fn keep_alive_holds_an_idle_session() {
    let emu = emulator(small()).await;
    let mut cfg = config(&emu, "dadmin", "dadmin01");
    cfg.keepalive = Some(Duration::from_millis(50));
    let s = SatSession::connect(&cfg).await.unwrap();
    // Idle for several keep-alive periods.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!s.is_closed());
    let r = s
        .run(&Request::command("display time").unwrap())
        .await
        .unwrap();
    assert_eq!(r.records.len(), 1);
    s.logoff().await.unwrap();
}

/// Each fault of the CM becomes a typed error that says what happened, and
/// the session is not used again.
#[tokio::test]
async fn faults_become_typed_errors() {
    type Check = fn(&SatError) -> bool;
    // Only the stall waits for the command timeout; the other faults end
    // the command however long the CM takes to get to them.
    let cases: [(Faults, Check); 3] = [
        (
            Faults {
                cut_after_records: Some(5),
                ..Faults::default()
            },
            |e| matches!(e, SatError::ConnectionLost { .. }),
        ),
        (
            Faults {
                garble_every: Some(4),
                ..Faults::default()
            },
            |e| matches!(e, SatError::Protocol { .. }),
        ),
        (
            Faults {
                stall_after_records: Some(3),
                ..Faults::default()
            },
            |e| matches!(e, SatError::Timeout { .. }),
        ),
    ];
    for (faults, expected) in cases {
        let emu = emulator(CmSettings { faults, ..small() }).await;
        let mut cfg = config(&emu, "dadmin", "dadmin01");
        if faults.stall_after_records.is_some() {
            cfg.command_timeout = Duration::from_millis(300);
        }
        let s = SatSession::connect(&cfg).await.unwrap();
        let err = s
            .run(&Request::command("list station").unwrap())
            .await
            .unwrap_err();
        assert!(expected(&err), "{faults:?}: {err:?}");
        assert!(s.is_closed(), "{faults:?}");
    }
}

#[tokio::test]
async fn reads_survive_a_lost_session() {
    let faults = Faults {
        cut_after_records: Some(2),
        ..Faults::default()
    };
    let emu = emulator(CmSettings { faults, ..small() }).await;
    let client = SatClient::connect(config(&emu, "dadmin", "dadmin01"))
        .await
        .unwrap();
    // One-record answers never reach the cut; a long list always does.
    for _ in 0..3 {
        client.command("display station 1001").await.unwrap();
    }
    let err = client.command("list station").await.unwrap_err();
    assert!(matches!(err, SatError::ConnectionLost { .. }), "{err:?}");
    // New sessions replace the lost ones.
    client.command("display station 1001").await.unwrap();
}
