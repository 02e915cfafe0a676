//! Settings, from the environment (and command-line flags that override it). The defaults serve
//! the embedded case: SQLite under `./data`, listening on loopback.
//!
//! May depend on: `db`.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::db::DbTarget;

/// The database used when neither `--database` nor `ONECARD_DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/onecard.db";
/// Where `serve` listens by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The receipt series used when none is configured.
pub const DEFAULT_RECEIPT_SERIES: &str = "44030126";
/// Connections in the pool of long reads when `ONECARD_READ_POOL_SIZE` is not set.
pub const DEFAULT_READ_POOL_SIZE: u32 = 2;
/// Largest JSON request body, in bytes.
pub const DEFAULT_JSON_LIMIT_BYTES: usize = 256 * 1024;
/// Largest settlement-file upload, in bytes (256 MiB).
pub const DEFAULT_UPLOAD_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URL as given (may hold a password: print it only through `db::redact`).
    pub database_url: String,
    /// The parsed target.
    pub database: DbTarget,
    /// Folder for key files and other local state.
    pub data_dir: PathBuf,
    /// Folder of the service's key files.
    pub key_dir: PathBuf,
    /// Largest JSON request body.
    pub json_limit_bytes: usize,
    /// Connections in the request pool.
    pub pool_size: u32,
    /// Connections in the pool of long reads (verify, reports, exports:
    /// `ONECARD_READ_POOL_SIZE`, default 2), apart from the request pool so that those reads
    /// never take the connections sign-in and the counter need.
    pub read_pool_size: u32,
    /// Most jobs per ledger transaction (1 = one transaction per entry).
    pub max_batch: usize,
    /// Receipt series (票据代码, 8 digits) new payments take numbers from.
    pub receipt_series: String,
    /// Largest settlement-file upload (streamed to disk, never held in memory).
    pub upload_limit_bytes: u64,
    /// Folder of declarative bank specs.
    pub bank_specs_dir: PathBuf,
    /// Asia/Shanghai time at which `serve` runs the nightly job (`ONECARD_NIGHTLY_AT`, `HH:MM`);
    /// none: only `onecard nightly` (cron) runs it.
    pub nightly_at: Option<chrono::NaiveTime>,
    /// Folder holding `inbox/`, `archive/`, `rejected/`, `reports/` (`ONECARD_NIGHTLY_DIR`,
    /// default the data directory).
    pub nightly_dir: PathBuf,
    /// Asia/Shanghai time from which a payment belongs to the next business day, if any.
    pub business_day_cutoff: Option<chrono::NaiveTime>,
    /// The collecting centre as named in remittance files (`ONECARD_CENTRE_NAME`).
    pub centre_name: String,
    /// Its non-tax collection account number (`ONECARD_COLLECTION_ACCOUNT`).
    pub collection_account: String,
    /// The treasury as named in remittance files (`ONECARD_TREASURY_NAME`).
    pub treasury_name: String,
    /// The treasury's account number (`ONECARD_TREASURY_ACCOUNT`).
    pub treasury_account: String,
    /// Requests a token may make a minute, sustained (`ONECARD_RATE_LIMIT_PER_MINUTE`, default
    /// 6000; 0 disables); above it 429 `rate_limited`.
    pub rate_limit_per_minute: u32,
    /// Requests a token may make at once (`ONECARD_RATE_LIMIT_BURST`, default 200).
    pub rate_limit_burst: u32,
    /// Seconds a client has to send its request head, and that a body may stall between
    /// chunks (`ONECARD_REQUEST_TIMEOUT_SECS`, default 10); then 408.
    pub request_timeout_secs: u64,
    /// Open connections per HTTP worker (`ONECARD_MAX_CONNECTIONS`, default 1024); further
    /// connections wait in the listen queue.
    pub max_connections: usize,
    /// Calendar days within which a day's fees must be acknowledged by the treasury
    /// (`ONECARD_REMIT_LIMIT_DAYS`, default 2); later is a supervision finding.
    pub remit_limit_days: i64,
    /// Business days (Monday to Friday; public holidays are not modelled) after its settlement
    /// date that a file's credit is awaited before the file is `cash_missing`
    /// (`ONECARD_CREDIT_HORIZON_DAYS`, default 5).
    pub credit_horizon_days: u32,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
    /// (`ONECARD_TRUSTED_PROXIES`, comma-separated IPs or CIDR blocks; default none).
    pub trusted_proxies: TrustedProxies,
    /// The language of the nightly report's CSV headings and suggested actions
    /// (`ONECARD_REPORT_LANG`: `zh-CN`, the default, or `en`).
    pub report_lang: crate::words::Lang,
}

/// How many business days a settlement file's credit is awaited (DESIGN §5).
pub const DEFAULT_CREDIT_HORIZON_DAYS: u32 = 5;

/// Seconds for a request head to arrive, and that a body may stall.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 10;

/// Demo values for the remittance parties: a deployment sets its own (see the README).
pub const DEMO_CENTRE_NAME: &str = "示范市政务服务中心";
/// Demo collection account.
pub const DEMO_COLLECTION_ACCOUNT: &str = "33050161234500001234";
/// Demo treasury.
pub const DEMO_TREASURY_NAME: &str = "示范市国库";
/// Demo treasury account.
pub const DEMO_TREASURY_ACCOUNT: &str = "270000000000000001";

/// A remittance party setting: 1–`max` characters (the remt.001 schema's limit).
fn env_text(name: &str, default: &str, max: usize) -> Result<String, ConfigError> {
    let v = std::env::var(name).unwrap_or_else(|_| default.to_string());
    let v = v.trim().to_string();
    let n = v.chars().count();
    if n == 0 || n > max {
        return Err(ConfigError(format!(
            "{name} must be 1–{max} characters (it goes into remittance files), got {n}"
        )));
    }
    Ok(v)
}

/// The addresses of the reverse proxies in front of the service: single IPs or CIDR blocks.
/// Only a connection from one of them may say, in forwarding headers, who the client is and
/// whether it came over HTTPS. Empty (the default): nobody may.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 192.0.2.7, ::1, fd00::/8`; an empty text trusts nobody.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, prefix) = match item.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{item}' is not an IP address or CIDR block"))?;
            let addr = addr.to_canonical();
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("'{item}': the prefix length must be 0–{max}"))?,
            };
            nets.push((addr, prefix));
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `ip` is one of the trusted proxies (an IPv4 address written as IPv6,
    /// `::ffff:a.b.c.d`, is the IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|(net, prefix)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name}='{v}' is not a valid value"))),
        Err(_) => Ok(default),
    }
}

/// An optional `HH:MM` time of day from `name`.
fn env_time(name: &str) -> Result<Option<chrono::NaiveTime>, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        // HH:MM; HH:MM:SS is accepted too (tests schedule a run seconds ahead).
        Ok(v) => chrono::NaiveTime::parse_from_str(v.trim(), "%H:%M")
            .or_else(|_| chrono::NaiveTime::parse_from_str(v.trim(), "%H:%M:%S"))
            .map(Some)
            .map_err(|_| ConfigError(format!("{name}='{v}' must be HH:MM"))),
    }
}

/// The receipt series (票据代码): 8 digits.
fn env_receipt_series() -> Result<String, ConfigError> {
    let s = std::env::var("ONECARD_RECEIPT_SERIES")
        .unwrap_or_else(|_| DEFAULT_RECEIPT_SERIES.to_string());
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError(format!(
            "ONECARD_RECEIPT_SERIES='{s}' must be 8 digits (票据代码)"
        )));
    }
    Ok(s)
}

impl Config {
    /// Builds the settings for `database_url` (already resolved from flag or environment).
    pub fn load(database_url: &str) -> Result<Config, ConfigError> {
        let database = DbTarget::parse(database_url).map_err(|e| ConfigError(e.to_string()))?;
        let data_dir = match std::env::var("ONECARD_DATA_DIR") {
            Ok(d) => PathBuf::from(d),
            Err(_) => match &database {
                DbTarget::Sqlite(path) => path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".")),
                DbTarget::Postgres(_) => PathBuf::from("./data"),
            },
        };
        let key_dir = std::env::var("ONECARD_KEY_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| data_dir.join("keys"));
        let default_pool = match database {
            DbTarget::Sqlite(_) => 8,
            DbTarget::Postgres(_) => 16,
        };
        let nightly_dir = std::env::var("ONECARD_NIGHTLY_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| data_dir.clone());
        Ok(Config {
            database_url: database_url.to_string(),
            database,
            data_dir,
            key_dir,
            json_limit_bytes: env_parse("ONECARD_JSON_LIMIT_BYTES", DEFAULT_JSON_LIMIT_BYTES)?,
            upload_limit_bytes: env_parse(
                "ONECARD_UPLOAD_LIMIT_BYTES",
                DEFAULT_UPLOAD_LIMIT_BYTES,
            )?,
            bank_specs_dir: crate::bankfiles::default_specs_dir(),
            nightly_at: env_time("ONECARD_NIGHTLY_AT")?,
            nightly_dir,
            pool_size: env_parse("ONECARD_POOL_SIZE", default_pool)?,
            read_pool_size: env_parse("ONECARD_READ_POOL_SIZE", DEFAULT_READ_POOL_SIZE)?.max(1),
            max_batch: env_parse(
                "ONECARD_MAX_BATCH",
                crate::ledger::writer::DEFAULT_MAX_BATCH,
            )?
            .max(1),
            receipt_series: env_receipt_series()?,
            centre_name: env_text("ONECARD_CENTRE_NAME", DEMO_CENTRE_NAME, 140)?,
            collection_account: env_text(
                "ONECARD_COLLECTION_ACCOUNT",
                DEMO_COLLECTION_ACCOUNT,
                34,
            )?,
            treasury_name: env_text("ONECARD_TREASURY_NAME", DEMO_TREASURY_NAME, 140)?,
            treasury_account: env_text("ONECARD_TREASURY_ACCOUNT", DEMO_TREASURY_ACCOUNT, 34)?,
            rate_limit_per_minute: env_parse("ONECARD_RATE_LIMIT_PER_MINUTE", 6000u32)?,
            rate_limit_burst: env_parse("ONECARD_RATE_LIMIT_BURST", 200u32)?.max(1),
            request_timeout_secs: env_parse(
                "ONECARD_REQUEST_TIMEOUT_SECS",
                DEFAULT_REQUEST_TIMEOUT_SECS,
            )?
            .max(1),
            max_connections: env_parse("ONECARD_MAX_CONNECTIONS", 1024usize)?.max(1),
            remit_limit_days: env_parse("ONECARD_REMIT_LIMIT_DAYS", 2i64)?.max(0),
            business_day_cutoff: env_time("ONECARD_BUSINESS_DAY_CUTOFF")?,
            credit_horizon_days: env_parse(
                "ONECARD_CREDIT_HORIZON_DAYS",
                DEFAULT_CREDIT_HORIZON_DAYS,
            )?,
            trusted_proxies: match std::env::var("ONECARD_TRUSTED_PROXIES") {
                Ok(v) => TrustedProxies::parse(&v)
                    .map_err(|e| ConfigError(format!("ONECARD_TRUSTED_PROXIES: {e}")))?,
                Err(_) => TrustedProxies::default(),
            },
            report_lang: match std::env::var("ONECARD_REPORT_LANG") {
                Ok(v) => crate::words::Lang::from_setting(&v).ok_or_else(|| {
                    ConfigError(format!(
                        "ONECARD_REPORT_LANG must be zh-CN or en, got '{v}'"
                    ))
                })?,
                Err(_) => crate::words::Lang::Zh,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TrustedProxies;

    #[test]
    fn trusted_proxies_are_addresses_and_blocks() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,").expect("parses");
        for yes in ["10.1.2.3", "192.0.2.7", "::ffff:10.9.9.9", "fd12::1"] {
            assert!(t.contains(yes.parse().expect("ip")), "{yes}");
        }
        for no in ["11.0.0.1", "192.0.2.8", "fe80::1", "127.0.0.1"] {
            assert!(!t.contains(no.parse().expect("ip")), "{no}");
        }
        let all = TrustedProxies::parse("0.0.0.0/0").expect("parses");
        assert!(all.contains("203.0.113.9".parse().expect("ip")));
        assert!(!all.contains("::1".parse().expect("ip")));
        assert!(TrustedProxies::parse("").expect("empty").is_empty());
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/", "::1/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }
}
