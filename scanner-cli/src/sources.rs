//! Reading the codes a command was given: arguments, images, or standard
//! input. A bad image does not stop the others; it is reported in turn.

use std::io::IsTerminal;

use serde::Serialize;

use crate::input::{self, InputError, Scan};
use crate::plan::Sources;

/// An input that gave no payload, as reported (exit 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub code: &'static str,
    pub message: String,
    pub source: String,
}

impl Unreadable {
    pub fn new(code: &'static str, message: impl Into<String>, source: &str) -> Self {
        Self {
            code,
            message: message.into(),
            source: source.to_string(),
        }
    }

    pub fn from_input(error: &InputError, source: &str) -> Self {
        let code = match error {
            InputError::NoCode { .. } => "no_code_found",
            InputError::NotAnImage { .. } | InputError::TooLarge { .. } => "unreadable_image",
            InputError::Io { .. } | InputError::Stdin(_) => "unreadable_input",
            InputError::Nothing => "no_input",
        };
        Self::new(code, error.to_string(), source)
    }

    /// `{"error": {"code", "message", "source"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self })
    }

    pub fn to_text(&self) -> String {
        format!("UNREADABLE    [{}]\n  {}\n", self.source, self.message)
    }
}

/// Every payload of `sources` in order: arguments, then each image's codes;
/// standard input when neither is given. An error reading standard input
/// ends everything; an unreadable image is one entry.
pub fn read(sources: &Sources) -> Result<Vec<Result<Scan, Unreadable>>, Unreadable> {
    if sources.payloads.is_empty() && sources.images.is_empty() {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!(
                "pedigree-scan: reading payloads from standard input, one per line (Ctrl-D to end)"
            );
        }
        let scans = input::from_lines(stdin.lock(), "stdin")
            .map_err(|e| Unreadable::from_input(&InputError::Stdin(e), "stdin"))?;
        if scans.is_empty() {
            return Err(Unreadable::from_input(&InputError::Nothing, "stdin"));
        }
        return Ok(scans.into_iter().map(Ok).collect());
    }
    let mut all: Vec<Result<Scan, Unreadable>> = input::from_arguments(&sources.payloads)
        .into_iter()
        .map(Ok)
        .collect();
    for path in &sources.images {
        match input::from_image(path) {
            Ok(scans) => all.extend(scans.into_iter().map(Ok)),
            Err(error) => all.push(Err(Unreadable::from_input(
                &error,
                &path.display().to_string(),
            ))),
        }
    }
    Ok(all)
}

/// Exactly one payload (the commands that act on one pack).
pub fn read_one(sources: &Sources) -> Result<Scan, Unreadable> {
    let mut scans = read(sources)?;
    match scans.len() {
        1 => scans.remove(0),
        n => Err(Unreadable::new(
            "not_one_code",
            format!("exactly one code is needed here, but the input holds {n}"),
            &scans
                .first()
                .map(|s| match s {
                    Ok(scan) => scan.source.clone(),
                    Err(e) => e.source.clone(),
                })
                .unwrap_or_default(),
        )),
    }
}
