//! Test rigs shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different part

pub mod emu;
pub mod scenario;

pub use emu::*;
