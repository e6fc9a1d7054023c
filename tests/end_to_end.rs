//! End-to-end tests of the `pedigree` command: the real binary, real HTTP,
//! a real SQLite file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use clap::Parser;
use pedigree_scan::cli::Cli;
use pedigree_scan::exit::Exit;
use pedigree_scan::plan::Plan;
use pedigree_schema::keys::SecretKey;

fn pedigree() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pedigree"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pedigree-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `pedigree up` and reads its welcome text; returns the process, the
/// ledger's URL, the printed log verifier key and the whole text.
fn start_network(data_dir: &Path) -> (Running, String, String, String) {
    let mut child = pedigree()
        .args(["up", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pedigree up");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let (mut base, mut log_key, mut printed) = (String::new(), String::new(), String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read stdout");
        printed.push_str(&line);
        printed.push('\n');
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("ledger"), Some(url)) => base = url.to_string(),
            (Some("log"), Some("key")) => log_key = words.next().unwrap_or_default().to_string(),
            (Some("Stop"), _) => break,
            _ => {}
        }
    }
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "no ledger URL printed"
    );
    assert!(!log_key.is_empty(), "no log key printed");
    (running, base, log_key, printed)
}

/// `pedigree-scan --config <dir>/scan.toml verify --image <dir>/labels/<label>.png`.
fn scanner_args(dir: &Path, label: &str) -> Vec<String> {
    let dir = dir.display();
    [
        "pedigree-scan",
        "--config",
        &format!("{dir}/scan.toml"),
        "verify",
        "--image",
        &format!("{dir}/labels/{label}.png"),
    ]
    .map(String::from)
    .to_vec()
}

/// Runs `pedigree-scan` with `args` (its library, in-process, off the async
/// workers: it makes blocking requests).
async fn run_scanner(args: Vec<String>) -> Exit {
    tokio::task::spawn_blocking(move || {
        let cli = Cli::try_parse_from(&args).expect("the command parses");
        let plan = Plan::from_cli(cli, &|_| None).expect("a valid plan");
        pedigree_scan::run::run(plan)
    })
    .await
    .expect("scanner ran")
}

async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn up_runs_the_whole_network_with_demo_data_and_the_audit_passes() {
    let dir = temp_dir("up");
    let (network, base, log_key, printed) = start_network(&dir);
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("demo.json")).expect("demo facts"))
            .expect("JSON");
    let status = |serial: &serde_json::Value| {
        format!(
            "{base}/v1/packs/{}/{}",
            facts["gtin"].as_str().unwrap_or(""),
            serial.as_str().unwrap_or("")
        )
    };

    let genuine = get_json(&status(&facts["genuine"])).await;
    assert_eq!(genuine["ok_to_supply"], true, "{genuine}");
    let dispensed = get_json(&status(&facts["dispensed"])).await;
    assert_eq!(dispensed["ok_to_supply"], false);
    assert_eq!(dispensed["alerts"][0]["code"], "already_decommissioned");
    let recalled = get_json(&status(&facts["recalled"])).await;
    assert_eq!(recalled["recalled"], true);
    let made_up = get_json(&status(&facts["made_up"])).await;
    assert_eq!(made_up["status"], "unknown");
    for label in ["genuine", "dispensed", "cloned", "recalled", "made-up"] {
        let png = dir.join("labels").join(format!("{label}.png"));
        assert!(
            std::fs::metadata(&png).is_ok_and(|m| m.len() > 0),
            "{label}.png written"
        );
    }
    // The scanner commands `pedigree up` prints, run on its labels.
    for (label, expected) in [
        ("genuine", Exit::Ok),
        ("dispensed", Exit::Refused),
        ("cloned", Exit::Refused),
        ("recalled", Exit::Refused),
        ("made-up", Exit::Refused),
    ] {
        let args = scanner_args(&dir, label);
        assert!(
            printed.contains(&args[1..].join(" ")),
            "{label}: the command is printed"
        );
        assert_eq!(run_scanner(args).await, expected, "{label}");
    }
    // Dispensing through the pharmacy service, after the scanner's own
    // verification; the pack then no longer passes (once the pharmacy's
    // outbox has delivered the event).
    let mut dispense = scanner_args(&dir, "genuine");
    dispense[3] = "dispense".into();
    assert_eq!(run_scanner(dispense).await, Exit::Ok, "dispense");
    let mut refused = false;
    for _ in 0..300 {
        if run_scanner(scanner_args(&dir, "genuine")).await == Exit::Refused {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "a dispensed pack must not pass verification");
    let checkpoint = reqwest::get(format!("{base}/checkpoint"))
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(
        checkpoint.starts_with("pedigree.example/log\n"),
        "{checkpoint}"
    );
    for token in ["acme-pharma.token", "medilog.token", "city-pharmacy.token"] {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(token))
                .expect("token file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{token}");
        }
    }
    drop(network);

    let governance = SecretKey::read_file(&dir.join("governance.key")).expect("governance key");
    let audit = pedigree()
        .args(["audit", "--database-url"])
        .arg(dir.join("ledger.sqlite"))
        .args([
            "--log-key",
            &log_key,
            "--governance-key",
            &governance.public_key().to_string(),
        ])
        .output()
        .expect("run audit");
    let report = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "audit failed: {report}");
    assert!(
        report.contains("OK: everything stored agrees with the log"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn keygen_writes_an_owner_only_key_and_never_overwrites() {
    let dir = temp_dir("keygen");
    let path = dir.join("party.key");
    let first = pedigree()
        .args(["keygen", "--out"])
        .arg(&path)
        .output()
        .expect("keygen");
    assert!(first.status.success());
    let printed = String::from_utf8_lossy(&first.stdout);
    let key = SecretKey::read_file(&path).expect("key file readable");
    assert!(
        printed.contains(&key.public_key().to_string()),
        "public key printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777,
            0o600
        );
    }
    let again = pedigree()
        .args(["keygen", "--out"])
        .arg(&path)
        .output()
        .expect("keygen");
    assert!(
        !again.status.success(),
        "an existing key must not be overwritten"
    );
    assert_eq!(
        SecretKey::read_file(&path).expect("key").public_key(),
        key.public_key()
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
