//! The simulator as load: its events, fitted into the hours before now,
//! are a log a real ledger accepts — every one of them.

use chrono::Utc;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::log::{prepare, Appender, LogIdentity};
use pedigree_risk::simulate::{simulate_until, SimConfig};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteSigner};
use pedigree_testkit::both_backends;

both_backends!(a_simulated_supply_chain_fitted_before_now_is_accepted);

const HOUR: i64 = 3_600_000_000;

async fn a_simulated_supply_chain_fitted_before_now_is_accepted(db: TestDatabase) {
    let config = SimConfig {
        batches: 8,
        packs_per_batch: 12,
        pharmacies_per_region: 3,
        ..SimConfig::standard(11)
    };
    let end = Utc::now().timestamp_micros() - 60_000_000;
    let sim = simulate_until(&config, end, 48 * HOUR).expect("simulate");
    let times: Vec<i64> = sim
        .events
        .iter()
        .map(|e| e.signed.event.time.unix_micros())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "events stay in time order"
    );
    assert!(times.iter().all(|&t| (end - 48 * HOUR..=end).contains(&t)));

    let database = db.open().expect("open");
    pedigree_ledger::db::run_pending_migrations(
        &mut database.dedicated_connection().expect("conn"),
    )
    .expect("migrate");
    let identity = LogIdentity {
        origin: "sim.example/log".into(),
        signer: NoteSigner::new(
            KeyName::parse("sim.example/log").expect("name"),
            SecretKey::from_seed(&[9; 32]).signing_key().clone(),
        ),
    };
    let mut appender = Appender::open(
        database.dedicated_connection().expect("conn"),
        identity,
        sim.parties[0].key.public_key(),
        chrono::Duration::hours(72),
    )
    .expect("open the log");
    let count = sim.events.len();
    let outcomes = appender.append(prepare(sim.events)).expect("append");
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(
        refused.is_empty(),
        "{} of {count} refused: {refused:?}",
        refused.len()
    );
    assert_eq!(appender.size(), count as u64);
}
