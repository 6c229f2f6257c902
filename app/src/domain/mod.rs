//! Pure types and rules, compiled for the server and the browser alike, so the board can show
//! which drops are legal with exactly the rules the server enforces.

mod issue;
mod transition;
mod user;
mod validate;

pub use issue::*;
pub use transition::*;
pub use user::*;
pub use validate::*;
