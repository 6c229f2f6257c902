//! What the sign-in page offers: the provider's button, and whether the password form shows.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who may sign in with a password (`AUTOPILOT_PASSWORD_SIGNIN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSignIn {
    /// Everyone (the default).
    #[default]
    On,
    /// Admins only: the break-glass way in when the provider is away.
    Admins,
    /// Nobody: everyone signs in through the provider.
    Off,
}

impl std::str::FromStr for PasswordSignIn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "on" => Ok(PasswordSignIn::On),
            "admins" => Ok(PasswordSignIn::Admins),
            "off" => Ok(PasswordSignIn::Off),
            _ => Err(format!("'{s}': expected on, admins or off")),
        }
    }
}

/// Given to the pages as context by the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    /// "Sign in with <label>", when single sign-on is set up.
    pub provider_label: Option<String>,
    pub password: PasswordSignIn,
}

/// Public: the sign-in page asks before anyone is signed in.
#[server(endpoint = "sign_in_options", output = crate::api::codec::JsonText)]
pub async fn get_sign_in_options() -> Result<SignInOptions, AppError> {
    Ok(use_context::<SignInOptions>().unwrap_or_default())
}
