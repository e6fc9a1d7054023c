//! The manufacturer's routes. Handlers parse, call the domain, and map errors through
//! [`PartyError`]; database work runs on the blocking pool. Every route needs an [`Operator`].

use actix_web::http::header;
use actix_web::web::{self, Data, Json, Path, Query};
use actix_web::HttpResponse;
use pedigree_openapi::Routes;
use pedigree_party::{Operator, Party, PartyError};
use pedigree_schema::gs1::{Gtin, Lot, PackId, Serial, Sscc, CANONICAL_STEM};
use serde::Deserialize;
use serde_json::json;

use crate::batches::{self, BatchOrder, BatchRequest, INLINE_MAX};
use crate::labels::{self, Encoding, Format, PackLabel};
use crate::movements::{self, CaseRequest, RecallRequest, ShipmentRequest};
use crate::products::{self, ProductRequest};
use crate::{input, jobs};

/// Serials in a page without a `limit`.
const DEFAULT_SERIAL_PAGE: usize = 1000;
/// Labels on a sheet without a `limit`.
const DEFAULT_SHEET_LABELS: usize = 100;
/// Columns of a sheet without `columns`.
const DEFAULT_SHEET_COLUMNS: usize = 4;

pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut Routes::new(cfg));
}

/// The manufacturer's routes, through the recorder its OpenAPI test lists
/// (`tests/openapi.rs`); the document is `openapi.json` beside `Cargo.toml`.
pub fn register(routes: &mut Routes<'_>) {
    routes
        .openapi(include_str!("../openapi.json"))
        .post("/v1/products", create_product)
        .get("/v1/products", list_products)
        .post("/v1/batches", create_batch)
        .get("/v1/batches/{gtin}/{lot}/serials", batch_serials)
        .get("/v1/jobs/{id}", job)
        .post("/v1/cases", create_case)
        .post("/v1/shipments", create_shipment)
        .post("/v1/receipts", pedigree_party::trade::receive)
        .post("/v1/recalls", create_recall)
        .get("/v1/labels/pack/{gtin}/{serial}", pack_label)
        .get("/v1/labels/sheet", label_sheet);
}

async fn create_product(
    party: Data<Party>,
    _: Operator,
    request: Json<ProductRequest>,
) -> Result<HttpResponse, PartyError> {
    let product = request.into_inner().parse()?;
    let (product, outbox) =
        web::block(move || products::register(&party, &product).map(|outbox| (product, outbox)))
            .await??;
    Ok(HttpResponse::Created().json(json!({ "product": product, "outbox": outbox })))
}

async fn list_products(party: Data<Party>, _: Operator) -> Result<HttpResponse, PartyError> {
    let products = web::block(move || products::list(&mut *party.db().get()?)).await??;
    Ok(HttpResponse::Ok().json(json!({ "products": products })))
}

/// Registers and commissions a batch: 201 with the outbox items when done within the
/// request, 202 with the job (and `Location: /v1/jobs/{id}`) when it runs in the background.
async fn create_batch(
    party: Data<Party>,
    _: Operator,
    request: Json<BatchRequest>,
) -> Result<HttpResponse, PartyError> {
    let request = request.into_inner();
    let state = party.clone();
    let (job, order) = web::block(move || {
        let order = request.parse()?;
        batches::start(&state, &order).map(|job| (job, order))
    })
    .await??;
    let BatchOrder { record, serials } = order;
    if serials.count() <= INLINE_MAX {
        let (job, outbox) = web::block(move || {
            let outbox = batches::run(&party, job, record, serials)?;
            jobs::get(party.db(), job).map(|job| (job, outbox))
        })
        .await??;
        return Ok(HttpResponse::Created().json(json!({ "job": job, "outbox": outbox })));
    }
    let runner = party.clone();
    actix_web::rt::task::spawn_blocking(move || {
        if let Err(error) = batches::run(&runner, job, record, serials) {
            tracing::warn!(job, %error, "commissioning job failed");
        }
    });
    let job = web::block(move || jobs::get(party.db(), job)).await??;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/jobs/{}", job.id)))
        .json(json!({ "job": job })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn batch_serials(
    party: Data<Party>,
    _: Operator,
    path: Path<(String, String)>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, PartyError> {
    let (gtin, lot) = path.into_inner();
    let gtin = input::gs1("gtin", Gtin::parse(&gtin))?;
    let lot = input::gs1("lot", Lot::parse(&lot))?;
    let PageQuery { offset, limit } = query.into_inner();
    let page = web::block(move || {
        batches::serial_page(
            &mut *party.db().get()?,
            &gtin,
            &lot,
            offset.unwrap_or(0),
            limit.unwrap_or(DEFAULT_SERIAL_PAGE),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(page))
}

async fn job(party: Data<Party>, _: Operator, id: Path<i64>) -> Result<HttpResponse, PartyError> {
    let id = id.into_inner();
    let job = web::block(move || jobs::get(party.db(), id)).await??;
    Ok(HttpResponse::Ok().json(job))
}

async fn create_case(
    party: Data<Party>,
    _: Operator,
    request: Json<CaseRequest>,
) -> Result<HttpResponse, PartyError> {
    let request = request.into_inner();
    let outbox = web::block(move || party.outbox().submit(vec![request.parse()?])).await??;
    Ok(HttpResponse::Created().json(json!({ "outbox": outbox })))
}

async fn create_shipment(
    party: Data<Party>,
    _: Operator,
    request: Json<ShipmentRequest>,
) -> Result<HttpResponse, PartyError> {
    let request = request.into_inner();
    let outbox = web::block(move || party.outbox().submit(vec![request.parse()?])).await??;
    Ok(HttpResponse::Created().json(json!({ "outbox": outbox })))
}

async fn create_recall(
    party: Data<Party>,
    _: Operator,
    request: Json<RecallRequest>,
) -> Result<HttpResponse, PartyError> {
    let request = request.into_inner();
    let outbox = web::block(move || {
        let operation = request.parse(&mut *party.db().get()?)?;
        party.outbox().submit(vec![operation])
    })
    .await??;
    Ok(HttpResponse::Created().json(json!({ "outbox": outbox })))
}

/// `format=png|svg` (default png), `syntax=digital-link|element-string` (default
/// digital-link), `stem=` (Digital Link only; default `https://id.gs1.org`).
fn label_style(
    format: Option<&str>,
    syntax: Option<&str>,
    stem: Option<String>,
) -> Result<(Format, Encoding), PartyError> {
    let format = match format.unwrap_or("png") {
        "png" => Format::Png,
        "svg" => Format::Svg,
        other => {
            return Err(PartyError::bad_request(
                "invalid_format",
                format!("format {other:?} is neither png nor svg"),
            ))
        }
    };
    let encoding = match (syntax.unwrap_or("digital-link"), stem) {
        ("digital-link", stem) => Encoding::DigitalLink {
            stem: stem.unwrap_or_else(|| CANONICAL_STEM.to_owned()),
        },
        ("element-string", None) => Encoding::ElementString,
        ("element-string", Some(_)) => {
            return Err(PartyError::bad_request(
                "invalid_syntax",
                "a stem applies only to syntax=digital-link",
            ))
        }
        (other, _) => {
            return Err(PartyError::bad_request(
                "invalid_syntax",
                format!("syntax {other:?} is neither digital-link nor element-string"),
            ))
        }
    };
    Ok((format, encoding))
}

fn image(format: Format, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(format.content_type())
        .body(bytes)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackLabelQuery {
    format: Option<String>,
    syntax: Option<String>,
    stem: Option<String>,
    lot: Option<String>,
    expiry: Option<String>,
}

/// One pack's label, from the identifiers given (the pack need not be known here).
async fn pack_label(
    _: Operator,
    path: Path<(String, String)>,
    query: Query<PackLabelQuery>,
) -> Result<HttpResponse, PartyError> {
    let (gtin, serial) = path.into_inner();
    let query = query.into_inner();
    let (format, encoding) =
        label_style(query.format.as_deref(), query.syntax.as_deref(), query.stem)?;
    let label = PackLabel {
        pack: PackId::new(
            input::gs1("gtin", Gtin::parse(&gtin))?,
            input::gs1("serial", Serial::parse(&serial))?,
        ),
        lot: query
            .lot
            .as_deref()
            .map(|lot| input::gs1("lot", Lot::parse(lot)))
            .transpose()?,
        expiry: query.expiry.as_deref().map(input::expiry).transpose()?,
    };
    let bytes = web::block(move || labels::render_sheet(&[label], &encoding, 1, format)).await??;
    Ok(image(format, bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SheetQuery {
    gtin: Option<String>,
    lot: Option<String>,
    sscc: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    columns: Option<usize>,
    format: Option<String>,
    syntax: Option<String>,
    stem: Option<String>,
}

/// Which packs a sheet shows.
enum SheetOf {
    Batch(Gtin, Lot),
    Case(Sscc),
}

/// A sheet of pack labels: a page of a batch (`gtin` and `lot`) or of a case's packs
/// (`sscc`, nested cases included), `offset`/`limit` (at most
/// [`labels::MAX_SHEET_LABELS`]) and `columns`.
async fn label_sheet(
    party: Data<Party>,
    _: Operator,
    query: Query<SheetQuery>,
) -> Result<HttpResponse, PartyError> {
    let query = query.into_inner();
    let (format, encoding) =
        label_style(query.format.as_deref(), query.syntax.as_deref(), query.stem)?;
    let of = match (query.gtin, query.lot, query.sscc) {
        (Some(gtin), Some(lot), None) => SheetOf::Batch(
            input::gs1("gtin", Gtin::parse(&gtin))?,
            input::gs1("lot", Lot::parse(&lot))?,
        ),
        (None, None, Some(sscc)) => SheetOf::Case(input::gs1("sscc", Sscc::parse(&sscc))?),
        _ => {
            return Err(PartyError::bad_request(
                "invalid_sheet",
                "a sheet is of a batch (gtin and lot) or of a case (sscc)",
            ))
        }
    };
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_SHEET_LABELS);
    if !(1..=labels::MAX_SHEET_LABELS).contains(&limit) {
        return Err(PartyError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {}", labels::MAX_SHEET_LABELS),
        ));
    }
    let columns = query.columns.unwrap_or(DEFAULT_SHEET_COLUMNS);
    let bytes = web::block(move || {
        let conn = &mut *party.db().get()?;
        let labels = match of {
            SheetOf::Batch(gtin, lot) => {
                let page = batches::serial_page(conn, &gtin, &lot, offset, limit)?;
                page.serials
                    .iter()
                    .map(|serial| {
                        Ok(PackLabel {
                            pack: PackId::new(page.gtin.clone(), Serial::parse(serial)?),
                            lot: Some(page.lot.clone()),
                            expiry: Some(page.expiry.clone()),
                        })
                    })
                    .collect::<Result<Vec<_>, pedigree_schema::gs1::Gs1Error>>()
                    .map_err(|e| PartyError::Internal(format!("stored serial: {e}")))?
            }
            SheetOf::Case(sscc) => {
                let packs: Vec<PackId> = movements::packs_in_case(conn, &sscc)?
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .collect();
                let mut batches = batches::batches_of(conn, &packs)?;
                packs
                    .into_iter()
                    .map(|pack| {
                        let (lot, expiry) = batches.remove(&pack).unzip();
                        PackLabel { pack, lot, expiry }
                    })
                    .collect()
            }
        };
        Ok::<_, PartyError>(labels::render_sheet(&labels, &encoding, columns, format)?)
    })
    .await??;
    Ok(image(format, bytes))
}
