//! (being written) conv ops.
