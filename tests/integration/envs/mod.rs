//! Issue 10: environments (`destctl.yaml`, `${var:}`), where secret references may be written,
//! scoped runs, the CI examples, and the first-user findings.

mod docs;
mod environments;
mod examples;
mod findings;
mod pr_comment;
