//! The date's imported files, and the upload form that adds one: the multipart form is read
//! part by part (the token before the file), the file spooled by [`crate::http::upload`] as the
//! API spools it, then imported as a task whose page shows the records read. Also the form
//! that withdraws an import no run has used (`recon::inputs::withdraw_file`, as the API).

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;

use super::{amount_cell, morning_date, ReconWords};
use crate::auth::may;
use crate::bankfiles::spec::Produces;
use crate::bankfiles::store::Imported;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::http::upload::{import_spooled, spool, upload_target, Spooled};
use crate::web::jobs::{self, Jobs, Outcome};
use crate::web::table::{Cell, Table};
use crate::web::{OrPage, PostForm, Staff, WebError, BASE};

fn produces_label(t: &ReconWords, p: Produces) -> &'static str {
    match p {
        Produces::Settlement => t.produces_settlement,
        Produces::Statement => t.produces_statement,
    }
}

pub(super) fn files_table(files: &[Imported], t: &ReconWords) -> Table {
    let mut table = Table::new("files", t.files, t.no_files)
        .col(t.file_name)
        .col(t.spec)
        .col(t.produces)
        .num(t.records)
        .num(t.gross_or_credits)
        .num(t.fee)
        .num(t.net_or_debits)
        .col(t.imported_at)
        .col(t.imported_by);
    for f in files {
        let statement = f.produces == Produces::Statement;
        let (a, b) = if statement {
            (f.totals.credits.as_deref(), f.totals.debits.as_deref())
        } else {
            (f.totals.gross.as_deref(), f.totals.net.as_deref())
        };
        table.push(vec![
            Cell::text(f.file_name.clone().unwrap_or_else(|| f.id.clone())),
            Cell::text(&f.spec),
            Cell::text(produces_label(t, f.produces)),
            Cell::Int(i64::try_from(f.records).unwrap_or(i64::MAX)),
            amount_cell(a),
            amount_cell(f.totals.fee.as_deref()),
            amount_cell(b),
            Cell::Text(crate::web::local_time(&f.imported_at.naive_utc())),
            Cell::text(&f.imported_by),
        ]);
    }
    table
}

fn bad_form(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "Bad request",
        format!("the form could not be read: {detail}"),
    )
}

/// The upload form has four parts; a request with many more is not one of ours.
const MAX_PARTS: usize = 16;

/// A short text field of a multipart form (at most 1 KiB).
async fn text_field(
    field: &mut actix_multipart::Field,
    idle: Duration,
) -> Result<String, ApiError> {
    let name = field.name().map(str::to_string);
    let bytes = actix_web::rt::time::timeout(idle, field.bytes(1024))
        .await
        .map_err(|_| crate::http::extract::body_timed_out(idle))?
        .map_err(|_| ApiError::invalid(name.clone(), "the field is too long"))?
        .map_err(bad_form)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid(name, "not UTF-8 text"))
}

/// What the upload form sent: whether its token was good, the date and spec as typed, and the
/// file, spooled, with its name.
#[derive(Default)]
struct UploadForm {
    csrf_ok: bool,
    date: Option<String>,
    spec: Option<String>,
    file: Option<(Spooled, String)>,
}

/// Reads the upload form part by part. The file is spooled only after a good token; a file
/// part with neither a name nor bytes (nothing chosen) is dropped.
async fn read_form(
    staff: &Staff,
    form: &mut Multipart,
    idle: Duration,
) -> Result<UploadForm, WebError> {
    let lang = staff.lang;
    let config = &staff.ctx.config;
    let mut got = UploadForm::default();
    let mut parts = 0;
    loop {
        let next = actix_web::rt::time::timeout(idle, form.next())
            .await
            .map_err(|_| crate::http::extract::body_timed_out(idle))
            .or_page(lang)?;
        let Some(field) = next else { break };
        parts += 1;
        if parts > MAX_PARTS {
            return Err(WebError::Problem(
                bad_form(format!("more than {MAX_PARTS} parts")),
                lang,
            ));
        }
        let mut field = field.map_err(bad_form).or_page(lang)?;
        // a part without a name is no field of this form: ignored below
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if !got.csrf_ok {
                return Err(staff.form_expired());
            }
            // no file name given: the spec must then be chosen (checked with the spec)
            let file_name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .unwrap_or_default()
                .to_string();
            let spooled = spool(
                &config.data_dir,
                &mut field,
                config.upload_limit_bytes,
                idle,
            )
            .await
            .or_page(lang)?;
            if !file_name.is_empty() || spooled.size > 0 {
                got.file = Some((spooled, file_name));
            }
            continue;
        }
        let value = text_field(&mut field, idle).await.or_page(lang)?;
        match name.as_str() {
            "csrf" => got.csrf_ok = staff.csrf_ok(&value),
            "spec" => got.spec = Some(value).filter(|s| !s.is_empty()),
            "date" => got.date = Some(value),
            _ => {}
        }
    }
    Ok(got)
}

/// The upload form: `csrf` (first), `date`, `spec` (empty: from the file name), `file`. The
/// token is checked before the file is read; the file is spooled as the API spools it, then
/// imported as a task.
pub(super) async fn upload(
    staff: Staff,
    jobs: web::Data<Jobs>,
    mut form: Multipart,
) -> Result<HttpResponse, WebError> {
    staff.require(may::IMPORT_FILES)?;
    let lang = staff.lang;
    let t = ReconWords::of(lang);
    let ctx = staff.ctx.clone();
    let idle = Duration::from_secs(ctx.config.request_timeout_secs);
    let got = read_form(&staff, &mut form, idle).await?;
    if !got.csrf_ok {
        return Err(staff.form_expired());
    }
    let date = morning_date(got.date.as_deref(), &staff.ctx).or_page(lang)?;
    let Some((spooled, file_name)) = got.file else {
        return Err(WebError::Problem(
            ApiError::invalid(Some("file".into()), t.choose_file),
            lang,
        ));
    };
    let name = Some(file_name.as_str()).filter(|n| !n.is_empty());
    let spec = match got.spec {
        Some(s) => Some(s),
        None => Some(
            name.and_then(|n| ctx.bank_specs.for_file_name(n))
                .ok_or_else(|| ApiError::invalid(Some("spec".into()), t.no_spec_fits))
                .or_page(lang)?
                .to_string(),
        ),
    };
    let (spec, name) = upload_target(&ctx, spec, name).or_page(lang)?;
    let actor = staff.actor();
    let back = format!("{BASE}/reconciliation?date={date}");
    let shown = name.clone().unwrap_or_else(|| spec.clone());
    let id = jobs
        .start(
            format!("{} {shown}", t.importing),
            staff.principal.token_id.clone(),
            move |progress| {
                progress.phase(t.reading_records, None);
                match import_spooled(&ctx, spooled, &spec, name.as_deref(), &actor, &mut |n| {
                    progress.done(n)
                }) {
                    Ok(f) => Outcome::Done {
                        summary: imported_summary(t, &shown, &spec, &f),
                        href: back,
                    },
                    Err(e) => Outcome::Failed(e),
                }
            },
        )
        .await
        .or_page(lang)?;
    Ok(jobs::follow(&id))
}

/// What the finished import task says: the file, its spec, the records read, and whether the
/// same bytes had been imported before.
fn imported_summary(t: &ReconWords, shown: &str, spec: &str, f: &Imported) -> String {
    format!(
        "{} {shown}{}{spec}{}{}{} {}{}{}",
        t.imported_done,
        t.open_paren,
        t.close_paren,
        t.colon,
        f.records,
        t.records_unit,
        match f.lines_already_imported {
            Some(n) if n > 0 => format!("{}{n} {}", t.semicolon, t.lines_known),
            _ => String::new(),
        },
        if f.duplicate {
            format!("{}{}", t.semicolon, t.already_imported)
        } else {
            String::new()
        }
    )
}

/// The withdraw form: the reason, and the date whose page to go back to.
#[derive(Debug, serde::Deserialize)]
pub(super) struct WithdrawForm {
    reason: String,
    #[serde(default)]
    date: Option<String>,
}

/// Withdraws an import (finance), as `POST /v1/settlement-files/{id}/withdraw`.
pub(super) async fn withdraw(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<WithdrawForm>,
) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::IMPORT_FILES)?.actor();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let date = morning_date(f.date.as_deref(), &staff.ctx).or_page(lang)?;
    let id = id.into_inner();
    let reason = f.reason;
    let file = with_conn(&staff.ctx, move |conn, _| {
        Ok(crate::recon::inputs::withdraw_file(
            conn, &id, &reason, &actor,
        )?)
    })
    .await
    .or_page(lang)?;
    let t = ReconWords::of(lang);
    let shown = file.file_name.clone().unwrap_or_else(|| file.id.clone());
    Ok(staff.done(
        &format!("{BASE}/reconciliation?date={date}"),
        &format!("{}{shown}", t.withdrawn_message),
    ))
}

/// A file the page offers to withdraw: its id and what to call it.
pub(super) struct Withdrawable {
    pub id: String,
    pub name: String,
}

/// The date's files that may be offered for withdrawal (the service refuses any a run used).
pub(super) fn withdrawable(files: &[Imported]) -> Vec<Withdrawable> {
    files
        .iter()
        .filter(|f| !f.withdrawn)
        .map(|f| Withdrawable {
            id: f.id.clone(),
            name: f.file_name.clone().unwrap_or_else(|| f.id.clone()),
        })
        .collect()
}
