//! The contract: schedules and API tokens.

use ucsync_core::{ElementName, JobState, Role, SyncType};
use ucsync_schedule::{Every, Repeat, ScheduleSpec, Target, Unit};
use ucsync_store::*;

use super::*;

fn schedule_spec(every: &str) -> ScheduleSpec {
    let (n, unit) = every.split_at(every.len() - 1);
    ScheduleSpec {
        target: Target::All,
        sync_type: SyncType::Incremental,
        first_run: at(0),
        repeat: Repeat::Every(Every {
            n: n.parse().unwrap(),
            unit: if unit == "d" { Unit::Days } else { Unit::Hours },
        }),
        end: None,
        time_zone: None,
        enabled: true,
    }
}

/// A time written as the store shows times.
fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn new_schedule(name: &str, default_for: Option<&str>) -> NewSchedule {
    NewSchedule {
        name: name.into(),
        default_for: default_for.map(|e| ElementName::parse(e).unwrap()),
        spec: schedule_spec("1d"),
        next_due: Some(time("2030-01-01T02:00:00.000Z")),
    }
}

pub(crate) async fn removing_an_element_stops_its_queued_jobs_and_drops_its_default_schedule(
    s: &dyn Store,
) {
    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    request(s, "cm1", SyncType::Incremental).await;
    claim(s, "n1").await.unwrap();
    let queued = request(s, "cm1", SyncType::Init).await.job;
    let other = request(s, "cm2", SyncType::Init).await.job;
    s.add_schedule(&new_schedule("cm1 daily", Some("cm1")))
        .await
        .unwrap();
    let keep = [
        s.add_schedule(&new_schedule("cm2 daily", Some("cm2")))
            .await
            .unwrap(),
        s.add_schedule(&new_schedule("all weekly", None))
            .await
            .unwrap(),
    ];

    assert!(s.remove_element("cm1").await.unwrap());
    let q = s.job(queued.id).await.unwrap().unwrap();
    assert_eq!(
        (q.state, q.error.as_deref()),
        (JobState::Stopped, Some("element removed"))
    );
    assert!(q.finished_at.is_some());
    assert_eq!(state(s, other.id).await, JobState::Queued);
    assert_eq!(s.schedules().await.unwrap(), keep);

    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_schedule(&new_schedule("cm1 daily", Some("cm1")))
        .await
        .unwrap();
}

pub(crate) async fn tokens_are_found_by_hash_and_deleted(s: &dyn Store) {
    assert!(s.tokens().await.unwrap().is_empty());
    let t1 = s.create_token("ops", Role::Admin, &[1; 32]).await.unwrap();
    let t2 = s
        .create_token("grafana", Role::ReadOnly, &[2; 32])
        .await
        .unwrap();
    assert_eq!(
        (t1.name.as_str(), t1.role, t1.last_used_at),
        ("ops", Role::Admin, None)
    );
    assert_eq!((t2.name.as_str(), t2.role), ("grafana", Role::ReadOnly));
    assert_ne!(t1.id, t2.id);
    assert!(t1.created_at.timestamp() > 0);
    assert_eq!(s.tokens().await.unwrap(), [t1.clone(), t2.clone()]);
    assert!(
        s.create_token("again", Role::Admin, &[1; 32])
            .await
            .is_err(),
        "secret hashes are unique"
    );

    let found = s.token_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!((found.id, found.role), (t2.id, Role::ReadOnly));
    assert!(found.last_used_at.is_some(), "its use is recorded");
    assert_eq!(s.tokens().await.unwrap()[1], found);
    // Every API request looks its token up: within a minute of the recorded
    // use, a lookup writes nothing.
    let again = s.token_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(again, found, "recorded at most once a minute");
    assert_eq!(s.tokens().await.unwrap()[1], found);
    assert!(s.token_by_hash(&[3; 32]).await.unwrap().is_none());
    // The last admin token stays: without one nobody could administer.
    assert_eq!(
        s.delete_token(t1.id).await.unwrap(),
        TokenRemoval::LastAdmin
    );
    let t3 = s.create_token("ops2", Role::Admin, &[3; 32]).await.unwrap();
    assert_eq!(s.delete_token(t1.id).await.unwrap(), TokenRemoval::Removed);
    assert_eq!(s.delete_token(t1.id).await.unwrap(), TokenRemoval::NoToken);
    assert!(s.token_by_hash(&[1; 32]).await.unwrap().is_none());
    assert_eq!(s.tokens().await.unwrap(), [found.clone(), t3.clone()]);
    assert_eq!(
        s.delete_token(t3.id).await.unwrap(),
        TokenRemoval::LastAdmin
    );
    assert_eq!(s.delete_token(t2.id).await.unwrap(), TokenRemoval::Removed);
    assert_eq!(s.tokens().await.unwrap(), [t3]);
}

pub(crate) async fn schedules_crud_defaults_and_fired_compare_and_set(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let due1 = time("2030-01-01T02:00:00.000Z");
    let due2 = time("2030-01-02T02:00:00.000Z");
    let plain = s
        .add_schedule(&new_schedule("nightly", None))
        .await
        .unwrap();
    assert_eq!(
        (
            plain.name.as_str(),
            plain.default_for.as_deref(),
            plain.next_due,
            plain.last_fired
        ),
        ("nightly", None, Some(due1), None)
    );
    assert_eq!(plain.spec, schedule_spec("1d"));
    assert!(plain.created_at.timestamp() > 0);
    let default = s
        .add_schedule(&new_schedule("cm1 default", Some("cm1")))
        .await
        .unwrap();
    assert_eq!(default.default_for.as_deref(), Some("cm1"));
    assert!(matches!(
        s.add_schedule(&new_schedule("another", Some("cm1"))).await,
        Err(StoreError::DefaultExists(e)) if e == "cm1"
    ));
    assert_eq!(
        s.schedules().await.unwrap(),
        [plain.clone(), default.clone()]
    );
    assert_eq!(s.schedule(plain.id).await.unwrap().unwrap(), plain);

    // Of two nodes that saw the same due time, one wins.
    let id = plain.id;
    assert!(
        s.schedule_fired(id, Some(due1), Some(due1), Some(due2))
            .await
            .unwrap()
    );
    assert!(
        !s.schedule_fired(id, Some(due1), Some(due1), Some(due2))
            .await
            .unwrap()
    );
    let got = s.schedule(id).await.unwrap().unwrap();
    assert_eq!((got.last_fired, got.next_due), (Some(due1), Some(due2)));
    // Comparing with "no next due time" works too.
    assert!(!s.schedule_fired(id, None, Some(due2), None).await.unwrap());
    assert!(
        s.schedule_fired(id, Some(due2), Some(due2), None)
            .await
            .unwrap()
    );
    assert!(
        s.schedule_fired(id, None, Some(due2), Some(due1))
            .await
            .unwrap()
    );
    assert!(
        !s.schedule_fired(id, None, Some(due2), Some(due1))
            .await
            .unwrap()
    );

    let spec = schedule_spec("2h");
    let updated = s
        .update_schedule(id, "twice-hourly", &spec, Some(due2))
        .await
        .unwrap();
    assert_eq!(
        (
            updated.id,
            updated.name.as_str(),
            &updated.spec,
            updated.next_due,
            updated.last_fired,
            &updated.created_at
        ),
        (
            id,
            "twice-hourly",
            &spec,
            Some(due2),
            Some(due2),
            &plain.created_at
        )
    );
    assert_eq!(s.schedule(id).await.unwrap().unwrap(), updated);
    assert!(matches!(
        s.update_schedule(id + 1000, "x", &spec, None).await,
        Err(StoreError::NoSchedule(_))
    ));

    assert!(s.delete_schedule(id).await.unwrap());
    assert!(!s.delete_schedule(id).await.unwrap());
    assert!(s.schedule(id).await.unwrap().is_none());
    assert!(!s.schedule_fired(id, Some(due2), None, None).await.unwrap());
    assert!(s.delete_schedule(default.id).await.unwrap());
    s.add_schedule(&new_schedule("cm1 default", Some("cm1")))
        .await
        .unwrap();
}
