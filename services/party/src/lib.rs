//! `pedigree-party`: what every Pedigree trading-partner service shares — its configuration
//! and key ([`PartyConfig`]), its database ([`db`]), operator authentication ([`Operator`]),
//! the outbox of signed events ([`Outbox`]) and the task that delivers it ([`sender`]), the
//! ledger client ([`LedgerClient`]), the witness of the log ([`Witness`]), and the HTTP
//! service that puts them together with a role's own routes ([`PartyApp`]).

pub mod config;
pub mod db;
pub mod epcis;
pub mod error;
pub mod http;
pub mod ledger;
pub mod operator;
pub mod outbox;
pub mod scan;
pub mod sender;
pub mod trade;
pub mod witness;

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web::{self, Data};
use actix_web::{App, HttpResponse, HttpServer};
use pedigree_schema::event::Role;
use pedigree_schema::gs1::Gln;
use pedigree_schema::note::NoteError;
use tokio::sync::watch;

pub use crate::config::{ConfigError, PartyConfig, PartyTls};
use crate::db::Database;
pub use crate::error::PartyError;
pub use crate::ledger::{AppendResult, LedgerClient, LedgerError};
pub use crate::operator::{create_operator_token, Operator};
pub use crate::outbox::{Operation, Outbox, OutboxItem, OutboxStatus};
use crate::sender::Sender;
pub use crate::witness::{Alert, Witness, WitnessStatus};

/// Largest request body a party service accepts (a commissioning of a million serials is
/// about 25 MB of JSON).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// How long a client may take to send a request head; a slow client (slowloris) is then
/// answered 408 and dropped. Connections are served concurrently, so it blocks no one meanwhile.
pub const CLIENT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a party service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] db::OpenError),
    #[error("ledger client: {0}")]
    Ledger(#[from] LedgerError),
    #[error("the party's GLN is not a valid witness key name: {0}")]
    WitnessName(#[from] NoteError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// Its own message says what to configure.
    #[error(transparent)]
    Tls(#[from] pedigree_tls::TlsError),
}

/// The party's shared state; handlers get it as `web::Data<Party>`.
pub struct Party {
    config: PartyConfig,
    db: Database,
    outbox: Outbox,
    ledger: LedgerClient,
    witness: Witness,
}

impl Party {
    /// Opens (creating and migrating if needed) the party database and sets up the outbox,
    /// the ledger client and the witness. Starts no task: see [`PartyApp`].
    pub fn open(config: PartyConfig) -> Result<Self, StartError> {
        let db = db::open(&config.database_url, config.pool_size)?;
        let ledger = match &config.tls.ledger_ca_cert {
            Some(ca_cert) => {
                LedgerClient::with_extra_ca(&config.ledger_url, config.key.clone(), ca_cert)?
            }
            None => LedgerClient::new(&config.ledger_url, config.key.clone())?,
        };
        let outbox = Outbox::new(db.clone(), config.gln.clone(), config.key.clone());
        let witness = Witness::new(
            db.clone(),
            ledger.clone(),
            config.log_verifier.clone(),
            &config.gln,
            &config.key,
        )?;
        Ok(Self {
            config,
            db,
            outbox,
            ledger,
            witness,
        })
    }

    pub fn gln(&self) -> &Gln {
        &self.config.gln
    }

    pub fn role(&self) -> Role {
        self.config.role
    }

    pub fn config(&self) -> &PartyConfig {
        &self.config
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn ledger(&self) -> &LedgerClient {
        &self.ledger
    }

    pub fn witness(&self) -> &Witness {
        &self.witness
    }
}

/// The party's HTTP service: the common routes ([`http::routes`]) and the role's routes, with
/// the outbox sender and the witness running beside it.
pub struct PartyApp {
    port: u16,
    server: Server,
    party: Data<Party>,
}

impl PartyApp {
    /// Opens the party (see [`Party::open`]) and binds the listener (port 0 picks a free
    /// port; see [`PartyApp::port`]). Nothing runs until [`PartyApp::run_until_stopped`].
    pub fn build(
        config: PartyConfig,
        role_routes: fn(&mut web::ServiceConfig),
    ) -> Result<Self, StartError> {
        let tls = config
            .tls
            .server
            .rustls_config(config.listen, config::TLS_HOW_TO_CONFIGURE)?;
        let listener = TcpListener::bind(config.listen)?;
        let port = listener.local_addr()?.port();
        let party = Data::new(Party::open(config)?);
        let state = party.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(json_config())
                .app_data(web::PathConfig::default().error_handler(|e, _| {
                    PartyError::bad_request("bad_path", e.to_string()).into()
                }))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    PartyError::bad_request("bad_query", e.to_string()).into()
                }))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(http::routes)
                .configure(role_routes)
                .wrap(actix_web::middleware::from_fn(operator::require_operator))
                .default_service(web::to(not_found))
        })
        .client_request_timeout(CLIENT_REQUEST_TIMEOUT);
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        tracing::info!(
            port,
            scheme = party.config.tls.server.scheme(),
            gln = %party.gln(),
            role = party.role().as_str(),
            "party service listening"
        );
        Ok(Self {
            port,
            server,
            party,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The party's shared state (e.g. to create an operator token before serving).
    pub fn party(&self) -> &Party {
        &self.party
    }

    /// A handle to stop the server gracefully; [`PartyApp::run_until_stopped`] then stops the
    /// sender and the witness too.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves, delivers the outbox and witnesses the log until the server is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let party = &self.party;
        let sender = Sender {
            outbox: party.outbox.clone(),
            ledger: party.ledger.clone(),
            witness: party.witness.clone(),
            log: party.config.log_verifier.clone(),
            retry_max: party.config.retry_max,
        };
        let sender = tokio::spawn(sender.run(stopped.clone()));
        let witness = tokio::spawn(witness::run(
            party.witness.clone(),
            party.config.witness_interval,
            stopped,
        ));
        let served = self.server.await;
        // Both tasks finish what they are doing (each step is bounded by the ledger
        // client's timeouts) and stop.
        let _ = stop.send(true);
        for task in [sender, witness] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a party background task failed");
            }
        }
        served
    }
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|error, _| {
            use actix_web::error::JsonPayloadError;
            let error = match &error {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => PartyError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                },
                JsonPayloadError::ContentType => PartyError::bad_request(
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                ),
                JsonPayloadError::Deserialize(e) => {
                    PartyError::bad_request("malformed_json", e.to_string())
                }
                other => PartyError::bad_request("malformed_body", other.to_string()),
            };
            error.into()
        })
}

async fn not_found() -> Result<HttpResponse, PartyError> {
    Err(PartyError::not_found("no such endpoint"))
}
