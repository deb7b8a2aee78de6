//! The integration tests, as one test binary: each module was its own binary once, and each
//! linked the whole crate. `cargo test --test it MODULE::` runs one module.

mod common;

mod ci_example;
mod cli_apply;
mod cli_apply_faults;
mod cli_apply_order;
mod cli_apply_retries;
mod cli_conventions;
mod cli_destroy;
mod cli_export;
mod cli_plan;
mod cli_promote;
mod cli_smoke;
mod cli_usage;
mod cli_ux;
mod client;
mod client_commands;
mod desired_cli;
mod desired_load;
mod desired_rules;
mod emulator_api;
mod emulator_http;
mod emulator_ops;
mod emulator_rules;
mod emulator_store;
mod emulator_usage;
mod kind_balance;
mod kind_commitment;
mod kind_contract;
mod kind_counter;
mod kind_counter_adjustment;
mod kind_counter_pricing;
mod kind_integration_configuration;
mod kind_picklists;
mod kind_plan_group;
mod kind_singletons;
mod kind_webhook;
mod kinds;
mod plan;
mod plan_markdown;
mod plan_show;
mod state;
mod state_s3;
mod validate_promise;
