//! The board: six columns with drag and drop, a "Move to…" link on every card (a menu with
//! JavaScript, the drawer's move form without), filters, and the issue drawer (`/?issue=ID`).

use super::card::cards_html;
use super::issue::LazyIssuePanel;
use super::live::use_live_events;
use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{get_card, list_board, whoami, CreateIssue, MoveIssue};
use crate::domain::{
    count_label, legal_targets, position_between, BoardIssues, BoardQuery, Card, CardUpdate, Kind,
    Priority, Role, Status, COLUMN_SHOWN,
};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

/// What every part of the board shares.
#[derive(Clone, Copy)]
struct BoardContext {
    /// Bumped to reload the board (live events, finished moves).
    refresh: RwSignal<u64>,
    /// A short message about the last refused move.
    notice: RwSignal<Option<String>>,
    /// The card being dragged.
    dragging: RwSignal<Option<Card>>,
    /// The board as shown: the cards are plain markup, so the board's handlers look a card
    /// up here by the `data-id` of the element an event came from.
    shown: StoredValue<BoardIssues>,
    /// Issues per column, as live changes leave them.
    counts: RwSignal<Vec<(Status, i64)>>,
    /// The card whose "Move to…" menu is open, and where to draw the menu.
    menu: RwSignal<Option<MoveMenu>>,
    role: Signal<Role>,
    move_action: ServerAction<MoveIssue>,
}

/// An open "Move to…" menu: the card's id, and the page coordinates below its link.
#[derive(Clone, Copy, Debug, PartialEq)]
struct MoveMenu {
    id: i64,
    top: f64,
    left: f64,
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
    let shown = StoredValue::new(BoardIssues::default());
    let counts = RwSignal::new(Vec::new());
    // Cards changed since the board was loaded, fetched one at a time as live events name
    // them: a change costs each open board one card, not a whole board. Each is put into
    // the page as it comes (`show_patch`), and kept here for a board being loaded meanwhile.
    let patches = StoredValue::new(Vec::<(i64, CardUpdate)>::new());
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
                        patches.update_value(|p| p.push((id, update.clone())));
                        show_patch(shown, counts, id, update);
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
        shown,
        counts,
        menu: RwSignal::new(None),
        role,
        move_action,
    };
    // A refused move from the menu shows its reason like a refused drop.
    Effect::new(move |_| {
        if let Some(Err(err)) = move_action.value().get() {
            ctx.notice.set(Some(err.to_string()));
        }
    });

    // The page carries only the cards' places for this (`CardPlaces`); answers to later
    // loads carry whole cards.
    let board = Resource::<_, CardPlaces>::new_with_options(
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
            patches.set_value(Vec::new());
            list_board(f.q, f.kind, f.assignee, f.mine, f.shown)
        },
        false,
    );

    let marker = hydration_marker();
    // The drawer's code, fetched and compiled as soon as the board is usable (effects run
    // after hydrating), while the person looks at it: opening a card then waits for the
    // issue only, not for its code.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| leptos::task::spawn_local(super::issue::preload_issue_panel()));
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
                                for (id, update) in patches.get_value() {
                                    board.patch(id, update);
                                }
                                ctx.counts.update_untracked(|c| *c = board.counts.clone());
                                ctx.shown.set_value(board.clone());
                                view! { <Board board ctx query /> }.into_any()
                            }
                            Err(err) => error_note(&err),
                        })
                }}
            </Transition>
            {move || ctx.menu.get().map(|menu| view! { <MovePopover menu ctx /> })}
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
                                <MoveSection id refresh=drawer_refresh role />
                            </aside>
                        }
                    })
            }}
        </div>
    }
}

/// How a board page carries its board for hydrating: each card's place only (id, column,
/// version, human only, position, finished at), and the counts. The cards' text is in the
/// page's markup already, and Leptos leaves a column's markup alone when it hydrates.
struct CardPlaces;

type Places = (Vec<(i64, Status, i64, bool, f64, i64)>, Vec<(Status, i64)>);

impl leptos::server::codee::Encoder<Result<BoardIssues, AppError>> for CardPlaces {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(board: &Result<BoardIssues, AppError>) -> Result<String, Self::Error> {
        let places = board.as_ref().map(|board| {
            let cards = board.issues.iter();
            let places = cards.map(|c| {
                (
                    c.id,
                    c.status,
                    c.version,
                    c.human_only,
                    c.position,
                    c.updated_at,
                )
            });
            (places.collect::<Vec<_>>(), board.counts.clone())
        });
        serde_json::to_string(&places)
    }
}

impl leptos::server::codee::Decoder<Result<BoardIssues, AppError>> for CardPlaces {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<Result<BoardIssues, AppError>, Self::Error> {
        let places: Result<Places, AppError> = serde_json::from_str(text)?;
        Ok(places.map(|(cards, counts)| BoardIssues {
            issues: cards
                .into_iter()
                .map(
                    |(id, status, version, human_only, position, updated_at)| Card {
                        id,
                        status,
                        version,
                        human_only,
                        position,
                        updated_at,
                        ..Card::default()
                    },
                )
                .collect(),
            counts,
            only_places: true,
        }))
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
    // Follows the address, as the board navigates in place.
    let titles_only = move || {
        filters.with(|f| {
            f.q.as_deref()
                .is_some_and(crate::domain::search_reads_titles_only)
        })
    };
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
            {move || {
                titles_only()
                    .then(|| {
                        view! {
                            <span class="hint" role="status">
                                "1 or 2 characters search titles only: type 3 or more to search descriptions too."
                            </span>
                        }
                    })
            }}
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

#[component]
fn Board(board: BoardIssues, ctx: BoardContext, query: Memo<ParamsMap>) -> impl IntoView {
    let columns = Status::ALL
        .into_iter()
        .map(|status| {
            // Read back from the page, the cards hold only their places: their markup is
            // in the page, and hydrating leaves it as it is.
            let cards_html = if board.only_places {
                String::new()
            } else {
                cards_html(board.issues.iter().filter(|i| i.status == status))
            };
            view! { <Column status cards_html ctx query /> }.into_any()
        })
        .collect_view();
    // One handler of each kind for the whole board, not three per card: the cards are plain
    // markup, and these find the card an event came from.
    view! {
        <main
            class="board"
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                let Some((element, card)) = card_of(&ev, ctx) else {
                    return;
                };
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &card.id.to_string());
                    dt.set_effect_allowed("move");
                }
                let _ = element.class_list().add_1("dragging");
                ctx.dragging.set(Some(card));
            }
            on:dragend=move |ev: leptos::ev::DragEvent| {
                if let Some((element, _)) = card_of(&ev, ctx) {
                    let _ = element.class_list().remove_1("dragging");
                }
                ctx.dragging.set(None);
            }
            on:click=move |ev: leptos::ev::MouseEvent| open_move_menu(&ev, ctx)
        >
            {columns}
        </main>
    }
}

/// The card element an event came from, and the card it shows.
fn card_of(ev: &leptos::ev::Event, ctx: BoardContext) -> Option<(leptos::web_sys::Element, Card)> {
    use leptos::wasm_bindgen::JsCast;
    let target = ev.target()?.dyn_into::<leptos::web_sys::Element>().ok()?;
    let element = target.closest(".card").ok()??;
    let id: i64 = element.get_attribute("data-id")?.parse().ok()?;
    let card = ctx
        .shown
        .try_with_value(|b| b.issues.iter().find(|c| c.id == id).cloned())??;
    Some((element, card))
}

/// A click on a card's "Move to…" link opens the board's move menu below it (the link itself
/// leads to the drawer's move form, for browsers without JavaScript).
fn open_move_menu(ev: &leptos::ev::MouseEvent, ctx: BoardContext) {
    use leptos::wasm_bindgen::JsCast;
    let link = ev
        .target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        .and_then(|t| t.closest("a.move").ok().flatten());
    let (Some(link), Some((_, card))) = (link, card_of(ev, ctx)) else {
        return;
    };
    ev.prevent_default();
    let rect = link.get_bounding_client_rect();
    ctx.menu.set(Some(MoveMenu {
        id: card.id,
        top: rect.bottom(),
        left: rect.left(),
    }));
}

/// The move menu: a button for each column the card may go to. Opens with the first one
/// focused; Escape or "Cancel" closes it and gives the focus back to the card's link.
#[component]
fn MovePopover(menu: MoveMenu, ctx: BoardContext) -> impl IntoView {
    let card = ctx
        .shown
        .try_with_value(|b| b.issues.iter().find(|c| c.id == menu.id).cloned())
        .flatten();
    let targets = card
        .as_ref()
        .map(|c| legal_targets(ctx.role.get_untracked(), c.human_only, c.status))
        .unwrap_or_default();
    let close = move || {
        ctx.menu.set(None);
        focus(&format!(r#".card[data-id="{}"] a.move"#, menu.id));
    };
    let popover = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(popover) = popover.get() {
            if let Ok(Some(first)) = popover.query_selector("button") {
                use leptos::wasm_bindgen::JsCast;
                if let Ok(first) = first.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = first.focus();
                }
            }
        }
    });
    let buttons = card.map(|card| {
        if targets.is_empty() {
            return view! { <p class="hint">"No move is open to you here."</p> }.into_any();
        }
        targets
            .into_iter()
            .map(|to| {
                let card = card.clone();
                view! {
                    <button
                        type="button"
                        class="secondary"
                        on:click=move |_| {
                            ctx.menu.set(None);
                            ctx.move_action.dispatch(MoveIssue {
                                id: card.id,
                                to,
                                version: card.version,
                                before: None,
                            });
                        }
                    >
                        {to.label()}
                    </button>
                }
            })
            .collect_view()
            .into_any()
    });
    view! {
        <div
            class="move-popover"
            role="dialog"
            aria-label=format!("Move #{} to", menu.id)
            node_ref=popover
            // Set through the CSSOM (`style:`), which the page's policy allows; a `style`
            // attribute it refuses.
            style:top=format!("{}px", menu.top)
            style:left=format!("{}px", menu.left)
            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Escape" {
                    close();
                }
            }
        >
            <p class="move-popover-title">{format!("Move #{} to", menu.id)}</p>
            <div class="move-targets">
                {buttons}
                <button type="button" class="link" on:click=move |_| close()>
                    "Cancel"
                </button>
            </div>
        </div>
    }
}

/// The first element of the page matching `selector`, if any.
fn find(selector: &str) -> Option<leptos::web_sys::Element> {
    document().query_selector(selector).ok().flatten()
}

/// Card `id`'s element, when the board shows it.
fn card_element(id: i64) -> Option<leptos::web_sys::Element> {
    find(&format!(r#".card[data-id="{id}"]"#))
}

/// The list of column `status`'s cards.
fn column_list(status: Status) -> Option<leptos::web_sys::Element> {
    find(&format!(
        r#".column[data-status="{}"] ol.cards"#,
        status.as_str()
    ))
}

/// Focuses the first element matching `selector`, if any.
fn focus(selector: &str) {
    use leptos::wasm_bindgen::JsCast;
    let element = find(selector).and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}

/// The drawer's "Move to" form: the columns the issue may go to, as buttons of a plain form
/// (it posts to the server function without JavaScript; a card's "Move to…" link leads here).
#[component]
fn MoveSection(id: i64, refresh: RwSignal<u64>, role: Signal<Role>) -> impl IntoView {
    let card = Resource::new(move || (id, refresh.get()), |(id, _)| get_card(id));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let card = card.await.ok()?.issue?;
                let targets = legal_targets(role.get(), card.human_only, card.status);
                let buttons = if targets.is_empty() {
                    view! { <p class="hint">"No move is open to you here."</p> }.into_any()
                } else {
                    targets
                        .into_iter()
                        .map(|to| {
                            view! {
                                <button type="submit" class="secondary" name="to" value=to.as_str()>
                                    {to.label()}
                                </button>
                            }
                        })
                        .collect_view()
                        .into_any()
                };
                Some(view! {
                    <section id="move" class="move-section" aria-label="Move to">
                        <h3>"Move to"</h3>
                        <form method="post" action=MoveIssue::url() class="move-targets">
                            <input type="hidden" name="id" value=card.id />
                            <input type="hidden" name="version" value=card.version />
                            {buttons}
                        </form>
                    </section>
                })
            })}
        </Suspense>
    }
}

/// How many cards column `status` shows, and how many it holds.
fn shown_of(ctx: BoardContext, status: Status) -> (i64, i64) {
    let shown = ctx
        .shown
        .try_with_value(|b| b.issues.iter().filter(|c| c.status == status).count())
        .unwrap_or(0) as i64;
    let count = ctx.counts.with(|counts| {
        counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    });
    (shown, count)
}

#[component]
fn Column(
    status: Status,
    cards_html: String,
    ctx: BoardContext,
    query: Memo<ParamsMap>,
) -> impl IntoView {
    // In the browser the cards are written here rather than by `inner_html`, which writes
    // only when its value changes: live changes and drops move cards in the page itself, so
    // the same markup may have to be written again.
    let list = NodeRef::<leptos::html::Ol>::new();
    #[cfg(feature = "hydrate")]
    {
        let cards_html = cards_html.clone();
        Effect::new(move |_| {
            if let (Some(list), false) = (list.get(), cards_html.is_empty()) {
                list.set_inner_html(&cards_html);
            }
        });
    }
    let server_html = if cfg!(feature = "ssr") {
        cards_html
    } else {
        String::new()
    };
    let searching = move || {
        query
            .read()
            .get("q")
            .is_some_and(|q| !crate::domain::one_line(&q).is_empty())
    };
    let more = move || {
        let (shown, count) = shown_of(ctx, status);
        (count > shown).then(|| {
            let count = count_label(count, searching());
            // From what is shown, not from the address: while the next cards load, the
            // address already asks for them and the board still shows the last ones.
            let next = shown + COLUMN_SHOWN;
            let link = NodeRef::<leptos::html::A>::new();
            load_more_when_reached(link);
            view! {
                <a class="show-more" href=more_href(&query.read(), status, next) node_ref=link>
                    {format!("Show {COLUMN_SHOWN} more ({shown} of {count})")}
                </a>
            }
        })
    };
    let allowed = move || {
        ctx.dragging.with(|d| {
            d.as_ref().map(|d| {
                d.status == status
                    || legal_targets(ctx.role.get(), d.human_only, d.status).contains(&status)
            })
        })
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        let Some(dragged) = ctx.dragging.get_untracked() else {
            return;
        };
        ctx.dragging.set(None);
        let before = drop_target_id(&ev);
        let column_cards: Vec<Card> = ctx
            .shown
            .try_with_value(|b| {
                let cards = b.issues.iter().filter(|c| c.status == status);
                cards.cloned().collect()
            })
            .unwrap_or_default();
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
        // Dropped below the last card shown, a card goes to the end of the column, out of
        // sight when the column shows only its first cards; say where it went.
        let (shown, count) = shown_of(ctx, status);
        let note = (count > shown && position.is_none()).then(|| {
            format!(
                "#{} is now last in {}, below the cards shown.",
                dragged.id,
                status.label()
            )
        });
        let before = before.filter(|_| position.is_some());
        send_move(ctx, dragged, status, before, note);
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
            <h2>{status.label()} <span class="count">{move || count_label(shown_of(ctx, status).1, searching())}</span></h2>
            <ol class="cards" node_ref=list inner_html=server_html></ol>
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

/// A position between the card dropped on and the one above it; `None` means the end.
fn position_before(cards: &[Card], before: Option<i64>, dragged: i64) -> Option<f64> {
    let before = before.filter(|id| *id != dragged)?;
    let index = cards.iter().position(|c| c.id == before)?;
    let above = cards[..index].iter().rev().find(|c| c.id != dragged);
    Some(position_between(
        above.map(|c| c.position),
        cards[index].position,
    ))
}

/// Sends a move; the card shows in its new place at once (moved in the page) and goes back if
/// the move is refused. `before`: the card it was dropped on (the server places it from that).
/// `note`: what to say once it is made.
fn send_move(
    ctx: BoardContext,
    issue: Card,
    to: Status,
    before: Option<i64>,
    note: Option<String>,
) {
    let undo = show_moved(issue.id, to, before);
    ctx.notice.set(None);
    leptos::task::spawn_local(async move {
        let result = crate::api::move_issue(issue.id, to, issue.version, before).await;
        match result {
            Err(err) => {
                undo();
                ctx.notice
                    .set(Some(format!("#{} was not moved: {err}", issue.id)));
            }
            Ok(_) => ctx.notice.set(note),
        }
        ctx.refresh.update(|n| *n += 1);
    });
}

/// Puts a live change into the page: the card's markup out of its old place and into its
/// new one (when its column shows it there), and the counts.
fn show_patch(
    shown: StoredValue<BoardIssues>,
    counts: RwSignal<Vec<(Status, i64)>>,
    id: i64,
    update: CardUpdate,
) {
    let card = update.issue.clone();
    let Some(Some(place)) = shown.try_update_value(|b| b.patch(id, update).then(|| b.place_of(id)))
    else {
        return;
    };
    if let Some(old) = card_element(id) {
        old.remove();
    }
    let column = place.and_then(|(status, below)| Some((column_list(status)?, below)));
    if let (Some((list, below)), Some(card)) = (column, card) {
        let html = cards_html([&card]);
        let below = below.and_then(card_element);
        let _ = match below {
            Some(below) => below.insert_adjacent_html("beforebegin", &html),
            None => list.insert_adjacent_html("beforeend", &html),
        };
    }
    if let Some(now) = shown.try_with_value(|b| b.counts.clone()) {
        counts.set(now);
    }
}

/// Moves a card's element into column `to`, above the card `before` (or last); returns what
/// puts it back where it was.
fn show_moved(id: i64, to: Status, before: Option<i64>) -> impl FnOnce() {
    let card = card_element(id);
    let was = card
        .as_ref()
        .and_then(|card| Some((card.parent_node()?, card.next_sibling())));
    let column = column_list(to);
    if let (Some(card), Some(column)) = (&card, &column) {
        let above = before.and_then(card_element);
        let above = above.filter(|a| a.parent_node().as_ref() == Some(column.as_ref()));
        let _ = column.insert_before(card, above.as_ref().map(|a| a.as_ref()));
    }
    move || {
        if let (Some(card), Some((parent, next))) = (card, was) {
            let _ = parent.insert_before(&card, next.as_ref());
        }
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
