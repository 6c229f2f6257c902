//! Run-time switches admins flip from `/admin`, and the failures the server files about itself.

use super::issues::{fetch_issue, insert_issue};
use super::{now_ms, on_pool, on_tx, EventRecord, Store};
use crate::domain::{day_bounds, month_bounds, Actor, NewIssue, Spend, SpendCaps, Status};
use crate::error::{AppError, AppResult};
use std::collections::HashMap;

/// A deployment switch, stored in `settings` as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// The public feedback route takes submissions (on unless an admin turned it off).
    FeedbackOpen,
    /// Runners claim nothing new while this is on.
    RunnerPaused,
    /// New issues plan first unless they say otherwise.
    PlanFirst,
}

impl Switch {
    pub(super) fn key(self) -> &'static str {
        match self {
            Switch::FeedbackOpen => "feedback_open",
            Switch::RunnerPaused => "runner_paused",
            Switch::PlanFirst => "plan_first",
        }
    }

    /// The switch as stored (`None`: never set, so its default).
    pub(super) fn read(self, stored: Option<&str>) -> bool {
        stored.map_or(self.default_value(), |v| v == "true")
    }

    fn default_value(self) -> bool {
        match self {
            Switch::FeedbackOpen => true,
            Switch::RunnerPaused => false,
            Switch::PlanFirst => false,
        }
    }
}

/// Where the spending caps are kept in `settings` (dollars as text).
const DAILY_CAP: &str = "spend_cap_daily_usd";
const MONTHLY_CAP: &str = "spend_cap_monthly_usd";

/// A repeat of a failure already filed less than this long ago counts on the same issue.
pub const SELF_HEAL_WINDOW_MS: i64 = 60 * 60 * 1000;

/// Writes of one failure (one fingerprint) allowed at once; after them, one a minute.
const FAILURE_BURST: f64 = 3.0;
/// Writes of all failures together allowed at once, and then a minute.
const FAILURES_BURST: f64 = 30.0;
const MINUTE_MS: f64 = 60_000.0;
/// Fingerprints remembered (seen within the window). Past it, a new failure is not filed
/// until old ones are forgotten: the map cannot grow with the failures' variety.
const FINGERPRINTS_KEPT: usize = 256;

/// How often self-heal may write, in this process: a flood of failures is counted in memory
/// and its count written with the next write allowed, so it cannot write without bound.
#[derive(Debug)]
pub(super) struct FailureLimits {
    by_fingerprint: HashMap<String, Bucket>,
    all: Bucket,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
    /// Repeats seen since the last write, not yet written.
    unwritten: i64,
}

impl Bucket {
    fn full(capacity: f64, now: i64) -> Self {
        Bucket {
            tokens: capacity,
            at_ms: now,
            unwritten: 0,
        }
    }

    /// Tokens come back at `per_minute`, up to `capacity`.
    fn refill(&mut self, capacity: f64, per_minute: f64, now: i64) {
        let elapsed = (now - self.at_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed / MINUTE_MS * per_minute).min(capacity);
        self.at_ms = now;
    }
}

impl Default for FailureLimits {
    fn default() -> Self {
        FailureLimits {
            by_fingerprint: HashMap::new(),
            all: Bucket::full(FAILURES_BURST, now_ms()),
        }
    }
}

impl FailureLimits {
    /// Whether a failure may be written now: `Some(n)` with the `n` repeats seen since its
    /// last write (to be written with it), or `None` when it is only counted.
    fn take(&mut self, fingerprint: &str, now: i64) -> Option<i64> {
        if !self.by_fingerprint.contains_key(fingerprint)
            && self.by_fingerprint.len() >= FINGERPRINTS_KEPT
        {
            self.by_fingerprint
                .retain(|_, b| now - b.at_ms < SELF_HEAL_WINDOW_MS);
            if self.by_fingerprint.len() >= FINGERPRINTS_KEPT {
                return None;
            }
        }
        let one = self
            .by_fingerprint
            .entry(fingerprint.to_string())
            .or_insert_with(|| Bucket::full(FAILURE_BURST, now));
        one.refill(FAILURE_BURST, 1.0, now);
        self.all.refill(FAILURES_BURST, FAILURES_BURST, now);
        if one.tokens >= 1.0 && self.all.tokens >= 1.0 {
            one.tokens -= 1.0;
            self.all.tokens -= 1.0;
            Some(std::mem::take(&mut one.unwritten))
        } else {
            one.unwritten += 1;
            None
        }
    }
}

impl Store {
    pub async fn switch(&self, switch: Switch) -> AppResult<bool> {
        let value: Option<(String,)> = on_pool!(self, e => sqlx::query_as(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(switch.key())
        .fetch_optional(e)
        .await)?;
        Ok(switch.read(value.as_ref().map(|(v,)| v.as_str())))
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
    ///
    /// Rate-limited in this process (a few writes of one failure at once, then one a minute;
    /// a cap on all of them together): a repeat past the limit is counted in memory, written
    /// with the next write of its failure, and answered with `RateLimited`.
    pub async fn record_failure(
        &self,
        fingerprint: &str,
        report: NewIssue,
    ) -> AppResult<(i64, i64)> {
        let actor = Actor::system();
        let now = now_ms();
        let unwritten = self
            .failures
            .lock()
            .map_err(|_| AppError::Internal)?
            .take(fingerprint, now)
            .ok_or(AppError::RateLimited)?;
        let seen_now = 1 + unwritten;
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
                    "UPDATE self_heal_reports SET occurrences = occurrences + $3, last_seen_at = $1
                     WHERE fingerprint = $2",
                )
                .bind(now)
                .bind(fingerprint)
                .bind(seen_now)
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
                    data: serde_json::json!({ "occurrences": seen + seen_now }),
                }
                .write(&mut tx, now)
                .await?;
                (issue_id, seen + seen_now)
            }
            None => {
                let issue = insert_issue(&mut tx, &actor, report).await?;
                on_tx!(&mut tx, e => sqlx::query(
                    "INSERT INTO self_heal_reports
                         (fingerprint, issue_id, occurrences, first_seen_at, last_seen_at)
                     VALUES ($1, $2, $4, $3, $3)
                     ON CONFLICT (fingerprint) DO UPDATE
                     SET issue_id = excluded.issue_id, occurrences = excluded.occurrences,
                         first_seen_at = excluded.first_seen_at,
                         last_seen_at = excluded.last_seen_at",
                )
                .bind(fingerprint)
                .bind(issue.id)
                .bind(now)
                .bind(seen_now)
                .execute(e)
                .await
                .map(|_| ()))?;
                (issue.id, seen_now)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_one_failure_is_counted_and_written_about_once_a_minute() {
        let mut limits = FailureLimits::default();
        let t = now_ms();
        let written: Vec<Option<i64>> = (0..10).map(|_| limits.take("GET /x 500", t)).collect();
        assert_eq!(&written[..3], &[Some(0), Some(0), Some(0)], "a short burst");
        assert!(written[3..].iter().all(Option::is_none), "{written:?}");
        // A minute on, one more write, carrying the seven repeats counted meanwhile.
        assert_eq!(limits.take("GET /x 500", t + 60_000), Some(7));
        assert_eq!(limits.take("GET /x 500", t + 60_001), None);
        // Another failure has writes of its own.
        assert_eq!(limits.take("GET /y 500", t + 60_001), Some(0));
    }

    #[test]
    fn many_different_failures_are_capped_too() {
        let mut limits = FailureLimits::default();
        let t = now_ms();
        let written = (0..1000)
            .filter(|n| limits.take(&format!("GET /x 500 panic {n}"), t).is_some())
            .count();
        assert_eq!(written, FAILURES_BURST as usize);
        assert!(limits.by_fingerprint.len() <= FINGERPRINTS_KEPT);
    }
}
