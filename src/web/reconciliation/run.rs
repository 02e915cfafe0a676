//! Starting the date's reconciliation from the page: a task that reports the run's phases
//! (`recon::runs`) and ends with what matched, what stays open and the settlement entries posted.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;

use super::{morning_date, DateForm, ReconWords};
use crate::auth::may;
use crate::http::problem::ApiError;
use crate::recon::runs::{self, Phase, Run};
use crate::web::jobs::{self, Jobs, Outcome};
use crate::web::{OrPage, PostForm, Staff, WebError, BASE};

impl ReconWords {
    fn phase(&self, phase: Phase) -> &'static str {
        match phase {
            Phase::Load => self.phase_load,
            Phase::Match => self.phase_match,
            Phase::Store => self.phase_store,
            Phase::Post => self.phase_post,
        }
    }
}

pub(super) async fn run(
    staff: Staff,
    jobs: web::Data<Jobs>,
    form: PostForm<DateForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::RECONCILE)?;
    let lang = staff.lang;
    let f = staff.form(form)?;
    let date = morning_date(Some(&f.date), &staff.ctx).or_page(lang)?;
    let t = ReconWords::of(lang);
    let ctx = staff.ctx.clone();
    let actor = staff.actor();
    let href = format!("{BASE}/reconciliation?date={date}");
    let id = jobs
        .start(
            format!("{} {date}", t.run_title),
            staff.principal.token_id.clone(),
            move |progress| {
                let outcome = ctx.conn().map_err(ApiError::from).and_then(|mut conn| {
                    let settings = super::page::run_settings(&ctx);
                    runs::run_with_progress(
                        &mut conn,
                        &ctx.writer,
                        &settings,
                        date,
                        &actor,
                        &mut |p| progress.phase(t.phase(p), None),
                    )
                    .map_err(ApiError::from)
                });
                match outcome {
                    Ok(run) => Outcome::Done {
                        summary: run_summary(t, date, &run),
                        href,
                    },
                    Err(e) => Outcome::Failed(e),
                }
            },
        )
        .await
        .or_page(lang)?;
    Ok(jobs::follow(&id))
}

/// What the finished run task says: how many matched, how many exceptions are open, and the
/// settlement entries it posted.
fn run_summary(t: &ReconWords, date: NaiveDate, run: &Run) -> String {
    // runs store the whole matcher Summary (every category), so no key is ever missing
    let count = |c: &str| run.summary.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
    let entries: Vec<String> = run
        .settlement_entries
        .iter()
        .map(|s| format!("#{s}"))
        .collect();
    format!(
        "{} {date}{}{} {}{}{} {}{}{}{}{}",
        t.run_done,
        t.colon,
        t.cat_matched,
        count("matched"),
        t.comma,
        run.open_exceptions,
        t.open_unit,
        t.semicolon,
        t.posted_entries,
        t.colon,
        if entries.is_empty() {
            "—".to_string()
        } else {
            entries.join(", ")
        }
    )
}
