//! Entry point: parse arguments, run, exit with the run's status code.

use clap::Parser;

use panscrub::cli::Cli;
use panscrub::config::Config;
use panscrub::exit::ExitStatus;

fn main() {
    let cli = Cli::parse();
    let code = match Config::from_command(cli.command).and_then(|cfg| panscrub::run::run(&cfg)) {
        Ok(status) => status.code(),
        Err(e) => {
            eprintln!("panscrub: error: {e:#}");
            ExitStatus::Error.code()
        }
    };
    std::process::exit(code);
}
