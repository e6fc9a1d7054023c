//! `pedigree up`: the network on one machine, on SQLite, with demo data, so
//! a newcomer sees Pedigree working in a minute.
//!
//! Keys live in the data directory (0600 files, made on first run); the
//! demo trading partners submit real signed events over real HTTP, exactly
//! as their own services would.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use pedigree_ledger::{Application, Settings};
use pedigree_schema::event::{
    canonical_item_order, DecommissionReason, Event, EventBody, EventSubmission, GeoPoint, Item,
    ItemSetRef, Role, ShipmentPurpose, Timestamp,
};
use pedigree_schema::gs1::{
    ai::check_digit, Expiry, Gln, Gs1Data, Gtin, Lot, PackId, Serial, Sscc,
};
use pedigree_schema::keys::SecretKey;

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where keys and databases are kept.
    #[arg(long, env = "PEDIGREE_DATA_DIR", default_value = "pedigree-data")]
    data_dir: PathBuf,
    /// The ledger's port on 127.0.0.1.
    #[arg(long, env = "PEDIGREE_LEDGER_PORT", default_value_t = 7700)]
    port: u16,
    /// Do not load demo data into an empty log.
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

/// A demo trading partner: its GLN, key, role, name and place.
struct Party {
    gln: Gln,
    key: SecretKey,
    role: Role,
    name: &'static str,
    location: GeoPoint,
}

/// Reads a key file, or makes it on first run.
fn key_in(dir: &Path, name: &str) -> anyhow::Result<SecretKey> {
    let path = dir.join(format!("{name}.key"));
    if !path.exists() {
        SecretKey::generate().write_new_file(&path)?;
    }
    Ok(SecretKey::read_file(&path)?)
}

/// A GLN from its first 12 digits, with the check digit computed.
fn gln(body: &str) -> anyhow::Result<Gln> {
    let check = check_digit(body).context("GLN body must be digits")?;
    Ok(Gln::parse(&format!("{body}{check}"))?)
}

fn demo_parties(dir: &Path) -> anyhow::Result<Vec<Party>> {
    let specs = [
        (
            "governance",
            "541234500000",
            Role::Regulator,
            "Medicines Agency (governance)",
            (50.8503, 4.3517),
        ),
        (
            "acme-pharma",
            "541234500001",
            Role::Manufacturer,
            "Acme Pharma",
            (51.2194, 4.4025),
        ),
        (
            "medilog",
            "541234500002",
            Role::Distributor,
            "MediLog Wholesale",
            (50.6326, 5.5797),
        ),
        (
            "city-pharmacy",
            "541234500003",
            Role::Pharmacy,
            "City Pharmacy",
            (50.8467, 4.3525),
        ),
    ];
    specs
        .into_iter()
        .map(|(file, body, role, name, (lat, lon))| {
            Ok(Party {
                gln: gln(body)?,
                key: key_in(dir, file)?,
                role,
                name,
                location: GeoPoint::from_degrees(lat, lon),
            })
        })
        .collect()
}

pub fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let parties = demo_parties(&args.data_dir)?;
    let mut settings = Settings::new(key_in(&args.data_dir, "log")?, parties[0].key.public_key());
    settings.listen = ([127, 0, 0, 1], args.port).into();
    settings.database_url = args.data_dir.join("ledger.sqlite").display().to_string();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let app = Application::build(settings)?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let server = tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::new();
        let info: serde_json::Value = client
            .get(format!("{base}/v1/log"))
            .send()
            .await?
            .json()
            .await?;
        if info["tree_size"].as_u64() == Some(0) && !args.no_demo {
            let seeded = seed(&client, &base, &parties).await?;
            println!("Loaded {seeded} demo events.");
        }
        print_welcome(&base, &client).await?;
        tokio::select! {
            result = server => { result??; }
            _ = tokio::signal::ctrl_c() => { println!("stopping"); }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The demo product, batches and serials.
pub const DEMO_GTIN: &str = "09506000134352";
pub const DEMO_LOT: &str = "LOT-2026A";
const RECALLED_LOT: &str = "LOT-2025R";

fn serials(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:04}")).collect()
}

fn pack_items(gtin: &Gtin, serials: &[String]) -> anyhow::Result<Vec<String>> {
    serials
        .iter()
        .map(|s| Ok(Item::Pack(PackId::new(gtin.clone(), Serial::parse(s)?)).to_string()))
        .collect()
}

/// Builds the demo's events in order, with times one minute apart ending now.
struct Script<'p> {
    parties: &'p [Party],
    events: Vec<(EventSubmission, String)>,
}

impl Script<'_> {
    fn add(
        &mut self,
        who: usize,
        body: EventBody,
        items: Option<Vec<String>>,
        what: &str,
    ) -> anyhow::Result<()> {
        let party = &self.parties[who];
        // Placeholder time; `finish` spaces the events out before signing.
        let event = Event::new(party.gln.clone(), Timestamp::now(), body);
        let signed = event.sign(&party.key)?;
        self.events
            .push((EventSubmission::new(signed, items), what.to_string()));
        Ok(())
    }

    /// Re-dates and re-signs the events one minute apart, ending now.
    fn finish(self) -> anyhow::Result<Vec<(EventSubmission, String)>> {
        let count = self.events.len() as i64;
        let start = Utc::now() - Duration::minutes(count);
        self.events
            .into_iter()
            .enumerate()
            .map(|(i, (submission, what))| {
                let mut event = submission.signed.event;
                event.time = Timestamp::from(start + Duration::minutes(i as i64));
                let signer = self
                    .parties
                    .iter()
                    .find(|p| p.gln == event.actor)
                    .context("demo event by an unknown party")?;
                Ok((
                    EventSubmission::new(event.sign(&signer.key)?, submission.items),
                    what,
                ))
            })
            .collect()
    }
}

/// Sorts items and commits to them.
fn with_items(items: Vec<String>) -> (ItemSetRef, Vec<String>) {
    let items = canonical_item_order(items);
    (ItemSetRef::commit(&items), items)
}

async fn seed(client: &reqwest::Client, base: &str, parties: &[Party]) -> anyhow::Result<usize> {
    let gtin = Gtin::parse(DEMO_GTIN)?;
    let lot = Lot::parse(DEMO_LOT)?;
    let recalled = Lot::parse(RECALLED_LOT)?;
    let [gov, maker, wholesaler, pharmacy] = [0, 1, 2, 3];
    let mut script = Script {
        parties,
        events: Vec::new(),
    };
    for party in parties {
        let body = EventBody::RegisterParty {
            party: party.gln.clone(),
            name: party.name.to_string(),
            role: party.role,
            key: party.key.public_key(),
            location: Some(party.location),
        };
        script.add(gov, body, None, &format!("register {}", party.name))?;
    }
    let register_product = EventBody::RegisterProduct {
        gtin: gtin.clone(),
        name: "Amoxicillin 500 mg capsules, 20".into(),
    };
    script.add(maker, register_product, None, "register product")?;
    let today = Utc::now().date_naive();
    for (batch, expiry) in [
        (&lot, today + Duration::days(700)),
        (&recalled, today + Duration::days(400)),
    ] {
        let body = EventBody::RegisterBatch {
            gtin: gtin.clone(),
            lot: batch.clone(),
            expiry: Expiry::from_date(expiry),
            manufactured: today - Duration::days(30),
        };
        script.add(maker, body, None, &format!("register batch {batch}"))?;
    }
    let good = serials("SN", 1..=120);
    let (set, items) = with_items(good.clone());
    let commission = EventBody::Commission {
        gtin: gtin.clone(),
        lot: lot.clone(),
        serials: set,
    };
    script.add(maker, commission, Some(items), "commission 120 packs")?;
    let (set, items) = with_items(serials("RC", 1..=10));
    let commission = EventBody::Commission {
        gtin: gtin.clone(),
        lot: recalled.clone(),
        serials: set,
    };
    script.add(
        maker,
        commission,
        Some(items),
        "commission 10 packs of the batch to be recalled",
    )?;
    let case = Sscc::parse(&format!(
        "{}{}",
        "35412345000000001",
        check_digit("35412345000000001").unwrap_or('0')
    ))?;
    let (set, items) = with_items(pack_items(&gtin, &good[..100])?);
    script.add(
        maker,
        EventBody::Aggregate {
            case: case.clone(),
            contents: set,
        },
        Some(items),
        "pack 100 into a case",
    )?;
    let (set, items) = with_items(vec![Item::Case(case.clone()).to_string()]);
    let ship = EventBody::Ship {
        shipment: "ACME-2026-0001".into(),
        to: parties[wholesaler].gln.clone(),
        purpose: ShipmentPurpose::Sale,
        contents: set,
    };
    script.add(
        maker,
        ship,
        Some(items.clone()),
        "ship the case to the wholesaler",
    )?;
    let receive = EventBody::Receive {
        shipment: "ACME-2026-0001".into(),
        from: parties[maker].gln.clone(),
        received: set,
    };
    script.add(wholesaler, receive, Some(items), "wholesaler receives")?;
    script.add(
        wholesaler,
        EventBody::Disaggregate { case },
        None,
        "open the case",
    )?;
    let (set, items) = with_items(pack_items(&gtin, &good[..20])?);
    let ship = EventBody::Ship {
        shipment: "MEDILOG-7781".into(),
        to: parties[pharmacy].gln.clone(),
        purpose: ShipmentPurpose::Sale,
        contents: set,
    };
    script.add(
        wholesaler,
        ship,
        Some(items.clone()),
        "ship 20 packs to the pharmacy",
    )?;
    let receive = EventBody::Receive {
        shipment: "MEDILOG-7781".into(),
        from: parties[wholesaler].gln.clone(),
        received: set,
    };
    script.add(pharmacy, receive, Some(items), "pharmacy receives")?;
    for serial in &good[..5] {
        let pack = PackId::new(gtin.clone(), Serial::parse(serial)?);
        let body = EventBody::Decommission {
            pack,
            reason: DecommissionReason::Dispensed,
        };
        script.add(pharmacy, body, None, &format!("dispense {serial}"))?;
    }
    let recall = EventBody::Recall {
        gtin: gtin.clone(),
        lot: recalled,
        reason: "Out-of-specification dissolution results".into(),
    };
    script.add(maker, recall, None, "recall batch LOT-2025R")?;
    let events = script.finish()?;
    let count = events.len();
    let (submissions, labels): (Vec<_>, Vec<_>) = events.into_iter().unzip();
    let answer: serde_json::Value = client
        .post(format!("{base}/v1/events"))
        .json(&serde_json::json!({ "events": submissions }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let results = answer["results"]
        .as_array()
        .context("ledger answer without results")?;
    for (result, label) in results.iter().zip(&labels) {
        if result["status"] != "accepted" {
            bail!("demo event '{label}' was refused: {result}");
        }
    }
    Ok(count)
}

async fn print_welcome(base: &str, client: &reqwest::Client) -> anyhow::Result<()> {
    let info: serde_json::Value = client
        .get(format!("{base}/v1/log"))
        .send()
        .await?
        .json()
        .await?;
    println!();
    println!("Pedigree is running.");
    println!("  ledger        {base}   (log size {})", info["tree_size"]);
    println!(
        "  log key       {}",
        info["verifier_key"].as_str().unwrap_or_default()
    );
    println!("  checkpoint    {base}/checkpoint");
    println!();
    println!("Try it:");
    let examples = [
        ("SN0010", DEMO_LOT, "at the pharmacy, ok to dispense"),
        ("SN0001", DEMO_LOT, "already dispensed"),
        ("SN0110", DEMO_LOT, "at the manufacturer"),
        ("RC0001", RECALLED_LOT, "recalled batch"),
    ];
    for (serial, lot, what) in examples {
        println!("  {what:<34} curl '{base}/v1/packs/{DEMO_GTIN}/{serial}?lot={lot}'");
    }
    let mut scanned = Gs1Data::new();
    scanned.push("01", DEMO_GTIN)?;
    scanned.push("10", DEMO_LOT)?;
    scanned.push("21", "SN0010")?;
    let link = scanned
        .to_digital_link()?
        .replace('?', "%3F")
        .replace('&', "%26");
    println!(
        "  {:<34} curl '{base}/v1/scan?code={link}'",
        "scan a GS1 Digital Link"
    );
    println!();
    println!("Stop with Ctrl-C; data and keys are kept in the data directory.");
    Ok(())
}
