//! The diff between what is stored for an element and what the element
//! returned, computed while the objects stream in, holding only keys and
//! content hashes in memory — and the check that refuses a diff that looks
//! like a fault rather than a change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::index::{HashIndex, key_digest};
use crate::object::{ContentHash, Object, ObjectId};

pub use crate::types::PlanOp;

/// Counts of one object type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    pub stored: u64,
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

/// The outcome of a diff: counts per type and the objects to delete (the
/// objects to add or change were reported one by one as they came).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub counts: BTreeMap<String, TypeCounts>,
    /// The objects to delete, once their keys are known (see [`Plan::leftover`]).
    pub deletes: Vec<ObjectId>,
    /// What was stored and not seen: the deletions, by digest, whose keys the
    /// store finds for [`Plan::set_deletes`].
    pub leftover: HashIndex,
}

impl Plan {
    /// Sets the deletions from the keys of the leftover digests.
    pub fn set_deletes(&mut self, mut ids: Vec<ObjectId>) {
        ids.retain(|id| {
            self.leftover
                .contains_digest(key_digest(&id.object_type, &id.key))
        });
        ids.sort();
        ids.dedup();
        self.deletes = ids;
    }

    pub fn total(&self) -> TypeCounts {
        self.counts
            .values()
            .fold(TypeCounts::default(), |a, c| TypeCounts {
                stored: a.stored + c.stored,
                added: a.added + c.added,
                changed: a.changed + c.changed,
                deleted: a.deleted + c.deleted,
                unchanged: a.unchanged + c.unchanged,
            })
    }
}

/// What the diff needs of an object: the digest of its identity and its
/// content hash. Computing them is the costly part of a diff, so it is done
/// apart from [`Differ::observe`]: on another core, while the stored index
/// still loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashed {
    pub digest: u128,
    pub hash: ContentHash,
}

impl Hashed {
    pub fn of(hash_key: &[u8; 32], object: &Object) -> Hashed {
        Hashed {
            digest: key_digest(&object.id.object_type, &object.id.key),
            hash: ContentHash::of(hash_key, object),
        }
    }
}

/// Streams incoming objects against the stored keys and hashes.
#[derive(Debug)]
pub struct Differ {
    stored: HashIndex,
    counts: BTreeMap<String, TypeCounts>,
}

impl Differ {
    /// `stored`: every object stored for the element (or for the types being read).
    pub fn new(stored: HashIndex) -> Differ {
        let counts = stored
            .type_counts()
            .into_iter()
            .map(|(t, n)| {
                (
                    t,
                    TypeCounts {
                        stored: n,
                        ..TypeCounts::default()
                    },
                )
            })
            .collect();
        Differ { stored, counts }
    }

    /// Declares a type as read even if the element returned none of it, so its
    /// counts appear in the plan.
    pub fn expect_type(&mut self, object_type: &str) {
        self.counts.entry(object_type.to_string()).or_default();
    }

    /// Readies the lookups of several objects about to be observed, so their
    /// cache misses overlap (see [`HashIndex::prefetch`]).
    pub fn prefetch(&self, digests: impl IntoIterator<Item = u128>) {
        self.stored.prefetch(digests);
    }

    /// One object the element returned; `None` when it is unchanged.
    pub fn observe(&mut self, object_type: &str, object: Hashed) -> Option<PlanOp> {
        // Look the type up before inserting, so the hot path allocates nothing.
        if !self.counts.contains_key(object_type) {
            self.counts
                .insert(object_type.to_string(), TypeCounts::default());
        }
        let c = self.counts.get_mut(object_type).expect("inserted above");
        match self.stored.remove_digest(object.digest) {
            None => {
                c.added += 1;
                Some(PlanOp::Add)
            }
            Some(h) if h == object.hash => {
                c.unchanged += 1;
                None
            }
            Some(_) => {
                c.changed += 1;
                Some(PlanOp::Change)
            }
        }
    }

    /// Everything stored and not seen is deleted.
    pub fn finish(mut self) -> Plan {
        for (t, n) in self.stored.type_counts() {
            self.counts.entry(t).or_default().deleted += n;
        }
        Plan {
            counts: self.counts,
            deletes: Vec::new(),
            leftover: self.stored,
        }
    }
}

/// When deletions look like a fault. Both must be passed for a type to be refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Deletions of one type at or above this count…
    pub min_deletions: u64,
    /// …that are also at least this share of what was stored of that type.
    pub max_percent: f64,
}

impl Thresholds {
    /// Whether losing `deleted` of the `stored` objects of one type looks like a fault.
    pub fn exceeded(&self, deleted: u64, stored: u64) -> bool {
        deleted >= self.min_deletions
            && stored > 0
            && deleted as f64 * 100.0 / stored as f64 >= self.max_percent
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_deletions: 20,
            max_percent: 20.0,
        }
    }
}

/// Why an init refused to apply its plan, with the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Discrepancy {
    /// The element returned nothing at all although data is stored for it.
    NoData { stored: u64 },
    /// These types would lose too much.
    TooManyDeletions(Vec<(String, u64, u64)>),
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discrepancy::NoData { stored } => write!(
                f,
                "the element returned no data, but {stored} objects are stored for it; nothing was changed (a force-init would delete them all)"
            ),
            Discrepancy::TooManyDeletions(types) => {
                f.write_str("the init would delete ")?;
                for (i, (t, del, stored)) in types.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(
                        f,
                        "{del} of {stored} {t} objects ({:.0} %)",
                        *del as f64 * 100.0 / (*stored).max(1) as f64
                    )?;
                }
                f.write_str(
                    "; nothing was changed: check the element, or run a force-init to apply it",
                )
            }
        }
    }
}

/// The discrepancy check of an init (skipped by force-init).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteGuard {
    pub thresholds: Thresholds,
}

impl DeleteGuard {
    pub fn check(&self, plan: &Plan) -> Result<(), Discrepancy> {
        let total = plan.total();
        if total.stored > 0 && total.added + total.changed + total.unchanged == 0 {
            return Err(Discrepancy::NoData {
                stored: total.stored,
            });
        }
        let over: Vec<(String, u64, u64)> = plan
            .counts
            .iter()
            .filter(|(_, c)| self.thresholds.exceeded(c.deleted, c.stored))
            .map(|(t, c)| (t.clone(), c.deleted, c.stored))
            .collect();
        if over.is_empty() {
            Ok(())
        } else {
            Err(Discrepancy::TooManyDeletions(over))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    fn id(t: &str, k: u32) -> ObjectId {
        ObjectId::new(t, k.to_string())
    }

    fn h(v: u8) -> ContentHash {
        ContentHash([v; 16])
    }

    fn plan(before: &[(u32, u8)], after: &[(u32, u8)]) -> (Plan, Vec<(ObjectId, PlanOp)>) {
        let mut d = Differ::new(
            before
                .iter()
                .map(|(k, v)| (id("station", *k), h(*v)))
                .collect(),
        );
        d.expect_type("station");
        let ops = after
            .iter()
            .filter_map(|(k, v)| {
                let digest = key_digest("station", &k.to_string());
                d.observe(
                    "station",
                    Hashed {
                        digest,
                        hash: h(*v),
                    },
                )
                .map(|op| (id("station", *k), op))
            })
            .collect();
        let mut p = d.finish();
        p.set_deletes(before.iter().map(|(k, _)| id("station", *k)).collect());
        (p, ops)
    }

    #[test]
    fn table() {
        let (p, ops) = plan(&[(1, 1), (2, 2), (3, 3)], &[(1, 1), (2, 9), (4, 4)]);
        assert_eq!(
            ops,
            vec![
                (id("station", 2), PlanOp::Change),
                (id("station", 4), PlanOp::Add)
            ]
        );
        assert_eq!(p.deletes, vec![id("station", 3)]);
        assert_eq!(
            p.counts["station"],
            TypeCounts {
                stored: 3,
                added: 1,
                changed: 1,
                deleted: 1,
                unchanged: 1
            }
        );
    }

    #[test]
    fn guard() {
        let g = DeleteGuard::default();
        let stored: Vec<(u32, u8)> = (0..100).map(|k| (k, 1)).collect();
        let (p, _) = plan(&stored, &[]);
        assert_eq!(g.check(&p), Err(Discrepancy::NoData { stored: 100 }));
        assert!(
            g.check(&p)
                .unwrap_err()
                .to_string()
                .contains("100 objects are stored")
        );
        let (p, _) = plan(&stored, &stored[..70]);
        let e = g.check(&p).unwrap_err();
        assert_eq!(
            e,
            Discrepancy::TooManyDeletions(vec![("station".into(), 30, 100)])
        );
        assert!(
            e.to_string().contains("30 of 100 station objects (30 %)"),
            "{e}"
        );
        let (p, _) = plan(&stored, &stored[..85]);
        assert_eq!(g.check(&p), Ok(()), "15 % is a change, not a fault");
        let few: Vec<(u32, u8)> = (0..10).map(|k| (k, 1)).collect();
        let (p, _) = plan(&few, &few[..5]);
        assert_eq!(
            g.check(&p),
            Ok(()),
            "5 deletions are below the count threshold"
        );
        let (p, _) = plan(&[], &[]);
        assert_eq!(g.check(&p), Ok(()), "nothing stored, nothing returned");
    }

    /// Applying the plan to "before" gives "after"; unchanged objects give no operation.
    #[test]
    fn applying_the_diff_gives_after() {
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 256,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[42; 32]),
        );
        let sets = (
            proptest::collection::btree_map(0u32..200, 0u8..4, 0..120),
            proptest::collection::btree_map(0u32..200, 0u8..4, 0..120),
        );
        runner
            .run(&sets, |(before, after)| {
                let b: Vec<(u32, u8)> = before.iter().map(|(k, v)| (*k, *v)).collect();
                let a: Vec<(u32, u8)> = after.iter().map(|(k, v)| (*k, *v)).collect();
                let (p, ops) = plan(&b, &a);
                let mut state: BTreeMap<u32, u8> = before.clone();
                for (oid, op) in &ops {
                    let k: u32 = oid.key.parse().unwrap();
                    prop_assert!(
                        before.get(&k) != after.get(&k),
                        "an operation for an unchanged object"
                    );
                    match op {
                        PlanOp::Add => prop_assert!(state.insert(k, after[&k]).is_none()),
                        PlanOp::Change => prop_assert!(state.insert(k, after[&k]).is_some()),
                        PlanOp::Delete => unreachable!(),
                    }
                }
                for oid in &p.deletes {
                    prop_assert!(state.remove(&oid.key.parse::<u32>().unwrap()).is_some());
                }
                prop_assert_eq!(&state, &after);
                let unchanged = before
                    .iter()
                    .filter(|(k, v)| after.get(k) == Some(v))
                    .count() as u64;
                prop_assert_eq!(p.counts["station"].unchanged, unchanged);
                Ok(())
            })
            .unwrap();
    }
}
