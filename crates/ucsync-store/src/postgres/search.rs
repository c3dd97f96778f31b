//! Search and counts on PostgreSQL: objects whose key or name starts with a
//! text, across elements, by whichever plan suits how many match; and the
//! counts of objects per element and type, and of jobs.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::types::Type;
use ucsync_core::{JobState, SyncType};

use super::{PgStore, db, get};
use crate::Result;
use crate::model::*;
use crate::rows::{self, HIT_COLUMNS};
use crate::rules::like_prefix;

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
            .prepare_cached(
                "SELECT object_type, count(*) FROM objects WHERE element_id = $1 GROUP BY object_type",
            )
            .await
            .map_err(db)?;
        c.query(&st, &[&element])
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get(r, 0)?, rows::count_from(get(r, 1)?))))
            .collect()
    }

    pub(crate) async fn search(
        &self,
        text: &str,
        offset_: u64,
        limit_: u64,
    ) -> Result<Vec<SearchHit>> {
        let mut c = self.client().await?;
        // One snapshot for the steps below.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        // A bitmap scan reads every match of a prefix before the first
        // comes out, and the planner prefers it for wide prefixes: the very
        // case where reading the prefix index in order and stopping at the
        // bound is cheap.
        // And JIT compiling would cost far more than these short queries
        // (hundreds of milliseconds each time the planner's estimate
        // crosses its threshold).
        tx.batch_execute("SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off")
            .await
            .map_err(db)?;
        let pattern = like_prefix(text);
        let hits = match search_sparse(&tx, &pattern, text.is_empty(), offset_, limit_).await? {
            Some(hits) => hits,
            None => search_dense(&tx, &pattern, offset_, limit_).await?,
        };
        tx.commit().await.map_err(db)?;
        Ok(hits)
    }

    pub(crate) async fn counts(&self) -> Result<StoreCounts> {
        let c = self.client().await?;
        let objects = c
            .query(
                "SELECT e.name, n.object_type, n.count FROM \
                   (SELECT element_id, object_type, count(*) AS count FROM objects GROUP BY element_id, object_type) n \
                 JOIN elements e ON e.id = n.element_id ORDER BY e.name, n.object_type",
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

/// Matches per prefix index up to which search sorts every match itself:
/// past it, the per-element plan of [`search_dense`] is cheaper than
/// reading more matches scattered over the table.
const SEARCH_SPARSE: i64 = 1_000;

/// Search when a prefix matches few objects: each prefix index yields its
/// range, read in index order so that the scan stops at the bound; the
/// matches are sorted here and only the page's rows are read. `None` when a
/// range reaches the bound (many matches: see [`search_dense`]).
///
/// Statements are unnamed (`query_typed`) and so planned with the pattern's
/// value: only then can the planner turn the prefix into an index range.
async fn search_sparse(
    tx: &deadpool_postgres::Transaction<'_>,
    pattern: &str,
    everything: bool,
    offset_: u64,
    limit_: u64,
) -> Result<Option<Vec<SearchHit>>> {
    if everything {
        return Ok(None);
    }
    let matched = tx
        .query_typed(
            "(SELECT 1, element_id, object_type, object_key FROM objects \
               WHERE lower(object_key COLLATE \"default\") LIKE lower($1) \
               ORDER BY lower(object_key COLLATE \"default\") USING ~<~ LIMIT $2) \
             UNION ALL \
             (SELECT 2, element_id, object_type, object_key FROM objects \
               WHERE lower(name COLLATE \"default\") LIKE lower($1) \
               ORDER BY lower(name COLLATE \"default\") USING ~<~ LIMIT $2)",
            &[(&pattern, Type::TEXT), (&SEARCH_SPARSE, Type::INT8)],
        )
        .await
        .map_err(db)?;
    let mut per_index = [0i64; 2];
    let mut found: Vec<(i64, &str, &str)> = Vec::with_capacity(matched.len());
    for r in &matched {
        per_index[usize::from(get::<i32>(r, 0)? == 2)] += 1;
        found.push((get(r, 1)?, get(r, 2)?, get(r, 3)?));
    }
    if per_index.iter().any(|&n| n >= SEARCH_SPARSE) {
        return Ok(None);
    }
    if found.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let names: HashMap<i64, String> = tx
        .query("SELECT id, name FROM elements", &[])
        .await
        .map_err(db)?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect::<Result<_>>()?;
    // Element names, types and keys compare as bytes: the columns' "C"
    // collation, and SQLite's order.
    let mut page: Vec<(&str, &str, &str, i64)> = found
        .into_iter()
        .filter_map(|(e, t, k)| names.get(&e).map(|n| (n.as_str(), t, k, e)))
        .collect();
    page.sort_unstable();
    page.dedup();
    let start = usize::try_from(offset_)
        .unwrap_or(usize::MAX)
        .min(page.len());
    let end = match limit_ {
        0 => page.len(),
        n => start
            .saturating_add(usize::try_from(n).unwrap_or(usize::MAX))
            .min(page.len()),
    };
    let page = &page[start..end];
    let elements: Vec<i64> = page.iter().map(|p| p.3).collect();
    let types: Vec<&str> = page.iter().map(|p| p.1).collect();
    let keys: Vec<&str> = page.iter().map(|p| p.2).collect();
    let found = tx
        .query(
            &format!(
                "SELECT {HIT_COLUMNS} FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS d(e, t, k, n) \
                 JOIN objects o ON o.element_id = d.e AND o.object_type = d.t AND o.object_key = d.k \
                 JOIN elements e ON e.id = d.e ORDER BY d.n"
            ),
            &[&elements, &types, &keys],
        )
        .await
        .map_err(db)?;
    found.iter().map(rows::hit).collect::<Result<_>>().map(Some)
}

/// Search when a prefix matches many objects: per element that has a match
/// (one probe of the per-element prefix indexes, so an element without one
/// costs nothing), in the order of its primary key, the first matches;
/// found soon when matches are dense within it.
async fn search_dense(
    tx: &deadpool_postgres::Transaction<'_>,
    pattern: &str,
    offset_: u64,
    limit_: u64,
) -> Result<Vec<SearchHit>> {
    let (lim, off) = (limit(limit_), rows::sql_count(offset_));
    let per_element = lim.map(|l| l.saturating_add(off));
    let found = tx
        .query_typed(
            &format!(
                "SELECT {HIT_COLUMNS} FROM elements e CROSS JOIN LATERAL ( \
                   SELECT * FROM objects o WHERE o.element_id = e.id \
                     AND (lower(o.object_key COLLATE \"default\") LIKE lower($1) OR lower(o.name COLLATE \"default\") LIKE lower($1)) \
                   ORDER BY o.object_type, o.object_key LIMIT $2) o \
                 WHERE EXISTS (SELECT 1 FROM objects x WHERE x.element_id = e.id \
                         AND lower(x.object_key COLLATE \"default\") LIKE lower($1)) \
                    OR EXISTS (SELECT 1 FROM objects x WHERE x.element_id = e.id \
                         AND lower(x.name COLLATE \"default\") LIKE lower($1)) \
                 ORDER BY e.name, o.object_type, o.object_key LIMIT $3 OFFSET $4"
            ),
            &[
                (&pattern, Type::TEXT),
                (&per_element, Type::INT8),
                (&lim, Type::INT8),
                (&off, Type::INT8),
            ],
        )
        .await
        .map_err(db)?;
    found.iter().map(rows::hit).collect()
}
