//! The dashboard over plain HTTP: logins only for regulators, pages only
//! with a session, forms only with the session's form token, triage as on
//! the JSON API, user text escaped, and logging out ending the session.

#[macro_use]
mod common;
mod alerts_support;

use alerts_support::{alert_from, seed};
use common::*;
use pedigree_ledger::dashboard::auth::{create_login, LoginError};
use pedigree_ledger::db::testing::TestDatabase;

both_backends!(regulators_log_in_and_triage_through_forms);

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

async fn read(response: reqwest::Response) -> Page {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (location, set_cookie) = (header("location"), header("set-cookie"));
    Page {
        status: response.status().as_u16(),
        location,
        set_cookie,
        body: response.text().await.expect("a body"),
    }
}

/// GET with the session cookie, if any.
async fn get(ledger: &Ledger, path: &str, session: Option<&str>) -> Page {
    let mut request = browser().get(ledger.url(path));
    if let Some(session) = session {
        request = request.header("cookie", format!("pedigree_session={session}"));
    }
    read(request.send().await.expect("an answer")).await
}

/// POST a form with the session cookie, if any.
async fn post(ledger: &Ledger, path: &str, session: Option<&str>, form: &[(&str, &str)]) -> Page {
    let mut request = browser().post(ledger.url(path)).form(form);
    if let Some(session) = session {
        request = request.header("cookie", format!("pedigree_session={session}"));
    }
    read(request.send().await.expect("an answer")).await
}

/// The value of the page's hidden form token.
fn form_token(page: &str) -> String {
    let start = page
        .find("name=\"form_token\" value=\"")
        .expect("a form token field")
        + "name=\"form_token\" value=\"".len();
    page[start..].chars().take_while(|c| *c != '"').collect()
}

async fn regulators_log_in_and_triage_through_forms(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let seeded = seed(&ledger, &net).await;
    let database = db.open().expect("the test database");

    // Logins are for registered regulators only.
    assert!(matches!(
        create_login(&database, "pharmacist", net.pharmacy.gln.as_str()),
        Err(LoginError::NotRegulator(_))
    ));
    assert!(matches!(
        create_login(&database, "nobody", "9506000009999"),
        Err(LoginError::UnknownParty(_))
    ));
    assert!(matches!(
        create_login(&database, "", net.governance.gln.as_str()),
        Err(LoginError::InvalidName)
    ));
    let token =
        create_login(&database, "inspector <Ana>", net.governance.gln.as_str()).expect("a login");

    // Without a session: pages redirect to the login form, forms are refused.
    let page = get(&ledger, "/dashboard/alerts", None).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/dashboard/login"))
    );
    let page = get(&ledger, "/dashboard/alerts", Some("forged-session")).await;
    assert_eq!(page.location.as_deref(), Some("/dashboard/login"));
    let page = post(
        &ledger,
        "/dashboard/alerts/1/triage",
        None,
        &[("state", "investigating")],
    )
    .await;
    assert_eq!(page.status, 401);
    let page = get(&ledger, "/dashboard/login", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"token\""));

    // A wrong token is refused; the right one opens a session.
    let page = post(
        &ledger,
        "/dashboard/login",
        None,
        &[("token", &"0".repeat(64))],
    )
    .await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("not a valid dashboard login token"),
        "{}",
        page.body
    );
    assert!(page.set_cookie.is_none());
    let page = post(&ledger, "/dashboard/login", None, &[("token", &token)]).await;
    assert_eq!(page.status, 303);
    let cookie = page.set_cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let session = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("pedigree_session="))
        .expect("the session value")
        .to_string();
    let session = Some(session.as_str());

    // Search leads to the pack's timeline, every entry's proof checked.
    let code = seeded.batch.scan("D1");
    let page = get(
        &ledger,
        &format!("/dashboard/search?code={}", url_encode(&code)),
        session,
    )
    .await;
    let timeline = format!("/dashboard/packs/{}/D1", seeded.batch.gtin);
    assert_eq!(page.location.as_deref(), Some(timeline.as_str()));
    let page = get(&ledger, &timeline, session).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("decommissioned"));
    // Commission, two shipments and receipts, the verification, the sale.
    assert_eq!(page.body.matches("✓ verified").count(), 7, "{}", page.body);
    assert!(!page.body.contains("✗ failed"));
    assert!(
        page.body.contains("inspector &lt;Ana&gt;"),
        "the login name is escaped"
    );
    let page = get(&ledger, "/dashboard/search?code=not-a-code", session).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("cannot be read"));
    let page = get(
        &ledger,
        &format!("/dashboard/batches/{}/LOT-D1", seeded.batch.gtin),
        session,
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(net.pharmacy.gln.as_str()));
    let page = get(&ledger, "/dashboard/health", session).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("none seen"), "{}", page.body);

    // The queue, and an alert's triage form.
    let id = alert_from(&ledger, &net, "serial_unknown").await["id"]
        .as_i64()
        .expect("id");
    let page = get(&ledger, "/dashboard/alerts?region=BE", session).await;
    assert!(page.body.contains("already_decommissioned"));
    assert!(!page.body.contains("NOPE1"));
    let page = get(&ledger, &format!("/dashboard/alerts/{id}"), session).await;
    assert_eq!(page.status, 200);
    let form = form_token(&page.body);
    let triage = format!("/dashboard/alerts/{id}/triage");
    let state = || async {
        ledger
            .get_signed(&format!("/v1/alerts/{id}"), &net.governance.key())
            .await
            .ok()
    };

    // Forms need the session's form token.
    for given in [None, Some("0".repeat(64))] {
        let mut fields = vec![("state", "investigating"), ("note", "csrf")];
        if let Some(given) = &given {
            fields.push(("form_token", given));
        }
        let page = post(&ledger, &triage, session, &fields).await;
        assert_eq!(page.status, 403, "{}", page.body);
    }
    assert_eq!(state().await["state"], "open");

    // Triage through the form; user text comes back escaped.
    let note = "<script>alert(1)</script> checked the wholesaler";
    let fields = [
        ("form_token", form.as_str()),
        ("state", "investigating"),
        ("note", note),
    ];
    let page = post(&ledger, &triage, session, &fields).await;
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/dashboard/alerts/{id}").as_str())
    );
    let detail = state().await;
    assert_eq!(detail["state"], "investigating");
    assert_eq!(detail["notes"][0]["author"], "inspector <Ana>");
    assert_eq!(detail["notes"][0]["note"], note);
    let page = get(&ledger, &format!("/dashboard/alerts/{id}"), session).await;
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>"));
    let fields = [
        ("form_token", form.as_str()),
        ("state", "open"),
        ("note", "back"),
    ];
    let page = post(&ledger, &triage, session, &fields).await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains("invalid_transition"));
    let fields = [
        ("form_token", form.as_str()),
        ("state", "closed_confirmed"),
        ("note", ""),
    ];
    let page = post(&ledger, &triage, session, &fields).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("note_required"));
    assert_eq!(state().await["state"], "investigating");

    // Logging out ends the session.
    let page = post(
        &ledger,
        "/dashboard/logout",
        session,
        &[("form_token", &form)],
    )
    .await;
    assert_eq!(page.location.as_deref(), Some("/dashboard/login"));
    let page = get(&ledger, "/dashboard/alerts", session).await;
    assert_eq!(page.location.as_deref(), Some("/dashboard/login"));
    ledger.stop().await;
}
