//! `apply`: convergence, saved plans, races, crash safety.

mod crash;
mod e2e;
mod faults;
mod lock;
mod prop;
