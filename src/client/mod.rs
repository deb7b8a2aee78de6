//! The m3ter API client: auth, pacing, retries, pagination, typed errors.
