//! Autopilot's isomorphic crate: domain rules, the store (server only), server functions and
//! the Leptos UI.

pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
pub mod domain;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::{shell, App};
