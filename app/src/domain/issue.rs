use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an issue stands. The order of `ALL` is the order of the board's columns.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Backlog,
    Ready,
    InProgress,
    Blocked,
    InReview,
    Done,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Backlog,
        Status::Ready,
        Status::InProgress,
        Status::Blocked,
        Status::InReview,
        Status::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Backlog => "backlog",
            Status::Ready => "ready",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::InReview => "in_review",
            Status::Done => "done",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Backlog => "Backlog",
            Status::Ready => "Ready",
            Status::InProgress => "In progress",
            Status::Blocked => "Blocked",
            Status::InReview => "In review",
            Status::Done => "Done",
        }
    }
}

/// What sort of work an issue is. `Feedback` is what the public widget files. Requests may
/// also say `chore` (the original's name), read as `task`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The original's `chore` is read as a task.
    #[default]
    #[serde(alias = "chore")]
    Task,
    Bug,
    Feature,
    Feedback,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Task, Kind::Bug, Kind::Feature, Kind::Feedback];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Bug => "bug",
            Kind::Feature => "feature",
            Kind::Feedback => "feedback",
        }
    }
}

/// Urgency. Stored as a number so "most urgent first" is a plain `ORDER BY priority DESC`.
/// Requests may also say `critical` (the original's name), read as `urgent`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[repr(i32)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low = 0,
    #[default]
    Normal = 1,
    High = 2,
    /// The original's `critical` is read as urgent: the same top level, named differently.
    #[serde(alias = "critical")]
    Urgent = 3,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// One error type for parsing any of the enums above from text (query strings, form fields).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

macro_rules! from_str_via_all {
    ($ty:ty, $what:literal $(, $alias:literal => $value:expr)*) => {
        impl FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s == $alias { return Ok($value); })*
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownValue {
                        what: $what,
                        value: s.chars().take(40).collect(),
                    })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
from_str_via_all!(Status, "status");
// The aliases are the original's names, as the serde aliases above.
from_str_via_all!(Kind, "kind", "chore" => Kind::Task);
from_str_via_all!(Priority, "priority", "critical" => Priority::Urgent);

/// An issue as the board, the API and the runner see it. Times are Unix milliseconds (UTC).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Issue {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub status: Status,
    pub kind: Kind,
    pub priority: Priority,
    pub human_only: bool,
    pub assignee: Option<String>,
    pub created_by: String,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
    pub branch: Option<String>,
    pub pr_url: Option<String>,
    /// Its pull request's checks (`pending`, `passing`, `failing`), while followed.
    pub pr_checks: Option<String>,
    pub result: Option<String>,
    /// Order inside its column: smaller is higher up.
    pub position: f64,
    /// Bumped by every change; a write naming an older version is refused (optimistic locking).
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The model it asks the agent to use (one of AUTOPILOT_MODELS); `None`: the default.
    #[serde(default)]
    pub model: Option<String>,
    /// The agent it asks for (one the board offers); `None`: the board's default.
    #[serde(default)]
    pub agent: Option<String>,
    /// The agent's open question, while it waits blocked for an answer.
    #[serde(default)]
    pub question: Option<String>,
    /// The agent plans first (read-only) and works only from a plan a person approved.
    #[serde(default)]
    pub plan_first: bool,
    /// Where its plan stands, for a plan-first issue.
    #[serde(default)]
    pub plan_state: Option<super::PlanState>,
    /// What its next run continues with; `None`: a fresh run.
    #[serde(default)]
    pub next_run: Option<super::RunKind>,
    /// Rounds of failing checks sent back to the agent (at most AUTOPILOT_CI_FIX_ATTEMPTS).
    #[serde(default)]
    pub ci_fix_attempts: i64,
    /// The issues it waits for: the runner claims it only once each of them is done.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    #[serde(default)]
    pub depends_on: Vec<i64>,
}

/// Who wrote a comment.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Human,
    Agent,
    System,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Comment {
    pub id: i64,
    pub issue_id: i64,
    pub author_kind: AuthorKind,
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

/// An attachment's metadata; the bytes are only read when it is downloaded.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Attachment {
    pub id: i64,
    pub issue_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_by: String,
    pub created_at: i64,
}

impl Attachment {
    /// Where its bytes are downloaded.
    pub fn url(&self) -> String {
        format!("/api/autopilot/uploads/{}", self.id)
    }
}

/// One row of the audit log.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Event {
    pub id: i64,
    pub issue_id: Option<i64>,
    pub actor: String,
    pub kind: String,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    pub data: String,
    pub created_at: i64,
}

/// What a card on the board shows of an issue, and all the page carries for it: the board
/// stays light however much else an issue holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Card {
    pub id: i64,
    pub title: String,
    pub status: Status,
    pub kind: Kind,
    pub priority: Priority,
    pub human_only: bool,
    pub assignee: Option<String>,
    /// The runner holding it, while one does.
    pub claimed_by: Option<String>,
    pub position: f64,
    pub version: i64,
    pub updated_at: i64,
    /// The agent's runs on it, and what they cost.
    pub runs: i64,
    pub spent_usd: f64,
    /// Its pull request's checks, while followed.
    pub pr_checks: Option<String>,
    /// The first issue it depends on that is not done yet, and how many such there are.
    pub waiting_on: Option<i64>,
    pub waiting_count: i64,
    /// The model it asks for, when not the default.
    pub model: Option<String>,
    /// The agent it asks for, when not the default.
    pub agent: Option<String>,
    /// The agent's open question (its start), while blocked on it.
    #[serde(default)]
    pub question: Option<String>,
    #[serde(default)]
    pub plan_state: Option<super::PlanState>,
    #[serde(default)]
    pub next_run: Option<super::RunKind>,
}

impl Card {
    /// The marks the agent's loop puts on a card: "asks: …" while it waits for an answer,
    /// "plan" while its plan waits for approval, "fixing checks" while the agent is sent
    /// back to the pull request's failing checks.
    /// Each mark: (its kind, for styling; its text).
    pub fn loop_mark(&self) -> Option<(&'static str, String)> {
        match self.status {
            Status::Blocked => self
                .question
                .as_ref()
                .map(|q| ("asks", format!("asks: {}", super::cut(q, 100)))),
            Status::InReview if self.plan_state == Some(super::PlanState::Proposed) => {
                Some(("plan", "plan".into()))
            }
            Status::Ready | Status::InProgress
                if self.next_run == Some(super::RunKind::ChecksFix) =>
            {
                Some(("fixing-checks", "fixing checks".into()))
            }
            _ => None,
        }
    }

    /// "waiting on #12", "waiting on #12 and 2 more"; `None` when nothing holds it back.
    pub fn waiting_label(&self) -> Option<String> {
        let first = self.waiting_on?;
        Some(match self.waiting_count {
            ..=1 => format!("waiting on #{first}"),
            n => format!("waiting on #{first} and {} more", n - 1),
        })
    }
}

/// The issues an edit would close a loop through, if `issue` came to depend on `depends_on`:
/// a path from one of them back to `issue` along `edges` (each `(a, b)`: a depends on b).
/// `None` when there is no cycle. `issue`'s own edges are left out (they are being replaced).
pub fn dependency_cycle(edges: &[(i64, i64)], issue: i64, depends_on: &[i64]) -> Option<Vec<i64>> {
    let mut next: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
    for &(a, b) in edges.iter().filter(|(a, _)| *a != issue) {
        next.entry(a).or_default().push(b);
    }
    for &start in depends_on {
        // Depth-first, remembering how each issue was reached, to name the whole loop.
        let mut came_from = std::collections::HashMap::from([(start, start)]);
        let mut stack = vec![start];
        while let Some(at) = stack.pop() {
            if at == issue {
                let mut path = vec![at];
                let mut step = at;
                while step != start {
                    step = came_from[&step];
                    path.push(step);
                }
                path.reverse();
                return Some(path);
            }
            for &to in next.get(&at).into_iter().flatten() {
                if let std::collections::hash_map::Entry::Vacant(e) = came_from.entry(to) {
                    e.insert(at);
                    stack.push(to);
                }
            }
        }
    }
    None
}

/// What the board shows: the first cards of each column (by position; done: the most
/// recently finished first), and how many issues each column holds in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoardIssues {
    pub issues: Vec<Card>,
    /// Issues per column under the filters, whatever is shown: exact, but under a search
    /// counted only to one past [`MATCHES_COUNTED`].
    pub counts: Vec<(Status, i64)>,
    /// The cards hold only their places (id, column, position, version): a board read back
    /// from the page it was rendered into, whose text is in the page's markup.
    #[serde(skip)]
    pub only_places: bool,
}

impl BoardIssues {
    /// How many issues the column holds.
    pub fn count(&self, status: Status) -> i64 {
        self.counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }
}

/// A changed card, and every column's count after the change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardUpdate {
    pub issue: Option<Card>,
    pub counts: Vec<(Status, i64)>,
}

impl BoardIssues {
    /// The board with `update` applied: the card in its (new) column at its place, or gone,
    /// and the counts as they now are. Cards keep their column's order (by position; done:
    /// the most recently finished first). A column that shows only its first cards takes the
    /// card only if it falls among them: below the last one shown it stays out of sight
    /// (counted, and "Show more" reaches it), so what shows is always a column's true top.
    /// An update older than the card shown (a lower version) is ignored: then `false`.
    pub fn patch(&mut self, id: i64, update: CardUpdate) -> bool {
        let shown = self.issues.iter().find(|i| i.id == id).map(|i| i.version);
        let fresh = update.issue.as_ref().map_or(i64::MAX, |i| i.version);
        if shown.is_some_and(|v| v > fresh) {
            return false;
        }
        self.issues.retain(|i| i.id != id);
        self.counts = update.counts;
        if let Some(card) = update.issue {
            let mut column = self.issues.iter().filter(|i| i.status == card.status);
            let others = column.clone().count() as i64;
            let complete = others + 1 >= self.count(card.status);
            let last = column.next_back();
            let among_shown = last.is_none_or(|last| board_order(&card, last).is_lt());
            if complete || among_shown {
                self.issues.push(card);
            }
        }
        self.issues.sort_by(board_order);
        true
    }

    /// Where card `id` shows: its column and the card shown below it (`None`: it is last),
    /// or `None` when it is not shown.
    pub fn place_of(&self, id: i64) -> Option<(Status, Option<i64>)> {
        let at = self.issues.iter().position(|i| i.id == id)?;
        let status = self.issues[at].status;
        let below = self.issues.get(at + 1).filter(|c| c.status == status);
        Some((status, below.map(|c| c.id)))
    }
}

/// The board's order: column by column; in a column by position, done by most recently
/// finished.
fn board_order(a: &Card, b: &Card) -> std::cmp::Ordering {
    let column = |s: Status| Status::ALL.iter().position(|c| *c == s);
    column(a.status).cmp(&column(b.status)).then_with(|| {
        if a.status == Status::Done {
            b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id))
        } else {
            a.position.total_cmp(&b.position).then(a.id.cmp(&b.id))
        }
    })
}

/// Where a card dropped just above the card at `below` goes: halfway between that card and
/// the one above it (`above`), or one place above it when it is the first. The board shows a
/// drop there at once and the store files it there, so both use this.
pub fn position_between(above: Option<f64>, below: f64) -> f64 {
    (above.unwrap_or(below - 1.0) + below) / 2.0
}

/// How many cards a column shows before "Show more", and how many more each click adds.
pub const COLUMN_SHOWN: i64 = 50;

/// Under a search, each column's matches are counted up to one past this: a word that
/// nearly every issue holds then costs a few thousand rows, not all of them. A count above it
/// reads "1,000+".
pub const MATCHES_COUNTED: i64 = 1000;

/// A column's count as the board shows it: under a search, past [`MATCHES_COUNTED`] it is
/// "1,000+" (not counted further).
pub fn count_label(count: i64, searching: bool) -> String {
    if searching && count > MATCHES_COUNTED {
        format!("{}+", thousands(MATCHES_COUNTED))
    } else {
        count.to_string()
    }
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An issue with everything shown beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub issue: Issue,
    pub comments: Vec<Comment>,
    pub attachments: Vec<Attachment>,
}

/// An issue as its drawer shows it: the detail, the body rendered from Markdown to sanitised
/// HTML (on the server), and its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueView {
    pub detail: IssueDetail,
    pub body_html: String,
    pub events: Vec<Event>,
    /// The agent's runs on it, newest first.
    pub runs: Vec<super::Run>,
    /// The agent's change, for review (once a run has committed).
    pub changes: Option<super::ChangesView>,
    /// The models an issue may ask for, for the edit form.
    pub models: Vec<String>,
    /// The agents the board offers, the default first, for the edit form.
    pub agents: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_past_the_limit_reads_as_more_than_it_only_under_a_search() {
        assert_eq!(count_label(12, true), "12");
        assert_eq!(count_label(MATCHES_COUNTED, true), "1000");
        assert_eq!(count_label(MATCHES_COUNTED + 1, true), "1,000+");
        assert_eq!(count_label(25_000, false), "25000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn a_dependency_that_leads_back_is_a_cycle_named_in_full() {
        // 3 waits for 2, 2 waits for 1.
        let edges = [(3, 2), (2, 1)];
        assert_eq!(dependency_cycle(&edges, 1, &[3]), Some(vec![3, 2, 1]));
        assert_eq!(dependency_cycle(&edges, 1, &[2]), Some(vec![2, 1]));
        assert_eq!(dependency_cycle(&edges, 4, &[3]), None);
        assert_eq!(
            dependency_cycle(&edges, 3, &[1, 2]),
            None,
            "a diamond is fine"
        );
        // 1's own edges are being replaced: its old wait for 3 does not count.
        assert_eq!(dependency_cycle(&[(1, 3), (3, 2)], 1, &[2]), None);
    }

    #[test]
    fn a_card_says_what_it_waits_for() {
        let mut card = Card::default();
        assert_eq!(card.waiting_label(), None);
        card.waiting_on = Some(12);
        card.waiting_count = 1;
        assert_eq!(card.waiting_label().as_deref(), Some("waiting on #12"));
        card.waiting_count = 3;
        assert_eq!(
            card.waiting_label().as_deref(),
            Some("waiting on #12 and 2 more")
        );
    }

    #[test]
    fn a_card_shows_where_the_agent_waits() {
        use crate::domain::{PlanState, RunKind};
        let mut card = card(1, Status::Blocked, 1.0);
        assert_eq!(card.loop_mark(), None, "blocked by an error: no question");
        card.question = Some("Formal or casual?".into());
        assert_eq!(
            card.loop_mark(),
            Some(("asks", "asks: Formal or casual?".into()))
        );
        card.status = Status::InReview;
        assert_eq!(card.loop_mark(), None);
        card.plan_state = Some(PlanState::Proposed);
        assert_eq!(card.loop_mark(), Some(("plan", "plan".into())));
        card.status = Status::Ready;
        card.next_run = Some(RunKind::ChecksFix);
        assert_eq!(card.loop_mark().unwrap().1, "fixing checks");
        card.status = Status::InReview;
        card.plan_state = None;
        assert_eq!(card.loop_mark(), None, "back in review: fixed");
    }

    fn card(id: i64, status: Status, position: f64) -> Card {
        Card {
            id,
            title: format!("card {id}"),
            status,
            kind: Kind::Task,
            priority: Priority::Normal,
            human_only: false,
            assignee: None,
            claimed_by: None,
            position,
            version: 1,
            updated_at: id,
            ..Card::default()
        }
    }

    /// Ready shows its first 3 cards (positions 1-3) of 10; backlog shows both of its 2.
    fn partly_loaded() -> BoardIssues {
        BoardIssues {
            issues: vec![
                card(1, Status::Backlog, 1.0),
                card(2, Status::Backlog, 2.0),
                card(11, Status::Ready, 1.0),
                card(12, Status::Ready, 2.0),
                card(13, Status::Ready, 3.0),
            ],
            counts: vec![(Status::Backlog, 2), (Status::Ready, 10)],
            only_places: false,
        }
    }

    fn ids(board: &BoardIssues, status: Status) -> Vec<i64> {
        board
            .issues
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.id)
            .collect()
    }

    fn moved(id: i64, status: Status, position: f64, counts: &[(Status, i64)]) -> CardUpdate {
        CardUpdate {
            issue: Some(Card {
                version: 2,
                ..card(id, status, position)
            }),
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn a_card_moved_below_what_a_column_shows_is_counted_not_shown() {
        let mut board = partly_loaded();
        let counts = [(Status::Backlog, 1), (Status::Ready, 11)];
        board.patch(1, moved(1, Status::Ready, 99.0, &counts));
        assert_eq!(ids(&board, Status::Backlog), vec![2]);
        assert_eq!(ids(&board, Status::Ready), vec![11, 12, 13]);
        assert_eq!(board.count(Status::Ready), 11);
    }

    #[test]
    fn a_card_moved_among_what_a_column_shows_takes_its_place() {
        let mut board = partly_loaded();
        let counts = [(Status::Backlog, 1), (Status::Ready, 11)];
        assert!(board.patch(1, moved(1, Status::Ready, 1.5, &counts)));
        assert_eq!(ids(&board, Status::Ready), vec![11, 1, 12, 13]);
        assert_eq!(ids(&board, Status::Backlog), vec![2]);
        // Where the board puts its markup: above card 12; the last card has none below.
        assert_eq!(board.place_of(1), Some((Status::Ready, Some(12))));
        assert_eq!(board.place_of(13), Some((Status::Ready, None)));
        assert_eq!(board.place_of(2), Some((Status::Backlog, None)));
        assert_eq!(board.place_of(99), None);
    }

    #[test]
    fn a_card_leaving_a_partly_shown_column_goes_and_a_complete_column_takes_any_card() {
        let mut board = partly_loaded();
        let counts = [(Status::Backlog, 3), (Status::Ready, 9)];
        board.patch(12, moved(12, Status::Backlog, 50.0, &counts));
        assert_eq!(ids(&board, Status::Ready), vec![11, 13]);
        assert_eq!(ids(&board, Status::Backlog), vec![1, 2, 12]);
        assert_eq!(board.count(Status::Ready), 9);
    }

    #[test]
    fn an_older_update_changes_nothing_and_a_deleted_card_goes() {
        let mut board = partly_loaded();
        let before = board.clone();
        let mut stale = moved(11, Status::Backlog, 0.0, &[]);
        if let Some(c) = stale.issue.as_mut() {
            c.version = 0;
        }
        assert!(!board.patch(11, stale));
        assert_eq!(board, before);
        let counts = [(Status::Backlog, 2), (Status::Ready, 9)];
        board.patch(
            13,
            CardUpdate {
                issue: None,
                counts: counts.to_vec(),
            },
        );
        assert_eq!(ids(&board, Status::Ready), vec![11, 12]);
        assert_eq!(board.count(Status::Ready), 9);
    }

    #[test]
    fn enums_round_trip_through_text_and_json() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
    }

    #[test]
    fn the_originals_names_are_read_as_ours_and_answered_as_ours() {
        assert_eq!("critical".parse::<Priority>(), Ok(Priority::Urgent));
        assert_eq!("chore".parse::<Kind>(), Ok(Kind::Task));
        let p: Priority = serde_json::from_str("\"critical\"").unwrap();
        let k: Kind = serde_json::from_str("\"chore\"").unwrap();
        assert_eq!((p, k), (Priority::Urgent, Kind::Task));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"urgent\"");
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"task\"");
    }

    #[test]
    fn unknown_values_are_named_in_the_error() {
        let err = "doing".parse::<Status>().unwrap_err();
        assert_eq!(err.to_string(), "unknown status 'doing'");
        assert!("Task".parse::<Kind>().is_err(), "parsing is case-sensitive");
    }

    #[test]
    fn priority_orders_by_urgency() {
        assert!(Priority::Urgent > Priority::High);
        assert!(Priority::High > Priority::Normal);
        assert!(Priority::Normal > Priority::Low);
    }
}
