//! A cookie-keeping client for the staff pages: signs a fresh staff user of a role in through
//! the sign-in form, then GETs pages and POSTs forms (with the session's CSRF token) the way a
//! browser without JavaScript would, without following redirects so each step can be checked.

use std::collections::BTreeMap;

use onecard::auth::{staff, Role};
use onecard::words::has_cjk;

use crate::support::TestApp;

/// The password every test staff user gets.
pub const PASSWORD: &str = "morning-reconciliation-2026";

/// A response: status, `Location`, content type, body as text.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
    /// The body as bytes (downloads).
    #[allow(dead_code)]
    pub bytes: Vec<u8>,
}

impl Page {
    /// The value of the first hidden `csrf` field on the page.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.body[at..].split('"').next()?.to_string())
    }
}

/// One signed-in browser.
pub struct WebSession<'a> {
    pub app: &'a TestApp,
    pub client: awc::Client,
    pub cookies: BTreeMap<String, String>,
    /// The user's name.
    pub name: String,
}

/// A client that does not follow redirects.
pub fn web_client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(std::time::Duration::from_secs(60))
        .finish()
}

/// Creates a staff user `name` of `role` (few PBKDF2 iterations: fast), once.
pub async fn create_staff(app: &TestApp, role: Role, name: &str) {
    let ctx = app.ctx.clone();
    let name = name.to_string();
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        staff::create_user_with(&mut conn, role, &name, PASSWORD, "test", 1_000).expect("user");
    })
    .await
    .expect("block");
}

impl<'a> WebSession<'a> {
    /// A browser with no cookies yet.
    pub fn anonymous(app: &'a TestApp) -> WebSession<'a> {
        WebSession {
            app,
            client: web_client(),
            cookies: BTreeMap::new(),
            name: String::new(),
        }
    }

    /// A new user `web-<role>` signed in through the form.
    pub async fn signed_in(app: &'a TestApp, role: Role) -> WebSession<'a> {
        let name = format!("web-{role}");
        create_staff(app, role, &name).await;
        let mut s = WebSession::anonymous(app);
        let page = s.sign_in(&name, PASSWORD).await;
        assert_eq!(page.status, 303, "sign-in as {name}: {}", page.body);
        s.name = name;
        s
    }

    /// Fills in and sends the sign-in form.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/web/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf().expect("sign-in csrf");
        self.post_raw(
            "/web/sign-in",
            &[
                ("csrf", csrf.as_str()),
                ("name", name),
                ("password", password),
                ("next", "/web/today"),
            ],
        )
        .await
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(
        &mut self,
        mut res: awc::ClientResponse<
            impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
                + Unpin,
        >,
    ) -> Page {
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().expect("cookie");
            let pair = v.split(';').next().expect("pair");
            let (k, val) = pair.split_once('=').expect("k=v");
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header("location");
        let content_type = header("content-type").unwrap_or_default();
        let bytes = res
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .expect("body")
            .to_vec();
        Page {
            status: res.status().as_u16(),
            location,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    /// GET a page.
    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .client
            .get(self.app.url(path))
            .insert_header(("cookie", self.cookie_header()))
            .send()
            .await
            .expect("request");
        self.read(res).await
    }

    /// HEAD a page: what GET would answer, without the body.
    pub async fn head(&mut self, path: &str) -> Page {
        let res = self
            .client
            .head(self.app.url(path))
            .insert_header(("cookie", self.cookie_header()))
            .send()
            .await
            .expect("request");
        self.read(res).await
    }

    /// POST a form exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let res = self
            .client
            .post(self.app.url(path))
            .insert_header(("cookie", self.cookie_header()))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .send_body(body)
            .await
            .expect("request");
        self.read(res).await
    }

    /// POST a body of `content_type` as it is (a multipart form, say).
    pub async fn post_body(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let res = self
            .client
            .post(self.app.url(path))
            .insert_header(("cookie", self.cookie_header()))
            .insert_header(("content-type", content_type.to_string()))
            .send_body(body)
            .await
            .expect("request");
        self.read(res).await
    }

    /// POST a form with the session's CSRF token (read from `from`, a page showing a form).
    pub async fn post(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(from).await;
        assert_eq!(page.status, 200, "GET {from}: {}", page.body);
        let csrf = page.csrf().expect("a form with a csrf field");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }
}

/// The Idempotency-Key a payment page put in its refund form.
pub fn refund_key(html: &str) -> String {
    let at = html
        .find("name=\"key\" value=\"")
        .expect("a refund form with its key")
        + "name=\"key\" value=\"".len();
    html[at..].split('"').next().unwrap_or("").to_string()
}

// One language per page: the checker `languages.rs` and `workspace.rs` share. A Chinese page
// fails on two English words in a row outside `<code>`, attributes, scripts and elements marked
// `lang="en"` or `translate="no"`; an English page on any CJK character outside elements
// marked `lang="zh-CN"` or `translate="no"`.

/// `html` without the elements whose opening tag matches `marked`, nesting of the same tag
/// name respected.
fn without_elements(html: &str, marked: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tail = &rest[lt..];
        let Some(gt) = tail.find('>') else {
            rest = "";
            break;
        };
        let tag = &tail[..=gt];
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !name.is_empty() && marked(tag) && !tag.ends_with("/>") {
            // Skip to the matching close tag.
            let (open, close) = (format!("<{name}"), format!("</{name}>"));
            let mut depth = 0usize;
            let mut at = 0usize;
            let body = tail;
            loop {
                let next_open = body[at..].find(&open).map(|i| i + at);
                let next_close = body[at..].find(&close).map(|i| i + at);
                match (next_open, next_close) {
                    (Some(o), Some(c)) if o < c => {
                        depth += 1;
                        at = o + open.len();
                    }
                    (_, Some(c)) => {
                        depth -= 1;
                        at = c + close.len();
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {
                        at = body.len();
                        break;
                    }
                }
            }
            rest = &tail[at..];
        } else {
            // A tag ends a run of words: neighbouring cells or items are not one sentence.
            out.push('\u{1}');
            rest = &tail[gt + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// The page's text a reader sees, less what is marked as the other language (`skip`).
fn visible_text(html: &str, skip_lang: &str) -> String {
    let marker = format!("lang=\"{skip_lang}\"");
    let body = html.split_once("<body").map_or(html, |(_, b)| b);
    without_elements(body, &|tag: &str| {
        tag.starts_with("<script")
            || tag.starts_with("<style")
            || tag.starts_with("<code")
            || tag.contains(&marker)
            // Records shown as written (ledger memos, audit changes) are data, not words.
            || tag.contains("translate=\"no\"")
    })
    .replace("&amp;", "&")
    .replace("&lt;", "<")
    .replace("&gt;", ">")
    .replace("&quot;", "\"")
    .replace("&#39;", "'")
    .replace("&nbsp;", " ")
}

/// Whether a token is an English word: letters, perhaps joined by hyphens or an apostrophe;
/// not an acronym of up to four capitals (`CSV`, `GBK`, `POS`).
fn english_word(token: &str) -> bool {
    let t = token.trim_matches(|c: char| ",.;:!?()[]\"“”'·/…".contains(c));
    let acronym = t.len() <= 4 && t.chars().all(|c| c.is_ascii_uppercase());
    !t.is_empty()
        && !acronym
        && t.chars().any(|c| c.is_ascii_alphabetic())
        && t.chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '\'')
        && !t.starts_with('-')
}

/// The first run of two English words in `text`, if any.
pub fn english_run(text: &str) -> Option<String> {
    // CJK characters and full-width punctuation separate words as spaces do.
    let spaced: String = text
        .chars()
        .map(|c| if has_cjk(&c.to_string()) { ' ' } else { c })
        .collect();
    spaced.split('\u{1}').find_map(|segment| {
        let tokens: Vec<&str> = segment.split_whitespace().collect();
        tokens
            .windows(2)
            .find(|w| english_word(w[0]) && english_word(w[1]))
            .map(|w| w.join(" "))
    })
}

/// The first CJK text in `text`, with a little context.
fn chinese_in(text: &str) -> Option<String> {
    let at = text
        .char_indices()
        .find(|(_, c)| has_cjk(&c.to_string()))?
        .0;
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(20)
        .map_or(0, |(i, _)| i);
    Some(text[start..].chars().take(40).collect())
}

/// What in `html` is of the other language than `lang` (`zh` or `en`), if anything.
pub fn other_language(html: &str, lang: &str) -> Option<String> {
    if lang == "zh" {
        english_run(&visible_text(html, "en"))
    } else {
        chinese_in(&visible_text(html, "zh-CN"))
    }
}
