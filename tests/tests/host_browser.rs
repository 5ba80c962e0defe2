//! The host dashboard in a real browser (headless Chromium, `rising_tests::browser`), against the
//! local stack, as a non-technical host walks through it: sign in with the link emailed to them (read
//! back from moto's SES), create a gathering, paste 50 contacts, check the preview, send, watch the
//! progress page reach done, see an invitee who RSVPed through their personal link attributed to them,
//! download the attendee list, and sign out. A second test goes through the sign-in page with the
//! keyboard only. Screenshots go to `target/test-artifacts/host/`.

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use reqwest::StatusCode;
use rising_tests::browser::Browser;
use rising_tests::hosts::{self, link_in, paste};
use rising_tests::mail::{unique_email, wait_for_emails};
use rising_tests::sending::{sent_to, zip_open_for};
use rising_tests::{Stack, spawn_app};
use serde_json::{Value, json};

/// How long a page or a form submission may take on a busy two-core machine.
const SLOW: Duration = Duration::from_secs(20);
/// How long 41 invitations may take to go out (the local stack sends 10 a second per channel).
const SENDING: Duration = Duration::from_secs(90);

/// Sets the value of the field matching `css` from script: date and time inputs (whose typing order
/// depends on the browser's locale) and long pastes.
async fn set_value(browser: &Browser, css: &str, value: &str) {
    browser.wait_for(css, SLOW).await;
    browser
        .client()
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1];",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap_or_else(|e| panic!("cannot set the value of `{css}`: {e}"));
}

/// The rendered text of the first element matching `css`, `None` when there is none (or the page is
/// being replaced right now).
async fn text_now(browser: &Browser, css: &str) -> Option<String> {
    browser
        .client()
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            vec![json!(css)],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// Waits up to `timeout` until the element matching `css` shows every one of `needles`; its text.
async fn wait_text(browser: &Browser, css: &str, needles: &[&str], timeout: Duration) -> String {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let text = text_now(browser, css).await;
        if let Some(text) = &text
            && needles.iter().all(|n| text.contains(n))
        {
            return text.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "`{css}` does not show {needles:?} after {} s: {text:?} (at {})",
                timeout.as_secs(),
                browser.current_url().await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `url` (a link the stack sent, on its PUBLIC_BASE_URL) as the browser reaches it here: on the
/// gateway.
fn on_gateway(app: &Stack, url: &str) -> String {
    let public = app.public_base_url.trim_end_matches('/');
    let rest = url
        .strip_prefix(public)
        .unwrap_or_else(|| panic!("the link {url} is on the public base URL {public}"));
    format!("{}{rest}", app.gateway_url.trim_end_matches('/'))
}

/// `+12025550143` → `(202) 555-0143`, as a person types their number.
fn as_typed(phone: &str) -> String {
    let digits = &phone[2..];
    format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..])
}

/// The date 10 days from now, as `<input type=date>` holds it.
fn in_ten_days() -> String {
    let date = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The cells of every row of the attendee table.
async fn attendee_rows(browser: &Browser) -> Value {
    browser
        .js(
            "return [...document.querySelectorAll('table[aria-labelledby=attendees] tbody tr')]\
         .map(r => [...r.cells].map(c => c.textContent));",
        )
        .await
}

/// Reloads the gathering page every 2 s until its batch status shows every one of `needles` (up to
/// [`SENDING`]); the status. While messages are going out the page must ask to be refreshed (its
/// `<meta http-equiv=refresh>`, every 10 s); the test reloads by itself, faster.
async fn wait_for_batch(browser: &Browser, needles: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + SENDING;
    loop {
        let seen = browser.js("const s = document.querySelector('.batch-status'); \
             return s ? [s.innerText, !!document.querySelector('meta[http-equiv=refresh]')] : null;",
        )
        .await;
        let seen: Option<(String, bool)> = serde_json::from_value(seen).ok();
        if let Some((status, refreshing)) = &seen {
            if needles.iter().all(|n| status.contains(n)) {
                return status.clone();
            }
            assert!(
                *refreshing || status.contains("Done"),
                "an unfinished batch's page asks to be refreshed: {status}"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch status does not show {needles:?} after {} s: {seen:?}",
            SENDING.as_secs()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        browser
            .client()
            .refresh()
            .await
            .expect("reload the gathering's page");
    }
}

#[tokio::test]
async fn a_host_signs_in_creates_a_gathering_invites_fifty_contacts_and_sees_who_came() {
    let app = spawn_app().await;
    let email = unique_email("host");
    let paste = paste();
    let browser = Browser::start(true).await;

    // 1. The sign-in page: one email field.
    browser.goto(&format!("{}/host", app.gateway_url)).await;
    browser.fill("#email", &email).await;
    browser
        .click("form[action='/host/sign-in'] button[type=submit]")
        .await;
    wait_text(&browser, "h1", &["Check your email"], SLOW).await;

    // 2. The link from the email opens a page with one button, which opens the dashboard.
    let link = link_in(&wait_for_emails(&app, &email, 1).await[0]);
    assert!(
        link.starts_with(&format!("{}/host/sign-in?token=", app.public_base_url)),
        "the sign-in link is on the public base URL {}: {link}",
        app.public_base_url
    );
    browser.goto(&on_gateway(&app, &link)).await;
    wait_text(&browser, "h1", &["Sign in"], SLOW).await;
    assert_eq!(
        browser
            .js("return document.querySelectorAll('#content button').length;")
            .await,
        json!(1),
        "one button"
    );
    browser.click("#content button[type=submit]").await;
    wait_text(&browser, "h1", &["Your gatherings"], SLOW).await;
    wait_text(&browser, "#content", &["You have no gatherings yet."], SLOW).await;
    browser.screenshot("host/dashboard-empty").await;

    // 3. Create a gathering where texts may go out for the next 20 minutes, if anywhere may (from
    // 11:00 to 12:00 UTC no US time zone is in its daytime: the invitations then wait for the morning).
    let open = zip_open_for(&paste.phones[0], 20);
    let zip = open.clone().unwrap_or_else(|| "20001".into());
    browser.click("a[href='/host/gatherings/new']").await;
    wait_text(&browser, "h1", &["Create a gathering"], SLOW).await;
    browser.fill("#first_name", "Dana").await;
    browser.fill("#title", "Porch talk").await;
    browser
        .fill(
            "#description",
            "Coffee, neighbors and a plan for the spring.",
        )
        .await;
    set_value(&browser, "#date", &in_ten_days()).await;
    set_value(&browser, "#starts", "18:30").await;
    set_value(&browser, "#ends", "20:00").await;
    browser.fill("#zip", &zip).await;
    browser.fill("#address", "12 Elm St").await;
    browser.click("#private").await;
    assert!(
        browser
            .wait_for("#private", SLOW)
            .await
            .is_selected()
            .await
            .expect("selected?"),
        "the private-home box is ticked"
    );
    browser.fill("#capacity", "100").await;
    browser
        .click("form[action='/host/gatherings'] button[type=submit]")
        .await;
    wait_text(&browser, ".notice", &["Your gathering is ready"], SLOW).await;
    let url = browser.current_url().await;
    let id = url
        .split("/host/gatherings/")
        .nth(1)
        .and_then(|rest| rest.split(['?', '#']).next())
        .unwrap_or_else(|| panic!("the gathering's page: {url}"))
        .to_owned();
    assert_eq!(browser.text_of("h1").await, "Porch talk");
    let share = browser.value_of("#share", SLOW).await;
    assert!(
        share.contains(&format!("/g/{id}")),
        "the share link is the gathering's page: {share}"
    );
    browser.screenshot("host/gathering-created").await;

    // 4. One of the people on the list texted STOP before.
    app.text(&paste.opted_out, "STOP").await;

    // 5. Paste the 50 lines and preview.
    browser.click("a[href$='/invite']").await;
    wait_text(&browser, "h1", &["Invite people you know"], SLOW).await;
    set_value(&browser, "#contacts", &paste.text).await;
    browser
        .click("form[action$='/invite'] button[type=submit]")
        .await;
    wait_text(&browser, "h1", &["Check before sending"], SLOW).await;
    let page = text_now(&browser, "#content").await.unwrap_or_default();
    for needle in [
        "29 text(s) and 12 email(s) will be sent; 1 will be skipped.",
        "5 duplicate(s) merged.",
    ] {
        assert!(page.contains(needle), "the preview says {needle:?}: {page}");
    }
    // The opted-out number is line 8 of the paste.
    let skipped = browser
        .js("return [...document.querySelectorAll('tbody tr')]\
         .filter(r => r.textContent.includes('will be skipped: opted out'))\
         .map(r => [...r.cells].map(c => c.textContent));")
        .await;
    let skipped = skipped.as_array().expect("rows");
    assert_eq!(skipped.len(), 1, "one row is skipped: {skipped:?}");
    assert_eq!(skipped[0][0], "8", "line 8 opted out: {skipped:?}");
    let rejected = browser
        .js("const h = [...document.querySelectorAll('h2')]\
         .find(h => h.textContent === 'Lines we could not read'); \
         return h ? [...h.nextElementSibling.querySelectorAll('tbody tr')]\
         .map(r => r.cells[1].textContent) : null;")
        .await;
    assert_eq!(
        rejected,
        json!(["call me maybe", "Bob, 202-555-01", "eve@@example"]),
        "the three lines that are not contacts are listed"
    );
    let sms_info = browser.text_of("#sms-info").await;
    assert!(
        (sms_info.starts_with("1 SMS segment") || sms_info.starts_with("2 SMS segment"))
            && sms_info.contains("GSM-7"),
        "a short GSM-7 text: {sms_info}"
    );
    browser.screenshot("host/invite-preview").await;

    // 6. Attest and send: back on the gathering page, with the batch's progress.
    browser.click("#attest").await;
    browser.click("button[name=action][value=send]").await;
    wait_text(
        &browser,
        ".notice",
        &["Your invitations are on their way."],
        SLOW,
    )
    .await;
    let url = browser.current_url().await;
    assert!(
        url.contains(&format!("/host/gatherings/{id}?sent=")),
        "the gathering's page: {url}"
    );

    if open.is_none() {
        // No texts at night: they wait for the morning (the emails, which wake nobody, go).
        let status = wait_for_batch(
            &browser,
            &["12 of 41 done: 12 sent", "29 waiting for the morning"],
        )
        .await;
        assert!(!status.contains("Done"), "{status}");
        browser.screenshot("host/invite-progress-deferred").await;
        for phone in &paste.phones {
            assert!(sent_to(&app, phone).await.is_empty(), "no text to {phone}");
        }
        sign_out_and_check(&app, &browser).await;
        browser.close().await;
        return;
    }

    // The progress reaches done, and the page then stops refreshing.
    wait_for_batch(&browser, &["41 of 41 done", "Done"]).await;
    let status = browser.text_of(".batch-status").await;
    assert!(
        status.contains("41 of 41 done: 41 sent, 0 failed, 0 skipped"),
        "{status}"
    );
    assert_eq!(
        browser.text_of("#funnel").await,
        "Invited by text: 29, joined: 0. Invited by email: 12, joined: 0."
    );
    assert_eq!(
        browser
            .js("return !!document.querySelector('meta[http-equiv=refresh]');")
            .await,
        json!(false),
        "a finished batch's page stops reloading"
    );
    browser.screenshot("host/invite-progress-done").await;

    // 7. The first invitee follows the link in their text and signs up like anyone would.
    let text = sent_to(&app, &paste.phones[0]).await.remove(0);
    let personal = text
        .split_whitespace()
        .find(|w| w.contains("/i/"))
        .unwrap_or_else(|| panic!("a personal link in {text:?}"))
        .trim_end_matches('.')
        .to_owned();
    browser.goto(&on_gateway(&app, &personal)).await;
    browser.wait_for("#rising-form", SLOW).await;
    let form_url = browser.current_url().await;
    assert!(
        form_url.contains(&format!("/g/{id}?ref=")),
        "the personal link opens the gathering's sign-up form: {form_url}"
    );
    wait_text(&browser, "h1", &["Porch talk"], SLOW).await;
    browser.fill("#first_name", "Ana").await;
    browser.fill("#phone", &as_typed(&paste.phones[0])).await;
    browser.click("#sms_consent").await;
    browser.fill("#zip", &zip).await;
    browser.click("#commitment").await;
    browser.click("#rising-form button[type=submit]").await;
    wait_text(&browser, "#rising-thanks", &["Porch talk"], SLOW).await;

    // 8. The host's page lists her, attributed to the host's text.
    let gathering_page = format!("{}/host/gatherings/{id}", app.gateway_url);
    browser.goto(&gathering_page).await;
    wait_text(&browser, "h1", &["Porch talk"], SLOW).await;
    let rows = attendee_rows(&browser).await;
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(1),
        "one attendee: {rows}"
    );
    assert_eq!(
        rows[0].as_array().map(|r| &r[..4]),
        Some(
            &[
                json!("Ana"),
                json!("Going"),
                json!("Web form"),
                json!("You (Text)")
            ][..]
        ),
        "first name, status, how she joined, invited by: {rows}"
    );
    let funnel = browser.text_of("#funnel").await;
    assert!(
        funnel.contains("Invited by text: 29, joined: 1."),
        "{funnel}"
    );
    browser
        .js("document.getElementById('attendees').scrollIntoView(); return null;")
        .await;
    browser.screenshot("host/dashboard-attributed").await;

    // 9. The attendee list as a spreadsheet, with the browser's session.
    let cookie = browser
        .client()
        .get_all_cookies()
        .await
        .expect("the browser's cookies")
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    assert!(!cookie.is_empty(), "the browser holds the session cookie");
    let response = hosts::client()
        .get(format!("{gathering_page}/attendees.csv"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::OK);
    // As bytes: a text decoder would drop the byte-order mark this checks.
    let bytes = response.bytes().await.expect("a body");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 byte-order mark (for spreadsheets): {:?}",
        &bytes[..bytes.len().min(12)]
    );
    let csv = String::from_utf8_lossy(&bytes);
    assert!(csv.contains("Ana,Going,Web form,You (Text),"), "{csv}");

    // 10. Sign out.
    sign_out_and_check(&app, &browser).await;
    browser.close().await;
}

/// Signs out with the button in the top bar, then checks a host page asks to sign in again.
async fn sign_out_and_check(app: &Stack, browser: &Browser) {
    browser
        .click("nav.top form[action='/host/sign-out'] button")
        .await;
    wait_text(browser, ".notice", &["You are signed out."], SLOW).await;
    browser
        .goto(&format!("{}/host/gatherings/new", app.gateway_url))
        .await;
    wait_text(browser, "h1", &["Host sign-in"], SLOW).await;
    assert!(
        browser.exists("#email").await,
        "the sign-in form is shown again"
    );
    assert!(
        !browser.exists("#title").await,
        "the gathering form is not shown"
    );
}

/// Presses Tab and returns a description of the element that has the focus then.
async fn tab(browser: &Browser) -> Value {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Tab.into(),
        })
        .then(KeyAction::Up {
            value: Key::Tab.into(),
        });
    browser
        .client()
        .perform_actions(keys)
        .await
        .expect("press Tab");
    focused(browser).await
}

/// The element with the focus: its id, or its tag and text.
async fn focused(browser: &Browser) -> Value {
    browser
        .js("const e = document.activeElement; \
         return e.id ? '#' + e.id : e.tagName.toLowerCase() + ':' + e.textContent.trim();")
        .await
}

#[tokio::test]
async fn the_sign_in_page_works_with_the_keyboard_alone() {
    let app = spawn_app().await;
    let browser = Browser::start(true).await;
    browser.goto(&format!("{}/host", app.gateway_url)).await;
    browser.wait_for("#email", SLOW).await;

    // The first Tab reaches the skip link, which then shows on screen.
    assert_eq!(tab(&browser).await, json!("a:Skip to content"));
    let left = browser
        .js("return document.activeElement.getBoundingClientRect().left;")
        .await;
    assert!(
        left.as_f64().is_some_and(|x| x >= 0.0),
        "the focused skip link is on screen: left = {left}"
    );
    // Without using it: the other language's link, then the email field.
    assert_eq!(tab(&browser).await, json!("a:Español"));
    assert_eq!(tab(&browser).await, json!("#email"));

    // Using it: Enter jumps to the content, and the next Tab is the email field.
    browser.goto(&format!("{}/host", app.gateway_url)).await;
    browser.wait_for("#email", SLOW).await;
    assert_eq!(tab(&browser).await, json!("a:Skip to content"));
    let enter = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Enter.into(),
        })
        .then(KeyAction::Up {
            value: Key::Enter.into(),
        });
    browser
        .client()
        .perform_actions(enter)
        .await
        .expect("press Enter");
    assert_eq!(focused(&browser).await, json!("#content"));
    assert_eq!(tab(&browser).await, json!("#email"));
    assert_eq!(
        browser
            .js("const l = document.activeElement.labels; \
             return l && l.length ? l[0].textContent : null;",)
            .await,
        json!("Your email"),
        "the email field has its label"
    );
    browser.screenshot("host/sign-in-keyboard").await;
    browser.close().await;
}
