//! The HTTP layer: the actix app, one module per resource, errors as problem+json.
//!
//! Handlers are thin: parse the request into domain types, call one use case (inside
//! `web::block` when it touches the database), map the result. Only this layer knows status
//! codes.
//!
//! May depend on: everything else in the crate.

pub mod catalogue;
pub mod days;
pub mod extract;
pub mod health;
pub mod ledger;
pub mod limits;
pub mod openapi;
pub mod payments;
pub mod problem;
pub mod reconciliation;
pub mod remittances;
pub mod settlement;
pub mod upload;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::app::AppContext;
use problem::{ApiError, PROBLEM_JSON};

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    health::routes(cfg);
    ledger::routes(cfg);
    catalogue::routes(cfg);
    payments::routes(cfg);
    settlement::routes(cfg);
    days::routes(cfg);
    reconciliation::routes(cfg);
    remittances::routes(cfg);
}

/// Starts the server on an already-bound listener (port 0 in tests).
pub fn serve(ctx: AppContext, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let max_connections = ctx.config.max_connections;
    let request_timeout = Duration::from_secs(ctx.config.request_timeout_secs);
    let limiter = web::Data::new(limits::RateLimiter::new(
        ctx.config.rate_limit_per_minute,
        ctx.config.rate_limit_burst,
    ));
    let data = web::Data::new(ctx);
    let jobs = web::Data::new(crate::web::jobs::Jobs::default());
    let sign_in_limiter = web::Data::new(crate::web::session::SignInLimiter::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(limiter.clone())
            .app_data(jobs.clone())
            .app_data(sign_in_limiter.clone())
            .wrap(actix_web::middleware::from_fn(observe))
            .configure(routes)
            .configure(crate::web::routes)
            .default_service(web::to(|| async {
                ApiError::not_found("no such resource").into_result()
            }))
    })
    .workers(workers.max(1))
    .max_connections(max_connections)
    .client_request_timeout(request_timeout)
    .client_disconnect_timeout(Duration::from_secs(5))
    .shutdown_timeout(10)
    .listen(listener)?
    .run();
    Ok(server)
}

impl ApiError {
    /// As a handler result.
    pub fn into_result(self) -> Result<HttpResponse, ApiError> {
        Err(self)
    }
}

/// Logs and counts each request and turns any error response that is not yet a problem
/// document (framework 404/405/413…) into one, so clients see one error shape.
async fn observe(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status();
    // Problem documents, and the staff pages' own HTML error pages, are already what the
    // client should see.
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()) || v.as_bytes().starts_with(b"text/html")
    });
    let res = if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let (req, _) = res.into_parts();
        let mut problem = ApiError::from_status(status).error_response_boxed();
        problem
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        ServiceResponse::new(req, problem)
    } else {
        res.map_into_boxed_body()
    };
    let elapsed = started.elapsed().as_secs_f64();
    crate::metrics::record_request(&method, &route, status.as_u16(), elapsed);
    tracing::info!(method = %method, route = %route, status = status.as_u16(), ms = %format_args!("{:.3}", elapsed * 1e3), "request");
    Ok(res)
}

impl ApiError {
    fn error_response_boxed(&self) -> HttpResponse<BoxBody> {
        actix_web::ResponseError::error_response(self)
    }
}
