//! Operator tools that answer "would another provider have done better?":
//!
//! - `replay`: send a logged (or pasted) request again to any provider and
//!   model, bypassing routing, and compare with the original.
//! - `modelbench`: a synthetic benchmark — N small requests per target and
//!   protocol, with a cost estimate up front and a hard cost cap; results are
//!   stored (`bench.db`) and comparable over time; optional schedule.
//! - `verify`: verification runs — a fixed probe suite recorded from a
//!   trusted target as a baseline, later runs through any provider scored
//!   `normal` / `suspect` / `highly_suspect` with reasons (`verify.db`).
//! - `call`: one measured direct call shared by both, recorded in telemetry
//!   with its origin (never counted as client traffic).

mod call;
pub mod modelbench;
pub mod replay;
pub(crate) mod rows;
pub mod verify;

pub use call::{Call, CallResult};
