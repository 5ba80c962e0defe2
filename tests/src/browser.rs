//! A real browser for tests: headless Chromium driven through ChromeDriver (WebDriver) with
//! `fantoccini`. `make test` installs Debian's `chromium` and `chromium-driver` (`infra/browser.sh`).
//!
//! Every [`Browser`] runs its own `chromedriver` on a free loopback port with its own fresh, empty
//! profile directory, so tests running in parallel threads never share a browser. The chromedriver
//! process (and the Chromium it started) is killed and the profile removed when the `Browser` is
//! closed or dropped, a panicking test included.
//!
//! ```no_run
//! # async fn example() {
//! use rising_tests::browser::Browser;
//! let browser = Browser::start(true).await;
//! browser.goto("http://127.0.0.1:3000/").await;
//! browser.fill("#first_name", "Marisol").await;
//! browser.click("button[type=submit]").await;
//! let thanks = browser.text_of("#status").await;
//! browser.screenshot("register-done").await; // target/test-artifacts/register-done.png
//! browser.close().await;
//! # }
//! ```

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Debian's Chromium (`apt-get install chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver (`apt-get install chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The default window: a phone (412 × 915 CSS pixels), where most volunteers see the pages.
pub const PHONE_WINDOW: (u32, u32) = (412, 915);
/// How long a helper waits for an element by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// How long ChromeDriver may take to answer its `/status` as ready.
const DRIVER_READY_WITHIN: Duration = Duration::from_secs(20);

/// The flags Chromium needs here: headless as root in a container, and quiet on a closed network
/// (without the background-networking flags it keeps trying to reach Google's services).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// One headless Chromium behind its own ChromeDriver.
pub struct Browser {
    client: Option<Client>,
    driver: Option<Child>,
    /// Holds the Chromium profile (`profile/`) and ChromeDriver's output (`chromedriver.log`).
    dir: PathBuf,
}

impl Browser {
    /// Starts a browser with a phone-sized window; `javascript == false` starts it with JavaScript
    /// disabled, as a person who turned it off (or whose browser blocks it) sees the pages.
    pub async fn start(javascript: bool) -> Browser {
        Self::start_with_window(javascript, PHONE_WINDOW).await
    }

    /// Like [`Browser::start`], with another viewport size (width, height) in CSS pixels; narrower
    /// than 768 px it is emulated as a phone (mobile viewport, touch), wider as a desktop.
    pub async fn start_with_window(javascript: bool, (width, height): (u32, u32)) -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: browser tests need Debian's chromium and chromium-driver \
                 (`./infra/browser.sh` installs them; `make test` runs it)"
            );
        }
        let dir = unique_temp_dir();
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap_or_else(|e| {
            panic!(
                "cannot create the browser profile {}: {e}",
                profile.display()
            )
        });
        // The browser owns the directory from here on: a panic below removes it (Drop).
        let mut browser = Browser {
            client: None,
            driver: None,
            dir,
        };
        let port = browser.spawn_driver().await;

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={width},{height}"));
        // Chromium keeps a desktop window at least 500 px wide, so the viewport is set by device
        // emulation: exactly width × height CSS pixels at a pixel ratio of 1 (screenshots are that
        // size too); below 768 px wide it is a touch phone that honours `<meta name="viewport">`.
        let phone = width < 768;
        let mut options = json!({
            "binary": CHROMIUM,
            "args": args,
            "mobileEmulation": { "deviceMetrics": {
                "width": width, "height": height, "pixelRatio": 1.0, "mobile": phone, "touch": phone,
            }},
        });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        // A leftover `alert()` is dismissed instead of failing every later command.
        capabilities.insert("unhandledPromptBehavior".into(), json!("dismiss"));

        // The workspace's test build links two rustls providers (ring for rising's clients, aws-lc-rs
        // for reqwest's), so rustls cannot pick one by itself: name it (a second call is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .expect("the rustls connector for the WebDriver client")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "ChromeDriver on port {port} could not start {CHROMIUM}: {e}\n{}",
                    browser.driver_log()
                )
            });
        browser.client = Some(client);
        browser
    }

    /// Starts `chromedriver` on a free port and waits until it says it is ready; returns the port.
    /// A port taken between choosing and binding it (another test's driver) is retried.
    async fn spawn_driver(&mut self) -> u16 {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let log_path = self.dir.join("chromedriver.log");
            let log = File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let stderr = log.try_clone().expect("clone the log file handle");
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(stderr)
                // Its own process group: Drop kills chromedriver and the Chromium it started together.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER}: {e}"));
            self.driver = Some(child);

            let started = Instant::now();
            loop {
                if let Some(status) = self
                    .driver
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    last_error = format!("chromedriver exited with {status}");
                    self.driver = None;
                    break;
                }
                if let Ok(response) = http
                    .get(format!("http://127.0.0.1:{port}/status"))
                    .send()
                    .await
                    && let Ok(body) = response.json::<Value>().await
                    && body["value"]["ready"] == Value::Bool(true)
                {
                    return port;
                }
                if started.elapsed() > DRIVER_READY_WITHIN {
                    let log = self.driver_log();
                    self.kill_driver();
                    panic!(
                        "{CHROMEDRIVER} --port={port} did not answer /status as ready within {} s\n{log}",
                        DRIVER_READY_WITHIN.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!(
            "{CHROMEDRIVER} could not start: {last_error}\n{}",
            self.driver_log()
        );
    }

    fn driver_log(&self) -> String {
        let path = self.dir.join("chromedriver.log");
        match std::fs::read_to_string(&path) {
            Ok(text) => format!("chromedriver output ({}):\n{text}", path.display()),
            Err(_) => "(no chromedriver output)".into(),
        }
    }

    /// The WebDriver client, for anything the helpers below don't cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is running")
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("the browser could not open {url}: {e}"));
    }

    /// The URL of the page shown now.
    pub async fn current_url(&self) -> String {
        self.client()
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("the browser's current URL: {e}"))
            .to_string()
    }

    /// Saves a PNG of the window to `target/test-artifacts/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot {name:?}: {e}"));
        let path = artifacts_dir().join(format!("{name}.png"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Waits up to `timeout` for an element matching the CSS selector `css` and returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        self.client()
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no element matches `{css}` after {} ms: {e}",
                    timeout.as_millis()
                )
            })
    }

    /// The rendered text of the element matching `css` (waiting up to [`DEFAULT_WAIT`] for it).
    pub async fn text_of(&self, css: &str) -> String {
        self.wait_for(css, DEFAULT_WAIT)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("cannot read the text of `{css}`: {e}"))
    }

    /// Runs `script` in the current frame and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("the script {script:?} failed: {e}"))
    }

    /// The current value (property) of the input matching `css`, waiting up to `timeout` for it.
    pub async fn value_of(&self, css: &str, timeout: Duration) -> String {
        self.wait_for(css, timeout)
            .await
            .prop("value")
            .await
            .unwrap_or_else(|e| panic!("cannot read the value of `{css}`: {e}"))
            .unwrap_or_default()
    }

    /// Whether an element matches `css` right now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        match self.client().find_all(Locator::Css(css)).await {
            Ok(found) => !found.is_empty(),
            Err(e) => panic!("cannot look for `{css}`: {e}"),
        }
    }

    /// Clears the field matching `css` and types `value` into it.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.wait_for(css, DEFAULT_WAIT).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("cannot clear the field `{css}`: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("cannot type into the field `{css}`: {e}"));
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.wait_for(css, DEFAULT_WAIT)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Ends the WebDriver session (Chromium quits), stops ChromeDriver and removes the profile.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            // The session may already be gone (a crashed tab): cleaning up is all that matters here.
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
        // Drop kills the driver's process group and removes the directory.
    }

    fn kill_driver(&mut self) {
        if let Some(mut child) = self.driver.take() {
            // The whole process group: chromedriver and every Chromium process it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Dropping the client lets fantoccini end the session if its runtime still runs; killing the
        // process group below ends Chromium in any case.
        drop(self.client.take());
        self.kill_driver();
        for _ in 0..5 {
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `<workspace>/target/test-artifacts`: where screenshots go.
pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .join("target")
        .join("test-artifacts")
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A new, empty directory under the system's temporary directory, unique across threads and processes.
fn unique_temp_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "rising-browser-{}-{n}-{nanos:08x}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
