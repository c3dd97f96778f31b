//! The contract: elements added, listed, changed and removed.

use ucsync_store::*;

use super::*;

pub(crate) async fn elements_added_listed_and_removed_with_their_data(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    assert_eq!(
        e.own_logins(),
        vec!["init".to_string(), "ucsync".to_string()]
    );
    assert!(matches!(
        s.add_element(new_cm("cm1")).await,
        Err(StoreError::Exists(_))
    ));
    s.add_element(new_cm("cm0")).await.unwrap();
    let names: Vec<String> = s
        .elements()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["cm0", "cm1"]);
    assert_eq!(s.element_password("cm1").await.unwrap(), "S3cret-pass");
    assert!(matches!(
        s.element_password("nope").await,
        Err(StoreError::NoElement(_))
    ));
    fill(s, &e, vec![staged("1001", "Doe, Jane")]).await;
    assert_eq!(s.object_count(e.id).await.unwrap(), 1);
    assert!(s.remove_element("cm1").await.unwrap());
    assert!(!s.remove_element("cm1").await.unwrap());
    assert_eq!(s.object_count(e.id).await.unwrap(), 0);
    assert!(s.element("cm1").await.unwrap().is_none());
    assert_eq!(s.elements().await.unwrap().len(), 1);
}

async fn names(s: &dyn Store) -> Vec<String> {
    let all = s.elements().await.unwrap();
    all.into_iter().map(|e| e.name.to_string()).collect()
}

pub(crate) async fn elements_added_together_or_not_at_all(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    // A name that exists, then one given twice: nothing is added.
    for batch in [["cm2", "cm1", "cm3"], ["cm2", "cm3", "cm2"]] {
        let got = s
            .add_elements(batch.iter().map(|n| new_cm(n)).collect())
            .await;
        assert!(matches!(got, Err(StoreError::Exists(_))), "{got:?}");
        assert_eq!(names(s).await, ["cm1"]);
    }
    let added = s
        .add_elements(vec![new_cm("cm3"), new_cm("cm2")])
        .await
        .unwrap();
    let added: Vec<&str> = added.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(added, ["cm3", "cm2"]);
    assert_eq!(names(s).await, ["cm1", "cm2", "cm3"]);
    assert_eq!(s.element_password("cm3").await.unwrap(), "S3cret-pass");
}

pub(crate) async fn update_element_changes_settings_and_reencrypts_the_password(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let unchanged = s
        .update_element("cm1", ElementUpdate::default())
        .await
        .unwrap();
    assert_eq!(unchanged, e);
    let u = s
        .update_element(
            "cm1",
            ElementUpdate {
                host: Some("127.0.0.21".into()),
                alternate_host: Some(Some("127.0.0.22".into())),
                port: Some(22),
                login: Some("sync2".into()),
                password: Some("N3w-pass".into()),
                settings: Some(ElementSettings {
                    notify_sync: true,
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            u.host.as_str(),
            u.alternate_host.as_deref(),
            u.port,
            u.login.as_str()
        ),
        ("127.0.0.21", Some("127.0.0.22"), 22, "sync2")
    );
    assert!(u.settings.notify_sync && u.settings.own_logins.is_empty());
    assert_eq!(
        (u.id, &u.name, &u.created_at),
        (e.id, &e.name, &e.created_at)
    );
    assert_eq!(s.element("cm1").await.unwrap().unwrap(), u);
    assert_eq!(s.element_password("cm1").await.unwrap(), "N3w-pass");
    let u = s
        .update_element(
            "cm1",
            ElementUpdate {
                alternate_host: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((u.alternate_host, u.port), (None, 22));
    assert_eq!(s.element_password("cm1").await.unwrap(), "N3w-pass");
    assert!(matches!(
        s.update_element("nope", ElementUpdate::default()).await,
        Err(StoreError::NoElement(n)) if n == "nope"
    ));
}
