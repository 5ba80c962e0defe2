//! The registration form in a real browser (headless Chromium, `rising_tests::browser`), against the
//! local stack: the embed snippet on another site's page (an iframe that keeps the site's CSS and
//! scripts out, grows to its content, and registers through `form.js`), the share page with
//! JavaScript off (a plain form POST and the 303 to the thank-you page), and the errors with
//! JavaScript on (next to their fields, in a focused `role="alert"` summary). Each test checks what
//! reached DynamoDB and SES, and saves screenshots to `target/test-artifacts/register/`.

use std::time::Duration;

use fantoccini::Locator;
use rising_tests::browser::Browser;
use rising_tests::mail::{emails_to, unique_email, wait_for_emails};
use rising_tests::origin::OtherOrigin;
use rising_tests::{Item, Stack, gatherings, s, spawn_app};
use serde_json::Value;

/// How long a page, a registration or the thank-you may take on a busy two-core machine.
const SLOW: Duration = Duration::from_secs(20);

/// The RSVP items stored under a gathering.
async fn rsvps(app: &Stack, gathering: &str) -> Vec<Item> {
    app.query_pk(&format!("GATHERING#{gathering}"))
        .await
        .into_iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("RSVP#")))
        .collect()
}

/// The value of attribute `name` of the element matching `css` (waiting for it).
async fn attr(browser: &Browser, css: &str, name: &str) -> Option<String> {
    browser
        .wait_for(css, SLOW)
        .await
        .attr(name)
        .await
        .unwrap_or_else(|e| panic!("cannot read `{name}` of `{css}`: {e}"))
}

/// `"512px"` → 512.0; `None` when the style height is not set in pixels.
fn pixels(height: &str) -> Option<f64> {
    height.strip_suffix("px")?.trim().parse().ok()
}

/// The iframe's inline style height (what embed.js sets from the form's `rising:height` messages),
/// read from the top-level page. Waits up to [`SLOW`] for `accept` to hold, and returns the last one.
async fn frame_height(browser: &Browser, accept: impl Fn(f64) -> bool) -> Option<f64> {
    let deadline = tokio::time::Instant::now() + SLOW;
    loop {
        let height = browser
            .js("const f = document.querySelector('iframe'); return f ? f.style.height : '';")
            .await;
        let height = height.as_str().and_then(pixels);
        if height.is_some_and(&accept) || tokio::time::Instant::now() >= deadline {
            return height;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An organizer's page on another origin: hostile CSS that would wreck any form it reached, an input
/// of its own (which the CSS hides) and the embed snippet.
fn organizer_page(gateway: &str, gathering: &str) -> String {
    format!(
        r##"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cedar chapter</title>
<style>
  * {{ font-size: 40px !important; color: red !important; font-family: serif !important }}
  input {{ display: none !important }}
  label, p, h1, h2 {{ text-transform: uppercase !important }}
</style></head>
<body>
  <h1>Cedar</h1>
  <input id="host-input" value="the site's own">
  <script src="{gateway}/embed.js" data-gathering="{gathering}" data-color="#1d4ed8" async></script>
</body>
</html>"##
    )
}

#[tokio::test]
async fn a_page_on_another_site_embeds_the_form_and_a_person_registers_through_it() {
    let app = spawn_app().await;
    let title = "Cedar embed neighbors";
    let gathering = gatherings::listed(&app, title, "20001", 5, None).await;
    let id = gathering.id.as_str().to_owned();
    let email = unique_email("browser.embed");
    let site = OtherOrigin::serve(organizer_page(&app.gateway_url, &id));
    assert_ne!(
        site.origin(),
        app.gateway_url.trim_end_matches('/'),
        "the organizer's page is on another origin"
    );

    let browser = Browser::start(true).await;
    browser.goto(&site.url()).await;
    let frame = browser.wait_for("iframe", SLOW).await;
    let src = frame.attr("src").await.expect("src").unwrap_or_default();
    assert!(
        src.starts_with(&format!("{}/g/{id}?", app.gateway_url)) && src.contains("embed=1"),
        "the iframe shows the gathering's form from rising's origin: {src}"
    );
    // The page's hostile CSS is live on the page itself…
    assert!(
        !browser
            .wait_for("#host-input", SLOW)
            .await
            .is_displayed()
            .await
            .expect("displayed?"),
        "the organizer's CSS hides the organizer's own inputs"
    );
    // …and the form has posted its height: embed.js replaced the 480px guess with it.
    let form_height = frame_height(&browser, |h| h > 300.0)
        .await
        .expect("embed.js set the iframe's height from the form's postMessage");
    assert!(
        form_height > 300.0,
        "the iframe is as tall as the form: {form_height}px"
    );
    assert_eq!(
        browser
            .js("return document.querySelector('iframe').style.minHeight")
            .await,
        "0px",
        "the minimum height guess is dropped once the form reports its height"
    );
    // A script on the organizer's page (an analytics tag, say) cannot read what people type.
    assert_eq!(
        browser
            .js("const f = document.querySelector('iframe'); \
             let doc; try { doc = f.contentWindow.document; } catch (_) { doc = undefined; } \
             return [f.contentDocument === null, doc === undefined];",)
            .await,
        serde_json::json!([true, true]),
        "the page's scripts cannot reach the form's document"
    );

    frame
        .enter_frame()
        .await
        .expect("switch into the form's iframe");
    let first_name = browser.wait_for("#first_name", SLOW).await;
    assert!(
        first_name.is_displayed().await.expect("displayed?"),
        "the page's `input {{ display: none }}` does not reach the form"
    );
    let font_size = first_name.css_value("font-size").await.expect("font-size");
    assert_ne!(
        font_size, "40px",
        "the page's font size does not reach the form"
    );
    let heading_color = browser
        .wait_for("h1", SLOW)
        .await
        .css_value("color")
        .await
        .expect("color");
    assert!(
        !heading_color.contains("255, 0, 0"),
        "the page's red does not reach the form: {heading_color}"
    );
    assert_eq!(
        browser.text_of("h1").await,
        format!("RSVP: {title}"),
        "the form is the gathering's (and not upper-cased by the page's CSS)"
    );

    browser.fill("#first_name", "Amara").await;
    browser.fill("#email", &email).await;
    browser.fill("#zip", "20001").await;
    browser.click("#commitment").await;
    assert!(
        browser
            .wait_for("#commitment", SLOW)
            .await
            .is_selected()
            .await
            .expect("selected?"),
        "the commitment is ticked"
    );
    browser
        .client()
        .enter_parent_frame()
        .await
        .expect("back to the page");
    // The top of the organizer's page: its own (red, serif, upper-case) heading above the form.
    browser.js("window.scrollTo(0, 0); return null;").await;
    browser.screenshot("register/embedded-form").await;

    browser
        .wait_for("iframe", SLOW)
        .await
        .enter_frame()
        .await
        .expect("switch into the form's iframe again");
    browser.click("button[type=submit]").await;
    let thanks = browser.wait_for("#rising-thanks", SLOW).await;
    let text = thanks.text().await.expect("the thank-you's text");
    assert!(
        text.contains(&format!("You're going to {title}")),
        "the thank-you names the gathering: {text}"
    );
    assert!(text.contains("We've emailed you a confirmation."), "{text}");
    let share = browser.value_of("#rising-share", SLOW).await;
    assert!(
        share.contains(&format!("/g/{id}?ref=")),
        "the share link is the gathering's page with a referral code: {share}"
    );
    assert!(
        !browser.exists("#rising-form").await,
        "the form is replaced by the thank-you"
    );
    assert_eq!(
        browser
            .js("return document.activeElement && document.activeElement.id")
            .await,
        "rising-thanks",
        "the thank-you takes the focus, so a screen reader reads it"
    );

    browser
        .client()
        .enter_parent_frame()
        .await
        .expect("back to the page");
    // The iframe follows its content down to the (shorter) thank-you.
    let thanks_height = frame_height(&browser, |h| h < form_height)
        .await
        .expect("the iframe still has a height");
    assert!(
        thanks_height > 150.0 && thanks_height < form_height,
        "the iframe shrank from {form_height}px to the thank-you's {thanks_height}px"
    );
    browser.js("window.scrollTo(0, 0); return null;").await;
    browser.screenshot("register/embedded-thanks").await;
    browser.close().await;

    let stored = rsvps(&app, &id).await;
    assert_eq!(stored.len(), 1, "one RSVP: {stored:?}");
    assert_eq!(s(&stored[0], "source"), Some("form"), "{stored:?}");

    let mail = wait_for_emails(&app, &email, 1).await;
    assert_eq!(mail.len(), 1, "one confirmation reached SES");
    assert!(mail[0].contains(title), "the confirmation is for {title}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(emails_to(&app, &email).await.len(), 1, "and only one");
}

#[tokio::test]
async fn the_share_page_works_with_javascript_disabled() {
    let app = spawn_app().await;
    let title = "Cedar sin script";
    let gathering = gatherings::listed(&app, title, "20001", 6, None).await;
    let id = gathering.id.as_str().to_owned();
    let email = unique_email("browser.nojs");

    let browser = Browser::start(false).await;
    let page = format!("{}/g/{id}?lang=es", app.gateway_url);
    browser.goto(&page).await;
    assert_eq!(attr(&browser, "html", "lang").await.as_deref(), Some("es"));
    assert_eq!(browser.text_of("h1").await, format!("Confirma: {title}"));
    assert_eq!(
        browser.text_of("button[type=submit]").await,
        "Cuenten conmigo"
    );
    // Nothing ran: form.js would have turned the browser's validation off.
    assert_eq!(
        browser
            .wait_for("#rising-form", SLOW)
            .await
            .prop("noValidate")
            .await
            .expect("noValidate"),
        Some("false".into()),
        "JavaScript is off"
    );

    browser.fill("#first_name", "Lucía").await;
    browser.fill("#email", &email).await;
    browser.fill("#zip", "20001").await;
    browser.click("#commitment").await;
    browser.screenshot("register/share-page-no-js").await;
    browser.click("button[type=submit]").await;

    let thanks = browser.wait_for("#rising-thanks", SLOW).await;
    let url = browser.current_url().await;
    assert!(
        url.starts_with(&format!("{}/g/{id}/thanks?", app.gateway_url)),
        "the browser followed the 303 to the thank-you page: {url}"
    );
    assert_eq!(attr(&browser, "html", "lang").await.as_deref(), Some("es"));
    let text = thanks.text().await.expect("the thank-you's text");
    assert!(text.contains("¡Gracias!"), "{text}");
    assert!(
        text.contains(&format!("Vas a {title}")),
        "the thank-you names the gathering, in Spanish: {text}"
    );
    assert_eq!(
        text.matches("Trae a alguien: comparte tu enlace personal.")
            .count(),
        1,
        "the share link is offered once: {text}"
    );
    let share = browser.value_of("#rising-share", SLOW).await;
    assert!(
        share.contains(&format!("/g/{id}?ref=")),
        "the share link is the gathering's page with a referral code: {share}"
    );
    assert!(
        !browser
            .wait_for("#rising-copy", SLOW)
            .await
            .is_displayed()
            .await
            .expect("displayed?"),
        "the copy button needs JavaScript, so it stays hidden"
    );
    browser.screenshot("register/share-page-no-js-thanks").await;
    browser.close().await;

    let stored = rsvps(&app, &id).await;
    assert_eq!(stored.len(), 1, "one RSVP: {stored:?}");
    assert_eq!(s(&stored[0], "source"), Some("form"), "{stored:?}");
}

#[tokio::test]
async fn errors_are_announced_next_to_their_fields() {
    let app = spawn_app().await;
    let email = unique_email("browser.errors");

    let browser = Browser::start(true).await;
    let page = format!("{}/join", app.gateway_url);
    browser.goto(&page).await;
    browser.wait_for("#rising-form", SLOW).await;
    assert!(
        !browser
            .wait_for("#rising-errors", SLOW)
            .await
            .is_displayed()
            .await
            .expect("displayed?"),
        "no summary before any error"
    );
    // First name left empty, a 3-digit ZIP, the commitment unticked.
    browser.fill("#email", &email).await;
    browser.fill("#zip", "123").await;
    browser.click("button[type=submit]").await;

    let summary = browser.wait_for("#rising-errors:not([hidden])", SLOW).await;
    assert!(
        summary.is_displayed().await.expect("displayed?"),
        "the summary is shown"
    );
    assert_eq!(
        browser.current_url().await,
        page,
        "the errors came without a reload"
    );
    let role = summary.attr("role").await.expect("role");
    let live = browser
        .js("return !!document.getElementById('rising-errors').closest('[aria-live]');")
        .await;
    assert!(
        role.as_deref() == Some("alert") || live == Value::Bool(true),
        "the summary is announced (role={role:?}, inside aria-live: {live})"
    );
    assert_eq!(
        browser
            .js("return document.activeElement && document.activeElement.id")
            .await,
        "rising-errors",
        "the summary takes the focus"
    );
    let summary_text = summary.text().await.expect("the summary's text");
    for message in [
        "Please enter your first name.",
        "Please enter a valid 5-digit US ZIP code.",
        "Please tick the nonviolence commitment to join.",
    ] {
        assert!(
            summary_text.contains(message),
            "the summary lists {message:?}: {summary_text}"
        );
    }
    assert!(
        summary_text.contains("Please fix 3 thing(s) below."),
        "{summary_text}"
    );
    assert!(
        browser.exists("#rising-errors a[href='#first_name']").await,
        "the summary links to the first name field"
    );

    for (field, message) in [
        ("first_name", "Please enter your first name."),
        ("zip", "Please enter a valid 5-digit US ZIP code."),
        (
            "commitment",
            "Please tick the nonviolence commitment to join.",
        ),
    ] {
        let css = format!("#{field}");
        assert_eq!(
            attr(&browser, &css, "aria-invalid").await.as_deref(),
            Some("true"),
            "{field} is marked invalid"
        );
        let described = attr(&browser, &css, "aria-describedby")
            .await
            .unwrap_or_else(|| panic!("{field} has aria-describedby"));
        let mut texts = Vec::new();
        for id in described.split_whitespace() {
            let found = browser
                .client()
                .find(Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("{field}'s aria-describedby names #{id}, missing: {e}"));
            texts.push(found.text().await.expect("text"));
        }
        assert!(
            texts.iter().any(|t| t == message),
            "{field} is described by its error {message:?}: {texts:?}"
        );
    }
    // The error is shown next to the field, right after it.
    let next_to = browser
        .js(
            "const p = document.getElementById('first_name').nextElementSibling; \
         return p ? [p.id, p.hidden, p.textContent] : null;",
        )
        .await;
    assert_eq!(
        next_to,
        serde_json::json!(["first_name-error", false, "Please enter your first name."])
    );
    // Fields without an error are not marked.
    assert_eq!(attr(&browser, "#email", "aria-invalid").await, None);
    browser.screenshot("register/errors").await;
    browser.close().await;

    assert!(
        app.query_pk(&format!("CONTACT#{}", app.email_hash(&email)))
            .await
            .is_empty(),
        "nothing stored for {email}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(emails_to(&app, &email).await.is_empty(), "nothing sent");
}
