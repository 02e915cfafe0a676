//! Bank-file benchmark: writes a 1,000,000-line POS settlement file (GB18030, fixed width, one
//! detail in ten with a Chinese remark, one in fifty a void), then measures, each phase in its
//! own child process so its peak RSS is its own:
//!
//! - `lines`: reading the file line by line and doing nothing — the in-run baseline, the
//!   fastest any line-oriented reader can be on this machine;
//! - `parse`: the generic reader applying `bank-specs/pos-settlement-fixed-width.toml`, records
//!   handed to a counting sink (validation, decoding, control totals — everything but storage);
//! - `import-sqlite` / `import-postgres`: the full import as `onecard import` does it, one
//!   transaction into a fresh database (PostgreSQL: one transaction, rows by COPY; SQLite: a
//!   settlement file is staged in short transactions and published by one short commit);
//! - `counter` (issue 19 part 5): payments posted over loopback by 8 counters at a clerk's
//!   pace, first alone (the baseline) and then while the same file is imported through the
//!   same service: p50/p99/max of each and the ratio; any payment not answered 201 fails the
//!   run. `--no-counter` skips it.
//!
//! ```text
//! cargo bench --bench bankfiles                              # 1M lines, SQLite and PostgreSQL
//! cargo bench --bench bankfiles -- --lines 200000 --backend sqlite
//! cargo bench --bench bankfiles -- --write /tmp/POS_898440379930001_20261124.txt --lines 1000000
//! ```

#[path = "support/counter.rs"]
mod counter;
#[path = "support/mod.rs"]
mod support;

use support::{figure, Target};

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use onecard::bankfiles::store::{self, ImportRequest};
use onecard::bankfiles::{default_specs_dir, Registry};

const SPEC: &str = "pos-settlement-fixed-width";

/// Writes `lines` detail lines (plus header and trailer) of a POS settlement file for 24
/// November 2026: a deterministic mix of purchases, voids and amounts.
fn write_pos_file(path: &Path, lines: u64) -> std::io::Result<()> {
    let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
    let pad = |mut b: Vec<u8>, n: usize| {
        b.resize(n, b' ');
        b
    };
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"H89844037993000120261124")?;
    out.write_all(&pad(gb("市行政服务中心非税收费窗口"), 40))?;
    out.write_all(b"156000318\r\n")?;
    let remark = pad(gb("窗口03营业执照"), 20);
    let (mut purchases, mut reversals, mut net_total) = (0i64, 0i64, 0i64);
    for i in 0..lines {
        let amount = 1_000 + (i as i64 * 7_919) % 500_000;
        let fee = amount * 6 / 10_000;
        let void = i % 50 == 49;
        let (code, fee_sign, net_sign, net) = if void {
            reversals += amount;
            ("S002", '-', '-', -(amount - fee))
        } else {
            purchases += amount;
            ("S001", '+', '+', amount - fee)
        };
        net_total += net;
        let second = i % 86_400;
        write!(
            out,
            "D1124{:02}{:02}{:02}{:08}{:06}{:06}{:012}{:06}622848******{:04}   01{}{:012}{}{:010}{}{:012}",
            second / 3600,
            (second / 60) % 60,
            second % 60,
            11_002_001 + (i % 40),
            1 + i / 100_000,
            i % 100_000,
            450_000_000_000 + i,
            i % 1_000_000,
            i % 10_000,
            code,
            amount,
            fee_sign,
            fee,
            net_sign,
            net.abs()
        )?;
        if void {
            write!(out, "{:012}", 450_000_000_000 + i - 1)?;
        } else {
            out.write_all(b"            ")?;
        }
        if i % 10 == 0 {
            out.write_all(&remark)?;
        } else {
            out.write_all(&[b' '; 20])?;
        }
        out.write_all(b"\r\n")?;
    }
    write!(
        out,
        "T{:08}{:016}{:016}{}{:016}\r\n",
        lines,
        purchases,
        reversals,
        if net_total < 0 { '-' } else { '+' },
        net_total.abs()
    )?;
    out.flush()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn registry() -> Registry {
    Registry::load(&default_specs_dir()).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one phase in this process and prints `seconds records peak_rss_mb`.
fn phase(name: &str, file: &Path) {
    let started = Instant::now();
    let records: u64 = match name {
        "lines" => {
            let mut input = BufReader::with_capacity(
                256 * 1024,
                std::fs::File::open(file).unwrap_or_else(|e| panic!("{e}")),
            );
            let mut buf = Vec::with_capacity(256);
            let mut n = 0;
            while input.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
                n += 1;
                buf.clear();
            }
            n
        }
        "parse" => {
            let registry = registry();
            let reader = registry.get(SPEC).unwrap_or_else(|| panic!("no spec"));
            let mut input = BufReader::with_capacity(
                256 * 1024,
                std::fs::File::open(file).unwrap_or_else(|e| panic!("{e}")),
            );
            let mut n = 0u64;
            let mut checksum = 0i64;
            reader
                .read(None, &mut input, &mut |r| {
                    n += 1;
                    if let onecard::bankfiles::Record::Settlement(s) = r {
                        checksum = checksum.wrapping_add(s.net_minor);
                    }
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("parse: {e}"));
            std::hint::black_box(checksum);
            n
        }
        backend => {
            let backend = backend.trim_start_matches("import-");
            let db = support::fresh_db(backend, "files");
            let ctx = support::open(&db, 256);
            // Hash as the service does, streaming: the file is never in memory whole.
            let (sha256, _) = store::sha256_file(file).unwrap_or_else(|e| panic!("{e}"));
            let started_import = Instant::now();
            let mut input = BufReader::with_capacity(
                256 * 1024,
                std::fs::File::open(file).unwrap_or_else(|e| panic!("{e}")),
            );
            let mut conn = ctx.conn().unwrap_or_else(|e| panic!("{e}"));
            let imported = store::import(
                &mut conn,
                &ctx.bank_specs,
                &ImportRequest {
                    spec: SPEC,
                    file_name: file.file_name().and_then(|n| n.to_str()),
                    sha256: &sha256,
                    size_bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
                    actor: "bench",
                },
                &mut input,
                &mut |_| {},
            )
            .unwrap_or_else(|e| panic!("import: {e}"));
            println!(
                "{:.3} {} {:.1}",
                started_import.elapsed().as_secs_f64(),
                imported.records,
                peak_rss_mb()
            );
            return;
        }
    };
    println!(
        "{:.3} {} {:.1}",
        started.elapsed().as_secs_f64(),
        records,
        peak_rss_mb()
    );
}

fn run_child(phase: &str, file: &Path) -> Option<(f64, u64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["--phase", phase, "--file"])
        .arg(file)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{phase}: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let (Some(name), Some(file)) = (value("--phase"), value("--file")) {
        phase(&name, Path::new(&file));
        return;
    }
    let lines: u64 = value("--lines")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if let Some(target) = value("--write") {
        write_pos_file(Path::new(&target), lines).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("wrote {lines} detail lines to {target}");
        return;
    }
    let backends: Vec<String> = match value("--backend") {
        Some(b) => vec![b],
        None => vec!["sqlite".into(), "postgres".into()],
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file: PathBuf = dir.path().join("POS_898440379930001_20261124.txt");
    let t = Instant::now();
    write_pos_file(&file, lines).unwrap_or_else(|e| panic!("{e}"));
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "bankfiles: {lines} detail lines, {:.1} MiB, written in {:.2} s",
        size as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    let total_lines = lines + 2;
    let mut baseline = None;
    for p in ["lines", "parse"] {
        // Warm the page cache once, then measure three runs and keep the best.
        let runs: Vec<_> = (0..4).filter_map(|_| run_child(p, &file)).skip(1).collect();
        let Some(&(secs, records, rss)) = runs
            .iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|_| runs.len() == 3)
        else {
            eprintln!("FAILED: {p}");
            std::process::exit(1);
        };
        let rate = total_lines as f64 / secs;
        let ratio = match (p, baseline) {
            ("lines", _) => {
                baseline = Some(rate);
                String::from("baseline")
            }
            (_, Some(b)) => format!("{:.2}× the baseline's time", b / rate),
            _ => String::new(),
        };
        println!(
            "{p:>16}: {secs:.3} s  {rate:>12.0} lines/s  {records} records  peak RSS {rss:.1} MB  ({ratio})"
        );
        if let ("parse", Some(b)) = (p, baseline) {
            let what = format!("parse + validate {lines} POS lines");
            figure(
                "bank files",
                "-",
                &what,
                rate,
                "lines/s",
                Some(("reading the lines only", b)),
                Target::AtLeast(2_000_000.0),
            );
            let rss_what = format!("peak RSS, {what}");
            figure(
                "bank files",
                "-",
                &rss_what,
                rss,
                "MB",
                None,
                Target::AtMost(200.0),
            );
        }
    }
    let mut alone_import = std::collections::HashMap::new();
    for b in &backends {
        let phase = format!("import-{b}");
        match run_child(&phase, &file) {
            Some((secs, records, rss)) => {
                alone_import.insert(b.clone(), secs);
                println!(
                    "{phase:>16}: {secs:.3} s  {:>12.0} records/s  {records} records  peak RSS {rss:.1} MB  ({:.2}× the baseline's time)",
                    records as f64 / secs,
                    secs / (total_lines as f64 / baseline.unwrap_or(f64::NAN))
                );
                let what = format!("import {lines} POS lines, one file");
                figure(
                    "bank files",
                    b,
                    &what,
                    secs,
                    "s",
                    Some((
                        "reading the lines only",
                        total_lines as f64 / baseline.unwrap_or(f64::NAN),
                    )),
                    Target::AtMost(5.0 * lines as f64 / 1e6),
                );
                let rss_what = format!("peak RSS, {what}");
                figure(
                    "bank files",
                    b,
                    &rss_what,
                    rss,
                    "MB",
                    None,
                    Target::AtMost(200.0),
                );
            }
            None => {
                eprintln!("FAILED: {phase}");
                std::process::exit(1);
            }
        }
    }
    if args.iter().any(|a| a == "--no-counter") {
        return;
    }
    for b in &backends {
        let m = counter::measure(b, SPEC, &file, std::time::Duration::from_secs(4));
        m.print(&format!("counter-{b}"), "import");
        println!(
            "{:>16}: import under load {:.3} s, {} records ({:.2}× the import alone)",
            "",
            m.work_seconds,
            m.records,
            m.work_seconds / alone_import.get(b).copied().unwrap_or(f64::NAN)
        );
        figure(
            "bank files",
            b,
            &format!("counter p99 during a {lines}-line import"),
            m.during.pct(0.99),
            "ms",
            Some(("the counter's p99 alone", m.alone.pct(0.99))),
            Target::AtMost(100.0),
        );
    }
}
