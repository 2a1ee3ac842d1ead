//! What provider operations store (`stored`) and how pages read it back
//! (`reads`).

mod reads;
mod stored;

pub use reads::*;
pub use stored::*;
