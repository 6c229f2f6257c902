//! `/admin/runner`: every runner (heartbeat, current issue and for how long, last outcome),
//! pause and resume for the whole deployment, cancel a run, retry an issue. Refreshes itself
//! every few seconds and on every board change.

use super::live::use_live_refresh;
use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{
    runner_overview, CancelRun, RetryIssue, RunnerState, SetPlanFirst, SetRunnerPaused,
    SetSpendCaps,
};
use crate::domain::{dollars, format_time, Spend, Status};
use leptos::form::ActionForm;
use leptos::prelude::*;

/// A runner not heard from for this long is shown as silent.
const SILENT_AFTER_MS: i64 = 60_000;

#[component]
pub fn AdminRunnerPage() -> impl IntoView {
    let pause = ServerAction::<SetRunnerPaused>::new();
    let cancel = ServerAction::<CancelRun>::new();
    let retry = ServerAction::<RetryIssue>::new();
    let caps = ServerAction::<SetSpendCaps>::new();
    let plan = ServerAction::<SetPlanFirst>::new();
    let refresh = RwSignal::new(0u64);
    use_live_refresh(refresh);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let _ = set_interval_with_handle(
            move || refresh.try_update(|n| *n += 1).map_or((), |_| ()),
            std::time::Duration::from_secs(3),
        );
    });
    let overview = Resource::new(
        move || {
            (
                refresh.get(),
                pause.version().get(),
                cancel.version().get(),
                retry.version().get(),
                caps.version().get(),
                plan.version().get(),
            )
        },
        |_| runner_overview(),
    );
    let marker = hydration_marker();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="admin">
                <h1>"Runner"</h1>
                <p class="hint">
                    "Runners work " <em>"ready"</em>
                    " issues that are not human-only and wait for no open issue, each slot one at a time, and leave each result on a branch for review. "
                    "Pausing stops new claims within one poll; a run going on finishes (cancel it to stop it now)."
                </p>
                {action_error(pause.value())}
                {action_error(cancel.value())}
                {action_error(retry.value())}
                {action_error(caps.value())}
                {action_error(plan.value())}
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match overview.await {
                            Ok(o) => view! { <Overview o pause cancel retry caps plan /> }.into_any(),
                            Err(err) => error_note(&err),
                        }
                    })}
                </Transition>
            </main>
        </div>
    }
}

fn ago(now: i64, then: i64) -> String {
    let s = ((now - then).max(0) / 1000) as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[component]
fn Overview(
    o: RunnerState,
    pause: ServerAction<SetRunnerPaused>,
    cancel: ServerAction<CancelRun>,
    retry: ServerAction<RetryIssue>,
    caps: ServerAction<SetSpendCaps>,
    plan: ServerAction<SetPlanFirst>,
) -> impl IntoView {
    let now = o.now;
    let plan_first = o.plan_first;
    let spend = o.spend.clone();
    let no_runners = o.runners.is_empty();
    let runners = o
        .runners
        .into_iter()
        .map(|r| {
            let state = if r.stopped_at.is_some() {
                "stopped"
            } else if now - r.heartbeat_at > SILENT_AFTER_MS {
                "silent"
            } else if r.current_issue.is_some() {
                "working"
            } else {
                "idle"
            };
            let current = r.current_issue.map(|id| {
                let running = r.run_started_at.map(|at| ago(now, at)).unwrap_or_default();
                view! {
                    <a href=format!("/?issue={id}")>{format!("#{id}")}</a>
                    " for "
                    {running}
                    <ActionForm action=cancel attr:class="inline">
                        <input type="hidden" name="issue_id" value=id />
                        <button type="submit" class="secondary">"Cancel run"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr data-runner=r.id.clone() data-state=state>
                    <td><code>{r.id.clone()}</code></td>
                    <td>
                        {r.host.clone()} " (pid " {r.pid} ")"
                        {r.agents.clone().filter(|a| !a.is_empty()).map(|agents| view! {
                            <div class="runner-agents" title="The agents it has installed">{agents}</div>
                        })}
                    </td>
                    <td>{format_time(r.started_at)}</td>
                    <td>{format!("{} ago", ago(now, r.heartbeat_at))}</td>
                    <td>{state}</td>
                    <td>{current}</td>
                    <td>{r.last_outcome.clone().unwrap_or_default().replace('_', " ")}</td>
                </tr>
            }
        })
        .collect_view();
    let no_runs = o.runs.is_empty();
    let runs = o
        .runs
        .into_iter()
        .map(|row| {
            let issue_id = row.run.issue_id;
            let retryable = matches!(row.issue_status, Status::Blocked | Status::InReview);
            view! {
                <tr data-run=row.run.id>
                    <td><a href=format!("/?issue={issue_id}")>{format!("#{issue_id}")}</a> " " {row.issue_title.clone()}</td>
                    <td>{row.run.attempt}</td>
                    <td>
                        {row.run.outcome.clone().unwrap_or_else(|| "running".into()).replace('_', " ")}
                        <span class="run-kind">{format!(" ({})", row.run.kind.label())}</span>
                        {row.run.agent.clone().map(|agent| {
                            let by = match &row.run.model {
                                Some(model) => format!("{agent} · {model}"),
                                None => agent,
                            };
                            view! { <div class="run-agent">{by}</div> }
                        })}
                    </td>
                    <td>{row.issue_status.label()}</td>
                    <td>{format_time(row.run.started_at)}</td>
                    <td>
                        {retryable.then(|| view! {
                            <ActionForm action=retry attr:class="inline">
                                <input type="hidden" name="issue_id" value=issue_id />
                                <button type="submit" class="secondary">"Retry"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let paused = o.paused;
    view! {
        <section class="runner-switch">
            <p class="switch-state" data-paused=paused.to_string()>
                {if paused { "Paused: runners claim nothing new." } else { "Running: runners claim ready issues." }}
            </p>
            <ActionForm action=pause attr:class="inline">
                <input type="hidden" name="paused" value=(!paused).to_string() />
                <button type="submit">
                    {if paused { "Resume runners" } else { "Pause runners (let current runs finish)" }}
                </button>
            </ActionForm>
            {(!paused).then(|| view! {
                <ActionForm action=pause attr:class="inline">
                    <input type="hidden" name="paused" value="true" />
                    <input type="hidden" name="cancel_running" value="true" />
                    <button type="submit" class="secondary">"Pause and cancel current runs"</button>
                </ActionForm>
            })}
        </section>
        <section class="plan-first-default">
            <p class="plan-first-state" data-plan-first=plan_first.to_string()>
                {if plan_first {
                    "New issues plan first: the agent's first run only plans, and it works once a person approves the plan."
                } else {
                    "New issues go straight to work (an issue can still ask to plan first)."
                }}
            </p>
            <ActionForm action=plan attr:class="inline">
                <input type="hidden" name="on" value=(!plan_first).to_string() />
                <button type="submit" class="secondary">
                    {if plan_first { "Let new issues go straight to work" } else { "Make new issues plan first" }}
                </button>
            </ActionForm>
        </section>
        <Spending spend caps />
        <h2>"Runners"</h2>
        <p class="hint">"Those heard from in the last 24 hours."</p>
        <table class="runners">
            <thead>
                <tr><th>"Id"</th><th>"Host"</th><th>"Started"</th><th>"Last heartbeat"</th><th>"State"</th><th>"Current issue"</th><th>"Last outcome"</th></tr>
            </thead>
            <tbody>
                {no_runners.then(|| view! {
                    <tr><td colspan="7" class="hint">
                        "No runner yet. Start the server with AUTOPILOT_RUNNER=1 in a git checkout (see the README)."
                    </td></tr>
                })}
                {runners}
            </tbody>
        </table>
        <h2>"Recent runs"</h2>
        <table class="runs">
            <thead>
                <tr><th>"Issue"</th><th>"Attempt"</th><th>"Outcome"</th><th>"Issue is"</th><th>"Started"</th><th></th></tr>
            </thead>
            <tbody>
                {no_runs.then(|| view! { <tr><td colspan="6" class="hint">"No run yet."</td></tr> })}
                {runs}
            </tbody>
        </table>
    }
}

/// Spend today and this month against the caps, the caps form, and the last 30 days.
#[component]
fn Spending(spend: Spend, caps: ServerAction<SetSpendCaps>) -> impl IntoView {
    let of = |cap: Option<f64>| {
        cap.map(|c| format!(" of {}", dollars(c)))
            .unwrap_or_default()
    };
    let field = |cap: Option<f64>| cap.map(|c| c.to_string()).unwrap_or_default();
    let reached = spend.reached().map(|r| {
        view! {
            <p class="cap-reached" role="status">
                {r.sentence()} " Runners claim nothing until " <time>{format_time(r.resets_at)}</time>
                " (or a higher cap)."
            </p>
        }
    });
    view! {
        <section class="spending">
            <h2>"Spending"</h2>
            {reached}
            <p class="spent">
                "Today: " <strong>{dollars(spend.today_usd)}</strong> {of(spend.caps.daily_usd)}
                " · this month: " <strong>{dollars(spend.month_usd)}</strong> {of(spend.caps.monthly_usd)}
                " (UTC)"
            </p>
            <SpendChart per_day=spend.per_day.clone() />
            <ActionForm action=caps attr:class="caps-form">
                <label>
                    "Daily cap ($)"
                    <input type="text" name="daily" inputmode="decimal" placeholder="none" value=field(spend.caps.daily_usd) />
                </label>
                <label>
                    "Monthly cap ($)"
                    <input type="text" name="monthly" inputmode="decimal" placeholder="none" value=field(spend.caps.monthly_usd) />
                </label>
                <button type="submit">"Save caps"</button>
                <span class="hint">"Checked by every runner before it claims an issue; empty: no cap."</span>
            </ActionForm>
        </section>
    }
}

/// Dollars per day as bars (SVG, written on the server: readable without JavaScript), each
/// with its day and amount as a tooltip, and the same in words for screen readers.
#[component]
fn SpendChart(per_day: Vec<(i64, f64)>) -> impl IntoView {
    const WIDTH: f64 = 300.0;
    const HEIGHT: f64 = 60.0;
    let most = per_day.iter().map(|(_, usd)| *usd).fold(0.0, f64::max);
    let step = WIDTH / per_day.len().max(1) as f64;
    let total: f64 = per_day.iter().map(|(_, usd)| usd).sum();
    let day = |ms: i64| format_time(ms).chars().take(10).collect::<String>();
    let label = format!(
        "Spend per day over the last 30 days: {} in all, at most {} a day.",
        dollars(total),
        dollars(most)
    );
    let bars = per_day
        .into_iter()
        .enumerate()
        .map(|(i, (start, usd))| {
            // A day with any spend shows at least a sliver.
            let height = if usd > 0.0 {
                (usd / most * HEIGHT).max(1.0)
            } else {
                0.0
            };
            view! {
                <rect
                    x=format!("{:.1}", i as f64 * step + 1.0)
                    y=format!("{:.1}", HEIGHT - height)
                    width=format!("{:.1}", step - 2.0)
                    height=format!("{height:.1}")
                >
                    <title>{format!("{}: {}", day(start), dollars(usd))}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure class="spend-chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=label.clone()
            >
                {bars}
            </svg>
            <figcaption>{label}</figcaption>
        </figure>
    }
}
