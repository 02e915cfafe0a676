//! This process's name among the instances that share the database: written beside the work
//! it does for all of them (a web task, a night), so that logs and rows say who did it.

use std::sync::OnceLock;

/// `<host>:<pid>:<random>`, fixed for the life of the process.
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_string());
        // Without randomness two processes could only share a pid on two hosts of one name.
        let salt = crate::keys::random_bytes::<3>().map_or_else(|_| "0".into(), hex::encode);
        format!("{host}:{}:{salt}", std::process::id())
    })
}
