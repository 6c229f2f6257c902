//! Which coding agents a board knows, and how each is started: the built-in catalogue (docs in
//! `docs/agents/`), and any ACP agent an operator adds by configuration alone
//! (`AUTOPILOT_AGENTS_FILE`, a TOML file), without a rebuild:
//!
//! ```toml
//! [agents.goose]
//! command = ["goose", "acp"]             # the program (name on PATH, or a path) and its arguments
//! env = ["GOOSE_*", "OPENAI_API_KEY"]    # its own variables: names, or PREFIX_* families
//! # protocol = "acp"                     # the default; "claude" is Claude Code's stream-json
//! ```
//!
//! A file entry with a built-in's name replaces it (another path, other variables).

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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    #[serde(skip)]
    pub name: String,
    #[serde(default)]
    pub protocol: Protocol,
    /// The program (a name on PATH or a path) and its arguments.
    pub command: Vec<String>,
    /// Variables it inherits beyond the common allowlist: `NAME`, or `PREFIX_*`.
    #[serde(default)]
    pub env: Vec<String>,
}

impl AgentSpec {
    pub fn program(&self) -> &str {
        self.command.first().map(String::as_str).unwrap_or_default()
    }
}

/// The name of Claude Code, the default agent.
pub const CLAUDE: &str = "claude";

/// The agents every board knows. `claude_bin` is AUTOPILOT_CLAUDE_BIN.
pub fn builtin(claude_bin: &str) -> Vec<AgentSpec> {
    let spec = |name: &str, protocol, command: &[&str], env: &[&str]| AgentSpec {
        name: name.into(),
        protocol,
        command: command.iter().map(|s| s.to_string()).collect(),
        env: env.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        spec(
            CLAUDE,
            Protocol::Claude,
            &[claude_bin],
            &["ANTHROPIC_*", "CLAUDE_*"],
        ),
        spec(
            "claude-acp",
            Protocol::Acp,
            &["claude-agent-acp"],
            &["ANTHROPIC_*", "CLAUDE_*"],
        ),
        spec(
            "gemini",
            Protocol::Acp,
            &["gemini", "--experimental-acp"],
            &["GEMINI_*", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_API_KEY"],
        ),
        spec(
            "opencode",
            Protocol::Acp,
            &["opencode", "acp"],
            &["OPENCODE_*", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"],
        ),
        spec(
            "codex",
            Protocol::Acp,
            &["codex-acp"],
            &["OPENAI_API_KEY", "CODEX_*"],
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsFile {
    #[serde(default)]
    agents: BTreeMap<String, AgentSpec>,
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
    for (name, mut spec) in parsed.agents {
        check_name(&name)?;
        if spec.command.is_empty() || spec.program().trim().is_empty() {
            anyhow::bail!("AUTOPILOT_AGENTS_FILE: agent {name} has an empty command");
        }
        spec.name = name;
        agents.retain(|a| a.name != spec.name);
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
        assert!(gemini[0].env.is_empty());

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
