//! `pedigree up`: the whole network on one machine — the ledger and one
//! service of each role, in one process, on 127.0.0.1, with SQLite files in
//! the data directory — and a demo supply chain seeded once, through the
//! services' own HTTP APIs, exactly as their operators would.
//!
//! Keys are 0600 files made on first run; the parties are registered by the
//! demo governance key; operator tokens are 0600 files too. A second start
//! reuses everything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use pedigree_ledger::{Application, Settings};
use pedigree_manufacturer::{pack_label_png, Encoding, PackLabel};
use pedigree_party::{create_operator_token, PartyApp, PartyConfig};
use pedigree_schema::checkpoint::CosignatureSigner;
use pedigree_schema::event::{Event, EventBody, EventSubmission, GeoPoint, Role, Timestamp};
use pedigree_schema::gs1::{ai::check_digit, Expiry, Gln, Gtin, Lot, PackId, Serial};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteVerifier};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where keys, tokens, databases and labels are kept.
    #[arg(long, env = "PEDIGREE_DATA_DIR", default_value = "pedigree-data")]
    data_dir: PathBuf,
    /// The ledger's port on 127.0.0.1; the manufacturer, distributor and
    /// pharmacy take the next three (0: any free ports).
    #[arg(long, env = "PEDIGREE_BASE_PORT", default_value_t = 7700)]
    port: u16,
    /// Do not seed the demo supply chain.
    #[arg(long)]
    no_demo: bool,
}

impl Default for UpArgs {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("pedigree-data"),
            port: 7700,
            no_demo: false,
        }
    }
}

/// One trading partner of the demo.
struct Member {
    file: &'static str,
    name: &'static str,
    role: Role,
    gln: Gln,
    key: Arc<SecretKey>,
    location: GeoPoint,
}

/// A running party service: its base URL and operator token.
struct Service {
    base: String,
    token: String,
}

/// What the seeding produced, kept so a second start prints the same tries.
#[derive(Serialize, Deserialize)]
struct DemoFacts {
    gtin: String,
    lot: String,
    expiry: String,
    recalled_lot: String,
    recalled_expiry: String,
    genuine: String,
    dispensed: String,
    recalled: String,
    made_up: String,
}

const DEMO_GTIN: &str = "09506000134352";
const DEMO_LOT: &str = "LOT-2026A";
const RECALLED_LOT: &str = "LOT-2025R";
const PACKS: usize = 1_000;
const PACKS_PER_CASE: usize = 100;

/// Reads a key file, or makes it on first run.
fn key_in(dir: &Path, name: &str) -> anyhow::Result<SecretKey> {
    let path = dir.join(format!("{name}.key"));
    if !path.exists() {
        SecretKey::generate().write_new_file(&path)?;
    }
    Ok(SecretKey::read_file(&path)?)
}

/// A GLN, SSCC or other GS1 key from its body, with the check digit added.
fn with_check_digit(body: &str) -> anyhow::Result<String> {
    let check = check_digit(body).context("GS1 key body must be digits")?;
    Ok(format!("{body}{check}"))
}

fn members(dir: &Path) -> anyhow::Result<Vec<Member>> {
    let specs = [
        (
            "governance",
            "Medicines Agency (governance)",
            Role::Regulator,
            "541234500000",
            (50.8503, 4.3517),
        ),
        (
            "acme-pharma",
            "Acme Pharma",
            Role::Manufacturer,
            "541234500001",
            (51.2194, 4.4025),
        ),
        (
            "medilog",
            "MediLog Wholesale",
            Role::Distributor,
            "541234500002",
            (50.6326, 5.5797),
        ),
        (
            "city-pharmacy",
            "City Pharmacy",
            Role::Pharmacy,
            "541234500003",
            (50.8467, 4.3525),
        ),
    ];
    specs
        .into_iter()
        .map(|(file, name, role, body, (lat, lon))| {
            Ok(Member {
                file,
                name,
                role,
                gln: Gln::parse(&with_check_digit(body)?)?,
                key: Arc::new(key_in(dir, file)?),
                location: GeoPoint::from_degrees(lat, lon),
            })
        })
        .collect()
}

/// The port after `base` by `offset`, or 0 (any free port) when base is 0.
fn port(base: u16, offset: u16) -> u16 {
    if base == 0 {
        0
    } else {
        base + offset
    }
}

pub fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    #[cfg(unix)]
    {
        // Keys, tokens and databases live here: owner only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&args.data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let dir = args.data_dir.clone();
    let members = members(&dir)?;
    let mut settings = Settings::new(key_in(&dir, "log")?, members[0].key.public_key());
    settings.listen = ([127, 0, 0, 1], args.port).into();
    settings.database_url = dir.join("ledger.sqlite").display().to_string();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let ledger = Application::build(settings)?;
        let ledger_url = format!("http://127.0.0.1:{}", ledger.port());
        let ledger_handle = ledger.handle();
        let mut running = vec![tokio::spawn(ledger.run_until_stopped())];
        let client = reqwest::Client::new();
        let info: Value = client
            .get(format!("{ledger_url}/v1/log"))
            .send()
            .await?
            .json()
            .await?;
        let log_key = info["verifier_key"]
            .as_str()
            .context("the ledger did not say its key")?
            .to_string();
        if info["tree_size"].as_u64() == Some(0) {
            register_parties(&client, &ledger_url, &members).await?;
        }
        let log_verifier = NoteVerifier::parse(&log_key)?;
        let mut services = Vec::new();
        let mut handles = vec![ledger_handle];
        for (offset, member) in (1u16..).zip(&members[1..]) {
            let config = PartyConfig {
                role: member.role,
                gln: member.gln.clone(),
                key: member.key.clone(),
                listen: ([127, 0, 0, 1], port(args.port, offset)).into(),
                database_url: dir
                    .join(format!("{}.sqlite", member.file))
                    .display()
                    .to_string(),
                pool_size: 4,
                ledger_url: ledger_url.clone(),
                log_verifier: log_verifier.clone(),
                witness_interval: Duration::from_secs(2),
                retry_max: Duration::from_secs(10),
                tls: Default::default(),
            };
            let routes = match member.role {
                Role::Manufacturer => pedigree_manufacturer::routes,
                Role::Distributor => pedigree_distributor::routes,
                _ => pedigree_pharmacy::routes,
            };
            let app = PartyApp::build(config, routes)?;
            let token = operator_token(&dir, member.file, &app)?;
            services.push(Service {
                base: format!("http://127.0.0.1:{}", app.port()),
                token,
            });
            handles.push(app.handle());
            running.push(tokio::spawn(app.run_until_stopped()));
        }
        write_scanner_config(&dir, &ledger_url, &services[2], &log_key, &members)?;
        let facts_path = dir.join("demo.json");
        let facts = match std::fs::read(&facts_path) {
            Ok(bytes) => Some(serde_json::from_slice::<DemoFacts>(&bytes)?),
            Err(_) if args.no_demo => None,
            Err(_) => {
                let facts = seed(&client, &members, &services).await?;
                write_labels(&dir, &facts)?;
                std::fs::write(&facts_path, serde_json::to_vec_pretty(&facts)?)?;
                Some(facts)
            }
        };
        ensure_dashboard_login(&dir, &members[0])?;
        print_welcome(
            &dir,
            &ledger_url,
            &log_key,
            &members,
            &services,
            facts.as_ref(),
        );
        tokio::signal::ctrl_c().await?;
        println!("stopping");
        for handle in handles {
            handle.stop(true).await;
        }
        for task in running {
            task.await??;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The scanner's configuration for the demo pharmacy, `scan.toml` in the
/// data directory (paths in it are relative to it).
fn write_scanner_config(
    dir: &Path,
    ledger: &str,
    pharmacy: &Service,
    log_key: &str,
    members: &[Member],
) -> anyhow::Result<()> {
    let witnesses: Vec<String> = members[1..]
        .iter()
        .map(|m| {
            let name = KeyName::parse(m.gln.as_str())?;
            Ok(format!(
                "{:?}",
                CosignatureSigner::new(name, m.key.signing_key().clone())
                    .verifier()
                    .to_string()
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let pharmacist = &members[3];
    let config = format!(
        "# pedigree-scan configuration for the demo pharmacy (written by `pedigree up`).\n\
         ledger_url = {ledger:?}\n\
         pharmacy_url = {:?}\n\
         pharmacy_token = {:?}\n\
         log_key = {log_key:?}\n\
         witness_keys = [{}]\n\
         party_key_file = \"{}.key\"\n\
         party_gln = \"{}\"\n\
         state_dir = \"scan-state\"\n",
        pharmacy.base,
        pharmacy.token,
        witnesses.join(", "),
        pharmacist.file,
        pharmacist.gln,
    );
    write_private(&dir.join("scan.toml"), &config)
}

/// Writes a file readable by its owner only (it holds a token).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

/// The service's operator token from its 0600 file, made on first run.
fn operator_token(dir: &Path, file: &str, app: &PartyApp) -> anyhow::Result<String> {
    let path = dir.join(format!("{file}.token"));
    if let Ok(token) = std::fs::read_to_string(&path) {
        return Ok(token.trim().to_string());
    }
    let token = create_operator_token(app.party().db(), "demo operator")?;
    write_private(&path, &format!("{token}\n"))?;
    Ok(token)
}

/// Gives the demo regulator a dashboard login on first run: the token goes to
/// a 0600 file (never to the terminal), the ledger keeps only its hash.
fn ensure_dashboard_login(dir: &Path, regulator: &Member) -> anyhow::Result<()> {
    let path = dir.join("dashboard.token");
    if path.exists() {
        return Ok(());
    }
    let database =
        pedigree_ledger::open_database(&dir.join("ledger.sqlite").display().to_string(), 1)?;
    let token = pedigree_ledger::dashboard::auth::create_login(
        &database,
        "demo regulator",
        regulator.gln.as_str(),
    )?;
    write_private(&path, &format!("{token}\n"))?;
    Ok(())
}

/// Governance registers itself and the three trading partners.
async fn register_parties(
    client: &reqwest::Client,
    ledger: &str,
    members: &[Member],
) -> anyhow::Result<()> {
    let governance = &members[0];
    let start = Utc::now() - chrono::Duration::minutes(1);
    let events: Vec<EventSubmission> = members
        .iter()
        .enumerate()
        .map(|(i, member)| {
            let body = EventBody::RegisterParty {
                party: member.gln.clone(),
                name: member.name.to_string(),
                role: member.role,
                key: member.key.public_key(),
                location: Some(member.location),
            };
            let time = Timestamp::from(start + chrono::Duration::seconds(i as i64));
            let signed = Event::new(governance.gln.clone(), time, body).sign(&governance.key)?;
            Ok(EventSubmission::new(signed, None))
        })
        .collect::<anyhow::Result<_>>()?;
    let answer: Value = client
        .post(format!("{ledger}/v1/events"))
        .json(&json!({ "events": events }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for result in answer["results"].as_array().context("no results")? {
        if result["status"] != "accepted" {
            bail!("registering the demo parties failed: {result}");
        }
    }
    Ok(())
}

/// Calls a party service's API as its operator; any non-2xx is an error.
async fn call(
    client: &reqwest::Client,
    service: &Service,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", service.base);
    let request = match body {
        Some(body) => client.post(&url).json(&body),
        None => client.get(&url),
    };
    let response = request.bearer_auth(&service.token).send().await?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path} answered {status}: {answer}");
    }
    Ok(answer)
}

/// Waits until the service's outbox has delivered everything, and checks
/// that nothing was refused.
async fn delivered(client: &reqwest::Client, service: &Service) -> anyhow::Result<()> {
    for _ in 0..600 {
        let pending = call(client, service, "/v1/outbox?status=pending&limit=1", None).await?;
        if pending["items"].as_array().is_some_and(Vec::is_empty) {
            let rejected =
                call(client, service, "/v1/outbox?status=rejected&limit=10", None).await?;
            if let Some(first) = rejected["items"].as_array().and_then(|items| items.first()) {
                bail!("the ledger refused a demo event: {first}");
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{}: the outbox did not empty within a minute", service.base)
}

fn pack_code(gtin: &str, serial: &str) -> String {
    format!("(01){gtin}(21){serial}")
}

fn case_code(sscc: &str) -> String {
    format!("(00){sscc}")
}

/// The demo supply chain: a batch of 1 000 packs in 10 cases, shipments
/// down the chain, packs dispensed, a batch recalled, counterfeit attempts.
async fn seed(
    client: &reqwest::Client,
    members: &[Member],
    services: &[Service],
) -> anyhow::Result<DemoFacts> {
    let [maker, wholesaler, pharmacy] = [&services[0], &services[1], &services[2]];
    let today = Utc::now().date_naive();
    let expiry = Expiry::from_date(today + chrono::Duration::days(700));
    let recalled_expiry = Expiry::from_date(today + chrono::Duration::days(400));
    call(
        client,
        maker,
        "/v1/products",
        Some(json!({
            "gtin": DEMO_GTIN, "name": "Amoxicillin 500 mg capsules", "strength": "500 mg",
            "dosage_form": "capsule", "pack_size": 20
        })),
    )
    .await?;
    for (lot, expiry, count) in [
        (DEMO_LOT, &expiry, PACKS),
        (RECALLED_LOT, &recalled_expiry, 20),
    ] {
        call(
            client,
            maker,
            "/v1/batches",
            Some(json!({
                "gtin": DEMO_GTIN, "lot": lot, "expiry": expiry.to_string(),
                "manufactured": (today - chrono::Duration::days(30)).to_string(),
                "serials": { "random": count }
            })),
        )
        .await?;
    }
    let serials = |page: Value| -> Vec<String> {
        page["serials"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let good = serials(
        call(
            client,
            maker,
            &format!("/v1/batches/{DEMO_GTIN}/{DEMO_LOT}/serials?limit={PACKS}"),
            None,
        )
        .await?,
    );
    let recalled = serials(
        call(
            client,
            maker,
            &format!("/v1/batches/{DEMO_GTIN}/{RECALLED_LOT}/serials?limit=20"),
            None,
        )
        .await?,
    );
    if good.len() != PACKS || recalled.is_empty() {
        bail!(
            "the manufacturer listed {} and {} serials",
            good.len(),
            recalled.len()
        );
    }
    let cases: Vec<String> = (1..=PACKS / PACKS_PER_CASE)
        .map(|i| with_check_digit(&format!("354123450000{i:05}")))
        .collect::<anyhow::Result<_>>()?;
    for (sscc, packs) in cases.iter().zip(good.chunks(PACKS_PER_CASE)) {
        let items: Vec<String> = packs.iter().map(|s| pack_code(DEMO_GTIN, s)).collect();
        call(
            client,
            maker,
            "/v1/cases",
            Some(json!({ "sscc": sscc, "items": items })),
        )
        .await?;
    }
    let (wholesaler_gln, pharmacy_gln) = (members[2].gln.to_string(), members[3].gln.to_string());
    let to_wholesaler: Vec<String> = cases[..5].iter().map(|c| case_code(c)).collect();
    call(
        client,
        maker,
        "/v1/shipments",
        Some(json!({
            "shipment_id": "ACME-0001", "to": wholesaler_gln, "items": to_wholesaler
        })),
    )
    .await?;
    delivered(client, maker).await?;

    call(
        client,
        wholesaler,
        "/v1/receipts",
        Some(json!({
            "shipment_id": "ACME-0001", "from": members[1].gln.to_string(), "scanned": to_wholesaler
        })),
    )
    .await?;
    call(
        client,
        wholesaler,
        &format!("/v1/cases/{}/open", cases[0]),
        Some(json!({})),
    )
    .await?;
    let loose: Vec<String> = good[..20].iter().map(|s| pack_code(DEMO_GTIN, s)).collect();
    let mut to_pharmacy = loose.clone();
    to_pharmacy.push(case_code(&cases[1]));
    call(
        client,
        wholesaler,
        "/v1/shipments",
        Some(json!({
            "shipment_id": "MEDILOG-7781", "to": pharmacy_gln, "scanned": to_pharmacy
        })),
    )
    .await?;
    delivered(client, wholesaler).await?;

    call(
        client,
        pharmacy,
        "/v1/receipts",
        Some(json!({
            "shipment_id": "MEDILOG-7781", "from": wholesaler_gln, "scanned": to_pharmacy
        })),
    )
    .await?;
    delivered(client, pharmacy).await?;
    for code in &loose[..5] {
        call(
            client,
            pharmacy,
            "/v1/dispense",
            Some(json!({ "code": code })),
        )
        .await?;
    }
    call(client, maker, "/v1/recalls", Some(json!({
        "gtin": DEMO_GTIN, "lot": RECALLED_LOT, "reason": "Out-of-specification dissolution results"
    }))).await?;
    delivered(client, pharmacy).await?;
    delivered(client, maker).await?;
    // Counterfeit attempts at the counter: a made-up serial, and a copy of a
    // pack that was already dispensed. The pharmacy's verification refuses
    // both (the answers are shown by the commands printed below).
    let made_up = "FAKE00000001".to_string();
    for code in [pack_code(DEMO_GTIN, &made_up), loose[0].clone()] {
        let answer = call(
            client,
            pharmacy,
            "/v1/verify",
            Some(json!({ "code": code })),
        )
        .await?;
        if answer["ok_to_supply"] == true {
            bail!("a counterfeit attempt was accepted: {answer}");
        }
    }
    Ok(DemoFacts {
        gtin: DEMO_GTIN.into(),
        lot: DEMO_LOT.into(),
        expiry: expiry.to_string(),
        recalled_lot: RECALLED_LOT.into(),
        recalled_expiry: recalled_expiry.to_string(),
        genuine: good[10].clone(),
        dispensed: good[0].clone(),
        recalled: recalled[0].clone(),
        made_up,
    })
}

/// The QR labels to try the scanner on: `labels/<name>.png`.
fn labels(facts: &DemoFacts) -> [(&'static str, &str, &str, &str); 5] {
    [
        ("genuine", &facts.genuine, &facts.lot, &facts.expiry),
        ("dispensed", &facts.dispensed, &facts.lot, &facts.expiry),
        ("cloned", &facts.dispensed, &facts.lot, &facts.expiry),
        (
            "recalled",
            &facts.recalled,
            &facts.recalled_lot,
            &facts.recalled_expiry,
        ),
        ("made-up", &facts.made_up, &facts.lot, &facts.expiry),
    ]
}

fn write_labels(dir: &Path, facts: &DemoFacts) -> anyhow::Result<()> {
    let labels_dir = dir.join("labels");
    std::fs::create_dir_all(&labels_dir)?;
    for (name, serial, lot, expiry) in labels(facts) {
        let label = PackLabel {
            pack: PackId::new(Gtin::parse(&facts.gtin)?, Serial::parse(serial)?),
            lot: Some(Lot::parse(lot)?),
            expiry: Some(Expiry::parse(expiry)?),
        };
        std::fs::write(
            labels_dir.join(format!("{name}.png")),
            pack_label_png(&label, &Encoding::default())?,
        )?;
    }
    Ok(())
}

/// The scanner command for one of the demo labels, as printed.
fn scanner_command(dir: &Path, label: &str) -> String {
    format!(
        "cargo run -q -p pedigree-scan -- --config {0}/scan.toml verify --image {0}/labels/{label}.png",
        dir.display()
    )
}

fn print_welcome(
    dir: &Path,
    ledger: &str,
    log_key: &str,
    members: &[Member],
    services: &[Service],
    facts: Option<&DemoFacts>,
) {
    println!();
    println!("Pedigree is running.");
    println!("  ledger        {ledger}");
    for (member, service) in members[1..].iter().zip(services) {
        println!(
            "  {:<13} {}   ({}, GLN {}, operator token in {}/{}.token)",
            member.role.as_str(),
            service.base,
            member.name,
            member.gln,
            dir.display(),
            member.file
        );
    }
    println!("  log key       {log_key}");
    println!(
        "  dashboard     {ledger}/dashboard   (regulators; login token in {}/dashboard.token)",
        dir.display()
    );
    let Some(facts) = facts else {
        println!();
        println!("No demo data (--no-demo). Stop with Ctrl-C.");
        return;
    };
    println!();
    println!(
        "Scan the QR labels in {}/labels/ — the scanner checks every signature and proof itself:",
        dir.display()
    );
    for (name, _, _, _) in labels(facts) {
        println!("  {}", scanner_command(dir, name));
    }
    println!(
        "  (exit 0 OK TO DISPENSE, 1 DO NOT DISPENSE, 3 CANNOT VERIFY; --json for the evidence)"
    );
    let pharmacy = &services[2].base;
    let token = format!("$(cat {}/city-pharmacy.token)", dir.display());
    let code = pack_code(&facts.gtin, &facts.genuine);
    println!(
        "  the pharmacy's API:    curl -s -X POST {pharmacy}/v1/verify -H \"Authorization: Bearer {token}\" -H 'Content-Type: application/json' -d '{{\"code\":\"{code}\"}}'"
    );
    println!("  the log's checkpoint:  curl -s {ledger}/checkpoint");
    println!();
    println!(
        "Stop with Ctrl-C; data, keys and tokens are kept in {}.",
        dir.display()
    );
}
