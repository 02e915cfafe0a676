//! The blocking database prologue every handler and page shares: take a pooled connection on
//! the blocking thread pool (getting one blocks too, so it belongs inside), run the use case,
//! and come back with its result.

use actix_web::web;

use super::problem::ApiError;
use crate::app::AppContext;

/// Runs `f` with a pooled connection on actix's blocking pool.
pub async fn with_conn<T: Send + 'static>(
    ctx: &web::Data<AppContext>,
    f: impl FnOnce(&mut crate::db::DbConn, &AppContext) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let ctx = ctx.clone().into_inner();
    web::block(move || {
        let mut conn = ctx.conn()?;
        f(&mut conn, &ctx)
    })
    .await?
}

/// [`with_conn`] for a long read (chain verify, reports, exports): the connection comes from
/// the small pool of its own ([`AppContext::read_pool`]), so such reads queue among themselves
/// and never take the connections authentication and the counter need.
pub async fn with_read_conn<T: Send + 'static>(
    ctx: &web::Data<AppContext>,
    f: impl FnOnce(&mut crate::db::DbConn, &AppContext) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let ctx = ctx.clone().into_inner();
    web::block(move || {
        let mut conn = ctx.read_conn()?;
        f(&mut conn, &ctx)
    })
    .await?
}
