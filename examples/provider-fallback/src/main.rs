//! `cargo run -p provider-fallback`: narrates a 429 on the primary provider
//! turning into a model fallback to the backup, then prints a summary.

use provider_fallback::{BACKUP_MODEL, DemoReport, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("AI Model Gateway — provider fallback demo\n");
    let report = run(true).await?;
    print_summary(&report);
    if !report.showed_model_fallback() {
        anyhow::bail!(
            "the demo did not show a model fallback to backup/{BACKUP_MODEL} (see the steps above)"
        );
    }
    Ok(())
}

fn print_summary(r: &DemoReport) {
    let done = r.stream.frames.last().map(String::as_str) == Some("[DONE]");
    println!();
    println!("Summary");
    println!(
        "  plain request:     {} {} → {:?}",
        r.first.status,
        r.first.headers.summary(),
        r.first.text
    );
    println!(
        "  streaming request: {} {} → {:?} ({} frames{})",
        r.stream.status,
        r.stream.headers.summary(),
        r.stream.text,
        r.stream.frames.len(),
        if done {
            ", ended with [DONE]"
        } else {
            ", no [DONE]!"
        }
    );
    println!(
        "  upstreams saw:     primary {:?}, backup {:?}",
        r.after_stream.primary, r.after_stream.backup
    );
    if r.showed_model_fallback() {
        println!(
            "  OK: the client asked for gpt-4o-mini and was served by backup/{BACKUP_MODEL} (model_fallback) both times."
        );
    } else {
        println!(
            "  FAILED: expected both requests to be served by backup/{BACKUP_MODEL} with route_mode=model_fallback."
        );
    }
}
