//! Self-tests of slotline-testbed (placeholder).
