//! Apply: runs a plan's operations in dependency order, concurrently where the
//! graph allows, saving state after every remote change.
