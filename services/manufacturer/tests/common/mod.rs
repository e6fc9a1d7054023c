//! Test support: the shared kit (`pedigree-testkit`: a real ledger on a throw-away database,
//! keyed parties, party services and clients) set up as these tests' world — governance, the
//! manufacturer running this crate's service, and a wholesaler to ship to — and reading labels
//! back (PNG with rqrr, SVG rasterised with resvg, then rqrr).
//!
//! Scenarios that touch the database are written once as `async fn scenario(backend)` and run
//! on SQLite and (when `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::BTreeSet;
use std::ops::Deref;

use image::GrayImage;
use pedigree_party::PartyConfig;
use pedigree_schema::event::EventSubmission;
pub use pedigree_testkit::*;

// ---------------------------------------------------------------- the network

/// The kit's network of which governance, the manufacturer and the distributor are
/// registered, the manufacturer running the service under test.
pub struct Network(pedigree_testkit::Network);

impl Network {
    pub fn new() -> Self {
        Self(pedigree_testkit::Network::new())
    }

    /// Genesis: governance registers itself, then the other parties.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        self.genesis_of(&[&self.governance, &self.manufacturer, &self.distributor])
    }

    /// The manufacturer's party service configuration.
    pub fn party_config(&self, db: &TestDatabase, ledger_url: &str) -> PartyConfig {
        self.0.party_config(&self.manufacturer, db, ledger_url)
    }
}

impl Deref for Network {
    type Target = pedigree_testkit::Network;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

// ---------------------------------------------------------------- the manufacturer

/// The manufacturer's party service (the kit's, with this crate's routes).
pub struct Manufacturer(RunningParty);

impl Manufacturer {
    pub fn start(config: PartyConfig) -> Self {
        Self(RunningParty::start(config, pedigree_manufacturer::routes))
    }

    pub async fn stop(self) {
        self.0.stop().await;
    }

    /// The number of outbox items.
    pub async fn outbox_len(&self) -> usize {
        self.outbox().await.len()
    }
}

impl Deref for Manufacturer {
    type Target = RunningParty;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

// ---------------------------------------------------------------- reading labels

pub fn decode_png(png: &[u8]) -> GrayImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8()
}

/// Rasterises an SVG at its own size (text is not rendered: resvg is built without fonts).
pub fn rasterise_svg(svg: &str) -> GrayImage {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).expect("SVG");
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("non-empty SVG");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    GrayImage::from_fn(size.width(), size.height(), |x, y| {
        let pixel = pixmap.pixel(x, y).expect("in bounds").demultiply();
        image::Luma([pixel.red()])
    })
}

/// The text of the one QR Code in the image, and the bottom of its bounds.
pub fn read_one_code(image: GrayImage) -> (String, i32) {
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one code on a label");
    let (_, text) = grids[0].decode().expect("the code decodes");
    let bottom = grids[0].bounds.iter().map(|p| p.y).max().unwrap_or(0);
    (text, bottom)
}

/// The code of every cell of a sheet of `count` labels in `columns` columns, each cell read on
/// its own as a scanner aimed at one label would (read whole, rqrr also proposes grids made of
/// finder patterns of neighbouring codes).
pub fn read_sheet(sheet: &GrayImage, count: u32, columns: u32) -> BTreeSet<String> {
    let columns = columns.min(count);
    let rows = count.div_ceil(columns);
    let (w, h) = (sheet.width() / columns, sheet.height() / rows);
    assert_eq!(
        (sheet.width() % columns, sheet.height() % rows),
        (0, 0),
        "the sheet is a grid of {count} cells in {columns} columns"
    );
    (0..count)
        .map(|i| {
            let cell = image::imageops::crop_imm(sheet, (i % columns) * w, (i / columns) * h, w, h);
            read_one_code(cell.to_image()).0
        })
        .collect()
}
