//! What `/metrics` reads from the database when it is scraped: cheap aggregate queries, no rows.

use super::{on_pool, Store};
use crate::domain::{RunnerInfo, Status};
use crate::error::AppResult;
use crate::store::IssueFilter;

/// The board and the runner in numbers, now.
#[derive(Debug, Clone)]
pub struct Figures {
    pub issues_by_status: Vec<(Status, i64)>,
    /// Each outcome (`running` for runs not finished): how many runs, and what they cost.
    pub runs_by_outcome: Vec<(String, i64, f64)>,
    /// Runners heard from in the last hour, still running.
    pub runners: Vec<RunnerInfo>,
    pub pool: PoolFigures,
}

/// This process's database connections.
#[derive(Debug, Clone, Copy)]
pub struct PoolFigures {
    pub open: u32,
    pub idle: usize,
    pub max: u32,
}

impl Store {
    pub async fn figures(&self, now_ms: i64) -> AppResult<Figures> {
        let issues_by_status = self.column_counts(&IssueFilter::default()).await?;
        let runs_by_outcome = on_pool!(self, e => sqlx::query_as::<_, (String, i64, f64)>(
            "SELECT COALESCE(outcome, 'running'), COUNT(*),
                    CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION)
             FROM runs GROUP BY COALESCE(outcome, 'running') ORDER BY 1",
        )
        .fetch_all(e)
        .await)?;
        let runners = self
            .list_runners(now_ms - 3_600_000)
            .await?
            .into_iter()
            .filter(|r| r.stopped_at.is_none())
            .collect();
        Ok(Figures {
            issues_by_status,
            runs_by_outcome,
            runners,
            pool: self.pool_figures(),
        })
    }

    pub fn pool_figures(&self) -> PoolFigures {
        on_pool!(self, pool => PoolFigures {
            open: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        })
    }
}
