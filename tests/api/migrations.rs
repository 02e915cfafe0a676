//! The two migration folders must list the same migrations, each with up and down.

use std::collections::BTreeSet;
use std::path::Path;

fn names(dir: &str) -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| {
            for f in ["up.sql", "down.sql"] {
                assert!(
                    e.path().join(f).is_file(),
                    "{} lacks {f}",
                    e.path().display()
                );
            }
            e.file_name().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn sqlite_and_postgres_list_the_same_migrations() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must mirror each other"
    );
}

#[test]
fn postgres_backend_is_exercised_or_skipped_plainly() {
    match crate::support::pg_base_url() {
        Some(_) => eprintln!("PostgreSQL: integration tests in this run use PostgreSQL"),
        None => eprintln!(
            "PostgreSQL: SKIPPED in this run ({} not set); .ci/run sets it for its second pass",
            crate::support::PG_ENV
        ),
    }
}
