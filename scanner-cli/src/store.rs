//! The scanner's state directory: the last verified checkpoint of each
//! trusted log (to check that the log only ever grows, never forks) and
//! evidence bundles fetched for offline verification.
//!
//! ```text
//! <state_dir>/checkpoint-<log key ID, 8 hex digits>   signed note text
//! <state_dir>/bundles/<GTIN>-<serial as hex>.json     see [`Bundle`]
//! ```
//!
//! Files are replaced atomically (written beside, then renamed), so an
//! interrupted run never leaves half a checkpoint.

use std::path::{Path, PathBuf};

use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::gs1::PackId;
use pedigree_schema::note::NoteVerifier;
use serde::{Deserialize, Serialize};

use crate::client::HttpError;
use crate::wire::{PackStatus, Provenance};

/// Format version of bundle files.
pub const BUNDLE_VERSION: u32 = 1;

/// What a request gave: the answer, the error, or why it was not made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Fetched<T> {
    Got { value: T },
    Failed { error: HttpError },
    NotAsked { reason: String },
}

impl<T> Fetched<T> {
    pub fn from_result(result: Result<T, HttpError>) -> Self {
        match result {
            Ok(value) => Fetched::Got { value },
            Err(error) => Fetched::Failed { error },
        }
    }

    /// The value, or a sentence saying why there is none.
    pub fn as_result(&self) -> Result<&T, String> {
        match self {
            Fetched::Got { value } => Ok(value),
            Fetched::Failed { error } => Err(error.to_string()),
            Fetched::NotAsked { reason } => Err(reason.clone()),
        }
    }
}

/// Everything the services said about one pack: status, provenance, and the
/// cosigned checkpoint at the provenance's tree size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gathered {
    /// `ledger` or `pharmacy`: who gave the status.
    pub status_source: String,
    pub status: Fetched<PackStatus>,
    pub provenance: Fetched<Provenance>,
    pub cosigned_checkpoint: Fetched<String>,
}

/// An evidence bundle stored by `pedigree-scan fetch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub version: u32,
    /// RFC 3339 UTC time of the fetch.
    pub fetched_at: String,
    /// The payload the evidence was fetched for.
    pub code: String,
    pub evidence: Gathered,
}

/// Why a stored file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a checkpoint signed by the configured log key ({reason}); if the log key was changed on purpose, remove the file")]
    BadCheckpoint { path: PathBuf, reason: String },
    #[error("{path} is not an evidence bundle this scanner reads: {reason}")]
    BadBundle { path: PathBuf, reason: String },
}

/// The state directory.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn checkpoint_path(&self, log: &NoteVerifier) -> PathBuf {
        self.dir.join(format!("checkpoint-{:08x}", log.key_id()))
    }

    /// The cached checkpoint of `log`, verified again under its key.
    pub fn cached_checkpoint(
        &self,
        log: &NoteVerifier,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        let path = self.checkpoint_path(log);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        SignedCheckpoint::parse_and_verify(&text, log)
            .map(Some)
            .map_err(|e| StoreError::BadCheckpoint {
                path,
                reason: e.to_string(),
            })
    }

    /// Caches `checkpoint` as the latest seen of `log`.
    pub fn store_checkpoint(
        &self,
        log: &NoteVerifier,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(), StoreError> {
        self.write(
            &self.checkpoint_path(log),
            checkpoint.to_string().as_bytes(),
        )
    }

    /// Where the bundle of `pack` lives. The serial is hex-encoded: it may
    /// hold `/` and other characters that file names cannot.
    pub fn bundle_path(&self, pack: &PackId) -> PathBuf {
        let serial: String = pack
            .serial
            .as_str()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir
            .join("bundles")
            .join(format!("{}-{serial}.json", pack.gtin))
    }

    pub fn store_bundle(&self, pack: &PackId, bundle: &Bundle) -> Result<PathBuf, StoreError> {
        let path = self.bundle_path(pack);
        let json = serde_json::to_vec_pretty(bundle).map_err(|e| StoreError::BadBundle {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        self.write(&path, &json)?;
        Ok(path)
    }

    /// The stored bundle of `pack`, if any.
    pub fn load_bundle(&self, pack: &PackId) -> Result<Option<Bundle>, StoreError> {
        let path = self.bundle_path(pack);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let bundle: Bundle = serde_json::from_slice(&bytes).map_err(|e| StoreError::BadBundle {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if bundle.version != BUNDLE_VERSION {
            return Err(StoreError::BadBundle {
                path,
                reason: format!(
                    "format version {}, this scanner reads {BUNDLE_VERSION}",
                    bundle.version
                ),
            });
        }
        Ok(Some(bundle))
    }

    /// Writes `bytes` to `path` atomically, creating directories as needed.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", std::process::id()));
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, bytes).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}
