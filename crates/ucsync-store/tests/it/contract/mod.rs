//! The contract of [`Store`]: what every backend must do, written once
//! against `&dyn Store`. A backend's module runs it with
//! `contract_tests!(fresh)`, where `fresh` is an async fn returning a new,
//! empty [`TestStore`] (which also keeps the store's temporary directory or
//! database alive), or `None` when the backend's service is not there and
//! the test is skipped (having said so).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ucsync_core::{
    ContentHash, ElementKind, ElementName, Fields, JobState, Object, ObjectId, PlanOp, SyncType,
    Trigger,
};
use ucsync_store::*;

mod alarms;
mod elements;
mod jobs;
mod nodes;
mod objects;
mod plans;
mod retention;
mod schedules;
mod search;
mod users;

pub(crate) use alarms::*;
pub(crate) use elements::*;
pub(crate) use jobs::*;
pub(crate) use nodes::*;
pub(crate) use objects::*;
pub(crate) use plans::*;
pub(crate) use retention::*;
pub(crate) use schedules::*;
pub(crate) use search::*;
pub(crate) use users::*;

/// A fresh store and whatever must live as long as it does.
pub(crate) struct TestStore {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

impl TestStore {
    pub(crate) fn new(store: Arc<dyn Store>, guard: impl std::any::Any + Send + Sync) -> TestStore {
        TestStore {
            store,
            _guard: Box::new(guard),
        }
    }
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

/// One `#[tokio::test]` per contract test, each on a store from `$fresh`.
macro_rules! contract_tests {
    ($fresh:path) => {
        $crate::contract::contract_tests!(@each $fresh;
            elements_added_listed_and_removed_with_their_data,
            elements_added_together_or_not_at_all,
            update_element_changes_settings_and_reencrypts_the_password,
            init_commits_in_one_step_and_refused_inits_keep_their_proposal,
            stored_index_is_whole_and_found_by_digest,
            changes_are_logged_with_login_and_idempotent,
            changes_are_read_a_page_at_a_time,
            an_objects_history_spans_jobs_and_notify_newest_first,
            jobs_state_progress_and_log,
            jobs_are_found_by_element_state_type_and_trigger,
            requests_join_jobs_of_the_same_or_greater_strength,
            requests_for_missing_elements_are_refused,
            concurrent_requests_make_one_job,
            claims_take_the_oldest_job_one_per_element,
            concurrent_claims_take_one_job_per_element,
            leases_are_renewed_and_report_stop_requests,
            interrupted_jobs_fail_by_node_and_by_lease,
            a_live_node_name_is_not_joined_twice,
            the_init_pool_bounds_inits_of_every_node,
            nodes_are_listed_with_what_they_run,
            concurrent_inits_take_at_most_the_pool,
            stop_job_in_each_state,
            last_finished_jobs_are_the_newest_that_ran_per_element,
            removing_an_element_stops_its_queued_jobs_and_drops_its_default_schedule,
            tokens_are_found_by_hash_and_deleted,
            schedules_crud_defaults_and_fired_compare_and_set,
            search_finds_key_and_name_prefixes_across_elements,
            search_agrees_with_a_plain_filter_whichever_plan_it_takes,
            counts_objects_and_jobs,
            object_counts_by_type_of_one_element,
            object_counts_follow_every_write_of_objects,
            notify_applies_changes_without_a_job_and_records_its_rows,
            notify_read_before_another_write_is_refused,
            old_finished_jobs_are_removed_with_their_records,
            a_task_turn_is_claimed_once,
            alarms_are_raised_once_per_condition_cleared_and_acked,
            webhook_deliveries_are_logged_per_webhook,
            a_plan_is_applied_once_exactly_as_kept,
            a_plan_is_stale_once_the_element_changed_in_the_database,
            an_incremental_plan_applies_its_logins_and_point,
            previews_join_only_previews,
            users_are_kept_and_the_last_admin_stays,
            sessions_are_found_by_hash_until_idle_and_end_with_their_user,
            import_previews_are_taken_once_by_their_session,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(s) = $fresh().await else { return };
                $crate::contract::$name(&*s).await;
            }
        )*
    };
}
pub(crate) use contract_tests;

pub(crate) fn new_cm(name: &str) -> NewElement {
    NewElement {
        name: ElementName::parse(name).unwrap(),
        kind: ElementKind::Cm,
        host: "127.0.0.1".into(),
        alternate_host: None,
        port: 5022,
        login: "ucsync".into(),
        password: "S3cret-pass".into(),
        settings: ElementSettings {
            own_logins: vec!["init".into()],
            ..Default::default()
        },
    }
}

pub(crate) fn staged_as(object_type: &str, key: &str, name: &str) -> Staged {
    let o = Object {
        id: ObjectId::new(object_type, key),
        fields: Fields::new(vec![("8003ff00".into(), name.into())]),
    };
    Staged {
        hash: ContentHash::of(&[1; 32], &o),
        id: o.id,
        op: PlanOp::Add,
        fields: o.fields,
        name: Some(name.into()),
        by_login: None,
        at_element: None,
    }
}

pub(crate) fn staged(key: &str, name: &str) -> Staged {
    staged_as("station", key, name)
}

/// What a plan of `kind` made at `revision` records when applied.
pub(crate) fn plan_base(kind: SyncType, revision: i64) -> PlanBase {
    PlanBase {
        kind,
        revision,
        version: "R2".into(),
        format: 2,
        sync_point: "point-2".into(),
    }
}

pub(crate) fn new_job(element: &str, requested: SyncType) -> NewJob {
    NewJob {
        element: ElementName::parse(element).unwrap(),
        requested,
        trigger: Trigger::OnDemand,
        requested_by: "test".into(),
        dry_run: false,
    }
}

/// `cm1` with an incremental that node `n1` runs on a lease of `lease` from
/// now: what the slow-database lease tests of each backend start from.
pub(crate) async fn running_on_a_lease(s: &dyn Store, lease: Duration) -> Job {
    s.add_element(new_cm("cm1")).await.unwrap();
    let job = s
        .request_job(&new_job("cm1", SyncType::Incremental))
        .await
        .unwrap()
        .job;
    s.claim_job("n1", Utc::now() + lease)
        .await
        .unwrap()
        .unwrap();
    job
}

/// A fixed instant, so that lease times are far from the wall clock.
pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(minutes)
}

/// Stores objects on an element through an init.
pub(crate) async fn fill(s: &dyn Store, element: &Element, objects: Vec<Staged>) {
    let j = s
        .create_job(
            &new_job(element.name.as_str(), SyncType::Init),
            SyncType::Init,
            None,
        )
        .await
        .unwrap();
    s.stage(j.id, objects).await.unwrap();
    let out = InitOutcome {
        version: "R1".into(),
        format: 1,
        sync_point: None,
    };
    s.commit_init(j.id, element.id, &[], &out).await.unwrap();
    s.set_job_state(j.id, JobState::Succeeded, None)
        .await
        .unwrap();
}

/// The element's revision of its objects as stored now.
pub(crate) async fn revision(s: &dyn Store, e: &Element) -> i64 {
    s.element(e.name.as_str())
        .await
        .unwrap()
        .expect("the element")
        .sync
        .revision
}
