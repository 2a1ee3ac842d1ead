//! Baselines, stored and read, one room per verb: capture and versions,
//! assignments, accepted deviations, the alignment matrix, *bring in line*,
//! and starting compares. The compare itself is `super::handler`; what
//! follows a bring in line is `super::aligning`.

mod assignments;
mod bring_in_line;
mod common;
mod compares;
mod deviations;
mod matrix;
mod versions;

pub use assignments::{assign, unassign};
pub use bring_in_line::{align, align_preview, desired_items};
pub(crate) use common::{assigned, items_of, latest_policies};
pub(crate) use compares::alignment_by_tenant;
pub use compares::{after_run, compare_due, compare_now};
pub use deviations::{accept, revoke};
pub use matrix::{list, list_for_current, page, tenant_alignment};
pub use versions::{capture, delete, drop_item, edit_page, set_rules};
