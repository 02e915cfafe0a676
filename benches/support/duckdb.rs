//! The reconciliation benchmark's DuckDB baseline: the same one-key join the bench's own
//! baseline does, over the same synthetic day, run by DuckDB (`support/duckdb_join.py`) in a
//! Python virtual environment of its own (`python3 -m venv`, then `pip install duckdb`), made
//! once under the target directory. Anything missing (no python3, no venv module, the package
//! not installable) skips the baseline and says why; a baseline that runs but counts other
//! matches than the bench's own fails the bench.
//!
//! `ONECARD_BENCH_PYTHON` names a Python that already has `duckdb` (no venv is made then).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What DuckDB measured.
pub struct DuckDb {
    /// Best of the rounds, in seconds (the join only; loading the tables is not timed).
    pub seconds: f64,
    /// Payments whose line has the same amount (must equal the bench's own count).
    pub agree: u64,
    /// DuckDB's `threads` setting.
    pub threads: String,
    /// DuckDB's version.
    pub version: String,
}

/// Runs the DuckDB baseline on `payments` and `lines` (key, amount) rows, best of `rounds`;
/// `Err` says why it was skipped.
pub fn baseline<'a>(
    payments: impl Iterator<Item = (&'a str, i64)>,
    lines: impl Iterator<Item = (&'a str, i64)>,
    rounds: u32,
) -> Result<DuckDb, String> {
    let python = python()?;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let payments_csv = dir.path().join("payments.csv");
    let lines_csv = dir.path().join("lines.csv");
    write_csv(&payments_csv, payments)?;
    write_csv(&lines_csv, lines)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/support/duckdb_join.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&payments_csv)
        .arg(&lines_csv)
        .arg(rounds.to_string())
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        // It ran and failed: not a missing tool but a broken baseline.
        panic!(
            "DuckDB baseline failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.as_slice() {
        ["duckdb", seconds, agree, threads, version] => Ok(DuckDb {
            seconds: seconds
                .parse()
                .unwrap_or_else(|e| panic!("DuckDB seconds {seconds}: {e}")),
            agree: agree
                .parse()
                .unwrap_or_else(|e| panic!("DuckDB count {agree}: {e}")),
            threads: threads.to_string(),
            version: version.to_string(),
        }),
        _ => panic!("DuckDB baseline printed {text:?}"),
    }
}

fn write_csv<'a>(path: &Path, rows: impl Iterator<Item = (&'a str, i64)>) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    writeln!(w, "key,amount").map_err(fail)?;
    for (key, amount) in rows {
        // Keys are digits, letters and '-': nothing to quote.
        writeln!(w, "{key},{amount}").map_err(fail)?;
    }
    w.flush().map_err(fail)
}

/// A Python with `duckdb` importable: `ONECARD_BENCH_PYTHON`, or the bench's own venv (made
/// and filled now if it is not there yet).
fn python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ONECARD_BENCH_PYTHON") {
        let p = PathBuf::from(p);
        return if imports_duckdb(&p) {
            Ok(p)
        } else {
            Err(format!(
                "ONECARD_BENCH_PYTHON={} cannot import duckdb",
                p.display()
            ))
        };
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("duckdb-venv");
    let py = venv.join("bin").join("python");
    if !py.exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
    }
    if !imports_duckdb(&py) {
        run(
            Command::new(&py).args(["-m", "pip", "install", "--quiet", "duckdb"]),
            "pip install duckdb",
        )?;
    }
    if imports_duckdb(&py) {
        Ok(py)
    } else {
        Err("duckdb installed but not importable".into())
    }
}

fn imports_duckdb(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!("{what} failed ({}): {last}", out.status))
}
