use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = doralens::cli::Cli::parse();
    match doralens::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(if e.is_user_error() { 2 } else { 1 })
        }
    }
}
