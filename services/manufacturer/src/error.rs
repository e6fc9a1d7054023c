//! How this crate's input errors answer over HTTP: each a 400 with a code naming the mistake
//! (or a 500 for a fault of ours, whose detail only goes to the log).

use pedigree_party::PartyError;

use crate::items::ItemError;
use crate::labels::LabelError;
use crate::serials::SerialError;

impl From<SerialError> for PartyError {
    fn from(error: SerialError) -> Self {
        let code = match error {
            SerialError::Count(_) => "invalid_serial_count",
            SerialError::Invalid { .. } => "invalid_serial",
            SerialError::Duplicate(_) => "duplicate_serial",
        };
        PartyError::bad_request(code, error.to_string())
    }
}

impl From<ItemError> for PartyError {
    fn from(error: ItemError) -> Self {
        let code = match error {
            ItemError::Count(_) => "invalid_item_count",
            ItemError::Gs1 { .. } | ItemError::Ambiguous { .. } | ItemError::Shape { .. } => {
                "invalid_item"
            }
            ItemError::Duplicate(_) => "duplicate_item",
        };
        PartyError::bad_request(code, error.to_string())
    }
}

impl From<LabelError> for PartyError {
    fn from(error: LabelError) -> Self {
        let code = match error {
            LabelError::Gs1(_) => "invalid_label_data",
            LabelError::Qr { .. } => "label_data_too_long",
            LabelError::EmptySheet => "empty_sheet",
            LabelError::SheetTooLarge(_) => "sheet_too_large",
            LabelError::Columns(_) => "invalid_columns",
            LabelError::Png(_) => return PartyError::Internal(error.to_string()),
        };
        PartyError::bad_request(code, error.to_string())
    }
}
