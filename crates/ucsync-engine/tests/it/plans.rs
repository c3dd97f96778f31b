//! Previews: a dry run reads and diffs as the sync would and applies
//! nothing; its plan (or a refused init's proposal) is applied exactly, or
//! refused as stale when the element or the database changed since.

use ucsync_core::{ElementName, JobState, SyncType, Trigger};
use ucsync_engine::RunnerError;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::SatClient;
use ucsync_store::{Job, NewJob};

use crate::sync::{on_cm, outside, stored};
use crate::{Rig, cm_settings, emulator};

/// A dry run on demand, finished.
pub(crate) async fn preview(rig: &Rig, name: &str, t: SyncType) -> Job {
    let r = rig
        .runner
        .request_job(NewJob {
            element: ElementName::parse(name).unwrap(),
            requested: t,
            trigger: Trigger::OnDemand,
            requested_by: "test".into(),
            dry_run: true,
        })
        .await
        .unwrap();
    assert!(r.job.dry_run);
    rig.runner.wait(r.job.id).await.unwrap()
}

/// Removes `n` stations an outside login can remove, from 1300 down.
async fn remove_stations(craft: &SatClient, n: usize) {
    let mut removed = 0;
    for ext in (1001..=1300).rev() {
        if removed < n
            && craft
                .command(&format!("remove station {ext}"))
                .await
                .is_ok()
        {
            removed += 1;
        }
    }
    assert_eq!(removed, n);
}

async fn rename(craft: &SatClient, ext: u32, name: &str) {
    let r = Request::write(
        &format!("change station {ext}"),
        &[(station::NAME, Value::Set(name.into()))],
    )
    .unwrap();
    craft.run(&r).await.unwrap();
}

#[tokio::test]
async fn a_dry_run_applies_nothing_and_its_plan_applies_exactly() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;
    remove_stations(&craft, 90).await;
    rename(&craft, 1001, "Preview, Renamed").await;
    let before = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let e0 = rig.store.element("cm1").await.unwrap().unwrap();

    let job = preview(&rig, "cm1", SyncType::Init).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let c = job.counts;
    assert_eq!((c.added, c.changed, c.deleted), (0, 0, 0));
    assert_eq!((c.would_add, c.would_change, c.would_delete), (0, 1, 90));
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await,
        before,
        "a dry run applies nothing"
    );
    let e1 = rig.store.element("cm1").await.unwrap().unwrap();
    assert_eq!(e1.sync, e0.sync, "nor touches the element's sync state");
    let log = rig.store.job_log_lines(job.id).await.unwrap();
    assert!(
        log.iter()
            .any(|l| l.contains("would be refused by the discrepancy check")),
        "{log:?}"
    );
    let plan = rig.store.plan(job.id).await.unwrap().unwrap();
    let st = &plan.types["station"];
    assert_eq!((st.add, st.change, st.delete), (0, 1, 90));
    assert_eq!(st.first_deleted.len(), 10);
    let on = on_cm(&emu);
    let mut sorted = st.first_deleted.clone();
    sorted.sort_by_key(|k| (k.len(), k.clone()));
    assert_eq!(sorted, st.first_deleted, "in key order");
    assert!(
        st.first_deleted
            .iter()
            .all(|k| !on["station"].contains_key(k)),
        "{st:?}"
    );

    let applied = rig.runner.apply_plan(job.id, "admin").await.unwrap();
    assert_eq!(applied.applied_by.as_deref(), Some("admin"));
    assert_eq!(
        (applied.counts.changed, applied.counts.deleted),
        (1, 90),
        "{:?}",
        applied.counts
    );
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await,
        on_cm(&emu),
        "the database holds what the CM holds"
    );
    // Applied once; and the next incremental finds nothing left to do.
    let twice = rig.runner.apply_plan(job.id, "admin").await.unwrap_err();
    assert!(matches!(twice, RunnerError::PlanApplied { .. }), "{twice}");
    let inc = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.state),
        (SyncType::Incremental, JobState::Succeeded),
        "{:?}",
        inc.reason
    );
    assert_eq!(
        (inc.counts.added, inc.counts.changed, inc.counts.deleted),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_plan_is_stale_once_the_element_or_the_database_changed() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let craft = outside(&emu).await;

    // A refused init's proposal is a plan; a change on the CM since makes
    // it stale, and nothing is applied.
    remove_stations(&craft, 90).await;
    let refused = rig.sync("cm1", SyncType::Init).await;
    assert_eq!(refused.state, JobState::Failed);
    rename(&craft, 1001, "Changed, Since").await;
    let before = stored(rig.store.as_ref(), &rig.secret, "cm1").await;
    let stale = rig
        .runner
        .apply_plan(refused.id, "admin")
        .await
        .unwrap_err();
    assert!(matches!(stale, RunnerError::Stale(_)), "{stale}");
    assert!(
        stale
            .to_string()
            .starts_with("the plan is stale: run the preview again"),
        "{stale}"
    );
    assert_eq!(stored(rig.store.as_ref(), &rig.secret, "cm1").await, before);

    // Refused again, then applied at once: the proposal is what the CM holds.
    let refused = rig.sync("cm1", SyncType::Init).await;
    assert_eq!(refused.state, JobState::Failed);
    rig.runner.apply_plan(refused.id, "admin").await.unwrap();
    assert_eq!(
        stored(rig.store.as_ref(), &rig.secret, "cm1").await,
        on_cm(&emu)
    );
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    assert_eq!(e.sync.last_init_ok, Some(true), "recorded as the init");

    // An incremental's preview, then a sync that changes the database:
    // the preview is stale.
    rename(&craft, 1002, "Outside, Again").await;
    let inc = preview(&rig, "cm1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.state, inc.counts.would_change),
        (SyncType::Incremental, JobState::Succeeded, 1),
        "{:?}",
        inc.error
    );
    let planned = rig.store.changes(inc.id).await.unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].by_login.as_deref(), Some(crate::OUTSIDE.0));
    assert!(
        planned[0]
            .fields
            .iter()
            .any(|f| f.after.as_deref() == Some("Outside, Again")),
        "{planned:?}"
    );
    let real = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(real.counts.changed, 1);
    let stale = rig.runner.apply_plan(inc.id, "admin").await.unwrap_err();
    assert!(matches!(stale, RunnerError::Stale(_)), "{stale}");
    // A job that keeps no plan has none to apply.
    let none = rig.runner.apply_plan(real.id, "admin").await.unwrap_err();
    assert!(matches!(none, RunnerError::NoPlan(_)), "{none}");
}
