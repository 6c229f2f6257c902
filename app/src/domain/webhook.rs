//! Webhooks: endpoints an admin adds, the events they hear, and the rules the sender follows
//! (retry schedule, when an endpoint's circuit opens, when it is turned off).

use super::validate::invalid;
use super::Invalid;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What a payload's `schema_version` says: bumped when a payload's shape changes.
pub const WEBHOOK_SCHEMA_VERSION: u32 = 1;
pub const WEBHOOK_URL_MAX_CHARS: usize = 2000;
pub const WEBHOOK_DESCRIPTION_MAX_CHARS: usize = 200;
/// Consecutive failed attempts after which an endpoint counts as failing (its circuit is
/// open: only the scheduled retry probes it) and the admin page says so.
pub const WEBHOOK_CIRCUIT_FAILURES: i64 = 5;
/// An endpoint failing this long is turned off; its deliveries wait for an admin.
pub const WEBHOOK_GIVE_UP_MS: i64 = 24 * 3_600_000;
/// How long a rotated-out secret still signs, so receivers can switch over.
pub const WEBHOOK_ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
/// Secrets start with this (the Standard Webhooks convention), then base64 of 32 bytes.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// Waits before retry number `n` (1 = the first retry): about a day in all, then the
/// endpoint is turned off. The sender adds up to a fifth of jitter.
const RETRY_DELAYS_MS: [i64; 10] = [
    5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000,
    28_800_000,
];

/// How long to wait after the `attempts`-th failed attempt of one delivery.
pub fn webhook_retry_delay_ms(attempts: i64) -> i64 {
    let index = (attempts.max(1) - 1) as usize;
    RETRY_DELAYS_MS[index.min(RETRY_DELAYS_MS.len() - 1)]
}

/// Whether a request may go to `ip` when private addresses are not allowed: no loopback,
/// private, link-local, shared (CGNAT), unspecified, multicast, broadcast or documentation
/// address, nor an IPv6 address that wraps one of them.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b // NAT64 of any IPv4
                || first == 0x2002) // 6to4 of any IPv4
        }
    }
}

/// The private address a URL names by number, if it does (a name is checked when it is
/// resolved, by the sender).
#[cfg(feature = "ssr")]
pub fn private_literal(url: &url::Url) -> Option<IpAddr> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    (!is_public(ip)).then_some(ip)
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        /// In the contract: a string, one of the names (written here: utoipa's derive does
        /// not see a `rename` made by a macro).
        #[cfg(feature = "ssr")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "ssr")]
        impl utoipa::ToSchema for $name {}

        impl std::str::FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| invalid(
                        stringify!($name),
                        format!(
                            "unknown {s:?}; one of {}",
                            $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ))
            }
        }
    };
}

named_enum! {
    /// Something that happened on the board that an endpoint can hear of.
    WebhookEvent {
        /// An issue was filed (by anyone, feedback included).
        IssueCreated = "issue.created",
        /// An issue changed status (`from`, `to`).
        IssueMoved = "issue.moved",
        /// Someone (a person, the agent, the system) commented.
        IssueCommented = "issue.commented",
        /// An issue's assignee changed.
        IssueAssigned = "issue.assigned",
        /// The runner claimed an issue and started a run.
        RunStarted = "run.started",
        /// A run ended (outcome, cost, pull request).
        RunFinished = "run.finished",
        /// Someone sent feedback through the widget.
        FeedbackReceived = "feedback.received",
        /// "Send test event" on the admin page: every endpoint hears it.
        Ping = "ping",
    }
}

named_enum! {
    /// What an endpoint's requests look like.
    WebhookFormat {
        /// Signed JSON per the Standard Webhooks spec.
        Standard = "standard",
        /// A Slack (or Mattermost, Rocket.Chat…) incoming webhook: `{"text": …}`.
        Slack = "slack",
        /// A Discord incoming webhook: `{"content": …}`.
        Discord = "discord",
    }
}

impl WebhookFormat {
    pub fn label(self) -> &'static str {
        match self {
            WebhookFormat::Standard => "JSON (Standard Webhooks)",
            WebhookFormat::Slack => "Slack message",
            WebhookFormat::Discord => "Discord message",
        }
    }
}

impl WebhookEvent {
    pub fn describe(self) -> &'static str {
        match self {
            WebhookEvent::IssueCreated => "issue created",
            WebhookEvent::IssueMoved => "issue moved",
            WebhookEvent::IssueCommented => "comment added",
            WebhookEvent::IssueAssigned => "issue assigned",
            WebhookEvent::RunStarted => "run started",
            WebhookEvent::RunFinished => "run finished",
            WebhookEvent::FeedbackReceived => "feedback received",
            WebhookEvent::Ping => "test event",
        }
    }

    /// The events an admin can choose (every endpoint hears `ping`).
    pub fn choosable() -> impl Iterator<Item = WebhookEvent> {
        WebhookEvent::ALL
            .iter()
            .copied()
            .filter(|e| *e != WebhookEvent::Ping)
    }
}

/// Reads the stored comma list (`issue.created,issue.moved`); unknown names are skipped so an
/// older server reading a newer row still works.
pub fn parse_webhook_events(text: &str) -> Vec<WebhookEvent> {
    text.split(',')
        .filter_map(|part| part.trim().parse().ok())
        .collect()
}

/// An endpoint as admins see it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub format: WebhookFormat,
    pub events: Vec<WebhookEvent>,
    pub description: String,
    /// Turned on by an admin; off, nothing is sent (deliveries still queue).
    pub enabled: bool,
    /// May reach private, loopback and link-local addresses.
    pub allow_private: bool,
    pub state: EndpointState,
    /// Failed attempts in a row.
    pub failures: i64,
    /// When the current run of failures began (Unix ms).
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
    /// Why the server turned it off, when it did.
    pub off_reason: Option<String>,
    /// Deliveries not yet delivered.
    pub pending: i64,
    /// When a delivery that failed is tried again (Unix ms), if one waits.
    pub next_retry_at: Option<i64>,
    /// When a rotated-out secret stops signing (Unix ms).
    pub old_secret_until: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where an endpoint stands, for the admin page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// Delivering.
    Active,
    /// Its circuit is open: several attempts in a row failed, and only the scheduled retry
    /// tries it again.
    Failing,
    /// Turned off, by an admin or after failing for a day.
    Off,
}

impl EndpointState {
    pub fn of(enabled: bool, failures: i64) -> EndpointState {
        if !enabled {
            EndpointState::Off
        } else if failures >= WEBHOOK_CIRCUIT_FAILURES {
            EndpointState::Failing
        } else {
            EndpointState::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Active => "active",
            EndpointState::Failing => "failing",
            EndpointState::Off => "off",
        }
    }
}

/// One event on its way to one endpoint, with its last attempt: a line of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow, utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    /// The `webhook-id`: the same on every attempt and redelivery, so receivers can drop
    /// repeats.
    pub message_id: String,
    pub event_type: String,
    pub issue_id: Option<i64>,
    /// `pending` or `delivered`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    /// The receiver's HTTP status, when it answered.
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// What an admin sends to add or change an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https://…` (or `http://`) where to send.
    #[cfg_attr(
        feature = "ssr",
        schema(max_length = 2000, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]")
    )]
    pub url: String,
    #[serde(default = "standard")]
    pub format: WebhookFormat,
    /// At least one (`ping` alone does not count: every endpoint hears it).
    #[cfg_attr(feature = "ssr", schema(min_items = 1))]
    pub events: Vec<WebhookEvent>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Allow private, loopback and link-local addresses (a service on the team's network).
    #[serde(default)]
    pub allow_private: bool,
}

fn standard() -> WebhookFormat {
    WebhookFormat::Standard
}

fn yes() -> bool {
    true
}

impl WebhookInput {
    /// Checks and tidies what an admin sent: an http(s) URL with a host and no password in it,
    /// at least one event (repeats dropped, `ping` implied), a one-line description.
    pub fn validate(mut self) -> Result<WebhookInput, Invalid> {
        self.url = self.url.trim().to_string();
        if self.url.chars().count() > WEBHOOK_URL_MAX_CHARS {
            return Err(invalid(
                "url",
                format!("at most {WEBHOOK_URL_MAX_CHARS} characters"),
            ));
        }
        let scheme_ok = ["http://", "https://"].iter().any(|s| {
            self.url
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        });
        if !scheme_ok {
            return Err(invalid("url", "must start with https:// or http://"));
        }
        #[cfg(feature = "ssr")]
        {
            let parsed = url::Url::parse(&self.url)
                .map_err(|e| invalid("url", format!("not a URL: {e}")))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid("url", "has no host"));
            }
            if let Some(ip) = private_literal(&parsed).filter(|_| !self.allow_private) {
                return Err(invalid(
                    "url",
                    format!(
                        "{ip} is a private address: allow private network addresses for this \
                         endpoint to send there"
                    ),
                ));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(invalid(
                    "url",
                    "must not carry a user name or password (the secret signs each request)",
                ));
            }
            self.url = parsed.to_string();
        }
        let mut events = Vec::new();
        for event in self.events {
            if event != WebhookEvent::Ping && !events.contains(&event) {
                events.push(event);
            }
        }
        if events.is_empty() {
            return Err(invalid("events", "choose at least one event"));
        }
        self.events = events;
        // One line, no control characters (PostgreSQL refuses a NUL in text).
        self.description = super::one_line(&self.description);
        if self.description.chars().count() > WEBHOOK_DESCRIPTION_MAX_CHARS {
            return Err(invalid(
                "description",
                format!("at most {WEBHOOK_DESCRIPTION_MAX_CHARS} characters"),
            ));
        }
        Ok(self)
    }

    /// The events as stored: a comma list.
    pub fn events_text(&self) -> String {
        self.events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, events: Vec<WebhookEvent>) -> WebhookInput {
        WebhookInput {
            url: url.into(),
            format: WebhookFormat::Standard,
            events,
            description: String::new(),
            enabled: true,
            allow_private: false,
        }
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_retry_schedule_spans_about_a_day_and_grows() {
        let total: i64 = (1..=10).map(webhook_retry_delay_ms).sum();
        assert!(total > 20 * 3_600_000 && total < 30 * 3_600_000, "{total}");
        assert!((1..10).all(|n| webhook_retry_delay_ms(n) <= webhook_retry_delay_ms(n + 1)));
        assert_eq!(webhook_retry_delay_ms(0), 5_000);
        assert_eq!(webhook_retry_delay_ms(99), 28_800_000);
    }

    #[test]
    fn events_parse_and_print_the_same_and_unknown_ones_are_skipped() {
        for event in WebhookEvent::ALL {
            assert_eq!(event.as_str().parse::<WebhookEvent>().ok(), Some(*event));
        }
        assert_eq!(
            parse_webhook_events("issue.moved, nope ,run.finished"),
            vec![WebhookEvent::IssueMoved, WebhookEvent::RunFinished]
        );
        let err = "issue.deleted".parse::<WebhookEvent>().unwrap_err();
        assert!(err.message.contains("issue.created"), "{err}");
    }

    #[test]
    fn an_endpoint_needs_an_http_url_and_an_event() {
        let ok = input(" https://example.com/hook ", vec![WebhookEvent::IssueMoved])
            .validate()
            .expect("valid");
        assert_eq!(ok.url, "https://example.com/hook");
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://",
            "javascript:alert(1)",
        ] {
            let err = input(bad, vec![WebhookEvent::IssueMoved])
                .validate()
                .unwrap_err();
            assert_eq!(err.field, "url", "{bad}");
        }
        let err = input("https://u:p@example.com/", vec![WebhookEvent::IssueMoved])
            .validate()
            .unwrap_err();
        assert!(err.message.contains("password"), "{err}");
        let err = input("https://example.com", vec![WebhookEvent::Ping])
            .validate()
            .unwrap_err();
        assert_eq!(err.field, "events");
        let long = format!("https://example.com/{}", "a".repeat(WEBHOOK_URL_MAX_CHARS));
        assert!(input(&long, vec![WebhookEvent::IssueMoved])
            .validate()
            .is_err());
    }

    #[test]
    fn a_description_is_one_line_without_control_characters() {
        let mut with_nul = input("https://example.com", vec![WebhookEvent::IssueMoved]);
        with_nul.description = " Team\u{0}board\n  alerts ".into();
        assert_eq!(
            with_nul.validate().unwrap().description,
            "Team board alerts"
        );
    }

    #[test]
    fn repeated_events_are_kept_once_in_order() {
        let ok = input(
            "http://example.com",
            vec![
                WebhookEvent::RunFinished,
                WebhookEvent::IssueMoved,
                WebhookEvent::RunFinished,
            ],
        )
        .validate()
        .expect("valid");
        assert_eq!(ok.events_text(), "run.finished,issue.moved");
    }

    #[test]
    fn the_circuit_opens_after_several_failures_and_off_wins() {
        assert_eq!(EndpointState::of(true, 0), EndpointState::Active);
        assert_eq!(
            EndpointState::of(true, WEBHOOK_CIRCUIT_FAILURES),
            EndpointState::Failing
        );
        assert_eq!(EndpointState::of(false, 99), EndpointState::Off);
    }
}
