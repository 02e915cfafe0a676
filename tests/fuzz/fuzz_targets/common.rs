//! What every fuzz target does: read the input by one spec (with no file name, and with one
//! that fits the spec's pattern when given), counting records. A reader must refuse bad input
//! without panicking, looping, or growing memory without bound.

use std::sync::OnceLock;

use onecard::bankfiles::{default_specs_dir, Registry};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::load(&default_specs_dir()).expect("bank specs load"))
}

/// Reads `data` by each of `specs`, without a file name and then with `file_name`.
pub fn read(specs: &[&str], file_name: Option<&str>, data: &[u8]) {
    for spec in specs {
        let _ = registry().check(spec, None, data);
        if file_name.is_some() {
            let _ = registry().check(spec, file_name, data);
        }
    }
}
