//! The items of an aggregation or a shipment as operators give them: a pack or case as any GS1
//! syntax (element string, bracketed form, Digital Link, i.e. what a scanner reads off the
//! label), or a pack as `{"gtin": …, "serial": …}`.

use std::collections::HashSet;

use pedigree_schema::event::{canonical_item_order, Item};
use pedigree_schema::gs1::{Gs1Data, Gs1Error, Gtin, PackId, Serial, Sscc};
use serde_json::Value;

/// Most items in one aggregation or shipment.
pub const MAX_ITEMS: usize = 1_000_000;

/// Why an item list is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error("the item list must hold 1 to {MAX_ITEMS} items, not {0}")]
    Count(usize),
    #[error("item {index}: {source}")]
    Gs1 { index: usize, source: Gs1Error },
    #[error("item {index} has both an SSCC (00) and a pack (01)/(21): give one per item")]
    Ambiguous { index: usize },
    #[error(
        "item {index} must be a GS1 code (element string, bracketed or Digital Link) or \
         an object {{\"gtin\": \"…\", \"serial\": \"…\"}}"
    )]
    Shape { index: usize },
    #[error("item {0} is listed more than once")]
    Duplicate(String),
}

/// The items of `values` as item-list texts (`(01)<gtin>(21)<serial>`, `(00)<sscc>`) in
/// canonical order. A repeated item is refused (it is almost certainly a mistake).
pub fn parse_items(values: &[Value]) -> Result<Vec<String>, ItemError> {
    if !(1..=MAX_ITEMS).contains(&values.len()) {
        return Err(ItemError::Count(values.len()));
    }
    let mut seen = HashSet::with_capacity(values.len());
    let mut items = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        let item = parse_item(index, value)?.to_string();
        if !seen.insert(item.clone()) {
            return Err(ItemError::Duplicate(item));
        }
        items.push(item);
    }
    Ok(canonical_item_order(items))
}

/// One item; `index` is for the error message.
pub fn parse_item(index: usize, value: &Value) -> Result<Item, ItemError> {
    let gs1 = |source| ItemError::Gs1 { index, source };
    match value {
        Value::String(text) => {
            let data = Gs1Data::parse_any(text).map_err(gs1)?;
            match data.value("00") {
                Some(_) if data.value("01").is_some() || data.value("21").is_some() => {
                    Err(ItemError::Ambiguous { index })
                }
                Some(sscc) => Ok(Item::Case(Sscc::parse(sscc).map_err(gs1)?)),
                None => Ok(Item::Pack(data.pack_id().map_err(gs1)?)),
            }
        }
        Value::Object(fields) => match (fields.get("gtin"), fields.get("serial"), fields.len()) {
            (Some(Value::String(gtin)), Some(Value::String(serial)), 2) => {
                Ok(Item::Pack(PackId::new(
                    Gtin::parse(gtin).map_err(gs1)?,
                    Serial::parse(serial).map_err(gs1)?,
                )))
            }
            _ => Err(ItemError::Shape { index }),
        },
        _ => Err(ItemError::Shape { index }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_syntax_gives_the_same_canonical_item() {
        let pack = "(01)09506000134352(21)ABC";
        for input in [
            json!("(01)09506000134352(21)ABC"),
            json!("0109506000134352\u{1d}21ABC"),
            json!("]Q30109506000134352\u{1d}21ABC"),
            json!("https://id.gs1.org/01/09506000134352/21/ABC"),
            json!({"gtin": "9506000134352", "serial": "ABC"}),
        ] {
            assert_eq!(
                parse_items(std::slice::from_ref(&input)).expect("parses"),
                [pack],
                "{input}"
            );
        }
    }

    #[test]
    fn cases_sort_before_packs() {
        let items = parse_items(&[
            json!("(01)09506000134352(21)ABC"),
            json!("(00)950600010000000018"),
        ])
        .expect("parses");
        assert_eq!(
            items,
            ["(00)950600010000000018", "(01)09506000134352(21)ABC"]
        );
    }

    #[test]
    fn a_bad_check_digit_names_the_item() {
        let err = parse_items(&[
            json!("(00)950600010000000018"),
            json!({"gtin": "09506000134353", "serial": "A"}),
        ])
        .expect_err("bad check digit");
        assert!(
            matches!(
                err,
                ItemError::Gs1 {
                    index: 1,
                    source: Gs1Error::BadCheckDigit { .. }
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn duplicates_ambiguity_and_shapes_are_refused() {
        let twice = json!("(01)09506000134352(21)ABC");
        assert!(matches!(
            parse_items(&[twice.clone(), twice]),
            Err(ItemError::Duplicate(_))
        ));
        assert!(matches!(
            parse_items(&[json!("(00)950600010000000018(01)09506000134352(21)A")]),
            Err(ItemError::Ambiguous { index: 0 })
        ));
        for shape in [json!(7), json!({"gtin": "09506000134352"}), json!(null)] {
            assert!(matches!(
                parse_items(&[shape]),
                Err(ItemError::Shape { index: 0 })
            ));
        }
        assert!(matches!(parse_items(&[]), Err(ItemError::Count(0))));
    }
}
