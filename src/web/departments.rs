//! 部门与窗口: the departments (执收部门) and their counter windows as `GET /v1/departments`
//! lists them, and — for admins — forms that add a department or a window, as
//! `POST /v1/departments` and `POST /v1/departments/{code}/windows` do (audited alike).
//!
//! Also the cells every other page shows a department or window in: the name in the page's
//! language, the English page falling back to the Chinese name marked `lang="zh-CN"`.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::i18n::Lang;
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::catalogue::departments::{self, Directory, Shown};
use crate::http::blocking::with_conn;
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/departments", web::get().to(list))
        .route("/departments", web::post().to(add))
        .route("/departments/windows", web::post().to(add));
}

words! {
    /// Labels of the departments page.
    pub struct DepartmentsWords {
        title: "部门与窗口" / "Departments and windows",
        departments: "执收部门" / "Departments",
        windows: "窗口" / "Windows",
        no_departments: "没有部门。" / "No departments.",
        no_windows: "没有窗口。" / "No windows.",
        code: "代码" / "Code",
        department: "部门代码" / "Department",
        department_name: "部门名称" / "Department name",
        window: "窗口代码" / "Window",
        window_name: "窗口名称" / "Window name",
        name: "名称" / "Name",
        name_en: "英文名称" / "English name",
        window_count: "窗口数" / "Windows",
        add_department: "新增部门" / "Add a department",
        add_window: "新增窗口" / "Add a window",
        add_hint: "部门和窗口一经新增即长期保留，不能改名或删除；代码为字母、数字、“-”和“_”。" / "Departments and windows are kept once added, never renamed or removed; codes are letters, digits, '-' and '_'.",
        add_button: "新增" / "Add",
        added_department: "已新增部门 " / "Added department ",
        added_window: "已新增窗口 " / "Added window ",
    }
}

/// A name as shown on a page: the Chinese on an English page marked as such.
fn name_cell(shown: Option<Shown<'_>>, code: &str) -> Cell {
    match shown {
        Some(Shown {
            text,
            fallback: true,
        }) => Cell::Foreign {
            text: text.to_string(),
            lang: Lang::Zh.tag(),
        },
        Some(Shown { text, .. }) => Cell::text(text),
        // Not in the directory (it always is since migration 000027): the code stands in.
        None => Cell::text(code),
    }
}

/// The name of department `code` in `lang`, as a cell.
pub fn department_cell(directory: &Directory, code: &str, lang: Lang) -> Cell {
    name_cell(directory.department_name(code, lang == Lang::En), code)
}

/// The name of window `window` of `department` in `lang`, as a cell.
pub fn window_cell(directory: &Directory, department: &str, window: &str, lang: Lang) -> Cell {
    name_cell(
        directory.window_name(department, window, lang == Lang::En),
        window,
    )
}

/// An English name as a cell, marked as English (it stands on Chinese pages too).
fn english_cell(name: Option<&str>) -> Cell {
    name.map_or(Cell::Empty, |n| Cell::Foreign {
        text: n.to_string(),
        lang: "en",
    })
}

/// The directory, read for a page.
pub async fn directory(staff: &Staff) -> Result<Directory, WebError> {
    with_conn(&staff.ctx, |conn, _| Ok(departments::load(conn)?))
        .await
        .or_page(staff.lang)
}

impl DepartmentsWords {
    fn departments_table(&self, directory: &Directory, lang: Lang) -> Table {
        let mut t = Table::new("departments", self.departments, self.no_departments)
            .col(self.code)
            .col(self.name)
            .col(self.name_en)
            .num(self.window_count);
        for d in directory.departments() {
            t.push(vec![
                Cell::text(&d.code),
                in_page(department_cell(directory, &d.code, Lang::Zh), lang),
                english_cell(d.name_en.as_deref()),
                Cell::Int(d.windows.len() as i64),
            ]);
        }
        t
    }

    fn windows_table(&self, directory: &Directory, lang: Lang) -> Table {
        let mut t = Table::new("windows", self.windows, self.no_windows)
            .col(self.department)
            .col(self.department_name)
            .col(self.window)
            .col(self.name)
            .col(self.name_en);
        for d in directory.departments() {
            for w in &d.windows {
                t.push(vec![
                    Cell::text(&d.code),
                    department_cell(directory, &d.code, lang),
                    Cell::text(&w.code),
                    in_page(window_cell(directory, &d.code, &w.code, Lang::Zh), lang),
                    english_cell(w.name_en.as_deref()),
                ]);
            }
        }
        t
    }
}

/// A Chinese name (from the data) on a page in `lang`: marked `lang="zh-CN"` on an English
/// page.
fn in_page(cell: Cell, lang: Lang) -> Cell {
    match (cell, lang) {
        (Cell::Text(text), Lang::En) if !text.is_ascii() => Cell::Foreign {
            text,
            lang: Lang::Zh.tag(),
        },
        (cell, _) => cell,
    }
}

/// `?csv=` or `?xlsx=`.
#[derive(Debug, Deserialize)]
pub struct DepartmentsQuery {
    csv: Option<String>,
    xlsx: Option<String>,
}

#[derive(Template)]
#[template(path = "departments.html", config = "src/web/askama.toml")]
struct DepartmentsPage {
    c: Chrome,
    t: &'static DepartmentsWords,
    departments: Table,
    windows: Table,
    /// May the user add? (admins)
    may_add: bool,
    /// The departments for the window form: (code, name in the page's language).
    choices: Vec<(String, String)>,
}

async fn list(staff: Staff, query: web::Query<DepartmentsQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_CATALOGUE)?;
    let lang = staff.lang;
    let t = DepartmentsWords::of(lang);
    let directory = directory(&staff).await?;
    let mut departments = t.departments_table(&directory, lang);
    let mut windows = t.windows_table(&directory, lang);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&departments, &windows], id, "departments", lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut departments, &mut windows], &path, &qs);
    let choices = directory
        .departments()
        .map(|d| {
            let name = directory
                .department_name(&d.code, lang == Lang::En)
                .map_or(d.code.as_str(), |s| s.text);
            (d.code.clone(), name.to_string())
        })
        .collect();
    let page = DepartmentsPage {
        c: staff.chrome(t.title, "departments"),
        t,
        departments,
        windows,
        may_add: staff.may(may::CHANGE_CATALOGUE),
        choices,
    };
    staff.page(&page)
}

/// The add forms: a department's, or — with `department` — a window's.
#[derive(Debug, Deserialize)]
struct AddForm {
    #[serde(default)]
    department: Option<String>,
    code: String,
    name: String,
    #[serde(default)]
    name_en: String,
}

fn optional(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// Adds a department, or a window of `department`, as the API does (audited alike).
async fn add(staff: Staff, form: PostForm<AddForm>) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::CHANGE_CATALOGUE)?.actor();
    let lang = staff.lang;
    let t = DepartmentsWords::of(lang);
    let f = staff.form(form)?;
    let department = f.department.map(|d| d.trim().to_string());
    let (code, name, name_en) = (
        f.code.trim().to_string(),
        f.name.trim().to_string(),
        f.name_en,
    );
    let said = match department {
        Some(_) => format!("{}{code}", t.added_window),
        None => format!("{}{code}", t.added_department),
    };
    with_conn(&staff.ctx, move |conn, _| {
        match department {
            Some(d) => {
                departments::add_window(conn, &d, &code, &name, optional(&name_en), &actor)?;
            }
            None => {
                departments::add_department(conn, &code, &name, optional(&name_en), &actor)?;
            }
        }
        Ok(())
    })
    .await
    .or_page(lang)?;
    Ok(staff.done(&format!("{BASE}/departments"), &said))
}
