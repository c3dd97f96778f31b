//! The contract: plans a dry run (or a refused init) keeps, applied once,
//! exactly, and only while the element's objects are as the plan read them.

use ucsync_core::{ObjectId, SyncType};
use ucsync_store::*;

use super::*;

/// `cm1` with stations 1001 (A) and 1002 (B) from an init.
async fn synced(s: &dyn Store) -> Element {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let j = s
        .create_job(&new_job("cm1", SyncType::Init), SyncType::Init, None)
        .await
        .unwrap();
    s.stage(j.id, vec![staged("1001", "A"), staged("1002", "B")])
        .await
        .unwrap();
    let out = InitOutcome {
        version: "R1".into(),
        format: 1,
        sync_point: Some("point-1".into()),
    };
    s.commit_init(j.id, e.id, &[], &out).await.unwrap();
    s.element("cm1").await.unwrap().unwrap()
}

/// A finished dry run of `cm1`.
async fn dry_run(s: &dyn Store, t: SyncType) -> Job {
    let mut nj = new_job("cm1", t);
    nj.dry_run = true;
    let j = s.create_job(&nj, t, None).await.unwrap();
    s.set_job_state(j.id, JobState::Running, None)
        .await
        .unwrap();
    s.set_job_state(j.id, JobState::Succeeded, None)
        .await
        .unwrap();
    j
}

fn changed(mut st: Staged) -> Staged {
    st.op = PlanOp::Change;
    st
}

pub(crate) async fn a_plan_is_applied_once_exactly_as_kept(s: &dyn Store) {
    let e = synced(s).await;
    let before = e.sync.revision;
    let j = dry_run(s, SyncType::Init).await;
    assert!(s.job(j.id).await.unwrap().unwrap().dry_run);
    s.stage(
        j.id,
        vec![changed(staged("1001", "A2")), staged("1003", "C")],
    )
    .await
    .unwrap();
    s.keep_plan(
        j.id,
        e.id,
        &[ObjectId::new("station", "1002")],
        &plan_base(SyncType::Init, before),
    )
    .await
    .unwrap();
    // Kept, counted per type, nothing applied.
    let plan = s.plan(j.id).await.unwrap().expect("a plan");
    assert_eq!((plan.element, plan.base.revision), (e.id, before));
    assert_eq!(
        plan.types["station"],
        PlanTypeCounts {
            add: 1,
            change: 1,
            delete: 1,
            first_deleted: vec!["1002".into()]
        }
    );
    assert_eq!(s.object_count(e.id).await.unwrap(), 2);
    // Its changes, field by field against what is stored.
    let planned = s.changes(j.id).await.unwrap();
    let ops: Vec<(&str, &str, bool)> = planned
        .iter()
        .map(|c| (c.key.as_str(), c.op.as_str(), c.applied))
        .collect();
    assert_eq!(
        ops,
        [
            ("1001", "change", false),
            ("1002", "delete", false),
            ("1003", "add", false)
        ]
    );
    let field = |before: Option<&str>, after: &str| FieldChange {
        field: "8003ff00".into(),
        before: before.map(str::to_string),
        after: Some(after.into()),
    };
    assert_eq!(planned[0].fields, [field(Some("A"), "A2")]);
    assert!(planned[1].fields.is_empty());
    assert_eq!(planned[2].fields, [field(None, "C")]);

    assert!(
        s.last_finished_jobs(Some("cm1"))
            .await
            .unwrap()
            .iter()
            .all(|l| l.id != j.id),
        "a preview is not what the element's status reads"
    );
    match s.apply_plan(j.id, "admin").await.unwrap() {
        PlanApplied::Applied(c) => {
            assert_eq!((c.added, c.changed, c.deleted), (1, 1, 1));
            assert_eq!((c.would_add, c.would_change, c.would_delete), (0, 0, 0));
        }
        other => panic!("not applied: {other:?}"),
    }
    let keys: Vec<String> = s
        .objects(e.id, &ObjectQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|o| format!("{}={}", o.id.key, o.fields.get("8003ff00").unwrap()))
        .collect();
    assert_eq!(keys, ["1001=A2", "1003=C"]);
    let after = s.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(
        (
            after.version_at_init.as_deref(),
            after.format_at_init,
            after.sync_point.as_deref(),
            after.last_init_ok
        ),
        (Some("R2"), Some(2), Some("point-2"), Some(true)),
        "an init's plan is recorded as the element's init"
    );
    assert!(after.revision > before);
    let job = s.job(j.id).await.unwrap().unwrap();
    assert_eq!(job.applied_by.as_deref(), Some("admin"));
    assert!(job.applied_at.is_some());
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(
        (job.counts.added, job.counts.changed, job.counts.deleted),
        (1, 1, 1)
    );
    let applied = s.changes(j.id).await.unwrap();
    assert_eq!(applied.len(), 3);
    assert!(applied.iter().all(|c| c.applied));
    assert!(s.plan(j.id).await.unwrap().is_none());
    assert_eq!(
        s.last_finished_jobs(Some("cm1")).await.unwrap()[0].id,
        j.id,
        "applied, it is"
    );
    // Twice: refused, saying when and by whom.
    match s.apply_plan(j.id, "other").await.unwrap() {
        PlanApplied::AlreadyApplied(_, by) => assert_eq!(by, "admin"),
        other => panic!("applied twice: {other:?}"),
    }
    // A job without a plan has nothing to apply.
    let plain = s
        .create_job(&new_job("cm1", SyncType::Init), SyncType::Init, None)
        .await
        .unwrap();
    assert_eq!(
        s.apply_plan(plain.id, "admin").await.unwrap(),
        PlanApplied::NoPlan
    );
}

pub(crate) async fn a_plan_is_stale_once_the_element_changed_in_the_database(s: &dyn Store) {
    let e = synced(s).await;
    let j = dry_run(s, SyncType::Incremental).await;
    s.stage(j.id, vec![changed(staged("1001", "A2"))])
        .await
        .unwrap();
    s.keep_plan(
        j.id,
        e.id,
        &[],
        &plan_base(SyncType::Incremental, e.sync.revision),
    )
    .await
    .unwrap();
    // Notify sync applies a change to the element meanwhile.
    let o = staged("1002", "B2");
    let change = Change {
        id: o.id,
        upsert: Some((o.fields, o.hash, o.name)),
        by_login: Some("admin1".into()),
        at_element: None,
    };
    let at = revision(s, &e).await;
    s.apply_notify(e.id, vec![change], &["row-1".into()], at)
        .await
        .unwrap()
        .expect("nothing written in between");
    assert_eq!(
        s.apply_plan(j.id, "admin").await.unwrap(),
        PlanApplied::Stale
    );
    let a = s
        .objects(e.id, &ObjectQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.id.key == "1001")
        .unwrap();
    assert_eq!(a.fields.get("8003ff00"), Some("A"), "nothing applied");
    assert!(s.plan(j.id).await.unwrap().is_some(), "the plan stays");
    assert!(s.job(j.id).await.unwrap().unwrap().applied_at.is_none());
    // Any write to the element's objects moves the revision on: an
    // incremental's, an init's, a forgotten sync point.
    let mut r = s.element("cm1").await.unwrap().unwrap().sync.revision;
    s.apply_changes(None, e.id, vec![], Some("p9"))
        .await
        .unwrap();
    let next = s.element("cm1").await.unwrap().unwrap().sync.revision;
    assert!(next > r);
    r = next;
    s.forget_sync_point(e.id).await.unwrap();
    assert!(s.element("cm1").await.unwrap().unwrap().sync.revision > r);
}

pub(crate) async fn an_incremental_plan_applies_its_logins_and_point(s: &dyn Store) {
    let e = synced(s).await;
    let j = dry_run(s, SyncType::Incremental).await;
    let mut st = changed(staged("1001", "A2"));
    st.by_login = Some("admin1".into());
    st.at_element = Some("2025-03-01 10:00".into());
    let mut gone = staged("1002", "B");
    gone.op = PlanOp::Delete;
    s.stage(j.id, vec![st, gone]).await.unwrap();
    let mut base = plan_base(SyncType::Incremental, e.sync.revision);
    base.sync_point = "point-3".into();
    s.keep_plan(j.id, e.id, &[], &base).await.unwrap();
    let planned = s.changes(j.id).await.unwrap();
    assert_eq!(planned[0].by_login.as_deref(), Some("admin1"));
    assert!(matches!(
        s.apply_plan(j.id, "admin").await.unwrap(),
        PlanApplied::Applied(c) if (c.changed, c.deleted) == (1, 1)
    ));
    let st = s.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(st.sync_point.as_deref(), Some("point-3"));
    assert_eq!(
        st.version_at_init.as_deref(),
        Some("R1"),
        "an incremental's plan records no init"
    );
    assert_eq!(s.object_count(e.id).await.unwrap(), 1);
    let log = s.changes(j.id).await.unwrap();
    assert_eq!(
        (
            log[0].key.as_str(),
            log[0].by_login.as_deref(),
            log[0].applied
        ),
        ("1001", Some("admin1"), true)
    );
}

pub(crate) async fn previews_join_only_previews(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let mut preview = new_job("cm1", SyncType::Init);
    preview.dry_run = true;
    let p = s.request_job(&preview).await.unwrap();
    assert!(!p.joined && p.job.dry_run);
    let real = s
        .request_job(&new_job("cm1", SyncType::Incremental))
        .await
        .unwrap();
    assert!(!real.joined, "a sync does not join a preview");
    assert!(!real.job.dry_run);
    let again = s.request_job(&preview).await.unwrap();
    assert!(again.joined && again.job.id == p.job.id);
    let mut weaker = preview.clone();
    weaker.requested = SyncType::Incremental;
    let w = s.request_job(&weaker).await.unwrap();
    assert_eq!(w.job.id, p.job.id, "a weaker preview joins a stronger one");
    let r2 = s
        .request_job(&new_job("cm1", SyncType::Incremental))
        .await
        .unwrap();
    assert_eq!(r2.job.id, real.job.id, "a sync joins the sync");
}
