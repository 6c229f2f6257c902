use super::{now_ms, on_pool, on_tx, Db, EventRecord, Store, Tx};
use crate::domain::MATCHES_COUNTED;
use crate::domain::{
    check_move, dependency_cycle, position_between, takes_it_as_human_work, Actor, BoardIssues,
    Card, Issue, IssuePatch, Kind, NewIssue, Status,
};
use crate::error::{AppError, AppResult};
use sqlx::{Database, Encode, QueryBuilder, Type};
use std::collections::HashMap;

/// What the board's cards show (`Card`): never a body, a result or a log; the agent's effort
/// summed from its runs (the runs index by issue keeps that cheap for the cards shown).
macro_rules! card_columns {
    () => {
        "id, title, status, kind, priority, human_only, assignee, claimed_by, position, version, \
         updated_at, pr_checks, model, agent, substr(question, 1, 140) AS question, plan_state, \
         next_run, (SELECT COUNT(*) FROM runs r WHERE r.issue_id = issues.id) AS runs, \
         (SELECT COALESCE(SUM(r.cost_usd), 0.0) FROM runs r WHERE r.issue_id = issues.id) \
         AS spent_usd, \
         (SELECT MIN(d.depends_on) FROM issue_dependencies d JOIN issues w ON w.id = d.depends_on \
          WHERE d.issue_id = issues.id AND w.status <> 'done') AS waiting_on, \
         (SELECT COUNT(*) FROM issue_dependencies d JOIN issues w ON w.id = d.depends_on \
          WHERE d.issue_id = issues.id AND w.status <> 'done') AS waiting_count"
    };
}

macro_rules! issue_columns {
    () => {
        "id, title, body, status, kind, priority, human_only, assignee, created_by, claimed_by, \
         claimed_at, lease_expires_at, branch, pr_url, pr_checks, result, position, version, \
         created_at, updated_at, model, agent, question, plan_first, plan_state, next_run, \
         ci_fix_attempts"
    };
}

/// Which issues to list. Empty means all.
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// Words to find in the title or body (in the title only under 3 characters); `#12` or
    /// `12` also finds issue 12.
    pub q: Option<String>,
    /// Exactly this assignee.
    pub assignee: Option<String>,
}

impl IssueFilter {
    /// Whether this filter picks by column only (or not at all).
    fn only_by_status(&self) -> bool {
        self.kind.is_none() && self.assignee.is_none() && self.words().is_none()
    }

    /// The words searched for, on one line, if any.
    fn words(&self) -> Option<String> {
        let q = self.q.as_deref().map(crate::domain::one_line);
        q.filter(|q| !q.is_empty())
    }

    /// Whether the words are so short that only titles are searched.
    fn searches_titles_only(&self) -> bool {
        self.q
            .as_deref()
            .is_some_and(crate::domain::search_reads_titles_only)
    }

    /// Whether the words are found the same without the search index: always on PostgreSQL
    /// (both ways are `LOWER(x) LIKE`), and on SQLite for ASCII words (whose case the trigram
    /// index and `LOWER` fold alike).
    fn walk_finds_the_same(&self) -> bool {
        self.q.as_deref().is_none_or(str::is_ascii)
    }

    fn push_conditions<'a, DB: Database>(&self, sql: &mut QueryBuilder<'a, DB>)
    where
        Status: Encode<'a, DB> + Type<DB>,
        Kind: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
        i64: Encode<'a, DB> + Type<DB>,
    {
        self.push_conditions_as(sql, false)
    }

    /// The filter's conditions; with `walk`, the words are matched row by row, as a plain
    /// substring that no search index serves (for a walk of a column in its order, which
    /// stops once it has found enough).
    fn push_conditions_as<'a, DB: Database>(&self, sql: &mut QueryBuilder<'a, DB>, walk: bool)
    where
        Status: Encode<'a, DB> + Type<DB>,
        Kind: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
        i64: Encode<'a, DB> + Type<DB>,
    {
        if let Some(status) = self.status {
            sql.push(" AND status = ").push_bind(status);
        }
        if let Some(kind) = self.kind {
            sql.push(" AND kind = ").push_bind(kind);
        }
        // Stored names and texts hold no control characters (see `domain::validate`), and
        // PostgreSQL refuses a NUL in any text it is sent: a filter with one matches nothing,
        // and search words have theirs taken out, as the texts searched had.
        match self.assignee.clone() {
            Some(assignee) if assignee.chars().any(char::is_control) => {
                sql.push(" AND 1 = 0");
            }
            Some(assignee) => {
                sql.push(" AND assignee = ").push_bind(assignee);
            }
            None => {}
        }
        if let Some(q) = self.words().as_deref() {
            let bodies = crate::domain::search_reads_bodies(q);
            if walk {
                let words = q.to_lowercase();
                let find = if DB::NAME == "SQLite" {
                    "instr"
                } else {
                    "strpos"
                };
                sql.push(format!(" AND ({find}(LOWER(title), "))
                    .push_bind(words.clone());
                if bodies {
                    sql.push(format!(") > 0 OR {find}(LOWER(body), "))
                        .push_bind(words);
                }
                sql.push(") > 0");
            } else if !bodies {
                // Titles only. SQLite reads them from an index of (status, title) rather than
                // from the rows with their bodies; its LIKE folds the case of ASCII letters,
                // as its LOWER does (and no others). PostgreSQL keeps them lowered.
                let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
                let title = if DB::NAME == "SQLite" {
                    "title"
                } else {
                    "title_lower"
                };
                sql.push(format!(" AND ({title} LIKE "))
                    .push_bind(pattern)
                    .push(" ESCAPE '\\'");
            } else if DB::NAME == "SQLite" {
                // The trigram index finds substrings of 3 characters or more, whatever their
                // case; as one quoted phrase, the words' own `"`, `*`, `OR` or `NEAR(` are
                // only text.
                sql.push(" AND (id IN (SELECT rowid FROM issues_fts WHERE issues_fts MATCH ")
                    .push_bind(fts_phrase(q))
                    .push(")");
            } else {
                let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
                sql.push(" AND (LOWER(title) LIKE ")
                    .push_bind(pattern.clone())
                    .push(" ESCAPE '\\' OR LOWER(body) LIKE ")
                    .push_bind(pattern)
                    .push(" ESCAPE '\\'");
            }
            if let Ok(id) = q.trim_start_matches('#').parse::<i64>() {
                sql.push(" OR id = ").push_bind(id);
            }
            sql.push(")");
        }
    }
}

impl Store {
    pub async fn list_issues(&self, filter: &IssueFilter) -> AppResult<Vec<Issue>> {
        let issues = on_pool!(self, e => {
            let mut sql = QueryBuilder::new(concat!(
                "SELECT ",
                issue_columns!(),
                " FROM issues WHERE 1 = 1"
            ));
            filter.push_conditions(&mut sql);
            sql.push(" ORDER BY position, id");
            sql.build_query_as::<Issue>().fetch_all(e).await
        })?;
        self.with_dependencies(issues).await
    }

    /// The first `cap` matches in board order, and whether more matched.
    pub async fn list_issues_up_to(
        &self,
        filter: &IssueFilter,
        cap: i64,
    ) -> AppResult<(Vec<Issue>, bool)> {
        let mut issues = on_pool!(self, e => {
            up_to_query("", filter, cap.max(0) + 1)
                .build_query_as::<Issue>()
                .fetch_all(e)
                .await
        })?;
        let more = issues.len() as i64 > cap.max(0);
        issues.truncate(cap.max(0) as usize);
        Ok((self.with_dependencies(issues).await?, more))
    }

    /// `issues`, each with what it depends on.
    async fn with_dependencies(&self, mut issues: Vec<Issue>) -> AppResult<Vec<Issue>> {
        if issues.is_empty() {
            return Ok(issues);
        }
        let mut by_issue: HashMap<i64, Vec<i64>> = HashMap::new();
        let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
        for (issue, on) in self.dependency_edges(&ids).await? {
            by_issue.entry(issue).or_default().push(on);
        }
        for issue in &mut issues {
            issue.depends_on = by_issue.remove(&issue.id).unwrap_or_default();
        }
        Ok(issues)
    }

    /// The dependencies of `ids` (of every issue when they are many): (issue, the issue it
    /// depends on), in order.
    async fn dependency_edges(&self, ids: &[i64]) -> AppResult<Vec<(i64, i64)>> {
        Ok(on_pool!(self, e => {
            let mut sql = QueryBuilder::new("SELECT issue_id, depends_on FROM issue_dependencies");
            // A page's worth by the index; beyond that, one read of them all.
            if ids.len() <= 1000 {
                sql.push(" WHERE issue_id IN (");
                let mut list = sql.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                sql.push(")");
            }
            sql.push(" ORDER BY issue_id, depends_on");
            sql.build_query_as().fetch_all(e).await
        })?)
    }

    /// One page of issues in id order, after issue `after`, and the id to continue after
    /// when there are more (a keyset cursor: pages stay right while issues are filed).
    pub async fn list_issue_page(
        &self,
        filter: &IssueFilter,
        after: i64,
        limit: i64,
    ) -> AppResult<(Vec<Issue>, Option<i64>)> {
        let limit = limit.clamp(1, 1000);
        let mut issues = on_pool!(self, e => {
            page_query("", filter, after, limit + 1)
                .build_query_as::<Issue>()
                .fetch_all(e)
                .await
        })?;
        let more = issues.len() as i64 > limit;
        issues.truncate(limit as usize);
        let next = more.then(|| issues.last().map(|i| i.id)).flatten();
        Ok((issues, next))
    }

    /// The board: the first `shown(status)` cards of each column, without their bodies, and
    /// every column's count. What it costs depends on what is on screen, not on how many
    /// issues exist: each column is one indexed query with a limit.
    pub async fn board_issues(
        &self,
        filter: &IssueFilter,
        shown: impl Fn(Status) -> i64,
    ) -> AppResult<BoardIssues> {
        if filter.only_by_status() {
            let mut issues = Vec::new();
            for status in Status::ALL {
                let limit = shown(status).max(0);
                if limit > 0 {
                    let cards = on_pool!(self, e => {
                        column_query("", filter, status, limit, None)
                            .build_query_as::<Card>()
                            .fetch_all(e)
                            .await
                    })?;
                    issues.extend(cards);
                }
            }
            let counts = self.column_counts(filter).await?;
            return Ok(BoardIssues {
                issues,
                counts,
                only_places: false,
            });
        }
        let common = match filter.words() {
            Some(q) => self.common_words(filter, &q).await?,
            None => false,
        };
        // A rare piece of 1 or 2 characters on PostgreSQL: every title is read once, for all
        // the columns.
        if matches!(self.pool, Db::Postgres(_)) && filter.searches_titles_only() && !common {
            return self.board_in_one_pass(filter, shown).await;
        }
        // Filtered: the matches are counted first, so a column with none is not read, and one
        // where they are dense is walked in its order until enough are found (a word every
        // issue has: 50 rows, not all the matches again for each column).
        let counts = self.match_counts(filter, common).await?;
        let sizes = self.column_counts(&IssueFilter::default()).await?;
        let mut issues = Vec::new();
        for ((status, matched), (_, size)) in counts.iter().zip(&sizes) {
            let limit = shown(*status).max(0);
            if limit == 0 || *matched == 0 {
                continue;
            }
            let mut cards = Vec::new();
            // Counted to the limit only when too many to count: dense, whatever the column's size.
            let dense = *matched > MATCHES_COUNTED || *matched * DENSE >= *size;
            let walk = dense && filter.walk_finds_the_same();
            if walk {
                let window = Some(limit.saturating_mul(WINDOW));
                cards = on_pool!(self, e => {
                    column_query("", filter, *status, limit, window)
                        .build_query_as::<Card>()
                        .fetch_all(e)
                        .await
                })?;
            }
            // Not walked, or the matches lie further down than the walk read: from the index.
            if (cards.len() as i64) < limit.min(*matched) {
                cards = on_pool!(self, e => {
                    column_query("", filter, *status, limit, None)
                        .build_query_as::<Card>()
                        .fetch_all(e)
                        .await
                })?;
            }
            issues.extend(cards);
        }
        Ok(BoardIssues {
            issues,
            counts,
            only_places: false,
        })
    }

    /// The board under `filter` from one pass over the issues that match it: each column's
    /// first `shown(status)` cards and its matches, counted whole. For a rare piece of 1 or 2
    /// characters on PostgreSQL, which no index finds and which PostgreSQL reads from the
    /// rows: a query per column would read every row of each column.
    async fn board_in_one_pass(
        &self,
        filter: &IssueFilter,
        shown: impl Fn(Status) -> i64,
    ) -> AppResult<BoardIssues> {
        let limits: Vec<(Status, i64)> = Status::ALL.iter().map(|&s| (s, shown(s))).collect();
        let rows = on_pool!(self, e => {
            one_pass_query("", filter, &limits)
                .build_query_as::<RankedCard>()
                .fetch_all(e)
                .await
        })?;
        let mut issues = Vec::new();
        let mut counts = Vec::new();
        for (status, limit) in limits {
            let mut column = rows.iter().filter(|r| r.card.status == status).peekable();
            counts.push((status, column.peek().map_or(0, |r| r.matched)));
            issues.extend(column.filter(|r| r.nth <= limit).map(|r| r.card.clone()));
        }
        Ok(BoardIssues {
            issues,
            counts,
            only_places: false,
        })
    }

    /// Whether `q`, the filter's words (on one line, not empty), are too common to count
    /// whole: SQLite's trigram index finds them in more than `MATCHES_COUNTED` issues, or they
    /// are in one issue of `COMMON_IN` of a sample of the board.
    async fn common_words(&self, filter: &IssueFilter, q: &str) -> AppResult<bool> {
        if matches!(self.pool, Db::Sqlite(_)) && crate::domain::search_reads_bodies(q) {
            // The trigram index alone stops at the limit; the other conditions are not
            // needed to tell a common word.
            let past = MATCHES_COUNTED + 1;
            let (n,): (i64,) = on_pool!(self, e => sqlx::query_as(
                "SELECT COUNT(*) FROM
                     (SELECT rowid FROM issues_fts WHERE issues_fts MATCH $1 LIMIT $2) AS hits"
            )
            .bind(fts_phrase(q))
            .bind(past)
            .fetch_one(e)
            .await)?;
            return Ok(n >= past);
        }
        // PostgreSQL's trigram index reads every match, however many, and titles alone (a
        // word under 3 letters) have no such index: a sample of the board tells.
        let (hits,): (i64,) = on_pool!(self, e => {
            sample_query(filter).build_query_as().fetch_one(e).await
        })?;
        Ok(hits * COMMON_IN >= SAMPLE)
    }

    /// Each column's matches under a filtered board, in `Status::ALL` order; a column with
    /// too many to count says one past `MATCHES_COUNTED`. A search is first tried on the whole
    /// board with a limit: under it, the matches are counted exactly; a word too common for
    /// that is counted column by column, in the column's order, up to the limit.
    /// `common`: what `common_words` told of the words (false without any).
    async fn match_counts(
        &self,
        filter: &IssueFilter,
        common: bool,
    ) -> AppResult<Vec<(Status, i64)>> {
        let past = MATCHES_COUNTED + 1;
        // Row by row, SQLite folds the case of ASCII letters only: other words are counted
        // whole, the way the search index finds them.
        if !common || !filter.walk_finds_the_same() {
            return self.column_counts(filter).await;
        }
        let mut counts = Vec::new();
        for status in Status::ALL {
            let n = if filter.status.is_some_and(|only| only != status) {
                0
            } else {
                let (n,): (i64,) = on_pool!(self, e => {
                    first_matches_query(filter, status, past).build_query_as().fetch_one(e).await
                })?;
                n
            };
            counts.push((status, n));
        }
        Ok(counts)
    }

    /// How many issues each column holds under `filter`, in `Status::ALL` order.
    pub async fn column_counts(&self, filter: &IssueFilter) -> AppResult<Vec<(Status, i64)>> {
        if filter.only_by_status() {
            // The counts the triggers keep: 6 rows, however many issues there are.
            let counts: Vec<(Status, i64)> = on_pool!(self, e => sqlx::query_as(
                "SELECT status, n FROM issue_counts"
            )
            .fetch_all(e)
            .await)?;
            let count = |s: Status| {
                let kept = counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
                if filter.status.is_none_or(|only| only == s) {
                    kept
                } else {
                    0
                }
            };
            return Ok(Status::ALL.into_iter().map(|s| (s, count(s))).collect());
        }
        let counts: Vec<(Status, i64)> = on_pool!(self, e => {
            counts_query("", filter).build_query_as().fetch_all(e).await
        })?;
        let count = |s: Status| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
        Ok(Status::ALL.into_iter().map(|s| (s, count(s))).collect())
    }

    /// How the database runs what a board load (and the JSON list) reads under `filter`,
    /// `shown` cards a column: (which query, its plan), for the benchmarks to print.
    pub async fn explain_board(
        &self,
        filter: &IssueFilter,
        shown: i64,
    ) -> AppResult<Vec<(String, String)>> {
        let prefix = match &self.pool {
            Db::Sqlite(_) => "EXPLAIN QUERY PLAN ",
            Db::Postgres(_) => "EXPLAIN ",
        };
        let mut plans = Vec::new();
        for status in Status::ALL {
            let plan = on_pool!(self, e => {
                let rows = column_query(prefix, filter, status, shown, None)
                    .build()
                    .fetch_all(e)
                    .await?;
                plan_text(&rows)
            })?;
            plans.push((format!("column {}", status.as_str()), plan));
            if !filter.only_by_status() {
                let plan = on_pool!(self, e => {
                    let rows = column_query(prefix, filter, status, shown, Some(shown * WINDOW))
                        .build()
                        .fetch_all(e)
                        .await?;
                    plan_text(&rows)
                })?;
                plans.push((
                    format!("column {}, walked (dense matches)", status.as_str()),
                    plan,
                ));
            }
        }
        let counts = if filter.only_by_status() {
            format!("{prefix}SELECT status, n FROM issue_counts")
        } else {
            String::new()
        };
        let plan = on_pool!(self, e => {
            let rows = if counts.is_empty() {
                counts_query(prefix, filter).build().fetch_all(e).await?
            } else {
                sqlx::query(&counts).fetch_all(e).await?
            };
            plan_text(&rows)
        })?;
        plans.push(("column counts".into(), plan));
        if matches!(self.pool, Db::Postgres(_)) && filter.searches_titles_only() {
            let limits: Vec<(Status, i64)> = Status::ALL.iter().map(|&s| (s, shown)).collect();
            let plan = on_pool!(self, e => {
                let rows = one_pass_query(prefix, filter, &limits).build().fetch_all(e).await?;
                plan_text(&rows)
            })?;
            plans.push(("every column in one pass (PostgreSQL, rare)".into(), plan));
        }
        let plan = on_pool!(self, e => {
            let rows = page_query(prefix, filter, 0, 51).build().fetch_all(e).await?;
            plan_text(&rows)
        })?;
        plans.push(("JSON page of 50".into(), plan));
        let plan = on_pool!(self, e => {
            let rows = up_to_query(prefix, filter, 1001).build().fetch_all(e).await?;
            plan_text(&rows)
        })?;
        plans.push(("whole JSON list (first 1,000)".into(), plan));
        for (name, sql) in [
            ("board version", super::threads::BOARD_VERSION),
            ("latest event", super::threads::LATEST_EVENT),
        ] {
            let sql = format!("{prefix}{sql}");
            let plan = on_pool!(self, e => {
                let rows = sqlx::query(&sql).fetch_all(e).await?;
                plan_text(&rows)
            })?;
            plans.push((name.into(), plan));
        }
        Ok(plans)
    }

    /// One issue as its card shows it (without the body): what an open board fetches when a
    /// live event names the issue, instead of the whole board.
    pub async fn card(&self, id: i64) -> AppResult<Option<Card>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, Card>(concat!(
            "SELECT ",
            card_columns!(),
            " FROM issues WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(e)
        .await)?)
    }

    pub async fn get_issue(&self, id: i64) -> AppResult<Issue> {
        let mut issue = on_pool!(self, e => sqlx::query_as::<_, Issue>(concat!(
            "SELECT ",
            issue_columns!(),
            " FROM issues WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(e)
        .await)?
        .ok_or_else(|| AppError::not_found(format!("issue {id}")))?;
        issue.depends_on = self.dependencies_of(id).await?;
        Ok(issue)
    }

    /// What issue `id` depends on, in order.
    async fn dependencies_of(&self, id: i64) -> AppResult<Vec<i64>> {
        Ok(on_pool!(self, e => sqlx::query_scalar(
            "SELECT depends_on FROM issue_dependencies WHERE issue_id = $1 ORDER BY depends_on"
        )
        .bind(id)
        .fetch_all(e)
        .await)?)
    }

    pub async fn create_issue(&self, actor: &Actor, new: NewIssue) -> AppResult<Issue> {
        let mut tx = self.begin_write().await?;
        let issue = insert_issue(&mut tx, actor, new).await?;
        self.commit(tx).await?;
        Ok(Issue {
            depends_on: self.dependencies_of(issue.id).await?,
            ..issue
        })
    }

    /// Edits an issue's fields. With `patch.version` set, a stale version is a conflict.
    pub async fn update_issue(
        &self,
        actor: &Actor,
        id: i64,
        patch: IssuePatch,
    ) -> AppResult<Issue> {
        let patch = patch.validate()?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let current = fetch_issue(&mut tx, id).await?;
        check_version(&current, patch.version)?;

        let mut changed = Vec::new();
        let mut next = current.clone();
        if let Some(title) = patch.title.filter(|t| *t != current.title) {
            next.title = title;
            changed.push("title");
        }
        if let Some(body) = patch.body.filter(|b| *b != current.body) {
            next.body = body;
            changed.push("body");
        }
        if let Some(kind) = patch.kind.filter(|k| *k != current.kind) {
            next.kind = kind;
            changed.push("kind");
        }
        if let Some(priority) = patch.priority.filter(|p| *p != current.priority) {
            next.priority = priority;
            changed.push("priority");
        }
        if let Some(human_only) = patch.human_only.filter(|h| *h != current.human_only) {
            next.human_only = human_only;
            changed.push("human_only");
        }
        if let Some(assignee) = patch.assignee {
            let assignee = Some(assignee).filter(|a| !a.is_empty());
            if assignee != current.assignee {
                next.assignee = assignee;
                changed.push("assignee");
            }
        }
        if let Some(model) = patch.model {
            let model = Some(model).filter(|m| !m.is_empty());
            if model != current.model {
                next.model = model;
                changed.push("model");
            }
        }
        if let Some(agent) = patch.agent {
            let agent = Some(agent).filter(|a| !a.is_empty());
            if agent != current.agent {
                next.agent = agent;
                changed.push("agent");
            }
        }
        if let Some(plan_first) = patch.plan_first.filter(|p| *p != current.plan_first) {
            next.plan_first = plan_first;
            changed.push("plan_first");
        }
        if let Some(depends_on) = &patch.depends_on {
            if set_dependencies(&mut tx, actor, id, depends_on, now).await? {
                changed.push("depends_on");
            }
        }
        if changed.is_empty() {
            return Ok(Issue {
                depends_on: self.dependencies_of(id).await?,
                ..current
            });
        }
        let updated = on_tx!(&mut tx, e => sqlx::query_as::<_, Issue>(concat!(
            "UPDATE issues SET title = $1, body = $2, kind = $3, priority = $4, human_only = $5, \
             assignee = $6, model = $10, agent = $11, plan_first = $12, version = version + 1, \
             updated_at = $7 \
             WHERE id = $8 AND version = $9 RETURNING ",
            issue_columns!()
        ))
        .bind(&next.title)
        .bind(&next.body)
        .bind(next.kind)
        .bind(next.priority)
        .bind(next.human_only)
        .bind(&next.assignee)
        .bind(now)
        .bind(id)
        .bind(current.version)
        .bind(&next.model)
        .bind(&next.agent)
        .bind(next.plan_first)
        .fetch_optional(e)
        .await)?
        .ok_or_else(stale)?;
        EventRecord {
            issue_id: id,
            actor,
            kind: "updated",
            from: None,
            to: None,
            data: serde_json::json!({ "fields": changed }),
        }
        .write(&mut tx, now)
        .await?;
        self.commit(tx).await?;
        Ok(Issue {
            depends_on: self.dependencies_of(id).await?,
            ..updated
        })
    }

    /// Moves an issue to another column, if the transition rules let `actor` do it. With
    /// `version` set, a stale version is a conflict.
    pub async fn move_issue(
        &self,
        actor: &Actor,
        id: i64,
        to: Status,
        version: Option<i64>,
    ) -> AppResult<Issue> {
        self.place_issue(actor, id, to, version, None).await
    }

    /// Moves an issue to `to` at `position` (end of the column when `None`). With `to` its
    /// current column, this only reorders it, which any person may do.
    pub async fn place_issue(
        &self,
        actor: &Actor,
        id: i64,
        to: Status,
        version: Option<i64>,
        before: Option<i64>,
    ) -> AppResult<Issue> {
        let mut tx = self.begin_write().await?;
        let current = fetch_issue(&mut tx, id).await?;
        let position = match before.filter(|b| *b != id) {
            Some(before) => position_before(&mut tx, to, before, id).await?,
            None => None,
        };
        let placed = match position {
            Some(position) if current.status == to && actor.role.is_human() => {
                check_version(&current, version)?;
                reorder_in(&mut tx, actor, &current, position).await?
            }
            _ => {
                move_in(
                    &mut tx,
                    actor,
                    id,
                    to,
                    version,
                    position,
                    serde_json::json!({}),
                )
                .await?
            }
        };
        self.commit(tx).await?;
        Ok(Issue {
            depends_on: self.dependencies_of(id).await?,
            ..placed
        })
    }
}

/// Makes `issue` depend on exactly `depends_on` (validated: each once, in order), refusing
/// unknown issues, itself and cycles; records what was added and removed as an event. True
/// when anything changed.
async fn set_dependencies(
    conn: &mut Tx,
    actor: &Actor,
    issue: i64,
    depends_on: &[i64],
    now: i64,
) -> AppResult<bool> {
    let bad = |message: String| {
        AppError::Invalid(crate::domain::Invalid {
            field: "depends_on".into(),
            message,
        })
    };
    if depends_on.contains(&issue) {
        return Err(bad(format!("#{issue} cannot depend on itself")));
    }
    for id in depends_on {
        let found: Option<i64> = on_tx!(conn, e => sqlx::query_scalar(
            "SELECT id FROM issues WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(e)
        .await)?;
        if found.is_none() {
            return Err(bad(format!("there is no issue #{id}")));
        }
    }
    let edges: Vec<(i64, i64)> = on_tx!(conn, e => sqlx::query_as(
        "SELECT issue_id, depends_on FROM issue_dependencies"
    )
    .fetch_all(e)
    .await)?;
    if let Some(path) = dependency_cycle(&edges, issue, depends_on) {
        let through: Vec<String> = path.iter().map(|id| format!("#{id}")).collect();
        return Err(bad(format!(
            "that would make a loop: {} already waits for #{issue}",
            through.join(" → ")
        )));
    }
    let current: Vec<i64> = edges
        .iter()
        .filter(|(a, _)| *a == issue)
        .map(|(_, b)| *b)
        .collect();
    let added: Vec<i64> = depends_on
        .iter()
        .copied()
        .filter(|id| !current.contains(id))
        .collect();
    let removed: Vec<i64> = current
        .iter()
        .copied()
        .filter(|id| !depends_on.contains(id))
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(false);
    }
    for on in &removed {
        on_tx!(conn, e => sqlx::query(
            "DELETE FROM issue_dependencies WHERE issue_id = $1 AND depends_on = $2"
        )
        .bind(issue)
        .bind(on)
        .execute(e)
        .await
        .map(|_| ()))?;
    }
    for on in &added {
        on_tx!(conn, e => sqlx::query(
            "INSERT INTO issue_dependencies (issue_id, depends_on) VALUES ($1, $2)"
        )
        .bind(issue)
        .bind(on)
        .execute(e)
        .await
        .map(|_| ()))?;
    }
    EventRecord {
        issue_id: issue,
        actor,
        kind: "dependencies",
        from: None,
        to: None,
        data: serde_json::json!({ "added": added, "removed": removed }),
    }
    .write(conn, now)
    .await?;
    Ok(true)
}

/// Files a new issue inside a caller's transaction (with its `created` event).
pub(super) async fn insert_issue(conn: &mut Tx, actor: &Actor, new: NewIssue) -> AppResult<Issue> {
    let new = new.validate()?;
    let status = new.status.unwrap_or(Status::Backlog);
    let now = now_ms();
    let position = end_of_column(conn, status).await?;
    let plan_first = match new.plan_first {
        Some(chosen) => chosen,
        None => {
            // The board's default, read in this transaction.
            let switch = super::settings::Switch::PlanFirst;
            let value: Option<String> = on_tx!(conn, e => sqlx::query_scalar(
                "SELECT value FROM settings WHERE key = $1"
            )
            .bind(switch.key())
            .fetch_optional(e)
            .await)?;
            switch.read(value.as_deref())
        }
    };
    let issue = on_tx!(conn, e => sqlx::query_as::<_, Issue>(concat!(
        "INSERT INTO issues (title, body, status, kind, priority, human_only, assignee, \
         created_by, position, version, created_at, updated_at, model, agent, plan_first) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10, $11, $12, $13) RETURNING ",
        issue_columns!()
    ))
    .bind(&new.title)
    .bind(&new.body)
    .bind(status)
    .bind(new.kind)
    .bind(new.priority)
    .bind(new.human_only)
    .bind(&new.assignee)
    .bind(actor.label())
    .bind(position)
    .bind(now)
    .bind(&new.model)
    .bind(&new.agent)
    .bind(plan_first)
    .fetch_one(e)
    .await)?;
    EventRecord {
        issue_id: issue.id,
        actor,
        kind: "created",
        from: None,
        to: Some(status),
        data: serde_json::json!({ "title": issue.title, "kind": issue.kind }),
    }
    .write(conn, now)
    .await?;
    set_dependencies(conn, actor, issue.id, &new.depends_on, now).await?;
    Ok(issue)
}

/// The move itself, inside a caller's transaction, so other writes (a comment that un-blocks
/// an issue) can share it.
pub(super) async fn move_in(
    conn: &mut Tx,
    actor: &Actor,
    id: i64,
    to: Status,
    version: Option<i64>,
    position: Option<f64>,
    data: serde_json::Value,
) -> AppResult<Issue> {
    let now = now_ms();
    let current = fetch_issue(conn, id).await?;
    check_version(&current, version)?;
    check_move(actor.role, current.human_only, current.status, to)?;
    let position = match position.filter(|p| p.is_finite()) {
        Some(p) => p,
        None => end_of_column(conn, to).await?,
    };
    let (human_only, assignee) = if takes_it_as_human_work(actor.role, current.status, to) {
        let assignee = current
            .assignee
            .clone()
            .or_else(|| Some(actor.name.clone()));
        (true, assignee)
    } else {
        (current.human_only, current.assignee.clone())
    };
    // Leaving `in_progress` always ends the claim; it is the runner's to take again.
    let moved = on_tx!(conn, e => sqlx::query_as::<_, Issue>(concat!(
        "UPDATE issues SET status = $1, position = $2, version = version + 1, updated_at = $3, \
         claimed_by = CASE WHEN $1 = 'in_progress' THEN claimed_by END, \
         claimed_at = CASE WHEN $1 = 'in_progress' THEN claimed_at END, \
         lease_expires_at = CASE WHEN $1 = 'in_progress' THEN lease_expires_at END, \
         human_only = $6, assignee = $7, \
         question = CASE WHEN $1 = 'blocked' THEN question END \
         WHERE id = $4 AND version = $5 RETURNING ",
        issue_columns!()
    ))
    .bind(to)
    .bind(position)
    .bind(now)
    .bind(id)
    .bind(current.version)
    .bind(human_only)
    .bind(assignee)
    .fetch_optional(e)
    .await)?
    .ok_or_else(stale)?;
    EventRecord {
        issue_id: id,
        actor,
        kind: "moved",
        from: Some(current.status),
        to: Some(to),
        data,
    }
    .write(conn, now)
    .await?;
    // The issues waiting for this one stop waiting (or wait again): each gets an event, which
    // open boards follow like any change, so their cards' "waiting on" stays true.
    if (current.status == Status::Done) != (to == Status::Done) {
        let waiting: Vec<i64> = on_tx!(conn, e => sqlx::query_scalar(
            "SELECT issue_id FROM issue_dependencies WHERE depends_on = $1 ORDER BY issue_id"
        )
        .bind(id)
        .fetch_all(e)
        .await)?;
        for dependent in waiting {
            EventRecord {
                issue_id: dependent,
                actor,
                kind: "dependency",
                from: None,
                to: None,
                data: serde_json::json!({ "issue": id, "done": to == Status::Done }),
            }
            .write(conn, now)
            .await?;
        }
    }
    Ok(moved)
}

/// Changes an issue's place inside its column.
async fn reorder_in(
    conn: &mut Tx,
    actor: &Actor,
    current: &Issue,
    position: f64,
) -> AppResult<Issue> {
    if !position.is_finite() {
        return Err(AppError::BadRequest("position must be a number".into()));
    }
    let now = now_ms();
    let placed = on_tx!(conn, e => sqlx::query_as::<_, Issue>(concat!(
        "UPDATE issues SET position = $1, version = version + 1, updated_at = $2 \
         WHERE id = $3 AND version = $4 RETURNING ",
        issue_columns!()
    ))
    .bind(position)
    .bind(now)
    .bind(current.id)
    .bind(current.version)
    .fetch_optional(e)
    .await)?
    .ok_or_else(stale)?;
    EventRecord {
        issue_id: current.id,
        actor,
        kind: "reordered",
        from: Some(current.status),
        to: Some(current.status),
        data: serde_json::json!({ "position": position }),
    }
    .write(conn, now)
    .await?;
    Ok(placed)
}

/// An issue inside a write transaction. On PostgreSQL the row stays locked until the
/// transaction ends (SQLite's write transaction holds the whole database already).
pub(super) async fn fetch_issue(conn: &mut Tx, id: i64) -> AppResult<Issue> {
    let sql = match conn {
        Db::Sqlite(_) => concat!("SELECT ", issue_columns!(), " FROM issues WHERE id = $1"),
        Db::Postgres(_) => concat!(
            "SELECT ",
            issue_columns!(),
            " FROM issues WHERE id = $1 FOR UPDATE"
        ),
    };
    on_tx!(conn, e => sqlx::query_as::<_, Issue>(sql).bind(id).fetch_optional(e).await)?
        .ok_or_else(|| AppError::not_found(format!("issue {id}")))
}

/// Where a card dropped on card `before` of column `status` goes: between it and the card
/// above it in the whole column (not only the cards a board shows), leaving out `moving`
/// itself. None when `before` is not in that column any more: the card then goes last.
async fn position_before(
    conn: &mut Tx,
    status: Status,
    before: i64,
    moving: i64,
) -> AppResult<Option<f64>> {
    let next: Option<(f64,)> = on_tx!(conn, e => sqlx::query_as(
        "SELECT position FROM issues WHERE id = $1 AND status = $2"
    )
    .bind(before)
    .bind(status)
    .fetch_optional(e)
    .await)?;
    let Some((next,)) = next else {
        return Ok(None);
    };
    let (previous,): (Option<f64>,) = on_tx!(conn, e => sqlx::query_as(
        "SELECT MAX(position) FROM issues WHERE status = $1 AND id <> $2 \
         AND (position < $3 OR (position = $3 AND id < $4))"
    )
    .bind(status)
    .bind(moving)
    .bind(next)
    .bind(before)
    .fetch_one(e)
    .await)?;
    Ok(Some(position_between(previous, next)))
}

pub(super) async fn end_of_column(conn: &mut Tx, status: Status) -> AppResult<f64> {
    let (max,): (Option<f64>,) = on_tx!(conn, e => sqlx::query_as(
        "SELECT MAX(position) FROM issues WHERE status = $1"
    )
    .bind(status)
    .fetch_one(e)
    .await)?;
    Ok(max.unwrap_or(0.0).floor() + 1.0)
}

fn check_version(current: &Issue, expected: Option<i64>) -> AppResult<()> {
    match expected {
        Some(v) if v != current.version => Err(AppError::Conflict(format!(
            "issue {} was changed by someone else (you had version {v}, it is now at {}); \
             reload and try again",
            current.id, current.version
        ))),
        _ => Ok(()),
    }
}

fn stale() -> AppError {
    AppError::Conflict("the issue changed while you were saving; reload and try again".into())
}

/// `text` as one FTS5 phrase: in double quotes, its own double quotes doubled.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A column where at least one issue in `DENSE` matches is walked in its order rather than
/// read from the search index: its first `WINDOW` rows a card shown, then the index if the
/// cards were not all among them.
const DENSE: i64 = 8;
const WINDOW: i64 = 4 * DENSE;

/// The cards of one column: the first `limit` in its order, after `prefix` (an EXPLAIN).
/// With a `window`, only among the column's first `window` issues, matched row by row.
fn column_query<'a, DB: Database>(
    prefix: &str,
    filter: &IssueFilter,
    status: Status,
    limit: i64,
    window: Option<i64>,
) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let order = if status == Status::Done {
        " ORDER BY updated_at DESC, id DESC LIMIT "
    } else {
        " ORDER BY position, id LIMIT "
    };
    let mut sql = QueryBuilder::new(prefix);
    sql.push(concat!("SELECT ", card_columns!(), " FROM "));
    if let Some(window) = window {
        // The limit keeps both engines on the column's index, in order.
        sql.push("(SELECT * FROM issues WHERE status = ")
            .push_bind(status)
            .push(order)
            .push_bind(window)
            .push(") AS issues WHERE 1 = 1");
    } else if DB::NAME == "SQLite" && filter.searches_titles_only() {
        // The column's titles from their index, then only the matching rows: not every row
        // of the column with its body (its order's index would have SQLite read those).
        sql.push("issues INDEXED BY issues_by_title WHERE status = ")
            .push_bind(status);
    } else {
        sql.push("issues WHERE status = ").push_bind(status);
    }
    filter.push_conditions_as(&mut sql, window.is_some());
    sql.push(order).push_bind(limit);
    sql
}

/// A card with its place among its column's matches (from 1) and the column's matches.
#[derive(sqlx::FromRow)]
struct RankedCard {
    #[sqlx(flatten)]
    card: Card,
    nth: i64,
    matched: i64,
}

/// Every column's first matches under `filter` (`limits`: how many of each; always the first,
/// which carries the count), each with its place in its column's order and the column's
/// matches, from one pass over the issues.
fn one_pass_query<'a, DB: Database>(
    prefix: &str,
    filter: &IssueFilter,
    limits: &[(Status, i64)],
) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(prefix);
    // The columns' orders of `column_query`: done by recency, the others by position. The
    // matches stand in for `issues` in the card's columns, so those that count runs and
    // dependencies are worked out for the cards kept only.
    sql.push(concat!(
        "SELECT ",
        card_columns!(),
        ", nth, matched FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY status ORDER BY \
         CASE WHEN status = 'done' THEN -updated_at END, \
         CASE WHEN status = 'done' THEN -id END, position, id) AS nth, \
         COUNT(*) OVER (PARTITION BY status) AS matched FROM issues WHERE 1 = 1"
    ));
    filter.push_conditions(&mut sql);
    sql.push(") AS issues WHERE nth = 1");
    for &(status, limit) in limits {
        sql.push(" OR (status = ")
            .push_bind(status)
            .push(" AND nth <= ")
            .push_bind(limit)
            .push(")");
    }
    sql.push(" ORDER BY nth");
    sql
}

/// Issues after `after` in id order, at most `limit` (a JSON page).
fn page_query<'a, DB: Database>(
    prefix: &str,
    filter: &IssueFilter,
    after: i64,
    limit: i64,
) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(prefix);
    sql.push(concat!(
        "SELECT ",
        issue_columns!(),
        " FROM issues WHERE id > "
    ));
    sql.push_bind(after);
    filter.push_conditions(&mut sql);
    sql.push(" ORDER BY id LIMIT ").push_bind(limit);
    sql
}

/// The first `limit` issues in board order (the whole JSON list).
fn up_to_query<'a, DB: Database>(
    prefix: &str,
    filter: &IssueFilter,
    limit: i64,
) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(prefix);
    sql.push(concat!(
        "SELECT ",
        issue_columns!(),
        " FROM issues WHERE 1 = 1"
    ));
    filter.push_conditions(&mut sql);
    sql.push(" ORDER BY position, id LIMIT ").push_bind(limit);
    sql
}

/// How many of the board's first `SAMPLE` issues match `filter`'s words.
fn sample_query<'a, DB: Database>(filter: &IssueFilter) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let words = IssueFilter {
        q: filter.q.clone(),
        ..IssueFilter::default()
    };
    let mut sql = QueryBuilder::new(
        "SELECT COUNT(*) FROM (SELECT title, body, id FROM issues ORDER BY id LIMIT ",
    );
    sql.push_bind(SAMPLE).push(") AS issues WHERE 1 = 1");
    words.push_conditions_as(&mut sql, true);
    sql
}

/// A word found in one issue of `COMMON_IN` or more of a sample of `SAMPLE` is counted
/// column by column, to the limit; a rarer one is counted whole, through the search index.
const SAMPLE: i64 = 200;
const COMMON_IN: i64 = 10;

/// How many issues of column `status` match `filter`, counted up to `past`, row by row in
/// the column's order: it stops at the limit.
fn first_matches_query<'a, DB: Database>(
    filter: &IssueFilter,
    status: Status,
    past: i64,
) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let filter = IssueFilter {
        status: Some(status),
        ..filter.clone()
    };
    let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM issues WHERE 1 = 1");
    filter.push_conditions_as(&mut sql, true);
    sql.push(" ORDER BY position, id LIMIT ")
        .push_bind(past)
        .push(") AS first");
    sql
}

/// Each column's count under a filter that needs the issues themselves.
fn counts_query<'a, DB: Database>(prefix: &str, filter: &IssueFilter) -> QueryBuilder<'a, DB>
where
    Status: Encode<'a, DB> + Type<DB>,
    Kind: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(prefix);
    sql.push("SELECT status, COUNT(*) FROM issues WHERE 1 = 1");
    filter.push_conditions(&mut sql);
    sql.push(" GROUP BY status");
    sql
}

/// An EXPLAIN's answer as lines: SQLite's detail column (the last), PostgreSQL's only one.
fn plan_text<R: sqlx::Row>(rows: &[R]) -> Result<String, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + Type<R::Database>,
{
    let lines = rows
        .iter()
        .map(|row| row.try_get::<String, usize>(row.len().saturating_sub(1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines.join("\n"))
}

/// Makes `%`, `_` and `\` match themselves in a LIKE pattern with `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
