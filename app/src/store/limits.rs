//! Rate limits counted in the database, so a cap holds across every server of a board and
//! not once per server.

use super::{on_pool, Store};
use crate::error::AppResult;

impl Store {
    /// Counts one request against `bucket` in the current window of `window_ms` (by the
    /// database's clock). Within `limit`: `Ok(None)`; over it: `Ok(Some(seconds))` until the
    /// window ends. A refused request still counts, so hammering does not help.
    pub async fn take_rate(
        &self,
        bucket: &str,
        window_ms: i64,
        limit: i64,
    ) -> AppResult<Option<u64>> {
        let now = self.db_now().await?;
        let window_start = now - now.rem_euclid(window_ms.max(1));
        let (count,): (i64,) = on_pool!(self, e => sqlx::query_as(
            "INSERT INTO rate_windows (bucket, window_start, window_ms, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_windows.count + 1
             RETURNING count",
        )
        .bind(bucket)
        .bind(window_start)
        .bind(window_ms)
        .fetch_one(e)
        .await)?;
        if count <= limit {
            return Ok(None);
        }
        let left_ms = window_start + window_ms - now;
        Ok(Some((left_ms.max(0) as u64).div_ceil(1000).max(1)))
    }

    /// Forgets the windows that have ended (a day's window lives until its day is over).
    pub async fn forget_ended_rate_windows(&self) -> AppResult<()> {
        let before = self.db_now().await?;
        on_pool!(self, e => sqlx::query("DELETE FROM rate_windows WHERE window_start + window_ms < $1")
            .bind(before)
            .execute(e)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
