//! Who a request comes from, for rate limits, and how much each client has used.
//!
//! The address is the peer, or, behind a reverse proxy named in AUTOPILOT_TRUSTED_PROXIES, the
//! rightmost `X-Forwarded-For` hop that is not one of those proxies (the leftmost hops are
//! whatever the client chose to write). Limits count a [`ClientKey`], not the address itself:
//! one IPv6 host usually holds a whole /64, so keying on the full address would give it 2^64
//! separate allowances.
//!
//! [`Strikes`] is the one counter table behind every per-client limit (sign-in, feedback): a
//! bounded map, so a flood of new keys cannot grow it past its cap between housekeeping runs.

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The address a request comes from (see the module's comment).
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

/// The key every per-client limit counts the request under.
pub fn client_key(parts: &Parts, trusted_proxies: &[IpNet]) -> ClientKey {
    ClientKey::of(client_address(parts, trusted_proxies))
}

/// What a client is counted as: an IPv4 address, or the /64 an IPv6 address is in. An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
/// peer) is its IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(address: IpAddr) -> ClientKey {
        match address.to_canonical() {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                ClientKey(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

fn resolve(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    // `::ffff:10.0.0.2` from a dual-stack socket is the proxy 10.0.0.2.
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let mut nearest = peer;
    for hop in forwarded_for.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Garbage where an address should be: stop believing the chain here.
            return nearest;
        };
        let ip = ip.to_canonical();
        if !is_trusted(&ip) {
            return ip;
        }
        nearest = ip;
    }
    nearest
}

/// How a [`Strikes`] table counts: the first `free` strikes within the forgiving window cost
/// nothing; past them a key must wait `base`, then twice that after each further strike, up
/// to `cap`, before it is admitted again. One strike is forgiven every `forgive`.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub free: u32,
    pub forgive: Duration,
    pub base: Duration,
    pub cap: Duration,
}

impl Policy {
    /// At most `n` a minute, as a plain rate: `n` at once, then one every `60 / n` seconds.
    pub fn per_minute(n: u32) -> Policy {
        let every = Duration::from_secs(60) / n.max(1);
        Policy {
            free: n.max(1),
            forgive: every,
            base: every,
            cap: every,
        }
    }

    /// How long after its last strike a key with `count` strikes must wait.
    fn wait(&self, count: u32) -> Duration {
        if count < self.free {
            return Duration::ZERO;
        }
        let doublings = (count - self.free).min(20);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    count: u32,
    /// Strikes are forgiven one per `forgive` counted from here.
    since: Instant,
    /// The last strike, where the wait is counted from.
    last: Instant,
}

impl Entry {
    /// Forgives what time has forgiven; the count left.
    fn settle(&mut self, policy: &Policy, now: Instant) -> u32 {
        let forgive = policy.forgive.max(Duration::from_millis(1));
        let periods = now.saturating_duration_since(self.since).as_nanos() / forgive.as_nanos();
        let periods = u32::try_from(periods).unwrap_or(u32::MAX);
        if periods >= self.count {
            self.count = 0;
            self.since = now;
        } else {
            self.count -= periods;
            self.since += forgive * periods;
        }
        self.count
    }

    fn wait_left(&self, policy: &Policy, now: Instant) -> Duration {
        (self.last + policy.wait(self.count)).saturating_duration_since(now)
    }
}

/// Strikes counted per key, in a table of at most `cap` keys.
///
/// Why the cap is safe: a key's entry is a few dozen bytes, so the table's memory is bounded
/// whatever the keys (an attacker choosing fresh addresses or accounts only makes more keys,
/// never bigger ones). When it is full, keys whose strikes are all forgiven go first; if that
/// is not enough, the half of the table with the fewest strikes is forgotten. Such a key
/// loses at most the few strikes it had, while the keys closest to their limit, the ones a
/// limit is for, stay counted. Reaching the cap takes more distinct clients than the cap
/// within one forgiving window, and each of those gets only its `free` attempts anyway.
pub struct Strikes<K> {
    policy: Policy,
    cap: usize,
    entries: Mutex<HashMap<K, Entry>>,
}

/// The most keys a table holds: 50,000 entries of at most about 80 bytes with the map's own
/// overhead (the largest key is an account hash and a client), under 5 MiB a table.
pub const STRIKES_CAP: usize = 50_000;

impl<K: Hash + Eq + Clone> Strikes<K> {
    pub fn new(policy: Policy) -> Self {
        Self::with_cap(policy, STRIKES_CAP)
    }

    pub fn with_cap(policy: Policy, cap: usize) -> Self {
        Strikes {
            policy,
            cap: cap.max(2),
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `key` must still wait before it is admitted (zero: now).
    pub fn wait(&self, key: &K) -> Duration {
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.get_mut(key) {
            Some(entry) => {
                entry.settle(&self.policy, now);
                entry.wait_left(&self.policy, now)
            }
            None => Duration::ZERO,
        }
    }

    /// Admits `key` and counts a strike, or says how long it must wait (nothing is counted
    /// then). Checking and counting happen under one lock, so many requests at once cannot
    /// all slip in before the first strike is counted.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        let now = Instant::now();
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            entry.settle(&self.policy, now);
            let wait = entry.wait_left(&self.policy, now);
            if !wait.is_zero() {
                return Err(wait);
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            return Ok(());
        }
        if entries.len() >= self.cap {
            self.make_room(&mut entries, now);
        }
        entries.insert(
            key.clone(),
            Entry {
                count: 1,
                since: now,
                last: now,
            },
        );
        Ok(())
    }

    /// The number of strikes `key` holds now.
    pub fn count(&self, key: &K) -> u32 {
        let now = Instant::now();
        let mut entries = self.lock();
        entries
            .get_mut(key)
            .map_or(0, |entry| entry.settle(&self.policy, now))
    }

    /// Takes one strike back (the attempt it was counted for did not fail).
    pub fn refund(&self, key: &K) {
        let now = Instant::now();
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            if entry.settle(&self.policy, now) <= 1 {
                entries.remove(key);
            } else {
                entry.count -= 1;
            }
        }
    }

    /// Forgets `key` altogether.
    pub fn clear(&self, key: &K) {
        self.lock().remove(key);
    }

    /// Keys held now.
    pub fn keys(&self) -> usize {
        self.lock().len()
    }

    /// Drops keys whose strikes are all forgiven; housekeeping calls it now and then.
    pub fn forget_quiet(&self) {
        let now = Instant::now();
        let policy = self.policy;
        self.lock().retain(|_, entry| {
            entry.settle(&policy, now) > 0 || !entry.wait_left(&policy, now).is_zero()
        });
    }

    fn make_room(&self, entries: &mut HashMap<K, Entry>, now: Instant) {
        let policy = self.policy;
        entries.retain(|_, entry| {
            entry.settle(&policy, now) > 0 || !entry.wait_left(&policy, now).is_zero()
        });
        if entries.len() < self.cap * 3 / 4 {
            return;
        }
        // Still mostly full of live keys: forget the half with the fewest strikes.
        let mut counts: Vec<u32> = entries.values().map(|e| e.count).collect();
        let middle = counts.len() / 2;
        let (_, &mut threshold, _) = counts.select_nth_unstable(middle);
        let mut over = entries.len() - middle;
        entries.retain(|_, entry| {
            if over > 0 && entry.count <= threshold {
                over -= 1;
                false
            } else {
                true
            }
        });
        tracing::warn!(
            kept = entries.len(),
            "a rate-limit table reached its cap; the keys with the fewest strikes were forgotten"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // The proxy seen through a dual-stack socket is still the proxy.
        assert_eq!(
            resolve(ip("::ffff:10.0.0.2"), "198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| ClientKey::of(ip(s));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:abcd:0:9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:203.0.113.9"), key("203.0.113.9"));
        assert_ne!(key("203.0.113.9"), key("203.0.113.10"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:203.0.113.9").to_string(), "203.0.113.9");
    }

    #[test]
    fn strikes_past_the_free_ones_wait_longer_each_time() {
        let policy = Policy {
            free: 2,
            forgive: Duration::from_secs(3600),
            base: Duration::from_secs(1),
            cap: Duration::from_secs(8),
        };
        assert_eq!(policy.wait(1), Duration::ZERO);
        assert_eq!(policy.wait(2), Duration::from_secs(1));
        assert_eq!(policy.wait(3), Duration::from_secs(2));
        assert_eq!(policy.wait(4), Duration::from_secs(4));
        assert_eq!(policy.wait(9), Duration::from_secs(8));
        assert_eq!(policy.wait(u32::MAX), Duration::from_secs(8));
        let table = Strikes::new(policy);
        assert!(table.take(&"a").is_ok());
        assert!(table.take(&"a").is_ok());
        let wait = table.take(&"a").unwrap_err();
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        // Refused attempts are not counted; others are not touched.
        assert_eq!(table.count(&"a"), 2);
        assert!(table.take(&"b").is_ok());
        table.refund(&"a");
        assert_eq!(table.count(&"a"), 1);
        assert!(table.take(&"a").is_ok());
        table.clear(&"a");
        assert_eq!(table.count(&"a"), 0);
    }

    #[test]
    fn strikes_are_forgiven_with_time() {
        let table = Strikes::new(Policy {
            free: 1,
            forgive: Duration::from_millis(20),
            base: Duration::from_millis(20),
            cap: Duration::from_millis(20),
        });
        assert!(table.take(&1).is_ok());
        assert!(table.take(&1).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(table.take(&1).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        table.forget_quiet();
        assert_eq!(table.keys(), 0);
    }

    #[test]
    fn a_flood_of_new_keys_never_grows_the_table_past_its_cap() {
        let table = Strikes::with_cap(Policy::per_minute(3), 1_000);
        // A few keys near their limit...
        for _ in 0..3 {
            for hot in 0..10u64 {
                let _ = table.take(&hot);
            }
        }
        // ...then a flood of fresh ones.
        for key in 10..100_000u64 {
            assert!(table.take(&key).is_ok());
            assert!(table.keys() <= 1_000, "{}", table.keys());
        }
        // The keys that had used up their allowance are still counted.
        for hot in 0..10u64 {
            assert!(table.take(&hot).is_err(), "key {hot} was forgotten");
        }
    }
}
