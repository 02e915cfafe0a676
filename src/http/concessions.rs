//! `/v1/concessions`: the concessions (优惠政策) granted, for supervision — by fee item,
//! concession, window and clerk, with the standard amount forgone. Finance, supervisors and
//! auditors read.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::blocking::with_conn;
use super::extract::{ApiQuery, Caller};
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::may;
use crate::payments::concessions::{self, GrantedSummary, RangeError};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/concessions", web::get().to(list));
}

/// One business date, or a range (at most 366 days).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConcessionsQuery {
    /// One business date (not with `from` or `to`).
    #[param(value_type = Option<String>, format = Date)]
    business_date: Option<NaiveDate>,
    /// First business date (default: `to`).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last business date (default: today).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
}

impl From<RangeError> for ApiError {
    fn from(e: RangeError) -> Self {
        let field = match e {
            RangeError::Both => "business_date",
            RangeError::Reversed { .. } | RangeError::TooLong => "from",
        };
        ApiError::invalid(Some(field.to_string()), e.to_string())
    }
}

/// The concessions granted on the business dates asked for (payments not voided), summed by
/// fee item, concession, window and clerk, with their totals.
#[utoipa::path(get, path = "/v1/concessions", tag = "payments", params(ConcessionsQuery),
    responses((status = 200, body = GrantedSummary), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")),
    security(("bearer" = [])))]
pub async fn list(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ConcessionsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_CONCESSIONS)?;
    let (from, to) =
        concessions::resolve_range(q.business_date, q.from, q.to, ctx.business_today())?;
    let summary = with_conn(&ctx, move |conn, _| {
        Ok(concessions::granted(conn, from, to)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}
