#![recursion_limit = "256"]
//! The browser half: hydrates the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: the parts of the page in their own wasm chunks (see app/src/pages/mod.rs) are
    // fetched before they are hydrated.
    wasm_bindgen_futures::spawn_local(async {
        app::pages::load_chunks_for_hydration().await;
        leptos::mount::hydrate_lazy(app::App);
    });
}
