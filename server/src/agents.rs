//! Which coding agents a board knows, and how each is started: the built-in catalogue (docs in
//! `docs/agents/`), and any ACP agent an operator adds by configuration alone
//! (`AUTOPILOT_AGENTS_FILE`, a TOML file), without a rebuild:
//!
//! ```toml
//! [agents.goose]
//! command = ["goose", "acp"]             # the program (name on PATH, or a path) and its arguments
//! env = ["GOOSE_*", "OPENAI_API_KEY"]    # its own variables: names, or PREFIX_* families
//! # protocol = "acp"                     # the default; "claude" is Claude Code's stream-json
//! # set_env = { GOOSE_MODE = "approve" } # variables the runner sets for it ("$random": a
//! #                                      # fresh secret each time the runner starts)
//! # home_files = { ".config/goose/config.yaml" = "…" }   # read-only files in its empty HOME
//! # session_meta = { … }                 # merged into session/new's _meta ("$max_turns",
//! #                                      # "$max_budget_usd" become the run's limits)
//! # mode = "default"                     # session/set_mode right after session/new
//! # plan_mode = "plan"                   # the mode of a plan run (read-only), if it has one
//! # session_dirs = [".local/share/goose"] # where under HOME it keeps sessions: kept for the
//! #                                      # issue's next run, so it can resume one
//! ```
//!
//! A file entry with a built-in's name changes the fields it names and keeps the others (a
//! command with another path, say, keeps the built-in's variables and settings files);
//! `set_env` and `home_files` are merged key by key.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How an agent is spoken to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Claude Code's own command line and stream-json output (`runner/claude.rs`).
    Claude,
    /// The Agent Client Protocol: JSON-RPC over the agent's stdio (`runner/acp.rs`).
    #[default]
    Acp,
}

/// An agent the runner can start: a name the board shows and issues ask for, how to speak to
/// it, its command, and the variables of its own it inherits.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSpec {
    pub name: String,
    pub protocol: Protocol,
    /// The program (a name on PATH or a path) and its arguments.
    pub command: Vec<String>,
    /// Variables it inherits beyond the common allowlist: `NAME`, or `PREFIX_*`.
    pub env: Vec<String>,
    /// Variables the runner sets for it.
    pub set_env: BTreeMap<String, String>,
    /// Files put read-only in its HOME (empty, of its own, for each run): path under HOME →
    /// content. Its settings, where a CLI takes them only from a file.
    pub home_files: BTreeMap<String, String>,
    /// Merged into `session/new`'s `_meta` (ACP); the strings `"$max_turns"` and
    /// `"$max_budget_usd"` become the run's limits, or go when it has none.
    pub session_meta: Option<serde_json::Value>,
    /// The session mode to set right after `session/new` (ACP `session/set_mode`).
    pub mode: Option<String>,
    /// The mode a plan run sets instead (read-only), when the agent has one; the runner's
    /// rules hold a plan run read-only either way.
    pub plan_mode: Option<String>,
    /// Where under HOME the agent keeps its sessions. Each issue gets its own copy, kept
    /// between its runs, so a later run can resume the session an earlier one left.
    pub session_dirs: Vec<String>,
}

impl AgentSpec {
    pub fn program(&self) -> &str {
        self.command.first().map(String::as_str).unwrap_or_default()
    }

    /// `session_meta` for a run with these limits.
    pub fn session_meta(
        &self,
        max_turns: Option<u32>,
        max_budget_usd: Option<f64>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        fn fill(
            value: &serde_json::Value,
            turns: Option<u32>,
            usd: Option<f64>,
        ) -> Option<serde_json::Value> {
            use serde_json::Value;
            match value {
                Value::String(s) if s == "$max_turns" => turns.map(Value::from),
                Value::String(s) if s == "$max_budget_usd" => usd.map(Value::from),
                Value::Object(map) => Some(Value::Object(
                    map.iter()
                        .filter_map(|(k, v)| fill(v, turns, usd).map(|v| (k.clone(), v)))
                        .collect(),
                )),
                Value::Array(items) => Some(Value::Array(
                    items.iter().filter_map(|v| fill(v, turns, usd)).collect(),
                )),
                other => Some(other.clone()),
            }
        }
        match fill(self.session_meta.as_ref()?, max_turns, max_budget_usd)? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

/// The name of Claude Code, the default agent.
pub const CLAUDE: &str = "claude";

/// Gemini CLI's settings (docs/agents/gemini.md): an API key without a sign-in step, no usage
/// statistics or updates, two attempts at a failing call (ten take minutes), and variables
/// that look like secrets kept from the commands it runs.
const GEMINI_SETTINGS: &str = r#"{
  "security": {
    "auth": { "selectedType": "gemini-api-key" },
    "environmentVariableRedaction": { "enabled": true }
  },
  "privacy": { "usageStatisticsEnabled": false },
  "telemetry": { "enabled": false },
  "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false, "maxAttempts": 2 }
}
"#;

/// OpenCode's settings: ask for every change, never look outside the worktree.
const OPENCODE_CONFIG: &str = r#"{"autoupdate":false,"share":"disabled","snapshot":false,"permission":{"edit":"ask","bash":"ask","webfetch":"ask","external_directory":"deny"}}"#;

/// A `set_env` value replaced by a fresh secret each time the runner starts.
pub const RANDOM: &str = "$random";

/// The agents every board knows (their contracts: `docs/agents/<name>.md`). `claude_bin` is
/// AUTOPILOT_CLAUDE_BIN.
pub fn builtin(claude_bin: &str) -> Vec<AgentSpec> {
    let spec = |name: &str, protocol, command: &[&str], env: &[&str]| AgentSpec {
        name: name.into(),
        protocol,
        command: command.iter().map(|s| s.to_string()).collect(),
        env: env.iter().map(|s| s.to_string()).collect(),
        set_env: BTreeMap::new(),
        home_files: BTreeMap::new(),
        session_meta: None,
        mode: None,
        plan_mode: None,
        session_dirs: Vec::new(),
    };
    let no_telemetry = || {
        BTreeMap::from([(
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_string(),
            "1".to_string(),
        )])
    };
    let claude_sessions = || vec![".claude/projects".to_string()];
    let claude = AgentSpec {
        set_env: no_telemetry(),
        session_dirs: claude_sessions(),
        ..spec(
            CLAUDE,
            Protocol::Claude,
            &[claude_bin],
            &["ANTHROPIC_*", "CLAUDE_*"],
        )
    };
    // Claude Code through Zed's adapter: the worktree's own .claude settings are not read
    // (they could allow anything), the limits go in as the SDK's options, and the session
    // asks before every edit and command.
    let claude_acp = AgentSpec {
        set_env: no_telemetry(),
        session_meta: Some(serde_json::json!({"claudeCode": {"options": {
            "settingSources": ["user"],
            "maxTurns": "$max_turns",
            "maxBudgetUsd": "$max_budget_usd",
        }}})),
        mode: Some("default".into()),
        plan_mode: Some("plan".into()),
        session_dirs: claude_sessions(),
        ..spec(
            "claude-acp",
            Protocol::Acp,
            &["claude-agent-acp"],
            &["ANTHROPIC_*", "CLAUDE_*"],
        )
    };
    let gemini = AgentSpec {
        set_env: BTreeMap::from([("GEMINI_CLI_NO_RELAUNCH".to_string(), "true".to_string())]),
        home_files: BTreeMap::from([(
            ".gemini/settings.json".to_string(),
            GEMINI_SETTINGS.to_string(),
        )]),
        session_dirs: vec![".gemini/tmp".into()],
        ..spec(
            "gemini",
            Protocol::Acp,
            &["gemini", "--acp"],
            &["GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_API_KEY"],
        )
    };
    // OpenCode (docs/agents/opencode.md): it asks before every edit, command and fetch, takes
    // no settings from the worktree, fetches no model list or update, and its local HTTP
    // server wants a password no other process has. Its plugin install is primed away (a
    // read-only config directory would hang it). The provider comes from the operator's
    // OPENCODE_CONFIG_CONTENT (set_env in the agents file) or its usual key variables.
    let opencode = AgentSpec {
        set_env: BTreeMap::from(
            [
                ("OPENCODE_CONFIG_CONTENT", OPENCODE_CONFIG),
                ("OPENCODE_DISABLE_PROJECT_CONFIG", "1"),
                ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
                ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
                ("OPENCODE_DISABLE_SHARE", "1"),
                ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
                ("OPENCODE_DISABLE_CLAUDE_CODE", "1"),
                ("OPENCODE_SERVER_PASSWORD", RANDOM),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        ),
        home_files: BTreeMap::from(
            [
                (
                    ".config/opencode/package-lock.json",
                    r#"{"packages":{"":{"dependencies":{"@opencode-ai/plugin":"*"}}}}"#,
                ),
                (".config/opencode/node_modules/.keep", ""),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        ),
        session_dirs: vec![".local/share/opencode".into()],
        ..spec(
            "opencode",
            Protocol::Acp,
            &["opencode", "acp"],
            &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"],
        )
    };
    vec![
        claude,
        claude_acp,
        gemini,
        opencode,
        // Codex through Zed's adapter (docs/agents/codex.md): its own sandbox off (the runner's
        // holds it; its helper cannot start inside), every edit and every command it does not
        // deem safe asked for, no shell snapshots (they hold the key), and the key taken from
        // OPENAI_API_KEY by a provider of its own (the built-in one needs a sign-in that
        // writes the key to disk). A test or a proxy swaps the provider in the agents file.
        AgentSpec {
            session_dirs: vec![".codex/sessions".into()],
            ..spec(
            "codex",
            Protocol::Acp,
            &[
                "codex-acp",
                "-c",
                "approval_policy=\"untrusted\"",
                "-c",
                "sandbox_mode=\"danger-full-access\"",
                "-c",
                "features.shell_snapshot=false",
                "-c",
                "model_provider=\"openai-key\"",
                "-c",
                "model_providers.openai-key={name=\"OpenAI\", base_url=\"https://api.openai.com/v1\", wire_api=\"responses\", env_key=\"OPENAI_API_KEY\"}",
            ],
            &["OPENAI_API_KEY"],
        )
        },
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsFile {
    #[serde(default)]
    agents: BTreeMap<String, FileAgent>,
}

/// An agent as the file gives it: each field given replaces the built-in's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAgent {
    protocol: Option<Protocol>,
    command: Option<Vec<String>>,
    env: Option<Vec<String>>,
    set_env: Option<BTreeMap<String, String>>,
    home_files: Option<BTreeMap<String, String>>,
    session_meta: Option<serde_json::Value>,
    mode: Option<String>,
    plan_mode: Option<String>,
    session_dirs: Option<Vec<String>>,
}

fn merged(
    mut base: BTreeMap<String, String>,
    given: Option<BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    base.extend(given.unwrap_or_default());
    base
}

impl FileAgent {
    fn onto(self, base: AgentSpec) -> AgentSpec {
        AgentSpec {
            name: base.name,
            protocol: self.protocol.unwrap_or(base.protocol),
            command: self.command.unwrap_or(base.command),
            env: self.env.unwrap_or(base.env),
            set_env: merged(base.set_env, self.set_env),
            home_files: merged(base.home_files, self.home_files),
            session_meta: self.session_meta.or(base.session_meta),
            mode: self.mode.or(base.mode),
            plan_mode: self.plan_mode.or(base.plan_mode),
            session_dirs: self.session_dirs.unwrap_or(base.session_dirs),
        }
    }
}

/// The catalogue: the built-ins, then the file's agents (replacing built-ins of the same name).
pub fn catalogue(claude_bin: &str, file: Option<&Path>) -> anyhow::Result<Vec<AgentSpec>> {
    let mut agents = builtin(claude_bin);
    let Some(file) = file else {
        return Ok(agents);
    };
    let text = std::fs::read_to_string(file).map_err(|err| {
        anyhow::anyhow!(
            "AUTOPILOT_AGENTS_FILE: cannot read {}: {err}",
            file.display()
        )
    })?;
    let parsed: AgentsFile = toml::from_str(&text)
        .map_err(|err| anyhow::anyhow!("AUTOPILOT_AGENTS_FILE ({}): {err}", file.display()))?;
    for (name, given) in parsed.agents {
        check_name(&name)?;
        let base = match agents.iter().position(|a| a.name == name) {
            Some(at) => agents.remove(at),
            None => AgentSpec {
                name: name.clone(),
                protocol: Protocol::Acp,
                command: Vec::new(),
                env: Vec::new(),
                set_env: BTreeMap::new(),
                home_files: BTreeMap::new(),
                session_meta: None,
                mode: None,
                plan_mode: None,
                session_dirs: Vec::new(),
            },
        };
        let spec = given.onto(base);
        if spec.command.is_empty() || spec.program().trim().is_empty() {
            anyhow::bail!("AUTOPILOT_AGENTS_FILE: agent {name} has an empty command");
        }
        if spec.plan_mode.is_some() && spec.mode.is_none() {
            // A resumed work run must leave the plan mode its session was saved in.
            anyhow::bail!(
                "AUTOPILOT_AGENTS_FILE: agent {name} has a plan_mode but no mode (the mode a \
                 work run sets)"
            );
        }
        for path in spec.home_files.keys().chain(&spec.session_dirs) {
            let plain = std::path::Path::new(path)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain || path.is_empty() {
                anyhow::bail!(
                    "AUTOPILOT_AGENTS_FILE: agent {name}: {path:?} (a home file or session directory) must be a relative \
                     path inside HOME"
                );
            }
        }
        agents.push(spec);
    }
    Ok(agents)
}

/// Agent names are what issues and URLs carry: short, lower-case, plain.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        anyhow::bail!(
            "AUTOPILOT_AGENTS_FILE: the agent name {name:?} must be 1 to 40 lower-case letters, \
             digits, - or _"
        )
    }
}

/// The agents the board offers, checked against the catalogue: `offered` (AUTOPILOT_AGENTS)
/// or, when empty, the default alone; the default first.
pub fn offered(
    catalogue: &[AgentSpec],
    default: &str,
    offered: &[String],
) -> anyhow::Result<Vec<AgentSpec>> {
    let known = || {
        catalogue
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |name: &str| {
        catalogue
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| {
                anyhow::anyhow!("unknown agent {name:?}: the agents known are {}", known())
            })
    };
    let mut names: Vec<&str> = vec![default.trim()];
    names.extend(offered.iter().map(|n| n.trim()).filter(|n| !n.is_empty()));
    let mut out: Vec<AgentSpec> = Vec::new();
    for name in names {
        if !out.iter().any(|a| a.name == name) {
            out.push(find(name).map_err(|e| anyhow::anyhow!("AUTOPILOT_AGENT(S): {e}"))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_adds_agents_and_replaces_built_ins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agents.toml");
        std::fs::write(
            &file,
            r#"
[agents.goose]
command = ["goose", "acp"]
env = ["GOOSE_*", "OPENAI_API_KEY"]

[agents.gemini]
command = ["/opt/gemini/bin/gemini", "--experimental-acp"]
"#,
        )
        .unwrap();
        let all = catalogue("claude", Some(&file)).unwrap();
        let goose = all.iter().find(|a| a.name == "goose").unwrap();
        assert_eq!(goose.protocol, Protocol::Acp);
        assert_eq!(goose.program(), "goose");
        let gemini: Vec<_> = all.iter().filter(|a| a.name == "gemini").collect();
        assert_eq!(gemini.len(), 1);
        assert_eq!(gemini[0].program(), "/opt/gemini/bin/gemini");
        // What the file does not name stays the built-in's.
        assert_eq!(gemini[0].env, builtin("claude")[2].env);
        assert!(gemini[0].home_files.contains_key(".gemini/settings.json"));

        let chosen = offered(&all, "goose", &["claude".into(), "goose".into()]).unwrap();
        let names: Vec<_> = chosen.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["goose", "claude"]);
        let err = offered(&all, "claude", &["nope".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown agent \"nope\"") && err.contains("goose"),
            "{err}"
        );
    }

    #[test]
    fn session_meta_takes_the_runs_limits_or_drops_them() {
        let all = builtin("claude");
        let acp = all.iter().find(|a| a.name == "claude-acp").unwrap();
        let meta = acp.session_meta(Some(30), Some(2.5)).unwrap();
        assert_eq!(
            serde_json::Value::Object(meta),
            serde_json::json!({"claudeCode": {"options": {
                "settingSources": ["user"], "maxTurns": 30, "maxBudgetUsd": 2.5}}})
        );
        let meta = acp.session_meta(None, None).unwrap();
        assert_eq!(
            serde_json::Value::Object(meta),
            serde_json::json!({"claudeCode": {"options": {"settingSources": ["user"]}}})
        );
        let gemini = all.iter().find(|a| a.name == "gemini").unwrap();
        assert_eq!(gemini.session_meta(Some(1), None), None);
        let settings: serde_json::Value =
            serde_json::from_str(&gemini.home_files[".gemini/settings.json"]).unwrap();
        assert_eq!(
            settings["security"]["auth"]["selectedType"],
            "gemini-api-key"
        );
    }

    #[test]
    fn a_bad_file_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agents.toml");
        for (text, said) in [
            ("[agents.x]\ncommand = []\n", "empty command"),
            (
                "[agents.\"Bad Name\"]\ncommand = [\"x\"]\n",
                "must be 1 to 40",
            ),
            (
                "[agents.x]\ncommand = [\"x\"]\nshell = true\n",
                "unknown field",
            ),
            (
                "[agents.x]\nprotocol = \"mcp\"\ncommand = [\"x\"]\n",
                "unknown variant",
            ),
            ("not toml", "AUTOPILOT_AGENTS_FILE"),
            (
                "[agents.x]\ncommand = [\"x\"]\nhome_files = { \"../.ssh/x\" = \"\" }\n",
                "relative path inside HOME",
            ),
            (
                "[agents.x]\ncommand = [\"x\"]\nsession_dirs = [\"/etc\"]\n",
                "relative path inside HOME",
            ),
            (
                "[agents.x]\ncommand = [\"x\"]\nplan_mode = \"plan\"\n",
                "plan_mode but no mode",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = catalogue("claude", Some(&file)).unwrap_err().to_string();
            assert!(err.contains(said), "{text:?}: {err}");
        }
        let err = catalogue("claude", Some(&dir.path().join("missing.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
