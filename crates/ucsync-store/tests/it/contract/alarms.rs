//! Alarms: one open alarm per element and condition, raised again by
//! counting, cleared once, acknowledged once; the webhook delivery log.

use ucsync_core::{AlarmCondition as C, Severity};
use ucsync_store::*;

use super::at;

pub(crate) async fn alarms_are_raised_once_per_condition_cleared_and_acked(s: &dyn Store) {
    let first = s
        .raise_alarm(
            "cm1",
            C::Unreachable,
            Severity::Critical,
            "no answer",
            at(0),
        )
        .await
        .unwrap();
    assert!(first.new);
    assert_eq!(first.alarm.count, 1);
    assert_eq!(first.alarm.first_seen, at(0));
    // The same condition again: the open alarm is counted, not doubled.
    let again = s
        .raise_alarm("cm1", C::Unreachable, Severity::Critical, "refused", at(5))
        .await
        .unwrap();
    assert!(!again.new);
    assert_eq!(again.alarm.id, first.alarm.id);
    assert_eq!(again.alarm.count, 2);
    assert_eq!(again.alarm.cause, "refused");
    assert_eq!(
        (again.alarm.first_seen, again.alarm.last_seen),
        (at(0), at(5))
    );
    // Another condition, another element: alarms of their own.
    let failed = s
        .raise_alarm("cm1", C::SyncFailed, Severity::Major, "failed", at(6))
        .await
        .unwrap();
    assert!(failed.new && failed.alarm.id != first.alarm.id);
    s.raise_alarm("cm2", C::Unreachable, Severity::Critical, "x", at(7))
        .await
        .unwrap();
    let counts = s.open_alarm_counts().await.unwrap();
    assert_eq!(counts.get("critical"), Some(&2));
    assert_eq!(counts.get("major"), Some(&1));

    // Filters and paging.
    let all = |q: AlarmQuery| async move { s.alarms(&q).await.unwrap() };
    let (items, total) = all(AlarmQuery {
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!((items.len(), total), (2, 3));
    assert_eq!(items[0].element, "cm2", "the last seen first");
    let (items, total) = all(AlarmQuery {
        element: Some("cm1".into()),
        severity: Some(Severity::Critical),
        ..Default::default()
    })
    .await;
    assert_eq!((items.len(), total), (1, 1));
    assert_eq!(items[0].condition, C::Unreachable);

    // Acknowledged once: the first acknowledgement stays.
    let acked = s
        .ack_alarm(first.alarm.id, "ops", at(8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("ops"));
    let twice = s
        .ack_alarm(first.alarm.id, "other", at(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (twice.acked_by.as_deref(), twice.acked_at),
        (Some("ops"), Some(at(8)))
    );
    assert!(s.ack_alarm(999_999, "ops", at(9)).await.unwrap().is_none());
    let (_, acked_total) = all(AlarmQuery {
        acked: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(acked_total, 1);

    // Cleared once: a second clear clears nothing, other conditions stay.
    let cleared = s
        .clear_alarms("cm1", &[C::Unreachable, C::LoginRefused], at(10))
        .await
        .unwrap();
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0].cleared_at, Some(at(10)));
    assert!(
        s.clear_alarms("cm1", &[C::Unreachable], at(11))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.clear_alarms("cm1", &[], at(11)).await.unwrap().is_empty());
    let (open, _) = all(AlarmQuery {
        open: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(open.len(), 2);
    // Raised after its clear: a new alarm.
    let next = s
        .raise_alarm("cm1", C::Unreachable, Severity::Critical, "again", at(12))
        .await
        .unwrap();
    assert!(next.new && next.alarm.id != first.alarm.id);
    assert_eq!(
        s.alarm(first.alarm.id).await.unwrap().unwrap().cleared_at,
        Some(at(10))
    );
}

pub(crate) async fn webhook_deliveries_are_logged_per_webhook(s: &dyn Store) {
    for (i, delivered) in [false, true].into_iter().enumerate() {
        s.record_delivery(&NewDelivery {
            webhook: "ops".into(),
            alarm_id: 7,
            event: "raised".into(),
            attempt: i as u32 + 1,
            at: at(i as i64),
            status: Some(if delivered { 200 } else { 503 }),
            error: (!delivered).then(|| "503 Service Unavailable".into()),
            delivered,
        })
        .await
        .unwrap();
    }
    let (items, total) = s.deliveries("ops", 0, 10).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(items[0].attempt, 2, "newest first");
    assert!(items[0].delivered && !items[1].delivered);
    assert_eq!(items[1].status, Some(503));
    let (page, _) = s.deliveries("ops", 1, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(s.deliveries("other", 0, 10).await.unwrap().1, 0);
}
