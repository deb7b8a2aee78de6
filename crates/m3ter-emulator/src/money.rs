//! Exact numbers for rating: the `m3ter-rating` crate's [`m3ter_rating::money`],
//! under the path the emulator's modules use.

pub(crate) use m3ter_rating::money::*;
