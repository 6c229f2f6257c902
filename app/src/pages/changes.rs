//! The drawer's review: the agent's change (written on the server, see `diff_html`), a choice
//! between the whole branch and each run's own commit, and while the issue is in review,
//! "Approve" and "Request changes". A reviewer clicks line numbers to pick lines (shift-click
//! for a range); the change request quotes them. Without JavaScript the diff reads the same
//! and both buttons work; only picking lines needs a script.

use super::{action_error, hydration_marker};
use crate::api::{MoveIssue, RequestChanges};
use crate::domain::{ChangesView, Issue, Status};
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn Changes(
    changes: ChangesView,
    issue: Issue,
    request: ServerAction<RequestChanges>,
    approve: ServerAction<MoveIssue>,
) -> impl IntoView {
    let id = issue.id;
    let picked = RwSignal::new(String::new());
    let latest = changes.runs.first().map(|(run, _)| *run);
    let choices = std::iter::once((None, "Whole branch".to_string()))
        .chain(
            changes
                .runs
                .iter()
                .map(|(run, attempt)| (Some(*run), format!("Run {attempt} only"))),
        )
        .map(|(run, label)| {
            let current = match run {
                Some(run) => changes.own && changes.run_id == run,
                None => !changes.own,
            };
            let href = match run {
                Some(run) => format!("?issue={id}&changes=run-{run}#changes"),
                None => format!("?issue={id}#changes"),
            };
            view! {
                <a href=href class:current=current aria-current=current.then_some("true")>
                    {label}
                </a>
            }
        })
        .collect_view();
    let summary = format!(
        "{} {}, +{} −{}",
        changes.files,
        if changes.files == 1 { "file" } else { "files" },
        changes.additions,
        changes.deletions
    );
    let branch = issue.branch.clone().unwrap_or_default();
    let in_review = issue.status == Status::InReview;
    // Lines can be quoted only from the latest whole-branch view: what the request is about.
    let can_pick = in_review && !changes.own && Some(changes.run_id) == latest;
    let shown = lazy::Shown {
        issue: id,
        run: changes.run_id,
        own: changes.own,
    };
    view! {
        <section class="changes" id="changes" aria-labelledby="changes-title">
            <h3 id="changes-title">"Changes" <span class="hint">{summary}</span></h3>
            <nav class="changes-choice" aria-label="Which change">{choices}</nav>
            {can_pick
                .then(|| {
                    view! {
                        <p class="hint">
                            "Click a line number to pick the line; shift-click to pick a range."
                        </p>
                    }
                })}
            <div
                class="diff-view"
                class:pickable=can_pick
                inner_html=changes.html.clone()
                on:click=move |ev| {
                    if !lazy::on_click(&ev, shown) && can_pick {
                        pick::on_click(&ev, picked)
                    }
                }
            ></div>
            {(issue.pr_url.is_none() && !branch.is_empty())
                .then(|| view! { <MergeCommands branch=branch.clone() /> })}
            {in_review
                .then(|| {
                    view! {
                        <div class="review-actions">
                            <ActionForm action=approve attr:class="approve-form">
                                <input type="hidden" name="id" value=id />
                                <input type="hidden" name="version" value=issue.version />
                                <input type="hidden" name="to" value="done" />
                                <button type="submit">"Approve"</button>
                            </ActionForm>
                            {action_error(approve.value())}
                            <ActionForm action=request attr:class="request-form">
                                <input type="hidden" name="id" value=id />
                                <input type="hidden" name="version" value=issue.version />
                                <input type="hidden" name="lines" prop:value=move || picked.get() />
                                {move || {
                                    let lines = picked.get();
                                    (!lines.is_empty())
                                        .then(|| {
                                            view! {
                                                <p class="picked-lines">
                                                    "About: "
                                                    <code>{lines.replace('\n', ", ")}</code>
                                                </p>
                                            }
                                        })
                                }}
                                <label>
                                    "What should change"
                                    <textarea name="body" rows="3"></textarea>
                                </label>
                                <button type="submit" class="secondary">
                                    "Request changes"
                                </button>
                            </ActionForm>
                            {action_error(request.value())}
                        </div>
                    }
                })}
        </section>
    }
}

/// How to merge the branch by hand when the runner does not push (no pull request), with a
/// button that copies the commands (shown once the page runs its script).
#[component]
fn MergeCommands(branch: String) -> impl IntoView {
    let commands = format!("git merge --no-ff {branch}\ngit branch -d {branch}");
    let hydrated = hydration_marker();
    let copied = RwSignal::new(false);
    let text = commands.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <details class="merge-commands">
            <summary>"Merge it locally"</summary>
            <p class="hint">"On the branch it goes into, in your checkout:"</p>
            <pre><code>{commands}</code></pre>
            <button type="button" class="secondary" hidden=move || hydrated.get() != "true" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy the commands" }}
            </button>
        </details>
    }
}

/// Later files of a big change: the page carries them as stand-ins (`.diff-file.lazy`, id
/// `file-N`, see `diff_html`), and opening one, its "Show this file" link or its line in the
/// list of files fetches its HTML and puts it in place. One handler on the whole diff (clicks
/// bubble up to it), none per file. Without a script the link shows the page with that file.
mod lazy {
    /// The change the drawer shows.
    #[derive(Clone, Copy)]
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub struct Shown {
        pub issue: i64,
        pub run: i64,
        pub own: bool,
    }

    /// Whether the click was about a file to load (then picking lines ignores it).
    pub fn on_click(ev: &leptos::ev::MouseEvent, shown: Shown) -> bool {
        #[cfg(feature = "hydrate")]
        return browser::on_click(ev, shown);
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, shown);
            false
        }
    }

    #[cfg(feature = "hydrate")]
    mod browser {
        use super::Shown;
        use leptos::wasm_bindgen::JsCast;
        use leptos::web_sys::Element;

        pub fn on_click(ev: &leptos::ev::MouseEvent, shown: Shown) -> bool {
            let Some(target) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
                return false;
            };
            let stand_in = match target.closest(".diff-file.lazy") {
                Ok(Some(file)) => {
                    // Its link, or its summary line (which opens it).
                    if let Ok(Some(_)) = target.closest("a.load-file") {
                        ev.prevent_default();
                    } else if !matches!(target.closest("summary"), Ok(Some(_))) {
                        return false;
                    }
                    file
                }
                // A file's line in the list of files: it scrolls there; a stand-in loads.
                _ => {
                    let Ok(Some(link)) = target.closest("a[href^='#file-']") else {
                        return false;
                    };
                    let href = link.get_attribute("href").unwrap_or_default();
                    let Ok(Some(view)) = link.closest(".diff-view") else {
                        return false;
                    };
                    let selector = format!("{}.lazy", href);
                    match view.query_selector(&selector) {
                        Ok(Some(file)) => file,
                        _ => return false,
                    }
                }
            };
            load(stand_in, shown);
            true
        }

        /// Fetches a stand-in's file and puts it in its place.
        fn load(stand_in: Element, shown: Shown) {
            let Some(index) = stand_in
                .id()
                .strip_prefix("file-")
                .and_then(|i| i.parse::<usize>().ok())
            else {
                return;
            };
            // One fetch per file, however often it is clicked.
            if stand_in.class_list().contains("loading") {
                return;
            }
            let _ = stand_in.class_list().add_1("loading");
            leptos::task::spawn_local(async move {
                let answer =
                    crate::api::get_diff_file(shown.issue, shown.run, shown.own, index).await;
                match answer {
                    // The server's markup, escaped there like the rest of the diff.
                    Ok(html) => stand_in.set_outer_html(&html),
                    Err(err) => {
                        let _ = stand_in.class_list().remove_1("loading");
                        if let Ok(Some(p)) = stand_in.query_selector("p") {
                            let _ =
                                p.prepend_with_str_1(&format!("This file did not load ({err}). "));
                        }
                    }
                }
            });
        }
    }
}

/// Picking lines in the diff: a row's first two cells are its old and new line numbers (the
/// line a comment names is the new one, or `old N` for a removed line) and its table names
/// the file (`data-file`); picked rows get the `picked` class, and `picked` holds one
/// `file:from-to` per line.
mod pick {
    use leptos::prelude::*;

    pub fn on_click(ev: &leptos::ev::MouseEvent, picked: RwSignal<String>) {
        #[cfg(feature = "hydrate")]
        browser::on_click(ev, picked);
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, picked);
    }

    #[cfg(feature = "hydrate")]
    mod browser {
        use leptos::prelude::*;
        use leptos::wasm_bindgen::JsCast;
        use leptos::web_sys::Element;

        thread_local! {
            /// The row of the last plain click: where a shift-click range starts.
            static ANCHOR: std::cell::RefCell<Option<Element>> = const { std::cell::RefCell::new(None) };
        }

        pub fn on_click(ev: &leptos::ev::MouseEvent, picked: RwSignal<String>) {
            let Some(target) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
                return;
            };
            // The number cells (the first two) pick; the line's own text stays selectable.
            let Ok(Some(cell)) = target.closest("td:not(:last-child)") else {
                return;
            };
            let (Ok(Some(row)), Ok(Some(table))) =
                (cell.closest("tr:not(.hunk)"), cell.closest("table"))
            else {
                return;
            };
            let rows = rows_of(&table);
            let anchor = ANCHOR.with(|a| a.borrow().clone());
            let same_table = anchor
                .as_ref()
                .and_then(|a| a.closest("table").ok().flatten())
                .is_some_and(|t| t == table);
            match anchor.filter(|_| ev.shift_key() && same_table) {
                Some(anchor) => {
                    let at = |el: &Element| rows.iter().position(|r| r == el);
                    if let (Some(a), Some(b)) = (at(&anchor), at(&row)) {
                        for r in &rows[a.min(b)..=a.max(b)] {
                            let _ = r.class_list().add_1("picked");
                        }
                    }
                }
                None => {
                    let _ = row.class_list().toggle("picked");
                    ANCHOR.with(|a| *a.borrow_mut() = Some(row.clone()));
                }
            }
            if let Ok(Some(view)) = table.closest(".diff-view") {
                picked.set(describe(&view));
            }
        }

        fn rows_of(table: &Element) -> Vec<Element> {
            let Ok(list) = table.query_selector_all("tr:not(.hunk)") else {
                return Vec::new();
            };
            (0..list.length())
                .filter_map(|i| list.item(i)?.dyn_into::<Element>().ok())
                .collect()
        }

        /// The line a row names: its new number, or `old N` for a removed line.
        fn line_of(row: &Element) -> String {
            let cell = |n: &str| {
                row.query_selector(&format!("td:nth-child({n})"))
                    .ok()
                    .flatten()
                    .and_then(|c| c.text_content())
                    .unwrap_or_default()
            };
            match cell("2") {
                new if !new.is_empty() => new,
                _ => format!("old {}", cell("1")),
            }
        }

        /// Every picked row, as `file:from-to` ranges of consecutive lines.
        fn describe(view: &Element) -> String {
            let Ok(tables) = view.query_selector_all("table[data-file]") else {
                return String::new();
            };
            let mut out = Vec::new();
            for i in 0..tables.length() {
                let Some(table) = tables.item(i).and_then(|t| t.dyn_into::<Element>().ok()) else {
                    continue;
                };
                let file = table.get_attribute("data-file").unwrap_or_default();
                let ats: Vec<String> = rows_of(&table)
                    .into_iter()
                    .filter(|r| r.class_list().contains("picked"))
                    .map(|r| line_of(&r))
                    .collect();
                for range in crate::domain::line_ranges(&ats) {
                    out.push(format!("{file}:{range}"));
                }
            }
            out.join("\n")
        }
    }
}
