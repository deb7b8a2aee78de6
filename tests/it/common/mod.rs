//! Test rigs shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different part

pub mod apply;
pub mod cli;
pub mod emu;
pub mod kind_flow;
pub mod rss;
pub mod s3;
pub mod scenario;
pub mod world;

#[allow(unused_imports)]
pub use emu::*;
