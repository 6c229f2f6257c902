//! Live updates: the browser listens to `/api/autopilot/stream` (Server-Sent Events). Each
//! `change` event is one row of the audit log, naming the issue it changed, so a page can
//! fetch just that (the board fetches one card) or reload what it shows. `EventSource`
//! reconnects by itself and sends `Last-Event-ID`, so the server resumes where the stream
//! broke and nothing is missed.

use crate::domain::Event;
use leptos::prelude::*;

/// Bumps `refresh` whenever the server reports a change. Does nothing on the server.
pub fn use_live_refresh(refresh: RwSignal<u64>) {
    use_live_events(move |_| {
        refresh.try_update(|n| *n += 1);
    });
}

/// Calls `on_event` with every change the server reports. Does nothing on the server.
pub fn use_live_events(on_event: impl Fn(Event) + Clone + 'static) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::listen(on_event.clone()));
    #[cfg(not(feature = "hydrate"))]
    let _ = on_event;
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::domain::Event;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    use std::cell::RefCell;

    thread_local! {
        /// One stream per page, shared by every listener.
        static SOURCE: RefCell<Option<web_sys::EventSource>> = const { RefCell::new(None) };
    }

    pub fn listen(on_event: impl Fn(Event) + 'static) {
        SOURCE.with(|source| {
            let mut source = source.borrow_mut();
            if source.is_none() {
                *source = web_sys::EventSource::new("/api/autopilot/stream").ok();
            }
            let Some(source) = source.as_ref() else {
                return;
            };
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |m: web_sys::MessageEvent| {
                    let data = m.data().as_string().unwrap_or_default();
                    // An event this page cannot read still says that something changed.
                    let event = serde_json::from_str::<Event>(&data).unwrap_or(Event {
                        id: 0,
                        issue_id: None,
                        actor: String::new(),
                        kind: String::new(),
                        from_status: None,
                        to_status: None,
                        data: String::new(),
                        created_at: 0,
                    });
                    on_event(event);
                },
            );
            let _ = source
                .add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
            on_change.forget();
            mark_live();
        });
    }

    /// Tells tests (and CSS) that the page is listening.
    fn mark_live() {
        let body = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body());
        if let Some(body) = body {
            let _ = body.set_attribute("data-live", "true");
        }
    }
}
