//! Transactions that write.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;

use crate::connection::DbConnection;

/// Runs `work` in a transaction that will write, taking SQLite's write lock
/// up front.
///
/// A plain (deferred) SQLite transaction starts as a reader; if another
/// connection commits a write before this one writes — the outbox sender, a
/// request recording a nonce, the single writer of the log — SQLite cannot
/// upgrade the stale read snapshot and fails at once with `SQLITE_BUSY`
/// ("database is locked"), without waiting for the busy timeout.
/// `BEGIN IMMEDIATE` takes the write lock first, waiting (busy timeout)
/// behind other writers instead (<https://sqlite.org/lang_transaction.html>).
/// PostgreSQL's row locking needs no such care: it uses a normal transaction.
/// Savepoints opened inside `work` (nested `transaction` calls) nest as usual.
pub fn write_transaction<T, E: From<diesel::result::Error>>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    type Manager = <DbConnection as Connection>::TransactionManager;
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    // The multi-backend connection keeps its transaction state in the
    // backend connection's, so the commit and rollback below, made through
    // `conn`, close the transaction begun on `sqlite`.
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}
