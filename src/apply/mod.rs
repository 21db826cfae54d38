//! `destctl apply`: executes a plan — computed live from the manifests, or a saved, reviewed
//! plan file — with `If-Match` etags, creates in dependency order, Destinations in parallel,
//! secrets resolved before the first request, and a report of what was done.

pub mod execute;
pub mod graph;
pub mod preflight;
pub mod refs;
pub mod report;
pub mod secrets;
