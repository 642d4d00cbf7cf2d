//! The blocking side of the request API: [`Execute`], the one primitive a blocking client
//! implements, and [`Query`], [`Commands`] and [`ScanIter`], which every `Execute` gets.
//! The blocking clients themselves live in `slotline-conn` and above.

mod query;
mod scan;

pub use query::{Commands, Execute, Query};
pub use scan::ScanIter;
