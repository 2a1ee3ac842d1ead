//! Find anything: the command palette and the search page.

use crate::error::ApiResult;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::signed_in;

/// What matches `q` among what the member may see (an empty `q`: their
/// recent tenants). Bounded: `q` is cut to 100 characters, 6 words.
#[server(prefix = "/api", endpoint = "search")]
pub async fn search(q: String) -> ApiResult<domain::search::SearchResults> {
    let (svc, actor) = signed_in()?;
    Ok(domain::search::search(&svc, &actor, &q).await?)
}
