//! Console users: added once by name, listed without their hashes, changed,
//! and never left without an admin.

use std::time::Duration;

use chrono::Utc;
use ucsync_core::Role;
use ucsync_store::{Store, StoreError, UserChange};

pub(crate) async fn users_are_kept_and_the_last_admin_stays(s: &dyn Store) {
    let admin = s
        .add_user("admin", Role::Admin, "$argon2id$a")
        .await
        .unwrap();
    assert_eq!((admin.name.as_str(), admin.role), ("admin", Role::Admin));
    assert_eq!(admin.last_sign_in_at, None);
    assert!(matches!(
        s.add_user("admin", Role::ReadOnly, "$argon2id$b").await,
        Err(StoreError::UserExists(n)) if n == "admin"
    ));
    s.add_user("ops", Role::ReadOnly, "$argon2id$c")
        .await
        .unwrap();
    let names: Vec<String> = s
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["admin", "ops"]);

    // The hash is read only for a sign-in.
    let (user, hash) = s.user_sign_in("ops").await.unwrap().unwrap();
    assert_eq!((user.role, hash.as_str()), (Role::ReadOnly, "$argon2id$c"));
    assert!(s.user_sign_in("nobody").await.unwrap().is_none());
    s.record_sign_in("ops", Utc::now()).await.unwrap();
    let (user, _) = s.user_sign_in("ops").await.unwrap().unwrap();
    assert!(user.last_sign_in_at.is_some());

    // The last admin is neither demoted nor removed.
    assert_eq!(
        s.update_user("admin", Some(Role::ReadOnly), None)
            .await
            .unwrap(),
        UserChange::LastAdmin
    );
    assert_eq!(s.remove_user("admin").await.unwrap(), UserChange::LastAdmin);
    // A new password only: the role stays.
    let UserChange::Done(Some(u)) = s
        .update_user("admin", None, Some("$argon2id$d"))
        .await
        .unwrap()
    else {
        panic!("changed")
    };
    assert_eq!(u.role, Role::Admin);
    assert_eq!(
        s.user_sign_in("admin").await.unwrap().unwrap().1,
        "$argon2id$d"
    );
    // With a second admin, the first may go.
    s.update_user("ops", Some(Role::Admin), None).await.unwrap();
    assert_eq!(
        s.remove_user("admin").await.unwrap(),
        UserChange::Done(None)
    );
    assert_eq!(s.remove_user("admin").await.unwrap(), UserChange::NoUser);
    assert_eq!(
        s.update_user("admin", None, Some("x")).await.unwrap(),
        UserChange::NoUser
    );
    assert_eq!(s.remove_user("ops").await.unwrap(), UserChange::LastAdmin);
}

pub(crate) async fn sessions_are_found_by_hash_until_idle_and_end_with_their_user(s: &dyn Store) {
    let hour = Duration::from_secs(3600);
    s.add_user("admin", Role::Admin, "$argon2id$a")
        .await
        .unwrap();
    s.add_user("ops", Role::ReadOnly, "$argon2id$b")
        .await
        .unwrap();
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    s.create_session(&a, "ops", "csrf-a", hour).await.unwrap();
    s.create_session(&b, "ops", "csrf-b", hour).await.unwrap();
    s.create_session(&c, "admin", "csrf-c", hour).await.unwrap();
    assert!(
        s.create_session(&[4u8; 32], "nobody", "x", hour)
            .await
            .is_err(),
        "a session needs its user"
    );

    let found = s.session_by_hash(&a, hour).await.unwrap().unwrap();
    assert_eq!(
        (
            found.user.name.as_str(),
            found.user.role,
            found.csrf.as_str()
        ),
        ("ops", Role::ReadOnly, "csrf-a")
    );
    assert!(s.session_by_hash(&[9u8; 32], hour).await.unwrap().is_none());
    // A changed role takes effect in the session at once.
    s.update_user("ops", Some(Role::Admin), None).await.unwrap();
    let found = s.session_by_hash(&a, hour).await.unwrap().unwrap();
    assert_eq!(found.user.role, Role::Admin);

    // Idle for longer than the timeout: gone.
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(
        s.session_by_hash(&c, Duration::from_millis(10))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.session_by_hash(&c, hour).await.unwrap().is_some());

    // Signing out ends one session.
    assert!(s.remove_session(&b).await.unwrap());
    assert!(!s.remove_session(&b).await.unwrap());
    assert!(s.session_by_hash(&b, hour).await.unwrap().is_none());

    // A new password ends the user's sessions; removing the user, too.
    s.create_session(&b, "ops", "csrf-b", hour).await.unwrap();
    s.update_user("ops", None, Some("$argon2id$new"))
        .await
        .unwrap();
    assert!(s.session_by_hash(&a, hour).await.unwrap().is_none());
    assert!(s.session_by_hash(&b, hour).await.unwrap().is_none());
    assert!(s.session_by_hash(&c, hour).await.unwrap().is_some());
    s.create_session(&a, "ops", "csrf-a", hour).await.unwrap();
    s.update_user("ops", Some(Role::ReadOnly), None)
        .await
        .unwrap();
    assert_eq!(s.remove_user("ops").await.unwrap(), UserChange::Done(None));
    assert!(s.session_by_hash(&a, hour).await.unwrap().is_none());

    // Starting a session forgets the idle ones.
    tokio::time::sleep(Duration::from_millis(30)).await;
    s.create_session(&a, "admin", "csrf-a2", Duration::from_millis(10))
        .await
        .unwrap();
    assert!(s.session_by_hash(&c, hour).await.unwrap().is_none());
    assert_eq!(
        s.session_by_hash(&a, hour).await.unwrap().unwrap().csrf,
        "csrf-a2"
    );
}

/// A console import's preview is taken once, by the session that made it,
/// within its lifetime; a session keeps its newest few; it ends with its
/// session.
pub(crate) async fn import_previews_are_taken_once_by_their_session(s: &dyn Store) {
    let hour = Duration::from_secs(3600);
    s.add_user("admin", Role::Admin, "$argon2id$a")
        .await
        .unwrap();
    let (a, b) = ([1u8; 32], [2u8; 32]);
    s.create_session(&a, "admin", "csrf-a", hour).await.unwrap();
    s.create_session(&b, "admin", "csrf-b", hour).await.unwrap();
    let rows = r#"[{"line":2,"fields":{"name":"cm1","password":"S3cret"}}]"#;
    s.keep_import_preview("p1", &a, "x.csv", rows, hour)
        .await
        .unwrap();
    assert_eq!(
        s.take_import_preview("p1", &b, hour).await.unwrap(),
        None,
        "another session's"
    );
    assert_eq!(
        s.take_import_preview("p1", &a, hour).await.unwrap(),
        Some(("x.csv".to_string(), rows.to_string()))
    );
    assert_eq!(
        s.take_import_preview("p1", &a, hour).await.unwrap(),
        None,
        "once"
    );

    // Past its lifetime it is gone.
    s.keep_import_preview("p2", &a, "y.csv", rows, hour)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        s.take_import_preview("p2", &a, Duration::from_millis(10))
            .await
            .unwrap(),
        None
    );

    // A session keeps its newest ones.
    let kept = ucsync_store::IMPORT_PREVIEWS_KEPT;
    for n in 0..=kept {
        s.keep_import_preview(&format!("q{n}"), &a, "z.csv", "[]", hour)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(s.take_import_preview("q0", &a, hour).await.unwrap(), None);
    assert!(
        s.take_import_preview(&format!("q{kept}"), &a, hour)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.take_import_preview("q1", &a, hour)
            .await
            .unwrap()
            .is_some()
    );

    // Signing out ends them.
    s.keep_import_preview("p3", &a, "x.csv", rows, hour)
        .await
        .unwrap();
    assert!(s.remove_session(&a).await.unwrap());
    assert_eq!(s.take_import_preview("p3", &a, hour).await.unwrap(), None);
}
