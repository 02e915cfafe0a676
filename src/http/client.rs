//! Who the client is and whether it came over HTTPS, for the sign-in rate limit, the session
//! cookie's `Secure` flag, HSTS and the request log.
//!
//! Forwarding headers are believed only from a trusted proxy (`ONECARD_TRUSTED_PROXIES`); from
//! anyone else they are ignored, since any client can send them. Through a chain of trusted
//! proxies the client is the right-most `X-Forwarded-For` address that is not itself trusted:
//! every proxy appends the address it was connected from, so everything left of that is the
//! client's own say. `X-Forwarded-Proto` is the one the nearest proxy set (its right-most value).
//! The RFC 7239 `Forwarded` header is not read: a proxy that sets one of the two kinds passes
//! the other through from the client untouched, so believing both would let a client choose.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};

use crate::app::AppContext;
use crate::config::TrustedProxies;

/// The `Strict-Transport-Security` value sent on every response served over HTTPS: a year.
pub const HSTS: &str = "max-age=31536000";

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// The client's address: the connection's peer, or, when the peer is a trusted proxy, the
/// address it forwards for. `None` only without a peer address (a request built in a test).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(forwarded_client(
        peer,
        &forwarded_for(req.headers()),
        trusted(req),
    ))
}

/// Whether the client's request came over HTTPS: the connection's own scheme, or, when the peer
/// is a trusted proxy that says so, `X-Forwarded-Proto`.
pub fn is_https(req: &HttpRequest) -> bool {
    let own = req.app_config().secure();
    match req.peer_addr() {
        Some(peer) => forwarded_https(
            peer.ip(),
            own,
            header_text(req.headers(), X_FORWARDED_PROTO).as_deref(),
            trusted(req),
        ),
        None => own,
    }
}

fn trusted(req: &HttpRequest) -> &TrustedProxies {
    static NOBODY: std::sync::OnceLock<TrustedProxies> = std::sync::OnceLock::new();
    match req.app_data::<web::Data<AppContext>>() {
        Some(ctx) => &ctx.get_ref().config.trusted_proxies,
        None => NOBODY.get_or_init(TrustedProxies::default),
    }
}

/// Every value of a header, in order, joined as one comma-separated list.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The `X-Forwarded-For` list, left (farthest) to right (nearest).
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    header_text(headers, X_FORWARDED_FOR)
        .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default()
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `192.0.2.1:4711`,
/// `[2001:db8::1]:4711`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client behind `peer`, given the `X-Forwarded-For` hops (left to right): walking from the
/// right, the first hop that is not a trusted proxy. Once a hop cannot be read the walk stops at
/// the last trusted address (whatever is further left is nobody's word we can check); when
/// every hop is trusted, the left-most is the client.
pub fn forwarded_client(peer: IpAddr, hops: &[String], trusted: &TrustedProxies) -> IpAddr {
    let mut nearest = peer.to_canonical();
    if !trusted.contains(nearest) {
        return nearest;
    }
    for hop in hops.iter().rev().filter(|h| !h.is_empty()) {
        match parse_hop(hop) {
            Some(ip) if trusted.contains(ip) => nearest = ip,
            Some(ip) => return ip,
            None => return nearest,
        }
    }
    nearest
}

/// Whether the request came over HTTPS: `own` (the connection's scheme) unless `peer` is a
/// trusted proxy that sends `X-Forwarded-Proto` (`proto`, its right-most value counting).
pub fn forwarded_https(
    peer: IpAddr,
    own: bool,
    proto: Option<&str>,
    trusted: &TrustedProxies,
) -> bool {
    if !trusted.contains(peer) {
        return own;
    }
    match proto.and_then(|p| p.rsplit(',').next()).map(str::trim) {
        Some(p) if p.eq_ignore_ascii_case("https") => true,
        Some(p) if p.eq_ignore_ascii_case("http") => false,
        _ => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn hops(s: &str) -> Vec<String> {
        s.split(',').map(|h| h.trim().to_string()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        let peer = ip("198.51.100.4");
        assert_eq!(forwarded_client(peer, &hops("203.0.113.9"), &none), peer);
        let other = TrustedProxies::parse("10.0.0.0/8").expect("trusted");
        assert_eq!(forwarded_client(peer, &hops("10.0.0.1"), &other), peer);
        assert!(!forwarded_https(peer, false, Some("https"), &other));
        assert!(forwarded_https(peer, true, Some("http"), &other));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").expect("trusted");
        let peer = ip("127.0.0.1");
        // The client forged the left part; the proxy appended what it saw.
        let chain = hops("1.1.1.1, 203.0.113.9, 10.0.0.5");
        assert_eq!(forwarded_client(peer, &chain, &t), ip("203.0.113.9"));
        assert_eq!(
            forwarded_client(peer, &hops("[2001:db8::7]:4711"), &t),
            ip("2001:db8::7")
        );
        assert_eq!(
            forwarded_client(peer, &hops("203.0.113.9:50000"), &t),
            ip("203.0.113.9")
        );
        // Nothing forwarded: the proxy itself; all trusted: the left-most.
        assert_eq!(forwarded_client(peer, &[], &t), peer);
        assert_eq!(
            forwarded_client(peer, &hops("10.0.0.9, 10.0.0.5"), &t),
            ip("10.0.0.9")
        );
        // An unreadable hop stops the walk at the last trusted one.
        assert_eq!(
            forwarded_client(peer, &hops("203.0.113.9, unknown, 10.0.0.5"), &t),
            ip("10.0.0.5")
        );
        // IPv4 peers seen as IPv6.
        assert_eq!(
            forwarded_client(ip("::ffff:127.0.0.1"), &hops("203.0.113.9"), &t),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_says_the_scheme() {
        let t = TrustedProxies::parse("127.0.0.1").expect("trusted");
        let peer = ip("127.0.0.1");
        assert!(forwarded_https(peer, false, Some("https"), &t));
        assert!(forwarded_https(peer, false, Some("HTTPS"), &t));
        assert!(!forwarded_https(peer, false, Some("https, http"), &t));
        assert!(forwarded_https(peer, false, Some("http, https"), &t));
        assert!(!forwarded_https(peer, false, None, &t));
        assert!(!forwarded_https(peer, false, Some("gopher"), &t));
        assert!(forwarded_https(peer, true, None, &t));
    }
}
