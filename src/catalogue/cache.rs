//! The versions of each fee item, kept in memory for pricing, so taking a payment does not read
//! the catalogue each time.
//!
//! Versions are only ever added, and a version added to an item already in the catalogue
//! starts on a day that has not begun ([`super::add_version`]), so a cached list prices today's
//! payments as the database would. Bounds, all the same: a version added on this instance
//! empties the cache when it commits (and an answer read before that commit is not kept); one
//! added on another instance on the same database is seen within [`FRESH_FOR`]. A code not in
//! the cache is read from the database, so a new item can be charged at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::FeeItem;

/// How long a cached item's versions are used before they are read again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Past this many items the cache starts afresh.
const MAX_ITEMS: usize = 10_000;

/// An item's versions as read, and when.
type Entry = (Instant, Arc<Vec<FeeItem>>);

struct Cache {
    generation: AtomicU64,
    /// By (database, code).
    items: Mutex<HashMap<(u64, String), Entry>>,
}

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Cache {
        generation: AtomicU64::new(0),
        items: Mutex::new(HashMap::new()),
    })
}

/// The cache's generation: read it before reading versions from the database, and hand it to
/// [`remember`].
pub fn generation() -> u64 {
    cache().generation.load(Ordering::SeqCst)
}

/// The versions of `code` in the database `db` (a number the caller gives each database it
/// opens), if cached and fresh.
pub fn cached(db: u64, code: &str) -> Option<Arc<Vec<FeeItem>>> {
    let items = cache().items.lock().unwrap_or_else(PoisonError::into_inner);
    items
        .get(&(db, code.to_string()))
        .filter(|(at, _)| at.elapsed() < FRESH_FOR)
        .map(|(_, v)| Arc::clone(v))
}

/// Keeps the versions of `code` read from the database, unless the catalogue changed on this
/// instance since `generation` (read before the read).
pub fn remember(db: u64, code: &str, versions: Vec<FeeItem>, generation: u64) {
    let cache = cache();
    let mut items = cache.items.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.generation.load(Ordering::SeqCst) != generation {
        return;
    }
    if items.len() >= MAX_ITEMS {
        items.clear();
    }
    items.insert((db, code.to_string()), (Instant::now(), Arc::new(versions)));
}

/// Forgets everything (a version was added).
pub fn invalidate() {
    let cache = cache();
    let mut items = cache.items.lock().unwrap_or_else(PoisonError::into_inner);
    cache.generation.fetch_add(1, Ordering::SeqCst);
    items.clear();
}
