//! Operator tools that answer "would another provider have done better?":
//!
//! - `replay`: send a logged (or pasted) request again to any provider and
//!   model, bypassing routing, and compare with the original.
//! - `modelbench`: a synthetic benchmark — N small requests per target and
//!   protocol, with a cost estimate up front and a hard cost cap; results are
//!   stored (`bench.db`) and comparable over time; optional schedule.
//! - `call`: one measured direct call shared by both, recorded in telemetry
//!   with its origin (never counted as client traffic).

mod call;
pub mod modelbench;
pub mod replay;

pub use call::{Call, CallResult};
