//! The contract: search and counts.

use ucsync_core::SyncType;
use ucsync_store::*;

use super::*;

fn hits(h: &[SearchHit]) -> Vec<(String, String, String)> {
    h.iter()
        .map(|h| {
            (
                h.element.clone(),
                h.object.id.object_type.clone(),
                h.object.id.key.clone(),
            )
        })
        .collect()
}

fn hit(e: &str, t: &str, k: &str) -> (String, String, String) {
    (e.into(), t.into(), k.into())
}

pub(crate) async fn search_finds_key_and_name_prefixes_across_elements(s: &dyn Store) {
    // Added in this order so that the order of names is not that of ids.
    let b = s.add_element(new_cm("cmb")).await.unwrap();
    let a = s.add_element(new_cm("cma")).await.unwrap();
    fill(
        s,
        &b,
        vec![
            staged("1001", "Doe, Jane"),
            staged("1002", "Smith, John"),
            staged_as("vdn", "1003", "Sales"),
            staged_as("vdn", "sales2", "SALES line"),
        ],
    )
    .await;
    fill(
        s,
        &a,
        vec![
            staged("2001", "doe, john"),
            staged("1009", "Other"),
            staged_as("hunt-group", "10", "Doers"),
        ],
    )
    .await;
    let search = |t: &'static str, offset, limit| async move {
        hits(&s.search(t, offset, limit).await.unwrap())
    };
    assert_eq!(
        search("100", 0, 100).await,
        [
            hit("cma", "station", "1009"),
            hit("cmb", "station", "1001"),
            hit("cmb", "station", "1002"),
            hit("cmb", "vdn", "1003"),
        ],
        "key prefix, ordered by element name, type and key"
    );
    assert_eq!(
        search("DOE", 0, 100).await,
        [
            hit("cma", "hunt-group", "10"),
            hit("cma", "station", "2001"),
            hit("cmb", "station", "1001"),
        ],
        "name prefix, whatever the case"
    );
    assert_eq!(
        search("sales", 0, 100).await,
        [hit("cmb", "vdn", "1003"), hit("cmb", "vdn", "sales2")],
        "an object whose key and name both match is found once"
    );
    assert_eq!(search("doe, j", 0, 100).await.len(), 2);
    assert!(search("zzz", 0, 100).await.is_empty());
    assert!(
        search("1_0", 0, 100).await.is_empty(),
        "no wildcard: '_' is only itself"
    );
    assert!(search("%", 0, 100).await.is_empty());
    assert!(
        search("Jane", 0, 100).await.is_empty(),
        "a prefix, not a part"
    );

    let all = search("", 0, 100).await;
    assert_eq!(all.len(), 7);
    let pages = [
        search("", 0, 3).await,
        search("", 3, 3).await,
        search("", 6, 3).await,
    ];
    assert_eq!(pages.concat(), all);
    assert!(search("", 7, 3).await.is_empty());
    assert_eq!(
        search("1", 1, 2).await,
        [hit("cma", "station", "1009"), hit("cmb", "station", "1001")]
    );

    let found = s.search("smith", 0, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].element.as_str(), found[0].name.as_deref()),
        ("cmb", Some("Smith, John"))
    );
    assert_eq!(found[0].object.fields.get("8003ff00"), Some("Smith, John"));
    assert_eq!(found[0].object.hash, staged("1002", "Smith, John").hash);
}

/// Search reads few matches and many in different ways, keys with and
/// without letters, texts with and without (see `search` in each backend):
/// enough objects here for each way, and each agrees with a plain filter and
/// sort, page by page.
pub(crate) async fn search_agrees_with_a_plain_filter_whichever_plan_it_takes(s: &dyn Store) {
    let b = s.add_element(new_cm("cmb")).await.unwrap();
    let a = s.add_element(new_cm("cma")).await.unwrap();
    // Stations whose names, not keys, start with "1" are merged into the
    // keys' run.
    let mut on_a: Vec<Staged> = (1000..20000)
        .map(|i| {
            let name = if i % 500 == 0 {
                format!("1-{i}")
            } else {
                format!("Name {i}")
            };
            staged(&i.to_string(), &name)
        })
        .collect();
    on_a.extend((0..11000).map(|i| {
        let mut o = staged_as("announcement", &format!("An{i:05}"), "");
        o.name = None;
        o
    }));
    on_a.extend((0..30).map(|i| staged_as("vdn", &format!("an{i}"), &format!("1st floor {i}"))));
    let on_b: Vec<Staged> = (10000..11000)
        .map(|i| staged(&i.to_string(), &format!("n{i}")))
        .collect();
    let mut all: Vec<(String, String, String, Option<String>)> = Vec::new();
    for (e, objects) in [("cma", &on_a), ("cmb", &on_b)] {
        all.extend(objects.iter().map(|o| {
            (
                e.to_string(),
                o.id.object_type.clone(),
                o.id.key.clone(),
                o.name.clone(),
            )
        }));
    }
    all.sort();
    fill(s, &a, on_a).await;
    fill(s, &b, on_b).await;

    for text in [
        "", "1", "10", "1st", "12999", "name", "NAME 1", "name 19", "n", "an", "AN0", "x", "1-",
        "1_", "%", "é",
    ] {
        let lower = text.to_ascii_lowercase();
        let starts = |v: &str| v.to_ascii_lowercase().starts_with(&lower);
        let expected: Vec<(String, String, String)> = all
            .iter()
            .filter(|(_, _, k, n)| starts(k) || n.as_deref().is_some_and(starts))
            .map(|(e, t, k, _)| (e.clone(), t.clone(), k.clone()))
            .collect();
        // Pages of 50, and (limit 0) everything from an offset on.
        for (offset, limit) in [
            (0, 50),
            (37, 50),
            (2000, 50),
            (5000, 50),
            (11990, 50),
            (23000, 50),
            (37, 0),
        ] {
            let got: Vec<(String, String, String)> = s
                .search(text, offset, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.element, h.object.id.object_type, h.object.id.key))
                .collect();
            let want: Vec<_> = expected
                .iter()
                .skip(offset as usize)
                .take(if limit == 0 {
                    usize::MAX
                } else {
                    limit as usize
                })
                .cloned()
                .collect();
            assert_eq!(got, want, "{text:?} from {offset}, {limit}");
        }
    }
}

/// Elements `cma` (stations 1 and 2, vdn 3) and `cmb` (station 1), each
/// filled by an init.
async fn two_filled(s: &dyn Store) -> (Element, Element) {
    let a = s.add_element(new_cm("cma")).await.unwrap();
    let b = s.add_element(new_cm("cmb")).await.unwrap();
    fill(
        s,
        &a,
        vec![
            staged("1", "A"),
            staged("2", "B"),
            staged_as("vdn", "3", "C"),
        ],
    )
    .await;
    fill(s, &b, vec![staged("1", "A")]).await;
    (a, b)
}

pub(crate) async fn counts_objects_and_jobs(s: &dyn Store) {
    assert_eq!(s.counts().await.unwrap(), StoreCounts::default());
    two_filled(s).await;
    s.add_element(new_cm("cmc")).await.unwrap();
    request(s, "cma", SyncType::Incremental).await;
    request(s, "cmb", SyncType::Incremental).await;
    claim(s, "n1").await.unwrap();

    let mut c = s.counts().await.unwrap();
    c.objects.sort();
    assert_eq!(
        c.objects,
        [
            ("cma".to_string(), "station".to_string(), 2),
            ("cma".to_string(), "vdn".to_string(), 1),
            ("cmb".to_string(), "station".to_string(), 1),
        ]
    );
    let mut jobs: Vec<(&str, &str, u64)> = c
        .jobs
        .iter()
        .map(|(t, st, n)| (t.as_str(), st.as_str(), *n))
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        [
            ("incremental", "queued", 1),
            ("incremental", "running", 1),
            ("init", "succeeded", 2),
        ]
    );
}

pub(crate) async fn object_counts_by_type_of_one_element(s: &dyn Store) {
    let (a, b) = two_filled(s).await;
    let of = |counts: std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
        counts.into_iter().collect()
    };
    assert_eq!(
        of(s.object_counts_by_type(a.id).await.unwrap()),
        [("station".to_string(), 2), ("vdn".to_string(), 1)]
    );
    assert_eq!(
        of(s.object_counts_by_type(b.id).await.unwrap()),
        [("station".to_string(), 1)]
    );
    // What the per-type counts add up to is what the element's count says.
    let total: u64 = s.object_counts_by_type(a.id).await.unwrap().values().sum();
    assert_eq!(total, s.object_count(a.id).await.unwrap());
}

/// The counts every element's list reads are kept by the database as objects
/// are written: after an init, changes, notify sync, an init that deletes and
/// an element's removal, they are what counting the stored objects gives.
pub(crate) async fn object_counts_follow_every_write_of_objects(s: &dyn Store) {
    use std::collections::BTreeMap;
    /// Counts of the stored objects, listed and counted here.
    async fn recount(s: &dyn Store) -> BTreeMap<ElementId, BTreeMap<String, u64>> {
        let mut out = BTreeMap::<_, BTreeMap<String, u64>>::new();
        for e in s.elements().await.unwrap() {
            for o in s.objects(e.id, &ObjectQuery::default()).await.unwrap() {
                *out.entry(e.id)
                    .or_default()
                    .entry(o.id.object_type)
                    .or_default() += 1;
            }
        }
        out
    }
    async fn agree(s: &dyn Store, want: &[(ElementId, &[(&str, u64)])]) {
        let counts = s.object_counts().await.unwrap();
        let want: BTreeMap<ElementId, BTreeMap<String, u64>> = want
            .iter()
            .map(|(e, types)| (*e, types.iter().map(|(t, n)| (t.to_string(), *n)).collect()))
            .collect();
        assert_eq!(counts, want);
        assert_eq!(counts, recount(s).await);
        for e in s.elements().await.unwrap() {
            let one = s.object_counts_by_type(e.id).await.unwrap();
            assert_eq!(one, counts.get(&e.id).cloned().unwrap_or_default());
            assert_eq!(
                s.object_count(e.id).await.unwrap(),
                one.values().sum::<u64>()
            );
        }
    }
    let change = |x: Staged| Change {
        id: x.id,
        upsert: Some((x.fields, x.hash, x.name)),
        by_login: Some("craft".into()),
        at_element: None,
    };
    let delete = |ty: &str, key: &str| Change {
        id: ObjectId::new(ty, key),
        upsert: None,
        by_login: None,
        at_element: None,
    };
    agree(s, &[]).await;
    let (a, b) = two_filled(s).await;
    agree(
        s,
        &[
            (a.id, &[("station", 2), ("vdn", 1)]),
            (b.id, &[("station", 1)]),
        ],
    )
    .await;

    // An update counts nothing; an add one; a delete of what is stored
    // minus one, of what is not nothing.
    let changes = vec![
        change(staged("1", "A2")),
        change(staged("4", "D")),
        delete("station", "2"),
        delete("station", "9"),
    ];
    s.apply_changes(None, a.id, changes, None).await.unwrap();
    agree(
        s,
        &[
            (a.id, &[("station", 2), ("vdn", 1)]),
            (b.id, &[("station", 1)]),
        ],
    )
    .await;

    let before = revision(s, &a).await;
    s.apply_notify(a.id, vec![change(staged_as("vdn", "5", "E"))], &[], before)
        .await
        .unwrap()
        .expect("nothing written in between");
    agree(
        s,
        &[
            (a.id, &[("station", 2), ("vdn", 2)]),
            (b.id, &[("station", 1)]),
        ],
    )
    .await;

    // An init that changes one, adds one and deletes the rest: a type
    // left with no objects is not listed.
    let j = s
        .create_job(&new_job("cma", SyncType::Init), SyncType::Init, None)
        .await
        .unwrap();
    s.stage(j.id, vec![staged("1", "A3"), staged("6", "F")])
        .await
        .unwrap();
    let deletes = [
        ObjectId::new("station", "4"),
        ObjectId::new("vdn", "3"),
        ObjectId::new("vdn", "5"),
    ];
    let out = InitOutcome {
        version: "R1".into(),
        format: 1,
        sync_point: None,
    };
    s.commit_init(j.id, a.id, &deletes, &out).await.unwrap();
    agree(s, &[(a.id, &[("station", 2)]), (b.id, &[("station", 1)])]).await;

    assert!(s.remove_element("cmb").await.unwrap());
    agree(s, &[(a.id, &[("station", 2)])]).await;
}
