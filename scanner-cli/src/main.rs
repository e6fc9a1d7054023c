//! `pedigree-scan`: reads a pack's GS1 code and says what it holds.
//!
//! Exit codes: 0 the code was read, 2 bad usage or an unreadable/invalid
//! code. (Verification against the log, with exit codes 1 and 3, comes with
//! the `verify` command.)

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pedigree_schema::gs1::{ai, Gs1Data};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "pedigree-scan",
    version,
    about = "Read a medicine pack's GS1 code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show, offline, what a code contains: element string or GS1 Digital Link.
    Parse {
        /// The scanned payload; without it, one payload per line is read from
        /// standard input (as a hand-held scanner in keyboard mode types it).
        payload: Option<String>,
        /// Print JSON: {"ais": [{"ai", "value", "title"}…]} or {"error": {…}}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct ParsedAi {
    ai: String,
    value: String,
    title: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ParseOutput {
    Ok { ais: Vec<ParsedAi> },
    Err { error: ParseFailure },
}

#[derive(Serialize)]
struct ParseFailure {
    code: &'static str,
    message: String,
}

fn describe(payload: &str) -> ParseOutput {
    match Gs1Data::parse_any(payload) {
        Ok(data) => ParseOutput::Ok {
            ais: data
                .elements()
                .iter()
                .map(|e| ParsedAi {
                    ai: e.ai().to_string(),
                    value: e.value().to_string(),
                    title: ai::lookup(e.ai())
                        .map(|entry| entry.title.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        },
        Err(error) => ParseOutput::Err {
            error: ParseFailure {
                code: "unreadable_code",
                message: error.to_string(),
            },
        },
    }
}

fn print(output: &ParseOutput, json: bool) -> Result<(), serde_json::Error> {
    if json {
        println!("{}", serde_json::to_string(output)?);
        return Ok(());
    }
    match output {
        ParseOutput::Ok { ais } => {
            for parsed in ais {
                println!("({}) {:<24} {}", parsed.ai, parsed.title, parsed.value);
            }
        }
        ParseOutput::Err { error } => println!("INVALID CODE: {}", error.message),
    }
    Ok(())
}

fn main() -> ExitCode {
    let Command::Parse { payload, json } = Cli::parse().command;
    let payloads: Vec<String> = match payload {
        Some(payload) => vec![payload],
        None => std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .filter(|line| !line.trim().is_empty())
            .collect(),
    };
    let mut all_read = !payloads.is_empty();
    for payload in &payloads {
        let output = describe(payload.trim_end_matches(['\r', '\n']));
        all_read &= matches!(output, ParseOutput::Ok { .. });
        if let Err(error) = print(&output, json) {
            eprintln!("pedigree-scan: {error}");
            return ExitCode::from(2);
        }
    }
    if all_read {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
