//! People and their roles.

use super::validate::invalid;
use super::{one_line, Invalid, Role};
use serde::{Deserialize, Serialize};

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 256;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const DISPLAY_NAME_MAX_CHARS: usize = 100;

/// What a person may do: admins manage users and the runner, members work the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Admin,
    Member,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Member => "member",
        }
    }

    pub fn actor_role(self) -> Role {
        match self {
            UserRole::Admin => Role::Admin,
            UserRole::Member => Role::Member,
        }
    }
}

impl std::str::FromStr for UserRole {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "admin" => Ok(UserRole::Admin),
            "member" => Ok(UserRole::Member),
            _ => Err(Invalid {
                field: "role".into(),
                message: "must be admin or member".into(),
            }),
        }
    }
}

/// A person, without secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: UserRole,
    pub auth_epoch: i64,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// Lower-cases and checks the shape `local@domain`; nothing fancier, the address is a login name.
pub fn validate_email(email: &str) -> Result<String, Invalid> {
    let email = email.trim().to_lowercase();
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !well_formed {
        return Err(invalid("email", "must look like name@example.com"));
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(invalid(
            "email",
            format!("must be at most {EMAIL_MAX_CHARS} characters"),
        ));
    }
    Ok(email)
}

pub fn validate_display_name(name: &str) -> Result<String, Invalid> {
    let name = one_line(name);
    match name.chars().count() {
        0 => Err(invalid("name", "must not be empty")),
        n if n > DISPLAY_NAME_MAX_CHARS => Err(invalid(
            "name",
            format!("must be at most {DISPLAY_NAME_MAX_CHARS} characters"),
        )),
        _ => Ok(name),
    }
}

/// Length is what matters (OWASP ASVS 2.1): at least 12 characters, any characters allowed.
pub fn validate_password(password: &str) -> Result<(), Invalid> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(invalid(
            "password",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(invalid(
            "password",
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            validate_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@x", "ann@", "a@b@c", "a b@c.d"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_twelve_characters() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("correct horse").is_ok());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }

    #[test]
    fn roles_parse() {
        assert_eq!("admin".parse::<UserRole>().unwrap(), UserRole::Admin);
        assert!("root".parse::<UserRole>().is_err());
    }
}
