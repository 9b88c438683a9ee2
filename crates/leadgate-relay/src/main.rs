//! `leadgate-relay`: receive, re-check, store, forward and show leads. See the library.

use std::process::ExitCode;

use clap::Parser;
use leadgate_relay::{new_secret, recount, replay, run, Cli, Command, RelayError};

/// mimalloc instead of glibc's malloc: intake allocates and frees a great deal per lead
/// (hyper's read buffers, JSON, SQL values), and glibc's `malloc_consolidate` showed up in
/// the profile. Measured in RELAY.md ("Load and crash tests").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::NewSecret) => match new_secret() {
            Ok(secret) => {
                println!("{}", secret.expose());
                Ok(())
            }
            Err(e) => Err(RelayError::Serve(e)),
        },
        Some(Command::Replay { lead, webhook }) => cli.settings().and_then(|settings| {
            let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
            let database = settings.options.database()?;
            let n = runtime.block_on(replay(&database, lead.clone(), webhook.clone()))?;
            println!("{n} dead letter(s) queued again");
            Ok(())
        }),
        Some(Command::Aggregates { rebuild }) => cli.settings().and_then(|settings| {
            let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
            let database = settings.options.database()?;
            let report = runtime.block_on(recount(&database, *rebuild))?;
            for d in &report.disagreements {
                println!("{}: stored {}, recounted {}", d.row, d.stored, d.recounted);
            }
            let verb = if *rebuild { "rebuilt from" } else { "checked against" };
            println!(
                "aggregates {verb} {} leads: {} rows, {} disagreeing",
                report.leads,
                report.rows,
                report.disagreements.len()
            );
            if !*rebuild && !report.disagreements.is_empty() {
                return Err(RelayError::AggregatesDisagree(report.disagreements.len()));
            }
            Ok(())
        }),
        Some(Command::Serve) | None => cli.settings().and_then(|settings| {
            let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
            runtime.block_on(run(settings))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leadgate-relay: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
