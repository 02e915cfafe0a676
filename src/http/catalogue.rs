//! `/v1/fee-items`: the fee catalogue. Admin writes, every role reads.

use crate::auth::may;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::blocking::with_conn;
use super::extract::{amount_field, ApiJson, ApiQuery, Caller};
use super::paging::{Page, Paged};
use super::problem::ApiError;
use super::queries::list_fee_items;
use crate::app::AppContext;
use crate::catalogue::departments::PlaceError;
use crate::catalogue::{
    self, CatalogueChangeError, CatalogueError, Concession, ConcessionKind, FeeItem, Pricing,
    PricingKind,
};
use crate::money::format_minor;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/fee-items", web::post().to(create))
        .route("/v1/fee-items", web::get().to(list))
        .route("/v1/fee-items/{code}", web::get().to(get));
}

/// The legal basis: the document alone, or document and article.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LegalBasisInput {
    /// `"发改价格规〔2016〕2559号"`.
    Document(String),
    /// `{"document": "…", "article": "第一条"}`.
    Cited {
        /// Document number (文号).
        document: String,
        /// Article, if cited.
        article: Option<String>,
    },
}

/// Pricing as clients send it: amounts are decimal strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PricingInput {
    /// Amount per item.
    Fixed {
        /// `"80.00"`.
        amount: String,
    },
    /// Amount per unit.
    PerUnit {
        /// `"3.50"`.
        unit_amount: String,
        /// `"m²"`.
        unit: String,
    },
    /// Any amount between min and max.
    Range {
        /// Least amount.
        min: String,
        /// Greatest amount.
        max: String,
    },
}

/// A concession (优惠政策) of the version: a listed case in which the fee is waived (`exempt`,
/// amount 0.00 or left out) or reduced (`reduced`: more than 0.00 and less than the standard —
/// per item for fixed items, per unit for per-unit items, below `min` for range items, charged
/// once).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcessionInput {
    /// 1–32 of `[A-Za-z0-9_-]`, unique within the version.
    code: String,
    /// `低保户免收`.
    name: String,
    /// The document and article that grant it.
    legal_basis: String,
    kind: ConcessionKind,
    /// What is charged instead; `"0.00"` or left out for an exemption.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: Option<String>,
}

/// A fee item (or a new version of one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeItemInput {
    code: String,
    name: String,
    department: String,
    revenue_subject: String,
    legal_basis: LegalBasisInput,
    pricing: PricingInput,
    effective_from: NaiveDate,
    effective_to: Option<NaiveDate>,
    /// The version's concessions (none when left out).
    #[serde(default)]
    concessions: Vec<ConcessionInput>,
}

impl FeeItemInput {
    fn into_item(self) -> Result<FeeItem, ApiError> {
        let pricing = match self.pricing {
            PricingInput::Fixed { amount: a } => Pricing::Fixed {
                amount_minor: amount_field("pricing.amount", &a)?,
            },
            PricingInput::PerUnit { unit_amount, unit } => Pricing::PerUnit {
                unit_amount_minor: amount_field("pricing.unit_amount", &unit_amount)?,
                unit,
            },
            PricingInput::Range { min, max } => Pricing::Range {
                min_minor: amount_field("pricing.min", &min)?,
                max_minor: amount_field("pricing.max", &max)?,
            },
        };
        let concessions = self
            .concessions
            .into_iter()
            .map(|c| {
                Ok(Concession {
                    amount_minor: match &c.amount {
                        Some(a) => amount_field("concessions.amount", a)?,
                        None => 0,
                    },
                    code: c.code,
                    name: c.name,
                    legal_basis: c.legal_basis,
                    kind: c.kind,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let (legal_document, legal_article) = match self.legal_basis {
            LegalBasisInput::Document(d) => (d, None),
            LegalBasisInput::Cited { document, article } => (document, article),
        };
        Ok(FeeItem {
            code: self.code,
            version: 0,
            name: self.name,
            department: self.department,
            revenue_subject: self.revenue_subject,
            legal_document,
            legal_article,
            pricing,
            effective_from: self.effective_from,
            effective_to: self.effective_to,
            concessions,
        })
    }
}

/// A fee item version as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeeItemView {
    code: String,
    version: i64,
    name: String,
    department: String,
    revenue_subject: String,
    legal_basis: LegalBasisView,
    pricing: serde_json::Value,
    effective_from: NaiveDate,
    effective_to: Option<NaiveDate>,
    concessions: Vec<ConcessionView>,
}

/// A concession of the version as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConcessionView {
    code: String,
    name: String,
    legal_basis: String,
    kind: ConcessionKind,
    /// What is charged instead (per item, per unit, or once for a range item); 0.00 when
    /// exempt.
    amount: String,
}

impl From<&Concession> for ConcessionView {
    fn from(c: &Concession) -> Self {
        ConcessionView {
            code: c.code.clone(),
            name: c.name.clone(),
            legal_basis: c.legal_basis.clone(),
            kind: c.kind,
            amount: format_minor(c.amount_minor),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct LegalBasisView {
    document: String,
    article: Option<String>,
}

impl From<&FeeItem> for FeeItemView {
    fn from(i: &FeeItem) -> Self {
        let pricing = match &i.pricing {
            Pricing::Fixed { amount_minor } => {
                serde_json::json!({"kind": PricingKind::Fixed.as_ref(), "amount": format_minor(*amount_minor)})
            }
            Pricing::PerUnit {
                unit_amount_minor,
                unit,
            } => {
                serde_json::json!({"kind": PricingKind::PerUnit.as_ref(), "unit_amount": format_minor(*unit_amount_minor), "unit": unit})
            }
            Pricing::Range {
                min_minor,
                max_minor,
            } => {
                serde_json::json!({"kind": PricingKind::Range.as_ref(), "min": format_minor(*min_minor), "max": format_minor(*max_minor)})
            }
        };
        FeeItemView {
            code: i.code.clone(),
            version: i.version,
            name: i.name.clone(),
            department: i.department.clone(),
            revenue_subject: i.revenue_subject.clone(),
            legal_basis: LegalBasisView {
                document: i.legal_document.clone(),
                article: i.legal_article.clone(),
            },
            pricing,
            effective_from: i.effective_from,
            effective_to: i.effective_to,
            concessions: i.concessions.iter().map(ConcessionView::from).collect(),
        }
    }
}

impl From<CatalogueChangeError> for ApiError {
    fn from(e: CatalogueChangeError) -> Self {
        let detail = e.to_string();
        match e {
            CatalogueChangeError::Invalid(CatalogueError::Invalid { field, .. }) => {
                ApiError::invalid(Some(field.to_string()), detail)
            }
            CatalogueChangeError::Invalid(_) => ApiError::invalid(None, detail),
            CatalogueChangeError::UnknownRevenueSubject(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_revenue_subject",
                "Unknown revenue subject",
                detail,
            )
            .with("field", "revenue_subject"),
            CatalogueChangeError::UnknownDepartment(code) => {
                PlaceError::UnknownDepartment(code).into()
            }
            CatalogueChangeError::Retroactive { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "retroactive_change",
                "A change cannot take effect in the past",
                detail,
            )
            .with("field", "effective_from"),
            CatalogueChangeError::OutOfOrder { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "version_out_of_order",
                "Versions take effect in order",
                detail,
            ),
            CatalogueChangeError::Concurrent(_) => ApiError::new(
                StatusCode::CONFLICT,
                "concurrent_change",
                "Changed at the same time",
                detail,
            ),
            CatalogueChangeError::Db(db) => db.into(),
        }
    }
}

/// Creates an item, or a new version of an existing code effective from its `effective_from`.
#[utoipa::path(post, path = "/v1/fee-items", tag = "catalogue", request_body = FeeItemInput,
    responses((status = 201, body = FeeItemView), (status = 409, description = "version_out_of_order, concurrent_change"), (status = 422, description = "invalid_request, unknown_revenue_subject, unknown_department, retroactive_change"), (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn create(
    ctx: web::Data<AppContext>,
    caller: Caller,
    body: ApiJson<FeeItemInput>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::CHANGE_CATALOGUE)?.actor();
    let input = body.into_inner()?;
    let item = input.into_item()?;
    let created = with_conn(&ctx, move |conn, ctx| {
        // Fresh: a 2103 sub-account opened a moment ago, perhaps by another instance, counts.
        let chart = ctx.chart.fresh(conn)?;
        Ok(catalogue::add_version(
            conn,
            &chart,
            item,
            &actor,
            crate::clock::today(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(FeeItemView::from(&created)))
}

/// The latest version of every item, in code order.
#[utoipa::path(get, path = "/v1/fee-items", tag = "catalogue", params(Page), responses((status = 200, body = inline(Paged<FeeItemView>))), security(("bearer" = [])))]
pub async fn list(
    ctx: web::Data<AppContext>,
    _caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<HttpResponse, ApiError> {
    let page = with_conn(&ctx, move |conn, _| list_fee_items(conn, &page)).await?;
    Ok(HttpResponse::Ok().json(page.map(|i| FeeItemView::from(&i))))
}

/// One item: its latest version, with every version.
#[utoipa::path(get, path = "/v1/fee-items/{code}", tag = "catalogue", params(("code" = String, Path)), responses((status = 200, body = FeeItemView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    _caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let lookup = code.clone();
    let versions = with_conn(&ctx, move |conn, _| Ok(catalogue::versions(conn, &lookup)?)).await?;
    let Some(latest) = versions.last() else {
        return Err(ApiError::not_found(format!("no fee item '{code}'")));
    };
    let unserialisable = |e: serde_json::Error| ApiError::internal(&e);
    let mut body = serde_json::to_value(FeeItemView::from(latest)).map_err(unserialisable)?;
    body["versions"] =
        serde_json::to_value(versions.iter().map(FeeItemView::from).collect::<Vec<_>>())
            .map_err(unserialisable)?;
    Ok(HttpResponse::Ok().json(body))
}
