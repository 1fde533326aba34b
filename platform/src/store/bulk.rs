//! Moving many rows through one statement: the licence path writes and reads hundreds of
//! thousands of rows per apply, and a statement per few dozen rows (or a row at a time
//! through the `Any` driver) cost tens of seconds at 300,000 licences.
//!
//! - Writing: rows travel as one JSON text parameter, an array of arrays, which the
//!   database unpacks into a row source ([`json_rows`]): SQLite's `json_each`, PostgreSQL's
//!   `jsonb_array_elements`. One statement carries [`BULK_ROWS`] rows.
//! - Reading: the database packs the rows into one JSON text value ([`json_agg`]), which
//!   serde turns into tuples ([`fetch_json_rows`]): one row crosses the driver instead of
//!   hundreds of thousands.
//!
//! Values are JSON strings, numbers (integers only) or null; a column read back as an
//! integer is cast to `BIGINT` on both backends.

use serde::de::DeserializeOwned;
use sqlx::{AnyConnection, Row};

use super::{Backend, StoreError};

/// Rows per bulk statement: large enough that statement overhead vanishes, small enough
/// that one statement's JSON stays a few megabytes.
pub(crate) const BULK_ROWS: usize = 20_000;

/// How a column of [`json_rows`] is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Text,
    Int,
}

/// A `SELECT` yielding one row per element of the JSON array bound at `$param`, columns
/// named `c0`, `c1`, ... typed as `cols` says. Append `WHERE true` before an `ON CONFLICT`
/// (SQLite needs it to parse `INSERT ... SELECT ... ON CONFLICT`).
pub(crate) fn json_rows(backend: Backend, param: usize, cols: &[Col]) -> String {
    let (elem, from) = match backend {
        Backend::Sqlite => ("value", format!("json_each(${param})")),
        Backend::Postgres => (
            "r",
            // jsonb: `->>` on json (text) would parse each element again per column.
            format!("jsonb_array_elements(CAST(CAST(${param} AS TEXT) AS jsonb)) AS r"),
        ),
    };
    let columns = cols
        .iter()
        .enumerate()
        .map(|(i, col)| match col {
            Col::Text => format!("{elem} ->> {i} AS c{i}"),
            Col::Int => format!("CAST({elem} ->> {i} AS BIGINT) AS c{i}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT {columns} FROM {from}")
}

/// An aggregate expression packing `exprs` of every selected row into one JSON text value
/// (`[[e0, e1, ...], ...]`, `[]` when no row matches).
pub(crate) fn json_agg(backend: Backend, exprs: &[&str]) -> String {
    let list = exprs.join(", ");
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({list}))"),
        Backend::Postgres => {
            format!("COALESCE(CAST(json_agg(json_build_array({list})) AS TEXT), '[]')")
        }
    }
}

/// Runs `sql`, whose one row has one column `rows` built by [`json_agg`], with `binds` as
/// text parameters, and decodes it into `T` (a tuple per row).
pub(crate) async fn fetch_json_rows<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    sql: &str,
    binds: &[&str],
) -> Result<Vec<T>, StoreError> {
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let text: Option<String> = query.fetch_one(&mut *conn).await?.try_get("rows")?;
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|error| StoreError::Corrupt(format!("bulk read of stored rows: {error}"))),
    }
}

/// Runs `sql`, whose `$1` is a [`json_rows`] source, with `rows` as that parameter and
/// `binds` as `$2`, `$3`, ... (text).
pub(crate) async fn execute_rows<T: serde::Serialize>(
    conn: &mut AnyConnection,
    sql: &str,
    rows: &[T],
    binds: &[&str],
) -> Result<(), StoreError> {
    let mut query = sqlx::query(sql).bind(to_json(rows)?);
    for bind in binds {
        query = query.bind(*bind);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Serialises rows for a [`json_rows`] parameter.
pub(crate) fn to_json<T: serde::Serialize>(rows: &[T]) -> Result<String, StoreError> {
    serde_json::to_string(rows)
        .map_err(|error| StoreError::Corrupt(format!("rows do not serialize: {error}")))
}

/// Rows one apply adds or removes from which the planner's statistics of the tables it
/// wrote are refreshed, in its transaction.
pub(crate) const ANALYZE_AFTER_ROWS: usize = 10_000;

/// After an apply that added or removed many rows (a first load), refreshes PostgreSQL's
/// planner statistics of `tables` inside the transaction (they commit with it; shifts
/// within tables that kept their size wait for the commit: `after_commit`). Without
/// them, tables filled by a first load look empty until autovacuum gets to them, and the
/// planner picks nested loops that do not finish (the Reclaim query with a manager filter
/// ran for minutes). SQLite is left without statistics on purpose: with sampled ones
/// (`analysis_limit`) its planner turned a bulk `UPDATE ... FROM json_each(...)` into a
/// nested scan that did not finish, and its guesses serve the licence queries.
pub(crate) async fn analyze_after_large_write(
    conn: &mut AnyConnection,
    backend: Backend,
    rows_added_or_removed: usize,
    tables: &[&str],
) -> Result<(), StoreError> {
    if backend == Backend::Postgres && rows_added_or_removed >= ANALYZE_AFTER_ROWS {
        sqlx::query(&format!("ANALYZE {}", tables.join(", ")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A subquery yielding the strings of the JSON array bound at `$param` (for `IN (...)`).
pub(crate) fn json_texts(backend: Backend, param: usize) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each(${param})"),
        Backend::Postgres => {
            format!("SELECT jsonb_array_elements_text(CAST(CAST(${param} AS TEXT) AS jsonb))")
        }
    }
}
