//! [`Sql`]: a statement's text and its bound values, with placeholders
//! written for the backend (`$n` on PostgreSQL, `?` on SQLite) in the order
//! values are bound. Statements are plain SQL so the text the server runs
//! is the text EXPLAIN and the benchmark's floor see.
//!
//! Also the pieces every keyset page shares: the row-value bounds, the
//! order and limit, and the `UNION ALL` of one small page per parent.

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Statement, Value};

use crate::page::{Page, PageRequest};

/// A SQL text with its bound values, placeholders written per backend.
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::with_capacity(256), values: Vec::new() }
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// Binds each value, comma-separated (the inside of an `IN (...)`).
    pub fn bind_list<V: Into<Value> + Copy>(&mut self, values: &[V]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            self.push(if i == 0 { "" } else { ", " }).bind(*v);
        }
        self
    }

    /// Appends ` AND (ts, id) <op> (..)` for the page's cursors. The row
    /// comparison lets PostgreSQL and SQLite seek straight into an index on
    /// (ts, id); an AND/OR chain would not.
    pub fn bounds(&mut self, ts: &str, id: &str, page: &PageRequest) -> &mut Self {
        // Further along a newest-first list is older (smaller keys).
        let (further, nearer) = if page.ascending { (">", "<") } else { ("<", ">") };
        if let Some(after) = page.after {
            self.push(&format!(" AND ({ts}, {id}) {further} (")).bind(after.at()).push(", ").bind(after.id).push(")");
        }
        if let Some(before) = page.before {
            self.push(&format!(" AND ({ts}, {id}) {nearer} (")).bind(before.at()).push(", ").bind(before.id).push(")");
        }
        self
    }

    /// Appends the ORDER BY of the list's order (reversed for `last`, which
    /// reads from the far end) and a LIMIT.
    pub fn order_limit(&mut self, ts: &str, id: &str, page: &PageRequest, limit: i64) -> &mut Self {
        let dir = if page.reads_descending() { "DESC" } else { "ASC" };
        self.push(&format!(" ORDER BY {ts} {dir}, {id} {dir} LIMIT ")).bind(limit)
    }

    /// A whole keyset page over (ts, id): the bounds, the order, and one row
    /// more than the page to learn whether more lie beyond, if it peeks.
    pub fn keyset(&mut self, ts: &str, id: &str, page: &PageRequest) -> &mut Self {
        self.bounds(ts, id, page).order_limit(ts, id, page, page.rows())
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Sorts rows of one page into query order (the order of
/// [`Sql::order_limit`]), by their keyset key. Used after a UNION ALL, whose
/// branches SQL does not promise to keep in order.
pub fn sort_for_page<T>(rows: &mut [T], page: &PageRequest, key: impl Fn(&T) -> (DateTime<Utc>, i64)) {
    rows.sort_by(|a, b| {
        let ord = key(b).cmp(&key(a));
        if page.reads_descending() {
            ord
        } else {
            ord.reverse()
        }
    });
}

/// Branches one [`union_all`] statement takes at most: SQLite caps a
/// compound SELECT at 500 terms. Callers with more keys split them.
pub const MAX_BRANCHES: usize = 200;

/// Writes `SELECT * FROM (<branch 0>) b0 UNION ALL SELECT * FROM (<branch 1>) b1 ...`:
/// one statement that runs a small, index-served query per key (each branch
/// seeks its own index range and stops at its LIMIT), the portable form of
/// a LATERAL join. Each branch selects `CAST(<i> AS BIGINT) AS k` first,
/// so rows can be handed back to their key.
pub fn union_all(backend: DbBackend, branches: usize, branch: impl FnMut(&mut Sql, usize)) -> Statement {
    let mut sql = Sql::new(backend);
    push_union_all(&mut sql, branches, branch);
    sql.build()
}

/// Appends [`union_all`]'s text to `sql` (to use it as a subquery).
pub fn push_union_all(sql: &mut Sql, branches: usize, mut branch: impl FnMut(&mut Sql, usize)) {
    for i in 0..branches {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!("SELECT * FROM (SELECT CAST({i} AS BIGINT) AS k, "));
        branch(sql, i);
        sql.push(&format!(") b{i}"));
    }
}

/// Splits the rows of a [`union_all`] back into one page per key, in order.
pub fn split_pages<T>(
    keys: &[PageRequest],
    rows: Vec<(usize, T)>,
    key: impl Fn(&T) -> (DateTime<Utc>, i64),
) -> Vec<Page<T>> {
    let mut groups: Vec<Vec<T>> = keys.iter().map(|_| Vec::new()).collect();
    for (k, row) in rows {
        if let Some(group) = groups.get_mut(k) {
            group.push(row);
        }
    }
    groups
        .into_iter()
        .zip(keys)
        .map(|(mut rows, page)| {
            sort_for_page(&mut rows, page, &key);
            page.into_page(rows)
        })
        .collect()
}
