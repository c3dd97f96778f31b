//! Search and counts on PostgreSQL: objects whose key or name starts with a
//! text, across elements, in one statement; and the counts of objects per
//! element and type (kept in `object_counts` by the database's triggers,
//! migration 012), and of jobs.

use std::collections::BTreeMap;

use ucsync_core::{JobState, SyncType};

use super::{PgStore, db, get};
use crate::Result;
use crate::model::*;
use crate::rows::{self, HIT_COLUMNS};

/// How many objects each element holds per type, as its triggers keep them.
const COUNTS_SQL: &str = "SELECT element_id, object_type, n FROM object_counts WHERE n > 0";

/// A page size as SQL: no limit for 0 (a `NULL` limit).
fn limit(n: u64) -> Option<i64> {
    (n != 0).then(|| rows::sql_count(n))
}

impl PgStore {
    pub(crate) async fn object_counts_by_type(
        &self,
        element: ElementId,
    ) -> Result<BTreeMap<String, u64>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!("{COUNTS_SQL} AND element_id = $1"))
            .await
            .map_err(db)?;
        c.query(&st, &[&element])
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get(r, 1)?, rows::count_from(get(r, 2)?))))
            .collect()
    }

    pub(crate) async fn object_counts(&self) -> Result<BTreeMap<ElementId, BTreeMap<String, u64>>> {
        let c = self.client().await?;
        let st = c.prepare_cached(COUNTS_SQL).await.map_err(db)?;
        let rows = c
            .query(&st, &[])
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, rows::count_from(get(r, 2)?))))
            .collect::<Result<Vec<_>>>()?;
        Ok(rows::by_element(rows))
    }

    pub(crate) async fn search(
        &self,
        text: &str,
        offset_: u64,
        limit_: u64,
    ) -> Result<Vec<SearchHit>> {
        let mut c = self.client().await?;
        let (lim, off) = (limit(limit_), rows::sql_count(offset_));
        // What one element yields at most: the whole page may be its.
        let need = lim.map(|l| l.saturating_add(off));
        let tx = c
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        let everything = text.is_empty();
        let st = tx
            .prepare_cached(&if everything {
                everything_sql()
            } else {
                search_sql()
            })
            .await
            .map_err(db)?;
        // The statement's plan is made once per connection and kept: the
        // plan for any text (a generic plan). PostgreSQL would otherwise
        // plan it again for each text, since its estimate of that plan's
        // cost, made without the text, is above that of each text's own
        // plan; planning costs about as much as running it. And JIT
        // compiling would cost far more than the statement.
        let settings =
            tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL jit = off");
        let exact = keys_in_order(text);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&text, &need, &lim, &off, &exact];
        let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] =
            if everything { &params[1..4] } else { &params };
        // Sent together: one round trip.
        let ((), found) = tokio::try_join!(settings, tx.query(&st, params)).map_err(db)?;
        tx.commit().await.map_err(db)?;
        found.iter().map(rows::hit).collect()
    }

    pub(crate) async fn counts(&self) -> Result<StoreCounts> {
        let c = self.client().await?;
        let objects = c
            .query(
                "SELECT e.name, c.object_type, c.n FROM object_counts c \
                 JOIN elements e ON e.id = c.element_id WHERE c.n > 0 ORDER BY e.name, c.object_type",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, rows::count_from(get(r, 2)?))))
            .collect::<Result<_>>()?;
        let jobs = c
            .query(
                "SELECT type, state, count(*) FROM jobs GROUP BY type, state ORDER BY type, state",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok((
                    rows::parse::<SyncType>(get(r, 0)?)?,
                    rows::parse::<JobState>(get(r, 1)?)?,
                    rows::count_from(get(r, 2)?),
                ))
            })
            .collect::<Result<_>>()?;
        Ok(StoreCounts { objects, jobs })
    }
}

/// `column` starts with the text `$1`, whatever the case: a range of the
/// column's prefix index, as in SQLite's search (`%` and `_` are only
/// themselves; U+10FFFF, the last code point, bounds the range). A range
/// with parameters, not `LIKE`, so that the statement is prepared once and
/// its plan kept: the planner turns `LIKE` into a range only for a value.
fn prefix(column: &str) -> String {
    format!(
        "lower({column} COLLATE \"default\") ~>=~ lower($1) \
         AND lower({column} COLLATE \"default\") ~<~ (lower($1) || chr(1114111))"
    )
}

/// Whether any object's `column` starts with the text: the first match in
/// the order of the column's prefix index across elements, which no index
/// of one element's objects gives without reading them all.
fn any(column: &str) -> String {
    format!(
        "((SELECT lower({column} COLLATE \"default\") FROM objects WHERE {} \
           ORDER BY lower({column} COLLATE \"default\") USING ~<~ LIMIT 1) IS NOT NULL)",
        prefix(column)
    )
}

/// Whether an object's key starts with `text` exactly when its key starts
/// with it whatever the case: a text of ASCII without letters (extensions,
/// numbers). Its matching keys are then, per element and type, one range of
/// the primary key, already in the order shown.
fn keys_in_order(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_alphabetic())
}

/// The page of objects whose key or name starts with `$1` (`$2` = offset +
/// limit, what one element yields at most; `$3` limit, `$4` offset; `NULL`
/// for no limit; `$5` = [`keys_in_order`]), in one statement: one round
/// trip, one snapshot.
///
/// Elements are read in the order of their names. Of each, its first `$2`
/// matches in the order shown: its keys either as ranges of the primary
/// key, one per type, or from its key prefix index, and its names from its
/// name prefix index, read from the indexes alone (migration 011), then
/// sorted. An element without a match costs one probe of its prefix indexes
/// (and none where no object at all matches, told once by the prefix indexes
/// across elements). Each element yields a `NULL` row before its matches:
/// the sort by element name sees the element change there, and so gives out
/// a full page before the next element's matches are read, or the elements
/// after it probed.
fn search_sql() -> String {
    let (key, name) = (prefix("object_key"), prefix("name"));
    let (x_key, x_name) = (prefix("x.object_key"), prefix("x.name"));
    let (any_key, any_name) = (any("object_key"), any("name"));
    format!(
        "SELECT {HIT_COLUMNS} FROM ( \
           SELECT * FROM ( \
             SELECT e.id, e.name, m.object_type, m.object_key \
             FROM elements e CROSS JOIN LATERAL ( \
               SELECT NULL::text COLLATE \"C\" AS object_type, NULL::text COLLATE \"C\" AS object_key \
               UNION ALL \
               (SELECT u.object_type, u.object_key FROM ( \
                  (WITH RECURSIVE t(ty) AS ( \
                       SELECT min(object_type) FROM objects WHERE element_id = e.id \
                     UNION ALL \
                       SELECT (SELECT min(object_type) FROM objects WHERE element_id = e.id AND object_type > t.ty) \
                       FROM t WHERE t.ty IS NOT NULL) \
                   SELECT r.object_type, r.object_key FROM t CROSS JOIN LATERAL ( \
                     SELECT object_type, object_key FROM objects \
                     WHERE element_id = e.id AND object_type = t.ty \
                       AND object_key >= $1 AND object_key < ($1 || chr(1114111)) \
                     ORDER BY object_key LIMIT $2) r \
                   WHERE $5 AND t.ty IS NOT NULL) \
                UNION \
                  (SELECT object_type, object_key FROM objects \
                   WHERE NOT $5 AND element_id = e.id AND {key} \
                   ORDER BY object_type, object_key LIMIT $2) \
                UNION \
                  (SELECT object_type, object_key FROM objects \
                   WHERE element_id = e.id AND {name} \
                   ORDER BY object_type, object_key LIMIT $2) \
               ) u \
               WHERE ({any_key} AND EXISTS (SELECT FROM objects x WHERE x.element_id = e.id AND {x_key})) \
                  OR ({any_name} AND EXISTS (SELECT FROM objects x WHERE x.element_id = e.id AND {x_name})) \
               ORDER BY u.object_type, u.object_key LIMIT $2) \
             ) m \
             ORDER BY e.name, m.object_type NULLS FIRST, m.object_key OFFSET 0 \
           ) p WHERE p.object_type IS NOT NULL \
           ORDER BY p.name, p.object_type NULLS FIRST, p.object_key LIMIT $3 OFFSET $4 \
         ) e JOIN objects o ON o.element_id = e.id AND o.object_type = e.object_type AND o.object_key = e.object_key \
         ORDER BY e.name, o.object_type, o.object_key"
    )
}

/// Every object, a page of them (`$1` = offset + limit per element, `$2`
/// limit, `$3` offset): each element's in the order of its primary key.
fn everything_sql() -> String {
    format!(
        "SELECT {HIT_COLUMNS} FROM elements e CROSS JOIN LATERAL ( \
           SELECT * FROM objects o WHERE o.element_id = e.id \
           ORDER BY o.object_type, o.object_key LIMIT $1) o \
         ORDER BY e.name, o.object_type, o.object_key LIMIT $2 OFFSET $3"
    )
}
