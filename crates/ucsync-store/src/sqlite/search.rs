//! Search and counts on SQLite: objects whose key or name starts with a
//! text, across elements, by whichever plan suits how many match; and the
//! counts of objects per element and type, kept in `object_counts` by the
//! database's triggers (migration 014).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, TypeCache, db};
use crate::model::*;
use crate::rows::{self, HIT_COLUMNS};
use crate::rules::like_prefix;
use crate::{Result, StoreError};

impl SqliteStore {
    pub(crate) async fn object_counts_by_type(
        &self,
        element: ElementId,
    ) -> Result<BTreeMap<String, u64>> {
        self.read(move |c, _| {
            let mut st = c
                .prepare_cached(&format!("{COUNTS_SQL} AND element_id = ?1"))
                .map_err(db)?;
            Ok(super::all(&mut st, [element], |r| {
                Ok((
                    r.get(1).map_err(db)?,
                    rows::count_from(r.get(2).map_err(db)?),
                ))
            })?
            .into_iter()
            .collect())
        })
        .await
    }

    pub(crate) async fn object_counts(&self) -> Result<BTreeMap<ElementId, BTreeMap<String, u64>>> {
        self.read(move |c, _| {
            let mut st = c.prepare_cached(COUNTS_SQL).map_err(db)?;
            let rows = super::all(&mut st, [], |r| {
                Ok((
                    r.get::<_, ElementId>(0).map_err(db)?,
                    r.get::<_, String>(1).map_err(db)?,
                    rows::count_from(r.get(2).map_err(db)?),
                ))
            })?;
            Ok(rows::by_element(rows))
        })
        .await
    }

    pub(crate) async fn search(
        &self,
        text: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<SearchHit>> {
        let text = text.to_string();
        self.read_with(move |c, types, _| search(c, types, &text, offset, limit))
            .await
    }

    pub(crate) async fn counts(&self) -> Result<StoreCounts> {
        self.read(|c, _| {
            let mut st = c.prepare_cached(NAMED_COUNTS_SQL).map_err(db)?;
            let objects = super::all(&mut st, [], |r| Ok((r.get(0).map_err(db)?, r.get(1).map_err(db)?, rows::count_from(r.get(2).map_err(db)?))))?;
            let mut st = c
                .prepare("SELECT type, state, count(*) FROM jobs GROUP BY type, state ORDER BY type, state")
                .map_err(db)?;
            let jobs = super::all(&mut st, [], |r| {
                Ok((rows::parse(&r.get::<_, String>(0).map_err(db)?)?, rows::parse(&r.get::<_, String>(1).map_err(db)?)?, rows::count_from(r.get(2).map_err(db)?)))
            })?;
            Ok(StoreCounts { objects, jobs })
        })
        .await
    }
}

/// How many objects each element holds per type, as its triggers keep them.
const COUNTS_SQL: &str = "SELECT element_id, object_type, n FROM object_counts WHERE n > 0";

/// [`COUNTS_SQL`] with the elements' names, by name and type.
const NAMED_COUNTS_SQL: &str = "SELECT e.name, c.object_type, c.n FROM object_counts c \
     JOIN elements e ON e.id = c.element_id WHERE c.n > 0 ORDER BY e.name, c.object_type";

/// Below this many objects whose key (or whose name) matches, a search finds
/// every match by index and sorts them; from it on, matches are common enough
/// that reading objects in the order shown soon fills a page.
const SPARSE: i64 = 10_000;

/// From this many matching keys of a text without letters, search reads
/// each element's and type's range of matching keys in order (a few seeks
/// per element, its types remembered) rather than sorting every match.
const KEY_RUNS: i64 = 2_000;

/// `column` starts with `?1`, whatever the (ASCII) case: a range on
/// `lower(column)`, which an index on that expression answers, where LIKE
/// would read every row (and take `%` and `_` for wildcards).
fn prefix(column: &str) -> String {
    format!("lower({column}) >= lower(?1) AND lower({column}) < lower(?1) || char(1114111)")
}

/// A row when more than `?2` objects' `column` starts with the text: the
/// index is walked to that match and no further. Stepping over an OFFSET
/// costs about half of counting rows through a subquery.
fn many_sql(column: &str) -> String {
    format!(
        "SELECT 1 FROM objects WHERE {} LIMIT 1 OFFSET ?2",
        prefix(column)
    )
}

/// The first `?2` objects, in the order shown, whose `column` starts with
/// the text: every match from the column's prefix index, of which SQLite's
/// sort keeps only those first ones. Keys and names are asked apart and
/// merged: a UNION of the two sorted and deduplicated every match first,
/// three to five times the work.
fn sparse_sql(column: &str) -> String {
    format!(
        "SELECT e.name, o.element_id, o.object_type, o.object_key FROM objects o \
         JOIN elements e ON e.id = o.element_id WHERE {} \
         ORDER BY e.name, o.object_type, o.object_key LIMIT ?2",
        prefix(&format!("o.{column}"))
    )
}

fn names_sql() -> String {
    format!(
        "SELECT e.name, o.element_id, o.object_type, o.object_key FROM objects o \
         JOIN elements e ON e.id = o.element_id WHERE {}",
        prefix("o.name")
    )
}

/// Objects in the order shown (elements by name, each in its objects'
/// order), filtered, from the narrow `objects_listing` index; the `+` keeps
/// the planner from the prefix indexes, whose order is not the one shown.
/// The filter is `LIKE` with the escaped text (`?4`, see [`like_prefix`]):
/// it folds ASCII case as `lower` does, but compares in place, where `lower`
/// copied the key and the name of every row read.
fn scan_sql() -> String {
    "SELECT e.name, o.element_id, o.object_type, o.object_key \
     FROM elements e CROSS JOIN objects o INDEXED BY objects_listing ON o.element_id = e.id \
     WHERE +o.object_key LIKE ?4 ESCAPE '\\' OR +o.name LIKE ?4 ESCAPE '\\' \
     ORDER BY e.name, o.object_type, o.object_key LIMIT ?2 OFFSET ?3"
        .to_string()
}

/// The object types of an element that holds any, as counted.
const TYPES_SQL: &str =
    "SELECT object_type FROM object_counts WHERE element_id = ?1 AND n > 0 ORDER BY object_type";

fn elements_by_name(c: &Connection) -> Result<Vec<(ElementId, String)>> {
    c.prepare_cached("SELECT id, name FROM elements ORDER BY name")
        .map_err(db)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

pub(super) fn object_types(c: &Connection, element: ElementId) -> Result<Vec<String>> {
    c.prepare_cached(TYPES_SQL)
        .map_err(db)?
        .query_map([element], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

/// Keys of one element and type that start with `?3` exactly, in key order.
const KEY_RUN_SQL: &str = "SELECT object_key FROM objects WHERE element_id = ?1 AND object_type = ?2 \
     AND object_key >= ?3 AND object_key < ?3 || char(1114111) ORDER BY object_key LIMIT ?4";

/// A search hit before its row is read: element name and id, type, key.
/// Tuples of these sort in the order search shows them.
type Hit = (String, i64, String, String);

fn hits(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Hit>> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_map(p, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

/// Objects whose key or name starts with `text`, whatever the case (ASCII,
/// as SQLite's `lower` folds), in the order of element name, type and key.
///
/// No one index gives both the matches and their order, so the plan depends
/// on how many objects match, told by the indexes (whether there are
/// [`SPARSE`]): few → the first of them by index, sorted; many keys but few
/// names, and a text
/// without letters (keys like extensions) → each element's and type's keys
/// in order from the primary key, merged with the names; otherwise →
/// objects in order, filtered, which stops as soon as a page is full.
fn search(
    c: &Connection,
    types: &mut TypeCache,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<SearchHit>> {
    let limit = if limit == 0 {
        i64::MAX
    } else {
        limit.min(i64::MAX as u64) as i64
    };
    let offset = offset.min(i64::MAX as u64) as i64;
    let many = |column, n: i64| -> Result<bool> {
        c.prepare_cached(&many_sql(column))
            .map_err(db)?
            .query_row(params![text, n - 1], |_| Ok(()))
            .optional()
            .map(|row| row.is_some())
            .map_err(db)
    };
    let letters = text.bytes().any(|b| b.is_ascii_alphabetic());
    let many_keys = many("object_key", if letters { SPARSE } else { KEY_RUNS })?;
    let many_names = many("name", SPARSE)?;
    let page = if !many_keys && !many_names {
        let need = offset.saturating_add(limit);
        let mut both = Vec::new();
        for column in ["object_key", "name"] {
            both.extend(hits(c, &sparse_sql(column), params![text, need])?);
        }
        both.sort_unstable();
        both.dedup();
        both.into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect()
    } else if !many_names && !letters {
        keys_in_order(c, types, text, offset, limit)?
    } else {
        hits(
            c,
            &scan_sql(),
            params![text, limit, offset, like_prefix(text)],
        )?
    };
    let mut row = c
        .prepare_cached(&format!(
            "SELECT {HIT_COLUMNS} FROM objects o JOIN elements e ON e.id = o.element_id \
             WHERE o.element_id = ?1 AND o.object_type = ?2 AND o.object_key = ?3"
        ))
        .map_err(db)?;
    page.into_iter()
        .map(|(_, element_id, object_type, key)| {
            let mut rows = row
                .query(params![element_id, object_type, key])
                .map_err(db)?;
            match rows.next().map_err(db)? {
                Some(r) => rows::hit(r),
                None => Err(StoreError::Database(format!(
                    "object {object_type} {key} is gone"
                ))),
            }
        })
        .collect()
}

/// Many keys match, few names, and the text has no letters, so that a key
/// matches exactly when it starts with the text: each element's and type's
/// matching keys are one range of the primary key, already in order.
fn keys_in_order(
    c: &Connection,
    types: &mut TypeCache,
    text: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Hit>> {
    types.check(c)?;
    let need = offset.saturating_add(limit) as usize;
    let mut names = hits(c, &names_sql(), [text])?;
    names.sort_unstable();
    let mut names = names.into_iter().peekable();
    let mut run = c.prepare_cached(KEY_RUN_SQL).map_err(db)?;
    let mut out: Vec<Hit> = Vec::new();
    'elements: for (id, element) in elements_by_name(c)? {
        for ty in types.of(c, id)? {
            let want = (need - out.len()).min(i64::MAX as usize) as i64;
            let keys: Vec<String> = run
                .query_map(params![id, ty, text, want], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let mut named = Vec::new();
            while let Some(n) = names.next_if(|n| n.1 == id && n.2 == *ty) {
                named.push(n.3);
            }
            let mut merged: Vec<String> = keys.into_iter().chain(named).collect();
            merged.sort_unstable();
            merged.dedup();
            out.extend(
                merged
                    .into_iter()
                    .map(|k| (element.clone(), id, ty.clone(), k)),
            );
            if out.len() >= need {
                break 'elements;
            }
        }
    }
    out.truncate(need);
    Ok(out.into_iter().skip(offset as usize).collect())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sqlite::{connect, migrate};

    /// A column of `explain` `sql`, with its text parameter `?1` and numbers
    /// for the rest.
    fn explained(c: &Connection, explain: &str, sql: &str, column: usize) -> Vec<String> {
        let mut st = c.prepare(&format!("{explain} {sql}")).unwrap();
        let values = (1..=st.parameter_count()).map(|i| {
            if i == 1 {
                rusqlite::types::Value::Text("ab".into())
            } else {
                rusqlite::types::Value::Integer(50)
            }
        });
        st.query_map(rusqlite::params_from_iter(values), |r| r.get(column))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    pub(in crate::sqlite) fn plan(c: &Connection, sql: &str) -> String {
        explained(c, "EXPLAIN QUERY PLAN", sql, 3).join("\n")
    }

    /// How many b-trees the program of `sql` reads.
    fn opened(c: &Connection, sql: &str) -> usize {
        let ops = explained(c, "EXPLAIN", sql, 1);
        ops.iter().filter(|op| *op == "OpenRead").count()
    }

    /// Search reads what it needs through the indexes meant for it: counts
    /// and the sparse plan from the prefix indexes alone, the ordered plans
    /// in the order shown, with nothing sorted.
    #[test]
    fn search_plans_use_the_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let key_count = plan(&c, &many_sql("object_key"));
        assert!(
            key_count.contains("COVERING INDEX objects_search_key"),
            "{key_count}"
        );
        let name_count = plan(&c, &many_sql("name"));
        assert!(
            name_count.contains("COVERING INDEX objects_search_name"),
            "{name_count}"
        );
        // "Covering" in the plan is not enough: with an index on lower(name)
        // alone, SQLite still looked up each row. One b-tree, the index, is.
        for column in ["object_key", "name"] {
            assert_eq!(opened(&c, &many_sql(column)), 1, "{column}");
        }
        for (column, index) in [
            ("object_key", "COVERING INDEX objects_search_key"),
            ("name", "COVERING INDEX objects_search_name"),
        ] {
            let sparse = plan(&c, &sparse_sql(column));
            assert!(sparse.contains(index), "{sparse}");
            assert!(!sparse.contains("SCAN o"), "{sparse}");
        }
        let scan = plan(&c, &scan_sql());
        assert!(!scan.contains("TEMP B-TREE"), "{scan}");
        assert!(
            scan.contains("SEARCH o USING COVERING INDEX objects_listing (element_id=?)"),
            "{scan}"
        );
        // The scan reads the narrow index alone, never the rows' fields.
        assert_eq!(opened(&c, &scan_sql()), 2, "elements and the listing");
        let names = plan(&c, &names_sql());
        assert!(
            names.contains("COVERING INDEX objects_search_name"),
            "{names}"
        );
        // A range of keys in order, from the narrow listing index.
        let run = plan(&c, KEY_RUN_SQL);
        assert!(
            run.contains(
                "COVERING INDEX objects_listing (element_id=? AND object_type=? AND object_key>? AND object_key<?)"
            ),
            "{run}"
        );
        assert!(!run.contains("TEMP B-TREE"), "{run}");
    }

    /// A cached statement is used again as it is, whatever its bindings:
    /// none of search's statements is compiled again per call.
    #[test]
    fn cached_statements_are_not_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        migrate(&mut connect(&path).unwrap()).unwrap();
        let c = connect(&path).unwrap();
        use rusqlite::types::Value::{Integer as N, Text as T};
        // Each statement with the kinds of its parameters: a number (N) or a
        // text (T), changing from call to call.
        for (sql, kinds) in [
            (TYPES_SQL.to_string(), "N"),
            (KEY_RUN_SQL.to_string(), "NTTN"),
            (many_sql("name"), "TN"),
            (sparse_sql("object_key"), "TN"),
            (scan_sql(), "TNNT"),
        ] {
            for round in 0..3i64 {
                let mut st = c.prepare_cached(&sql).unwrap();
                let values = kinds.chars().map(|k| match k {
                    'N' => N(round + 1),
                    _ => T(format!("{round}a")),
                });
                let mut rows = st.query(rusqlite::params_from_iter(values)).unwrap();
                while rows.next().unwrap().is_some() {}
                drop(rows);
                let again = st.get_status(rusqlite::StatementStatus::RePrepare);
                assert_eq!(again, 0, "{sql}");
            }
        }
    }
}
