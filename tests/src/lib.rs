//! End-to-end tests of slotline live in this crate's `[[test]]` targets.
