use super::hydration_marker;
use super::topbar::TopBar;
use crate::api::{list_board, CreateIssue};
use crate::domain::{Issue, Kind, Priority, Status};
use leptos::form::ActionForm;
use leptos::prelude::*;

/// The board: six columns, and a form to file an issue.
#[component]
pub fn BoardPage() -> impl IntoView {
    let create = ServerAction::<CreateIssue>::new();
    let issues = Resource::new(move || create.version().get(), |_| list_board());

    let marker = hydration_marker();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <NewIssueForm create />
            <Suspense fallback=|| view! { <p class="loading">"Loading the board…"</p> }>
                {move || Suspend::new(async move {
                    match issues.await {
                        Ok(issues) => view! { <Board issues /> }.into_any(),
                        Err(err) => {
                            view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn NewIssueForm(create: ServerAction<CreateIssue>) -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    // A filed issue clears the form for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    let error = move || match create.value().get() {
        Some(Err(err)) => Some(view! { <p class="error" role="alert">{err.to_string()}</p> }),
        _ => None,
    };
    view! {
        <ActionForm action=create node_ref=form attr:class="new-issue">
            <label class="grow">
                <span class="visually-hidden">"Title"</span>
                <input
                    type="text"
                    name="title"
                    placeholder="What needs doing?"
                    required
                    maxlength="200"
                    autocomplete="off"
                />
            </label>
            <label>
                <span class="visually-hidden">"Kind"</span>
                <select name="kind">
                    {Kind::ALL
                        .into_iter()
                        .filter(|k| *k != Kind::Feedback)
                        .map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                <span class="visually-hidden">"Priority"</span>
                <select name="priority">
                    {Priority::ALL
                        .into_iter()
                        .map(|p| {
                            view! {
                                <option value=p.as_str() selected=p == Priority::Normal>
                                    {p.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="check">
                <input type="checkbox" name="human_only" value="on" />
                "Human only"
            </label>
            <button type="submit" disabled=move || create.pending().get()>
                "Add issue"
            </button>
            {error}
        </ActionForm>
    }
}

#[component]
fn Board(issues: Vec<Issue>) -> impl IntoView {
    let columns = Status::ALL
        .into_iter()
        .map(|status| {
            let cards: Vec<Issue> = issues.iter().filter(|i| i.status == status).cloned().collect();
            let count = cards.len();
            view! {
                <section class="column" data-status=status.as_str() aria-label=status.label()>
                    <h2>
                        {status.label()} <span class="count">{count}</span>
                    </h2>
                    <ol class="cards">
                        {cards.into_iter().map(|issue| view! { <IssueCard issue /> }).collect_view()}
                    </ol>
                </section>
            }
        })
        .collect_view();
    view! { <main class="board">{columns}</main> }
}

#[component]
fn IssueCard(issue: Issue) -> impl IntoView {
    view! {
        <li class="card" data-id=issue.id data-kind=issue.kind.as_str()>
            <div class="card-meta">
                <span class="number">"#"{issue.id}</span>
                <span class=format!("kind kind-{}", issue.kind.as_str())>{issue.kind.as_str()}</span>
                <span class=format!(
                    "priority priority-{}",
                    issue.priority.as_str(),
                )>{issue.priority.as_str()}</span>
                {issue.human_only.then(|| view! { <span class="human-only">"human only"</span> })}
            </div>
            <p class="title">{issue.title}</p>
            {issue.assignee.map(|a| view! { <p class="assignee">{a}</p> })}
        </li>
    }
}
