//! One integration-test binary (one link) for everything that needs the real
//! router or a real database. Every test runs on SQLite and on PostgreSQL.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

mod common;

mod abuse;
mod account;
mod accounts;
mod admission_crash;
mod alerts;
mod assets;
mod authz_matrix;
mod backup;
mod baselines;
mod bulk;
mod concurrency;
mod consent;
mod drift;
mod faults;
mod fleet;
mod fuzz;
mod inventory_bodies;
mod invitations;
mod lifecycle_prop;
mod logs;
mod mail;
mod members_tenants;
mod metrics;
mod mfa;
mod monitoring;
mod onboarding;
mod otlp;
mod provider;
mod published;
mod reliability;
mod repository;
mod restore;
mod retention;
mod review_packs;
mod role_controls;
mod runs;
mod runs_processes;
mod schedules;
mod search;
mod security;
mod sessions;
mod setup;
mod sso;
mod store;
mod support;
mod support_rt;
mod tcp_proxy;
mod triage;
mod world;
mod zones;
