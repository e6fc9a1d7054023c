//! The regulators' web dashboard, served by the ledger under `/dashboard`:
//! server-rendered HTML (no scripts), behind a regulator's login
//! ([`auth`]). Pages ask the same questions as the JSON API, as the
//! login's regulator; proofs are checked here ([`evidence`]).
//!
//! | page | what |
//! |---|---|
//! | `GET/POST /dashboard/login`, `POST /dashboard/logout` | sessions |
//! | `GET /dashboard/search?code=` | a scanned code → its pack or batch |
//! | `GET /dashboard/packs/{gtin}/{serial}` | status and custody timeline, proofs checked |
//! | `GET /dashboard/batches/{gtin}/{lot}` | where a batch's packs are |
//! | `GET /dashboard/alerts?…` | the alert queue, filtered (as `GET /v1/alerts`) |
//! | `GET /dashboard/alerts/{id}`, `POST …/triage` | an alert, its history, triage |
//! | `GET /dashboard/health` | tree size, checkpoint, witnesses, consistency |
//!
//! A page asked for without a session redirects to the login form; a POST
//! without one is a 401, and one without the session's form token a 403.

pub mod auth;
pub mod evidence;
pub mod pages;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::web::{self, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use maud::Markup;
use pedigree_schema::gs1::{Gs1Data, Gtin, Lot, PackId, Serial};
use serde::Deserialize;

use self::auth::{Session, SESSION_COOKIE};
use crate::alerts::{self, AlertFilter, Triage, TriageState};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::{with_conn, State};
use crate::queries;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(home))
        .route("/dashboard/", web::get().to(home))
        .route("/dashboard/login", web::get().to(login_form))
        .route("/dashboard/login", web::post().to(login))
        .route("/dashboard/logout", web::post().to(logout))
        .route("/dashboard/search", web::get().to(search))
        .route("/dashboard/packs/{gtin}/{serial}", web::get().to(pack))
        .route("/dashboard/batches/{gtin}/{lot}", web::get().to(batch))
        .route("/dashboard/alerts", web::get().to(alert_queue))
        .route("/dashboard/alerts/{id}", web::get().to(alert))
        .route("/dashboard/alerts/{id}/triage", web::post().to(triage))
        .route("/dashboard/health", web::get().to(health));
}

/// An HTML answer; pages are never cached and may not be framed or run
/// scripts.
fn html(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(page.into_string())
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn session_cookie(request: &HttpRequest) -> Option<String> {
    request
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_string())
}

/// The page body a handler renders, or an answer of its own (a redirect).
enum View {
    Page(&'static str, StatusCode, Markup),
    Redirect(String),
}

impl View {
    fn page(title: &'static str, body: Markup) -> Self {
        Self::Page(title, StatusCode::OK, body)
    }
}

/// Runs `work` for the request's session. Without one, a GET redirects to
/// the login form and anything else is a 401; a failure of `work` is an
/// error page with its status.
async fn as_session(
    state: &State,
    request: &HttpRequest,
    work: impl FnOnce(&mut DbConnection, &Session) -> Result<View, ApiError> + Send + 'static,
) -> HttpResponse {
    let cookie = session_cookie(request);
    let answer = with_conn(state, move |conn| {
        let session = auth::session(conn, cookie.as_deref())?;
        let view = work(conn, &session).unwrap_or_else(|error| {
            let status = error.status_code();
            View::Page("Error", status, pages::error(status.as_u16(), &error))
        });
        Ok((session, view))
    })
    .await;
    match answer {
        Ok((_, View::Redirect(to))) => redirect(&to),
        Ok((session, View::Page(title, status, body))) => html(
            status,
            pages::layout(title, Some((&session.login, &session.form_token)), body),
        ),
        Err(ApiError::Unauthorized { .. }) if request.method() == actix_web::http::Method::GET => {
            redirect("/dashboard/login")
        }
        Err(error) => {
            let status = error.status_code();
            html(
                status,
                pages::layout("Error", None, pages::error(status.as_u16(), &error)),
            )
        }
    }
}

async fn home(state: State, request: HttpRequest) -> HttpResponse {
    as_session(&state, &request, |_, _| {
        Ok(View::Redirect("/dashboard/search".into()))
    })
    .await
}

async fn login_form() -> HttpResponse {
    html(StatusCode::OK, pages::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    /// Missing is refused like wrong (401), not as a malformed form.
    #[serde(default)]
    token: String,
}

async fn login(state: State, request: HttpRequest, form: Form<LoginForm>) -> HttpResponse {
    let token = form.into_inner().token;
    match with_conn(&state, move |conn| auth::log_in(conn, &token)).await {
        Ok(session) => {
            let secure = request.connection_info().scheme() == "https";
            let cookie = Cookie::build(SESSION_COOKIE, session)
                .path("/dashboard")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure)
                .max_age(actix_web::cookie::time::Duration::hours(
                    auth::SESSION_HOURS,
                ))
                .finish();
            let mut answer = redirect("/dashboard/search");
            if let Err(error) = answer.add_cookie(&cookie) {
                tracing::error!(%error, "session cookie");
                return html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    pages::login(Some("internal error")),
                );
            }
            answer
        }
        Err(error) => html(error.status_code(), pages::login(Some(&error.to_string()))),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    /// Missing is refused like wrong (403), not as a malformed form.
    #[serde(default)]
    form_token: String,
}

async fn logout(state: State, request: HttpRequest, form: Form<TokenForm>) -> HttpResponse {
    let cookie = session_cookie(&request);
    let answer = as_session(&state, &request, move |conn, session| {
        session.check_form_token(&form.form_token)?;
        if let Some(cookie) = &cookie {
            auth::log_out(conn, cookie)?;
        }
        Ok(View::Redirect("/dashboard/login".into()))
    })
    .await;
    let mut answer = answer;
    // Logged out: the browser forgets the cookie too.
    if answer.status() == StatusCode::SEE_OTHER {
        let mut gone = Cookie::build(SESSION_COOKIE, "")
            .path("/dashboard")
            .finish();
        gone.make_removal();
        let _ = answer.add_cookie(&gone);
    }
    answer
}

#[derive(Deserialize)]
struct SearchQuery {
    code: Option<String>,
}

/// Where a scanned code leads: its pack, or its batch when it has no serial.
fn destination(code: &str) -> Result<String, String> {
    let data = Gs1Data::parse_any(code).map_err(|e| format!("This code cannot be read: {e}"))?;
    if let Ok(pack) = data.pack_id() {
        return Ok(format!("/dashboard/packs/{}/{}", pack.gtin, pack.serial));
    }
    match (data.gtin(), data.lot()) {
        (Some(gtin), Some(lot)) => Ok(format!(
            "/dashboard/batches/{gtin}/{}",
            percent_encoding::utf8_percent_encode(lot.as_str(), percent_encoding::NON_ALPHANUMERIC)
        )),
        _ => Err("The code names neither a pack (01 + 21) nor a batch (01 + 10).".into()),
    }
}

async fn search(state: State, request: HttpRequest, query: Query<SearchQuery>) -> HttpResponse {
    let code = query.into_inner().code.unwrap_or_default();
    as_session(&state, &request, move |_, _| {
        if code.trim().is_empty() {
            return Ok(View::page("Search", pages::search("", None)));
        }
        Ok(match destination(&code) {
            Ok(to) => View::Redirect(to),
            Err(message) => View::Page(
                "Search",
                StatusCode::BAD_REQUEST,
                pages::search(&code, Some(&message)),
            ),
        })
    })
    .await
}

fn invalid(field: &'static str) -> impl Fn(pedigree_schema::gs1::Gs1Error) -> ApiError {
    move |e| ApiError::bad_request("invalid_identifier", format!("{field}: {e}"))
}

async fn pack(state: State, request: HttpRequest, path: Path<(String, String)>) -> HttpResponse {
    let (gtin, serial) = path.into_inner();
    let log = state.log_verifier.clone();
    as_session(&state, &request, move |conn, session| {
        let pack = PackId {
            gtin: Gtin::parse(&gtin).map_err(invalid("gtin"))?,
            serial: Serial::parse(&serial).map_err(invalid("serial"))?,
        };
        let today = chrono::Utc::now().date_naive();
        let status = queries::pack_status(conn, &pack, None, None, today)?;
        let provenance = match queries::provenance(conn, &session.caller, &pack, today) {
            Ok(provenance) => Some(provenance),
            Err(ApiError::NotFound(_)) => None,
            Err(error) => return Err(error),
        };
        let checks = provenance
            .as_ref()
            .map(|p| evidence::check_provenance(p, &log))
            .unwrap_or_default();
        let mut glns: Vec<String> = provenance
            .iter()
            .flat_map(|p| &p.entries)
            .flat_map(|e| {
                let event = &e.entry.event;
                let counterparty = match &event.body {
                    pedigree_schema::event::EventBody::Ship { to, .. } => Some(to.to_string()),
                    pedigree_schema::event::EventBody::Receive { from, .. } => {
                        Some(from.to_string())
                    }
                    _ => None,
                };
                std::iter::once(event.actor.to_string()).chain(counterparty)
            })
            .collect();
        glns.sort_unstable();
        glns.dedup();
        let names = evidence::party_names(conn, &glns)?;
        Ok(View::page(
            "Pack",
            pages::pack(&status, provenance.as_ref(), &checks, &names),
        ))
    })
    .await
}

async fn batch(state: State, request: HttpRequest, path: Path<(String, String)>) -> HttpResponse {
    let (gtin, lot) = path.into_inner();
    as_session(&state, &request, move |conn, session| {
        let gtin = Gtin::parse(&gtin).map_err(invalid("gtin"))?;
        let lot = Lot::parse(&lot).map_err(invalid("lot"))?;
        let whereabouts =
            queries::batch_whereabouts(conn, &session.caller, gtin.as_str(), lot.as_str())?;
        let glns: Vec<String> = whereabouts.by_custodian.keys().cloned().collect();
        let names = evidence::party_names(conn, &glns)?;
        Ok(View::page("Batch", pages::batch(&whereabouts, &names)))
    })
    .await
}

async fn alert_queue(
    state: State,
    request: HttpRequest,
    filter: Query<AlertFilter>,
) -> HttpResponse {
    let filter = filter.into_inner();
    as_session(&state, &request, move |conn, session| {
        let page = alerts::list(conn, &session.caller, &filter)?;
        let mut glns: Vec<String> = page.alerts.iter().map(|a| a.party.clone()).collect();
        glns.sort_unstable();
        glns.dedup();
        let names = evidence::party_names(conn, &glns)?;
        Ok(View::page("Alerts", pages::alerts(&filter, &page, &names)))
    })
    .await
}

/// An alert's page, with `error` (and its status) when a triage was refused.
fn alert_view(
    conn: &mut DbConnection,
    session: &Session,
    id: i64,
    error: Option<&ApiError>,
) -> Result<View, ApiError> {
    let detail = alerts::detail(conn, &session.caller, id)?;
    let names = evidence::party_names(conn, std::slice::from_ref(&detail.alert.party))?;
    let status = error.map_or(StatusCode::OK, ResponseError::status_code);
    let message = error.map(|e| format!("{}: {e}", e.code()));
    Ok(View::Page(
        "Alert",
        status,
        pages::alert(&detail, &names, &session.form_token, message.as_deref()),
    ))
}

async fn alert(state: State, request: HttpRequest, id: Path<i64>) -> HttpResponse {
    let id = id.into_inner();
    as_session(&state, &request, move |conn, session| {
        alert_view(conn, session, id, None)
    })
    .await
}

#[derive(Deserialize)]
struct TriageForm {
    #[serde(default)]
    form_token: String,
    /// Empty: keep the state, add a note.
    #[serde(default)]
    state: String,
    #[serde(default)]
    note: String,
}

async fn triage(
    state: State,
    request: HttpRequest,
    id: Path<i64>,
    form: Form<TriageForm>,
) -> HttpResponse {
    let id = id.into_inner();
    let form = form.into_inner();
    as_session(&state, &request, move |conn, session| {
        session.check_form_token(&form.form_token)?;
        let step = Triage {
            state: match form.state.as_str() {
                "" => None,
                text => Some(TriageState::parse(text).ok_or_else(|| {
                    ApiError::bad_request("unknown_state", format!("no triage state {text:?}"))
                })?),
            },
            note: form.note,
        };
        match alerts::triage(conn, &session.caller, &session.login, id, &step) {
            Ok(_) => Ok(View::Redirect(format!("/dashboard/alerts/{id}"))),
            Err(
                error @ (ApiError::Conflict { .. }
                | ApiError::Unprocessable { .. }
                | ApiError::BadRequest { .. }),
            ) => alert_view(conn, session, id, Some(&error)),
            Err(error) => Err(error),
        }
    })
    .await
}

async fn health(state: State, request: HttpRequest) -> HttpResponse {
    let log = state.log_verifier.clone();
    as_session(&state, &request, move |conn, _| {
        let health = evidence::log_health(conn, &log)?;
        Ok(View::page("Log health", pages::health(&health)))
    })
    .await
}
