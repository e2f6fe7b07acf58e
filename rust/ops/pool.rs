//! (being written) pool ops.
