//! The planner: a pure function (desired, state, live) → `Plan` value.
