//! Products: the manufacturer's master data for a GTIN, kept locally (`products`), and the
//! `register_product` event that claims the GTIN on the ledger.

use diesel::prelude::*;
use pedigree_party::db::schema::products;
use pedigree_party::db::DbConnection;
use pedigree_party::{Operation, OutboxItem, Party, PartyError};
use pedigree_schema::event::{EventBody, Timestamp};
use pedigree_schema::gs1::Gtin;
use serde::{Deserialize, Serialize};

use crate::input;

/// Most units in one pack.
pub const MAX_PACK_SIZE: i32 = 1_000_000;

/// `POST /v1/products`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRequest {
    pub gtin: String,
    pub name: String,
    /// e.g. `500 mg`.
    pub strength: String,
    /// e.g. `tablet` (EDQM standard terms are the usual vocabulary).
    pub dosage_form: String,
    /// Units per pack.
    pub pack_size: i64,
}

/// A product as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    pub gtin: Gtin,
    pub name: String,
    pub strength: String,
    pub dosage_form: String,
    pub pack_size: i32,
    pub created_at: Timestamp,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = products)]
struct ProductRow {
    gtin: String,
    name: String,
    strength: String,
    dosage_form: String,
    pack_size: i32,
    created_at: i64,
}

impl TryFrom<ProductRow> for Product {
    type Error = PartyError;

    fn try_from(row: ProductRow) -> Result<Self, PartyError> {
        let corrupt = |what: &str| PartyError::Internal(format!("product {}: {what}", row.gtin));
        Ok(Self {
            gtin: Gtin::parse(&row.gtin).map_err(|_| corrupt("stored GTIN is invalid"))?,
            created_at: Timestamp::from_unix_micros(row.created_at)
                .ok_or_else(|| corrupt("stored time out of range"))?,
            name: row.name,
            strength: row.strength,
            dosage_form: row.dosage_form,
            pack_size: row.pack_size,
        })
    }
}

impl ProductRequest {
    /// The product the request describes, checked field by field.
    pub fn parse(self) -> Result<Product, PartyError> {
        let gtin = input::gs1("gtin", Gtin::parse(&self.gtin))?;
        input::text("name", &self.name)?;
        input::text("strength", &self.strength)?;
        input::text("dosage_form", &self.dosage_form)?;
        let pack_size = i32::try_from(self.pack_size)
            .ok()
            .filter(|n| (1..=MAX_PACK_SIZE).contains(n))
            .ok_or_else(|| {
                PartyError::bad_request(
                    "invalid_pack_size",
                    format!("pack_size must be 1 to {MAX_PACK_SIZE} units"),
                )
            })?;
        Ok(Product {
            gtin,
            name: self.name,
            strength: self.strength,
            dosage_form: self.dosage_form,
            pack_size,
            created_at: Timestamp::now(),
        })
    }
}

/// Submits `register_product` and stores the product.
///
/// The outbox and the products table are written in two transactions (the outbox keeps its
/// own), so the order matters: a duplicate is refused before anything is written, then the
/// event is stored, then the product. Should the process stop between the two, the event
/// still reaches the ledger and registering the product again stores the record (the
/// ledger refuses the second event as `product_already_registered`).
pub fn register(party: &Party, product: &Product) -> Result<Vec<OutboxItem>, PartyError> {
    if find(&mut *party.db().get()?, &product.gtin)?.is_some() {
        return Err(already_registered(&product.gtin));
    }
    let outbox = party.outbox().submit(vec![Operation {
        body: EventBody::RegisterProduct {
            gtin: product.gtin.clone(),
            name: product.name.clone(),
        },
        items: None,
    }])?;
    diesel::insert_into(products::table)
        .values((
            products::gtin.eq(product.gtin.as_str()),
            products::name.eq(&product.name),
            products::strength.eq(&product.strength),
            products::dosage_form.eq(&product.dosage_form),
            products::pack_size.eq(product.pack_size),
            products::created_at.eq(product.created_at.unix_micros()),
        ))
        .execute(&mut *party.db().get()?)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => already_registered(&product.gtin),
            other => other.into(),
        })?;
    Ok(outbox)
}

fn already_registered(gtin: &Gtin) -> PartyError {
    PartyError::conflict(format!("product {gtin} is already registered"))
}

/// The product `gtin`, if registered here.
pub fn find(conn: &mut DbConnection, gtin: &Gtin) -> Result<Option<Product>, PartyError> {
    products::table
        .find(gtin.as_str())
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?
        .map(Product::try_from)
        .transpose()
}

/// The product `gtin`, which must be registered here (`product_unknown` otherwise, the
/// ledger's code for the same mistake).
pub fn require(conn: &mut DbConnection, gtin: &Gtin) -> Result<Product, PartyError> {
    find(conn, gtin)?.ok_or_else(|| {
        PartyError::bad_request(
            "product_unknown",
            format!("product {gtin} is not registered by this manufacturer"),
        )
    })
}

/// Every product, by GTIN.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Product>, PartyError> {
    products::table
        .order(products::gtin)
        .select(ProductRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Product::try_from)
        .collect()
}
