//! Facts about the m3ter API shared by every part of the tool: the entity
//! kinds as data (one table entry per kind), their request schemas, limits
//! and identity, and the checks those imply.
//!
//! The emulator validates request bodies with these tables, the desired-state
//! loader validates YAML with them, and the planner builds PUT bodies from
//! them, so one table edit changes all three consistently.

pub mod calc;
pub mod condition;
pub mod events;
pub mod identity;
pub mod kinds;
pub mod rules;
pub mod schema;
pub mod uses;
pub mod validate;

pub use kinds::{Kind, KindSpec};
pub use schema::{Field, Filter, Reference, Type};
pub use validate::{Violation, validate_body};
