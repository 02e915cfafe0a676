//! The actix app that serves both faces of the service, assembled above them: the API
//! ([`crate::http`]) and the staff pages ([`crate::web`]), sharing one [`AppContext`], one
//! request log and one error shape.
//!
//! May depend on: `app`, `http`, `web`, `metrics`. Nothing imports it but the binary and tests.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::app::AppContext;
use crate::http::limits::RateLimiter;
use crate::http::problem::{ApiError, PROBLEM_JSON};
use crate::words::Lang;

/// Starts the server on an already-bound listener (port 0 in tests).
pub fn serve(ctx: AppContext, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let max_connections = ctx.config.max_connections;
    let request_timeout = Duration::from_secs(ctx.config.request_timeout_secs);
    let limiter = web::Data::new(RateLimiter::new(
        ctx.config.rate_limit_per_minute,
        ctx.config.rate_limit_burst,
    ));
    let jobs = web::Data::new(crate::web::jobs::Jobs::new(ctx.clone()));
    let data = web::Data::new(ctx);
    let sign_in_limiter = web::Data::new(crate::web::session::SignInLimiter::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(limiter.clone())
            .app_data(jobs.clone())
            .app_data(sign_in_limiter.clone())
            .wrap(actix_web::middleware::from_fn(head_as_get))
            .wrap(actix_web::middleware::from_fn(observe))
            .configure(crate::http::routes)
            .configure(crate::web::routes)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::not_found("no such resource"))
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

/// Answers `HEAD` wherever `GET` is answered (RFC 9110 §9.3.2): the request is routed as a
/// `GET`, and the HTTP codec, which remembers that the request on the wire was a `HEAD`, sends
/// the answer's status and headers (with its length) but not its body. Every `GET` handler only
/// reads, so routing a `HEAD` through it changes nothing. Inside [`observe`], so the request log
/// still says `HEAD`.
async fn head_as_get(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// The language a request's problems are answered in (`Accept-Language`; zh-CN by default).
fn request_language(req: &actix_web::HttpRequest) -> Lang {
    Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A problem answer rewritten in the request's language (handlers' errors are written in
/// zh-CN, not knowing the request); the other headers stay.
fn in_request_language<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> ServiceResponse<BoxBody> {
    let Some(problem) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .cloned()
    else {
        return res.map_into_boxed_body();
    };
    let lang = request_language(res.request());
    let (req, old) = res.into_parts();
    let mut new = problem.response_in(lang);
    for (name, value) in old.headers() {
        if !new.headers().contains_key(name) {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

/// Logs (with the client's address, as [`crate::http::client`] finds it) and counts each
/// request, sends HSTS on responses served over HTTPS, and turns any error response that is not yet a problem
/// document (framework 404/405/413…) into one, so clients see one error shape.
async fn observe(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let https = crate::http::client::is_https(req.request());
    let client = crate::http::client::client_ip(req.request());
    let res = next.call(req).await?;
    crate::http::extract::after_answer(res.request());
    let res = in_request_language(res);
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
    let mut res = if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let (req, _) = res.into_parts();
        let lang = request_language(&req);
        let mut problem = ApiError::from_status(status).response_in(lang);
        problem
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        ServiceResponse::new(req, problem)
    } else {
        res.map_into_boxed_body()
    };
    if https {
        // Browsers that reached us over HTTPS once never try plain HTTP again for a year.
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(crate::http::client::HSTS),
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    crate::metrics::record_request(&method, &route, status.as_u16(), elapsed);
    let client = client.map_or_else(|| "-".to_string(), |ip| ip.to_string());
    tracing::info!(method = %method, route = %route, client = %client, status = status.as_u16(), ms = %format_args!("{:.3}", elapsed * 1e3), "request");
    Ok(res)
}
