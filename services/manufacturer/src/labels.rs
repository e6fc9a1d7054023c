//! Pack labels: a QR Code carrying a pack's GS1 identifiers, with their human-readable
//! interpretation (HRI) printed under it, as PNG or SVG; and printable sheets of such labels.
//!
//! Pure code (data in, bytes out) so it is testable without HTTP and usable by `pedigree up`
//! to write demo labels.
//!
//! - **Data.** A label carries (01) GTIN, (21) serial and, when known, (10) lot and (17)
//!   expiry: the FMD's unique identifier (Delegated Regulation (EU) 2016/161, Art. 4). The code
//!   holds either a GS1 Digital Link URI (default; GS1 Digital Link Standard: URI Syntax — the
//!   form a phone camera opens) or the GS1 element string with GS separators after
//!   variable-length values (GS1 General Specifications §7.8). The element string is encoded as
//!   plain QR data: no `]Q3` symbology identifier in the data and no FNC1-first mode indicator,
//!   so scanners transmit the element string itself, which `Gs1Data::parse_any` reads.
//! - **Order.** The element string puts the predefined-length AIs first, (01)(17)(10)(21), so
//!   only one GS separator is needed (GenSpecs §7.8.5); the HRI lines follow the order of the
//!   FMD's human-readable format: (01), (21), (10), (17).
//! - **Symbol.** Error correction level M (15 % of codewords recoverable) and a quiet zone of
//!   4 modules on every side (ISO/IEC 18004:2015 §6.3.8).
//! - **Text.** PNG text is drawn with the public-domain 8×8 bitmap font of `font8x8`, so no font
//!   file is needed; SVG text is `<text>` in the viewer's monospace font.

use std::fmt::Write as _;

use font8x8::legacy::BASIC_LEGACY;
use image::{GrayImage, ImageFormat, Luma};
use pedigree_schema::gs1::{Expiry, Gs1Data, Gs1Error, Lot, PackId, CANONICAL_STEM};
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module (PNG) and SVG user units per module.
pub const MODULE_PX: u32 = 4;
/// The quiet zone around each code, in modules (ISO/IEC 18004:2015 §6.3.8).
pub const QUIET_ZONE_MODULES: u32 = 4;
/// Each pixel of the 8×8 font is drawn as a `GLYPH_SCALE` × `GLYPH_SCALE` square.
pub const GLYPH_SCALE: u32 = 2;
/// Width and height of one character cell of the label text, in pixels.
pub const GLYPH_PX: u32 = 8 * GLYPH_SCALE;
/// Distance between the tops of two text lines, in pixels.
pub const LINE_PX: u32 = GLYPH_PX + 4 * GLYPH_SCALE;
/// Margin left of the text and below the last line, in pixels (as wide as the quiet zone).
pub const MARGIN_PX: u32 = QUIET_ZONE_MODULES * MODULE_PX;
/// Most labels on one sheet: a sheet is one image held in memory, so batches are printed in
/// pages of at most this many labels.
pub const MAX_SHEET_LABELS: usize = 200;
/// Most columns of a sheet.
pub const MAX_SHEET_COLUMNS: usize = 20;

/// Why a label or sheet cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("cannot write the label's GS1 data: {0}")]
    Gs1(#[from] Gs1Error),
    #[error("the label data ({len} characters) does not fit in a QR Code: {source}")]
    Qr { len: usize, source: QrError },
    #[error("a label sheet needs at least one label")]
    EmptySheet,
    #[error("a label sheet holds at most {MAX_SHEET_LABELS} labels, not {0}: print it in pages")]
    SheetTooLarge(usize),
    #[error("a label sheet has 1 to {MAX_SHEET_COLUMNS} columns, not {0}")]
    Columns(usize),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] image::ImageError),
}

/// What one pack label shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackLabel {
    pub pack: PackId,
    pub lot: Option<Lot>,
    pub expiry: Option<Expiry>,
}

/// How the identifiers are written into the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A GS1 Digital Link URI on `stem` (e.g. `https://id.gs1.org`).
    DigitalLink { stem: String },
    /// The GS1 element string with GS (ASCII 29) separators.
    ElementString,
}

/// The canonical Digital Link on GS1's resolver.
impl Default for Encoding {
    fn default() -> Self {
        Self::DigitalLink {
            stem: CANONICAL_STEM.to_owned(),
        }
    }
}

/// The image format of a label or sheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    /// The HTTP media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }
}

impl PackLabel {
    /// The label's GS1 data, predefined-length AIs first: (01), (17), (10), (21).
    pub fn gs1_data(&self) -> Result<Gs1Data, LabelError> {
        let mut data = Gs1Data::new();
        data.push("01", self.pack.gtin.as_str())?;
        if let Some(expiry) = &self.expiry {
            data.push("17", expiry.as_str())?;
        }
        if let Some(lot) = &self.lot {
            data.push("10", lot.as_str())?;
        }
        data.push("21", self.pack.serial.as_str())?;
        Ok(data)
    }

    /// The text the QR Code carries.
    pub fn payload(&self, encoding: &Encoding) -> Result<String, LabelError> {
        let data = self.gs1_data()?;
        Ok(match encoding {
            Encoding::DigitalLink { stem } => data.to_digital_link_with_stem(stem)?,
            Encoding::ElementString => data.to_element_string(),
        })
    }

    /// The human-readable lines printed under the code: `(01)…`, `(21)…`, `(10)…`, `(17)…`.
    pub fn human_readable(&self) -> Vec<String> {
        let mut lines = vec![
            format!("(01){}", self.pack.gtin),
            format!("(21){}", self.pack.serial),
        ];
        lines.extend(self.lot.iter().map(|lot| format!("(10){lot}")));
        lines.extend(self.expiry.iter().map(|expiry| format!("(17){expiry}")));
        lines
    }
}

/// One label as PNG bytes.
pub fn pack_label_png(label: &PackLabel, encoding: &Encoding) -> Result<Vec<u8>, LabelError> {
    sheet_png(std::slice::from_ref(label), encoding, 1)
}

/// One label as an SVG document.
pub fn pack_label_svg(label: &PackLabel, encoding: &Encoding) -> Result<String, LabelError> {
    sheet_svg(std::slice::from_ref(label), encoding, 1)
}

/// One label or a sheet in `format` (a single label is a sheet of one).
pub fn render_sheet(
    labels: &[PackLabel],
    encoding: &Encoding,
    columns: usize,
    format: Format,
) -> Result<Vec<u8>, LabelError> {
    match format {
        Format::Png => sheet_png(labels, encoding, columns),
        Format::Svg => sheet_svg(labels, encoding, columns).map(String::into_bytes),
    }
}

/// A sheet of labels in a grid of `columns` columns, as PNG bytes.
pub fn sheet_png(
    labels: &[PackLabel],
    encoding: &Encoding,
    columns: usize,
) -> Result<Vec<u8>, LabelError> {
    let sheet = Sheet::lay_out(labels, encoding, columns)?;
    let mut image = GrayImage::from_pixel(sheet.width, sheet.height, WHITE);
    for (layout, (x, y)) in sheet.placed() {
        layout.draw_png(&mut image, x, y);
    }
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, ImageFormat::Png)?;
    Ok(png.into_inner())
}

/// A sheet of labels in a grid of `columns` columns, as an SVG document.
pub fn sheet_svg(
    labels: &[PackLabel],
    encoding: &Encoding,
    columns: usize,
) -> Result<String, LabelError> {
    let sheet = Sheet::lay_out(labels, encoding, columns)?;
    let (w, h) = (sheet.width, sheet.height);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n"
    );
    for (layout, (x, y)) in sheet.placed() {
        layout.write_svg(&mut svg, x, y);
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

const WHITE: Luma<u8> = Luma([255]);
const BLACK: Luma<u8> = Luma([0]);

/// One label's code matrix and text, and its size in pixels.
struct Layout {
    /// Dark modules, row by row, `modules` × `modules`.
    dark: Vec<bool>,
    modules: u32,
    lines: Vec<String>,
    width: u32,
    height: u32,
}

impl Layout {
    fn new(label: &PackLabel, encoding: &Encoding) -> Result<Self, LabelError> {
        let payload = label.payload(encoding)?;
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).map_err(
            |source| LabelError::Qr {
                len: payload.len(),
                source,
            },
        )?;
        // A QR Code is at most 177 modules wide and the text at most 24 characters a line
        // (`(21)` plus 20), so every size below is far from overflowing u32.
        let modules = code.width() as u32;
        let lines = label.human_readable();
        let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
        let width = Self::qr_px(modules).max(2 * MARGIN_PX + longest * GLYPH_PX);
        let height = Self::qr_px(modules) + lines.len() as u32 * LINE_PX + MARGIN_PX;
        Ok(Self {
            dark: code
                .into_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
            modules,
            lines,
            width,
            height,
        })
    }

    /// Side of the code with its quiet zone, in pixels.
    fn qr_px(modules: u32) -> u32 {
        (modules + 2 * QUIET_ZONE_MODULES) * MODULE_PX
    }

    /// Top-left pixel of the code's first module, relative to the label.
    fn code_origin(&self) -> (u32, u32) {
        let left = (self.width - Self::qr_px(self.modules)) / 2;
        let quiet = QUIET_ZONE_MODULES * MODULE_PX;
        (left + quiet, quiet)
    }

    /// Top of text line `index`, relative to the label.
    fn line_top(&self, index: usize) -> u32 {
        Self::qr_px(self.modules) + index as u32 * LINE_PX
    }

    /// Horizontal runs of dark modules as (row, first column, length).
    fn dark_runs(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let n = self.modules as usize;
        self.dark.chunks(n).enumerate().flat_map(|(row, cells)| {
            let mut runs = Vec::new();
            let mut col = 0;
            while col < cells.len() {
                let len = cells[col..].iter().take_while(|&&d| d).count();
                if len > 0 {
                    runs.push((row as u32, col as u32, len as u32));
                }
                col += len + 1;
            }
            runs
        })
    }

    fn draw_png(&self, image: &mut GrayImage, x0: u32, y0: u32) {
        let (cx, cy) = self.code_origin();
        for (row, col, len) in self.dark_runs() {
            fill(
                image,
                x0 + cx + col * MODULE_PX,
                y0 + cy + row * MODULE_PX,
                len * MODULE_PX,
                MODULE_PX,
            );
        }
        for (index, line) in self.lines.iter().enumerate() {
            let top = y0 + self.line_top(index);
            for (i, c) in line.chars().enumerate() {
                draw_glyph(image, x0 + MARGIN_PX + i as u32 * GLYPH_PX, top, c);
            }
        }
    }

    fn write_svg(&self, svg: &mut String, x0: u32, y0: u32) {
        let (cx, cy) = self.code_origin();
        let _ = write!(
            svg,
            "<g transform=\"translate({x0} {y0})\">\n<path fill=\"#000\" \
             shape-rendering=\"crispEdges\" d=\""
        );
        for (row, col, len) in self.dark_runs() {
            let _ = write!(
                svg,
                "M{} {}h{}v{MODULE_PX}h-{}z",
                cx + col * MODULE_PX,
                cy + row * MODULE_PX,
                len * MODULE_PX,
                len * MODULE_PX
            );
        }
        svg.push_str("\"/>\n");
        for (index, line) in self.lines.iter().enumerate() {
            // The baseline sits one font pixel above the bottom of the character cell, where
            // the 8×8 font's baseline is.
            let baseline = self.line_top(index) + GLYPH_PX - GLYPH_SCALE;
            let _ = writeln!(
                svg,
                "<text x=\"{MARGIN_PX}\" y=\"{baseline}\" font-family=\"monospace\" \
                 font-size=\"{GLYPH_PX}\" fill=\"#000\">{}</text>",
                xml_escape(line)
            );
        }
        svg.push_str("</g>\n");
    }
}

/// Labels laid out in a grid of equal cells (each as large as the largest label).
struct Sheet {
    layouts: Vec<Layout>,
    columns: usize,
    cell: (u32, u32),
    width: u32,
    height: u32,
}

impl Sheet {
    fn lay_out(
        labels: &[PackLabel],
        encoding: &Encoding,
        columns: usize,
    ) -> Result<Self, LabelError> {
        if labels.is_empty() {
            return Err(LabelError::EmptySheet);
        }
        if labels.len() > MAX_SHEET_LABELS {
            return Err(LabelError::SheetTooLarge(labels.len()));
        }
        if !(1..=MAX_SHEET_COLUMNS).contains(&columns) {
            return Err(LabelError::Columns(columns));
        }
        let layouts = labels
            .iter()
            .map(|label| Layout::new(label, encoding))
            .collect::<Result<Vec<_>, _>>()?;
        let cell = layouts
            .iter()
            .fold((0, 0), |(w, h), l| (w.max(l.width), h.max(l.height)));
        let columns = columns.min(layouts.len());
        let rows = layouts.len().div_ceil(columns);
        // At most 20 columns and 200 rows of cells a few hundred pixels wide.
        Ok(Self {
            width: cell.0 * columns as u32,
            height: cell.1 * rows as u32,
            layouts,
            columns,
            cell,
        })
    }

    /// Each label with the top-left pixel of its cell.
    fn placed(&self) -> impl Iterator<Item = (&Layout, (u32, u32))> {
        self.layouts.iter().enumerate().map(|(i, layout)| {
            let (row, col) = ((i / self.columns) as u32, (i % self.columns) as u32);
            (layout, (col * self.cell.0, row * self.cell.1))
        })
    }
}

fn fill(image: &mut GrayImage, x: u32, y: u32, w: u32, h: u32) {
    for py in y..y + h {
        for px in x..x + w {
            image.put_pixel(px, py, BLACK);
        }
    }
}

/// Draws `c` from the 8×8 font with its top-left corner at (`x`, `y`); bit `i` of a font row
/// is column `i` from the left. Characters outside ASCII draw nothing (labels hold only GS1
/// character set 82, which is ASCII).
fn draw_glyph(image: &mut GrayImage, x: u32, y: u32, c: char) {
    let Some(rows) = BASIC_LEGACY.get(c as usize) else {
        return;
    };
    for (row, bits) in rows.iter().enumerate() {
        for col in 0..8 {
            if bits & (1 << col) != 0 {
                fill(
                    image,
                    x + col * GLYPH_SCALE,
                    y + row as u32 * GLYPH_SCALE,
                    GLYPH_SCALE,
                    GLYPH_SCALE,
                );
            }
        }
    }
}

/// Escapes text for XML character data (GS1 character set 82 has `&`, `<`, `>`, `"`, `'`).
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
