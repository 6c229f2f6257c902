//! Which address a request comes from, for rate limits: the peer, or, behind a reverse proxy
//! named in AUTOPILOT_TRUSTED_PROXIES, the rightmost `X-Forwarded-For` hop that is not one of
//! those proxies (the leftmost hops are whatever the client chose to write).

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub fn client_address(parts: &Parts, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    resolve(peer, &forwarded, trusted_proxies)
}

fn resolve(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut nearest = peer;
    for hop in forwarded_for.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Garbage where an address should be: stop believing the chain here.
            return nearest;
        };
        if !is_trusted(&ip) {
            return ip;
        }
        nearest = ip;
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        // Direct client: its header is ignored.
        assert_eq!(
            resolve(ip("203.0.113.9"), "1.2.3.4", &trusted),
            ip("203.0.113.9")
        );
        // Through the proxy: the rightmost untrusted hop, not the spoofable leftmost one.
        assert_eq!(
            resolve(ip("10.0.0.2"), "6.6.6.6, 198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), "198.51.100.7, 10.0.0.5", &trusted),
            ip("198.51.100.7")
        );
        // No header, or garbage: the nearest address we know.
        assert_eq!(resolve(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
        assert_eq!(
            resolve(ip("10.0.0.2"), "evil, 10.0.0.9", &trusted),
            ip("10.0.0.9")
        );
        // Nothing trusted: always the peer.
        assert_eq!(resolve(ip("10.0.0.2"), "1.2.3.4", &[]), ip("10.0.0.2"));
    }
}
