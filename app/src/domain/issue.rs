use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an issue stands. The order of `ALL` is the order of the board's columns.
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

/// What sort of work an issue is. `Feedback` is what the public widget files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
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
    ($ty:ty, $what:literal) => {
        impl FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
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
from_str_via_all!(Kind, "kind");
from_str_via_all!(Priority, "priority");

/// An issue as the board, the API and the runner see it. Times are Unix milliseconds (UTC).
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
    pub result: Option<String>,
    /// Order inside its column: smaller is higher up.
    pub position: f64,
    /// Bumped by every change; a write naming an older version is refused (optimistic locking).
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who wrote a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Human,
    Agent,
    System,
}

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

/// One row of the audit log.
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
}

/// What the board shows: the first cards of each column (by position; done: the most
/// recently finished first), and how many issues each column holds in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoardIssues {
    pub issues: Vec<Card>,
    /// Issues per column under the filters (exact, whatever is shown).
    pub counts: Vec<(Status, i64)>,
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
    /// the most recently finished first).
    /// An update older than the card shown (a lower version) is ignored.
    pub fn patch(&mut self, id: i64, update: CardUpdate) {
        let shown = self.issues.iter().find(|i| i.id == id).map(|i| i.version);
        let fresh = update.issue.as_ref().map_or(i64::MAX, |i| i.version);
        if shown.is_some_and(|v| v > fresh) {
            return;
        }
        self.issues.retain(|i| i.id != id);
        if let Some(issue) = update.issue {
            self.issues.push(issue);
        }
        let column = |s: Status| Status::ALL.iter().position(|c| *c == s);
        self.issues.sort_by(|a, b| {
            column(a.status).cmp(&column(b.status)).then_with(|| {
                if a.status == Status::Done {
                    b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id))
                } else {
                    a.position.total_cmp(&b.position).then(a.id.cmp(&b.id))
                }
            })
        });
        self.counts = update.counts;
    }
}

/// How many cards a column shows before "Show more", and how many more each click adds.
pub const COLUMN_SHOWN: i64 = 50;

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
