//! The crate's layout as `src/lib.rs` documents it, checked against the source: every
//! top-level module imports only what its "may depend on" column allows, the allowed graph has
//! no cycle (so no arrow runs back up), and the domain cores named in the crate doc contain no
//! actix, diesel or database code. The table is the map a newcomer reads; this test keeps it true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate doc's layout table: module → the modules it may depend on.
fn layout_table(lib_rs: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut table = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(row) = line.strip_prefix("//! | [`") else {
            continue;
        };
        let Some((module, rest)) = row.split_once("`]") else {
            continue;
        };
        let columns: Vec<&str> = rest.split('|').collect();
        let deps_column = columns.get(2).copied().unwrap_or_default();
        let deps = backticked(deps_column)
            .into_iter()
            .map(|d| d.split("::").next().unwrap_or_default().to_string())
            .collect();
        table.insert(module.to_string(), deps);
    }
    table
}

/// Every `name` written as `` `name` `` or `` [`name`] `` in a piece of text.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The modules `pub mod x;` declares in lib.rs.
fn declared_modules(lib_rs: &str) -> BTreeSet<String> {
    lib_rs
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// The source of a file without its test module and without comment lines.
fn code_of(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a piece of code names through `crate::` (macros at the crate root,
/// `crate::name!`, are not modules and are left out).
fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `onecard::crate::` cannot occur; a preceding identifier character means another path.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c, d::{e, f}}`: the first name of each item at depth one.
            let mut depth = 0usize;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            for item in items {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let is_macro = rest[name.len()..].starts_with('!');
            if !name.is_empty() && !is_macro {
                found.insert(name);
            }
        }
    }
    found
}

/// Every `.rs` file of a module (a file `src/x.rs` or a folder `src/x/`), test files left out.
fn files_of(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let file = path.with_extension("rs");
    if file.is_file() {
        files.push(file);
    }
    if path.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read source folder") {
                let p = entry.expect("folder entry").path();
                if p.is_dir() {
                    if p.file_name().is_some_and(|n| n != "tests") {
                        stack.push(p);
                    }
                } else if p.extension().is_some_and(|e| e == "rs")
                    && p.file_name().is_some_and(|n| n != "tests.rs")
                {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    files
}

fn lib_rs() -> String {
    std::fs::read_to_string(src_dir().join("lib.rs")).expect("src/lib.rs")
}

#[test]
fn the_layout_table_names_every_module_and_only_modules() {
    let lib = lib_rs();
    let table = layout_table(&lib);
    let declared = declared_modules(&lib);
    let documented: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(
        documented, declared,
        "the lib.rs layout table and the `pub mod` list disagree"
    );
    for (module, deps) in &table {
        for dep in deps {
            assert!(
                declared.contains(dep),
                "the layout table lets `{module}` depend on `{dep}`, which is no module"
            );
        }
    }
}

/// `#[macro_export]` macros live at the crate root (`crate::name`): each is charged to the
/// module that defines it.
fn exported_macros(modules: impl Iterator<Item = String>) -> BTreeMap<String, String> {
    let mut macros = BTreeMap::new();
    for module in modules {
        for file in files_of(&src_dir().join(&module)) {
            let text = std::fs::read_to_string(&file).expect("source file");
            for piece in text.split("macro_rules!").skip(1) {
                let name: String = piece
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                macros.insert(name, module.clone());
            }
        }
    }
    macros
}

#[test]
fn every_module_imports_only_what_the_layout_table_allows() {
    let table = layout_table(&lib_rs());
    let macros = exported_macros(table.keys().cloned());
    let mut violations = Vec::new();
    for (module, allowed) in &table {
        let files = files_of(&src_dir().join(module));
        assert!(!files.is_empty(), "no source for module `{module}`");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source file");
            for dep in crate_imports(&code_of(&text)) {
                let dep = macros.get(&dep).cloned().unwrap_or(dep);
                if dep != *module && !allowed.contains(&dep) {
                    violations.push(format!(
                        "{} imports crate::{dep}, not in `{module}`'s \"may depend on\" column",
                        file.strip_prefix(src_dir()).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_allowed_module_graph_has_no_cycle() {
    let table = layout_table(&lib_rs());
    // Depth-first search with colours; the path is reported when a back edge is found.
    fn visit(
        node: &str,
        table: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!(
                "the layout table has a cycle: {} → {node}",
                path[at..].join(" → ")
            );
        }
        path.push(node.to_string());
        for dep in table.get(node).into_iter().flatten() {
            visit(dep, table, done, path);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for module in table.keys() {
        visit(module, &table, &mut done, &mut Vec::new());
    }
}

#[test]
fn domain_modules_never_reach_up_to_the_service_or_its_faces() {
    let table = layout_table(&lib_rs());
    let upper = ["app", "http", "web", "server"];
    for domain in [
        "ledger",
        "catalogue",
        "payments",
        "bankfiles",
        "recon",
        "treasury",
        "auth",
    ] {
        let deps = &table[domain];
        for up in upper {
            assert!(!deps.contains(up), "`{domain}` may not depend on `{up}`");
        }
    }
    for sibling in ["treasury", "recon"] {
        assert!(
            !table["payments"].contains(sibling),
            "`payments` may not depend on `{sibling}`"
        );
    }
    assert!(
        !table["http"].contains("web"),
        "`http` may not depend on `web`"
    );
}

#[test]
fn the_domain_cores_hold_no_framework_or_database_code() {
    let lib = lib_rs();
    let paragraph: String = lib
        .split("Domain cores —")
        .nth(1)
        .and_then(|rest| rest.split(" — ").next())
        .expect("lib.rs names the domain cores")
        .to_string();
    let cores = backticked(&paragraph);
    assert!(cores.len() >= 8, "too few cores named: {cores:?}");
    let forbidden = [
        "actix",
        "diesel",
        "DbConn",
        "crate::db",
        "crate::app",
        "crate::http",
        "crate::web",
    ];
    for core in cores {
        let path = src_dir().join(core.replace("::", "/"));
        let files = files_of(&path);
        assert!(!files.is_empty(), "the core `{core}` has no source");
        for file in files {
            let code = code_of(&std::fs::read_to_string(&file).expect("source file"));
            for word in forbidden {
                assert!(
                    !code.contains(word),
                    "the core `{core}` ({}) mentions `{word}`",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_import_reader_sees_what_it_must() {
    let code = "use crate::ledger::{self, Chart};\nuse crate::{audit, db::DbConn, money::{Money, parse}};\n\
                fn f() { crate::insert_chunked!(x); let _ = crate::clock::today(); }\n\
                // use crate::web::nothing;\nlet s = \"a_crate::b\";";
    let found = crate_imports(&code_of(code));
    let expected: BTreeSet<String> = ["ledger", "audit", "db", "money", "clock"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
    let table = layout_table(
        "//! | module | what | may depend on |\n//! |---|---|---|\n//! | [`a`] | x | `b`, [`c::d`] |\n//! | [`b`] | y | — |",
    );
    assert_eq!(
        table["a"],
        ["b", "c"].into_iter().map(String::from).collect()
    );
    assert!(table["b"].is_empty());
}
