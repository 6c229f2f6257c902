//! Autopilot's isomorphic crate: domain rules, the store (server only), server functions and
//! the Leptos UI.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod diff_html;
pub mod domain;
pub mod error;
#[cfg(feature = "ssr")]
pub mod highlight;
#[cfg(feature = "ssr")]
pub mod markdown;
pub mod pages;
pub mod percent;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::{shell, App};
