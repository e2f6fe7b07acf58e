//! Fused optimizer updates: in place, multithreaded, one call per parameter group.
