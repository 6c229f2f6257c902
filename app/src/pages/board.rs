//! The board: six columns with drag and drop, a "Move to…" menu on every card for keyboards
//! and for browsers without JavaScript, filters, and the issue drawer (`/?issue=ID`).

use super::issue::LazyIssuePanel;
use super::live::use_live_events;
use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{get_card, list_board, whoami, CreateIssue, MoveIssue};
use crate::domain::{
    dollars, legal_targets, position_between, runs_label, BoardIssues, BoardQuery, Card,
    CardUpdate, Kind, Priority, Role, Status, COLUMN_SHOWN,
};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

/// What every part of the board shares.
#[derive(Clone, Copy)]
struct BoardContext {
    /// Bumped to reload the board (live events, finished moves).
    refresh: RwSignal<u64>,
    /// A short message about the last refused move.
    notice: RwSignal<Option<String>>,
    /// The card being dragged.
    dragging: RwSignal<Option<Card>>,
    /// A move sent but not yet answered: shown in place at once.
    pending: RwSignal<Option<(i64, Status, Option<f64>)>>,
    role: Signal<Role>,
    move_action: ServerAction<MoveIssue>,
}

#[component]
pub fn BoardPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        BoardQuery::from_query(|name| q.get(name))
    });
    let open_issue = Memo::new(move |_| {
        query
            .read()
            .get("issue")
            .and_then(|id| id.parse::<i64>().ok())
    });

    let refresh = RwSignal::new(0u64);
    // Cards changed since the board was loaded, fetched one at a time as live events name
    // them: a change costs each open board one card, not a whole board.
    let patches = RwSignal::new(Vec::<(i64, CardUpdate)>::new());
    // The open drawer reloads when its own issue changes.
    let drawer_refresh = RwSignal::new(0u64);
    use_live_events(move |event| {
        if event.issue_id.is_none() || event.issue_id == open_issue.get_untracked() {
            drawer_refresh.try_update(|n| *n += 1);
        }
        let unfiltered = filters.with_untracked(BoardQuery::unfiltered);
        match event.issue_id {
            Some(id) if unfiltered => leptos::task::spawn_local(async move {
                match get_card(id).await {
                    Ok(update) => {
                        patches.try_update(|p| p.push((id, update)));
                    }
                    Err(_) => {
                        refresh.try_update(|n| *n += 1);
                    }
                }
            }),
            _ => {
                refresh.try_update(|n| *n += 1);
            }
        }
    });
    let create = ServerAction::<CreateIssue>::new();
    let move_action = ServerAction::<MoveIssue>::new();
    let me = Resource::new(|| (), |_| whoami());
    let role = Signal::derive(move || match me.get() {
        Some(Ok(me)) if me.is_admin => Role::Admin,
        _ => Role::Member,
    });
    let ctx = BoardContext {
        refresh,
        notice: RwSignal::new(None),
        dragging: RwSignal::new(None),
        pending: RwSignal::new(None),
        role,
        move_action,
    };
    // A refused move from the menu shows its reason like a refused drop.
    Effect::new(move |_| {
        if let Some(Err(err)) = move_action.value().get() {
            ctx.notice.set(Some(err.to_string()));
        }
    });

    let board = Resource::new(
        move || {
            (
                filters.get(),
                refresh.get(),
                create.version().get(),
                move_action.version().get(),
            )
        },
        move |(f, ..)| {
            // What was patched so far is in the board being loaded; later patches apply on
            // top of it (an older one is ignored by version).
            patches.set(Vec::new());
            list_board(f.q, f.kind, f.assignee, f.mine, f.shown)
        },
    );

    let marker = hydration_marker();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <div class="toolbar">
                <NewIssueForm create me />
                <Filters filters />
            </div>
            {move || {
                ctx.notice
                    .get()
                    .map(|text| {
                        view! {
                            <div class="notice-bar" role="status">
                                <span>{text}</span>
                                <button
                                    type="button"
                                    class="link"
                                    on:click=move |_| ctx.notice.set(None)
                                >
                                    "Dismiss"
                                </button>
                            </div>
                        }
                    })
            }}
            <Transition fallback=|| view! { <p class="loading">"Loading the board…"</p> }>
                {move || {
                    board
                        .get()
                        .map(|result| match result {
                            Ok(mut board) => {
                                for (id, update) in patches.get() {
                                    board.patch(id, update);
                                }
                                let more_href = move |status: Status, n: i64| {
                                    more_href(&query.read(), status, n)
                                };
                                view! { <Board board ctx more_href /> }.into_any()
                            }
                            Err(err) => error_note(&err),
                        })
                }}
            </Transition>
            {move || {
                open_issue
                    .get()
                    .map(|id| {
                        let close = close_href(&query.read());
                        view! {
                            <aside class="drawer" aria-label=format!("Issue #{id}")>
                                <a class="drawer-close" href=close aria-label="Close">
                                    "×"
                                </a>
                                <LazyIssuePanel id refresh=drawer_refresh />
                            </aside>
                        }
                    })
            }}
        </div>
    }
}

/// The current URL with `status=n`: the column's "Show more" link (a plain link, so it works
/// without JavaScript too).
fn more_href(query: &leptos_router::params::ParamsMap, status: Status, n: i64) -> String {
    let kept = query
        .clone()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .filter(|(k, _)| k != status.as_str() && k != "issue");
    board_href(kept.chain([(status.as_str().to_string(), n.to_string())]))
}

/// The current URL without `issue=`: where closing the drawer goes.
fn close_href(query: &leptos_router::params::ParamsMap) -> String {
    board_href(query.clone().into_iter().filter(|(k, _)| k != "issue"))
}

/// The board's address with these query pairs (values percent-encoded), or `/` with none.
fn board_href<K: std::fmt::Display>(pairs: impl IntoIterator<Item = (K, String)>) -> String {
    let kept: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", crate::percent::query_value(&v)))
        .collect();
    if kept.is_empty() {
        "/".into()
    } else {
        format!("/?{}", kept.join("&"))
    }
}

#[component]
fn NewIssueForm(
    create: ServerAction<CreateIssue>,
    me: Resource<Result<crate::api::Me, crate::error::AppError>>,
) -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    // A filed issue clears the form for the next one.
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(form)) = (create.value().get(), form.get()) {
            form.reset();
        }
    });
    // A plain form (it posts to the server function without JavaScript) whose fields are read
    // here: `ActionForm` would bring a whole form-decoding library into the board's wasm.
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(new) = form.get_untracked().and_then(|form| new_issue_from(&form)) {
            create.dispatch(new);
        }
    };
    view! {
        <form
            method="post"
            action=CreateIssue::url()
            node_ref=form
            class="new-issue"
            on:submit=on_submit
        >
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
            // Rendered on the server (the models and agents are known there): works without
            // JavaScript.
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let me = me.await.ok();
                    let models = me.as_ref().map(|me| me.models.clone()).unwrap_or_default();
                    let agents = me.map(|me| me.agents).unwrap_or_default();
                    let model_choice = (!models.is_empty())
                        .then(|| {
                            view! {
                                <label>
                                    <span class="visually-hidden">"Model"</span>
                                    <select name="model">
                                        <option value=crate::domain::DEFAULT_MODEL_CHOICE>"default model"</option>
                                        {models
                                            .into_iter()
                                            .map(|m| view! { <option value=m.clone()>{m.clone()}</option> })
                                            .collect_view()}
                                    </select>
                                </label>
                            }
                        });
                    view! { {model_choice} {agent_choice(&agents, "")} }
                })}
            </Suspense>
            <label>
                <span class="visually-hidden">"Depends on"</span>
                <input
                    type="text"
                    name="depends_on"
                    class="depends-on"
                    placeholder="Depends on #…"
                    inputmode="numeric"
                    autocomplete="off"
                    title="Issue numbers, like 12, 15: the agent waits until they are done"
                />
            </label>
            <button type="submit" disabled=move || create.pending().get()>
                "Add issue"
            </button>
            {action_error(create.value())}
        </form>
    }
}

/// The new issue the form's fields describe (the fields `create_issue` reads from a posted
/// form when there is no JavaScript).
fn new_issue_from(form: &leptos::web_sys::HtmlFormElement) -> Option<CreateIssue> {
    let data = leptos::web_sys::FormData::new_with_form(form).ok()?;
    let field = |name: &str| data.get(name).as_string();
    Some(CreateIssue {
        title: field("title").unwrap_or_default(),
        body: String::new(),
        kind: field("kind")
            .and_then(|k| k.parse().ok())
            .unwrap_or_default(),
        priority: field("priority")
            .and_then(|p| p.parse().ok())
            .unwrap_or_default(),
        human_only: field("human_only"),
        depends_on: field("depends_on").unwrap_or_default(),
        model: field("model"),
        agent: field("agent"),
    })
}

/// The agent select of the forms, when the board offers more than one: the default first
/// (sent as "default"), then the others; `current` is selected (empty: the default).
pub fn agent_choice(agents: &[String], current: &str) -> Option<impl IntoView + use<>> {
    let (default, others) = agents.split_first()?;
    if others.is_empty() {
        return None;
    }
    let others = others
        .iter()
        .map(|a| view! { <option value=a.clone() selected=a == current>{a.clone()}</option> })
        .collect_view();
    Some(view! {
        <label class="agent-choice">
            <span class="visually-hidden">"Agent"</span>
            <select name="agent" title="The coding agent that works it">
                <option value=crate::domain::DEFAULT_MODEL_CHOICE selected=current.is_empty()>
                    {format!("{default} (default agent)")}
                </option>
                {others}
            </select>
        </label>
    })
}

#[component]
fn Filters(filters: Memo<BoardQuery>) -> impl IntoView {
    let current = filters.get_untracked();
    let kind = current.kind;
    // A plain GET form (without JavaScript the browser makes the address); with it, the
    // board navigates there in place.
    let form = NodeRef::<leptos::html::Form>::new();
    let navigate = leptos_router::hooks::use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let data = form
            .get_untracked()
            .and_then(|form| leptos::web_sys::FormData::new_with_form(&form).ok());
        if let Some(data) = data {
            navigate(
                &filtered_href(|name| data.get(name).as_string()),
                Default::default(),
            );
        }
    };
    view! {
        <form
            method="get"
            action="/"
            class="filters"
            role="search"
            node_ref=form
            on:submit=on_submit
        >
            <label>
                <span class="visually-hidden">"Search"</span>
                <input
                    type="search"
                    name="q"
                    placeholder="Search issues"
                    value=current.q.clone().unwrap_or_default()
                />
            </label>
            <label>
                <span class="visually-hidden">"Kind filter"</span>
                <select name="kind">
                    <option value="" selected=kind.is_none()>
                        "all kinds"
                    </option>
                    {Kind::ALL
                        .into_iter()
                        .map(|k| {
                            view! {
                                <option value=k.as_str() selected=kind == Some(k)>
                                    {k.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                <span class="visually-hidden">"Assignee"</span>
                <input
                    type="text"
                    name="assignee"
                    placeholder="Assignee"
                    value=current.assignee.clone().unwrap_or_default()
                />
            </label>
            <label class="check">
                <input type="checkbox" name="mine" value="1" checked=current.mine />
                "Assigned to me"
            </label>
            <button type="submit" class="secondary">
                "Filter"
            </button>
        </form>
    }
}

/// The board's address for the filter form's fields (`field` reads one): the filled ones
/// only, as the form would send them.
fn filtered_href(field: impl Fn(&str) -> Option<String>) -> String {
    board_href(
        ["q", "kind", "assignee", "mine"]
            .into_iter()
            .filter_map(|name| {
                let value = field(name).filter(|v| !v.trim().is_empty())?;
                Some((name, value))
            }),
    )
}

/// The board with a pending move applied, so a drop shows at once.
fn with_pending(mut issues: Vec<Card>, pending: Option<(i64, Status, Option<f64>)>) -> Vec<Card> {
    if let Some((id, to, position)) = pending {
        if let Some(issue) = issues.iter_mut().find(|i| i.id == id) {
            issue.status = to;
            issue.position = position.unwrap_or(f64::MAX);
        }
        issues.sort_by(|a, b| a.position.total_cmp(&b.position));
    }
    issues
}

#[component]
fn Board(
    board: BoardIssues,
    ctx: BoardContext,
    more_href: impl Fn(Status, i64) -> String + 'static,
) -> impl IntoView {
    let counts = board.clone();
    let issues = with_pending(board.issues, ctx.pending.get());
    let columns = Status::ALL
        .into_iter()
        .map(|status| {
            let cards: Vec<Card> = issues
                .iter()
                .filter(|i| i.status == status)
                .cloned()
                .collect();
            let shown = cards.len() as i64;
            let count = counts.count(status);
            let more = (count > shown).then(|| {
                // From what is shown, not from the address: while the next cards load, the
                // address already asks for them and the board still shows the last ones.
                let next = shown + COLUMN_SHOWN;
                let link = NodeRef::<leptos::html::A>::new();
                load_more_when_reached(link);
                view! {
                    <a class="show-more" href=more_href(status, next) node_ref=link>
                        {format!("Show {COLUMN_SHOWN} more ({shown} of {count})")}
                    </a>
                }
            });
            view! { <Column status cards count ctx more /> }.into_any()
        })
        .collect_view();
    view! { <main class="board">{columns}</main> }
}

#[component]
fn Column(
    status: Status,
    cards: Vec<Card>,
    count: i64,
    ctx: BoardContext,
    more: Option<impl IntoView + 'static>,
) -> impl IntoView {
    let allowed = move || {
        ctx.dragging.with(|d| {
            d.as_ref().map(|d| {
                d.status == status
                    || legal_targets(ctx.role.get(), d.human_only, d.status).contains(&status)
            })
        })
    };
    let column_cards = cards.clone();
    // Dropped below the last card shown, a card goes to the end of the column, out of sight
    // when the column shows only its first cards; say where it went.
    let partly_shown = count > cards.len() as i64;
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        let Some(dragged) = ctx.dragging.get_untracked() else {
            return;
        };
        ctx.dragging.set(None);
        let before = drop_target_id(&ev);
        let position = position_before(&column_cards, before, dragged.id);
        if dragged.status == status && position.is_none() {
            return;
        }
        if dragged.status != status
            && !legal_targets(ctx.role.get_untracked(), dragged.human_only, dragged.status)
                .contains(&status)
        {
            return;
        }
        let note = (partly_shown && position.is_none()).then(|| {
            format!(
                "#{} is now last in {}, below the cards shown.",
                dragged.id,
                status.label()
            )
        });
        let before = before.filter(|_| position.is_some());
        send_move(ctx, dragged, status, (position, before), note);
    };
    view! {
        <section
            class="column"
            data-status=status.as_str()
            aria-label=status.label()
            class:drop-ok=move || allowed() == Some(true)
            class:drop-no=move || allowed() == Some(false)
            on:dragover=move |ev: leptos::ev::DragEvent| {
                if allowed() == Some(true) {
                    ev.prevent_default();
                }
            }
            on:drop=on_drop
        >
            <h2>{status.label()} <span class="count">{count}</span></h2>
            <ol class="cards">
                {cards
                    .into_iter()
                    .map(|issue| view! { <IssueCard issue ctx /> }.into_any())
                    .collect_view()}
            </ol>
            {more}
        </section>
    }
}

/// Follows a column's "Show more" link by itself once the person scrolls down to it (the
/// link stays for keyboards and for browsers without JavaScript). Fires once: the column is
/// drawn anew with the cards it loads.
fn load_more_when_reached(link: NodeRef<leptos::html::A>) {
    #[cfg(feature = "hydrate")]
    {
        use leptos_router::hooks::use_navigate;
        use leptos_router::NavigateOptions;
        let navigate = use_navigate();
        let fired = StoredValue::new(false);
        let handle = window_event_listener(leptos::ev::scroll, move |_| {
            let Some(a) = link.get_untracked() else {
                return;
            };
            let viewport = window()
                .inner_height()
                .ok()
                .and_then(|h| h.as_f64())
                .unwrap_or(0.0);
            if fired.get_value() || a.get_bounding_client_rect().top() > viewport + 200.0 {
                return;
            }
            fired.set_value(true);
            let options = NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            };
            navigate(&a.get_attribute("href").unwrap_or_default(), options);
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = link;
}

/// The id of the card the pointer is over, if any.
fn drop_target_id(ev: &leptos::ev::DragEvent) -> Option<i64> {
    use leptos::wasm_bindgen::JsCast;
    let target = ev.target()?.dyn_into::<leptos::web_sys::Element>().ok()?;
    let card = target.closest(".card").ok()??;
    card.get_attribute("data-id")?.parse().ok()
}

/// A position between the card dropped on and the one above it, where the board shows the
/// card until the server answers (which places it from the card dropped on); `None` means
/// the end.
fn position_before(cards: &[Card], before: Option<i64>, dragged: i64) -> Option<f64> {
    let before = before.filter(|id| *id != dragged)?;
    let index = cards.iter().position(|c| c.id == before)?;
    let above = cards[..index].iter().rev().find(|c| c.id != dragged);
    Some(position_between(
        above.map(|c| c.position),
        cards[index].position,
    ))
}

/// Sends a move; the card shows in its new place at once and goes back if it is refused.
/// `(position, before)`: where the board shows it meanwhile, and the card it was dropped on
/// (the server places it from that). `note`: what to say once it is made.
fn send_move(
    ctx: BoardContext,
    issue: Card,
    to: Status,
    (position, before): (Option<f64>, Option<i64>),
    note: Option<String>,
) {
    ctx.pending.set(Some((issue.id, to, position)));
    ctx.notice.set(None);
    leptos::task::spawn_local(async move {
        let result = crate::api::move_issue(issue.id, to, issue.version, before).await;
        match result {
            Err(err) => ctx
                .notice
                .set(Some(format!("#{} was not moved: {err}", issue.id))),
            Ok(_) => ctx.notice.set(note),
        }
        ctx.pending.set(None);
        ctx.refresh.update(|n| *n += 1);
    });
}

#[component]
fn IssueCard(issue: Card, ctx: BoardContext) -> impl IntoView {
    let dragged = issue.clone();
    let id = issue.id;
    let targets = move || legal_targets(ctx.role.get(), issue.human_only, issue.status);
    let version = issue.version;
    view! {
        <li
            class="card"
            data-id=issue.id
            data-kind=issue.kind.as_str()
            draggable="true"
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &id.to_string());
                    dt.set_effect_allowed("move");
                }
                fade(&ev, true);
                ctx.dragging.set(Some(dragged.clone()));
            }
            on:dragend=move |ev: leptos::ev::DragEvent| {
                fade(&ev, false);
                ctx.dragging.set(None);
            }
        >
            <div class="card-meta">
                <span class="number">"#"{issue.id}</span>
                <span class=format!("kind kind-{}", issue.kind.as_str())>{issue.kind.as_str()}</span>
                <span class=format!(
                    "priority priority-{}",
                    issue.priority.as_str(),
                )>{issue.priority.as_str()}</span>
                {issue.human_only.then(|| view! { <span class="human-only">"human only"</span> })}
                {issue
                    .agent
                    .clone()
                    .map(|a| view! { <span class="agent" title="The agent it asks for">{a}</span> })}
                {issue
                    .model
                    .clone()
                    .map(|m| view! { <span class="model" title="The model it asks the agent to use">{m}</span> })}
                {issue
                    .pr_checks
                    .clone()
                    .map(|checks| {
                        view! {
                            <span class=format!("checks checks-{checks}") title="The pull request's checks">
                                {format!("checks {checks}")}
                            </span>
                        }
                    })}
                {issue
                    .claimed_by
                    .clone()
                    .map(|runner| {
                        view! {
                            <span class="claimed" title=format!("held by {runner}")>
                                "agent working"
                            </span>
                        }
                    })}
            </div>
            <a class="title" href=format!("/?issue={}", issue.id)>
                {issue.title.clone()}
            </a>
            {issue
                .loop_mark()
                .map(|(kind, text)| {
                    view! { <p class=format!("loop-mark loop-{kind}")>{text}</p> }
                })}
            {issue.assignee.clone().map(|a| view! { <p class="assignee">{a}</p> })}
            {issue
                .waiting_label()
                .map(|waiting| {
                    view! {
                        <p class="waiting" title="The agent takes it once these issues are done">
                            {waiting}
                        </p>
                    }
                })}
            {(issue.runs > 0)
                .then(|| {
                    view! {
                        <p class="effort" title="The agent's runs on it and what they cost">
                            {format!("{} · {}", runs_label(issue.runs), dollars(issue.spent_usd))}
                        </p>
                    }
                })}
            <details class="move-menu">
                <summary>"Move to…"</summary>
                <div class="move-targets">
                    {move || {
                        let targets = targets();
                        if targets.is_empty() {
                            view! { <p class="hint">"No move is open to you here."</p> }.into_any()
                        } else {
                            // One form and one handler; the button pressed says where to (a
                            // big board carries this for every card). Without JavaScript the
                            // form posts to the server function.
                            view! {
                                <form
                                    method="post"
                                    action=MoveIssue::url()
                                    on:submit=move |ev: leptos::ev::SubmitEvent| {
                                        ev.prevent_default();
                                        let to = ev
                                            .submitter()
                                            .and_then(|button| button.get_attribute("value"))
                                            .and_then(|to| to.parse().ok());
                                        if let Some(to) = to {
                                            ctx.move_action.dispatch(MoveIssue {
                                                id,
                                                to,
                                                version,
                                                before: None,
                                            });
                                        }
                                    }
                                >
                                    <input type="hidden" name="id" value=id />
                                    <input type="hidden" name="version" value=version />
                                    {targets
                                        .into_iter()
                                        .map(|to| {
                                            view! {
                                                <button
                                                    type="submit"
                                                    class="secondary"
                                                    name="to"
                                                    value=to.as_str()
                                                >
                                                    {to.label()}
                                                </button>
                                            }
                                        })
                                        .collect_view()}
                                </form>
                            }
                                .into_any()
                        }
                    }}
                </div>
            </details>
        </li>
    }
}

/// Fades the card being dragged (`.dragging`), or brings it back. Set on the card itself: a
/// reactive class on every card would re-run on each card of a big board at every drag.
fn fade(ev: &leptos::ev::DragEvent, on: bool) {
    use leptos::wasm_bindgen::JsCast;
    let card = ev
        .current_target()
        .and_then(|card| card.dyn_into::<leptos::web_sys::Element>().ok());
    if let Some(card) = card {
        let classes = card.class_list();
        let _ = if on {
            classes.add_1("dragging")
        } else {
            classes.remove_1("dragging")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: i64, position: f64) -> Card {
        Card {
            id,
            position,
            version: 1,
            ..Card::default()
        }
    }

    #[test]
    fn show_more_and_close_keep_the_rest_of_the_address() {
        let mut query = leptos_router::params::ParamsMap::new();
        query.insert("q", "a b".into());
        query.insert("issue", "3".into());
        query.insert("ready", "100".into());
        assert_eq!(more_href(&query, Status::Ready, 150), "/?q=a%20b&ready=150");
        assert_eq!(close_href(&query), "/?q=a%20b&ready=100");
        let mut only_issue = leptos_router::params::ParamsMap::new();
        only_issue.insert("issue", "3".into());
        assert_eq!(close_href(&only_issue), "/");
        assert_eq!(more_href(&only_issue, Status::Done, 100), "/?done=100");
    }

    #[test]
    fn the_filter_form_keeps_only_filled_fields_escaped() {
        let fields = |name: &str| match name {
            "q" => Some("fix & ship".to_string()),
            "kind" => Some(String::new()),
            "assignee" => Some("  ".to_string()),
            "mine" => Some("1".to_string()),
            _ => None,
        };
        assert_eq!(filtered_href(fields), "/?q=fix%20%26%20ship&mine=1");
        assert_eq!(filtered_href(|_| None), "/");
    }

    #[test]
    fn dropping_on_a_card_lands_between_it_and_the_one_above() {
        let cards = [card(1, 1.0), card(2, 2.0), card(3, 3.0)];
        assert_eq!(position_before(&cards, Some(2), 9), Some(1.5));
        assert_eq!(position_before(&cards, Some(1), 9), Some(0.5));
        // Moving card 1 down onto card 3: ignore card 1's own slot.
        assert_eq!(position_before(&cards, Some(3), 2), Some(2.0));
        assert_eq!(position_before(&cards, None, 9), None);
        assert_eq!(
            position_before(&cards, Some(2), 2),
            None,
            "dropped on itself"
        );
    }
}
