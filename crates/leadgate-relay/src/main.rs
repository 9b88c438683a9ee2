//! `leadgate-relay`: receive, re-check, store and show leads. See the library for the rest.

use std::process::ExitCode;

use clap::Parser;
use leadgate_relay::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = cli.options().and_then(|options| {
        let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
        runtime.block_on(run(cli.listen, options))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leadgate-relay: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
