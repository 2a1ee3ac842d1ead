//! Review packs (PRODUCT.md §8): a tenant's report generated as an operation
//! run — a self-contained HTML file and a ZIP of the data as JSON and CSV —
//! kept under the data directory until it expires. The view types are
//! wasm-safe (the dashboard card polls with them); generation, storage and
//! download need the `server` feature.

use crate::ids::{ReviewPackId, RunId, TenantId};
use crate::runs::presenter::Toast;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The catalogue entry: tenant-scoped (not provider-protected), reads only
/// what Tenantry stored, started from the review pack card.
pub const SPEC: crate::runs::model::OperationSpec = crate::runs::model::OperationSpec {
    key: "review_pack_generate",
    label: "Review pack",
    scope: crate::runs::model::ScopeKind::Tenant,
    capability: crate::rbac::Capability::ReviewPackGenerate,
    expected_duration_ms: 10 * 60_000,
    prerequisites: &[crate::runs::model::Prerequisite::TenantActive],
    available: true,
    test_only: false,
    started_from: crate::runs::model::StartedFrom::OwnPage,
    requeue_after_lost_lease: true,
    max_attempts: 3,
    max_runtime_ms: crate::runs::model::default_max_runtime_ms(10 * 60_000),
    max_queue_wait_ms: crate::runs::model::DEFAULT_MAX_QUEUE_WAIT_MS,
    schedulable: true,
    bulk_startable: false,
};

/// The review pack's operation type.
pub const REVIEW_PACK_GENERATE: crate::runs::model::OperationType =
    crate::runs::model::OperationType::registered(&SPEC);

#[cfg(feature = "server")]
pub mod handler;

/// Review packs' runtime parts: the generator, and the sweep that deletes
/// expired packs' files.
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_handler(
        crate::review_packs::REVIEW_PACK_GENERATE,
        std::sync::Arc::new(handler::ReviewPackGenerate),
    )
    .with_sweep("review pack expiry", |svc| {
        Box::pin(async move { service::expire_due(&svc).await })
    });
}
#[cfg(feature = "server")]
pub(crate) mod render;
#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use render::esc as html_escape;
#[cfg(feature = "server")]
pub use service::{Download, card, download, expire_due, generate};

/// How often the card refreshes while a pack is queued or generating.
pub const CARD_POLL_MS: u32 = crate::runs::presenter::ACTIVE_LIST_POLL_MS;

/// A pack's lifecycle. `Queued`/`Generating` follow its run; a pack past its
/// expiry reads `Expired` even before the sweep deleted its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackStatus {
    Queued,
    Generating,
    Ready,
    Failed,
    Expired,
}

impl PackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PackStatus::Queued => "queued",
            PackStatus::Generating => "generating",
            PackStatus::Ready => "ready",
            PackStatus::Failed => "failed",
            PackStatus::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PackStatus::Queued => "Queued",
            PackStatus::Generating => "Generating",
            PackStatus::Ready => "Ready",
            PackStatus::Failed => "Failed",
            PackStatus::Expired => "Expired",
        }
    }

    /// The card refreshes only while the pack can still change by itself.
    pub fn polls(self) -> bool {
        matches!(self, PackStatus::Queued | PackStatus::Generating)
    }
}

impl FromStr for PackStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            PackStatus::Queued,
            PackStatus::Generating,
            PackStatus::Ready,
            PackStatus::Failed,
            PackStatus::Expired,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or(())
    }
}

/// What a pack can include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Verification,
    Inventory,
    Compliance,
    Directory,
    Operations,
    Changes,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Verification,
        Section::Inventory,
        Section::Compliance,
        Section::Directory,
        Section::Operations,
        Section::Changes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Verification => "verification",
            Section::Inventory => "inventory",
            Section::Compliance => "compliance",
            Section::Directory => "directory",
            Section::Operations => "operations",
            Section::Changes => "changes",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Section::Verification => "Verification report",
            Section::Inventory => "Inventory (policies and devices)",
            Section::Compliance => "Device compliance",
            Section::Directory => "Groups and role definitions",
            Section::Operations => "Operations of the last 30 days",
            Section::Changes => "Policy changes of the last 30 days",
        }
    }
}

impl FromStr for Section {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Section::ALL.into_iter().find(|x| x.as_str() == s).ok_or(())
    }
}

/// The two files of a ready pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackFile {
    Html,
    Zip,
}

impl PackFile {
    /// The last segment of the download route.
    pub fn route_name(self) -> &'static str {
        match self {
            PackFile::Html => "report.html",
            PackFile::Zip => "data.zip",
        }
    }

    pub fn from_route_name(s: &str) -> Option<PackFile> {
        match s {
            "report.html" => Some(PackFile::Html),
            "data.zip" => Some(PackFile::Zip),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PackFile::Html => "text/html; charset=utf-8",
            PackFile::Zip => "application/zip",
        }
    }
}

/// The authorised download route of one file of one pack.
pub fn download_link(tenant: TenantId, pack: ReviewPackId, file: PackFile) -> String {
    format!(
        "/admin/t/{tenant}/review-packs/{pack}/{}",
        file.route_name()
    )
}

/// One pack as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewPackView {
    pub id: ReviewPackId,
    pub tenant: TenantId,
    pub run: RunId,
    pub status: PackStatus,
    pub sections: Vec<Section>,
    pub requested_by: Option<String>,
    pub created_at: i64,
    pub generated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub html_size: Option<i64>,
    pub zip_size: Option<i64>,
    /// Our words: why generation failed.
    pub failure: Option<String>,
}

impl ReviewPackView {
    /// One sentence for the card; `when` words a time in the reader's zone.
    pub fn status_sentence(&self, when: impl Fn(i64) -> String) -> String {
        match self.status {
            PackStatus::Queued => "Queued: it starts when a worker is free.".into(),
            PackStatus::Generating => "Generating the report and the data files…".into(),
            PackStatus::Ready => match self.expires_at {
                Some(at) => format!("Ready. Available until {}.", when(at)),
                None => "Ready.".into(),
            },
            PackStatus::Failed => format!(
                "Generation failed: {}",
                self.failure
                    .as_deref()
                    .unwrap_or("the run ended without a pack.")
            ),
            PackStatus::Expired => match self.expires_at {
                Some(at) => format!(
                    "Expired on {}; its files were deleted. Generate a new pack.",
                    when(at)
                ),
                None => "Expired; generate a new pack.".into(),
            },
        }
    }

    pub fn link(&self, file: PackFile) -> String {
        download_link(self.tenant, self.id, file)
    }
}

/// The review pack card of a tenant dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewPackCard {
    pub tenant: TenantId,
    pub latest: Option<ReviewPackView>,
    pub can_generate: bool,
    /// How long a new pack stays downloadable.
    pub retention_days: i64,
}

impl ReviewPackCard {
    /// Poll only while the latest pack can still change; never without a pack.
    pub fn polls(&self) -> bool {
        self.latest.as_ref().is_some_and(|p| p.status.polls())
    }
}

/// What "Generate" answers: the gate's toast and the card as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateAnswer {
    pub toast: Toast,
    pub card: ReviewPackCard,
}

/// Human file sizes for the card.
pub fn format_size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queued_and_generating_poll() {
        let polls: Vec<bool> = [
            PackStatus::Queued,
            PackStatus::Generating,
            PackStatus::Ready,
            PackStatus::Failed,
            PackStatus::Expired,
        ]
        .into_iter()
        .map(PackStatus::polls)
        .collect();
        assert_eq!(polls, [true, true, false, false, false]);
        let card = ReviewPackCard {
            tenant: TenantId(1),
            latest: None,
            can_generate: true,
            retention_days: 30,
        };
        assert!(!card.polls(), "no pack, no polling");
    }

    #[test]
    fn names_round_trip() {
        for s in Section::ALL {
            assert_eq!(s.as_str().parse::<Section>(), Ok(s));
        }
        for f in [PackFile::Html, PackFile::Zip] {
            assert_eq!(PackFile::from_route_name(f.route_name()), Some(f));
        }
        assert_eq!(PackFile::from_route_name("../secret.key"), None);
        assert_eq!(format_size(2048), "2.0 KB");
    }
}
