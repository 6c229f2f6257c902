//! Live updates: the browser listens to `/api/autopilot/stream` (Server-Sent Events) and
//! reloads what it shows when anything changes. `EventSource` reconnects by itself and sends
//! `Last-Event-ID`, so the server resumes where the stream broke and nothing is missed.

use leptos::prelude::*;

/// Bumps `refresh` whenever the server reports a change. Does nothing on the server.
pub fn use_live_refresh(refresh: RwSignal<u64>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::listen(refresh));
    #[cfg(not(feature = "hydrate"))]
    let _ = refresh;
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    use std::cell::RefCell;

    thread_local! {
        /// One stream per page, shared by every listener.
        static SOURCE: RefCell<Option<web_sys::EventSource>> = const { RefCell::new(None) };
    }

    pub fn listen(refresh: RwSignal<u64>) {
        SOURCE.with(|source| {
            let mut source = source.borrow_mut();
            if source.is_none() {
                *source = web_sys::EventSource::new("/api/autopilot/stream").ok();
            }
            let Some(source) = source.as_ref() else {
                return;
            };
            // A disposed signal (the page was left) ignores the update.
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
                refresh.try_update(|n| *n += 1);
            });
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
