//! Verification of one scanned code, online (the services, then the
//! evidence checked and the cached checkpoint moved forward) or offline
//! (a stored bundle, with what that cannot show said plainly).

use chrono::{NaiveDate, SecondsFormat, Utc};

use crate::assess::{assess, Context, Mode};
use crate::client::{Http, HttpError, Ledger, PharmacyService};
use crate::code::{CodeError, PackCode};
use crate::evidence::Trust;
use crate::input::Scan;
use crate::plan::Setup;
use crate::report::Report;
use crate::store::{Bundle, Fetched, Gathered, Store, StoreError, BUNDLE_VERSION};

/// The outcome of verifying one scan.
pub enum Verification {
    Report(Box<Report>),
    /// The payload is not a pack's code (exit 2).
    Unreadable {
        source: String,
        error: CodeError,
    },
}

/// Verifies codes with one configuration.
pub struct Verifier<'s> {
    setup: &'s Setup,
    http: Http,
    store: Store,
    today: NaiveDate,
}

impl<'s> Verifier<'s> {
    pub fn new(setup: &'s Setup) -> Result<Self, HttpError> {
        Ok(Self {
            setup,
            http: Http::new(setup.config.timeout, &setup.config.extra_roots)?,
            store: Store::new(&setup.config.state_dir),
            today: Utc::now().date_naive(),
        })
    }

    fn ledger(&self) -> Option<Ledger<'_>> {
        self.setup
            .ledger_url
            .as_deref()
            .map(|url| Ledger::new(&self.http, url))
    }

    /// What an assessment needs besides the evidence: the keys to trust,
    /// the cached checkpoint, this party and today.
    fn context<'a>(&'a self, trust: &'a Trust<'a>, mode: Mode<'a>) -> Context<'a> {
        Context {
            trust,
            cached: self
                .store
                .cached_checkpoint(&self.setup.log_key)
                .map_err(|e| e.to_string()),
            party_gln: self.setup.config.party_gln.as_ref(),
            today: self.today,
            mode,
        }
    }

    fn trust(&self) -> Trust<'_> {
        Trust {
            log: &self.setup.log_key,
            witnesses: &self.setup.config.witnesses,
            quorum: self.setup.config.witness_quorum,
        }
    }

    /// Asks the services about `code`: the status (from the pharmacy
    /// service when one is configured, else the ledger), the provenance
    /// (signed with the party key), and the cosigned checkpoint.
    pub fn gather(&self, code: &PackCode) -> Gathered {
        let no_ledger = || "no ledger configured".to_string();
        let ledger = self.ledger();
        let (status_source, status) = match &self.setup.config.pharmacy {
            Some(pharmacy) => (
                "pharmacy",
                Fetched::from_result(
                    PharmacyService::new(&self.http, pharmacy).verify(&code.payload),
                ),
            ),
            None => (
                "ledger",
                match &ledger {
                    Some(ledger) => Fetched::from_result(
                        ledger.scan(&code.payload, self.setup.party_key.as_ref()),
                    ),
                    None => Fetched::NotAsked {
                        reason: no_ledger(),
                    },
                },
            ),
        };
        let provenance = match (&ledger, &self.setup.party_key) {
            (Some(ledger), Some(key)) => Fetched::from_result(ledger.provenance(&code.payload, key)),
            (None, _) => Fetched::NotAsked { reason: no_ledger() },
            (Some(_), None) => Fetched::NotAsked {
                reason: "no party key is configured (party_key_file, PEDIGREE_SCAN_PARTY_KEY_FILE): provenance is given only to signed requests of parties in the pack's chain".into(),
            },
        };
        let cosigned_checkpoint = match (&ledger, &provenance) {
            (Some(ledger), Fetched::Got { value }) => {
                Fetched::from_result(ledger.checkpoint_at(value.tree_size))
            }
            _ => Fetched::NotAsked {
                reason: "no provenance to check cosignatures for".into(),
            },
        };
        Gathered {
            status_source: status_source.into(),
            status,
            provenance,
            cosigned_checkpoint,
        }
    }

    /// Verifies online and caches the checkpoint when it moved forward.
    /// A cache that cannot be written is reported on standard error: the
    /// verdict stands, but the next run compares with an older checkpoint.
    pub fn verify_online(&self, scan: &Scan) -> Verification {
        let code = match PackCode::read(&scan.payload) {
            Ok(code) => code,
            Err(error) => {
                return Verification::Unreadable {
                    source: scan.source.clone(),
                    error,
                }
            }
        };
        let gathered = self.gather(&code);
        Verification::Report(Box::new(self.assess_online(&code, &scan.source, &gathered)))
    }

    fn assess_online(&self, code: &PackCode, source: &str, gathered: &Gathered) -> Report {
        let ledger = self.ledger();
        let fetch = |old: u64, new: u64| match &ledger {
            Some(ledger) => ledger.consistency(old, new),
            None => Err(HttpError::NotSent {
                reason: "no ledger configured".into(),
            }),
        };
        let trust = self.trust();
        let context = self.context(&trust, Mode::Online(&fetch));
        let assessment = assess(code, source, gathered, &context);
        if let Some(checkpoint) = &assessment.cache {
            if let Err(error) = self.store.store_checkpoint(&self.setup.log_key, checkpoint) {
                eprintln!("pedigree-scan: warning: cannot cache the checkpoint: {error}");
            }
        }
        assessment.report
    }

    /// Verifies from the stored bundle of the scanned pack. A missing or
    /// unusable bundle leaves nothing to verify with: CANNOT VERIFY.
    pub fn verify_offline(&self, scan: &Scan) -> Verification {
        let code = match PackCode::read(&scan.payload) {
            Ok(code) => code,
            Err(error) => {
                return Verification::Unreadable {
                    source: scan.source.clone(),
                    error,
                }
            }
        };
        let missing = |reason: String| Gathered {
            status_source: "bundle".into(),
            status: Fetched::NotAsked {
                reason: reason.clone(),
            },
            provenance: Fetched::NotAsked {
                reason: reason.clone(),
            },
            cosigned_checkpoint: Fetched::NotAsked { reason },
        };
        let (gathered, fetched_at) = match self.store.load_bundle(&code.pack) {
            Ok(Some(bundle)) => (bundle.evidence, Some(bundle.fetched_at)),
            Ok(None) => (
                missing(format!(
                    "no evidence bundle is stored for this pack ({}); run `pedigree-scan fetch` while online",
                    self.store.bundle_path(&code.pack).display()
                )),
                None,
            ),
            Err(error) => (missing(format!("the stored bundle cannot be used: {error}")), None),
        };
        let trust = self.trust();
        let context = self.context(
            &trust,
            Mode::Offline {
                fetched_at: fetched_at.as_deref(),
            },
        );
        let report = assess(&code, &scan.source, &gathered, &context).report;
        Verification::Report(Box::new(report))
    }

    /// Fetches, verifies and stores the bundle of one scan. The bundle is
    /// stored unless the verification could not be done (CANNOT VERIFY):
    /// evidence that does not verify now is not kept for later.
    pub fn fetch(
        &self,
        scan: &Scan,
    ) -> Result<(Verification, Option<std::path::PathBuf>), StoreError> {
        let code = match PackCode::read(&scan.payload) {
            Ok(code) => code,
            Err(error) => {
                return Ok((
                    Verification::Unreadable {
                        source: scan.source.clone(),
                        error,
                    },
                    None,
                ))
            }
        };
        let fetched_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let gathered = self.gather(&code);
        let report = self.assess_online(&code, &scan.source, &gathered);
        let stored = if report.verdict == crate::report::Verdict::CannotVerify {
            None
        } else {
            let bundle = Bundle {
                version: BUNDLE_VERSION,
                fetched_at,
                code: code.payload.clone(),
                evidence: gathered,
            };
            Some(self.store.store_bundle(&code.pack, &bundle)?)
        };
        Ok((Verification::Report(Box::new(report)), stored))
    }
}
