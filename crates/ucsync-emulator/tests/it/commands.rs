//! The emulated CM's commands, run directly on its core (no SSH): what they
//! answer and what they log.

use std::time::Duration;

use chrono::{Timelike, Utc};
use ucsync_emulator::cm::{CmEmulator, CmSettings, SessionCtx};
use ucsync_ossi::wellknown::{history, station, time};
use ucsync_ossi::{ErrorKind, FieldId, Request, Response, ResponseDecoder, ServerEvent, Value};

pub(crate) use ucsync_testkit::emulators::cm as start;

fn ctx(login: &str) -> SessionCtx {
    SessionCtx::new(login.len() as u64, login, "SSH01")
}

async fn run(emu: &CmEmulator, login: &str, req: Request) -> Response {
    let text = emu.cm().execute(&ctx(login), &req).await;
    let mut d = ResponseDecoder::ready();
    d.feed(text.as_bytes());
    match d.next_event() {
        Some(Ok(ServerEvent::Response(r))) => r,
        other => panic!("{text}: {other:?}"),
    }
}

async fn cmd(emu: &CmEmulator, login: &str, text: &str) -> Response {
    run(emu, login, Request::command(text).unwrap()).await
}

fn kind(r: &Response) -> Option<ErrorKind> {
    r.failure().map(|e| e.kind())
}

fn fid(s: &str) -> FieldId {
    FieldId::parse(s).unwrap()
}

#[tokio::test]
async fn history_is_a_ring_with_cut_columns_and_reads_are_not_logged() {
    let emu = start(CmSettings {
        history_capacity: 5,
        ..CmSettings::default()
    })
    .await;
    for ext in 1001..1009 {
        let r = run(
            &emu,
            "craft",
            Request::write(
                &format!("change station {ext}"),
                &[(station::COR, Value::Set("2".into()))],
            )
            .unwrap(),
        )
        .await;
        assert_eq!(kind(&r), None);
        cmd(&emu, "craft", &format!("display station {ext}")).await;
    }
    run(
        &emu,
        "craft",
        Request::write(
            "change system-parameters customer-options and a very long qualifier here",
            &[],
        )
        .unwrap(),
    )
    .await;
    let h = cmd(&emu, "craft", "list history").await;
    assert_eq!(h.records.len(), 5, "the ring keeps its capacity");
    let newest = &h.records[0];
    assert_eq!(newest.get(history::ACTION), Some("chan"));
    assert_eq!(newest.get(history::OBJECT), Some("system-param"));
    assert_eq!(
        newest.get(history::QUALIFIER).map(|q| q.chars().count()),
        Some(31)
    );
    assert!(
        newest
            .get(history::QUALIFIER)
            .unwrap()
            .starts_with("customer-options")
    );
    assert_eq!(h.records[1].get(history::QUALIFIER), Some("1008"));
    assert_eq!(h.records[4].get(history::QUALIFIER), Some("1005"));
    assert!(
        h.records
            .iter()
            .all(|r| r.get(history::ACTION) != Some("disp"))
    );
}

#[tokio::test]
async fn the_cm_clock_is_its_own() {
    let emu = start(CmSettings {
        clock_offset_secs: -3 * 3600,
        ..CmSettings::default()
    })
    .await;
    let r = cmd(&emu, "craft", "display time").await;
    let hour: u32 = r.records[0].get(time::HOUR).unwrap().parse().unwrap();
    let expect = (Utc::now() - chrono::Duration::hours(3)).hour();
    assert!(
        hour == expect || (hour + 1) % 24 == expect,
        "{hour} vs {expect}"
    );
    run(
        &emu,
        "craft",
        Request::write(
            "change station 1001",
            &[(station::COR, Value::Set("3".into()))],
        )
        .unwrap(),
    )
    .await;
    let h = cmd(&emu, "craft", "list history").await;
    let logged: u32 = h.records[0].get(history::TIME).unwrap()[..2]
        .parse()
        .unwrap();
    assert_eq!(logged, hour);
}

#[tokio::test]
async fn add_change_clear_duplicate_remove() {
    let emu = start(CmSettings::default()).await;
    let add = Request::write(
        "add station next",
        &[
            (station::TYPE, Value::Set("9611SIP".into())),
            (station::NAME, Value::Set("New, Person".into())),
        ],
    )
    .unwrap();
    assert_eq!(kind(&run(&emu, "craft", add).await), None);
    let added = emu.cm().keys("station").last().unwrap().clone();
    assert_eq!(added, "1301");
    let again = Request::write("add station 1301", &[]).unwrap();
    assert_eq!(
        kind(&run(&emu, "craft", again).await),
        Some(ErrorKind::AlreadyAssigned)
    );
    let bad = Request::write(
        "change station 1301",
        &[(station::TYPE, Value::Set("toaster".into()))],
    )
    .unwrap();
    assert_eq!(
        kind(&run(&emu, "craft", bad).await),
        Some(ErrorKind::BadValue)
    );
    let too_long = Request::write(
        "change station 1301",
        &[(station::NAME, Value::Set("x".repeat(28)))],
    )
    .unwrap();
    assert_eq!(
        kind(&run(&emu, "craft", too_long).await),
        Some(ErrorKind::BadValue)
    );
    let clear = Request::write("change station 1301", &[(station::NAME, Value::Clear)]).unwrap();
    assert_eq!(kind(&run(&emu, "craft", clear).await), None);
    let shown = run(
        &emu,
        "craft",
        Request::select("display station 1301", &[station::NAME, station::PORT]).unwrap(),
    )
    .await;
    assert_eq!(shown.records[0].get(station::NAME), Some(""));

    let dup = cmd(&emu, "craft", "duplicate station 1002 start 5001 count 3").await;
    assert_eq!(kind(&dup), None);
    for k in ["5001", "5002", "5003"] {
        let r = run(
            &emu,
            "craft",
            Request::select(
                &format!("display station {k}"),
                &[station::PORT, station::TYPE],
            )
            .unwrap(),
        )
        .await;
        assert_eq!(
            r.records[0].get(station::PORT),
            Some("X"),
            "a duplicate has no port yet"
        );
    }
    assert_eq!(
        cmd(&emu, "craft", "list history").await.records[0].get(history::QUALIFIER),
        Some("1002 start 5001 count 3")
    );

    assert_eq!(kind(&cmd(&emu, "craft", "remove station 5003").await), None);
    assert_eq!(
        kind(&cmd(&emu, "craft", "display station 5003").await),
        Some(ErrorKind::NotAssigned)
    );
    assert_eq!(
        kind(&cmd(&emu, "craft", "remove station 5003").await),
        Some(ErrorKind::NotAssigned)
    );
}

#[tokio::test]
async fn an_object_in_use_cannot_be_removed() {
    let emu = start(CmSettings::default()).await;
    let member = emu
        .cm()
        .object("hunt-group", Some("1"))
        .unwrap()
        .into_iter()
        .find(|(f, v)| f.field() == 0x4f10 && !v.is_empty())
        .unwrap()
        .1;
    let r = cmd(&emu, "craft", &format!("remove station {member}")).await;
    assert_eq!(kind(&r), Some(ErrorKind::InUse));
    assert!(emu.cm().object("station", Some(&member)).is_some());
    let vdn = emu.cm().keys("vdn")[0].clone();
    let vector = emu
        .cm()
        .object("vdn", Some(&vdn))
        .unwrap()
        .into_iter()
        .find(|(f, _)| *f == fid("7502ff00"))
        .unwrap()
        .1;
    assert_eq!(
        kind(&cmd(&emu, "craft", &format!("remove vector {vector}")).await),
        Some(ErrorKind::InUse)
    );
}

#[tokio::test]
async fn list_options_and_empty_types() {
    let emu = start(CmSettings::default()).await;
    let r = cmd(&emu, "craft", "list station 1010 count 5").await;
    let keys: Vec<_> = r
        .records
        .iter()
        .map(|r| r.get(station::EXTENSION).unwrap().to_string())
        .collect();
    assert_eq!(keys, ["1010", "1011", "1012", "1013", "1014"]);
    let not_listed = run(
        &emu,
        "craft",
        Request::select("list station", &[station::SECURITY_CODE]).unwrap(),
    )
    .await;
    assert_eq!(kind(&not_listed), Some(ErrorKind::BadFieldId));
    let empty = start(CmSettings {
        profile: "empty".into(),
        ..CmSettings::default()
    })
    .await;
    for ty in ["station", "vdn", "vector", "hunt-group", "agent-loginID"] {
        let r = cmd(&empty, "craft", &format!("list {ty}")).await;
        assert!(r.is_no_records(), "{ty}");
        assert_eq!(r.errors[0].code, 0x29cf);
    }
    assert_eq!(
        cmd(&empty, "craft", "display system-parameters features")
            .await
            .records
            .len(),
        1
    );
}

#[tokio::test]
async fn tti_and_psa_logins_move_stations() {
    let emu = start(CmSettings::default()).await;
    let flag = emu
        .cm()
        .object("system-parameters-features", None)
        .unwrap()
        .into_iter()
        .find(|(f, _)| *f == fid("a7b1ff00"))
        .unwrap();
    assert_eq!(
        flag.1, "y",
        "the history logging of terminal moves is on by default"
    );
    let sep = Request::write(
        "change station 1001",
        &[(station::PORT, Value::Set("X".into()))],
    )
    .unwrap();
    assert_eq!(kind(&run(&emu, "tti-s", sep).await), None);
    let h = cmd(&emu, "craft", "list history").await;
    assert_eq!(h.records[0].get(history::LOGIN), Some("tti-s"));
    assert_eq!(h.records[0].get(history::QUALIFIER), Some("1001 X"));
    assert!(
        h.records[1]
            .get(history::QUALIFIER)
            .unwrap()
            .starts_with("1001 ")
    );
    assert_eq!(
        kind(&cmd(&emu, "tti-m", "list vdn").await),
        Some(ErrorKind::NotPermitted)
    );

    let off = Request::write(
        "change system-parameters features",
        &[(fid("a7b1ff00"), Value::Set("n".into()))],
    )
    .unwrap();
    assert_eq!(kind(&run(&emu, "craft", off).await), None);
    let before = emu.cm().history().len();
    let merge = Request::write(
        "change station 1001",
        &[(station::PORT, Value::Set("S09999".into()))],
    )
    .unwrap();
    assert_eq!(kind(&run(&emu, "psa-a", merge).await), None);
    assert_eq!(
        emu.cm().history().len(),
        before,
        "not logged when the features form says no"
    );
}

#[tokio::test]
async fn save_translation_then_upgrade_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("cm.json");
    let settings = CmSettings {
        state_file: Some(state.clone()),
        version: "R018x.00.0.822.0".into(),
        ..CmSettings::default()
    };
    let emu = start(settings.clone()).await;
    run(
        &emu,
        "craft",
        Request::write(
            "change station 1001",
            &[(station::NAME, Value::Set("Kept, Across".into()))],
        )
        .unwrap(),
    )
    .await;
    assert_eq!(kind(&cmd(&emu, "craft", "save translation").await), None);
    emu.shutdown().await.unwrap();

    let emu = start(CmSettings {
        version: "R020x.01.0.974.0".into(),
        seed: 99,
        ..settings
    })
    .await;
    let r = run(
        &emu,
        "craft",
        Request::select("display station 1001", &[station::NAME]).unwrap(),
    )
    .await;
    assert_eq!(r.records[0].get(station::NAME), Some("Kept, Across"));
    let opts = cmd(&emu, "craft", "display system-parameters customer-options").await;
    assert!(
        opts.records[0].values().any(|v| v == "R020x.01.0.974.0"),
        "the new version is reported"
    );
}

#[tokio::test]
async fn latency_is_per_command() {
    let emu = start(CmSettings {
        latency: Duration::from_millis(50),
        ..CmSettings::default()
    })
    .await;
    let t = std::time::Instant::now();
    cmd(&emu, "craft", "display station 1001").await;
    assert!(t.elapsed() >= Duration::from_millis(50));
}
