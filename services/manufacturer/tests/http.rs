//! The manufacturer's service over HTTP, against a real ledger: a product and a batch of
//! random serials are registered and commissioned, packed into a case inside a pallet,
//! labelled, shipped and recalled; large batches run as jobs; bad input is refused with a JSON
//! error and stores nothing.

#[macro_use]
mod common;

use chrono::{Duration, Utc};
use common::*;
use pedigree_manufacturer::batches::INLINE_MAX;
use pedigree_manufacturer::labels::{Encoding, PackLabel};
use pedigree_manufacturer::serials::{ALPHABET, SERIAL_LEN};
use pedigree_party::db::testing::TestDatabase;
use pedigree_schema::gs1::{Expiry, Gtin, Lot, PackId, Serial};
use serde_json::{json, Value};

both_backends!(
    a_batch_is_commissioned_packed_labelled_shipped_and_recalled,
    a_large_batch_runs_as_a_job_that_reports_progress,
    bad_input_is_refused_with_a_json_error_and_nothing_is_stored,
);

struct Setup {
    /// The ledger's and the party's databases, dropped (deleted) when the test ends.
    dbs: (TestDatabase, TestDatabase),
    ledger: Ledger,
    manufacturer: Manufacturer,
    net: Network,
    product: Gtin,
}

async fn setup(backend: Backend) -> Setup {
    let net = Network::new();
    let (ledger_db, party_db) = (backend.database(), backend.database());
    let ledger = Ledger::start(net.ledger_settings(&ledger_db));
    ledger.accept(&net.genesis()).await;
    let manufacturer = Manufacturer::start(net.party_config(&party_db, &ledger.base));
    Setup {
        dbs: (ledger_db, party_db),
        ledger,
        manufacturer,
        net,
        product: gtin("0950600013435"),
    }
}

fn product_request(gtin: &str) -> Value {
    json!({
        "gtin": gtin,
        "name": "Paracetamol 500 mg, 16 tablets",
        "strength": "500 mg",
        "dosage_form": "tablet",
        "pack_size": 16,
    })
}

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

fn batch_request(gtin: &Gtin, lot: &str, serials: Value) -> Value {
    json!({
        "gtin": gtin,
        "lot": lot,
        "expiry": (today() + Duration::days(730)).to_string(),
        "manufactured": (today() - Duration::days(30)).to_string(),
        "serials": serials,
    })
}

fn kinds(created: &Value) -> Vec<&str> {
    created["outbox"]
        .as_array()
        .expect("outbox items")
        .iter()
        .map(|item| item["kind"].as_str().expect("a kind"))
        .collect()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn pack_label(gtin: &Gtin, serial: &str, lot: &str, expiry: &Expiry) -> PackLabel {
    PackLabel {
        pack: PackId::new(gtin.clone(), Serial::parse(serial).expect("a serial")),
        lot: Some(Lot::parse(lot).expect("a lot")),
        expiry: Some(expiry.clone()),
    }
}

async fn a_batch_is_commissioned_packed_labelled_shipped_and_recalled(backend: Backend) {
    let Setup {
        dbs: _dbs,
        ledger,
        manufacturer: m,
        net,
        product,
    } = setup(backend).await;

    let created = m
        .post("/v1/products", &product_request(product.as_str()))
        .await
        .expect(201);
    assert_eq!(created["product"]["gtin"], product.as_str());
    assert_eq!(kinds(&created), ["register_product"]);
    m.all_accepted(&created).await;
    let products = m.get("/v1/products").await.expect(200);
    assert_eq!(products["products"][0]["dosage_form"], "tablet");
    assert_eq!(products["products"][0]["pack_size"], 16);

    // A small batch of random serials is commissioned within the request.
    let batch = m
        .post(
            "/v1/batches",
            &batch_request(&product, "L1", json!({ "random": 25 })),
        )
        .await
        .expect(201);
    assert_eq!(kinds(&batch), ["register_batch", "commission"]);
    assert_eq!(batch["job"]["status"], "done");
    assert_eq!(
        (
            batch["job"]["total"].as_i64(),
            batch["job"]["done"].as_i64()
        ),
        (Some(25), Some(25))
    );
    m.all_accepted(&batch).await;
    let expiry = Expiry::from_date(today() + Duration::days(730));

    let page = m
        .get(&format!("/v1/batches/{product}/L1/serials"))
        .await
        .expect(200);
    assert_eq!(page["total"], 25);
    assert_eq!(page["expiry"], expiry.as_str());
    let serials = strings(&page["serials"]);
    assert_eq!(serials.len(), 25);
    assert!(serials.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    for serial in &serials {
        assert_eq!(serial.len(), SERIAL_LEN);
        assert!(serial.bytes().all(|b| ALPHABET.contains(&b)), "{serial}");
    }
    let tail = m
        .get(&format!(
            "/v1/batches/{product}/L1/serials?offset=20&limit=10"
        ))
        .await
        .expect(200);
    assert_eq!(strings(&tail["serials"]), serials[20..]);
    let status = ledger
        .get(&format!("/v1/packs/{product}/{}", serials[0]))
        .await
        .expect(200);
    assert_eq!(status["ok_to_supply"], true, "{status}");
    assert_eq!(status["lot"], "L1");

    // Ten packs into a case, given in every accepted syntax; the case and one more pack onto a
    // pallet.
    let case = sscc("09506000100000001");
    let items: Vec<Value> = serials[..10]
        .iter()
        .enumerate()
        .map(|(i, serial)| match i % 3 {
            0 => json!(format!("(01){product}(21){serial}")),
            1 => json!(format!("https://id.gs1.org/01/{product}/21/{serial}")),
            _ => json!({ "gtin": product, "serial": serial }),
        })
        .collect();
    let packed = m
        .post("/v1/cases", &json!({ "sscc": case, "items": items }))
        .await
        .expect(201);
    assert_eq!(kinds(&packed), ["aggregate"]);
    m.all_accepted(&packed).await;
    let pallet = sscc("09506000100000002");
    let palletised = m
        .post(
            "/v1/cases",
            &json!({
                "sscc": pallet,
                "items": [format!("(00){case}"), { "gtin": product, "serial": serials[10] }],
            }),
        )
        .await
        .expect(201);
    m.all_accepted(&palletised).await;

    // The pallet's sheet shows its eleven packs (those of the case within it too), each with
    // its batch's lot and expiry.
    let png = m
        .get_bytes(
            &format!("/v1/labels/sheet?sscc={pallet}&columns=4"),
            "image/png",
        )
        .await;
    let expected =
        |serials: &[String], encoding: &Encoding| -> std::collections::BTreeSet<String> {
            serials
                .iter()
                .map(|s| {
                    pack_label(&product, s, "L1", &expiry)
                        .payload(encoding)
                        .expect("payload")
                })
                .collect()
        };
    assert_eq!(
        read_sheet(&decode_png(&png), 11, 4),
        expected(&serials[..11], &Encoding::default())
    );

    // A page of the batch's sheet, as SVG with element strings.
    let svg = m
        .get_bytes(
            &format!(
                "/v1/labels/sheet?gtin={product}&lot=L1&offset=20&limit=10&columns=3\
                 &format=svg&syntax=element-string"
            ),
            "image/svg+xml",
        )
        .await;
    let svg = String::from_utf8(svg).expect("SVG text");
    assert_eq!(
        read_sheet(&rasterise_svg(&svg), 5, 3),
        expected(&serials[20..], &Encoding::ElementString)
    );

    // One pack's label.
    let png = m
        .get_bytes(
            &format!(
                "/v1/labels/pack/{product}/{}?lot=L1&expiry={expiry}",
                serials[24]
            ),
            "image/png",
        )
        .await;
    let (text, _) = read_one_code(decode_png(&png));
    assert_eq!(
        text,
        format!(
            "https://id.gs1.org/01/{product}/10/L1/21/{}?17={expiry}",
            serials[24]
        )
    );

    // The pallet is shipped: the packs in it are in transit.
    let shipped = m
        .post(
            "/v1/shipments",
            &json!({
                "shipment_id": "SH-0001",
                "to": net.distributor.gln,
                "items": [format!("(00){pallet}")],
            }),
        )
        .await
        .expect(201);
    assert_eq!(kinds(&shipped), ["ship"]);
    m.all_accepted(&shipped).await;
    let status = ledger
        .get(&format!("/v1/packs/{product}/{}", serials[3]))
        .await
        .expect(200);
    assert_eq!(status["status"], "in_transit", "{status}");

    // The batch is recalled.
    let recalled = m
        .post(
            "/v1/recalls",
            &json!({ "gtin": product, "lot": "L1", "reason": "out-of-specification assay" }),
        )
        .await
        .expect(201);
    assert_eq!(kinds(&recalled), ["recall"]);
    m.all_accepted(&recalled).await;
    let status = ledger
        .get(&format!("/v1/packs/{product}/{}", serials[20]))
        .await
        .expect(200);
    assert_eq!(status["recalled"], true, "{status}");
    assert_eq!(status["ok_to_supply"], false, "{status}");

    m.stop().await;
    ledger.stop().await;
}

async fn a_large_batch_runs_as_a_job_that_reports_progress(backend: Backend) {
    let Setup {
        dbs: _dbs,
        ledger,
        manufacturer: m,
        product,
        ..
    } = setup(backend).await;
    m.post("/v1/products", &product_request(product.as_str()))
        .await
        .expect(201);

    let count = INLINE_MAX + 1;
    let started = m
        .post(
            "/v1/batches",
            &batch_request(&product, "BIG", json!({ "random": count })),
        )
        .await
        .expect(202);
    let job = &started["job"];
    assert_eq!(job["kind"], "commission");
    assert_eq!(job["total"], count);
    let id = job["id"].as_i64().expect("a job id");

    let mut seen_done = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let finished = loop {
        let job = m.get(&format!("/v1/jobs/{id}")).await.expect(200);
        seen_done.push(job["done"].as_i64().expect("done"));
        if job["status"] != "running" {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(finished["status"], "done", "{finished}");
    assert_eq!(finished["done"], count);
    assert!(
        seen_done.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {seen_done:?}"
    );
    // Two commission events: a full chunk and one serial.
    let detail = &finished["detail"];
    let outbox: Vec<Value> = std::iter::once(detail["register_batch"].clone())
        .chain(
            detail["commission"]
                .as_array()
                .expect("ids")
                .iter()
                .cloned(),
        )
        .map(|id| json!({ "id": id }))
        .collect();
    assert_eq!(outbox.len(), 3, "{detail}");
    m.all_accepted(&json!({ "outbox": outbox })).await;

    // The list pages across the chunk boundary.
    let path = format!("/v1/batches/{product}/BIG/serials");
    let mut all = strings(&m.get(&format!("{path}?limit=10000")).await.expect(200)["serials"]);
    all.extend(strings(
        &m.get(&format!("{path}?offset=10000&limit=10000"))
            .await
            .expect(200)["serials"],
    ));
    assert_eq!(all.len(), count);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    let across = m
        .get(&format!("{path}?offset=9998&limit=3"))
        .await
        .expect(200);
    assert_eq!(strings(&across["serials"]), all[9998..]);
    let status = ledger
        .get(&format!("/v1/packs/{product}/{}", all[count - 1]))
        .await
        .expect(200);
    assert_eq!(status["ok_to_supply"], true, "{status}");

    m.stop().await;
    ledger.stop().await;
}

async fn bad_input_is_refused_with_a_json_error_and_nothing_is_stored(backend: Backend) {
    let Setup {
        dbs: _dbs,
        ledger,
        manufacturer: m,
        net,
        product,
    } = setup(backend).await;

    let anonymous = answer(
        client()
            .get(format!("{}/v1/products", m.base))
            .send()
            .await
            .expect("the service answers"),
    )
    .await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);

    // A GTIN with a wrong check digit, a zero pack size, a missing field.
    m.post("/v1/products", &product_request("09506000134353"))
        .await
        .assert_error(400, "invalid_gtin");
    let mut zero = product_request(product.as_str());
    zero["pack_size"] = json!(0);
    m.post("/v1/products", &zero)
        .await
        .assert_error(400, "invalid_pack_size");
    m.post("/v1/products", &json!({ "gtin": product }))
        .await
        .assert_error(400, "malformed_json");
    // A batch of a product not registered here.
    m.post(
        "/v1/batches",
        &batch_request(&product, "L1", json!({ "random": 5 })),
    )
    .await
    .assert_error(400, "product_unknown");
    assert_eq!(m.outbox_len().await, 0, "nothing submitted");
    assert_eq!(
        m.get("/v1/products").await.expect(200)["products"],
        json!([]),
        "nothing stored"
    );

    m.post("/v1/products", &product_request(product.as_str()))
        .await
        .expect(201);
    m.post("/v1/products", &product_request(product.as_str()))
        .await
        .assert_error(409, "conflict");

    // Serial lists: a duplicate, an invalid serial; counts out of range; expiry before
    // manufacture.
    for (serials, code) in [
        (json!({ "list": ["A1", "B2", "A1"] }), "duplicate_serial"),
        (json!({ "list": ["A1", "no spaces"] }), "invalid_serial"),
        (json!({ "list": [] }), "invalid_serial_count"),
        (json!({ "random": 0 }), "invalid_serial_count"),
        (json!({ "random": 1_000_001 }), "invalid_serial_count"),
    ] {
        m.post("/v1/batches", &batch_request(&product, "L1", serials))
            .await
            .assert_error(400, code);
    }
    let mut backwards = batch_request(&product, "L1", json!({ "random": 5 }));
    backwards["expiry"] = json!((today() - Duration::days(60)).to_string());
    m.post("/v1/batches", &backwards)
        .await
        .assert_error(400, "invalid_expiry");

    // Cases and shipments: a bad check digit in an item, a case holding itself, a bad
    // receiver, a bad shipment id; a recall of an unknown batch.
    let case = sscc("09506000100000001");
    m.post(
        "/v1/cases",
        &json!({ "sscc": case, "items": [{ "gtin": "09506000134353", "serial": "A1" }] }),
    )
    .await
    .assert_error(400, "invalid_item");
    m.post(
        "/v1/cases",
        &json!({ "sscc": case, "items": [format!("(00){case}")] }),
    )
    .await
    .assert_error(400, "invalid_item");
    m.post(
        "/v1/shipments",
        &json!({ "shipment_id": "S1", "to": "9506000000038", "items": [format!("(00){case}")] }),
    )
    .await
    .assert_error(400, "invalid_to");
    m.post(
        "/v1/shipments",
        &json!({
            "shipment_id": "no spaces allowed",
            "to": net.distributor.gln,
            "items": [format!("(00){case}")],
        }),
    )
    .await
    .assert_error(400, "invalid_operation");
    m.post(
        "/v1/recalls",
        &json!({ "gtin": product, "lot": "L1", "reason": "contamination" }),
    )
    .await
    .assert_error(404, "not_found");

    // Labels: an unknown format or syntax; a sheet of nothing known.
    m.get(&format!("/v1/labels/pack/{product}/A1?format=gif"))
        .await
        .assert_error(400, "invalid_format");
    m.get(&format!("/v1/labels/pack/{product}/A1?syntax=qr"))
        .await
        .assert_error(400, "invalid_syntax");
    m.get(&format!("/v1/labels/sheet?gtin={product}&lot=L1"))
        .await
        .assert_error(404, "not_found");
    m.get(&format!("/v1/labels/sheet?sscc={case}"))
        .await
        .assert_error(404, "not_found");
    m.get("/v1/jobs/1").await.assert_error(404, "not_found");
    assert_eq!(m.outbox_len().await, 1, "only the product registration");

    // A batch registered twice: the second is refused before anything is stored.
    let first = m
        .post(
            "/v1/batches",
            &batch_request(&product, "L1", json!({ "list": ["A1", "B2"] })),
        )
        .await
        .expect(201);
    assert_eq!(kinds(&first), ["register_batch", "commission"]);
    m.post(
        "/v1/batches",
        &batch_request(&product, "L1", json!({ "random": 3 })),
    )
    .await
    .assert_error(409, "conflict");
    assert_eq!(m.outbox_len().await, 3);
    let second_job = first["job"]["id"].as_i64().expect("a job id") + 1;
    m.get(&format!("/v1/jobs/{second_job}"))
        .await
        .assert_error(404, "not_found");

    m.stop().await;
    ledger.stop().await;
}
