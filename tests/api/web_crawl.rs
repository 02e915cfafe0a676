//! Walks every staff page each role can reach from the navigation and checks what must hold on
//! all of them, so a page added later is checked too: it answers 200 (never a 500), it has a
//! language and one heading, every POST form carries the CSRF token, every input has a label,
//! every table's CSV and XLSX links download a CSV and an XLSX workbook, `HEAD` answers as `GET` without the body, and the stylesheet's colours have enough contrast.

use std::collections::{BTreeSet, VecDeque};

use chrono::NaiveDate;
use onecard::auth::Role;

use crate::support::spawn_app;
use crate::web_support::WebSession;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Values of `attr="…"` in `tag`.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let key = format!(" {attr}=\"");
    let at = tag.find(&key)? + key.len();
    tag[at..].split('"').next()
}

/// The opening tags `<name …>` in `html`.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        let tail = &rest[at..];
        let next = tail.as_bytes().get(open.len()).copied();
        if matches!(next, Some(b' ' | b'>' | b'/')) {
            let end = tail.find('>').unwrap_or(tail.len());
            out.push(&tail[..end]);
        }
        rest = &tail[open.len()..];
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&").replace("&#38;", "&")
}

/// Checks one page; returns the links to follow and the CSV and XLSX links.
fn check_page(path: &str, html: &str) -> (Vec<String>, Vec<String>) {
    assert!(html.contains("<html lang=\""), "{path}: no language");
    assert_eq!(html.matches("<h1").count(), 1, "{path}: one h1");
    // Every POST form carries the session's CSRF token.
    for (i, form) in html.split("<form").skip(1).enumerate() {
        let head = &form[..form.find('>').unwrap_or(0)];
        if head.contains("method=\"post\"") {
            let body = &form[..form.find("</form>").unwrap_or(form.len())];
            assert!(
                body.contains("name=\"csrf\""),
                "{path}: POST form #{i} without csrf: {head}"
            );
        }
    }
    // Every control has a label (by `for`, or an aria-label).
    let labels: BTreeSet<&str> = tags(html, "label")
        .iter()
        .filter_map(|t| attr(t, "for"))
        .collect();
    for name in ["input", "select", "textarea"] {
        for tag in tags(html, name) {
            let kind = attr(tag, "type").unwrap_or("text");
            if matches!(kind, "hidden" | "submit" | "button") {
                continue;
            }
            let labelled = attr(tag, "id").is_some_and(|id| labels.contains(id))
                || attr(tag, "aria-label").is_some();
            assert!(labelled, "{path}: {tag}> has no label");
        }
    }
    for img in tags(html, "img") {
        assert!(attr(img, "alt").is_some(), "{path}: {img}> has no alt");
    }
    let mut links = Vec::new();
    let mut csv = Vec::new();
    for a in tags(html, "a") {
        let Some(href) = attr(a, "href").map(html_unescape) else {
            continue;
        };
        if !href.starts_with("/web/") {
            continue;
        }
        if href.contains("csv=") || href.contains("xlsx=") {
            csv.push(href);
        } else if !(href.starts_with("/web/lang")
            || href.starts_with("/web/static")
            || a.contains(" download"))
        {
            links.push(href);
        }
    }
    (links, csv)
}

#[actix_web::test]
async fn every_page_of_every_role_holds_the_basics() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    // A reconciled, closed and remitted day: detail pages, seals and files are on some page.
    app.worked_day(day, false).await;
    let today = onecard::clock::today();
    let waiting = app
        .capture_on(today, "ZR-BDC-02", "550.00", "000099", "000451234599")
        .await;
    // A refund waits for approval: the refunds page and the payment's page show its forms.
    let (status, _, asked) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{waiting}/refunds"),
            "crawl-refund",
            &serde_json::json!({"amount": "50.00", "reason": "charged twice"}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let mut pages = 0;
    for role in [
        Role::Finance,
        Role::Supervisor,
        Role::Auditor,
        Role::Clerk,
        Role::Admin,
    ] {
        let mut s = WebSession::signed_in(&app, role).await;
        // Both languages: every page must render in each.
        for lang in ["zh", "en"] {
            s.get(&format!("/web/lang?to={lang}&back=/web/today")).await;
            let mut seen = BTreeSet::new();
            let mut shapes = std::collections::HashMap::new();
            let mut queue: VecDeque<String> =
                VecDeque::from([format!("/web/today?date={day}"), "/web/today".to_string()]);
            let home = s.get("/web/today").await;
            // Start from every page in this role's navigation.
            let (nav, _) = if home.status == 200 {
                check_page("/web/today", &home.body)
            } else {
                (vec![], vec![])
            };
            queue.extend(nav);
            if home.status != 200 {
                // A role without the today page starts from the pages its navigation would show.
                queue = VecDeque::from(["/web/catalogue".to_string()]);
            }
            while let Some(path) = queue.pop_front() {
                // Detail pages of one kind differ only in their data: a few of each will do.
                let shape: String = path
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() && !c.is_ascii_lowercase() {
                            '#'
                        } else {
                            c
                        }
                    })
                    .collect();
                let of_shape = shapes.entry(shape).or_insert(0);
                if seen.contains(&path) || *of_shape >= 3 {
                    continue;
                }
                *of_shape += 1;
                seen.insert(path.clone());
                if seen.len() > 120 {
                    break;
                }
                let page = s.get(&path).await;
                match page.status {
                    200 if page.content_type.starts_with("text/html") => {}
                    200 => continue, // a download (a remittance file)
                    303 => continue, // e.g. a task page that has finished moving on
                    other => panic!("{role}: GET {path} → {other}: {}", page.body),
                }
                pages += 1;
                // HEAD is answered wherever GET is: the same status and type, no body.
                let head = s.head(&path).await;
                assert_eq!(head.status, 200, "{role}: HEAD {path}: {}", head.body);
                assert_eq!(head.content_type, page.content_type, "HEAD {path}");
                assert!(head.bytes.is_empty(), "HEAD {path} sent a body");
                let (links, csvs) = check_page(&path, &page.body);
                for href in csvs {
                    let csv = s.get(&href).await;
                    assert_eq!(csv.status, 200, "{role}: {href}: {}", csv.body);
                    if href.contains("xlsx=") {
                        assert_eq!(csv.content_type, XLSX, "{href}");
                        assert!(csv.bytes.starts_with(b"PK"), "{href}: a zip");
                    } else {
                        assert!(csv.content_type.starts_with("text/csv"), "{href}");
                        assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"), "{href}: BOM");
                    }
                    let head = s.head(&href).await;
                    assert_eq!((head.status, head.bytes.len()), (200, 0), "HEAD {href}");
                }
                queue.extend(links.into_iter().filter(|l| !seen.contains(l)));
            }
        }
    }
    eprintln!("the crawl checked {pages} pages");
    // Five roles, two languages, every kind of page each may see (212 when written).
    assert!(pages >= 150, "the crawl reached only {pages} pages");
}

/// WCAG relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("hex colour");
    let ch = |shift: u32| {
        let c = f64::from((v >> shift) & 0xff) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(16) + 0.7152 * ch(8) + 0.0722 * ch(0)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn the_stylesheet_colours_have_enough_contrast() {
    let css = include_str!("../../src/web/static/style.css");
    let var = |name: &str| -> String {
        let key = format!("--{name}: ");
        let at = css.find(&key).unwrap_or_else(|| panic!("--{name}")) + key.len();
        css[at..at + 7].to_string()
    };
    let paper = var("paper");
    for text in ["ink", "muted", "accent", "ok", "warn", "bad"] {
        let ratio = contrast(&var(text), &paper);
        assert!(ratio >= 4.5, "--{text} on paper: {ratio:.2}");
    }
    // Header text on the header band, table heads on the band colour, messages on their tints.
    for (fg, bg) in [
        ("#ffffff", "#12263f"),
        ("#d9e2ec", "#12263f"),
        ("#ffffff", "#1f3a5c"),
        (var("ink").as_str(), var("band").as_str()),
        (var("ink").as_str(), "#eaf4ec"),
        (var("ink").as_str(), "#fbeaea"),
        (var("ink").as_str(), "#fdf3e1"),
        ("#ffffff", var("accent").as_str()),
        ("#ffffff", var("bad").as_str()),
    ] {
        let ratio = contrast(fg, bg);
        assert!(ratio >= 4.5, "{fg} on {bg}: {ratio:.2}");
        assert!(css.contains(bg) || bg.len() == 7, "{bg}");
    }
}
