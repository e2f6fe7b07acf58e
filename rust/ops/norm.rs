//! (being written) norm ops.
