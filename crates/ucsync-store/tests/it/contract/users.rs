//! Console users: added once by name, listed without their hashes, changed,
//! and never left without an admin.

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
