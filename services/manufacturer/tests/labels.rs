//! Labels decode back to exactly the identifiers they were made from: PNGs read with `rqrr`,
//! SVGs rasterised with `resvg` and then read with `rqrr`; PNG text read back glyph by glyph.

mod common;

use std::collections::BTreeSet;

use common::{decode_png, rasterise_svg, read_one_code, read_sheet};
use font8x8::legacy::BASIC_LEGACY;
use image::GrayImage;
use pedigree_manufacturer::labels::{
    pack_label_png, pack_label_svg, sheet_png, sheet_svg, Encoding, LabelError, PackLabel,
    GLYPH_PX, GLYPH_SCALE, MAX_SHEET_LABELS,
};
use pedigree_schema::gs1::{Expiry, Gs1Data, Gtin, Lot, PackId, Serial};
use proptest::prelude::*;

const GTIN: &str = "09506000134352";

fn label(serial: &str, lot: Option<&str>, expiry: Option<&str>) -> PackLabel {
    PackLabel {
        pack: PackId::new(
            Gtin::parse(GTIN).expect("gtin"),
            Serial::parse(serial).expect("serial"),
        ),
        lot: lot.map(|l| Lot::parse(l).expect("lot")),
        expiry: expiry.map(|e| Expiry::parse(e).expect("expiry")),
    }
}

/// Checks that `text` is the label's code data and carries exactly its identifiers.
fn assert_carries(text: &str, label: &PackLabel, encoding: &Encoding) {
    assert_eq!(text, label.payload(encoding).expect("payload"));
    let data = Gs1Data::parse_any(text).expect("scanned data parses");
    assert_eq!(data.pack_id().expect("pack"), label.pack);
    assert_eq!(data.lot(), label.lot);
    assert_eq!(data.expiry(), label.expiry);
    let ais: Vec<&str> = data.elements().iter().map(|e| e.ai()).collect();
    let expected = 2 + usize::from(label.lot.is_some()) + usize::from(label.expiry.is_some());
    assert_eq!(ais.len(), expected, "no other data: {ais:?}");
}

fn encodings() -> [Encoding; 3] {
    [
        Encoding::default(),
        Encoding::ElementString,
        Encoding::DigitalLink {
            stem: "https://pedigree.example/p".into(),
        },
    ]
}

#[test]
fn png_labels_decode_to_the_exact_identifiers() {
    // A serial with characters that need escaping in URIs and XML.
    let tricky = label("A&b<'(/%\"x>", Some("L-1/2"), Some("271200"));
    for label in [
        label("SN0001", Some("LOT42"), Some("281231")),
        tricky,
        label("X", None, None),
    ] {
        for encoding in encodings() {
            let png = pack_label_png(&label, &encoding).expect("label");
            assert_carries(&read_one_code(decode_png(&png)).0, &label, &encoding);
        }
    }
}

#[test]
fn svg_labels_rasterised_decode_to_the_exact_identifiers() {
    let tricky = label("A&b<'(/%\"x>", Some("L-1/2"), Some("271200"));
    for label in [label("SN0001", Some("LOT42"), Some("281231")), tricky] {
        for encoding in encodings() {
            let svg = pack_label_svg(&label, &encoding).expect("label");
            assert_carries(&read_one_code(rasterise_svg(&svg)).0, &label, &encoding);
        }
    }
}

#[test]
fn element_string_puts_fixed_length_ais_first_with_one_separator() {
    let label = label("SN0001", Some("LOT42"), Some("281231"));
    let png = pack_label_png(&label, &Encoding::ElementString).expect("label");
    assert_eq!(
        read_one_code(decode_png(&png)).0,
        "01095060001343521728123110LOT42\u{1d}21SN0001"
    );
}

#[test]
fn digital_link_is_the_default_on_gs1s_resolver() {
    let label = label("SN0001", Some("LOT42"), Some("281231"));
    let png = pack_label_png(&label, &Encoding::default()).expect("label");
    assert_eq!(
        read_one_code(decode_png(&png)).0,
        "https://id.gs1.org/01/09506000134352/10/LOT42/21/SN0001?17=281231"
    );
}

#[test]
fn an_invalid_stem_is_refused() {
    let label = label("SN0001", None, None);
    let encoding = Encoding::DigitalLink {
        stem: "ftp://example.com".into(),
    };
    assert!(matches!(
        pack_label_png(&label, &encoding),
        Err(LabelError::Gs1(_))
    ));
}

/// Reads the text under the code back, glyph by glyph against the 8×8 font.
fn read_text_lines(image: &GrayImage, below: u32) -> Vec<String> {
    let dark = |x: u32, y: u32| image.get_pixel(x, y).0[0] < 128;
    let row_has_ink = |y: u32| (0..image.width()).any(|x| dark(x, y));
    // Bands of rows with ink: one per line, the top row being the glyphs' row 0 (every line
    // starts with `(`, whose row 0 is inked).
    let mut tops = Vec::new();
    let mut inked_before = false;
    for y in below..image.height() {
        let inked = row_has_ink(y);
        if inked && !inked_before {
            tops.push(y);
        }
        inked_before = inked;
    }
    let paren_left = BASIC_LEGACY[usize::from(b'(')]
        .iter()
        .filter(|r| **r != 0)
        .map(|r| r.trailing_zeros())
        .min()
        .unwrap_or(0);
    tops.into_iter()
        .map(|top| {
            let left = (0..image.width())
                .find(|&x| (top..top + GLYPH_PX).any(|y| dark(x, y)))
                .expect("a line has ink")
                - paren_left * GLYPH_SCALE;
            let mut line = String::new();
            let mut x = left;
            while x + GLYPH_PX <= image.width() {
                let mut cell = [0u8; 8];
                for (row, bits) in cell.iter_mut().enumerate() {
                    for col in 0..8 {
                        if dark(x + col * GLYPH_SCALE, top + row as u32 * GLYPH_SCALE) {
                            *bits |= 1 << col;
                        }
                    }
                }
                if cell == [0; 8] {
                    break;
                }
                let c = (0x21u8..0x7f)
                    .find(|&c| BASIC_LEGACY[usize::from(c)] == cell)
                    .expect("every cell is a glyph of the font");
                line.push(char::from(c));
                x += GLYPH_PX;
            }
            line
        })
        .collect()
}

#[test]
fn png_text_under_the_code_reads_back_as_the_human_readable_lines() {
    let label = label("A&b<'(/%\"x>", Some("LOT42"), Some("281231"));
    assert_eq!(
        label.human_readable(),
        [
            "(01)09506000134352",
            "(21)A&b<'(/%\"x>",
            "(10)LOT42",
            "(17)281231"
        ]
    );
    let image = decode_png(&pack_label_png(&label, &Encoding::default()).expect("label"));
    let (_, bottom) = read_one_code(image.clone());
    let below = u32::try_from(bottom).expect("positive") + 1;
    assert_eq!(read_text_lines(&image, below), label.human_readable());
}

/// The character data of each `<text>` element, unescaped.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .map(|rest| {
            let body = rest
                .split_once('>')
                .and_then(|(_, b)| b.split_once("</text>"))
                .expect("a text element")
                .0;
            body.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn svg_text_under_the_code_holds_the_human_readable_lines() {
    let label = label("A&b<'(/%\"x>", Some("LOT42"), Some("281231"));
    let svg = pack_label_svg(&label, &Encoding::default()).expect("label");
    assert!(
        resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).is_ok(),
        "well-formed despite the markup characters in the serial"
    );
    assert_eq!(svg_texts(&svg), label.human_readable());
}

fn batch(n: usize) -> Vec<PackLabel> {
    (0..n)
        .map(|i| label(&format!("S{i:04}"), Some("LOT42"), Some("281231")))
        .collect()
}

fn payloads(labels: &[PackLabel], encoding: &Encoding) -> BTreeSet<String> {
    labels
        .iter()
        .map(|l| l.payload(encoding).expect("payload"))
        .collect()
}

#[test]
fn every_code_of_a_png_sheet_decodes() {
    let labels = batch(7);
    for encoding in [Encoding::default(), Encoding::ElementString] {
        let png = sheet_png(&labels, &encoding, 3).expect("sheet");
        let decoded = read_sheet(&decode_png(&png), 7, 3);
        assert_eq!(decoded, payloads(&labels, &encoding));
    }
}

#[test]
fn every_code_of_an_svg_sheet_decodes() {
    let labels = batch(5);
    let svg = sheet_svg(&labels, &Encoding::default(), 2).expect("sheet");
    let decoded = read_sheet(&rasterise_svg(&svg), 5, 2);
    assert_eq!(decoded, payloads(&labels, &Encoding::default()));
    assert_eq!(svg_texts(&svg).len(), 5 * 4, "four text lines per label");
}

#[test]
fn sheet_size_and_columns_are_bounded() {
    let encoding = Encoding::default();
    assert!(matches!(
        sheet_png(&[], &encoding, 1),
        Err(LabelError::EmptySheet)
    ));
    assert!(matches!(
        sheet_svg(&batch(MAX_SHEET_LABELS + 1), &encoding, 4),
        Err(LabelError::SheetTooLarge(_))
    ));
    assert!(matches!(
        sheet_svg(&batch(1), &encoding, 0),
        Err(LabelError::Columns(0))
    ));
}

/// GS1 character set 82 (GenSpecs Figure 7.11-1).
const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn cset82(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(CSET82.chars().collect::<Vec<_>>()),
        1..=max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_cset82_serial_and_lot_round_trip_through_a_png_label(
        serial in cset82(20),
        lot in cset82(20),
        element_string in any::<bool>(),
    ) {
        let label = label(&serial, Some(&lot), Some("320229"));
        let encoding = if element_string { Encoding::ElementString } else { Encoding::default() };
        let png = pack_label_png(&label, &encoding).expect("label");
        assert_carries(&read_one_code(decode_png(&png)).0, &label, &encoding);
    }
}
