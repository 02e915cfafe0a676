//! Departments (执收部门) and their counter windows (窗口) as master data: codes with Chinese
//! names (and English), each window belonging to one department. Admins add them; a payment
//! naming a department or window not here is refused, and every page shows the names.
//!
//! - [`Directory`], [`check_new`]: the names and the checks — pure.
//! - [`load`], [`add_department`], [`add_window`]: storage, each change audited.
//! - [`cache`]: the directory kept in memory for payment intake, as the catalogue's versions
//!   are ([`super::cache`]).
//!
//! Departments and windows are only ever added, never changed or removed, so a cached directory
//! can only miss something new: a code not in it is read again from the database before it is
//! refused.

use std::collections::BTreeMap;

use chrono::Utc;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, AuditEvent};
use crate::db::schema::{department_windows, departments};
use crate::db::{DbConn, DbError};

/// Longest name.
pub const MAX_NAME_LEN: usize = 100;

/// A counter window of a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Code, unique within its department (`W01`).
    pub code: String,
    /// Chinese name (`1号窗口（护照）`).
    pub name: String,
    /// English name, if given.
    pub name_en: Option<String>,
}

/// A department with its windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Code (`D01`).
    pub code: String,
    /// Chinese name (`公安局出入境管理大队`).
    pub name: String,
    /// English name, if given.
    pub name_en: Option<String>,
    /// Its windows, in code order.
    pub windows: Vec<Window>,
}

/// Why a payment's department or window is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// No such department.
    #[error("department '{0}' is not known; an admin adds it with POST /v1/departments")]
    UnknownDepartment(String),
    /// The department has no such window.
    #[error("window '{window}' is not a window of department '{department}'; an admin adds it with POST /v1/departments/{department}/windows")]
    UnknownWindow {
        /// The department.
        department: String,
        /// The window sent.
        window: String,
    },
}

/// Every department and window, by code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    departments: BTreeMap<String, Department>,
}

/// A name as a page shows it: the text, and whether it is Chinese shown on an English page
/// (the English name missing), which the page marks `lang="zh-CN"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown<'a> {
    /// The name.
    pub text: &'a str,
    /// Chinese where English was asked for.
    pub fallback: bool,
}

fn shown<'a>(name: &'a str, name_en: Option<&'a str>, english: bool) -> Shown<'a> {
    match (english, name_en) {
        (true, Some(en)) => Shown {
            text: en,
            fallback: false,
        },
        (true, None) => Shown {
            text: name,
            fallback: !name.is_ascii(),
        },
        (false, _) => Shown {
            text: name,
            fallback: false,
        },
    }
}

impl Directory {
    /// A directory of these departments.
    pub fn new(list: Vec<Department>) -> Directory {
        Directory {
            departments: list.into_iter().map(|d| (d.code.clone(), d)).collect(),
        }
    }

    /// Every department, in code order.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// One department.
    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.get(code)
    }

    /// A window of a department.
    pub fn window(&self, department: &str, window: &str) -> Option<&Window> {
        self.department(department)?
            .windows
            .iter()
            .find(|w| w.code == window)
    }

    /// May a payment name this department and window? The window must be one of the
    /// department's.
    pub fn check(&self, department: &str, window: &str) -> Result<(), PlaceError> {
        if self.department(department).is_none() {
            return Err(PlaceError::UnknownDepartment(department.to_string()));
        }
        if self.window(department, window).is_none() {
            return Err(PlaceError::UnknownWindow {
                department: department.to_string(),
                window: window.to_string(),
            });
        }
        Ok(())
    }

    /// A department's name in the page's language (English when `english`, falling back to the
    /// Chinese), if the department is known.
    pub fn department_name(&self, code: &str, english: bool) -> Option<Shown<'_>> {
        self.department(code)
            .map(|d| shown(&d.name, d.name_en.as_deref(), english))
    }

    /// A window's name in the page's language, if known.
    pub fn window_name(&self, department: &str, window: &str, english: bool) -> Option<Shown<'_>> {
        self.window(department, window)
            .map(|w| shown(&w.name, w.name_en.as_deref(), english))
    }
}

/// Why a department or window was not added.
#[derive(Debug, thiserror::Error)]
pub enum DepartmentError {
    /// A field does not fit.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The department exists already.
    #[error("department '{0}' exists already; departments are added once and kept")]
    DepartmentExists(String),
    /// The department has this window already.
    #[error("department '{department}' has a window '{window}' already")]
    WindowExists {
        /// The department.
        department: String,
        /// The window.
        window: String,
    },
    /// A window was added to a department that does not exist.
    #[error(transparent)]
    Unknown(#[from] PlaceError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for DepartmentError {
    fn from(e: diesel::result::Error) -> Self {
        DepartmentError::Db(DbError::Query(e))
    }
}

fn invalid(field: &'static str, message: &str) -> DepartmentError {
    DepartmentError::Invalid {
        field,
        message: message.to_string(),
    }
}

/// Checks a new department's or window's code and names: the code 1–32 of `A–Z a–z 0–9 - _`,
/// each name 1–100 printable characters.
pub fn check_new(code: &str, name: &str, name_en: Option<&str>) -> Result<(), DepartmentError> {
    // The same shape as a fee item's code.
    super::model::check_code(code)
        .map_err(|_| invalid("code", "must be 1–32 of A–Z, a–z, 0–9, '-' and '_'"))?;
    let printable = |s: &str| {
        !s.trim().is_empty()
            && s.chars().count() <= MAX_NAME_LEN
            && !s.chars().any(char::is_control)
    };
    if !printable(name) {
        return Err(invalid("name", "must be 1–100 printable characters"));
    }
    if name_en.is_some_and(|n| !printable(n)) {
        return Err(invalid("name_en", "must be 1–100 printable characters"));
    }
    Ok(())
}

/// Every department and window as stored.
pub fn load(conn: &mut DbConn) -> Result<Directory, DbError> {
    let depts: Vec<(String, String, Option<String>)> = departments::table
        .order(departments::code)
        .select((departments::code, departments::name, departments::name_en))
        .load(conn)?;
    let windows: Vec<(String, String, String, Option<String>)> = department_windows::table
        .order((department_windows::department, department_windows::code))
        .select((
            department_windows::department,
            department_windows::code,
            department_windows::name,
            department_windows::name_en,
        ))
        .load(conn)?;
    let mut directory = Directory::new(
        depts
            .into_iter()
            .map(|(code, name, name_en)| Department {
                code,
                name,
                name_en,
                windows: Vec::new(),
            })
            .collect(),
    );
    for (department, code, name, name_en) in windows {
        if let Some(d) = directory.departments.get_mut(&department) {
            d.windows.push(Window {
                code,
                name,
                name_en,
            });
        }
    }
    Ok(directory)
}

/// Whether the department `code` exists.
pub fn exists(conn: &mut DbConn, code: &str) -> Result<bool, DbError> {
    Ok(departments::table
        .filter(departments::code.eq(code))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Adds a department (without windows), audited as `department.create`.
pub fn add_department(
    conn: &mut DbConn,
    code: &str,
    name: &str,
    name_en: Option<&str>,
    actor: &str,
) -> Result<Department, DepartmentError> {
    check_new(code, name, name_en)?;
    let result = crate::db::write_txn::<_, DepartmentError, _>(conn, |conn| {
        if exists(conn, code)? {
            return Err(DepartmentError::DepartmentExists(code.to_string()));
        }
        diesel::insert_into(departments::table)
            .values((
                departments::code.eq(code),
                departments::name.eq(name),
                departments::name_en.eq(name_en),
                departments::created_at.eq(Utc::now().naive_utc()),
                departments::created_by.eq(actor),
            ))
            .execute(conn)?;
        let d = Department {
            code: code.to_string(),
            name: name.to_string(),
            name_en: name_en.map(str::to_string),
            windows: Vec::new(),
        };
        audit::record(
            conn,
            AuditEvent {
                actor,
                action: "department.create",
                subject: &format!("department:{code}"),
                before: None,
                after: Some(json!(d)),
            },
        )?;
        Ok(d)
    });
    cache::invalidate();
    match result {
        Err(e) if unique_violation(&e) => Err(DepartmentError::DepartmentExists(code.to_string())),
        other => other,
    }
}

/// Adds a window to a department, audited as `department.window.create`.
pub fn add_window(
    conn: &mut DbConn,
    department: &str,
    code: &str,
    name: &str,
    name_en: Option<&str>,
    actor: &str,
) -> Result<Window, DepartmentError> {
    check_new(code, name, name_en)?;
    let exists_already = || DepartmentError::WindowExists {
        department: department.to_string(),
        window: code.to_string(),
    };
    let result = crate::db::write_txn::<_, DepartmentError, _>(conn, |conn| {
        if !exists(conn, department)? {
            return Err(PlaceError::UnknownDepartment(department.to_string()).into());
        }
        let taken: i64 = department_windows::table
            .filter(department_windows::department.eq(department))
            .filter(department_windows::code.eq(code))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(exists_already());
        }
        diesel::insert_into(department_windows::table)
            .values((
                department_windows::department.eq(department),
                department_windows::code.eq(code),
                department_windows::name.eq(name),
                department_windows::name_en.eq(name_en),
                department_windows::created_at.eq(Utc::now().naive_utc()),
                department_windows::created_by.eq(actor),
            ))
            .execute(conn)?;
        let w = Window {
            code: code.to_string(),
            name: name.to_string(),
            name_en: name_en.map(str::to_string),
        };
        audit::record(
            conn,
            AuditEvent {
                actor,
                action: "department.window.create",
                subject: &format!("department:{department}/window:{code}"),
                before: None,
                after: Some(json!(w)),
            },
        )?;
        Ok(w)
    });
    cache::invalidate();
    match result {
        Err(e) if unique_violation(&e) => Err(exists_already()),
        other => other,
    }
}

/// Two admins adding the same code at once: the second meets the primary key.
fn unique_violation(e: &DepartmentError) -> bool {
    matches!(
        e,
        DepartmentError::Db(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )))
    )
}

/// Adds each department and window of `list` not stored yet (the demo's set); returns how many
/// were added.
pub fn add_missing(
    conn: &mut DbConn,
    list: &[Department],
    actor: &str,
) -> Result<usize, DepartmentError> {
    let have = load(conn)?;
    let mut added = 0;
    for d in list {
        if have.department(&d.code).is_none() {
            add_department(conn, &d.code, &d.name, d.name_en.as_deref(), actor)?;
            added += 1;
        }
        for w in &d.windows {
            if have.window(&d.code, &w.code).is_none() {
                add_window(conn, &d.code, &w.code, &w.name, w.name_en.as_deref(), actor)?;
                added += 1;
            }
        }
    }
    Ok(added)
}

/// The directory kept in memory, per database (a number the caller gives each database it
/// opens). Bounds as for the catalogue's cache: a change on this instance empties it when it
/// commits (and a directory read before that commit is not kept); one on another instance on
/// the same database is seen within [`cache::FRESH_FOR`] — and since nothing is ever changed or
/// removed, a stale directory can only lack something new, which a miss reads afresh.
pub mod cache {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};
    use std::time::{Duration, Instant};

    use super::Directory;

    /// How long a cached directory is used before it is read again.
    pub const FRESH_FOR: Duration = Duration::from_secs(1);

    struct Cache {
        generation: AtomicU64,
        by_db: Mutex<HashMap<u64, (Instant, Arc<Directory>)>>,
    }

    fn cache() -> &'static Cache {
        static CACHE: OnceLock<Cache> = OnceLock::new();
        CACHE.get_or_init(|| Cache {
            generation: AtomicU64::new(0),
            by_db: Mutex::new(HashMap::new()),
        })
    }

    /// The generation: read it before reading the directory, and hand it to [`remember`].
    pub fn generation() -> u64 {
        cache().generation.load(Ordering::SeqCst)
    }

    /// The directory of database `db`, if cached and fresh.
    pub fn cached(db: u64) -> Option<Arc<Directory>> {
        let by_db = cache().by_db.lock().unwrap_or_else(PoisonError::into_inner);
        by_db
            .get(&db)
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, d)| Arc::clone(d))
    }

    /// Keeps a directory read from database `db`, unless it changed on this instance since
    /// `generation`.
    pub fn remember(db: u64, directory: Arc<Directory>, generation: u64) {
        let cache = cache();
        let mut by_db = cache.by_db.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.generation.load(Ordering::SeqCst) == generation {
            by_db.insert(db, (Instant::now(), directory));
        }
    }

    /// Forgets everything (something was added).
    pub fn invalidate() {
        let cache = cache();
        let mut by_db = cache.by_db.lock().unwrap_or_else(PoisonError::into_inner);
        cache.generation.fetch_add(1, Ordering::SeqCst);
        by_db.clear();
    }
}

/// The demo's departments and windows (fixtures/demo-departments.json).
pub fn demo_departments() -> Result<Vec<Department>, serde_json::Error> {
    serde_json::from_str(include_str!("../../fixtures/demo-departments.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Directory {
        Directory::new(vec![Department {
            code: "D01".into(),
            name: "公安局出入境管理".into(),
            name_en: Some("Exit-Entry Administration".into()),
            windows: vec![Window {
                code: "W01".into(),
                name: "1号窗口".into(),
                name_en: None,
            }],
        }])
    }

    #[test]
    fn a_payment_names_a_known_department_and_one_of_its_windows() {
        let d = directory();
        assert_eq!(d.check("D01", "W01"), Ok(()));
        assert_eq!(
            d.check("D02", "W01"),
            Err(PlaceError::UnknownDepartment("D02".into()))
        );
        assert_eq!(
            d.check("D01", "W02"),
            Err(PlaceError::UnknownWindow {
                department: "D01".into(),
                window: "W02".into()
            })
        );
        assert!(d.check("d01", "W01").is_err(), "codes are exact");
    }

    #[test]
    fn names_follow_the_language_and_mark_a_chinese_fallback() {
        let d = directory();
        let zh = d.department_name("D01", false).unwrap();
        assert_eq!((zh.text, zh.fallback), ("公安局出入境管理", false));
        let en = d.department_name("D01", true).unwrap();
        assert_eq!((en.text, en.fallback), ("Exit-Entry Administration", false));
        let w = d.window_name("D01", "W01", true).unwrap();
        assert_eq!((w.text, w.fallback), ("1号窗口", true));
        assert!(d.window_name("D02", "W01", true).is_none());
    }

    #[test]
    fn new_codes_and_names_are_checked() {
        assert!(check_new("D17", "新部门", Some("New")).is_ok());
        for (code, name, en, field) in [
            ("", "x", None, "code"),
            ("D 1", "x", None, "code"),
            (&"D".repeat(33)[..], "x", None, "code"),
            ("D1", " ", None, "name"),
            ("D1", "a\nb", None, "name"),
            ("D1", "x", Some(""), "name_en"),
        ] {
            match check_new(code, name, en) {
                Err(DepartmentError::Invalid { field: f, .. }) => assert_eq!(f, field, "{code}"),
                other => panic!("{code:?} {name:?}: {other:?}"),
            }
        }
        assert!(check_new("D1", &"名".repeat(101), None).is_err());
    }

    #[test]
    fn the_demo_set_has_sixteen_departments_each_with_windows() {
        let demo = demo_departments().unwrap();
        assert_eq!(demo.len(), 16);
        for d in &demo {
            check_new(&d.code, &d.name, d.name_en.as_deref()).unwrap();
            assert!(d.name_en.is_some() && !d.windows.is_empty(), "{}", d.code);
            for w in &d.windows {
                check_new(&w.code, &w.name, w.name_en.as_deref()).unwrap();
            }
        }
    }
}
