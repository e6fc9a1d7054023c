//! Secrets never reach the logs: `pedigree up` runs with every log at trace level, takes
//! traffic (its own seeding, public reads, operator calls with right and wrong tokens, the
//! witnesses' polling), and then its log output and every file it wrote, other than the files
//! meant to hold secrets, are searched for every secret key (the key files' seeds, as base64,
//! URL-safe base64, hex and raw bytes, and the expanded 64-byte keys) and every token.
//!
//! The welcome text on stdout is searched too: it names the files that hold the tokens (its
//! ready-to-paste commands read them with `$(cat …)`), never the tokens themselves.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use pedigree_schema::keys::SecretKey;

/// Files written to hold secrets, 0600, by design.
fn holds_secrets(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.ends_with(".key") || name.ends_with(".token") || name == "scan.toml"
}

fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, found);
        } else {
            found.push(path);
        }
    }
}

/// Every text a secret key could be written as.
fn key_forms(key: &SecretKey) -> Vec<(String, Vec<u8>)> {
    let seed = key.signing_key().to_bytes();
    let expanded = key.signing_key().to_keypair_bytes();
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut forms = Vec::new();
    for (what, bytes) in [("seed", seed.to_vec()), ("expanded key", expanded.to_vec())] {
        for (encoding, text) in [
            ("base64", b64.encode(&bytes)),
            ("url-safe base64", url.encode(&bytes)),
            ("hex", hex::encode(&bytes)),
            ("HEX", hex::encode_upper(&bytes)),
        ] {
            forms.push((format!("{what} as {encoding}"), text.into_bytes()));
        }
        forms.push((format!("{what} as raw bytes"), bytes));
    }
    // A shorter piece of the base64 seed: a log line cut or wrapped would still show it.
    let text = b64.encode(seed);
    forms.push((
        "seed's first 24 base64 characters".into(),
        text.as_bytes()[..24].to_vec(),
    ));
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_key_or_token_appears_in_the_logs_or_the_files_written() {
    let dir = std::env::temp_dir().join(format!("pedigree-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let data = dir.join("data");
    let stdout_path = dir.join("stdout.txt");
    let stderr_path = dir.join("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pedigree"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(&data)
        .env("PEDIGREE_LOG", "trace")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start pedigree up");
    let stdout = child.stdout.take().expect("stdout");
    let (ready, welcome) = mpsc::channel();
    let copy_to = stdout_path.clone();
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(copy_to).expect("stdout file");
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("Stop with Ctrl-C") {
                let _ = ready.send(text.clone());
            }
        }
    });
    let welcome = welcome
        .recv_timeout(Duration::from_secs(240))
        .expect("pedigree up printed its welcome text");

    // Traffic: public reads, operator calls with the right and a wrong token.
    let http = reqwest::Client::new();
    let mut services = Vec::new();
    let mut ledger = String::new();
    for line in welcome.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("ledger"), Some(url)) => ledger = url.to_string(),
            (Some("manufacturer" | "distributor" | "pharmacy"), Some(url)) => {
                services.push(url.to_string())
            }
            _ => {}
        }
    }
    assert!(!ledger.is_empty() && services.len() == 3, "{welcome}");
    let mut tokens: Vec<(String, String)> = Vec::new();
    let mut keys: Vec<(String, SecretKey)> = Vec::new();
    let mut written = Vec::new();
    files_under(&data, &mut written);
    for path in &written {
        let name = path.display().to_string();
        if name.ends_with(".token") {
            let token = std::fs::read_to_string(path).expect("a token file");
            tokens.push((name, token.trim().to_string()));
        } else if name.ends_with(".key") {
            keys.push((name, SecretKey::read_file(path).expect("a key file")));
        }
    }
    assert!(
        keys.len() >= 5 && tokens.len() >= 3,
        "keys {keys:?}, tokens {tokens:?}"
    );
    for path in ["/checkpoint", "/v1/log", "/health"] {
        let status = http
            .get(format!("{ledger}{path}"))
            .send()
            .await
            .expect("GET")
            .status();
        assert!(status.is_success(), "{path}: {status}");
    }
    for service in &services {
        for (_, token) in &tokens {
            // Each token is right for one service and wrong for the others.
            let status = http
                .get(format!("{service}/v1/outbox"))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET outbox")
                .status()
                .as_u16();
            assert!(status == 200 || status == 401, "{service}: {status}");
        }
    }
    // The witnesses poll and cosign in the meantime.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = child.kill();
    let _ = child.wait();

    // Search the logs and every file written but the secret ones.
    let logs = [stderr_path.clone(), stdout_path.clone()];
    let searched: Vec<PathBuf> = logs
        .iter()
        .cloned()
        .chain(written.iter().filter(|p| !holds_secrets(p)).cloned())
        .collect();
    let mut written_now = Vec::new();
    files_under(&data, &mut written_now);
    let searched: Vec<PathBuf> = searched
        .into_iter()
        .chain(
            written_now
                .into_iter()
                .filter(|p| !holds_secrets(p) && !written.contains(p)),
        )
        .collect();
    let stderr_len = std::fs::metadata(&stderr_path)
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        stderr_len > 10_000,
        "trace logging produced {stderr_len} bytes only"
    );
    let mut leaks = Vec::new();
    for path in &searched {
        let Ok(bytes) = std::fs::read(path) else {
            continue; // a SQLite -wal or -shm file removed on the way
        };
        for (file, key) in &keys {
            for (form, needle) in key_forms(key) {
                if contains(&bytes, &needle) {
                    leaks.push(format!("{}: the key of {file}, {form}", path.display()));
                }
            }
        }
        for (file, token) in &tokens {
            if contains(&bytes, token.as_bytes()) {
                leaks.push(format!("{}: the token of {file}", path.display()));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets found:\n{}", leaks.join("\n"));
    println!(
        "searched {} files ({} bytes of trace logs) for {} keys and {} tokens: none found",
        searched.len(),
        stderr_len,
        keys.len(),
        tokens.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
