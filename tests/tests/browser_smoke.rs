//! The browser harness itself (`rising_tests::browser`, `rising_tests::origin`): a real headless
//! Chromium opens a page from another origin, runs its script only when JavaScript is on, and saves
//! screenshots to `target/test-artifacts/`. Needs no local stack, only `infra/browser.sh`'s packages.

use std::path::Path;
use std::time::Duration;

use rising_tests::browser::{Browser, PHONE_WINDOW};
use rising_tests::origin::OtherOrigin;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A page whose inline script changes `#status`; its `<noscript>` note shows only without JavaScript.
fn page() -> String {
    r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>An organizer's page</title></head>
<body>
  <h1>Gather with us</h1>
  <p id="status">no script</p>
  <noscript><p id="noscript-note">JavaScript is off</p></noscript>
  <script>document.getElementById("status").textContent = "script ran";</script>
</body>
</html>"#
        .to_string()
}

/// The PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(&png[12..16], b"IHDR", "a PNG starts with its IHDR chunk");
    (be(16), be(20))
}

fn assert_png(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("the screenshot {} is missing: {e}", path.display()));
    assert!(
        bytes.starts_with(PNG_SIGNATURE),
        "{} is not a PNG (starts with {:?})",
        path.display(),
        &bytes[..bytes.len().min(8)]
    );
    bytes
}

#[tokio::test]
async fn a_page_from_another_origin_runs_its_script_only_when_javascript_is_enabled() {
    let origin = OtherOrigin::serve(page());

    let with_script = Browser::start(true).await;
    with_script.goto(&origin.url()).await;
    assert_eq!(with_script.text_of("#status").await, "script ran");
    assert!(
        !with_script.exists("#noscript-note").await,
        "<noscript> content must not render when JavaScript is on"
    );
    let shot_on = with_script.screenshot("browser-smoke/javascript-on").await;

    let without_script = Browser::start(false).await;
    without_script.goto(&origin.url()).await;
    // Give a script every chance to run if JavaScript were (wrongly) on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(without_script.text_of("#status").await, "no script");
    assert_eq!(
        without_script.text_of("#noscript-note").await,
        "JavaScript is off"
    );
    let shot_off = without_script
        .screenshot("browser-smoke/javascript-off")
        .await;

    for shot in [&shot_on, &shot_off] {
        assert!(
            shot.ends_with(format!(
                "target/test-artifacts/browser-smoke/{}",
                shot.file_name().unwrap().to_string_lossy()
            )),
            "screenshots land in target/test-artifacts: {}",
            shot.display()
        );
        let png = assert_png(shot);
        assert_eq!(
            png_size(&png).0,
            PHONE_WINDOW.0,
            "the window is phone-sized: {}",
            shot.display()
        );
    }
    assert_ne!(
        std::fs::read(&shot_on).unwrap(),
        std::fs::read(&shot_off).unwrap(),
        "the two pages differ, so do their screenshots"
    );

    with_script.close().await;
    without_script.close().await;
}

#[tokio::test]
async fn the_other_origin_serves_its_page_at_the_root_and_nothing_else() {
    let origin = OtherOrigin::serve(page());
    assert!(origin.url().starts_with("http://127.0.0.1:"));
    let http = reqwest::Client::new();

    let root = http
        .get(origin.url())
        .send()
        .await
        .expect("the page answers");
    assert_eq!(root.status(), 200);
    assert_eq!(
        root.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(
        root.text()
            .await
            .unwrap()
            .contains(r#"<p id="status">no script</p>"#)
    );

    let elsewhere = http
        .get(format!("{}embed.js", origin.url()))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(elsewhere.status(), 404);

    let url = origin.url();
    drop(origin);
    assert!(
        http.get(&url).send().await.is_err(),
        "the server stops when the OtherOrigin is dropped"
    );
}
