//! `check_for_updates` (the signed release manifest against this app) and
//! `restart_app` (after an install or rollback through the admin API: stop
//! the gateway gracefully and start the executable now on disk).

use tauri::{AppHandle, Runtime};

use super::CommandError;
use crate::updates::{self, UpdateCheck};

#[tauri::command]
pub async fn check_for_updates<R: Runtime>(app: AppHandle<R>) -> Result<UpdateCheck, CommandError> {
    updates::check(&app).await
}

#[tauri::command]
pub async fn restart_app<R: Runtime>(app: AppHandle<R>) -> Result<(), CommandError> {
    updates::restart(app).await;
    Ok(())
}
