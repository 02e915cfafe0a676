//! A small W3C WebDriver client over awc, enough to drive Debian's headless Chromium through
//! `chromedriver`: open pages, find elements, type, click, read text, press keys, take
//! screenshots and print to PDF. Browser tests start one driver each and quit it afterwards.
//!
//! Without `chromedriver` on the PATH the browser tests are skipped with a message, unless
//! `ONECARD_REQUIRE_BROWSER` is set (as `.ci/run` does), when that is a failure.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where screenshots and printed pages go: `<target>/browser-artefacts/`.
pub fn artefacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("browser-artefacts"))
        .expect("target dir");
    std::fs::create_dir_all(&dir).expect("artefacts dir");
    dir
}

/// A running chromedriver with one headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: awc::Client,
    /// Screenshot file names are prefixed with this (the test's name).
    pub prefix: String,
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

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
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match client.get(format!("{base}/status")).send().await {
                Ok(mut res) => res
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == json!(true)),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let mut browser = Browser {
            driver: child,
            base,
            session: String::new(),
            client,
            prefix: prefix.to_string(),
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1400",
                         "--lang=zh-CN", "--force-device-scale-factor=1"]
            }
        }}});
        let v = browser.call("POST", "/session", Some(caps)).await;
        browser.session = v["sessionId"].as_str().expect("session id").to_string();
        Some(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url),
        };
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None if method == "POST" => req.send_json(&json!({})).await,
            None => req.send().await,
        }
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let v: Value = res
            .json()
            .limit(64 * 1024 * 1024)
            .await
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        assert!(
            res.status().is_success(),
            "webdriver {method} {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({"url": url})))
            .await;
    }

    /// The address shown.
    pub async fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
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

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching a CSS selector, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element '{css}' on {}",
                self.url().await
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first element matching a CSS selector, if any now.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let url = format!("{}{}", self.base, self.s("/element"));
        let mut res = self
            .client
            .post(url)
            .send_json(&json!({"using": "css selector", "value": css}))
            .await
            .ok()?;
        let v: Value = res.json().await.ok()?;
        v["value"][ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
    }

    /// Types into an element.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            "POST",
            &self.s(&format!("/element/{}/value", e.0)),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clears an input.
    pub async fn clear(&self, css: &str) {
        let e = self.find(css).await;
        self.call("POST", &self.s(&format!("/element/{}/clear", e.0)), None)
            .await;
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call("POST", &self.s(&format!("/element/{}/click", e.0)), None)
            .await;
    }

    /// An element's visible text.
    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call("GET", &self.s(&format!("/element/{}/text", e.0)), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's visible text.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// The page's visible text, or `None` while a page is being replaced.
    async fn try_body_text(&self) -> Option<String> {
        let e = self.try_find("body").await?;
        let url = format!("{}{}", self.base, self.s(&format!("/element/{}/text", e.0)));
        let mut res = self.client.get(url).send().await.ok()?;
        if !res.status().is_success() {
            return None;
        }
        let v: Value = res.json().limit(64 * 1024 * 1024).await.ok()?;
        v["value"].as_str().map(str::to_string)
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
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.call(
            "POST",
            &self.s("/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    /// The focused element's outer HTML (for keyboard tests).
    pub async fn focused_html(&self) -> String {
        let e = self.call("GET", &self.s("/element/active"), None).await;
        let id = e[ELEMENT].as_str().expect("active element").to_string();
        self.call(
            "GET",
            &self.s(&format!("/element/{id}/property/outerHTML")),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Saves a screenshot of the whole page as `<prefix>-<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // Size the window to the page first, so the shot is the whole page: shrink it, since
        // the page's height is never less than the window's, then grow it to fit.
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": 1280, "height": 600})),
        )
        .await;
        let height = self
            .call(
                "POST",
                &self.s("/execute/sync"),
                Some(json!({"script": "return document.documentElement.scrollHeight", "args": []})),
            )
            .await
            .as_u64()
            .unwrap_or(1400)
            .clamp(600, 6000);
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": 1280, "height": height + 140})),
        )
        .await;
        let png = self.call("GET", &self.s("/screenshot"), None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("png"))
            .expect("base64");
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        let path = artefacts_dir().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }

    /// Prints the page to PDF (A4, as the print stylesheet lays it out); returns its path.
    pub async fn print_pdf(&self, name: &str) -> PathBuf {
        let pdf = self
            .call(
                "POST",
                &self.s("/print"),
                Some(json!({"page": {"width": 21.0, "height": 29.7}, "background": false})),
            )
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(pdf.as_str().expect("pdf"))
            .expect("base64");
        assert!(bytes.starts_with(b"%PDF"), "a PDF");
        let path = artefacts_dir().join(format!("{}-{name}.pdf", self.prefix));
        std::fs::write(&path, bytes).expect("write pdf");
        path
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let _ = self
            .client
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test still stops its driver (Chromium follows it).
        let _ = self.driver.kill();
    }
}
