//! Tests over files: the golden fixtures of every spec and every real sample.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::records::{ReadError, Record};
use super::{default_specs_dir, Registry};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
fn samples() -> PathBuf {
    super::real_samples_dir()
}

fn registry() -> Registry {
    Registry::load(&default_specs_dir()).unwrap()
}

fn read_path(
    registry: &Registry,
    spec: &str,
    path: &Path,
) -> (Result<super::FileFacts, ReadError>, Vec<Record>) {
    let reader = registry
        .get(spec)
        .unwrap_or_else(|| panic!("no spec {spec}"));
    let file = std::fs::File::open(path).unwrap();
    let mut input = BufReader::new(file);
    let name = path.file_name().and_then(|n| n.to_str());
    let mut out = Vec::new();
    let res = reader.read(name, &mut input, &mut |r| {
        out.push(r);
        Ok(())
    });
    (res, out)
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.retain(|p| {
        let n = p.to_string_lossy();
        !n.ends_with(".expected.json") && !n.ends_with(".expected-error.txt")
    });
    files.sort();
    files
}

/// `fixtures/<spec>/ok/*` read exactly as their `.expected.json`; `fixtures/<spec>/bad/*` are
/// refused with exactly their `.expected-error.txt`. Every spec the service knows has both.
#[test]
fn golden_fixtures_of_every_spec() {
    let registry = registry();
    let mut failures = Vec::new();
    let mut checked = 0;
    for info in registry.list() {
        if info.id == "camt.052" {
            continue; // covered by the real samples below
        }
        let base = Path::new(FIXTURES).join(&info.id);
        let ok = inputs(&base.join("ok"));
        let bad = inputs(&base.join("bad"));
        assert!(
            !ok.is_empty(),
            "{}: no fixtures/{}/ok inputs",
            info.id,
            info.id
        );
        assert!(
            !bad.is_empty(),
            "{}: no fixtures/{}/bad inputs",
            info.id,
            info.id
        );
        for path in ok {
            let (res, records) = read_path(&registry, &info.id, &path);
            let name = path.display().to_string();
            match res {
                Err(e) => failures.push(format!("{name}: refused: {e}")),
                Ok(_) => {
                    let got = serde_json::to_string_pretty(&records).unwrap() + "\n";
                    let want = std::fs::read_to_string(format!("{name}.expected.json"))
                        .unwrap_or_default();
                    if got != want {
                        failures.push(format!(
                            "{name}: records differ from .expected.json:\n{got}"
                        ));
                    }
                }
            }
            checked += 1;
        }
        for path in bad {
            let (res, _) = read_path(&registry, &info.id, &path);
            let name = path.display().to_string();
            let expected = format!("{name}.expected-error.txt");
            match res {
                Ok(_) => failures.push(format!("{name}: accepted, must be refused")),
                Err(e) => {
                    let got = format!("{e}\n");
                    match std::fs::read_to_string(&expected) {
                        Ok(want) if want == got => {}
                        Ok(want) => {
                            failures.push(format!("{name}: refused with\n  {got}  not\n  {want}"))
                        }
                        Err(_) => {
                            if std::env::var_os("ONECARD_BLESS").is_some() {
                                std::fs::write(&expected, &got).unwrap();
                            }
                            failures.push(format!(
                                "{name}: no .expected-error.txt; refused with {got}"
                            ));
                        }
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 40, "only {checked} fixtures");
}

/// Every camt.052/053/054 and MT940 file in the shared real samples — including any added
/// later — parses with its totals and balances agreeing, unless `fixtures/real-samples/
/// refusals.tsv` lists it as genuinely broken; then it is refused at exactly the listed line.
#[test]
fn every_real_sample_parses_or_is_a_listed_refusal() {
    let registry = registry();
    let table =
        std::fs::read_to_string(Path::new(FIXTURES).join("real-samples/refusals.tsv")).unwrap();
    let refusals: Vec<(String, u64)> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let file = cols.next().unwrap().to_string();
            let line = cols.next().unwrap().parse().unwrap();
            assert!(
                cols.next().is_some_and(|why| !why.is_empty()),
                "{file}: say why"
            );
            (file, line)
        })
        .collect();
    let mut failures = Vec::new();
    let mut seen = 0;
    for (folder, spec) in [
        ("camt052", "camt.052"),
        ("camt053", "camt.053"),
        ("camt054", "camt.054"),
        ("mt940", "mt940"),
    ] {
        for path in inputs(&samples().join(folder)) {
            seen += 1;
            let key = format!("{folder}/{}", path.file_name().unwrap().to_string_lossy());
            let (res, records) = read_path(&registry, spec, &path);
            let listed = refusals.iter().find(|(f, _)| *f == key).map(|(_, l)| *l);
            match (res, listed) {
                (Ok(facts), None) => {
                    let bookings = records
                        .iter()
                        .filter(|r| matches!(r, Record::Booking(_)))
                        .count() as u64;
                    let statements = records
                        .iter()
                        .filter(|r| matches!(r, Record::Statement(_)))
                        .count();
                    if bookings != facts.items || statements == 0 {
                        failures.push(format!(
                            "{key}: {bookings} bookings for {} items, {statements} statements",
                            facts.items
                        ));
                    }
                }
                (Ok(_), Some(line)) => failures.push(format!(
                    "{key}: listed as refused at line {line}, but parses"
                )),
                (Err(e), None) => failures.push(format!("{key}: refused but not listed: {e}")),
                (Err(ReadError::Corrupt { line, .. }), Some(want)) if line == want => {}
                (Err(e), Some(want)) => {
                    failures.push(format!("{key}: refused with '{e}', listed at line {want}"))
                }
            }
        }
    }
    for (file, _) in &refusals {
        if !samples().join(file).exists() {
            failures.push(format!("refusals.tsv lists {file}, which is not a sample"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        seen >= 30,
        "only {seen} samples found under {} (set ONECARD_REAL_SAMPLES to the shared real-samples folder)",
        samples().display()
    );
}

/// The three interface descriptions' own examples, read through their specs.
#[test]
fn bank_doc_examples_read_as_documented() {
    let registry = registry();
    let pos =
        Path::new(FIXTURES).join("pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt");
    let (res, records) = read_path(&registry, "pos-settlement-fixed-width", &pos);
    let facts = res.unwrap();
    assert_eq!(
        facts.values.get("merchant_name").map(String::as_str),
        Some("市行政服务中心非税收费窗口")
    );
    match &records[0] {
        Record::Settlement(s) => {
            // "A 200.00 yuan purchase at 09:30:15 on 24 November, fee 0.12, net 199.88."
            assert_eq!(
                (s.gross_minor, s.fee_minor, s.net_minor),
                (20_000, 12, 19_988)
            );
            assert_eq!(s.txn_time.to_string(), "2026-11-24 09:30:15");
            assert_eq!(s.masked_card.as_deref(), Some("622848******0123"));
        }
        other => panic!("{other:?}"),
    }
    let total_net: i64 = records
        .iter()
        .map(|r| match r {
            Record::Settlement(s) => s.net_minor,
            _ => 0,
        })
        .sum();
    assert_eq!(total_net, 19_988 + 54_967 - 54_967 - 7_995 - 150);
}

#[test]
fn unknown_file_names_pick_no_spec_and_known_ones_theirs() {
    let registry = registry();
    assert_eq!(
        registry.for_file_name("POS_898440379930001_20261124.txt"),
        Some("pos-settlement-fixed-width")
    );
    assert_eq!(
        registry.for_file_name("YKT_310000000000021_20261124.csv"),
        Some("onecard-settlement-csv")
    );
    assert_eq!(
        registry.for_file_name("33050161234500001234_20261125_20261125.csv"),
        Some("collection-account-statement-csv")
    );
    assert_eq!(
        registry.for_file_name("bank_camt.053_20261125.xml"),
        Some("camt.053")
    );
    assert_eq!(registry.for_file_name("statement.sta"), Some("mt940"));
    assert_eq!(registry.for_file_name("notes.txt"), None);
    let ids: Vec<String> = registry.list().into_iter().map(|s| s.id).collect();
    for id in super::PROMISED_SPEC_IDS {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
}

#[test]
fn a_sink_that_stops_ends_the_read() {
    let registry = registry();
    let pos =
        Path::new(FIXTURES).join("pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt");
    let reader = registry.get("pos-settlement-fixed-width").unwrap();
    let mut input = BufReader::new(std::fs::File::open(pos).unwrap());
    let mut n = 0;
    let res = reader.read(None, &mut input, &mut |_| {
        n += 1;
        Err(ReadError::Stopped)
    });
    assert!(matches!(res, Err(ReadError::Stopped)));
    assert_eq!(n, 1);
}

/// Every input the fuzzers found a problem with (`tests/fuzz/regressions/<target>/*`), and
/// every committed fixture of every spec, goes through every reader — without a file name and
/// with one that fits each spec's pattern — and is read or refused without a panic.
#[test]
fn fuzz_regressions_are_refused_without_panic() {
    const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/regressions");
    const NAMES: &[(&str, &str)] = &[
        (
            "pos-settlement-fixed-width",
            "POS_898440379930001_20261124.txt",
        ),
        ("onecard-settlement-csv", "YKT_310000000000021_20261124.csv"),
        (
            "collection-account-statement-csv",
            "33050161234500001234_20261125_20261125.csv",
        ),
    ];
    let registry = registry();
    let specs: Vec<String> = registry.list().into_iter().map(|s| s.id).collect();
    let mut files = Vec::new();
    if let Ok(targets) = std::fs::read_dir(REGRESSIONS) {
        for target in targets {
            let target = target.unwrap().path();
            if target.is_dir() {
                files.extend(inputs(&target).into_iter().filter(|p| p.is_file()));
            }
        }
    }
    let regressions = files.len();
    for spec in &specs {
        let base = Path::new(FIXTURES).join(spec);
        files.extend(inputs(&base.join("ok")));
        files.extend(inputs(&base.join("bad")));
    }
    assert!(
        files.len() - regressions >= 40,
        "only {} fixtures",
        files.len() - regressions
    );
    let mut panics = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        for spec in &specs {
            let fitting = NAMES.iter().find(|(s, _)| s == spec).map(|(_, n)| *n);
            let names = match fitting {
                Some(n) => vec![None, Some(n)],
                None => vec![None],
            };
            for name in names {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _ = registry.check(spec, name, &data);
                }));
                if outcome.is_err() {
                    panics.push(format!("{} as {spec} ({name:?})", path.display()));
                }
            }
        }
    }
    assert!(
        panics.is_empty(),
        "readers panicked on:\n{}",
        panics.join("\n")
    );
}

/// A file without line breaks is refused at its first line, without being held whole.
#[test]
fn endless_lines_are_refused() {
    let registry = registry();
    let mut pos = b"H898440379930001".to_vec();
    pos.resize(3 << 20, b'0');
    match registry.check("pos-settlement-fixed-width", None, &pos) {
        Err(ReadError::Corrupt {
            line: 1,
            byte: Some(143),
            message,
        }) => {
            assert!(message.contains("longer than any record"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let mut csv = "\u{feff}清算日期,".as_bytes().to_vec();
    csv.resize(3 << 20, b'9');
    match registry.check("onecard-settlement-csv", None, &csv) {
        Err(ReadError::Corrupt {
            line: 1, message, ..
        }) => {
            assert!(message.contains("longer than"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
