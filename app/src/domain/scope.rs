//! What a caller may do besides what their role allows: a bearer token's scopes. A session has
//! every scope of its person's role; a token has the scopes it was made with. [`Action::scope`]
//! is the one place that says which scope an action needs; [`Caller::require`] checks it
//! together with the role.

use super::validate::invalid;
use super::{Actor, Invalid, Role};
use serde::{Deserialize, Serialize};

/// One thing a token may be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read anything the role may read.
    Read,
    /// Create and edit issues, comments, attachments.
    Write,
    /// Change an issue's status (and its place on the board).
    Move,
    /// Admin actions and `/metrics` (an admin's token only: the role still applies).
    Admin,
    /// Reserved for runner hosts.
    Runner,
    /// Reserved for the MCP server.
    Mcp,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Read,
        Scope::Write,
        Scope::Move,
        Scope::Admin,
        Scope::Runner,
        Scope::Mcp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Move => "move",
            Scope::Admin => "admin",
            Scope::Runner => "runner",
            Scope::Mcp => "mcp",
        }
    }

    /// What it allows, in words for the tokens page and the README's table.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Read => "read anything",
            Scope::Write => "create and edit issues, comments, attachments",
            Scope::Move => "change an issue's status",
            Scope::Admin => "admin actions and /metrics (admins only)",
            Scope::Runner => "reserved for runner hosts",
            Scope::Mcp => "reserved for the MCP server",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::str::FromStr for Scope {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                invalid(
                    "scopes",
                    format!(
                        "unknown scope {s:?}; the scopes are {}",
                        Scopes::all().to_string().replace(',', ", ")
                    ),
                )
            })
    }
}

/// A set of scopes. Written as a comma list (`read,write`), in [`Scope::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scopes(u8);

impl Scopes {
    pub fn none() -> Self {
        Scopes(0)
    }

    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// What a session has: everything its person's role can use. The role check still comes
    /// first, so `admin` here gives a member nothing.
    pub fn of_session() -> Self {
        Scopes::all()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Reads `read,write` (spaces allowed, repeats ignored); at least one scope, none unknown.
    pub fn parse(text: &str) -> Result<Scopes, Invalid> {
        let mut scopes = Scopes::none();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            scopes = scopes.with(part.parse()?);
        }
        if scopes.is_empty() {
            return Err(invalid("scopes", "give at least one scope (e.g. read)"));
        }
        Ok(scopes)
    }

    pub fn with(self, scope: Scope) -> Self {
        Scopes(self.0 | scope.bit())
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Scopes::none(), Scopes::with)
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// How a token's scopes are stored: the comma list, or this for tokens made before scopes
/// existed (they keep their owner's full rights until replaced).
pub const LEGACY_SCOPES: &str = "legacy";

/// A stored scopes column: `(scopes, legacy)`. Anything unreadable allows nothing.
pub fn stored_scopes(text: Option<&str>) -> (Scopes, bool) {
    match text {
        Some(LEGACY_SCOPES) => (Scopes::all(), true),
        Some(text) => (Scopes::parse(text).unwrap_or_default(), false),
        None => (Scopes::none(), false),
    }
}

/// The most days a new token may live; none means it never expires.
pub const TOKEN_EXPIRY_DAYS_MAX: i64 = 3650;

/// Checks a token's lifetime in days (`None`: no expiry).
pub fn validate_expiry_days(days: Option<i64>) -> Result<Option<i64>, Invalid> {
    match days {
        Some(d) if !(1..=TOKEN_EXPIRY_DAYS_MAX).contains(&d) => Err(invalid(
            "expires_in_days",
            format!("must be between 1 and {TOKEN_EXPIRY_DAYS_MAX} days, or none"),
        )),
        other => Ok(other),
    }
}

/// Everything a caller can ask of the board, as far as scopes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read issues, comments, attachments, history, runs, live changes, who one is.
    Read,
    /// Create or edit an issue.
    EditIssue,
    /// Comment on an issue.
    Comment,
    /// Attach a file.
    Attach,
    /// Change an issue's status or its place in a column.
    MoveIssue,
    /// Manage people, the runner, the board's switches (admins only).
    Administer,
    /// Read `/metrics` (admins only).
    ReadMetrics,
    /// Manage one's own tokens and sessions: only with a session, never with a token (a
    /// narrow token must not mint a wider one).
    ManageAccount,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::EditIssue,
        Action::Comment,
        Action::Attach,
        Action::MoveIssue,
        Action::Administer,
        Action::ReadMetrics,
        Action::ManageAccount,
    ];

    /// The scope a token needs for this action; `None`: no token may, only a session.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Action::Read => Some(Scope::Read),
            Action::EditIssue | Action::Comment | Action::Attach => Some(Scope::Write),
            Action::MoveIssue => Some(Scope::Move),
            Action::Administer | Action::ReadMetrics => Some(Scope::Admin),
            Action::ManageAccount => None,
        }
    }

    /// Whether only admins may do this, whatever the scopes.
    pub fn admins_only(self) -> bool {
        matches!(self, Action::Administer | Action::ReadMetrics)
    }
}

/// How the caller came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    /// A signed-in session (cookie): its row in `session_devices`.
    Session(i64),
    /// A bearer token (its id in `api_tokens`).
    Token(i64),
}

/// Who is calling and what they may do: the actor (name and role) and the scopes of the way
/// they came in. Derefs to the [`Actor`], so `caller.role` and `&caller` work where an actor
/// is wanted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub scopes: Scopes,
    pub credential: Credential,
}

/// Why a caller may not do something; the words name the role or the missing scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl Caller {
    pub fn session(actor: Actor, session: i64) -> Self {
        Caller {
            actor,
            scopes: Scopes::of_session(),
            credential: Credential::Session(session),
        }
    }

    pub fn token(actor: Actor, id: i64, scopes: Scopes) -> Self {
        Caller {
            actor,
            scopes,
            credential: Credential::Token(id),
        }
    }

    /// The one check: the role first (a member's token with `admin` is still a member's),
    /// then the scope.
    pub fn allows(&self, action: Action) -> Result<(), Refused> {
        if action.admins_only() && self.actor.role != Role::Admin {
            return Err(Refused("admins only".into()));
        }
        match (action.scope(), self.credential) {
            (_, Credential::Session(_)) => Ok(()),
            (None, Credential::Token(_)) => Err(Refused(
                "a token cannot manage tokens or sessions; sign in to the board".into(),
            )),
            (Some(scope), Credential::Token(_)) if self.scopes.contains(scope) => Ok(()),
            (Some(scope), Credential::Token(_)) => Err(Refused(format!(
                "this token lacks the \"{}\" scope",
                scope.as_str()
            ))),
        }
    }
}

impl Caller {
    /// [`Caller::allows`] as the board's error: a 403 that says what is missing.
    pub fn require(&self, action: Action) -> Result<(), crate::error::AppError> {
        self.allows(action)
            .map_err(|Refused(why)| crate::error::AppError::Forbidden(why))
    }
}

impl std::ops::Deref for Caller {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.actor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role) -> Actor {
        Actor {
            role,
            name: "Ann".into(),
            user_id: Some(1),
        }
    }

    #[test]
    fn scopes_parse_and_format_round_trip() {
        let s = Scopes::parse(" write, read ,read").unwrap();
        assert_eq!(s.to_string(), "read,write");
        assert_eq!(Scopes::parse(&s.to_string()).unwrap(), s);
        assert_eq!(
            Scopes::all().to_string(),
            "read,write,move,admin,runner,mcp"
        );
        let err = Scopes::parse("read,delete").unwrap_err();
        assert!(err.message.contains("\"delete\""), "{err:?}");
        assert!(Scopes::parse("").is_err());
        assert!(Scopes::parse(" , ").is_err());
        assert!(Scopes::parse("Read").is_err(), "names are lower-case");
    }

    #[test]
    fn stored_scopes_read_legacy_as_everything_and_garbage_as_nothing() {
        assert_eq!(stored_scopes(Some("legacy")), (Scopes::all(), true));
        assert_eq!(
            stored_scopes(Some("read,move")),
            (Scopes::parse("move,read").unwrap(), false)
        );
        assert_eq!(stored_scopes(Some("root")), (Scopes::none(), false));
        assert_eq!(stored_scopes(None), (Scopes::none(), false));
    }

    /// The rules written out: which scope each action needs.
    #[test]
    fn each_action_needs_its_scope() {
        use Action::*;
        let table = [
            (Read, Some(Scope::Read)),
            (EditIssue, Some(Scope::Write)),
            (Comment, Some(Scope::Write)),
            (Attach, Some(Scope::Write)),
            (MoveIssue, Some(Scope::Move)),
            (Administer, Some(Scope::Admin)),
            (ReadMetrics, Some(Scope::Admin)),
            (ManageAccount, None),
        ];
        assert_eq!(table.len(), Action::ALL.len());
        for (action, scope) in table {
            assert_eq!(action.scope(), scope, "{action:?}");
        }
    }

    /// Every action × role × single-scope token × session, against the rule in words.
    #[test]
    fn callers_are_allowed_by_role_then_scope() {
        for role in [Role::Admin, Role::Member] {
            for action in Action::ALL {
                let role_ok = !action.admins_only() || role == Role::Admin;
                let session = Caller::session(person(role), 1);
                assert_eq!(
                    session.allows(action).is_ok(),
                    role_ok,
                    "{role:?} {action:?}"
                );
                for scope in Scope::ALL {
                    let token = Caller::token(person(role), 7, Scopes::none().with(scope));
                    let expected = role_ok && action.scope() == Some(scope);
                    let got = token.allows(action);
                    assert_eq!(got.is_ok(), expected, "{role:?} {action:?} {scope:?}");
                    if role_ok && !expected {
                        if let Some(needed) = action.scope() {
                            assert_eq!(
                                got.unwrap_err().0,
                                format!("this token lacks the \"{}\" scope", needed.as_str())
                            );
                        }
                    }
                }
                // A token with every scope (a legacy one) has its owner's full rights, but
                // never manages accounts.
                let full = Caller::token(person(role), 7, Scopes::all());
                assert_eq!(
                    full.allows(action).is_ok(),
                    role_ok && action != Action::ManageAccount,
                    "{role:?} {action:?}"
                );
            }
        }
        let member_admin_token = Caller::token(person(Role::Member), 1, Scopes::all());
        assert_eq!(
            member_admin_token.allows(Action::Administer),
            Err(Refused("admins only".into()))
        );
    }

    #[test]
    fn expiry_is_none_or_a_sane_number_of_days() {
        assert_eq!(validate_expiry_days(None), Ok(None));
        assert_eq!(validate_expiry_days(Some(30)), Ok(Some(30)));
        assert!(validate_expiry_days(Some(0)).is_err());
        assert!(validate_expiry_days(Some(-5)).is_err());
        assert!(validate_expiry_days(Some(TOKEN_EXPIRY_DAYS_MAX + 1)).is_err());
    }
}
