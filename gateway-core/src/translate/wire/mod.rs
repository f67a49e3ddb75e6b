//! Wire types of the protocols the gateway translates between, one module
//! per protocol. Plain serde structs: no behaviour beyond small accessors.

pub mod anthropic;
pub mod bedrock;
pub mod chat;
pub mod gemini;
pub mod responses;
