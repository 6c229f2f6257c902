//! Run-time switches admins flip from `/admin`, and the failures the server files about itself.

use super::issues::{fetch_issue, insert_issue};
use super::{now_ms, on_pool, on_tx, EventRecord, Store};
use crate::domain::{day_bounds, month_bounds, Actor, NewIssue, Spend, SpendCaps, Status};
use crate::error::AppResult;

/// A deployment switch, stored in `settings` as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// The public feedback route takes submissions (on unless an admin turned it off).
    FeedbackOpen,
    /// Runners claim nothing new while this is on.
    RunnerPaused,
}

impl Switch {
    fn key(self) -> &'static str {
        match self {
            Switch::FeedbackOpen => "feedback_open",
            Switch::RunnerPaused => "runner_paused",
        }
    }

    fn default_value(self) -> bool {
        match self {
            Switch::FeedbackOpen => true,
            Switch::RunnerPaused => false,
        }
    }
}

/// Where the spending caps are kept in `settings` (dollars as text).
const DAILY_CAP: &str = "spend_cap_daily_usd";
const MONTHLY_CAP: &str = "spend_cap_monthly_usd";

/// A repeat of a failure already filed less than this long ago counts on the same issue.
pub const SELF_HEAL_WINDOW_MS: i64 = 60 * 60 * 1000;

impl Store {
    pub async fn switch(&self, switch: Switch) -> AppResult<bool> {
        let value: Option<(String,)> = on_pool!(self, e => sqlx::query_as(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(switch.key())
        .fetch_optional(e)
        .await)?;
        Ok(value.map_or(switch.default_value(), |(v,)| v == "true"))
    }

    pub async fn set_switch(&self, actor: &Actor, switch: Switch, on: bool) -> AppResult<()> {
        self.set_setting(actor, switch.key(), if on { "true" } else { "false" })
            .await?;
        tracing::info!(actor = %actor.label(), setting = switch.key(), on, "setting changed");
        Ok(())
    }

    /// The board-wide spending caps admins set on `/admin/runner`.
    pub async fn spend_caps(&self) -> AppResult<SpendCaps> {
        let rows: Vec<(String, String)> = on_pool!(self, e => sqlx::query_as(
            "SELECT key, value FROM settings WHERE key IN ($1, $2)"
        )
        .bind(DAILY_CAP)
        .bind(MONTHLY_CAP)
        .fetch_all(e)
        .await)?;
        let cap = |key: &str| {
            rows.iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .filter(|usd| *usd > 0.0)
        };
        Ok(SpendCaps {
            daily_usd: cap(DAILY_CAP),
            monthly_usd: cap(MONTHLY_CAP),
        })
    }

    pub async fn set_spend_caps(&self, actor: &Actor, caps: SpendCaps) -> AppResult<()> {
        let text = |cap: Option<f64>| cap.map(|usd| usd.to_string()).unwrap_or_default();
        self.set_setting(actor, DAILY_CAP, &text(caps.daily_usd))
            .await?;
        self.set_setting(actor, MONTHLY_CAP, &text(caps.monthly_usd))
            .await?;
        tracing::info!(actor = %actor.label(), ?caps, "spending caps changed");
        Ok(())
    }

    /// What the runs started today and this month (UTC) cost, the last 30 days day by day,
    /// and the caps.
    pub async fn spend(&self) -> AppResult<Spend> {
        let caps = self.spend_caps().await?;
        self.spend_against(caps).await
    }

    /// The cap that stops runners from claiming now, if one does; without caps set, nothing
    /// is summed (every claim asks).
    pub async fn cap_reached(&self) -> AppResult<Option<crate::domain::CapReached>> {
        let caps = self.spend_caps().await?;
        if caps == SpendCaps::default() {
            return Ok(None);
        }
        Ok(self.spend_against(caps).await?.reached())
    }

    async fn spend_against(&self, caps: SpendCaps) -> AppResult<Spend> {
        let now = self.db_now().await?;
        let (day, next_day) = day_bounds(now);
        let (month, next_month) = month_bounds(now);
        let since = day - 29 * 86_400_000;
        let days: Vec<(i64, f64)> = on_pool!(self, e => sqlx::query_as(
            "SELECT started_at / 86400000 AS day, CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION)
             FROM runs WHERE started_at >= $1 GROUP BY started_at / 86400000 ORDER BY day"
        )
        .bind(since.min(month))
        .fetch_all(e)
        .await)?;
        // A fold from 0.0, not `sum()`: an empty float sum is -0.0, which prints as "$-0.00".
        let sum_since = |from: i64| {
            days.iter()
                .filter(|(d, _)| d * 86_400_000 >= from)
                .fold(0.0, |sum, (_, usd)| sum + usd)
        };
        let per_day = (0..30)
            .map(|n| {
                let start = since + n * 86_400_000;
                let usd = days
                    .iter()
                    .find(|(d, _)| d * 86_400_000 == start)
                    .map_or(0.0, |(_, usd)| *usd);
                (start, usd)
            })
            .collect();
        Ok(Spend {
            caps,
            today_usd: sum_since(day),
            month_usd: sum_since(month),
            day_resets_at: next_day,
            month_resets_at: next_month,
            per_day,
        })
    }

    async fn set_setting(&self, actor: &Actor, key: &str, value: &str) -> AppResult<()> {
        on_pool!(self, e => sqlx::query(
            "INSERT INTO settings (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE
             SET value = excluded.value, updated_by = excluded.updated_by,
                 updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(actor.label())
        .bind(now_ms())
        .execute(e)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Files `report` as a new issue, unless the same `fingerprint` was filed within the last
    /// hour and that issue is not done: then its occurrence counter goes up instead (with a
    /// `recurred` event). Returns the issue's id and how often the failure has been seen.
    pub async fn record_failure(
        &self,
        fingerprint: &str,
        report: NewIssue,
    ) -> AppResult<(i64, i64)> {
        let actor = Actor::system();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let recent: Option<(i64, i64)> = on_tx!(&mut tx, e => sqlx::query_as(
            "SELECT r.issue_id, r.occurrences FROM self_heal_reports r
             JOIN issues i ON i.id = r.issue_id
             WHERE r.fingerprint = $1 AND r.last_seen_at > $2 AND i.status <> $3",
        )
        .bind(fingerprint)
        .bind(now - SELF_HEAL_WINDOW_MS)
        .bind(Status::Done)
        .fetch_optional(e)
        .await)?;
        let (issue_id, occurrences) = match recent {
            Some((issue_id, seen)) => {
                on_tx!(&mut tx, e => sqlx::query(
                    "UPDATE self_heal_reports SET occurrences = occurrences + 1, last_seen_at = $1
                     WHERE fingerprint = $2",
                )
                .bind(now)
                .bind(fingerprint)
                .execute(e)
                .await
                .map(|_| ()))?;
                let issue = fetch_issue(&mut tx, issue_id).await?;
                EventRecord {
                    issue_id,
                    actor: &actor,
                    kind: "recurred",
                    from: Some(issue.status),
                    to: Some(issue.status),
                    data: serde_json::json!({ "occurrences": seen + 1 }),
                }
                .write(&mut tx, now)
                .await?;
                (issue_id, seen + 1)
            }
            None => {
                let issue = insert_issue(&mut tx, &actor, report).await?;
                on_tx!(&mut tx, e => sqlx::query(
                    "INSERT INTO self_heal_reports
                         (fingerprint, issue_id, occurrences, first_seen_at, last_seen_at)
                     VALUES ($1, $2, 1, $3, $3)
                     ON CONFLICT (fingerprint) DO UPDATE
                     SET issue_id = excluded.issue_id, occurrences = 1,
                         first_seen_at = excluded.first_seen_at,
                         last_seen_at = excluded.last_seen_at",
                )
                .bind(fingerprint)
                .bind(issue.id)
                .bind(now)
                .execute(e)
                .await
                .map(|_| ()))?;
                (issue.id, 1)
            }
        };
        self.commit(tx).await?;
        Ok((issue_id, occurrences))
    }

    /// How often a self-filed issue's failure has been seen (none for other issues).
    pub async fn failure_occurrences(&self, issue_id: i64) -> AppResult<Option<i64>> {
        let row: Option<(i64,)> = on_pool!(self, e => sqlx::query_as(
            "SELECT CAST(SUM(occurrences) AS BIGINT) FROM self_heal_reports
             WHERE issue_id = $1 HAVING COUNT(*) > 0",
        )
        .bind(issue_id)
        .fetch_optional(e)
        .await)?;
        Ok(row.map(|(n,)| n))
    }
}
