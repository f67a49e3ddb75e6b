//! gateway-core's integration tests, in one test binary: each file beside
//! this one is a module. One binary links gateway-core and its dependencies
//! once instead of once per file (nineteen times): most of a debug build's
//! disk and link time (README, "Test coverage and supply chain").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]
// Tests spawn their clients and stops freely; the gateway's own tasks go
// through its TaskTracker (clippy.toml).
#![allow(clippy::disallowed_methods)]

mod cluster_common;
mod common;
mod wire;

mod admin;
mod agents;
mod anthropic_messages;
mod anthropic_provider;
mod api;
mod audit;
mod azure_provider;
mod bedrock_provider;
mod cli;
mod clients;
mod cluster_config;
mod cluster_keys;
mod cluster_limits;
mod cluster_redis;
mod cluster_state;
mod connections;
mod durability;
mod fallback;
mod gemini_ingress;
mod gemini_provider;
mod golden;
mod handle_drop;
mod hardening;
mod hostile;
mod key_pools;
mod limits;
mod model_routes;
mod ops;
mod otlp;
mod passthrough;
mod prompt_cache;
mod request_log;
mod response_cache;
mod responses_translate;
mod route_rules;
mod serve_threads;
mod service;
mod strategies;
mod telemetry;
mod tls_listener;
mod tools;
mod translate_props;
mod update;
mod verify;
mod vertex_provider;
mod virtual_keys;
