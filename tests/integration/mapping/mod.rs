//! Issue 11 point 3, the client side: exported columns of a current card as a Data Prep
//! mapping set that the flow names in `profileMapping`. Adding, removing and renaming a column
//! each plan and apply as one mapping set create plus one `profileMapping` replace on the flow
//! (asserted op by op and against the emulator's request counts), then re-plan to no changes
//! (also through the CLI with `--detailed-exitcode`); an apply interrupted after the mapping
//! set's create converges on the next run without a second mapping set.

mod columns;
mod manifests;
