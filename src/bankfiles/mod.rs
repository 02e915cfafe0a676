//! Bank files: the acquirers' settlement detail and the collection account's statements.
//!
//! - [`records`]: the canonical records every reader produces (pure types).
//! - [`spec`] and [`generic`]: declarative bank specs (`bank-specs/*.toml`) and the one reader
//!   that applies any of them — adding a bank is a spec plus fixtures, no Rust.
//! - [`camt`] and [`mt940`]: built-in readers for ISO 20022 camt.052/053/054 and SWIFT MT940.
//! - [`decode`]: strict GB18030 / UTF-8 decoding with positions.
//! - [`store`]: all-or-nothing import into the database.
//!
//! Readers take a `BufRead` and a sink, never the whole file, and refuse a file with the line
//! (and byte, where it applies) of its first problem. They know nothing of HTTP or diesel.
//!
//! Depends on: `money` (readers), `text` (the closed sets); `db`, `audit` ([`store`] only).

pub mod camt;
pub mod decode;
pub mod generic;
pub mod mt940;
pub mod records;
pub mod spec;
pub mod store;
pub mod stored;
#[cfg(test)]
mod tests;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use generic::FileFacts;
pub use records::{ReadError, Record, Sink};
pub use spec::{CompiledSpec, Produces, SpecError};

/// The ids of the built-in readers (fixed: operators' scripts rely on them).
pub const BUILT_IN: &[&str] = &["camt.052", "camt.053", "camt.054", "mt940"];

/// The spec ids API.md promises `GET /v1/settlement-specs` lists (the three documents in
/// `bank-docs/` and the built-in readers).
pub const PROMISED_SPEC_IDS: &[&str] = &[
    "pos-settlement-fixed-width",
    "onecard-settlement-csv",
    "collection-account-statement-csv",
    "camt.053",
    "camt.054",
    "mt940",
];

/// How a file of one spec id is read.
#[derive(Debug, Clone)]
pub enum Reader {
    /// A declarative spec from `bank-specs/`.
    Spec(Arc<CompiledSpec>),
    /// The ISO 20022 reader, expecting this message.
    Camt(camt::CamtMessage),
    /// The SWIFT MT940 reader.
    Mt940,
}

impl Reader {
    /// Settlement detail or statement.
    pub fn produces(&self) -> Produces {
        match self {
            Reader::Spec(s) => s.produces,
            Reader::Camt(_) | Reader::Mt940 => Produces::Statement,
        }
    }

    /// Reads `input`, handing each record to `sink`.
    pub fn read(
        &self,
        file_name: Option<&str>,
        input: &mut dyn BufRead,
        sink: &mut Sink<'_>,
    ) -> Result<FileFacts, ReadError> {
        match self {
            Reader::Spec(spec) => generic::read_with_spec(spec, file_name, input, sink),
            Reader::Camt(message) => {
                let doc = camt::read_camt(input, *message, sink)?;
                let mut facts = FileFacts {
                    items: doc.entries,
                    ..FileFacts::default()
                };
                facts.values.insert("version".into(), doc.version);
                facts
                    .values
                    .insert("statements".into(), doc.statements.to_string());
                Ok(facts)
            }
            Reader::Mt940 => {
                let doc = mt940::read_mt940(input, sink)?;
                let mut facts = FileFacts {
                    items: doc.entries,
                    ..FileFacts::default()
                };
                facts
                    .values
                    .insert("statements".into(), doc.statements.to_string());
                Ok(facts)
            }
        }
    }
}

/// One entry of `GET /v1/settlement-specs`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpecInfo {
    /// The id to pass as `?spec=`.
    pub id: String,
    /// What it reads.
    pub title: String,
    /// `settlement` or `statement`.
    pub produces: &'static str,
    /// `declarative` (a file in `bank-specs/`) or `built_in`.
    pub source: &'static str,
    /// The file-name pattern the inbox recognises, if any.
    pub file_name: Option<String>,
}

/// Every spec the service knows.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<(String, Reader)>,
}

/// The folder of declarative specs: `ONECARD_BANK_SPECS`, else `./bank-specs` when it exists,
/// else the one in the source tree this binary was built from.
pub fn default_specs_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("ONECARD_BANK_SPECS") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("bank-specs");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/bank-specs"))
}

/// Where the shared real sample files are (ISO 20022, MT940, BAI2 from public projects), for
/// tests and tools: `ONECARD_REAL_SAMPLES`, else `../shared/real-samples` beside the source tree.
pub fn real_samples_dir() -> PathBuf {
    match std::env::var_os("ONECARD_REAL_SAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/real-samples"
        )),
    }
}

impl Registry {
    /// Loads every `*.toml` in `dir` (sorted by name) and adds the built-in readers. A spec
    /// that cannot be used stops the start, naming the file.
    pub fn load(dir: &Path) -> Result<Registry, SpecError> {
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect(),
            Err(e) => {
                return Err(SpecError {
                    file: dir.display().to_string(),
                    message: format!("cannot read the bank-specs folder: {e}"),
                })
            }
        };
        paths.sort();
        let mut entries: Vec<(String, Reader)> = Vec::new();
        for path in paths {
            let spec = CompiledSpec::load(&path)?;
            if entries.iter().any(|(id, _)| *id == spec.id) || BUILT_IN.contains(&spec.id.as_str())
            {
                return Err(SpecError {
                    file: path.display().to_string(),
                    message: format!("spec id '{}' is already taken", spec.id),
                });
            }
            entries.push((spec.id.clone(), Reader::Spec(Arc::new(spec))));
        }
        for m in [
            camt::CamtMessage::Camt052,
            camt::CamtMessage::Camt053,
            camt::CamtMessage::Camt054,
        ] {
            entries.push((m.to_string(), Reader::Camt(m)));
        }
        entries.push(("mt940".into(), Reader::Mt940));
        Ok(Registry { entries })
    }

    /// The reader for a spec id.
    pub fn get(&self, id: &str) -> Option<&Reader> {
        self.entries.iter().find(|(i, _)| i == id).map(|(_, r)| r)
    }

    /// Reads `data` by `spec` without storing anything: the number of records, or why the file
    /// is refused. (A dry run; also what the fuzz targets drive.)
    pub fn check(
        &self,
        spec: &str,
        file_name: Option<&str>,
        data: &[u8],
    ) -> Result<u64, ReadError> {
        let reader = self
            .get(spec)
            .ok_or_else(|| ReadError::corrupt(1, None, format!("no spec '{spec}'")))?;
        let mut records = 0u64;
        let mut input = data;
        reader.read(file_name, &mut input, &mut |_| {
            records += 1;
            Ok(())
        })?;
        Ok(records)
    }

    /// What `GET /v1/settlement-specs` lists.
    pub fn list(&self) -> Vec<SpecInfo> {
        self.entries
            .iter()
            .map(|(id, reader)| match reader {
                Reader::Spec(s) => SpecInfo {
                    id: id.clone(),
                    title: s.title.clone(),
                    produces: s.produces.into(),
                    source: "declarative",
                    file_name: s.file_name_pattern.clone(),
                },
                Reader::Camt(m) => SpecInfo {
                    id: id.clone(),
                    title: format!("ISO 20022 {id} (versions .02, .04, .08)"),
                    produces: Produces::Statement.into(),
                    source: "built_in",
                    file_name: Some(match m {
                        camt::CamtMessage::Camt052 => "*camt.052*.xml".into(),
                        camt::CamtMessage::Camt053 => "*camt.053*.xml".into(),
                        camt::CamtMessage::Camt054 => "*camt.054*.xml".into(),
                    }),
                },
                Reader::Mt940 => SpecInfo {
                    id: id.clone(),
                    title: "SWIFT MT940 customer statement".into(),
                    produces: Produces::Statement.into(),
                    source: "built_in",
                    file_name: Some("*.sta".into()),
                },
            })
            .collect()
    }

    /// The spec whose file-name pattern fits `name` (declarative specs first).
    pub fn for_file_name(&self, name: &str) -> Option<&str> {
        // The pattern with the most literal text wins: `YKT_{m}_{d}.csv` over `{a}_{f}_{t}.csv`.
        let best = self
            .entries
            .iter()
            .filter_map(|(id, reader)| match reader {
                Reader::Spec(s) if s.match_file_name(name).is_some() => Some((s.literal_len(), id)),
                _ => None,
            })
            .max_by_key(|(len, _)| *len);
        if let Some((_, id)) = best {
            return Some(id);
        }
        let lower = name.to_ascii_lowercase();
        for (marker, id) in [
            ("camt.052", "camt.052"),
            ("camt052", "camt.052"),
            ("camt.053", "camt.053"),
            ("camt053", "camt.053"),
            ("camt.054", "camt.054"),
            ("camt054", "camt.054"),
        ] {
            if lower.contains(marker) && lower.ends_with(".xml") {
                return Some(id);
            }
        }
        if lower.ends_with(".sta") || lower.ends_with(".mt940") {
            return Some("mt940");
        }
        None
    }
}
