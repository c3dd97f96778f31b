//! A site's field catalogue, end to end: a CM whose station name is under
//! another field id than the built-in catalogue's, read right by a service
//! given a catalogue that says so (`cm_catalog`), and not by one without;
//! `ucsync catalog show` prints the catalogue in effect; a catalogue with a
//! mistake stops `ucsync serve` before it starts, naming the line.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use ucsync_ossi::{FieldId, Request};

use crate::cli::{BIN, emulator};
use crate::e2e::{add_cm, cli, json_of, ok};
use crate::service::Serve;

/// The station's name field as this CM has it.
const NAME: &str = "8a03ff00";

/// The emulator's built-in forms with the station's name (8003ff00) under
/// [`NAME`], in the station's form only (hunt groups, announcements and
/// VDNs keep 8003ff00).
fn forms_with_renamed_station_name(dir: &Path) -> std::path::PathBuf {
    let forms = include_str!("../../../ucsync-emulator/data/cm-forms.toml");
    let start = forms
        .find("object = \"station\"")
        .expect("the station form");
    let end = start
        + forms[start..]
            .find("\n[[form]]")
            .unwrap_or(forms.len() - start);
    let renamed = format!(
        "{}{}{}",
        &forms[..start],
        forms[start..end].replace("8003ff00", NAME),
        &forms[end..]
    );
    let path = dir.join("cm-forms.toml");
    std::fs::write(&path, renamed).unwrap();
    path
}

/// Station 1001 as search finds it on the service: its name, if any.
fn station_1001_name(serve: &Serve, data: &Path) -> Value {
    let hits = json_of(cli(serve, data, &["search", "1001", "--output", "json"]));
    let hit = hits["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == "station" && h["key"] == "1001")
        .unwrap_or_else(|| panic!("station 1001 in {hits}"))
        .clone();
    hit["name"].clone()
}

#[tokio::test]
async fn a_site_catalogue_reads_a_station_field_under_its_own_id() {
    let dir = tempfile::tempdir().unwrap();
    let forms = forms_with_renamed_station_name(dir.path());
    let emu = emulator(&["--forms", forms.to_str().unwrap(), "--stations", "5"]);
    // What the CM holds, over SAT.
    let sat = ucsync_testkit::emulators::sat(emu.port, ("dadmin", "dadmin01")).await;
    let name_id = FieldId::parse(NAME).unwrap();
    let shown = sat
        .run(&Request::select("display station 1001", &[name_id]).unwrap())
        .await
        .unwrap();
    let name = shown.records[0].get(name_id).expect("a name").to_string();
    sat.close().await;
    assert!(!name.is_empty());

    let site = dir.path().join("cm-catalog.toml");
    std::fs::write(
        &site,
        format!("# This site's CMs\n[[type]]\nobject = \"station\"\nname = \"{NAME}\"\n"),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(
        data.path(),
        &[("UCSYNC_CM_CATALOG", site.to_str().unwrap())],
    );
    ok(add_cm(&serve, data.path(), "cm1", emu.port));
    assert_eq!(
        station_1001_name(&serve, data.path()),
        Value::String(name.clone())
    );

    let shown = json_of(cli(
        &serve,
        data.path(),
        &["catalog", "show", "--output", "json"],
    ));
    assert_eq!(shown["cm"]["site_file"], site.to_str().unwrap());
    let station = shown["cm"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["object_type"] == "station")
        .unwrap()
        .clone();
    assert_eq!(
        (&station["name"], &station["site"]),
        (&Value::from(NAME), &serde_json::json!(["name"]))
    );
    let table = ok(cli(&serve, data.path(), &["catalog", "show"]));
    assert!(
        table.contains(&format!("with {} applied", site.display())),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains(" station "))
        .unwrap_or_else(|| panic!("a station row in:\n{table}"));
    for cell in ["8005ff00", "extension", &format!("{NAME} *"), "0016ff00"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }

    // Without the site's catalogue the name is under a field id the
    // built-in catalogue does not know: the station has none.
    let plain = tempfile::tempdir().unwrap();
    let serve = Serve::start(plain.path());
    ok(add_cm(&serve, plain.path(), "cm1", emu.port));
    assert_eq!(station_1001_name(&serve, plain.path()), Value::Null);
    let shown = json_of(cli(
        &serve,
        plain.path(),
        &["catalog", "show", "--output", "json"],
    ));
    assert_eq!(shown["cm"]["site_file"], Value::Null);
}

#[test]
fn a_catalogue_with_a_mistake_stops_serve_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("cm-catalog.toml");
    std::fs::write(
        &site,
        "[[type]]\nobject = \"station\"\nname = \"8003ff0\"\n",
    )
    .unwrap();
    let out = Serve::command(Command::new(BIN), &dir.path().join("data"))
        .arg("--cm-catalog")
        .arg(&site)
        .env_remove("UCSYNC_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:3: station name field `8003ff0`: not 8 hex digits",
            site.display()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was started");
}
