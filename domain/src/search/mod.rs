//! Find anything: the command palette's and the search page's answers —
//! tenants (by name or Microsoft tenant id), runs (by number), policies and
//! groups (by name, from the latest published sync), baselines, schedules,
//! pages and "start … on …" actions — only what the member may see.
//!
//! Matching (`Terms`): every word of the query must be found in the thing's
//! name, as a prefix of the name, a prefix of one of its words, anywhere in
//! it, or — for a word of three letters or more — as a near miss by trigram
//! similarity (as PostgreSQL's `pg_trgm` measures it), so "contsoo" still
//! finds Contoso. Small sets (tenants, baselines, schedules, pages) are
//! ranked in full here; the large ones (policies, groups) are narrowed in
//! SQL by the longest word (`LIKE '%word%'`, a `pg_trgm` index on PostgreSQL
//! where the extension is present) and ranked here.

use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

/// The longest query read, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 100;
/// The most words of a query that count.
pub const MAX_WORDS: usize = 6;
/// Hits shown per kind.
pub const PER_KIND: usize = 5;

/// What a hit is; the palette groups hits under these headings, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HitKind {
    Action,
    Tenant,
    Run,
    Policy,
    Group,
    Baseline,
    Schedule,
    Page,
}

impl HitKind {
    pub fn heading(self) -> &'static str {
        match self {
            HitKind::Action => "Actions",
            HitKind::Tenant => "Tenants",
            HitKind::Run => "Runs",
            HitKind::Policy => "Policies",
            HitKind::Group => "Groups",
            HitKind::Baseline => "Baselines",
            HitKind::Schedule => "Schedules",
            HitKind::Page => "Pages",
        }
    }
}

/// One thing found: its words and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub kind: HitKind,
    pub title: String,
    /// A second line: the tenant, the run's state, the Microsoft tenant id.
    pub detail: String,
    pub href: String,
}

/// The answer to one query: hits by kind (in `HitKind` order, best first),
/// or, for an empty query, the member's recent tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SearchResults {
    pub query: String,
    pub hits: Vec<SearchHit>,
    /// Whether any kind had more than `PER_KIND` matches (the page says so).
    pub more: bool,
}

/// A query, folded: lower case, at most `MAX_QUERY_CHARS` characters and
/// `MAX_WORDS` words (each word's trigrams worked out once, not per name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub text: String,
    pub words: Vec<String>,
    grams: Vec<Vec<[char; 3]>>,
}

impl Terms {
    pub fn parse(raw: &str) -> Terms {
        let text: String = raw
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY_CHARS)
            .collect::<String>()
            .trim()
            .to_lowercase();
        let words = text
            .split_whitespace()
            .take(MAX_WORDS)
            .map(str::to_string)
            .collect();
        Terms::from_words(words)
    }

    /// Terms of already folded words (e.g. what is left after "start").
    pub fn from_words(words: Vec<String>) -> Terms {
        let grams = words.iter().map(|w| trigrams(w)).collect();
        Terms {
            text: words.join(" "),
            words,
            grams,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word that narrows a large set best: the longest.
    pub fn longest(&self) -> Option<&str> {
        self.words
            .iter()
            .max_by_key(|w| w.len())
            .map(String::as_str)
    }

    /// A run number: "4812" or "#4812".
    pub fn run_number(&self) -> Option<i64> {
        match self.words.as_slice() {
            [one] => one
                .strip_prefix('#')
                .unwrap_or(one)
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0),
            _ => None,
        }
    }

    /// How well `name` matches (higher is better), or `None` when a word is
    /// missing from it.
    pub fn score(&self, name: &str) -> Option<u32> {
        let per_word = self.word_scores(name);
        if per_word.is_empty() || per_word.iter().any(Option::is_none) {
            return None;
        }
        let mut total: u32 = per_word.into_iter().flatten().sum();
        let folded = name.to_lowercase();
        // The whole query as typed, in order, beats the same words apart; a
        // shorter name beats a longer one with the same matches.
        if folded.contains(self.text.as_str()) {
            total += 100;
        }
        Some(total * 16 + 15u32.saturating_sub((folded.len() / 8) as u32))
    }

    /// Each word's match in `name`: 400 the name's start, 300 a word's start,
    /// 200 anywhere, up to 150 a near miss (3+ letters), `None` not there.
    pub fn word_scores(&self, name: &str) -> Vec<Option<u32>> {
        let folded = name.to_lowercase();
        let name_words: Vec<&str> = folded
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        // A name word's trigrams, worked out when a near miss is first tried.
        let mut name_grams: Vec<Option<Vec<[char; 3]>>> = vec![None; name_words.len()];
        self.words
            .iter()
            .zip(&self.grams)
            .map(|(word, grams)| {
                if folded.starts_with(word.as_str()) {
                    Some(400)
                } else if name_words.iter().any(|w| w.starts_with(word.as_str())) {
                    Some(300)
                } else if folded.contains(word.as_str()) {
                    Some(200)
                } else if word.chars().count() >= 3 {
                    let mut best = 0.0_f32;
                    for (i, w) in name_words.iter().enumerate() {
                        // Similarity is at most the smaller set over the larger; a
                        // word of n letters has at most n + 1 trigrams: a name word
                        // far shorter than the query's is never near.
                        let theirs = w.chars().count() + 1;
                        if (theirs as f32) < NEAR_MISS * grams.len() as f32 {
                            continue;
                        }
                        let g = name_grams[i].get_or_insert_with(|| trigrams(w));
                        best = best.max(shared_over_all(grams, g));
                    }
                    (best >= NEAR_MISS).then_some((best * 150.0) as u32)
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Trigram similarity at or above this is a near miss worth showing (pg_trgm's
/// default threshold): "contsoo" is 0.33 from "contoso".
pub const NEAR_MISS: f32 = 0.3;

/// pg_trgm's measure: the word padded with two spaces before and one after,
/// its three-letter slices as a set; shared slices over all slices.
pub fn similarity(a: &str, b: &str) -> f32 {
    shared_over_all(&trigrams(a), &trigrams(b))
}

/// Shared over all of two sorted, deduplicated trigram sets.
fn shared_over_all(a: &[[char; 3]], b: &[[char; 3]]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f32 / (a.len() + b.len() - shared) as f32
}

fn trigrams(word: &str) -> Vec<[char; 3]> {
    let padded: Vec<char> = "  "
        .chars()
        .chain(word.chars().flat_map(char::to_lowercase))
        .chain(" ".chars())
        .collect();
    let mut out: Vec<[char; 3]> = padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The pages the palette finds by name: (words, address, who sees it).
pub const PAGES: &[(&str, &str, PageAudience)] = &[
    ("Overview", "/admin", PageAudience::Member),
    ("Tenants", "/admin/tenants", PageAudience::Member),
    ("Fleet", "/admin/fleet", PageAudience::Member),
    ("Baselines", "/admin/baselines", PageAudience::Member),
    (
        "Onboarding",
        "/admin/onboarding",
        PageAudience::TenantManagers,
    ),
    ("Operations", "/admin/operations", PageAudience::Member),
    ("Alerts", "/admin/alerts", PageAudience::Member),
    ("Alert rules", "/admin/alerts/rules", PageAudience::Member),
    ("Schedules", "/admin/schedules", PageAudience::Member),
    ("Members", "/admin/members", PageAudience::Member),
    ("Audit log", "/admin/audit", PageAudience::Member),
    (
        "Notifications",
        "/admin/notifications",
        PageAudience::Anyone,
    ),
    ("Your account", "/admin/account", PageAudience::Anyone),
    (
        "Two-step sign-in",
        "/admin/account/two-step",
        PageAudience::Anyone,
    ),
    (
        "New workspace",
        "/admin/workspaces/new",
        PageAudience::WorkspaceCreators,
    ),
    ("System plane", "/system", PageAudience::PlatformOperators),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAudience {
    /// Signed in, with or without a workspace.
    Anyone,
    /// A member of the current workspace.
    Member,
    /// Members who may add tenants.
    TenantManagers,
    WorkspaceCreators,
    PlatformOperators,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_folded_and_bounded() {
        let t = Terms::parse("  Contoso   LTD\u{7} ");
        assert_eq!(t.words, vec!["contoso", "ltd"]);
        let long = Terms::parse(&"a ".repeat(500));
        assert!(long.text.chars().count() <= MAX_QUERY_CHARS);
        assert_eq!(long.words.len(), MAX_WORDS);
        assert!(Terms::parse("   ").is_empty());
        assert_eq!(Terms::parse("#4812").run_number(), Some(4812));
        assert_eq!(Terms::parse("4812").run_number(), Some(4812));
        assert_eq!(Terms::parse("#0").run_number(), None);
        assert_eq!(Terms::parse("run 4812").run_number(), None);
        assert_eq!(Terms::parse("99999999999999999999999").run_number(), None);
    }

    #[test]
    fn prefixes_beat_words_beat_substrings_beat_near_misses() {
        let t = Terms::parse("con");
        let prefix = t.score("Contoso").unwrap_or(0);
        let word = t.score("Big Contoso").unwrap_or(0);
        let inside = t.score("Falcon Air").unwrap_or(0);
        assert!(
            prefix > word && word > inside && inside > 0,
            "{prefix} {word} {inside}"
        );
        assert_eq!(t.score("Fabrikam"), None);
        // Every word must be there.
        assert!(Terms::parse("contoso ltd").score("Contoso Ltd").is_some());
        assert_eq!(Terms::parse("contoso gmbh").score("Contoso Ltd"), None);
        // A typo of three letters or more is a near miss, ranked below a real match.
        let typo = Terms::parse("contsoo").score("Contoso");
        assert!(typo.is_some_and(|s| s < inside), "{typo:?}");
        assert_eq!(Terms::parse("xq").score("Contoso"), None);
        // The shorter name wins a tie.
        assert!(t.score("Contoso").unwrap_or(0) > t.score("Contoso Pharmaceuticals").unwrap_or(0));
    }

    #[test]
    fn similarity_is_pg_trgm_s() {
        // "  w", " wo", "wor", "ord" shared; "rd ", "rds", "ds " not: 4 of 7.
        let s = similarity("word", "words");
        assert!((s - 4.0 / 7.0).abs() < 1e-6, "{s}");
        assert!((similarity("abc", "abc") - 1.0).abs() < 1e-6);
        assert_eq!(similarity("", "abc"), 0.0);
    }
}
