//! The service's integration tests: one binary (one link of the whole service), one module per
//! area. `cargo test --test api NAME` runs the tests whose path contains `NAME` (e.g.
//! `cargo test --test api update_photo::`). The shared helpers are `support` (the service, its
//! store, simulated terminals) and `auth_support` (tokens and a JWKS server), on top of the
//! `hikvision-testkit` crate the benches share.
//!
//! A test that must own its process (it measures the process's memory) runs itself in a child
//! process of this binary: see `support::alone`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;
mod support;

mod access;
mod admin_access;
mod auth_keys_and_cors;
mod auth_tokens;
mod browser;
mod chaos;
mod contract;
mod delivery;
mod delivery_pg;
mod demo;
mod events;
mod events_store;
mod isapi_client;
mod other_endpoints;
mod outage_pg;
mod outbound;
mod pictures;
mod postgrest;
mod resync;
mod resync_pg;
mod secrets;
mod slow_clients;
mod update_photo;
mod validity;
