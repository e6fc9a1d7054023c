//! Runs a validated plan and prints its results; returns the exit code.

use crate::code::{parse_ais, PackCode};
use crate::exit::Exit;
use crate::input::Scan;
use crate::plan::{Plan, Setup, Sources};
use crate::sources::{self, Unreadable};
use crate::verify::{Verification, Verifier};
use crate::{act, batch};

pub fn run(plan: Plan) -> Exit {
    match plan {
        Plan::Parse { sources, json } => parse(&sources, json),
        Plan::Verify {
            sources,
            json,
            offline,
            setup,
        } => verify(&sources, json, offline, &setup),
        Plan::Fetch {
            sources,
            json,
            setup,
        } => fetch(&sources, json, &setup),
        Plan::Batch {
            path,
            format,
            output,
            offline,
            setup,
        } => batch::run(&path, format, output.as_deref(), offline, &setup),
        Plan::Dispense {
            sources,
            json,
            setup,
            pharmacy,
        } => act::dispense(&setup, &pharmacy, &sources, json),
        Plan::UndoDispense {
            sources,
            json,
            pharmacy,
            timeout,
            extra_roots,
        } => act::undo_dispense(&pharmacy, &sources, json, timeout, &extra_roots),
        Plan::Destroy {
            sources,
            reason,
            json,
            setup,
            pharmacy,
        } => act::destroy(&setup, &pharmacy, &sources, reason, json),
        Plan::Return {
            sources,
            shipment_id,
            to,
            json,
            setup,
            pharmacy,
        } => act::return_packs(&setup, &pharmacy, &sources, &shipment_id, to.as_str(), json),
    }
}

fn print_unreadable(error: &Unreadable, json: bool) -> Exit {
    if json {
        println!("{}", error.to_json());
    } else {
        print!("{}", error.to_text());
    }
    Exit::Usage
}

/// `parse`: every AI of every code, in code order.
fn parse(sources: &Sources, json: bool) -> Exit {
    let inputs = match sources::read(sources) {
        Ok(inputs) => inputs,
        Err(error) => return print_unreadable(&error, json),
    };
    let several = inputs.len() > 1;
    let mut exit = Exit::Ok;
    for input in inputs {
        let scan = match input {
            Ok(scan) => scan,
            Err(error) => {
                exit = exit.and(print_unreadable(&error, json));
                continue;
            }
        };
        match parse_ais(&scan.payload) {
            Ok(ais) if json => println!("{}", serde_json::json!({ "ais": ais })),
            Ok(ais) => {
                if several {
                    println!("[{}]", scan.source);
                }
                for ai in ais {
                    println!("({}) {:<24} {}", ai.ai, ai.title, ai.value);
                }
            }
            Err(error) => {
                let error = Unreadable::new(error.code(), error.to_string(), &scan.source);
                exit = exit.and(print_unreadable(&error, json));
            }
        }
    }
    exit
}

fn print_verification(verification: &Verification, json: bool) -> Exit {
    match verification {
        Verification::Report(report) => {
            if json {
                println!("{}", serde_json::to_string(report).unwrap_or_default());
            } else {
                print!("{}", report.to_text());
            }
            report.verdict.exit()
        }
        Verification::Unreadable { source, error } => print_unreadable(
            &Unreadable::new(error.code(), error.to_string(), source),
            json,
        ),
    }
}

/// The codes to work on and a verifier for them, or the exit code of the
/// first thing that failed (unreadable input 2, no verifier 3).
fn read_with_verifier<'s>(
    sources: &Sources,
    json: bool,
    setup: &'s Setup,
) -> Result<(Vec<Result<Scan, Unreadable>>, Verifier<'s>), Exit> {
    let inputs = sources::read(sources).map_err(|error| print_unreadable(&error, json))?;
    let verifier = Verifier::new(setup).map_err(|error| {
        eprintln!("pedigree-scan: {error}");
        Exit::Unverified
    })?;
    Ok((inputs, verifier))
}

/// `verify`: one verdict per code; the worst decides the exit code.
fn verify(sources: &Sources, json: bool, offline: bool, setup: &Setup) -> Exit {
    let (inputs, verifier) = match read_with_verifier(sources, json, setup) {
        Ok(ready) => ready,
        Err(exit) => return exit,
    };
    let mut exit = Exit::Ok;
    for input in inputs {
        exit = exit.and(match input {
            Ok(scan) if offline => print_verification(&verifier.verify_offline(&scan), json),
            Ok(scan) => print_verification(&verifier.verify_online(&scan), json),
            Err(error) => print_unreadable(&error, json),
        });
    }
    exit
}

/// `fetch`: evidence bundles for later offline verification.
fn fetch(sources: &Sources, json: bool, setup: &Setup) -> Exit {
    let (inputs, verifier) = match read_with_verifier(sources, json, setup) {
        Ok(ready) => ready,
        Err(exit) => return exit,
    };
    let mut exit = Exit::Ok;
    for input in inputs {
        let scan = match input {
            Ok(scan) => scan,
            Err(error) => {
                exit = exit.and(print_unreadable(&error, json));
                continue;
            }
        };
        if let Err(error) = PackCode::read(&scan.payload) {
            let error = Unreadable::new(error.code(), error.to_string(), &scan.source);
            exit = exit.and(print_unreadable(&error, json));
            continue;
        }
        exit = exit.and(match verifier.fetch(&scan) {
            Err(error) => {
                eprintln!("pedigree-scan: cannot store the bundle: {error}");
                Exit::Unverified
            }
            Ok((Verification::Unreadable { source, error }, _)) => print_unreadable(
                &Unreadable::new(error.code(), error.to_string(), &source),
                json,
            ),
            Ok((Verification::Report(report), stored)) => {
                if json {
                    let line = serde_json::json!({ "stored": stored, "report": report });
                    println!("{line}");
                } else {
                    print!("{}", report.to_text());
                    match &stored {
                        Some(path) => println!("  Stored:    {}", path.display()),
                        None => {
                            println!("  Stored:    nothing (the evidence could not be verified)")
                        }
                    }
                }
                if stored.is_some() {
                    Exit::Ok
                } else {
                    Exit::Unverified
                }
            }
        });
    }
    exit
}
