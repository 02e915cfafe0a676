//! Tests of spec loading and compilation.

use super::*;

const MINIMAL: &str = r#"
id = "x-bank"
title = "X"
produces = "settlement"
encoding = "gb18030"
layout = "fixed"
constants = { currency = "CNY", merchant = "1", terminal = "T" }
[[records]]
kind = "header"
role = "context"
prefix = "H"
length = 9
fields = [{ name = "settlement_date", at = 2, len = 8, type = "date", format = "%Y%m%d" }]
[[records]]
kind = "detail"
role = "item"
repeat = "many"
prefix = "D"
length = 40
fields = [
  { name = "txn_time", at = 2, len = 10, type = "datetime", format = "%m%d%H%M%S", year_from = "settlement_date" },
  { name = "kind", at = 12, len = 4, type = "code", map = { S001 = "purchase" } },
  { name = "gross", at = 16, len = 8, type = "amount", unit = "fen" },
  { name = "fee", at = 24, len = 8, type = "amount", unit = "fen" },
  { name = "net", at = 32, len = 8, type = "amount", unit = "fen" },
]
"#;

fn err(text: &str) -> String {
    CompiledSpec::parse("x.toml", text).unwrap_err().to_string()
}

#[test]
fn the_shipped_specs_compile() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bank-specs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        CompiledSpec::load(&path).unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    assert_eq!(n, 3);
    CompiledSpec::parse("x.toml", MINIMAL).unwrap();
}

#[test]
fn mistakes_in_a_spec_are_named_when_it_is_loaded() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "encoding = \"gb18030\"",
            "encoding = \"latin1\"",
            "encoding 'latin1'",
        ),
        (
            "length = 40",
            "length = 30",
            "field 'fee' ends at 31, beyond the record's 30",
        ),
        (
            "map = { S001 = \"purchase\" }",
            "map = { S001 = \"sale\" }",
            "maps to 'sale'",
        ),
        (", year_from = \"settlement_date\"", "", "needs 'year_from'"),
        (
            "unit = \"fen\" },\n  { name = \"fee\"",
            "},\n  { name = \"fee\"",
            "amounts need 'unit'",
        ),
        (
            "role = \"item\"",
            "role = \"context\"",
            "no record kind has role = \"item\"",
        ),
        (
            "format = \"%Y%m%d\"",
            "format = \"%Y%q\"",
            "only %Y %m %d %H %M %S",
        ),
        ("merchant = \"1\", ", "", "nothing gives 'merchant'"),
        (
            "produces = \"settlement\"",
            "produces = \"payments\"",
            "unknown variant",
        ),
        (
            "title = \"X\"",
            "title = \"X\"\ncolour = \"red\"",
            "unknown field",
        ),
        (
            "prefix = \"H\"",
            "",
            "only the item kind may go without prefix",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(MINIMAL.contains(from), "{from}");
        let message = err(&MINIMAL.replacen(from, to, 1));
        assert!(message.starts_with("bank spec x.toml: "), "{message}");
        assert!(message.contains(expected), "{from} → {message}");
    }
}

#[test]
fn file_names_give_their_captures() {
    let spec = CompiledSpec::parse(
        "x.toml",
        &MINIMAL.replace(
            "layout = \"fixed\"",
            "layout = \"fixed\"\nfile_name = \"POS_{m}_{d}.txt\"",
        ),
    )
    .unwrap();
    assert_eq!(
        spec.match_file_name("POS_8984_20261124.txt"),
        Some(vec![
            ("m".into(), "8984".into()),
            ("d".into(), "20261124".into())
        ])
    );
    assert_eq!(spec.match_file_name("POS__20261124.txt"), None);
    assert_eq!(spec.match_file_name("YKT_1_2.csv"), None);
    assert_eq!(spec.match_file_name("POS_1_2.txt.bak"), None);
}
