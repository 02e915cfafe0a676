//! Starts Debian's headless Chromium under `chromedriver` for the browser tests, which drive it
//! with `fantoccini` (the WebDriver client) through [`Browser`]. On top of the client this adds
//! only what the tests share: signing in, waiting for an element, a text, an address or a
//! download, and saving screenshots and printed pages into `<target>/browser-artefacts/`.
//!
//! Without `chromedriver` on the PATH the browser tests are skipped with a message, unless
//! `ONECARD_REQUIRE_BROWSER` is set (as `.ci/run` does), when that is a failure.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::{Capabilities, PrintConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Where screenshots and printed pages go: `<target>/browser-artefacts/`.
pub fn artefacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("browser-artefacts"))
        .expect("target dir");
    std::fs::create_dir_all(&dir).expect("artefacts dir");
    dir
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// The chromedriver process; stopped when dropped, so a failed test still stops it (Chromium
/// follows it).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running chromedriver with one headless Chromium session. The helpers below wait where a
/// user would and panic saying what failed; anything else goes to `client` directly.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    /// Screenshot file names are prefixed with this (the test's name).
    pub prefix: String,
    /// Where the browser saves downloads: `<artefacts>/downloads-<prefix>/`, emptied at start.
    pub downloads: PathBuf,
}

/// The value, or a panic naming the command that failed.
fn ok<T>(what: &str, result: Result<T, CmdError>) -> T {
    result.unwrap_or_else(|e| panic!("webdriver {what}: {e}"))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after saying why) when the browser
    /// is not installed and not required.
    pub async fn start(prefix: &str) -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (
            find_program("chromedriver"),
            find_program("chromium").or_else(|| find_program("chromium-browser")),
        ) else {
            let msg = "browser tests need Debian's chromium and chromium-driver \
                       (apt-get install chromium chromium-driver fonts-wqy-zenhei)";
            if std::env::var_os("ONECARD_REQUIRE_BROWSER").is_some() {
                panic!("{msg}");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let driver = Driver(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let downloads = artefacts_dir().join(format!("downloads-{prefix}"));
        let _ = std::fs::remove_dir_all(&downloads);
        std::fs::create_dir_all(&downloads).expect("downloads dir");
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1400",
                         "--lang=zh-CN", "--force-device-scale-factor=1"],
                "prefs": {"download.default_directory": downloads,
                          "download.prompt_for_download": false}
            }),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        // The driver takes a moment to listen: try until it answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                Err(e) => assert!(Instant::now() < deadline, "chromedriver did not start: {e}"),
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        Some(Browser {
            client,
            _driver: driver,
            prefix: prefix.to_string(),
            downloads,
        })
    }

    /// Signs `name` in through the form on the way to `url`; waits until the page is reached.
    pub async fn sign_in_to(&self, url: &str, name: &str, password: &str) {
        self.goto(url).await;
        self.wait_for_url("/web/sign-in", 10).await;
        self.type_into("#name", name).await;
        self.type_into("#password", password).await;
        self.click("form button[type=submit]").await;
        let path = url.split_once("/web/").map_or(url, |(_, p)| p);
        self.wait_for_url(&format!("/web/{path}"), 10).await;
    }

    /// Waits until a finished download whose name ends with `suffix` is in [`Self::downloads`];
    /// returns its bytes.
    pub async fn downloaded(&self, suffix: &str, secs: u64) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let found = std::fs::read_dir(&self.downloads)
                .expect("downloads dir")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(suffix));
            if let Some(path) = found {
                return std::fs::read(path).expect("read download");
            }
            assert!(
                Instant::now() < deadline,
                "no download *{suffix} in {}",
                self.downloads.display()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        ok(&format!("goto {url}"), self.client.goto(url).await);
    }

    /// The address shown (empty if the driver cannot say).
    pub async fn url(&self) -> String {
        let url = self.client.current_url().await;
        url.map(String::from).unwrap_or_default()
    }

    /// The first element matching a CSS selector, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => panic!("no element '{css}' on {}: {e}", self.url().await),
        }
    }

    /// Types into an element.
    pub async fn type_into(&self, css: &str, text: &str) {
        ok(css, self.find(css).await.send_keys(text).await);
    }

    /// Clears an input.
    pub async fn clear(&self, css: &str) {
        ok(css, self.find(css).await.clear().await);
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        ok(css, self.find(css).await.click().await);
    }

    /// An element's visible text.
    pub async fn text(&self, css: &str) -> String {
        ok(css, self.find(css).await.text().await)
    }

    /// The page's visible text.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// The page's visible text, or `None` while a page is being replaced.
    async fn try_body_text(&self) -> Option<String> {
        let body = self.client.find(Locator::Css("body")).await.ok()?;
        body.text().await.ok()
    }

    /// Waits until the address contains `part`.
    pub async fn wait_for_url(&self, part: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let url = self.url().await;
            if url.contains(part) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "never reached '{part}'; at {url}:\n{}",
                self.try_body_text().await.unwrap_or_default()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the visible text of the page contains `needle` (reloads are the page's own).
    pub async fn wait_for_text(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.try_body_text().await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "'{needle}' did not appear on {}:\n{text}",
                self.url().await
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Presses keys (WebDriver key codes: `\u{E004}` is Tab, `\u{E007}` Enter).
    pub async fn keys(&self, keys: &str) {
        let press = |a: KeyActions, c| {
            a.then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c })
        };
        let actions = keys.chars().fold(KeyActions::new("keyboard".into()), press);
        ok("actions", self.client.perform_actions(actions).await);
    }

    /// The focused element's outer HTML (for keyboard tests).
    pub async fn focused_html(&self) -> String {
        let focused = ok("active element", self.client.active_element().await);
        ok("outerHTML", focused.html(false).await)
    }

    /// Saves a screenshot of the whole page as `<prefix>-<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // Size the window to the page first, so the shot is the whole page: shrink it, since
        // the page's height is never less than the window's, then grow it to fit.
        ok("window size", self.client.set_window_size(1280, 600).await);
        let script = "return document.documentElement.scrollHeight";
        let height = ok("page height", self.client.execute(script, vec![]).await)
            .as_u64()
            .unwrap_or(1400)
            .clamp(600, 6000);
        let height = u32::try_from(height).unwrap_or(6000);
        let resized = self.client.set_window_size(1280, height + 140).await;
        ok("window size", resized);
        let bytes = ok("screenshot", self.client.screenshot().await);
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        let path = artefacts_dir().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }

    /// Saves a screenshot of the top of the page as a window 1,280 × `height` px shows it (less
    /// the window's own frame), as `<prefix>-<name>.png`: a long page's head, small enough
    /// for the README.
    pub async fn screenshot_top(&self, name: &str, height: u32) -> PathBuf {
        ok(
            "window size",
            self.client.set_window_size(1280, height).await,
        );
        let bytes = ok("screenshot", self.client.screenshot().await);
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        let path = artefacts_dir().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }

    /// Panics unless the page, at a window `width` px wide, needs no sideways scrolling: neither
    /// the page nor any table's scroll box is wider than it shows.
    pub async fn fits_width(&self, width: u32) {
        ok("window size", self.client.set_window_size(width, 900).await);
        let script = "const d = document.documentElement; \
            const boxes = [...document.querySelectorAll('.scroll')] \
                .filter(s => s.scrollWidth > s.clientWidth) \
                .map(s => (s.parentElement.id || '?') + ': ' + s.scrollWidth + ' > ' + s.clientWidth); \
            if (d.scrollWidth > d.clientWidth) boxes.push('page: ' + d.scrollWidth + ' > ' + d.clientWidth); \
            return boxes;";
        let wide = ok("widths", self.client.execute(script, vec![]).await);
        assert_eq!(
            wide,
            json!([]),
            "sideways scrolling at {width} px on {}",
            self.url().await
        );
    }

    /// Prints the page to PDF (A4, as the print stylesheet lays it out); returns its path.
    pub async fn print_pdf(&self, name: &str) -> PathBuf {
        // The default configuration is the spec's: A4, 1 cm margins, no backgrounds.
        let printed = self.client.print(PrintConfiguration::default()).await;
        let bytes = ok("print", printed);
        assert!(bytes.starts_with(b"%PDF"), "a PDF");
        let path = artefacts_dir().join(format!("{}-{name}.pdf", self.prefix));
        std::fs::write(&path, bytes).expect("write pdf");
        path
    }

    /// Ends the session, then the driver.
    pub async fn quit(self) {
        let _ = self.client.close().await;
    }
}
