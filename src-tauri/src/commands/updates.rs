//! `check_for_updates`: asks the signed release manifest whether a newer
//! version exists (nothing is downloaded or replaced).

use tauri::State;

use super::CommandError;
use crate::gateway::GatewayHost;
use crate::updates::{self, UpdateCheck};

#[tauri::command]
pub async fn check_for_updates(host: State<'_, GatewayHost>) -> Result<UpdateCheck, CommandError> {
    updates::check(&host).await
}
