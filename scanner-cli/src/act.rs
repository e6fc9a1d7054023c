//! `dispense`, `destroy` and `return`: a verification first, then the
//! pharmacy service records the act (it signs the event and sends it to the
//! ledger). The scanner never acts on a pack it could not verify.

use serde::Serialize;

use crate::cli::DestroyReason;
use crate::client::{Http, HttpError, PharmacyService};
use crate::config::Pharmacy;
use crate::exit::Exit;
use crate::plan::{Setup, Sources};
use crate::report::{Report, Verdict};
use crate::sources::{self, Unreadable};
use crate::verify::{Verification, Verifier};

/// What was done, as printed.
#[derive(Debug, Serialize)]
struct Outcome {
    action: &'static str,
    done: bool,
    /// Why the act was not asked for, or what the service said.
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    verification: Vec<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<HttpError>,
}

impl Outcome {
    fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
            return;
        }
        for report in &self.verification {
            print!("{}", report.to_text());
        }
        let word = match (self.action, self.done) {
            ("dispense", true) => "DISPENSED",
            ("undo_dispense", true) => "DISPENSE UNDONE",
            ("destroy", true) => "DECOMMISSIONED",
            ("return", true) => "RETURN SHIPPED",
            (_, false) => "NOT DONE",
            (_, true) => "DONE",
        };
        println!("{word}: {}", self.message);
    }
}

/// The exit code of a service's refusal: 409/410/422 refuse the act (1),
/// other 4xx say the request or token is wrong (2), the rest is the
/// service being unreachable or failing (3).
fn exit_of(error: &HttpError) -> Exit {
    match error.status() {
        Some(409 | 410 | 422) => Exit::Refused,
        Some(400..=499) => Exit::Usage,
        _ => Exit::Unverified,
    }
}

fn unreadable(error: &Unreadable, json: bool) -> Exit {
    if json {
        println!("{}", error.to_json());
    } else {
        print!("{}", error.to_text());
    }
    Exit::Usage
}

/// Verifies one scanned pack online.
fn verify_one(setup: &Setup, sources: &Sources) -> Result<(String, Report), Unreadable> {
    let scan = sources::read_one(sources)?;
    let verifier =
        Verifier::new(setup).map_err(|e| Unreadable::new("client", e.to_string(), &scan.source))?;
    match verifier.verify_online(&scan) {
        Verification::Report(report) => Ok((scan.payload, *report)),
        Verification::Unreadable { source, error } => {
            Err(Unreadable::new(error.code(), error.to_string(), &source))
        }
    }
}

/// Sends the act and turns the answer into an outcome and exit code.
fn perform(
    action: &'static str,
    verification: Vec<Report>,
    json: bool,
    request: impl FnOnce() -> Result<serde_json::Value, HttpError>,
) -> Exit {
    let (outcome, exit) = match request() {
        Ok(response) => (
            Outcome {
                action,
                done: true,
                message: "accepted by the pharmacy service".into(),
                verification,
                response: Some(response),
                error: None,
            },
            Exit::Ok,
        ),
        Err(error) => {
            let exit = exit_of(&error);
            (
                Outcome {
                    action,
                    done: false,
                    message: error.to_string(),
                    verification,
                    response: None,
                    error: Some(error),
                },
                exit,
            )
        }
    };
    outcome.print(json);
    exit
}

fn not_done(
    action: &'static str,
    message: String,
    verification: Vec<Report>,
    json: bool,
    exit: Exit,
) -> Exit {
    Outcome {
        action,
        done: false,
        message,
        verification,
        response: None,
        error: None,
    }
    .print(json);
    exit
}

/// Dispenses a pack the verification says is OK to dispense.
pub fn dispense(setup: &Setup, pharmacy: &Pharmacy, sources: &Sources, json: bool) -> Exit {
    let (payload, report) = match verify_one(setup, sources) {
        Ok(verified) => verified,
        Err(error) => return unreadable(&error, json),
    };
    if report.verdict != Verdict::OkToDispense {
        let exit = report.verdict.exit();
        let message = format!("the verification says {}", report.headline);
        return not_done("dispense", message, vec![report], json, exit);
    }
    let http = match Http::new(setup.config.timeout, &setup.config.extra_roots) {
        Ok(http) => http,
        Err(error) => {
            return not_done(
                "dispense",
                error.to_string(),
                vec![report],
                json,
                Exit::Unverified,
            )
        }
    };
    perform("dispense", vec![report], json, || {
        PharmacyService::new(&http, pharmacy).dispense(&payload)
    })
}

/// Undoes a dispense (the ledger's rules decide whether it may be).
pub fn undo_dispense(
    pharmacy: &Pharmacy,
    sources: &Sources,
    json: bool,
    timeout: std::time::Duration,
    extra_roots: &[reqwest::Certificate],
) -> Exit {
    let scan = match sources::read_one(sources) {
        Ok(scan) => scan,
        Err(error) => return unreadable(&error, json),
    };
    if let Err(error) = crate::code::PackCode::read(&scan.payload) {
        return unreadable(
            &Unreadable::new(error.code(), error.to_string(), &scan.source),
            json,
        );
    }
    let http = match Http::new(timeout, extra_roots) {
        Ok(http) => http,
        Err(error) => {
            return not_done(
                "undo_dispense",
                error.to_string(),
                Vec::new(),
                json,
                Exit::Unverified,
            )
        }
    };
    perform("undo_dispense", Vec::new(), json, || {
        PharmacyService::new(&http, pharmacy).undo_dispense(&scan.payload)
    })
}

/// Decommissions a pack as destroyed or stolen, once its evidence verified
/// (expired, recalled or otherwise unsaleable packs may be destroyed).
pub fn destroy(
    setup: &Setup,
    pharmacy: &Pharmacy,
    sources: &Sources,
    reason: DestroyReason,
    json: bool,
) -> Exit {
    let (payload, report) = match verify_one(setup, sources) {
        Ok(verified) => verified,
        Err(error) => return unreadable(&error, json),
    };
    if report.verdict == Verdict::CannotVerify {
        let message = "the pack could not be verified, so it is not decommissioned".to_string();
        return not_done("destroy", message, vec![report], json, Exit::Unverified);
    }
    let http = match Http::new(setup.config.timeout, &setup.config.extra_roots) {
        Ok(http) => http,
        Err(error) => {
            return not_done(
                "destroy",
                error.to_string(),
                vec![report],
                json,
                Exit::Unverified,
            )
        }
    };
    let reason = match reason {
        DestroyReason::Destroyed => "destroyed",
        DestroyReason::Stolen => "stolen",
    };
    perform("destroy", vec![report], json, || {
        PharmacyService::new(&http, pharmacy).decommission(&payload, reason)
    })
}

/// Ships packs back to a supplier when every one verifies as saleable.
pub fn return_packs(
    setup: &Setup,
    pharmacy: &Pharmacy,
    sources: &Sources,
    shipment_id: &str,
    to: &str,
    json: bool,
) -> Exit {
    let inputs = match sources::read(sources) {
        Ok(inputs) => inputs,
        Err(error) => return unreadable(&error, json),
    };
    let verifier = match Verifier::new(setup) {
        Ok(verifier) => verifier,
        Err(error) => {
            return not_done(
                "return",
                error.to_string(),
                Vec::new(),
                json,
                Exit::Unverified,
            )
        }
    };
    let mut reports = Vec::new();
    let mut payloads = Vec::new();
    for input in inputs {
        let scan = match input {
            Ok(scan) => scan,
            Err(error) => return unreadable(&error, json),
        };
        match verifier.verify_online(&scan) {
            Verification::Report(report) => reports.push(*report),
            Verification::Unreadable { source, error } => {
                return unreadable(
                    &Unreadable::new(error.code(), error.to_string(), &source),
                    json,
                )
            }
        }
        payloads.push(scan.payload);
    }
    let worst = reports
        .iter()
        .fold(Exit::Ok, |exit, r| exit.and(r.verdict.exit()));
    if worst != Exit::Ok {
        let message =
            "every pack must verify OK TO DISPENSE (saleable) to be returned; nothing was returned"
                .to_string();
        return not_done("return", message, reports, json, worst);
    }
    let http = match Http::new(setup.config.timeout, &setup.config.extra_roots) {
        Ok(http) => http,
        Err(error) => {
            return not_done("return", error.to_string(), reports, json, Exit::Unverified)
        }
    };
    perform("return", reports, json, || {
        PharmacyService::new(&http, pharmacy).returns(shipment_id, to, &payloads)
    })
}
