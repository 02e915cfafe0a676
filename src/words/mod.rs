//! The message catalogue: the two languages (zh-CN by default, English on request) and every
//! sentence the service says outside the pages' own labels — problem titles and details by
//! code, with named parameters, and the reconciliation's suggested actions by code — so a
//! problem, an exception or a report reads in one language end to end. Stored rows and API
//! documents carry the codes; the words are chosen when the answer is written.
//!
//! Each entry is declared with both languages in one line, so a missing translation does not
//! compile; the unit tests check that every problem code the service answers has an entry.
//! Pure: no actix, no diesel.
//!
//! May depend on: nothing inside the crate.

mod problems;
mod suggestions;

pub use problems::{problem, ProblemWords, PROBLEMS};
pub use suggestions::Suggestion;

/// The cookie that keeps the pages' chosen language.
pub const LANG_COOKIE: &str = "onecard_lang";

/// Declares a struct of labels with a Chinese and an English instance:
///
/// ```text
/// words! { pub struct TodayWords { title: "今日" / "Today", } }
/// ```
///
/// and `TodayWords::of(lang)`.
#[macro_export]
macro_rules! words {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($field:ident: $zh:literal / $en:literal,)* }) => {
        $(#[$m])*
        #[allow(missing_docs)]
        #[derive(Debug)]
        $vis struct $name { $(pub $field: &'static str,)* }
        impl $name {
            /// 简体中文.
            pub const ZH: $name = $name { $($field: $zh,)* };
            /// English.
            pub const EN: $name = $name { $($field: $en,)* };
            /// The labels in `lang`.
            pub fn of(lang: $crate::words::Lang) -> &'static $name {
                match lang {
                    $crate::words::Lang::Zh => &Self::ZH,
                    $crate::words::Lang::En => &Self::EN,
                }
            }
        }
    };
}

/// A language of the pages, the API's problems and the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// 简体中文 (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// From the pages' cookie value; anything else is Chinese.
    pub fn from_cookie(value: Option<&str>) -> Lang {
        match value {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// From an `Accept-Language` header (RFC 9110 §12.5.4): the acceptable language with the
    /// highest weight among those served (`zh`, `zh-CN`, `zh-Hans`… and `en`, `en-US`…), the
    /// earlier on a tie; zh-CN when the header is absent or names neither.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(u32, Lang)> = None;
        for item in header.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let lang = match tag.split('-').next() {
                Some("zh") => Lang::Zh,
                Some("en") => Lang::En,
                _ => continue,
            };
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .map(quality)
                .next()
                .unwrap_or(Some(1000));
            let Some(weight) = weight else { continue };
            if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::Zh, |(_, lang)| lang)
    }

    /// The BCP 47 tag: the pages' `lang` attribute, `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's own name, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    /// From a setting (`zh-CN`, `zh`, `en`…; see [`Lang::from_accept_language`]), or `None`.
    pub fn from_setting(value: &str) -> Option<Lang> {
        match value.trim().to_ascii_lowercase().split('-').next() {
            Some("zh") => Some(Lang::Zh),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }
}

/// A `q=` weight in thousandths (`None` when it does not parse).
fn quality(text: &str) -> Option<u32> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: u32 = format!("{frac:0<3}").parse().ok()?;
    match whole {
        "0" => Some(frac),
        "1" if frac == 0 => Some(1000),
        _ => None,
    }
}

/// One sentence in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Said {
    /// 简体中文.
    pub zh: &'static str,
    /// English.
    pub en: &'static str,
}

impl Said {
    /// The sentence in `lang`.
    pub fn of(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }
}

/// Fills a template's `{name}` parameters from `param`; a part in `[` `]` is left out whole
/// when a parameter in it has no value.
pub fn fill(template: &str, param: &dyn Fn(&str) -> Option<String>) -> String {
    fn part(text: &str, param: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map(|e| start + e)?;
            out.push_str(&param(&rest[start + 1..end])?);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('[') {
        out.push_str(&part(&rest[..start], param).unwrap_or_default());
        let end = rest[start..].find(']').map_or(rest.len(), |e| start + e);
        if let Some(filled) = part(&rest[start + 1..end], param) {
            out.push_str(&filled);
        }
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    out.push_str(&part(rest, param).unwrap_or_default());
    out
}

/// Whether `text` has a CJK ideograph (the tests' check that English has none).
pub fn has_cjk(text: &str) -> bool {
    text.chars().any(|c| {
        ('\u{3400}'..='\u{9fff}').contains(&c)
            || ('\u{3000}'..='\u{303f}').contains(&c)
            || ('\u{ff00}'..='\u{ffef}').contains(&c)
    })
}

#[cfg(test)]
mod tests;
