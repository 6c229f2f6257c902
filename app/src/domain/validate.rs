//! Input rules: limits and normalisation for everything a person or a script can send.

use super::{Kind, Priority, Status};
use serde::{Deserialize, Serialize};

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_BYTES: usize = 64 * 1024;
pub const COMMENT_MAX_BYTES: usize = 16 * 1024;
pub const ASSIGNEE_MAX_CHARS: usize = 100;
/// The list's search words (`q`).
pub const SEARCH_MAX_CHARS: usize = 200;
pub const FILENAME_MAX_CHARS: usize = 255;
pub const CONTENT_TYPE_MAX_CHARS: usize = 255;
pub const ATTACHMENT_MAX_BYTES: usize = 25 * 1024 * 1024;
pub const FEEDBACK_BODY_MAX_BYTES: usize = 16 * 1024;
pub const FEEDBACK_MESSAGE_MAX_CHARS: usize = 5000;
pub const FEEDBACK_PAGE_MAX_CHARS: usize = 2000;
pub const FEEDBACK_USER_MAX_CHARS: usize = 200;
pub const FEEDBACK_TITLE_MAX_CHARS: usize = 72;

/// A field that broke a rule, and the rule, in words meant for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A field the original plugin's clients send that Autopilot decides for itself (who created
/// an issue, who wrote a comment: always the caller). Accepted so their calls still work, never
/// read, never sent back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ignored;

impl<'de> Deserialize<'de> for Ignored {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Ignored)
    }
}

/// In the contract: any value at all.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for Ignored {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .description(Some("Accepted from the original's clients and ignored"))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for Ignored {}

/// A one-line text: control characters become spaces, runs of whitespace collapse, ends trimmed.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Multi-line text: keeps newlines and tabs, drops other control characters, trims the ends.
pub fn multi_line(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
        .collect::<String>()
        .trim()
        .to_string()
}

// Limits hold for the text as sent, before it is tidied: the published contract can state
// them (a JSON Schema `maxLength` counts what is sent), and what it says is too long is.

pub fn validate_title(title: &str) -> Result<String, Invalid> {
    let sent = title.chars().count();
    if sent > TITLE_MAX_CHARS {
        return Err(invalid(
            "title",
            format!("must be at most {TITLE_MAX_CHARS} characters (got {sent})"),
        ));
    }
    let title = one_line(title);
    if title.is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    Ok(title)
}

pub fn validate_body(body: &str) -> Result<String, Invalid> {
    if body.len() > BODY_MAX_BYTES {
        return Err(invalid(
            "body",
            format!("must be at most {} KiB", BODY_MAX_BYTES / 1024),
        ));
    }
    Ok(multi_line(body))
}

pub fn validate_comment(body: &str) -> Result<String, Invalid> {
    if body.len() > COMMENT_MAX_BYTES {
        return Err(invalid(
            "body",
            format!("a comment must be at most {} KiB", COMMENT_MAX_BYTES / 1024),
        ));
    }
    let body = multi_line(body);
    if body.is_empty() {
        return Err(invalid("body", "a comment must not be empty"));
    }
    Ok(body)
}

/// An empty assignee means "nobody".
pub fn validate_assignee(assignee: Option<&str>) -> Result<Option<String>, Invalid> {
    if assignee.is_some_and(|a| a.chars().count() > ASSIGNEE_MAX_CHARS) {
        return Err(invalid(
            "assignee",
            format!("must be at most {ASSIGNEE_MAX_CHARS} characters"),
        ));
    }
    Ok(assignee.map(one_line).filter(|n| !n.is_empty()))
}

/// A filename safe to store and to put in a `Content-Disposition` header: no path, no quotes,
/// no control characters.
pub fn validate_filename(filename: &str) -> Result<String, Invalid> {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = base.chars().filter(|c| !matches!(c, '"' | ';')).collect();
    // Quotes and leading dots (with any blanks around them) go before the spaces are tidied:
    // tidied first, `a" b` kept two spaces and `. env` a leading one, so the name changed
    // when validated again.
    let clean = one_line(
        kept.trim_start_matches(|c: char| c == '.' || c.is_whitespace() || c.is_control()),
    );
    match clean.chars().count() {
        0 => Err(invalid("file", "the file needs a name")),
        n if n > FILENAME_MAX_CHARS => Err(invalid(
            "file",
            format!("file name must be at most {FILENAME_MAX_CHARS} characters"),
        )),
        _ => Ok(clean),
    }
}

pub fn validate_attachment_size(size: usize) -> Result<(), Invalid> {
    if size == 0 {
        return Err(invalid("file", "the file is empty"));
    }
    if size > ATTACHMENT_MAX_BYTES {
        return Err(invalid(
            "file",
            format!("must be at most {} MiB", ATTACHMENT_MAX_BYTES / 1024 / 1024),
        ));
    }
    Ok(())
}

/// A content type as sent by the client, kept only if it looks like `type/subtype`.
pub fn normalise_content_type(content_type: Option<&str>) -> String {
    const FALLBACK: &str = "application/octet-stream";
    let Some(ct) = content_type.map(str::trim) else {
        return FALLBACK.to_string();
    };
    let plausible = ct.len() <= CONTENT_TYPE_MAX_CHARS
        && ct.contains('/')
        && ct
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/+-.;= _".contains(c));
    if plausible {
        ct.to_ascii_lowercase()
    } else {
        FALLBACK.to_string()
    }
}

/// A new issue as sent by a person or a script.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIssue {
    /// One line: runs of blanks become one space.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]"
        )
    )]
    pub title: String,
    /// Markdown, at most 64 KiB.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 65536))]
    pub body: String,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default)]
    pub priority: Priority,
    /// Kept from the agent: only people work on it.
    #[serde(default)]
    pub human_only: bool,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 100))]
    pub assignee: Option<String>,
    /// Where it starts: `backlog` (the default) or `ready`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = schemas::starting_status))]
    pub status: Option<Status>,
    /// Issues it waits for (see `Issue::depends_on`).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = schemas::issue_numbers))]
    pub depends_on: Vec<i64>,
    /// The model it asks for; checked against the allowed ones with [`check_model`].
    #[serde(default)]
    pub model: Option<String>,
    /// The agent it asks for; checked against the offered ones with [`check_agent`].
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 40))]
    pub agent: Option<String>,
    /// The agent plans first and works only from a plan a person approved; left out: the
    /// board's default (Plan first on /admin/runner).
    #[serde(default)]
    pub plan_first: Option<bool>,
    /// The original's `created_by`: the creator is the caller.
    #[serde(default, skip_serializing)]
    pub created_by: Ignored,
}

impl NewIssue {
    pub fn validate(self) -> Result<NewIssue, Invalid> {
        let status = self.status.unwrap_or(Status::Backlog);
        if !matches!(status, Status::Backlog | Status::Ready) {
            return Err(invalid("status", "a new issue starts in backlog or ready"));
        }
        Ok(NewIssue {
            title: validate_title(&self.title)?,
            body: validate_body(&self.body)?,
            kind: self.kind,
            priority: self.priority,
            human_only: self.human_only,
            assignee: validate_assignee(self.assignee.as_deref())?,
            status: Some(status),
            depends_on: validate_depends_on(self.depends_on)?,
            model: self
                .model
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty()),
            agent: self
                .agent
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty()),
            plan_first: self.plan_first,
            created_by: Ignored,
        })
    }
}

/// A partial edit. Fields left out stay as they are; `version`, when given, must be current.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuePatch {
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]"
        )
    )]
    pub title: Option<String>,
    #[cfg_attr(feature = "ssr", schema(max_length = 65536))]
    pub body: Option<String>,
    pub kind: Option<Kind>,
    pub priority: Option<Priority>,
    pub human_only: Option<bool>,
    /// An empty string clears the assignee.
    #[cfg_attr(feature = "ssr", schema(max_length = 100))]
    pub assignee: Option<String>,
    /// The whole list of issues it waits for (`[]` clears it).
    #[cfg_attr(feature = "ssr", schema(schema_with = schemas::issue_numbers_or_null))]
    pub depends_on: Option<Vec<i64>>,
    /// The model it asks for; an empty string: the runner's default.
    pub model: Option<String>,
    /// The agent it asks for; an empty string: the board's default.
    #[cfg_attr(feature = "ssr", schema(max_length = 40))]
    pub agent: Option<String>,
    /// Plan first (see `NewIssue::plan_first`).
    pub plan_first: Option<bool>,
    pub version: Option<i64>,
}

impl IssuePatch {
    /// An edit that names no field changes nothing, and is answered the issue as it is.
    pub fn validate(self) -> Result<IssuePatch, Invalid> {
        Ok(IssuePatch {
            title: self.title.as_deref().map(validate_title).transpose()?,
            body: self.body.as_deref().map(validate_body).transpose()?,
            assignee: match self.assignee.as_deref() {
                None => None,
                Some(a) => Some(validate_assignee(Some(a))?.unwrap_or_default()),
            },
            depends_on: self.depends_on.map(validate_depends_on).transpose()?,
            model: self.model.map(|m| m.trim().to_string()),
            agent: self.agent.map(|a| a.trim().to_string()),
            ..self
        })
    }
}

/// What the forms send for "the runner's default" (an empty choice would be read as no
/// choice at all, leaving the model as it was).
pub const DEFAULT_MODEL_CHOICE: &str = "default";

/// The models an issue may name (AUTOPILOT_MODELS), as the server was started with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllowedModels(pub std::sync::Arc<Vec<String>>);

/// An issue's model must be one the admins allow (AUTOPILOT_MODELS); none (or empty) is
/// always fine: the runner's default.
pub fn check_model(model: Option<&str>, allowed: &[String]) -> Result<(), Invalid> {
    match model.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(()),
        Some(m) if allowed.iter().any(|a| a == m) => Ok(()),
        Some(m) if allowed.is_empty() => Err(invalid(
            "model",
            format!("'{m}': this board has no models to choose from (AUTOPILOT_MODELS)"),
        )),
        Some(m) => Err(invalid(
            "model",
            format!(
                "'{m}' is not one of the allowed models: {}",
                allowed.join(", ")
            ),
        )),
    }
}

/// The agents an issue may ask for (AUTOPILOT_AGENT, then AUTOPILOT_AGENTS), the default
/// first, as the server was started with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllowedAgents(pub std::sync::Arc<Vec<String>>);

/// An issue's agent must be one the board offers; none (or empty) is always fine: the
/// default.
pub fn check_agent(agent: Option<&str>, offered: &[String]) -> Result<(), Invalid> {
    match agent.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(()),
        Some(a) if offered.iter().any(|o| o == a) => Ok(()),
        Some(a) => {
            let shown: String = a.chars().take(40).collect();
            Err(invalid(
                "agent",
                format!(
                    "'{shown}' is not one of the agents this board offers: {}",
                    if offered.is_empty() {
                        "none (the runner's default only)".to_string()
                    } else {
                        offered.join(", ")
                    }
                ),
            ))
        }
    }
}

/// Most issues one issue may wait for.
pub const DEPENDS_ON_MAX: usize = 50;

/// Issue numbers, each once, in order.
fn validate_depends_on(mut ids: Vec<i64>) -> Result<Vec<i64>, Invalid> {
    if let Some(bad) = ids.iter().find(|id| **id < 1) {
        return Err(invalid(
            "depends_on",
            format!("#{bad} is not an issue number"),
        ));
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > DEPENDS_ON_MAX {
        return Err(invalid(
            "depends_on",
            format!("an issue may wait for at most {DEPENDS_ON_MAX} others"),
        ));
    }
    Ok(ids)
}

/// "12, #15 7" as typed in a form: the issue numbers, or what is not one.
pub fn parse_issue_numbers(text: &str) -> Result<Vec<i64>, Invalid> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(|word| word.trim().trim_start_matches('#'))
        .filter(|word| !word.is_empty())
        .map(|word| {
            word.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| invalid("depends_on", format!("'{word}' is not an issue number")))
        })
        .collect()
}

/// What the public feedback route accepts. Unknown fields are ignored: embeds vary.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// What the person wrote; its first line becomes the issue's title.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 5000,
            pattern = "[^\\s\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]"
        )
    )]
    pub message: String,
    /// The page they were on.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 2000))]
    pub page: Option<String>,
    /// Who they say they are.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub user: Option<String>,
    /// A honeypot: hidden from people by the widget, so only bots fill it in.
    #[serde(default)]
    pub website: Option<String>,
}

impl Feedback {
    /// Turns feedback into the only thing it can ever be: a `feedback` issue in `backlog`.
    pub fn into_new_issue(self) -> Result<NewIssue, Invalid> {
        if self.message.chars().count() > FEEDBACK_MESSAGE_MAX_CHARS {
            return Err(invalid(
                "message",
                format!("must be at most {FEEDBACK_MESSAGE_MAX_CHARS} characters"),
            ));
        }
        let message = multi_line(&self.message);
        if message.is_empty() {
            return Err(invalid("message", "must not be empty"));
        }
        let optional = |field: &str, value: Option<String>, max: usize| {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(invalid(field, format!("must be at most {max} characters")));
            }
            Ok(value.map(|v| one_line(&v)).filter(|v| !v.is_empty()))
        };
        let page = optional("page", self.page, FEEDBACK_PAGE_MAX_CHARS)?;
        let user = optional("user", self.user, FEEDBACK_USER_MAX_CHARS)?;

        let first_line = message.lines().map(one_line).find(|l| !l.is_empty());
        let title = cut(&first_line.unwrap_or_default(), FEEDBACK_TITLE_MAX_CHARS);
        let mut body = message;
        if page.is_some() || user.is_some() {
            body.push_str("\n\n---");
        }
        if let Some(page) = page {
            body.push_str(&format!("\nPage: {page}"));
        }
        if let Some(user) = user {
            body.push_str(&format!("\nUser: {user}"));
        }
        Ok(NewIssue {
            title,
            body,
            kind: Kind::Feedback,
            priority: Priority::Normal,
            human_only: false,
            assignee: None,
            status: Some(Status::Backlog),
            depends_on: Vec::new(),
            model: None,
            agent: None,
            plan_first: None,
            created_by: Ignored,
        })
    }
}

/// Reads an optional version number, taking a whole number written as a float (`78.0`): JSON
/// Schema's `integer` counts it as one, so a client may send it. A fraction is refused.
pub fn whole_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value: Option<serde_json::Number> = Deserialize::deserialize(d)?;
    let Some(number) = value else {
        return Ok(None);
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!(
            "version: {number} is not a whole number"
        ))),
    }
}

/// The first `max` characters of `text`, ending in "…" when something was cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    // Not even the "…" fits (and `max - 1` below would underflow).
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out = out.trim_end().to_string();
    out.push('…');
    out
}

/// Schemas of fields whose rule a type alone does not say, for the published contract.
#[cfg(feature = "ssr")]
mod schemas {
    use super::DEPENDS_ON_MAX;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::RefOr;

    fn issue_number() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(1))
    }

    fn numbers(nullable: bool) -> RefOr<Schema> {
        let kind = if nullable {
            SchemaType::from_iter([Type::Array, Type::Null])
        } else {
            SchemaType::new(Type::Array)
        };
        ArrayBuilder::new()
            .schema_type(kind)
            .items(issue_number())
            .max_items(Some(DEPENDS_ON_MAX))
            .into()
    }

    /// A new issue's first column: `backlog` or `ready`.
    pub fn starting_status() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .enum_values(Some([
                serde_json::json!("backlog"),
                serde_json::json!("ready"),
                serde_json::Value::Null,
            ]))
            .into()
    }

    pub fn issue_numbers() -> RefOr<Schema> {
        numbers(false)
    }

    pub fn issue_numbers_or_null() -> RefOr<Schema> {
        numbers(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_may_be_a_whole_float_but_not_a_fraction() {
        #[derive(Deserialize)]
        struct V {
            #[serde(default, deserialize_with = "super::whole_version")]
            version: Option<i64>,
        }
        let read = |json: &str| serde_json::from_str::<V>(json).map(|v| v.version);
        assert_eq!(read(r#"{"version": 7}"#).unwrap(), Some(7));
        assert_eq!(read(r#"{"version": 78.0}"#).unwrap(), Some(78));
        assert_eq!(read(r#"{"version": null}"#).unwrap(), None);
        assert_eq!(read("{}").unwrap(), None);
        assert!(read(r#"{"version": 7.5}"#).is_err());
        assert!(read(r#"{"version": "7"}"#).is_err());
    }

    #[test]
    fn a_model_must_be_an_allowed_one() {
        let allowed = vec!["model-a".to_string(), "model-b".to_string()];
        assert!(check_model(None, &allowed).is_ok());
        assert!(check_model(Some(" "), &[]).is_ok(), "empty: the default");
        assert!(check_model(Some("model-b"), &allowed).is_ok());
        let err = check_model(Some("gpt-9"), &allowed).unwrap_err();
        assert_eq!(err.field, "model");
        assert!(err.message.contains("model-a, model-b"), "{}", err.message);
        let offered = vec!["claude".to_string(), "gemini".to_string()];
        assert!(check_agent(None, &offered).is_ok());
        assert!(check_agent(Some(""), &offered).is_ok());
        assert!(check_agent(Some("gemini"), &offered).is_ok());
        let refused = check_agent(Some("codex"), &offered).unwrap_err();
        assert_eq!(refused.field, "agent");
        assert!(
            refused.message.contains("claude, gemini"),
            "{}",
            refused.message
        );
        let err = check_model(Some("model-a"), &[]).unwrap_err();
        assert!(err.message.contains("no models to choose from"));
    }

    #[test]
    fn issue_numbers_are_read_as_people_type_them() {
        assert_eq!(parse_issue_numbers(" 12, #15 7 ").unwrap(), vec![12, 15, 7]);
        assert_eq!(parse_issue_numbers("").unwrap(), Vec::<i64>::new());
        let err = parse_issue_numbers("12, twelve").unwrap_err();
        assert_eq!(err.field, "depends_on");
        assert!(err.message.contains("'twelve' is not an issue number"));
        assert!(parse_issue_numbers("0").is_err());
        let new = NewIssue {
            title: "t".into(),
            depends_on: vec![5, 3, 5],
            ..Default::default()
        };
        assert_eq!(new.validate().unwrap().depends_on, vec![3, 5]);
        let too_many = NewIssue {
            title: "t".into(),
            depends_on: (1..=51).collect(),
            ..Default::default()
        };
        assert!(too_many.validate().is_err());
    }

    #[test]
    fn titles_are_trimmed_collapsed_and_bounded() {
        assert_eq!(
            validate_title("  Fix \n the\tlogin  ").unwrap(),
            "Fix the login"
        );
        assert!(validate_title("   \n ").is_err());
        assert!(validate_title(&"x".repeat(200)).is_ok());
        let err = validate_title(&"é".repeat(201)).unwrap_err();
        assert_eq!(err.field, "title");
        assert!(err.message.contains("200"));
    }

    #[test]
    fn bodies_and_comments_have_byte_limits() {
        assert!(validate_body(&"a".repeat(BODY_MAX_BYTES)).is_ok());
        assert!(validate_body(&"a".repeat(BODY_MAX_BYTES + 1)).is_err());
        assert!(validate_comment(&"a".repeat(COMMENT_MAX_BYTES)).is_ok());
        assert!(validate_comment(&"a".repeat(COMMENT_MAX_BYTES + 1)).is_err());
        assert!(validate_comment("  ").is_err());
        assert_eq!(validate_body("a\u{0007}b\n c ").unwrap(), "ab\n c");
    }

    #[test]
    fn new_issues_start_in_backlog_or_ready_only() {
        let new = NewIssue {
            title: "t".into(),
            ..Default::default()
        };
        assert_eq!(
            new.clone().validate().unwrap().status,
            Some(Status::Backlog)
        );
        for status in Status::ALL {
            let res = NewIssue {
                status: Some(status),
                ..new.clone()
            }
            .validate();
            assert_eq!(
                res.is_ok(),
                matches!(status, Status::Backlog | Status::Ready),
                "{status:?}"
            );
        }
    }

    #[test]
    fn an_empty_patch_changes_nothing_and_an_empty_assignee_clears() {
        assert_eq!(IssuePatch::default().validate(), Ok(IssuePatch::default()));
        let p = IssuePatch {
            assignee: Some("  ".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(p.assignee.as_deref(), Some(""));
    }

    #[test]
    fn filenames_lose_paths_quotes_and_leading_dots() {
        assert_eq!(validate_filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(validate_filename("C:\\x\\a\"b;.png").unwrap(), "ab.png");
        assert_eq!(validate_filename(".env").unwrap(), "env");
        assert!(validate_filename("..").is_err());
        assert!(validate_filename("dir/").is_err());
    }

    #[test]
    fn content_types_are_kept_only_when_plausible() {
        assert_eq!(normalise_content_type(Some("image/PNG")), "image/png");
        assert_eq!(
            normalise_content_type(Some("text/html\r\nX: y")),
            "application/octet-stream"
        );
        assert_eq!(normalise_content_type(None), "application/octet-stream");
    }

    #[test]
    fn feedback_becomes_a_backlog_feedback_issue() {
        let fb = Feedback {
            message: "\n  The save button does nothing when I click it on the settings page of my account\nmore".into(),
            page: Some("https://example.com/settings".into()),
            user: Some("ann@example.com".into()),
            website: None,
        };
        let issue = fb.into_new_issue().unwrap();
        assert_eq!(issue.kind, Kind::Feedback);
        assert_eq!(issue.status, Some(Status::Backlog));
        assert_eq!(issue.title.chars().count(), 72);
        assert!(issue.title.ends_with('…'));
        assert!(issue.body.contains("Page: https://example.com/settings"));
        assert!(issue.body.contains("User: ann@example.com"));
        assert!(issue.clone().validate().is_ok());
    }

    #[test]
    fn feedback_limits() {
        let fb = |m: &str| Feedback {
            message: m.into(),
            ..Default::default()
        };
        assert!(fb("").into_new_issue().is_err());
        assert!(fb(" \n ").into_new_issue().is_err());
        assert!(fb(&"a".repeat(5000)).into_new_issue().is_ok());
        assert!(fb(&"a".repeat(5001)).into_new_issue().is_err());
        let long_page = Feedback {
            message: "hi".into(),
            page: Some("p".repeat(2001)),
            ..Default::default()
        };
        assert_eq!(long_page.into_new_issue().unwrap_err().field, "page");
    }
}
