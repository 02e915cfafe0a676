//! What still stops the day from closing, as the reconciliation, day-close and report pages
//! show it: the close use case's refusals (`recon::days`) with their titles in the page language.

use crate::http::problem::ApiError;
use crate::recon::days;
use crate::web::i18n::Lang;

/// A reason the day close would be refused now, as the pages show it: the problem code the
/// close answers, its title in the page language, and the detail.
pub(in crate::web) struct Blocker {
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
}

/// The close use case's refusals as [`Blocker`]s in `lang`.
pub(in crate::web) fn blockers(found: Vec<days::CloseError>, lang: Lang) -> Vec<Blocker> {
    found
        .into_iter()
        .map(ApiError::from)
        .map(|p| {
            let (title, detail) = p.said(lang);
            Blocker {
                code: p.code,
                title,
                detail,
            }
        })
        .collect()
}
