use wasm_bindgen::prelude::wasm_bindgen;

/// The browser entry point: hydrate the islands, nothing else.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Islands' props name operation types by key.
    app::register_operations();
    leptos::mount::hydrate_islands();
}
#[allow(unused_imports)]
use app as _;
