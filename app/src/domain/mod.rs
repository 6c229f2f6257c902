//! Pure types and rules, compiled for the server and the browser alike, so the board can show
//! which drops are legal with exactly the rules the server enforces.

mod diff;
mod invite;
mod issue;
mod query;
mod run;
mod scope;
mod spend;
mod time;
mod transition;
mod user;
mod validate;
mod webhook;

pub use self::time::format_time;
pub use diff::*;
pub use invite::*;
pub use issue::*;
pub use query::*;
pub use run::*;
pub use scope::*;
pub use spend::*;
pub use transition::*;
pub use user::*;
pub use validate::*;
pub use webhook::*;
