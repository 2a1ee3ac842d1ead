//! One poll per page: islands of one page share what they learn about runs
//! (wasm is single-threaded: a thread-local is the page's shared state).
//! While the run page polls its run, it also fetches the overlay's list
//! every 10 s and hands it over, so the overlay does not poll on its own;
//! and the moment the run page sees its run end, the overlay drops it.

use domain::ids::RunId;
use domain::runs::views::ActiveRuns;
use std::cell::{Cell, RefCell};

/// What the page's feeding island tells the overlay.
pub enum News {
    /// A fresh overlay list (fetched with the run page's poll).
    Runs(ActiveRuns),
    /// This run ended: drop it now.
    Ended(RunId),
}

type Listener = Box<dyn Fn(News)>;

thread_local! {
    static FEEDING: Cell<bool> = const { Cell::new(false) };
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
}

/// A page island polls for the overlay (`true`) or stopped (`false`).
pub fn set_feeding(on: bool) {
    FEEDING.with(|f| f.set(on));
}

/// Whether the overlay should leave polling to the page.
pub fn feeding() -> bool {
    FEEDING.with(Cell::get)
}

/// The overlay listens (one listener per page).
pub fn listen(f: impl Fn(News) + 'static) {
    LISTENER.with(|l| *l.borrow_mut() = Some(Box::new(f)));
}

/// Hands news to the overlay, if there is one.
pub fn tell(news: News) {
    LISTENER.with(|l| {
        if let Some(f) = l.borrow().as_ref() {
            f(news);
        }
    });
}
