//! `pedigree-ledger`: the shared, append-only, Merkle-chained log of signed
//! custody events, as a library ([`Application::build`]) with a thin binary.
//!
//! See `ARCHITECTURE.md` for the map; in short: [`http`] parses and maps
//! errors, [`log`] prepares and appends (through the single [`writer`]
//! thread), [`custody`] holds the rules and derives the state, [`tree`]
//! stores the Merkle tree, [`queries`] answers, [`audit`] replays.

/// Runs the same diesel statement on whichever backend `conn` is.
///
/// `MultiConnection` cannot express multi-row `INSERT … VALUES (…), (…)`
/// (the backends disagree on the `DEFAULT` keyword), so batch inserts — the
/// bulk paths of commissioning and appending — are written once and
/// dispatched per backend here.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod custody;
pub mod dashboard;
pub mod db;
pub mod epcis;
pub mod error;
pub mod http;
pub mod log;
pub mod queries;
pub mod recalls;
pub mod rejection;
pub mod risk;
pub mod settings;
pub mod tree;
pub mod writer;

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web::{self, Data};
use actix_web::{App, HttpResponse};
use pedigree_schema::note::{KeyName, NoteSigner};

use crate::db::{Database, DatabaseSettings, DatabaseUrl};
use crate::error::ApiError;
use crate::http::AppState;
use crate::log::{Appender, LogIdentity};
pub use crate::settings::Settings;
use crate::writer::LogWriter;

/// Why the ledger could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] db::DbError),
    #[error("database URL: {0}")]
    DatabaseUrl(#[from] db::ConfigError),
    #[error("log: {0}")]
    Log(#[from] log::LogError),
    #[error("log origin {origin:?} is not a valid key name: {reason}")]
    Origin { origin: String, reason: String },
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("risk model: {0}")]
    RiskModel(#[from] pedigree_risk::ModelError),
    /// Its own message says what to configure.
    #[error(transparent)]
    Tls(#[from] pedigree_tls::TlsError),
}

/// Opens (creating and migrating if needed) the ledger database.
pub fn open_database(url: &str, pool_size: u32) -> Result<Database, StartError> {
    let url = DatabaseUrl::parse(url)?;
    if url.backend() == db::Backend::Sqlite {
        let path = std::path::Path::new(url.as_str().trim_start_matches("sqlite://"));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
    }
    let pool_size =
        std::num::NonZeroU32::new(pool_size).unwrap_or(DatabaseSettings::DEFAULT_POOL_SIZE);
    let settings =
        DatabaseSettings::new(url, pool_size, DatabaseSettings::DEFAULT_CONNECTION_TIMEOUT)?;
    let database = Database::open(settings)?;
    db::run_pending_migrations(&mut database.dedicated_connection()?)?;
    Ok(database)
}

/// The log's identity from its settings.
pub fn log_identity(settings: &Settings) -> Result<LogIdentity, StartError> {
    let name = KeyName::parse(&settings.origin).map_err(|e| StartError::Origin {
        origin: settings.origin.clone(),
        reason: e.to_string(),
    })?;
    Ok(LogIdentity {
        origin: settings.origin.clone(),
        signer: NoteSigner::new(name, settings.log_key.signing_key().clone()),
    })
}

/// How long a client may take to send a request head; a slow client (slowloris) is then
/// answered 408 and dropped. Connections are served concurrently, so it blocks no one meanwhile.
pub const CLIENT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A built, bound, not yet running ledger.
pub struct Application {
    port: u16,
    server: Server,
    writer_thread: JoinHandle<()>,
}

impl Application {
    /// Opens the database, migrates it, starts the writer and binds the
    /// listener (port 0 picks a free port; see [`Application::port`]).
    pub fn build(settings: Settings) -> Result<Self, StartError> {
        // Refuse plain HTTP on an open address before touching the database.
        let tls = settings
            .tls
            .rustls_config(settings.listen, settings::TLS_HOW_TO_CONFIGURE)?;
        let database = open_database(&settings.database_url, settings.pool_size)?;
        let identity = log_identity(&settings)?;
        let log_verifier = identity.verifier();
        let appender = Appender::open(
            database.dedicated_connection()?,
            identity,
            settings.governance_key,
            settings.max_event_age,
        )?;
        let (writer, writer_thread) = LogWriter::spawn(appender, settings.max_group_events)?;
        let state = Arc::new(AppState {
            db: database,
            writer,
            origin: settings.origin.clone(),
            log_verifier,
            governance_key: settings.governance_key,
            risk: risk::RiskEngine::new(pedigree_risk::Scorer::shipped()?),
            // Half the pool: reads and appends keep connections while scoring is busy.
            scoring: Arc::new(tokio::sync::Semaphore::new(
                (settings.pool_size as usize / 2).max(1),
            )),
            replay_guard: auth::ReplayGuard::new(chrono::Utc::now(), settings.request_window_secs),
        });
        let listener = TcpListener::bind(settings.listen)?;
        let port = listener.local_addr()?.port();
        let max_body = settings.max_body_bytes;
        let server =
            actix_web::HttpServer::new(move || {
                App::new()
                    .app_data(Data::new(state.clone()))
                    .app_data(json_config(max_body))
                    .app_data(web::PathConfig::default().error_handler(|e, _| {
                        ApiError::bad_request("bad_path", e.to_string()).into()
                    }))
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        ApiError::bad_request("bad_query", e.to_string()).into()
                    }))
                    .app_data(web::PayloadConfig::new(max_body))
                    .configure(http::routes)
                    .default_service(web::to(not_found))
            })
            .client_request_timeout(CLIENT_REQUEST_TIMEOUT);
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        tracing::info!(port, scheme = settings.tls.scheme(), "ledger listening");
        Ok(Self {
            port,
            server,
            writer_thread,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully (a signal handler, a test);
    /// [`Application::run_until_stopped`] then returns once the writer has
    /// committed what it was given.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then lets the writer finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await?;
        // The server (and with it every writer handle) is gone: the writer
        // drains what it has and stops. Joining blocks, so not on this task.
        let writer = self.writer_thread;
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        Ok(())
    }
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _| {
            use actix_web::error::JsonPayloadError;
            let api = match &error {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::PayloadTooLarge { limit },
                JsonPayloadError::ContentType => ApiError::bad_request(
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                ),
                JsonPayloadError::Deserialize(e) => {
                    ApiError::bad_request("malformed_json", e.to_string())
                }
                other => ApiError::bad_request("malformed_body", other.to_string()),
            };
            api.into()
        })
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}
