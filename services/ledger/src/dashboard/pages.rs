//! The dashboard's HTML. `maud` escapes every interpolated value, so text
//! from events, parties, codes and notes cannot become markup; nothing here
//! uses `PreEscaped` on such text. No scripts: plain links and forms.

use std::collections::HashMap;

use maud::{html, Markup, DOCTYPE};
use pedigree_schema::event::EventBody;

use super::evidence::{Check, LogHealth, PartyInfo};
use crate::alerts::{AlertDetail, AlertFilter, AlertPage, QueuedAlert, TriageState};
use crate::error::ApiError;
use crate::queries::{BatchWhereabouts, PackStatus, Provenance};

/// The header's colour (the browser test looks for it in a screenshot).
pub const HEADER_RGB: [u8; 3] = [0x0b, 0x4f, 0x6c];

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2a33;background:#f3f6f8}
header{background:#0b4f6c;color:#fff;padding:14px 28px;display:flex;align-items:center;gap:28px}
header h1{font-size:19px;margin:0;font-weight:600}
header nav{display:flex;gap:18px;flex:1}
header a{color:#e6f2f7;text-decoration:none;font-weight:500}
header a:hover{text-decoration:underline}
header form{margin:0}
header .who{font-size:13px;opacity:.85}
main{max-width:1180px;margin:24px auto;padding:0 28px}
h2{font-size:22px;margin:8px 0 16px}
h3{font-size:17px;margin:22px 0 10px}
.card{background:#fff;border:1px solid #d8e1e7;border-radius:8px;padding:18px 20px;margin-bottom:18px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e3e9ee;vertical-align:top}
th{background:#eef3f6;font-weight:600;font-size:13px;text-transform:uppercase;letter-spacing:.03em;color:#44545f}
input,select,textarea{font:inherit;padding:7px 9px;border:1px solid #b9c7d0;border-radius:6px;background:#fff}
input[type=text].wide{width:100%}
textarea{width:100%;min-height:80px}
button{font:inherit;padding:8px 16px;border:0;border-radius:6px;background:#0b4f6c;color:#fff;cursor:pointer}
button.link{background:none;color:#e6f2f7;padding:0;font-weight:500}
.ok{color:#17683a;font-weight:600}
.bad{color:#b3261e;font-weight:600}
.muted{color:#667883;font-size:13px}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12.5px;font-weight:600;background:#e3e9ee}
.pill.open{background:#fde2e0;color:#8a1c14}
.pill.investigating{background:#fff1c7;color:#7a5300}
.pill.closed_false_positive,.pill.closed_confirmed{background:#dff3e5;color:#17683a}
.error{background:#fde2e0;border:1px solid #f2b8b3;color:#8a1c14;border-radius:8px;padding:12px 16px;margin-bottom:18px}
.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:end}
.filters label{display:flex;flex-direction:column;font-size:12.5px;color:#44545f;gap:3px}
pre{background:#f6f8fa;border:1px solid #e3e9ee;border-radius:6px;padding:10px;overflow-x:auto;font-size:12.5px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;margin:0}
dt{color:#667883}
dd{margin:0}
";

/// Unix microseconds as a UTC date-time.
fn when(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || micros.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A whole page: header with navigation when logged in.
pub fn layout(title: &str, login: Option<(&str, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Pedigree dashboard" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "Pedigree" }
                    @if let Some((name, form_token)) = login {
                        nav {
                            a href="/dashboard/search" { "Find a pack or batch" }
                            a href="/dashboard/alerts" { "Alerts" }
                            a href="/dashboard/health" { "Log health" }
                        }
                        span.who { "Signed in as " (name) }
                        form method="post" action="/dashboard/logout" {
                            input type="hidden" name="form_token" value=(form_token);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn error_box(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            div.error role="alert" { (message) }
        }
    }
}

pub fn login(error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            div.card style="max-width:520px;margin:40px auto" {
                h2 { "Regulators' dashboard" }
                p.muted { "Paste the dashboard token you were given (" code { "pedigree ledger --create-dashboard-login" } " prints one)." }
                (error_box(error))
                form method="post" action="/dashboard/login" {
                    p { input.wide #token type="password" name="token" autocomplete="off" placeholder="Dashboard token" autofocus; }
                    button #login type="submit" { "Log in" }
                }
            }
        },
    )
}

pub fn error(status: u16, error: &ApiError) -> Markup {
    html! {
        h2 { "Cannot show this page" }
        div.error role="alert" { (status) " — " (error.code()) ": " (error.to_string()) }
        p { a href="/dashboard/search" { "Back to search" } }
    }
}

pub fn search(code: &str, error: Option<&str>) -> Markup {
    html! {
        h2 { "Find a pack or a batch" }
        div.card {
            p.muted { "Type or paste a scanned code: a GS1 element string (with GS or a substitute), the bracketed form "
                code { "(01)…(21)…" } ", or a GS1 Digital Link. A code with a serial opens the pack's custody timeline; a code with only a batch (10) opens the batch's whereabouts." }
            (error_box(error))
            form method="get" action="/dashboard/search" {
                p { input.wide #code type="text" name="code" value=(code) autocomplete="off" autofocus placeholder="(01)09506000134352(21)SERIAL(10)LOT(17)YYMMDD"; }
                button #find type="submit" { "Find" }
            }
        }
    }
}

fn party(names: &HashMap<String, PartyInfo>, gln: &str) -> Markup {
    html! {
        @if let Some(info) = names.get(gln) {
            strong { (info.name) } br; span.muted { (info.role) " · GLN " (gln) }
        } @else {
            span { "GLN " (gln) } br; span.muted { "not registered" }
        }
    }
}

fn place(names: &HashMap<String, PartyInfo>, gln: &str) -> Markup {
    html! {
        @match names.get(gln).and_then(|p| p.place) {
            Some((lat, lon)) => { (format!("{lat:.4}, {lon:.4}")) }
            None => { span.muted { "no location registered" } }
        }
        @if let Some(region) = crate::alerts::region::of_gln(gln) {
            br; span.muted { "region " (region) }
        }
    }
}

/// What happened, beyond its kind.
fn details(body: &EventBody, names: &HashMap<String, PartyInfo>) -> Markup {
    let name = |gln: &str| {
        names
            .get(gln)
            .map_or_else(|| gln.to_string(), |p| format!("{} ({gln})", p.name))
    };
    html! {
        @match body {
            EventBody::Ship { shipment, to, purpose, .. } => { "shipment " (shipment) " to " (name(to.as_str())) " (" (format!("{purpose:?}").to_lowercase()) ")" }
            EventBody::Receive { shipment, from, .. } => { "shipment " (shipment) " from " (name(from.as_str())) }
            EventBody::Commission { lot, .. } => { "batch " (lot) }
            EventBody::Aggregate { case, .. } => { "packed into case " (case) }
            EventBody::Disaggregate { case } => { "case " (case) " unpacked" }
            EventBody::Decommission { reason, .. } => { "reason: " (format!("{reason:?}").to_lowercase()) }
            EventBody::Recall { lot, reason, .. } => { "batch " (lot) " recalled: " (reason) }
            EventBody::LiftRecall { lot, reason, .. } => { "recall of batch " (lot) " lifted: " (reason) }
            EventBody::Verify { lot, expiry, .. } => {
                "code read"
                @if let Some(lot) = lot { " · lot " (lot) }
                @if let Some(expiry) = expiry { " · expiry " (expiry) }
            }
            _ => {}
        }
    }
}

fn status_card(status: &PackStatus) -> Markup {
    html! {
        div.card {
            dl {
                dt { "Pack" } dd { "GTIN " (status.gtin) " · serial " (status.serial) }
                @if let Some(name) = &status.product_name { dt { "Product" } dd { (name) } }
                dt { "Status" } dd #pack-status { strong { (status.status) } }
                @if let Some(lot) = &status.lot {
                    dt { "Batch" } dd { a href=(format!("/dashboard/batches/{}/{}", status.gtin, lot)) { (lot) } @if let Some(e) = &status.expiry { " · expires " (e) } }
                }
                dt { "Fit to supply" } dd { @if status.ok_to_supply { span.ok { "yes" } } @else { span.bad { "no" } } }
                @for alert in &status.alerts { dt { "Alert" } dd.bad { (alert.code.as_str()) ": " (alert.message) } }
            }
        }
    }
}

pub fn pack(
    status: &PackStatus,
    provenance: Option<&Provenance>,
    checks: &[Check],
    names: &HashMap<String, PartyInfo>,
) -> Markup {
    html! {
        h2 { "Custody timeline" }
        (status_card(status))
        @match provenance {
            None => { p.muted { "The log holds no history for this pack." } }
            Some(provenance) => {
                p.muted { (provenance.entries.len()) " events, each checked here against the log's checkpoint of size " (provenance.tree_size) "." }
                table #timeline {
                    thead { tr { th { "#" } th { "When" } th { "Event" } th { "Who" } th { "Where" } th { "Proof" } } }
                    tbody {
                        @for (entry, check) in provenance.entries.iter().zip(checks) {
                            @let event = &entry.entry.event;
                            tr {
                                td { (entry.index) }
                                td { (when(event.time.unix_micros())) }
                                td { strong.kind { (event.body.kind()) } br; span.muted { (details(&event.body, names)) } }
                                td { (party(names, event.actor.as_str())) }
                                td { (place(names, event.actor.as_str())) }
                                td.proof {
                                    @if check.ok { span.ok { "✓ verified" } } @else { span.bad { "✗ failed" } }
                                    br; span.muted { (check.detail) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn batch(batch: &BatchWhereabouts, names: &HashMap<String, PartyInfo>) -> Markup {
    html! {
        h2 { "Batch " (batch.lot) }
        div.card {
            dl {
                dt { "Product" } dd { "GTIN " (batch.gtin) }
                dt { "Expiry" } dd { (batch.expiry) }
                dt { "Manufactured" } dd { (batch.manufactured) }
                dt { "Recall" } dd {
                    @match &batch.recalled_by {
                        Some(by) => { span.bad { "recalled by " (by) } @if let Some(r) = &batch.recall_reason { ": " (r) } }
                        None => { "none" }
                    }
                }
                dt { "Packs" } dd { (batch.packs) @for (status, count) in &batch.by_status { " · " (count) " " (status) } }
            }
            p { a href=(format!("/dashboard/alerts?state=any&product={}&batch={}", batch.gtin, batch.lot)) { "Alerts on this batch" } }
        }
        h3 { "Where its packs are" }
        table #whereabouts {
            thead { tr { th { "Custodian" } th { "Where" } th { "Packs by status" } } }
            tbody {
                @for (custodian, counts) in &batch.by_custodian {
                    tr {
                        td { (party(names, custodian)) }
                        td { (place(names, custodian)) }
                        td { @for (status, count) in counts { (count) " " (status) br; } }
                    }
                }
            }
        }
    }
}

fn state_pill(state: TriageState) -> Markup {
    html! { span class=(format!("pill {}", state.as_str())) { (state.label()) } }
}

fn filter_value(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

pub fn alerts(
    filter: &AlertFilter,
    page: &AlertPage,
    names: &HashMap<String, PartyInfo>,
) -> Markup {
    let state = filter.state.as_deref().unwrap_or("open");
    let text_field = |label: &str, name: &str, value: &Option<String>, hint: &str| {
        html! { label { (label) input type="text" name=(name) value=(filter_value(value)) placeholder=(hint) size="14"; } }
    };
    html! {
        h2 { "Alerts" }
        form.card.filters method="get" action="/dashboard/alerts" {
            label { "State"
                select name="state" {
                    @for s in TriageState::ALL { option value=(s.as_str()) selected[state == s.as_str()] { (s.label()) } }
                    option value="any" selected[state == "any"] { "Any state" }
                }
            }
            (text_field("Source", "source", &filter.source, "classifier / rule"))
            (text_field("Product (GTIN)", "product", &filter.product, ""))
            (text_field("Batch (lot)", "batch", &filter.batch, ""))
            (text_field("Party (GLN)", "party", &filter.party, ""))
            (text_field("Region", "region", &filter.region, "e.g. BE"))
            label { "From" input type="date" name="from" value=(filter_value(&filter.from)); }
            label { "To" input type="date" name="to" value=(filter_value(&filter.to)); }
            button #filter type="submit" { "Filter" }
        }
        @if page.alerts.is_empty() {
            p.muted #no-alerts { "No alerts match." }
        } @else {
            table #alerts {
                thead { tr { th { "Alert" } th { "Raised" } th { "Source" } th { "Pack" } th { "Verified by" } th { "Region" } th { "Score" } th { "State" } } }
                tbody { @for alert in &page.alerts { (alert_row(alert, names)) } }
            }
        }
        @if let Some(after) = page.next_after {
            p { a href=(next_page(filter, after)) { "Next page →" } }
        }
    }
}

fn next_page(filter: &AlertFilter, after: i64) -> String {
    let fields = [
        ("state", &filter.state),
        ("source", &filter.source),
        ("product", &filter.product),
        ("batch", &filter.batch),
        ("party", &filter.party),
        ("region", &filter.region),
        ("from", &filter.from),
        ("to", &filter.to),
    ];
    let mut query = form_urlencoded(&fields);
    query.push_str(&format!("after={after}"));
    format!("/dashboard/alerts?{query}")
}

fn form_urlencoded(fields: &[(&str, &Option<String>)]) -> String {
    fields
        .iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .map(|(name, value)| {
            format!(
                "{name}={}&",
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect()
}

fn alert_row(alert: &QueuedAlert, names: &HashMap<String, PartyInfo>) -> Markup {
    html! {
        tr {
            td { a href=(format!("/dashboard/alerts/{}", alert.id)) { "#" (alert.id) } }
            td { (when(alert.created_at)) }
            td { (alert.source) }
            td {
                a href=(format!("/dashboard/packs/{}/{}", alert.gtin, alert.serial)) { (alert.gtin) " / " (alert.serial) }
                @if let Some(lot) = &alert.lot { br; span.muted { "batch " (lot) } }
            }
            td { (party(names, &alert.party)) }
            td { (alert.region.as_deref().unwrap_or("—")) }
            td { (format!("{:.2}", alert.score)) }
            td { (state_pill(alert.state)) }
        }
    }
}

pub fn alert(
    detail: &AlertDetail,
    names: &HashMap<String, PartyInfo>,
    form_token: &str,
    error: Option<&str>,
) -> Markup {
    let alert = &detail.alert;
    html! {
        h2 { "Alert #" (alert.id) " " (state_pill(alert.state)) }
        (error_box(error))
        div.card {
            dl {
                dt { "Raised" } dd { (when(alert.created_at)) }
                dt { "Source" } dd { (alert.source) }
                dt { "Pack" } dd { a href=(format!("/dashboard/packs/{}/{}", alert.gtin, alert.serial)) { "GTIN " (alert.gtin) " · serial " (alert.serial) } }
                @if let Some(lot) = &alert.lot { dt { "Batch" } dd { a href=(format!("/dashboard/batches/{}/{}", alert.gtin, lot)) { (lot) } } }
                dt { "Verified by" } dd { (party(names, &alert.party)) }
                dt { "Region" } dd { (alert.region.as_deref().unwrap_or("—")) }
                dt { "Score" } dd { (format!("{:.2}", alert.score)) }
                dt { "Why" } dd { ul style="margin:0;padding-left:18px" { @for reason in &alert.reasons { li { (reason) } } } }
            }
        }
        h3 { "Triage" }
        form.card #triage method="post" action=(format!("/dashboard/alerts/{}/triage", alert.id)) {
            input type="hidden" name="form_token" value=(form_token);
            p { label { "Move to "
                select #state name="state" {
                    option value="" { "(keep " (alert.state.label()) ", add a note)" }
                    @for s in TriageState::ALL.into_iter().filter(|s| alert.state.may_become(*s)) {
                        option value=(s.as_str()) { (s.label()) }
                    }
                }
            } }
            p { textarea #note name="note" placeholder="Note: what you found, what you did, why" {} }
            button #apply type="submit" { "Save" }
        }
        h3 { "History" }
        @if detail.notes.is_empty() {
            p.muted { "No triage yet." }
        } @else {
            table #history {
                thead { tr { th { "When" } th { "Who" } th { "Change" } th { "Note" } } }
                tbody {
                    @for note in &detail.notes {
                        tr {
                            td { (when(note.written_at)) }
                            td { (note.author) br; span.muted { (note.author_party) } }
                            td { @if note.from_state == note.to_state { "note" } @else { (note.from_state.label()) " → " (note.to_state.label()) } }
                            td style="white-space:pre-wrap" { (note.note) }
                        }
                    }
                }
            }
        }
    }
}

fn check(check: &Check) -> Markup {
    html! {
        @if check.ok { span.ok { "✓ " } } @else { span.bad { "✗ " } }
        (check.detail)
    }
}

pub fn health(health: &LogHealth) -> Markup {
    html! {
        h2 { "Log health" }
        div.card {
            dl {
                dt { "Tree size" } dd #tree-size { (health.tree_size) " entries" }
                dt { "Checkpoints issued" } dd { (health.checkpoints) }
                dt { "Inconsistencies" } dd #inconsistencies {
                    @if health.inconsistencies() == 0 { span.ok { "none seen" } } @else { span.bad { (health.inconsistencies()) " — see below" } }
                }
                @if let Some((_, size, issued)) = &health.latest {
                    dt { "Latest checkpoint" } dd { "size " (size) ", issued " (when(*issued)) }
                }
                @if let Some(signature) = &health.signature { dt { "Its signature" } dd { (check(signature)) } }
            }
            @if let Some((note, _, _)) = &health.latest { pre { (note) } }
        }
        h3 { "Witnesses" }
        @if health.witnesses.is_empty() {
            p.muted { "No witness has cosigned a checkpoint yet." }
        } @else {
            table #witnesses {
                thead { tr { th { "Witness" } th { "Last cosigned size" } th { "Cosigned at" } th { "Consistency" } } }
                tbody {
                    @for w in &health.witnesses {
                        tr {
                            td { @if let Some(name) = &w.name { strong { (name) } br; } span.muted { (w.witness) } }
                            td { (w.tree_size) }
                            td { (when(w.cosigned_at.saturating_mul(1_000_000))) }
                            td { (check(&w.consistency)) }
                        }
                    }
                }
            }
        }
    }
}
