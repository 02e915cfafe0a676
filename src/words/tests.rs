use super::*;

#[test]
fn accept_language_picks_the_best_served_language() {
    let of = |h: &str| Lang::from_accept_language(Some(h));
    assert_eq!(Lang::from_accept_language(None), Lang::Zh);
    assert_eq!(of(""), Lang::Zh);
    assert_eq!(of("en"), Lang::En);
    assert_eq!(of("en-US"), Lang::En);
    assert_eq!(of("EN-us"), Lang::En);
    assert_eq!(of("zh"), Lang::Zh);
    assert_eq!(of("zh-CN"), Lang::Zh);
    assert_eq!(of("zh-Hans"), Lang::Zh);
    assert_eq!(of("fr"), Lang::Zh);
    assert_eq!(of("de, en;q=0.5"), Lang::En);
    assert_eq!(of("zh-CN;q=0.4, en;q=0.8"), Lang::En);
    assert_eq!(of("en;q=0.8, zh-CN"), Lang::Zh);
    assert_eq!(of("en;q=0, fr"), Lang::Zh);
    assert_eq!(of("en;q=0.5, zh;q=0.5"), Lang::En);
    assert_eq!(of("en;q=2"), Lang::Zh);
    assert_eq!(of("*"), Lang::Zh);
}

#[test]
fn templates_fill_their_parameters_and_leave_out_parts_without_them() {
    let param = |name: &str| (name == "field").then(|| "amount".to_string());
    assert_eq!(fill("字段[：{field}]。", &param), "字段：amount。");
    assert_eq!(fill("行[：{line}]。", &param), "行。");
    assert_eq!(fill("{field}[{line}]{field}", &param), "amountamount");
    assert_eq!(fill("无参数", &param), "无参数");
}

fn chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_problem_reads_in_both_languages() {
    let mut seen = std::collections::BTreeSet::new();
    for p in PROBLEMS {
        assert!(seen.insert(p.code), "{} twice", p.code);
        assert!(chinese(p.title.zh), "{}", p.code);
        assert!(chinese(p.detail_zh), "{}", p.code);
        assert!(!has_cjk(p.title.en), "{}", p.code);
        assert!(
            p.detail_zh.matches('[').count() == p.detail_zh.matches(']').count(),
            "{}",
            p.code
        );
    }
}

#[test]
fn every_suggestion_reads_in_both_languages_and_maps_its_stored_sentence() {
    let mut codes = std::collections::BTreeSet::new();
    for s in Suggestion::ALL {
        assert!(codes.insert(s.code()), "{} twice", s.code());
        assert!(chinese(s.text(Lang::Zh)), "{}", s.code());
        assert!(!has_cjk(s.text(Lang::En)), "{}", s.code());
        assert_eq!(Suggestion::parse(s.code()), Some(*s));
        assert_eq!(Suggestion::from_stored(s.stored_sentence()), Some(*s));
    }
}

/// Every code the source answers a problem with (`StatusCode::…, "code"`, and the first
/// argument of the modules' `conflict(…)` / `unprocessable(…)` helpers) has its words.
#[test]
fn every_problem_code_in_the_source_has_its_words() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = std::collections::BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for (i, _) in squeezed.match_indices("StatusCode::") {
            let rest = &squeezed[i + "StatusCode::".len()..];
            let after = rest.trim_start_matches(|c: char| c.is_ascii_uppercase() || c == '_');
            if let Some(code) = after.strip_prefix(", \"").and_then(|r| r.split('"').next()) {
                found.insert(code.to_string());
            }
        }
        for helper in ["conflict(\"", "unprocessable(\""] {
            for (i, _) in squeezed.match_indices(helper) {
                let rest = &squeezed[i + helper.len()..];
                if let Some(code) = rest.split('"').next() {
                    found.insert(code.to_string());
                }
            }
        }
    }
    found.retain(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && !c.is_empty());
    assert!(found.len() > 40, "{found:?}");
    let missing: Vec<_> = found.iter().filter(|c| problem(c).is_none()).collect();
    assert!(missing.is_empty(), "no words for {missing:?}");
}
