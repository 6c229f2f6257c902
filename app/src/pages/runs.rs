//! The agent's runs in an issue's drawer, with the latest run's log following live
//! (`/api/autopilot/runs/{id}/log` as Server-Sent Events).

use crate::domain::{format_time, Effort, Run};
use leptos::prelude::*;

#[component]
pub fn Runs(runs: Vec<Run>) -> impl IntoView {
    let Some(latest) = runs.first().cloned() else {
        return ().into_any();
    };
    let effort = Effort::of(&runs).summary();
    let rows = runs
        .into_iter()
        .map(|run| {
            let outcome = run.outcome.clone().unwrap_or_else(|| "running".into());
            let mut facts = vec![format!("started {}", format_time(run.started_at))];
            match run.resumed {
                Some(true) => facts.push("resumed its session".into()),
                Some(false) => facts.push("started afresh".into()),
                None => {}
            }
            if let Some(ms) = run.duration_ms {
                facts.push(format!("{:.0} s", ms as f64 / 1000.0));
            }
            if let Some(turns) = run.num_turns {
                facts.push(format!("{turns} turns"));
            }
            if let Some(cost) = run.cost_usd {
                facts.push(format!("${cost:.4}"));
            }
            if let Some(code) = run.exit_code {
                facts.push(format!("exit {code}"));
            }
            if let Some(agent) = &run.agent {
                facts.push(agent.clone());
            }
            if let Some(model) = &run.model {
                facts.push(model.clone());
            }
            view! {
                <li class=format!("run run-{outcome}") data-run=run.id>
                    <strong>{format!("Run {}", run.attempt)}</strong>
                    " · "
                    <span class=format!("run-kind run-kind-{}", run.kind.as_str())>{run.kind.label()}</span>
                    " · "
                    <span class="run-outcome">{outcome.replace('_', " ")}</span>
                    " · "
                    {facts.join(" · ")}
                    " · by "
                    {run.runner_id.clone()}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="runs">
            <h3>"Agent runs" <span class="hint effort">{effort}</span></h3>
            <ol class="run-list">{rows}</ol>
            <RunLog run_id=latest.id />
        </section>
    }
    .into_any()
}

#[component]
fn RunLog(run_id: i64) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let ended = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::follow(run_id, text, ended));
    view! {
        <details class="run-log" open>
            <summary>
                "Log of the latest run"
                {move || (!ended.get()).then_some(" (following)")}
            </summary>
            <pre data-run=run_id data-ended=move || ended.get().to_string()>{move || text.get()}</pre>
            <a href=format!("/api/autopilot/runs/{run_id}/log") target="_blank">
                "Open as plain text"
            </a>
        </details>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;

    /// Streams the run's log into `text` until the server says it ended.
    pub fn follow(run_id: i64, text: RwSignal<String>, ended: RwSignal<bool>) {
        let url = format!("/api/autopilot/runs/{run_id}/log");
        let Ok(source) = web_sys::EventSource::new(&url) else {
            return;
        };
        // Every (re)connection sends the log from the start.
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            text.try_set(String::new());
        });
        let on_log =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                if let Some(chunk) = e.data().as_string() {
                    text.try_update(|t| t.push_str(&chunk));
                }
            });
        let closer = source.clone();
        let on_end = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            ended.try_set(true);
            closer.close();
        });
        let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("log", on_log.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
        on_open.forget();
        on_log.forget();
        on_end.forget();
        let source = StoredValue::new_local(source);
        on_cleanup(move || source.with_value(|s| s.close()));
    }
}
