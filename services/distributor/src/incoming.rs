//! Open shipments addressed to this party, read from the public log.
//!
//! The ledger tracks shipments but offers no query for a receiver's open
//! ones, and a signed `GET /v1/me/events` lists only the caller's own
//! events. Every log entry, however, is public (C2SP `tlog-tiles` entry
//! bundles, `GET /tile/entries/<N>`), and a shipment is open exactly when
//! the log holds a `ship` to this party and no `receive` of it by this
//! party (the ledger refuses a second receipt and any ship it did not
//! accept never reaches the log). So the list is derived from the log: an
//! [`IncomingShipments`] remembers how far it has read and catches up with
//! the log's new entries when asked.
//!
//! The state lives in memory (one per HTTP worker: `routes` registers it as
//! worker-local app data), so after a restart the first request reads the
//! log from the start; persisting the position and the open shipments needs
//! a party table. The list is advisory: entries are read without checking
//! them against a witnessed checkpoint, and the ledger alone decides
//! whether a receipt matches an open shipment.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::web::Data;
use actix_web::HttpResponse;
use pedigree_party::{LedgerError, Operator, Party, PartyError};
use pedigree_schema::event::{Event, EventBody, ShipmentPurpose, SignedEvent, Timestamp};
use pedigree_schema::gs1::Gln;
use pedigree_schema::merkle::{decode_entry_bundle, entries_path, TILE_WIDTH};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// How long one read of the log (its size, one entry bundle) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// A shipment to this party that it has not received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncomingShipment {
    pub shipment_id: String,
    pub from: Gln,
    pub purpose: ShipmentPurpose,
    /// How many top-level items (packs and cases) the sender shipped.
    pub items: u64,
    pub shipped_at: Timestamp,
    /// The log index of the `ship` entry; its item list can be read with
    /// the ledger's signed `GET /v1/entries/{index}/items`.
    pub ship_index: u64,
}

/// The open shipments to one party as of the first `next_index` log entries.
#[derive(Clone, Debug, Default)]
pub struct IncomingShipments {
    next_index: u64,
    /// By (sender, shipment id): the ledger's key for a shipment.
    open: BTreeMap<(Gln, String), IncomingShipment>,
}

impl IncomingShipments {
    /// How many log entries have been read.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Takes log entry `index` (which must be the next one) into account.
    pub fn apply(&mut self, me: &Gln, index: u64, event: &Event) {
        match &event.body {
            EventBody::Ship {
                shipment,
                to,
                purpose,
                contents,
            } if to == me => {
                self.open.insert(
                    (event.actor.clone(), shipment.clone()),
                    IncomingShipment {
                        shipment_id: shipment.clone(),
                        from: event.actor.clone(),
                        purpose: *purpose,
                        items: contents.count,
                        shipped_at: event.time,
                        ship_index: index,
                    },
                );
            }
            EventBody::Receive { shipment, from, .. } if &event.actor == me => {
                self.open.remove(&(from.clone(), shipment.clone()));
            }
            _ => {}
        }
        self.next_index = index + 1;
    }

    /// The open shipments, oldest first.
    pub fn open(&self) -> Vec<IncomingShipment> {
        let mut open: Vec<IncomingShipment> = self.open.values().cloned().collect();
        open.sort_by_key(|shipment| shipment.ship_index);
        open
    }
}

/// The worker's follower: the state, and the client that reads the log
/// (made at first use, so that making it can fail as a request does).
#[derive(Default)]
pub struct Follower {
    inner: Mutex<FollowerState>,
}

#[derive(Default)]
struct FollowerState {
    shipments: IncomingShipments,
    http: Option<reqwest::Client>,
}

impl Follower {
    /// Reads the log's entries not yet seen, bundle by bundle, and answers
    /// the open shipments with the log size they reflect. One catch-up runs
    /// at a time; a failed fetch keeps what was read before it.
    pub async fn catch_up(
        &self,
        ledger: &str,
        me: &Gln,
    ) -> Result<(u64, Vec<IncomingShipment>), LedgerError> {
        let mut guard = self.inner.lock().await;
        let FollowerState { shipments, http } = &mut *guard;
        let http = match http {
            Some(client) => client.clone(),
            None => http
                .insert(
                    reqwest::Client::builder()
                        .timeout(FETCH_TIMEOUT)
                        .build()
                        .map_err(|e| {
                            LedgerError::Unreachable(format!("cannot build an HTTP client: {e}"))
                        })?,
                )
                .clone(),
        };
        let reader = LogReader { http, ledger };
        let size = reader.log_size().await?;
        let width = u64::from(TILE_WIDTH);
        while shipments.next_index() < size {
            let tile = shipments.next_index() / width;
            let first = tile * width;
            let in_tile = (size - first).min(width);
            let path = entries_path(tile, in_tile as u16)
                .map_err(|e| LedgerError::Malformed(e.to_string()))?;
            let bundle = reader.get(&path).await?.bytes().await;
            let bundle = bundle.map_err(|e| LedgerError::Unreachable(e.to_string()))?;
            let entries =
                decode_entry_bundle(&bundle).map_err(|e| LedgerError::Malformed(e.to_string()))?;
            if entries.len() as u64 != in_tile {
                return Err(LedgerError::Malformed(format!(
                    "{path} holds {} entries, not {in_tile}",
                    entries.len()
                )));
            }
            let skip = shipments.next_index() - first;
            for (offset, entry) in entries.iter().enumerate().skip(skip as usize) {
                let index = first + offset as u64;
                let signed = SignedEvent::from_entry_bytes(entry)
                    .map_err(|e| LedgerError::Malformed(format!("entry {index}: {e}")))?;
                shipments.apply(me, index, &signed.event);
            }
        }
        Ok((shipments.next_index(), shipments.open()))
    }
}

/// Public reads of the log: its size and its entry bundles.
struct LogReader<'a> {
    http: reqwest::Client,
    ledger: &'a str,
}

impl LogReader<'_> {
    async fn log_size(&self) -> Result<u64, LedgerError> {
        #[derive(Deserialize)]
        struct LogInfo {
            tree_size: u64,
        }
        let info: LogInfo = self
            .get("/v1/log")
            .await?
            .json()
            .await
            .map_err(|e| LedgerError::Malformed(e.to_string()))?;
        Ok(info.tree_size)
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, LedgerError> {
        let path = path.trim_start_matches('/');
        let response = self
            .http
            .get(format!("{}/{path}", self.ledger))
            .send()
            .await
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            Err(LedgerError::Server {
                status: status.as_u16(),
                message: format!("GET /{path} answered HTTP {status}"),
            })
        }
    }
}

/// `GET /v1/shipments/incoming`: `{"tree_size", "shipments": [...]}`.
pub async fn list(
    party: Data<Party>,
    follower: Data<Follower>,
    _: Operator,
) -> Result<HttpResponse, PartyError> {
    let (tree_size, shipments) = follower
        .catch_up(party.ledger().base_url(), party.gln())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "tree_size": tree_size,
        "shipments": shipments,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_schema::event::ItemSetRef;
    use pedigree_schema::gs1::check_digit;

    fn gln(body: &str) -> Gln {
        Gln::parse(&format!("{body}{}", check_digit(body).expect("digits"))).expect("gln")
    }

    fn ship(from: &Gln, id: &str, to: &Gln, count: usize) -> Event {
        let items: Vec<String> = (0..count).map(|i| format!("item{i}")).collect();
        Event::new(
            from.clone(),
            Timestamp::now(),
            EventBody::Ship {
                shipment: id.into(),
                to: to.clone(),
                purpose: ShipmentPurpose::Sale,
                contents: ItemSetRef::commit(&items),
            },
        )
    }

    fn receive(by: &Gln, id: &str, from: &Gln) -> Event {
        Event::new(
            by.clone(),
            Timestamp::now(),
            EventBody::Receive {
                shipment: id.into(),
                from: from.clone(),
                received: ItemSetRef::commit::<String>(&[]),
            },
        )
    }

    #[test]
    fn a_shipment_is_open_from_its_ship_until_this_party_receives_it() {
        let (me, maker, other) = (
            gln("950600000003"),
            gln("950600000002"),
            gln("950600000004"),
        );
        let mut state = IncomingShipments::default();
        state.apply(&me, 0, &ship(&maker, "S-1", &me, 3));
        state.apply(&me, 1, &ship(&maker, "S-2", &other, 1));
        state.apply(&me, 2, &ship(&other, "S-1", &me, 1));
        let open = state.open();
        assert_eq!(
            open.iter()
                .map(|s| (
                    s.from.clone(),
                    s.shipment_id.as_str(),
                    s.items,
                    s.ship_index
                ))
                .collect::<Vec<_>>(),
            [(maker.clone(), "S-1", 3, 0), (other.clone(), "S-1", 1, 2)]
        );
        // Someone else receiving a shipment of the same id changes nothing.
        state.apply(&me, 3, &receive(&other, "S-1", &maker));
        assert_eq!(state.open().len(), 2);
        state.apply(&me, 4, &receive(&me, "S-1", &maker));
        assert_eq!(
            state
                .open()
                .iter()
                .map(|s| s.from.clone())
                .collect::<Vec<_>>(),
            [other]
        );
        assert_eq!(state.next_index(), 5);
    }
}
