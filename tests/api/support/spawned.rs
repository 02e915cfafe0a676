//! The real `onecard` binary as a process: run a command, start `serve` on a free port and
//! wait until it is ready, kill it with SIGKILL, and talk HTTP/1.1 to it on connections of
//! its own (so an answer lost in a kill is seen as lost). Shared by the crash and the
//! two-instance tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestDb;

/// The receipt series the child is told to use.
pub const SERIES: &str = "44030126";

/// The binary with the test database's environment.
pub fn onecard(db: &TestDb) -> Command {
    let mut cmd = db.command();
    cmd.env("ONECARD_DATA_DIR", db.dir.path())
        .env("ONECARD_RECEIPT_SERIES", SERIES)
        .env("ONECARD_POOL_SIZE", "4")
        // Six clients posting flat out on one clerk token: a load test, not a counter. The
        // per-token rate limit (tests/api/limits.rs) would otherwise answer 429.
        .env("ONECARD_RATE_LIMIT_PER_MINUTE", "0")
        .env_remove("ONECARD_NIGHTLY_AT")
        .env_remove("ONECARD_BUSINESS_DAY_CUTOFF")
        .env("RUST_LOG", "warn");
    cmd
}

pub fn run_ok(db: &TestDb, args: &[&str]) -> String {
    let out = onecard(db).args(args).output().expect("run onecard");
    assert!(
        out.status.success(),
        "onecard {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// A running `onecard serve`.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Starts the service on a fresh port (its stderr appended to `log`) and waits for `/readyz`.
/// A port taken by someone else between the probe and the bind is tried again with another.
pub fn start(db: &TestDb, demo: bool, log: &Path) -> Server {
    start_with(db, demo, log, &[])
}

/// [`start`] with further settings in the environment (`ONECARD_…`, value).
pub fn start_with(db: &TestDb, demo: bool, log: &Path, env: &[(&str, &str)]) -> Server {
    for _ in 0..5 {
        if let Some(server) = try_start(db, demo, log, env) {
            return server;
        }
    }
    panic!("no free port for onecard serve:\n{}", log_tail(log));
}

fn try_start(db: &TestDb, demo: bool, log: &Path, env: &[(&str, &str)]) -> Option<Server> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = onecard(db);
    cmd.args(["serve", "--bind", &addr.to_string(), "--workers", "2"]);
    cmd.envs(env.iter().copied());
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn onecard serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = log_tail(log);
            if tail
                .lines()
                .last()
                .is_some_and(|l| l.contains("cannot listen"))
            {
                return None;
            }
            panic!("onecard serve exited with {status}:\n{tail}");
        }
        if let Ok(r) = http(addr, "GET", "/readyz", &[], b"") {
            if r.status == 200 {
                return Some(Server { child, addr });
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("onecard serve not ready after 60 s:\n{}", log_tail(log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// SIGKILL, and reap it.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    /// A failed assertion leaves no service running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The head's fields, as sent (names in lower case).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl Reply {
    /// The first field `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `Set-Cookie` as `name=value`.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .map(str::to_string)
            .collect()
    }
}

/// One HTTP/1.1 request on its own connection. Any failure to get a whole answer — refused,
/// reset, cut short — is an error: the caller cannot know what happened.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    use std::io::{Error, ErrorKind};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let cut = |what: &str| Error::new(ErrorKind::UnexpectedEof, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| cut("no complete header"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let rest = &raw[split + 4..];
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| cut("no status"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut rest = rest;
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| cut("chunk cut short"))?;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..eol])
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| cut("bad chunk size"))?;
            if size == 0 {
                break;
            }
            let chunk = rest
                .get(eol + 2..eol + 2 + size)
                .ok_or_else(|| cut("chunk cut short"))?;
            out.extend_from_slice(chunk);
            rest = rest.get(eol + 4 + size..).ok_or_else(|| cut("chunk end"))?;
        }
        out
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| cut("bad content-length"))?;
        rest.get(..len)
            .ok_or_else(|| cut("body cut short"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8(body).map_err(|_| cut("body not UTF-8"))?,
    })
}
