//! Invite links: an admin makes one for a role, it works once, until it expires or is revoked.

use super::validate::invalid;
use super::{Invalid, UserRole};
use serde::{Deserialize, Serialize};

/// How long a link works unless the admin says otherwise, and at most.
pub const INVITE_DEFAULT_DAYS: i64 = 7;
pub const INVITE_MAX_DAYS: i64 = 90;
const DAY_MS: i64 = 24 * 3_600_000;
/// Invite secrets start with this, so a leaked one is recognisable in a scan.
pub const INVITE_PREFIX: &str = "inv_";

/// Where an invitee opens their link (prefix the board's public URL to send it).
pub fn invite_path(secret: &str) -> String {
    format!("/invite/{secret}")
}

/// An invitation as admins see it; the secret in its link is shown once, when made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Invitation {
    pub id: i64,
    pub role: UserRole,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Who accepted it (their email), once used.
    pub used_by_email: Option<String>,
}

/// Where an invitation stands. Only an `Open` one makes an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    Open,
    Used,
    Expired,
    Revoked,
}

impl Invitation {
    pub fn state(&self, now_ms: i64) -> InviteState {
        if self.used_at.is_some() {
            InviteState::Used
        } else if self.revoked_at.is_some() {
            InviteState::Revoked
        } else if now_ms >= self.expires_at {
            InviteState::Expired
        } else {
            InviteState::Open
        }
    }
}

impl InviteState {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteState::Open => "open",
            InviteState::Used => "used",
            InviteState::Expired => "expired",
            InviteState::Revoked => "revoked",
        }
    }
}

/// The lifetime of a new link, in milliseconds: 1 to [`INVITE_MAX_DAYS`] days.
pub fn invite_lifetime_ms(days: i64) -> Result<i64, Invalid> {
    if (1..=INVITE_MAX_DAYS).contains(&days) {
        Ok(days * DAY_MS)
    } else {
        Err(invalid(
            "expires_in_days",
            format!("must be between 1 and {INVITE_MAX_DAYS} days"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Invitation {
        Invitation {
            id: 1,
            role: UserRole::Member,
            created_at: 0,
            expires_at: 1_000,
            used_at: None,
            revoked_at: None,
            used_by_email: None,
        }
    }

    #[test]
    fn used_wins_over_revoked_and_expired() {
        assert_eq!(invite().state(999), InviteState::Open);
        assert_eq!(invite().state(1_000), InviteState::Expired);
        let revoked = Invitation {
            revoked_at: Some(5),
            ..invite()
        };
        assert_eq!(revoked.state(0), InviteState::Revoked);
        let used = Invitation {
            used_at: Some(5),
            ..revoked
        };
        assert_eq!(used.state(2_000), InviteState::Used);
    }

    #[test]
    fn lifetimes_are_one_to_ninety_days() {
        assert!(invite_lifetime_ms(0).is_err());
        assert!(invite_lifetime_ms(91).is_err());
        assert_eq!(invite_lifetime_ms(1), Ok(DAY_MS));
    }
}
