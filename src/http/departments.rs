//! `/v1/departments`: the departments (执收部门) and their windows. Admin writes, every role
//! reads. A department or window is added once and kept: posting an existing code again is 409
//! (`department_exists`, `window_exists`), never a silent rename.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::blocking::with_conn;
use super::extract::{ApiJson, Caller};
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::may;
use crate::catalogue::departments::{self, Department, DepartmentError, PlaceError, Window};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/departments", web::get().to(list))
        .route("/v1/departments", web::post().to(create))
        .route(
            "/v1/departments/{code}/windows",
            web::post().to(create_window),
        );
}

impl From<PlaceError> for ApiError {
    fn from(e: PlaceError) -> Self {
        let detail = e.to_string();
        match e {
            PlaceError::UnknownDepartment(code) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_department",
                "Unknown department",
                detail,
            )
            .with("field", "department")
            .with("department", code),
            PlaceError::UnknownWindow { department, window } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_window",
                "Unknown window",
                detail,
            )
            .with("field", "window")
            .with("department", department)
            .with("window", window),
        }
    }
}

impl From<DepartmentError> for ApiError {
    fn from(e: DepartmentError) -> Self {
        let detail = e.to_string();
        match e {
            DepartmentError::Invalid { field, .. } => {
                ApiError::invalid(Some(field.to_string()), detail)
            }
            DepartmentError::DepartmentExists(code) => ApiError::new(
                StatusCode::CONFLICT,
                "department_exists",
                "Department exists",
                detail,
            )
            .with("department", code),
            DepartmentError::WindowExists { department, window } => ApiError::new(
                StatusCode::CONFLICT,
                "window_exists",
                "Window exists",
                detail,
            )
            .with("department", department)
            .with("window", window),
            DepartmentError::Unknown(place) => place.into(),
            DepartmentError::Db(db) => db.into(),
        }
    }
}

/// A new department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "D01", "name": "公安局出入境管理大队", "name_en": "Public Security Bureau, Exit-Entry Administration"}))]
pub struct DepartmentInput {
    /// 1–32 of `[A-Za-z0-9_-]`.
    code: String,
    /// Chinese name, 1–100 characters.
    name: String,
    /// English name, 1–100 characters.
    #[serde(default)]
    name_en: Option<String>,
}

/// A new window of a department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "W01", "name": "出入境受理1号窗口"}))]
pub struct WindowInput {
    /// 1–32 of `[A-Za-z0-9_-]`, unique within the department.
    code: String,
    /// Chinese name, 1–100 characters.
    name: String,
    /// English name, 1–100 characters.
    #[serde(default)]
    name_en: Option<String>,
}

/// A window as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    code: String,
    name: String,
    name_en: Option<String>,
}

impl From<&Window> for WindowView {
    fn from(w: &Window) -> Self {
        WindowView {
            code: w.code.clone(),
            name: w.name.clone(),
            name_en: w.name_en.clone(),
        }
    }
}

/// A department with its windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    code: String,
    name: String,
    name_en: Option<String>,
    windows: Vec<WindowView>,
}

impl From<&Department> for DepartmentView {
    fn from(d: &Department) -> Self {
        DepartmentView {
            code: d.code.clone(),
            name: d.name.clone(),
            name_en: d.name_en.clone(),
            windows: d.windows.iter().map(WindowView::from).collect(),
        }
    }
}

/// Every department, in code order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentList {
    items: Vec<DepartmentView>,
}

/// Every department with its windows, in code order (a few dozen at most: not paged).
#[utoipa::path(get, path = "/v1/departments", tag = "catalogue", responses((status = 200, body = DepartmentList)), security(("bearer" = [])))]
pub async fn list(ctx: web::Data<AppContext>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_CATALOGUE)?;
    let directory = with_conn(&ctx, |conn, _| Ok(departments::load(conn)?)).await?;
    Ok(HttpResponse::Ok().json(DepartmentList {
        items: directory.departments().map(DepartmentView::from).collect(),
    }))
}

/// Adds a department. An existing code is 409 `department_exists`: departments are added once.
#[utoipa::path(post, path = "/v1/departments", tag = "catalogue", request_body = DepartmentInput,
    responses((status = 201, body = DepartmentView), (status = 409, description = "department_exists"), (status = 422, description = "invalid_request"), (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn create(
    ctx: web::Data<AppContext>,
    caller: Caller,
    body: ApiJson<DepartmentInput>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::CHANGE_CATALOGUE)?.actor();
    let d = body.into_inner()?;
    let created = with_conn(&ctx, move |conn, _| {
        Ok(departments::add_department(
            conn,
            &d.code,
            &d.name,
            d.name_en.as_deref(),
            &actor,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(DepartmentView::from(&created)))
}

/// Adds a window to a department. An existing window code of the department is 409
/// `window_exists`; an unknown department is 422 `unknown_department`.
#[utoipa::path(post, path = "/v1/departments/{code}/windows", tag = "catalogue", request_body = WindowInput,
    params(("code" = String, Path, description = "the department")),
    responses((status = 201, body = WindowView), (status = 409, description = "window_exists"), (status = 422, description = "invalid_request, unknown_department"), (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn create_window(
    ctx: web::Data<AppContext>,
    caller: Caller,
    department: web::Path<String>,
    body: ApiJson<WindowInput>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::CHANGE_CATALOGUE)?.actor();
    let w = body.into_inner()?;
    let department = department.into_inner();
    let created = with_conn(&ctx, move |conn, _| {
        Ok(departments::add_window(
            conn,
            &department,
            &w.code,
            &w.name,
            w.name_en.as_deref(),
            &actor,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(WindowView::from(&created)))
}
