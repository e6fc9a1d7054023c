//! `batch`: many codes at once — a folder of photos or a file of payloads
//! — verified one after the other with a progress bar, then a summary as
//! CSV (one row per code) or JSON (counts and every report).

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::Format;
use crate::exit::Exit;
use crate::input::{self, Scan};
use crate::plan::Setup;
use crate::report::Report;
use crate::sources::Unreadable;
use crate::verify::{Verification, Verifier};

/// One code's result in the summary.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Line {
    Report(Box<Report>),
    Unreadable { error: Unreadable },
}

/// The JSON summary.
#[derive(Debug, Default, Serialize)]
struct Counts {
    total: usize,
    ok_to_dispense: usize,
    do_not_dispense: usize,
    cannot_verify: usize,
    unreadable: usize,
}

/// A CSV row.
#[derive(Debug, Serialize)]
struct Row<'a> {
    source: &'a str,
    code: &'a str,
    gtin: &'a str,
    serial: &'a str,
    lot: &'a str,
    expiry: &'a str,
    verdict: &'a str,
    reasons: String,
    detail: String,
}

fn progress(length: usize, prefix: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(length as u64).with_prefix(prefix);
    if let Ok(style) = ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {wide_msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The inputs under `path`: every image of a folder (sorted by name), or
/// the lines of a file.
fn collect(path: &Path) -> Result<Vec<Result<Scan, Unreadable>>, Unreadable> {
    let here = path.display().to_string();
    if !path.is_dir() {
        return input::from_file(path)
            .map(|scans| scans.into_iter().map(Ok).collect())
            .map_err(|e| Unreadable::from_input(&e, &here));
    }
    let entries = std::fs::read_dir(path).map_err(|e| {
        Unreadable::new(
            "unreadable_input",
            format!("cannot list {here}: {e}"),
            &here,
        )
    })?;
    let mut images: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && input::is_image_name(p))
        .collect();
    images.sort();
    if images.is_empty() {
        return Err(Unreadable::new(
            "no_input",
            format!("{here} holds no .png, .jpg or .jpeg file"),
            &here,
        ));
    }
    let bar = progress(images.len(), "reading");
    let mut all = Vec::new();
    for image in &images {
        bar.set_message(image.display().to_string());
        match input::from_image(image) {
            Ok(scans) => all.extend(scans.into_iter().map(Ok)),
            Err(error) => all.push(Err(Unreadable::from_input(
                &error,
                &image.display().to_string(),
            ))),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(all)
}

pub fn run(
    path: &Path,
    format: Format,
    output: Option<&Path>,
    offline: bool,
    setup: &Setup,
) -> Exit {
    let inputs = match collect(path) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("pedigree-scan: {}", error.message);
            return Exit::Usage;
        }
    };
    let verifier = match Verifier::new(setup) {
        Ok(verifier) => verifier,
        Err(error) => {
            eprintln!("pedigree-scan: {error}");
            return Exit::Unverified;
        }
    };
    let bar = progress(inputs.len(), "verifying");
    let mut results = Vec::with_capacity(inputs.len());
    for input in inputs {
        let result = match input {
            Err(error) => Line::Unreadable { error },
            Ok(scan) => {
                bar.set_message(scan.source.clone());
                let verification = if offline {
                    verifier.verify_offline(&scan)
                } else {
                    verifier.verify_online(&scan)
                };
                match verification {
                    Verification::Report(report) => Line::Report(report),
                    Verification::Unreadable { source, error } => Line::Unreadable {
                        error: Unreadable::new(error.code(), error.to_string(), &source),
                    },
                }
            }
        };
        bar.inc(1);
        results.push(result);
    }
    bar.finish_and_clear();
    let exit = results.iter().fold(Exit::Ok, |exit, r| {
        exit.and(match r {
            Line::Report(report) => report.verdict.exit(),
            Line::Unreadable { .. } => Exit::Usage,
        })
    });
    let written = match output {
        Some(file) => std::fs::File::create(file)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))
            .and_then(|f| write_summary(&results, format, std::io::BufWriter::new(f))),
        None => write_summary(&results, format, std::io::stdout().lock()),
    };
    match written {
        Ok(()) => exit,
        Err(error) => {
            eprintln!("pedigree-scan: {error}");
            Exit::Usage.and(exit)
        }
    }
}

fn write_summary(results: &[Line], format: Format, mut out: impl Write) -> Result<(), String> {
    match format {
        Format::Json => {
            let mut counts = Counts {
                total: results.len(),
                ..Counts::default()
            };
            for result in results {
                match result {
                    Line::Unreadable { .. } => counts.unreadable += 1,
                    Line::Report(report) => match report.verdict {
                        crate::report::Verdict::OkToDispense => counts.ok_to_dispense += 1,
                        crate::report::Verdict::DoNotDispense => counts.do_not_dispense += 1,
                        crate::report::Verdict::CannotVerify => counts.cannot_verify += 1,
                    },
                }
            }
            let summary = serde_json::json!({ "summary": counts, "results": results });
            serde_json::to_writer_pretty(&mut out, &summary).map_err(|e| e.to_string())?;
            writeln!(out).map_err(|e| e.to_string())
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            for result in results {
                let row = match result {
                    Line::Unreadable { error } => Row {
                        source: &error.source,
                        code: "",
                        gtin: "",
                        serial: "",
                        lot: "",
                        expiry: "",
                        verdict: "unreadable",
                        reasons: error.code.to_string(),
                        detail: error.message.clone(),
                    },
                    Line::Report(report) => Row {
                        source: &report.source,
                        code: &report.code,
                        gtin: &report.pack.gtin,
                        serial: &report.pack.serial,
                        lot: report.pack.lot.as_deref().unwrap_or(""),
                        expiry: report.pack.expiry_date.as_deref().unwrap_or(""),
                        verdict: report.verdict.as_str(),
                        reasons: report
                            .reasons
                            .iter()
                            .map(|r| r.code.as_str())
                            .collect::<Vec<_>>()
                            .join(";"),
                        detail: report
                            .reasons
                            .iter()
                            .map(|r| r.message.as_str())
                            .collect::<Vec<_>>()
                            .join(" | "),
                    },
                };
                writer.serialize(row).map_err(|e| e.to_string())?;
            }
            writer.flush().map_err(|e| e.to_string())
        }
    }
}
