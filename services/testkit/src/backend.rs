//! The database engines a scenario runs on, and [`both_backends!`](crate::both_backends) to run
//! it on each.

use pedigree_ledger::db::testing::{TestDatabase, POSTGRES_URL_VAR};

/// Which database engine a scenario's ledger and parties run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Whether `PEDIGREE_TEST_POSTGRES_URL` names a server; when it does not, says on stderr
    /// that the PostgreSQL part of the test is skipped.
    pub fn postgres_is_configured() -> bool {
        let set = std::env::var(POSTGRES_URL_VAR).is_ok_and(|url| !url.trim().is_empty());
        if !set {
            eprintln!("skipping the PostgreSQL part of this test: {POSTGRES_URL_VAR} is unset");
        }
        set
    }

    /// A fresh, empty database on this backend, deleted when dropped.
    ///
    /// # Panics
    /// On [`Backend::Postgres`] when no server is configured (check
    /// [`Backend::postgres_is_configured`] first), and when the database cannot be made.
    pub fn database(self) -> TestDatabase {
        match self {
            Self::Sqlite => TestDatabase::sqlite(),
            Self::Postgres => TestDatabase::postgres().expect("PostgreSQL is configured"),
        }
    }
}

/// A scenario that needs a single database takes it directly: `both_backends!` passes
/// `backend.into()`, which is a [`Backend`] or a fresh [`TestDatabase`] on it.
impl From<Backend> for TestDatabase {
    fn from(backend: Backend) -> Self {
        backend.database()
    }
}

/// Writes the `#[tokio::test]`s of scenarios written once as `async fn scenario(arg)`:
/// `sqlite::<scenario>` always, and `postgres::<scenario>`, which runs when
/// `PEDIGREE_TEST_POSTGRES_URL` is set (and otherwise says why it skips).
///
/// `arg` is a [`Backend`] (for scenarios that make several databases) or a
/// [`TestDatabase`](crate::TestDatabase) (for those that need one). The calling crate needs
/// `tokio` with the `macros` and `rt-multi-thread` features.
///
/// ```text
/// both_backends!(a_scenario, another_scenario);
///
/// async fn a_scenario(db: TestDatabase) { /* … */ }
/// async fn another_scenario(backend: Backend) { /* … */ }
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Sqlite.into()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if $crate::Backend::postgres_is_configured() {
                        super::$scenario($crate::Backend::Postgres.into()).await;
                    }
                }
            )+
        }
    };
}
