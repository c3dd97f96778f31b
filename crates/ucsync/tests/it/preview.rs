//! A preview of a sync through the CLI: `sync … --dry-run` shows each
//! element's plan (per object type, with the first keys deleted) and
//! applies nothing; `job apply` applies exactly that plan, once.

use crate::e2e::{json_of, ok};
use crate::operator::Lab;

/// How many objects `cm1` has, as `element show` tells.
fn stations(lab: &Lab) -> u64 {
    let e = json_of(lab.cli(&["element", "show", "cm1", "--output", "json"]));
    e["objects"].as_u64().expect("a count of objects")
}

/// The job a plan's text names in `apply it: ucsync job apply N`.
fn planned_job(text: &str) -> String {
    let at = text.find("ucsync job apply ").expect("the apply hint") + 17;
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_force_init_preview_shows_what_it_deletes_and_its_plan_applies_once() {
    let lab = Lab::start();
    let before = stations(&lab);
    // Stations removed on the CM: a forced init would delete them.
    let sat = ucsync_testkit::emulators::sat(lab.emu.port, ("dadmin", "dadmin01")).await;
    let mut removed = Vec::new();
    for ext in (1001..=1100).rev() {
        if removed.len() < 3 && sat.command(&format!("remove station {ext}")).await.is_ok() {
            removed.push(ext.to_string());
        }
    }
    sat.close().await;
    assert_eq!(removed.len(), 3);
    removed.reverse();

    let shown = ok(lab.cli(&["sync", "force-init", "cm1", "--dry-run", "--wait"]));
    assert!(shown.contains("planned, nothing applied"), "{shown}");
    assert!(
        shown.contains("cm1: a plan (init) that would add 0, change 0, delete 3"),
        "{shown}"
    );
    let row = shown
        .lines()
        .find(|l| l.contains(" station "))
        .unwrap_or_else(|| panic!("a station row in {shown}"));
    assert!(row.contains(&removed.join(", ")), "{row}");
    assert_eq!(stations(&lab), before, "a preview applies nothing");

    let id = planned_job(&shown);
    let plan = json_of(lab.cli(&["job", "plan", &id, "--output", "json"]));
    assert_eq!(plan["types"]["station"]["delete"], 3, "{plan}");
    assert_eq!(
        plan["types"]["station"]["first_deleted"],
        serde_json::json!(removed)
    );
    let job = json_of(lab.cli(&["job", "show", &id, "--output", "json"]));
    assert_eq!(
        (
            &job["dry_run"],
            &job["state"],
            &job["counts"]["would_delete"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!("succeeded"),
            &serde_json::json!(3)
        )
    );

    let listed = ok(lab.cli(&["job", "list"]));
    assert!(listed.contains("force-init, dry run "), "{listed}");
    let applied = ok(lab.cli(&["job", "apply", &id]));
    assert!(applied.contains("plan applied by admin"), "{applied}");
    assert_eq!(stations(&lab), before - 3);
    let again = lab.cli(&["job", "apply", &id]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already applied"), "{err}");

    // Nothing is left to do: a preview of an incremental plans nothing.
    let nothing = ok(lab.cli(&["sync", "incremental", "cm1", "--dry-run", "--wait"]));
    assert!(nothing.contains("nothing to apply"), "{nothing}");
    // A forced init without a terminal to ask on still refuses.
    let refused = lab.cli(&["sync", "force-init", "cm1"]);
    assert!(!refused.status.success());
}
