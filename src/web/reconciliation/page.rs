//! The reconciliation page itself: the date's files, latest run and close blockers read in one
//! go, laid out with the upload, run, filter, resolve and approve forms (or as a CSV of one
//! table). The daily report reads the same state through [`load_for`].

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::blockers::{blockers, Blocker};
use super::exceptions::{exceptions_table, Opt, Selects};
use super::files::{files_table, withdrawable, Withdrawable};
use super::results::{awaiting_table, balance_table, findings_table, group_tables, tiers_table};
use super::workspace::{rows, Row, Sources};
use super::{morning_date, ReconWords};
use crate::auth::may;
use crate::bankfiles::store::{self, Imported};
use crate::bankfiles::SpecInfo;
use crate::catalogue::departments::{self, Directory};
use crate::http::blocking::with_conn;
use crate::recon::days;
use crate::recon::exceptions::{self, ExceptionState};
use crate::recon::runs::{self, Report, Run};
use crate::recon::workspace::{self, Workspace};
use crate::web::i18n::{Common, Lang};
use crate::web::table::{link_csv, Table};
use crate::web::{download, Chrome, Export, OrPage, Staff, WebError};

/// What the page needs to know about the date, read in one go.
struct Loaded {
    files: Vec<Imported>,
    report: Option<Report>,
    states: Vec<ExceptionState>,
    /// The records the exceptions name and their candidates.
    workspace: Workspace,
    day: days::Day,
    blockers: Vec<days::CloseError>,
    /// For the departments' names.
    directory: Directory,
}

async fn load(staff: &Staff, date: NaiveDate) -> Result<Loaded, WebError> {
    with_conn(&staff.ctx, move |conn, ctx| {
        let ids = runs::input_files(conn, date, &run_settings(ctx))?;
        let files = store::get_many(conn, &ids)?;
        let report = match runs::latest(conn, date)? {
            Some(run) => runs::report(conn, &run.id)?,
            None => None,
        };
        let states = match &report {
            Some(r) => exceptions::of_run(conn, &r.run.id)?,
            None => Vec::new(),
        };
        let workspace = match &report {
            Some(r) => workspace::load(conn, date, &r.exceptions)?,
            None => Workspace::default(),
        };
        let blockers = days::close_blockers(conn, date, ctx.business_today())?;
        Ok(Loaded {
            files,
            report,
            states,
            workspace,
            day: days::get(conn, date)?,
            blockers,
            directory: departments::load(conn)?,
        })
    })
    .await
    .or_page(staff.lang)
}

/// What a run of this service needs from its settings.
pub(super) fn run_settings(ctx: &crate::app::AppContext) -> runs::Settings {
    ctx.recon_settings()
}

/// The date's reconciliation state for other pages (the daily report).
pub(in crate::web) async fn load_for(
    staff: &Staff,
    date: NaiveDate,
) -> Result<ReconState, WebError> {
    let loaded = load(staff, date).await?;
    Ok(ReconState {
        report: loaded.report,
        states: loaded.states,
    })
}

/// A date's latest run, with how its exceptions were worked.
pub(in crate::web) struct ReconState {
    pub report: Option<Report>,
    pub states: Vec<ExceptionState>,
}

#[derive(Template)]
#[template(path = "reconciliation.html", config = "src/web/askama.toml")]
struct ReconPage {
    c: Chrome,
    t: &'static ReconWords,
    date: NaiveDate,
    here: String,
    specs: Vec<SpecInfo>,
    may_import: bool,
    may_run: bool,
    run: Option<Run>,
    day_closed: bool,
    blockers: Vec<Blocker>,
    statuses: Vec<Opt>,
    kinds: Vec<Opt>,
    files: Table,
    withdrawable: Vec<Withdrawable>,
    findings: Table,
    summary: Vec<Table>,
    groups: Vec<Table>,
    /// Kept for its export links (and the CSV / XLSX); the rows draw the exceptions.
    exceptions: Table,
    awaiting: Table,
    rows: Vec<Row>,
}

/// `?date=&status=&kind=&csv=`.
#[derive(Debug, Deserialize)]
pub(super) struct ReconQuery {
    date: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// The tables the latest run gives the page (all empty before the first run): its summary
/// (tiers, balance), its groups (channel, department, netting), its exceptions as filtered,
/// and the unresolved ones among them with their forms.
struct RunTables {
    summary: Vec<Table>,
    groups: Vec<Table>,
    exceptions: Table,
    awaiting: Table,
    rows: Vec<Row>,
}

fn run_tables(
    loaded: &Loaded,
    keep: impl Fn(&runs::ExceptionRow) -> bool,
    (t, w): (&'static ReconWords, &Common),
    (staff, lang): (&Staff, Lang),
) -> RunTables {
    let Some(report) = &loaded.report else {
        return RunTables {
            summary: Vec::new(),
            groups: Vec::new(),
            exceptions: Table::new("exceptions", t.exceptions, t.no_exceptions),
            awaiting: Table::new("awaiting_credit", t.awaiting, t.no_awaiting),
            rows: Vec::new(),
        };
    };
    let sources = Sources {
        report,
        states: &loaded.states,
        ws: &loaded.workspace,
        directory: &loaded.directory,
        viewer: &staff.principal,
        may_resolve: staff.may(may::RESOLVE_EXCEPTION),
    };
    RunTables {
        rows: rows(&sources, &keep, t, lang),
        awaiting: awaiting_table(report, t),
        summary: vec![
            tiers_table(&report.run, t, w),
            balance_table(&report.run, t),
        ],
        groups: group_tables(report, (t, w), &loaded.directory, lang),
        exceptions: exceptions_table(
            "exceptions",
            t.exceptions,
            report,
            &loaded.states,
            keep,
            t,
            lang,
        ),
    }
}

pub(super) async fn show(
    staff: Staff,
    query: web::Query<ReconQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_RECONCILIATION)?;
    let lang = staff.lang;
    let date = morning_date(query.date.as_deref(), &staff.ctx).or_page(lang)?;
    let loaded = load(&staff, date).await?;
    let (t, w) = (ReconWords::of(lang), staff.w);
    let status = query.status.clone().unwrap_or_default();
    let kind = query.kind.clone().unwrap_or_default();
    let keep = |e: &runs::ExceptionRow| {
        (status.is_empty() || e.status.as_ref() == status)
            && (kind.is_empty() || e.kind.as_ref() == kind)
    };
    let mut files = files_table(&loaded.files, t);
    let mut findings = match &loaded.report {
        Some(report) => findings_table(report, t, lang),
        None => Table::new("findings", t.findings, t.no_findings),
    };
    let RunTables {
        mut summary,
        mut groups,
        mut exceptions,
        mut awaiting,
        rows,
    } = run_tables(&loaded, keep, (t, w), (&staff, lang));
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        let mut all: Vec<&Table> = vec![&files, &exceptions, &findings, &awaiting];
        all.extend(summary.iter());
        all.extend(groups.iter());
        return download(&all, id, &format!("reconciliation-{date}"), lang);
    }
    let (path, qs) = (
        staff.request().path().to_string(),
        staff.request().query_string().to_string(),
    );
    {
        let mut refs: Vec<&mut Table> =
            vec![&mut files, &mut exceptions, &mut findings, &mut awaiting];
        refs.extend(summary.iter_mut());
        refs.extend(groups.iter_mut());
        link_csv(&mut refs, &path, &qs);
    }
    let Selects { statuses, kinds } = Selects::new(t, &status, &kind);
    let page = ReconPage {
        c: staff.chrome(format!("{} · {date}", t.title), "reconciliation"),
        t,
        date,
        here: crate::web::here(staff.request()),
        specs: staff.ctx.bank_specs.list(),
        may_import: staff.may(may::IMPORT_FILES),
        may_run: staff.may(may::RECONCILE),
        run: loaded.report.as_ref().map(|r| r.run.clone()),
        day_closed: loaded.day.is_closed(),
        blockers: blockers(loaded.blockers, lang),
        statuses,
        kinds,
        withdrawable: withdrawable(&loaded.files),
        files,
        findings,
        summary,
        groups,
        exceptions,
        awaiting,
        rows,
    };
    staff.page(&page)
}
