//! One module per command.

pub mod apply;
pub mod bill;
pub mod compare;
pub mod completions;
pub mod destroy;
pub mod emulator;
pub mod export;
pub mod graph;
pub mod import;
pub mod ingest;
pub mod plan;
pub mod promote;
pub mod refresh;
pub mod show;
pub mod state;
pub mod validate;
