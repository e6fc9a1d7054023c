//! GS1 EPCIS 2.0 JSON-LD: Pedigree's custody events as EPCIS events
//! ([`export`]), and EPCIS capture documents as Pedigree event bodies
//! ([`import`]). Pure mapping, no I/O; the table of what maps to what is in
//! `schema/README.md` ("EPCIS 2.0").
//!
//! Identifiers are written as GS1 Digital Link URIs on `https://id.gs1.org`
//! and read as Digital Link URIs or EPC URNs ([`ids`]). Facts EPCIS has no
//! field for (log index, event id, signer, signature, item-set commitment,
//! reasons) go in the `pedigree:` extension namespace ([`PEDIGREE_NS`]),
//! declared in the document's `@context`, so documents stay valid EPCIS.

pub mod export;
pub mod ids;
pub mod import;
#[cfg(feature = "epcis-schema")]
pub mod schema_check;

pub use export::{document, export_event, ExportEntry, ExportError};
pub use import::{import_document, ImportError, ImportedEvent, Refusal};

/// The namespace of Pedigree's extension fields (`pedigree:leafIndex`, …).
pub const PEDIGREE_NS: &str = "https://pedigree.example/epcis/";

/// The standard EPCIS 2.0 JSON-LD context.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";

/// Business steps CBV 2.0 lacks, in Pedigree's namespace.
pub const BIZSTEP_REACTIVATING: &str = "https://pedigree.example/epcis/reactivating";
pub const BIZSTEP_RECALLING: &str = "https://pedigree.example/epcis/recalling";
pub const BIZSTEP_LIFTING_RECALL: &str = "https://pedigree.example/epcis/lifting_recall";

/// The `@context` of every document Pedigree writes.
pub fn context() -> serde_json::Value {
    serde_json::json!([EPCIS_CONTEXT, { "pedigree": PEDIGREE_NS, "cbvmda": "urn:epcglobal:cbv:mda#" }])
}

/// A CBV term (`shipping`) from any of its spellings: the bare term, the
/// CBV 1.x URN (`urn:epcglobal:cbv:bizstep:shipping`) or the CBV 2.0 Web
/// URI (`https://ref.gs1.org/cbv/BizStep-shipping`). Other URIs are kept.
pub(crate) fn cbv_term<'a>(value: &'a str, urn_prefix: &str, web_prefix: &str) -> &'a str {
    value
        .strip_prefix(urn_prefix)
        .or_else(|| value.strip_prefix(web_prefix))
        .unwrap_or(value)
}
