//! The Agent Client Protocol adapter: the runner is an ACP client (the official SDK,
//! `agent-client-protocol`) of any agent that speaks it (Gemini CLI, OpenCode, Codex and Claude
//! Code through their adapters, …), started in the sandbox like every agent.
//!
//! One run is `initialize`, `session/new` in the worktree, an optional model choice, then one
//! `session/prompt` with the issue. The agent's `session/update`s become log lines; its
//! `session/request_permission`s are answered by the runner's rules (`policy.rs`); it is
//! offered no file-system or terminal methods, so everything it does runs inside the sandbox.
//! The timeout, a stop, the run's budget (from the cost it reports) and its turn limit (the
//! tool calls it starts) end the turn with `session/cancel`, then the process group.
//!
//! Nothing the agent writes is trusted: lines are capped, non-JSON lines are logged and
//! skipped, texts are cut, and any protocol failure ends the run with its reason.

use super::agent::{
    cut, kill_group, stderr_tail, AgentJob, AgentReport, AgentResult, Installed, Resume, Stop,
    RESULT_MAX_CHARS,
};
use super::policy::{self, Answer};
use crate::agents::AgentSpec;
use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::schema::{
    CancelNotification, ClientCapabilities, ContentBlock, InitializeRequest, LoadSessionRequest,
    NewSessionRequest, PermissionOptionKind, PromptRequest, RequestPermissionOutcome,
    RequestPermissionRequest, RequestPermissionResponse, ResumeSessionRequest,
    SelectedPermissionOutcome, SessionConfigKind, SessionConfigOptionCategory, SessionNotification,
    SessionUpdate, SetSessionConfigOptionRequest, SetSessionModeRequest, StopReason, TextContent,
    ToolCallStatus, ToolKind,
};
use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::{Agent, Client, Lines};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;

/// Longest JSON-RPC message read from the agent; a longer one ends the run.
const MAX_MESSAGE: u64 = 8 * 1024 * 1024;
/// How long the agent has to answer `initialize` and `session/new`.
const HANDSHAKE: Duration = Duration::from_secs(60);
/// How long a cancelled turn has to end before the process group is ended.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How long an agent whose turn ended has to exit once its input is closed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Longest text kept of one message the agent writes (its answer is cut further).
const MESSAGE_MAX_BYTES: usize = 64 * 1024;

/// What the agent did so far, as its updates tell it.
#[derive(Default)]
struct Progress {
    /// The message it is writing now, and the last one it finished (its answer).
    message: String,
    last_message: String,
    /// Text waiting for the end of its line before it is logged.
    unlogged: String,
    tool_calls: i64,
    cost_usd: Option<f64>,
    /// The session the agent opened (to resume it from).
    session_id: Option<String>,
    /// Set when a limit was crossed: why the turn was cancelled.
    over: Option<Limit>,
    denials: Vec<serde_json::Value>,
    /// While `session/load` replays the earlier turns: their updates are not this run's.
    replaying: bool,
    /// The plan a plan run handed over (Claude's `ExitPlanMode`, asked for as a permission).
    plan: Option<String>,
    /// Whether the session asked for was resumed.
    resume: Resume,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Limit {
    Budget,
    Turns,
}

/// Why the session ended, before it is read as a report.
enum Ended {
    Turn(StopReason),
    Stopped(Stop),
    TimedOut,
    Limit(Limit),
    /// The agent broke the protocol, answered with an error, or went away.
    Failed(String),
}

/// Why the session could not start.
enum NoSession {
    Failed(String),
    /// The session to resume is not to be had: the runner starts afresh.
    CannotResume(String),
}

pub async fn run(
    agent: &Installed,
    job: &AgentJob<'_>,
    log: UnboundedSender<String>,
    stop: impl std::future::Future<Output = Stop>,
) -> anyhow::Result<AgentReport> {
    let started = std::time::Instant::now();
    let mut child = super::agent::command(agent, job)
        .spawn()
        .map_err(|err| anyhow::anyhow!("cannot start the agent `{}`: {err}", agent.spec.name))?;
    let group = child.id();
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        kill_group(group).await;
        anyhow::bail!(
            "the agent `{}` has no standard input or output",
            agent.spec.name
        );
    };
    let stderr = tokio::spawn(stderr_tail(child.stderr.take()));
    let progress = Arc::new(Mutex::new(Progress::default()));
    let limit_crossed = Arc::new(Notify::new());

    let ended = session(
        &agent.spec,
        job,
        transport(stdin, stdout, log.clone()),
        &progress,
        &limit_crossed,
        &log,
        stop,
    )
    .await;

    // The connection is closed: an agent that finished exits on its own; any other is ended.
    let exit = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(status) => status.ok().and_then(|s| s.code()),
        Err(_) => {
            kill_group(group).await;
            None
        }
    };
    let stderr_tail = stderr.await.unwrap_or_default();
    let progress = std::mem::take(&mut *lock(&progress));
    flush_text(&log, &progress.unlogged);
    let report = report(ended, progress, exit, stderr_tail, &log);
    Ok(AgentReport {
        elapsed_ms: started.elapsed().as_millis() as i64,
        ..report
    })
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(|e| e.into_inner())
}

/// The agent's stdio as JSON-RPC lines: each line read is capped at [`MAX_MESSAGE`], and one
/// that is not JSON is logged and skipped (a CLI that prints a banner on stdout still works).
fn transport(
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    log: UnboundedSender<String>,
) -> Lines<
    impl futures_util::Sink<String, Error = std::io::Error> + Send + 'static,
    impl futures_util::Stream<Item = std::io::Result<String>> + Send + 'static,
> {
    let outgoing = futures_util::sink::unfold(stdin, |mut stdin, line: String| async move {
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        stdin.flush().await?;
        Ok::<_, std::io::Error>(stdin)
    });
    let reader = BufReader::new(stdout);
    let incoming = futures_util::stream::unfold(reader, move |mut reader| {
        let log = log.clone();
        async move {
            loop {
                let mut line = Vec::new();
                match (&mut reader)
                    .take(MAX_MESSAGE)
                    .read_until(b'\n', &mut line)
                    .await
                {
                    Ok(0) => return None,
                    Err(err) => return Some((Err(err), reader)),
                    Ok(_) => {}
                }
                if !line.ends_with(b"\n") && line.len() as u64 == MAX_MESSAGE {
                    let too_long = std::io::Error::other(format!(
                        "the agent sent a message over {} MiB",
                        MAX_MESSAGE / (1024 * 1024)
                    ));
                    return Some((Err(too_long), reader));
                }
                let text = String::from_utf8_lossy(&line).trim().to_string();
                if text.is_empty() {
                    continue;
                }
                if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
                    let shown: String = text.chars().take(500).collect();
                    let _ = log.send(format!("? {shown}\n"));
                    continue;
                }
                return Some((Ok(text), reader));
            }
        }
    });
    Lines::new(Box::pin(outgoing), Box::pin(incoming))
}

/// Runs the protocol to the end of the turn, the timeout, a stop or a limit.
async fn session(
    spec: &AgentSpec,
    job: &AgentJob<'_>,
    transport: Lines<
        impl futures_util::Sink<String, Error = std::io::Error> + Send + 'static,
        impl futures_util::Stream<Item = std::io::Result<String>> + Send + 'static,
    >,
    progress: &Arc<Mutex<Progress>>,
    limit_crossed: &Arc<Notify>,
    log: &UnboundedSender<String>,
    stop: impl std::future::Future<Output = Stop>,
) -> Ended {
    let worktree = job.dir.to_path_buf();
    let protected = job.protected.to_vec();
    let limits = (job.max_budget_usd, job.max_turns.map(i64::from));
    let updates = {
        let (progress, log, crossed) = (progress.clone(), log.clone(), limit_crossed.clone());
        async move |notification: SessionNotification, _cx: ConnectionTo<Agent>| {
            on_update(notification.update, &progress, &log, limits, &crossed);
            Ok(())
        }
    };
    let read_only = job.read_only;
    let permissions = {
        let (progress, log) = (progress.clone(), log.clone());
        async move |request: RequestPermissionRequest,
                    responder: agent_client_protocol::v1::Responder<RequestPermissionResponse>,
                    _cx: ConnectionTo<Agent>| {
            let rules = Rules {
                worktree: &worktree,
                protected: &protected,
                read_only,
            };
            let response = permission(&request, &rules, &progress, &log);
            responder.respond(response)
        }
    };
    let name = spec.name.clone();
    let meta = spec.session_meta(job.max_turns, job.max_budget_usd);
    let mode = match (job.read_only, &spec.plan_mode) {
        (true, Some(plan)) => Some(plan.clone()),
        _ => spec.mode.clone(),
    };
    let resume = job.resume.map(str::to_string);
    let model = job.model.map(str::to_string);
    let prompt = job.prompt.to_string();
    let timeout = job.timeout;
    let crossed = limit_crossed.clone();
    let connected = Client
        .v1()
        .name("autopilot")
        .on_receive_notification(updates, agent_client_protocol::on_receive_notification!())
        .on_receive_request(permissions, agent_client_protocol::on_receive_request!())
        .connect_with(transport, async move |cx: ConnectionTo<Agent>| {
            let turn = async {
                let handshake_time = HANDSHAKE.min(timeout);
                let opened = Opening {
                    name: &name,
                    dir: job.dir,
                    meta,
                    resume: resume.as_deref(),
                };
                let session_id = match tokio::time::timeout(
                    handshake_time,
                    handshake(&cx, opened, progress, log),
                )
                .await
                {
                    Ok(Ok(id)) => {
                        lock(progress).session_id = Some(cut_line(&id.to_string(), 200));
                        id
                    }
                    Ok(Err(NoSession::Failed(why))) => return Ended::Failed(why),
                    Ok(Err(NoSession::CannotResume(why))) => {
                        lock(progress).resume = Resume::Failed(why);
                        return Ended::Turn(StopReason::Cancelled);
                    }
                    Err(_) => {
                        return Ended::Failed(format!(
                        "the agent did not answer `initialize` and `session/new` within {} seconds",
                        handshake_time.as_secs()
                    ))
                    }
                };
                if let Some(mode) = &mode {
                    let set = SetSessionModeRequest::new(session_id.clone(), mode.clone());
                    if let Err(err) = cx.send_request(set).block_task().await {
                        return Ended::Failed(protocol_error(
                            &format!("session/set_mode {mode}"),
                            &err,
                        ));
                    }
                }
                if let Some(model) = &model {
                    choose_model(&cx, &session_id, model, log).await;
                }
                let prompt = PromptRequest::new(
                    session_id.clone(),
                    vec![ContentBlock::Text(TextContent::new(prompt))],
                );
                let answered = cx.send_request(prompt).block_task();
                tokio::pin!(answered);
                let why = tokio::select! {
                    answer = &mut answered => return match answer {
                        Ok(answer) => Ended::Turn(answer.stop_reason),
                        Err(err) => Ended::Failed(protocol_error("session/prompt", &err)),
                    },
                    _ = tokio::time::sleep(timeout) => Ended::TimedOut,
                    why = stop => Ended::Stopped(why),
                    _ = crossed.notified() => match lock(progress).over {
                        Some(limit) => Ended::Limit(limit),
                        None => Ended::Failed("a limit was crossed".into()),
                    },
                };
                // Ask the agent to stop, and give it a moment to end its turn.
                let _ = cx.send_notification(CancelNotification::new(session_id));
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut answered).await;
                why
            };
            Ok(turn.await)
        })
        .await;
    match connected {
        Ok(ended) => ended,
        Err(err) => Ended::Failed(protocol_error("the connection", &err)),
    }
}

/// How the session is opened: a new one in `dir`, or the one to resume.
struct Opening<'a> {
    name: &'a str,
    dir: &'a Path,
    meta: Option<serde_json::Map<String, serde_json::Value>>,
    resume: Option<&'a str>,
}

/// `initialize`, then `session/new`, or (to resume) `session/resume` or `session/load`,
/// whichever the agent offers; the session's id, or why there is none.
async fn handshake(
    cx: &ConnectionTo<Agent>,
    opening: Opening<'_>,
    progress: &Mutex<Progress>,
    log: &UnboundedSender<String>,
) -> Result<agent_client_protocol::v1::schema::SessionId, NoSession> {
    let Opening {
        name,
        dir,
        meta,
        resume,
    } = opening;
    let failed = NoSession::Failed;
    let init = cx
        .send_request(
            InitializeRequest::new(ProtocolVersion::V1)
                .client_capabilities(ClientCapabilities::default()),
        )
        .block_task()
        .await
        .map_err(|err| failed(protocol_error("initialize", &err)))?;
    if init.protocol_version < ProtocolVersion::V1 {
        return Err(failed(format!(
            "the agent speaks ACP version {}; the runner needs version 1 (upgrade the agent)",
            init.protocol_version
        )));
    }
    let about = init
        .agent_info
        .as_ref()
        .map(|info| {
            format!(
                "{} {}",
                cut_line(&info.name, 80),
                cut_line(&info.version, 40)
            )
        })
        .unwrap_or_else(|| "an ACP agent".into());
    let _ = log.send(format!(
        "▶ agent {name} started ({about}, ACP v{})\n",
        init.protocol_version
    ));
    if let Some(id) = resume {
        let capabilities = &init.agent_capabilities;
        let session_id = agent_client_protocol::v1::schema::SessionId::new(id.to_string());
        let resumed = if capabilities.session_capabilities.resume.is_some() {
            let mut request = ResumeSessionRequest::new(session_id.clone(), dir.to_path_buf());
            request.meta = meta;
            cx.send_request(request)
                .block_task()
                .await
                .map(|_| ())
                .map_err(|err| protocol_error("session/resume", &err))
        } else if capabilities.load_session {
            // The agent replays the session's turns as updates first: not this run's work.
            lock(progress).replaying = true;
            let mut request = LoadSessionRequest::new(session_id.clone(), dir.to_path_buf());
            request.meta = meta;
            let loaded = cx.send_request(request).block_task().await;
            lock(progress).replaying = false;
            loaded
                .map(|_| ())
                .map_err(|err| protocol_error("session/load", &err))
        } else {
            Err("the agent offers neither session/resume nor session/load".into())
        };
        return match resumed {
            Ok(()) => {
                lock(progress).resume = Resume::Resumed;
                let _ = log.send(format!("● resumed session {}\n", cut_line(id, 200)));
                Ok(session_id)
            }
            Err(why) => Err(NoSession::CannotResume(why)),
        };
    }
    let mut new_session = NewSessionRequest::new(dir.to_path_buf());
    new_session.meta = meta;
    let session = cx
        .send_request(new_session)
        .block_task()
        .await
        .map_err(|err| {
            let mut why = protocol_error("session/new", &err);
            if !init.auth_methods.is_empty() {
                why.push_str(
                    " (the agent asks to be signed in: give it its API key in the runner's \
                     environment, see docs/agents/)",
                );
            }
            failed(why)
        })?;
    Ok(session.session_id)
}

/// Picks the model through the session's model option, when the agent offers one.
async fn choose_model(
    cx: &ConnectionTo<Agent>,
    session_id: &agent_client_protocol::v1::schema::SessionId,
    model: &str,
    log: &UnboundedSender<String>,
) {
    // The option comes with the session; ask for it by its usual id.
    let request = SetSessionConfigOptionRequest::new(session_id.clone(), "model", model);
    match cx.send_request(request).block_task().await {
        Ok(answer) => {
            let offered = answer.config_options.iter().any(|option| {
                option.category == Some(SessionConfigOptionCategory::Model)
                    && matches!(option.kind, SessionConfigKind::Select(_))
            });
            let _ = log.send(if offered {
                format!("● model {model}\n")
            } else {
                format!("● asked for model {model}\n")
            });
        }
        Err(err) => {
            let _ = log.send(format!(
                "● the agent did not take model {model} ({}); it uses its own\n",
                cut_line(&err.to_string(), 200)
            ));
        }
    }
}

/// A protocol failure in words, without anything the agent could make long.
fn protocol_error(during: &str, err: &agent_client_protocol::Error) -> String {
    format!("{during} failed: {}", cut_line(&err.to_string(), 500))
}

fn cut_line(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        one_line.chars().take(max).collect::<String>() + "…"
    }
}

/// One `session/update` into the log and the progress; wakes the session when a limit is
/// crossed.
fn on_update(
    update: SessionUpdate,
    progress: &Mutex<Progress>,
    log: &UnboundedSender<String>,
    (max_usd, max_turns): (Option<f64>, Option<i64>),
    crossed: &Notify,
) {
    let mut p = lock(progress);
    if p.replaying {
        return;
    }
    match update {
        SessionUpdate::AgentMessageChunk(chunk) => {
            if let ContentBlock::Text(text) = chunk.content {
                if p.message.len() < MESSAGE_MAX_BYTES {
                    p.message.push_str(&text.text);
                }
                p.unlogged.push_str(&text.text);
                if let Some(end) = p.unlogged.rfind('\n') {
                    let lines: String = p.unlogged.drain(..=end).collect();
                    flush_text(log, &lines);
                }
                if p.unlogged.len() > 4096 {
                    let long = std::mem::take(&mut p.unlogged);
                    flush_text(log, &long);
                }
            }
            return;
        }
        SessionUpdate::AgentThoughtChunk(_) | SessionUpdate::UserMessageChunk(_) => return,
        _ => {}
    }
    // Anything else ends the message being written.
    let unlogged = std::mem::take(&mut p.unlogged);
    flush_text(log, &unlogged);
    if !p.message.trim().is_empty() {
        p.last_message = std::mem::take(&mut p.message);
    }
    match update {
        SessionUpdate::ToolCall(call) => {
            p.tool_calls += 1;
            let _ = log.send(format!("→ {}\n", cut_line(&call.title, 300)));
            if call.status == ToolCallStatus::Failed {
                let _ = log.send("  ✗ the tool reported an error\n".into());
            }
            if max_turns.is_some_and(|max| p.tool_calls > max) && p.over.is_none() {
                p.over = Some(Limit::Turns);
                crossed.notify_one();
            }
        }
        SessionUpdate::ToolCallUpdate(update)
            if update.fields.status == Some(ToolCallStatus::Failed) =>
        {
            let _ = log.send("  ✗ the tool reported an error\n".into());
        }
        SessionUpdate::Plan(plan) => {
            let lines: Vec<String> = plan
                .entries
                .iter()
                .take(20)
                .map(|entry| format!("  ☐ {}", cut_line(&entry.content, 200)))
                .collect();
            if !lines.is_empty() {
                let _ = log.send(format!("● plan\n{}\n", lines.join("\n")));
            }
        }
        SessionUpdate::UsageUpdate(usage) => {
            if let Some(cost) = usage
                .cost
                .filter(|c| c.currency.eq_ignore_ascii_case("USD"))
            {
                p.cost_usd = Some(cost.amount);
                if max_usd.is_some_and(|max| cost.amount > max) && p.over.is_none() {
                    p.over = Some(Limit::Budget);
                    crossed.notify_one();
                }
            }
        }
        _ => {}
    }
}

/// Agent text into the log, a line at a time.
fn flush_text(log: &UnboundedSender<String>, text: &str) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let _ = log.send(format!("{}\n", cut_line(line, 2000)));
    }
}

/// The runner's answer to a permission request (`policy.rs`), logged when refused.
/// What the runner's rules need to answer a permission request.
struct Rules<'a> {
    worktree: &'a Path,
    protected: &'a [String],
    /// A plan run: every change is refused.
    read_only: bool,
}

fn permission(
    request: &RequestPermissionRequest,
    rules: &Rules<'_>,
    progress: &Mutex<Progress>,
    log: &UnboundedSender<String>,
) -> RequestPermissionResponse {
    let fields = &request.tool_call.fields;
    let kind = fields.kind.unwrap_or(ToolKind::Other);
    let kind_name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "other".into());
    let locations = fields
        .locations
        .iter()
        .flatten()
        .map(|location| location.path.clone());
    let ask = policy::ask_from(&kind_name, locations, fields.raw_input.as_ref());
    let title = cut_line(fields.title.as_deref().unwrap_or("a tool call"), 300);
    let pick = |kinds: &[PermissionOptionKind]| {
        kinds.iter().find_map(|kind| {
            request
                .options
                .iter()
                .find(|option| option.kind == *kind)
                .map(|option| option.option_id.clone())
        })
    };
    // A plan run hands its plan over by asking to leave plan mode (Claude's ExitPlanMode):
    // the plan is kept, and the run stays read-only.
    let handed_plan = fields
        .raw_input
        .as_ref()
        .and_then(|input| input.get("plan"))
        .and_then(|plan| plan.as_str());
    // Declining it is no refusal to tell the reviewer about: the plan is what was asked for.
    let chosen = match handed_plan {
        Some(plan) if rules.read_only => {
            let _ = log.send("● the agent handed over its plan\n".into());
            lock(progress).plan = Some(cut(plan.to_string(), RESULT_MAX_CHARS));
            pick(&[
                PermissionOptionKind::RejectOnce,
                PermissionOptionKind::RejectAlways,
            ])
        }
        _ => decide(&ask, rules, &title, &kind_name, progress, log, pick),
    };
    let outcome = match chosen {
        Some(id) => RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(id)),
        // No option to say it with: the request is cancelled, which refuses it too.
        None => RequestPermissionOutcome::Cancelled,
    };
    RequestPermissionResponse::new(outcome)
}

/// The runner's rules on one request: the option to pick, the refusal logged and kept.
fn decide(
    ask: &policy::Ask,
    rules: &Rules<'_>,
    title: &str,
    kind_name: &str,
    progress: &Mutex<Progress>,
    log: &UnboundedSender<String>,
    pick: impl Fn(
        &[PermissionOptionKind],
    ) -> Option<agent_client_protocol::v1::schema::PermissionOptionId>,
) -> Option<agent_client_protocol::v1::schema::PermissionOptionId> {
    match policy::answer(ask, rules.worktree, rules.protected, rules.read_only) {
        Answer::Allow => pick(&[
            PermissionOptionKind::AllowOnce,
            PermissionOptionKind::AllowAlways,
        ]),
        Answer::Refuse(why) => {
            let _ = log.send(format!("✗ refused: {title}: {why}\n"));
            lock(progress).denials.push(serde_json::json!({
                "tool_name": kind_name,
                "tool_input": {"command": ask.command, "path": ask.paths.first().map(|p| p.display().to_string())},
            }));
            pick(&[
                PermissionOptionKind::RejectOnce,
                PermissionOptionKind::RejectAlways,
            ])
        }
    }
}

/// The session's end as a report in the common terms (`AgentResult`).
fn report(
    ended: Ended,
    progress: Progress,
    exit: Option<i32>,
    stderr_tail: String,
    log: &UnboundedSender<String>,
) -> AgentReport {
    let over = progress.over;
    let resume = progress.resume.clone();
    if let Resume::Failed(why) = &resume {
        let _ = log.send(format!("● could not resume the session: {why}\n"));
        return AgentReport {
            exit_code: exit,
            stderr_tail,
            resume,
            ..AgentReport::default()
        };
    }
    let said = if progress.message.trim().is_empty() {
        progress.last_message
    } else {
        progress.message
    };
    // A plan handed over is a plan run's answer, unless it asked a question instead.
    let answer = match progress.plan {
        Some(plan) if !said.trim_start().starts_with("BLOCKED:") => plan,
        _ => said,
    };
    let mut result = AgentResult {
        session_id: progress.session_id,
        result: (!answer.trim().is_empty())
            .then(|| cut(answer.trim().to_string(), RESULT_MAX_CHARS)),
        total_cost_usd: progress.cost_usd,
        num_turns: Some(progress.tool_calls),
        permission_denials: progress.denials,
        ..AgentResult::default()
    };
    let mut report = AgentReport {
        stderr_tail,
        resume,
        ..AgentReport::default()
    };
    let finished = |subtype: &str, is_error: bool, mut result: AgentResult| {
        result.subtype = subtype.to_string();
        result.is_error = is_error;
        result
    };
    match ended {
        // The turn ended as the budget was passed (an agent that keeps its own budget ends it
        // as if out of turns): over budget, whichever came first.
        Ended::Turn(_) if over == Some(Limit::Budget) => {
            report.exit_code = exit;
            report.result = Some(finished("error_max_budget_usd", true, result));
        }
        Ended::Turn(reason) => {
            // The turn ended; the runner then closed the agent, its normal end (whatever it
            // said on the way out: the answer stands).
            report.exit_code = Some(0);
            result = match reason {
                StopReason::EndTurn => finished("success", false, result),
                StopReason::MaxTurnRequests => finished("error_max_turns", false, result),
                StopReason::MaxTokens => finished("error_max_tokens", true, result),
                StopReason::Refusal => finished("error_refusal", true, result),
                StopReason::Cancelled => finished("error_cancelled", true, result),
                _ => finished("error_unknown_stop_reason", true, result),
            };
            report.result = Some(result);
        }
        Ended::Limit(Limit::Budget) => {
            report.exit_code = exit;
            report.result = Some(finished("error_max_budget_usd", true, result));
        }
        Ended::Limit(Limit::Turns) => {
            report.exit_code = exit;
            report.result = Some(finished("error_max_turns", false, result));
        }
        Ended::TimedOut => report.timed_out = true,
        Ended::Stopped(why) => report.stopped = Some(why),
        Ended::Failed(why) => {
            report.exit_code = exit;
            result.errors.push(serde_json::Value::String(why.clone()));
            // Its words, if any, are not an answer: the run failed.
            result.result = None;
            report.result = Some(finished("error_during_execution", true, result));
            let _ = log.send(format!("✗ {why}\n"));
        }
    }
    if let Some(result) = &report.result {
        let mut summary = format!("■ finished: {}", result.subtype);
        if let Some(cost) = result.total_cost_usd {
            summary.push_str(&format!(", ${cost:.4}"));
        }
        if let Some(turns) = result.num_turns {
            summary.push_str(&format!(", {turns} tool calls"));
        }
        if !result.permission_denials.is_empty() {
            summary.push_str(&format!(
                ", {} tool call(s) refused",
                result.permission_denials.len()
            ));
        }
        let _ = log.send(summary + "\n");
    }
    report
}
