//! The agent runner. Compiled with the `runner` feature; starts only when `AUTOPILOT_RUNNER=1`.
//! (The claim loop, worktrees and the Claude Code CLI come with issue 7.)

use app::store::Store;

pub fn start_if_enabled(_store: Store) {
    if crate::config::runner_flag_set() {
        tracing::info!("runner enabled");
    }
}
