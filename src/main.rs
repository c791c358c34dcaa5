//! Entry point: parse arguments, run, exit with the run's status code.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

use panscrub::cli::{Cli, Command};
use panscrub::config::Config;
use panscrub::exit::ExitStatus;
use panscrub::report;

fn main() {
    panscrub::panics::install_hook();
    let cli = Cli::parse();
    let code = match dispatch(cli.command) {
        Ok(status) => status.code(),
        Err(e) => {
            // A settings-file parse error quotes the offending line, which
            // may hold a PAN: mask before printing.
            let msg = panscrub::manifest::mask_text(
                &format!("{e:#}"),
                &panscrub::detect::Detector::default(),
                &panscrub::mask::MaskPolicy::default(),
            );
            eprintln!("panscrub: error: {msg}");
            ExitStatus::Error.code()
        }
    };
    std::process::exit(code);
}

fn dispatch(cmd: Command) -> Result<ExitStatus> {
    let mut stdout = std::io::stdout().lock();
    match cmd {
        Command::Report(a) => {
            let c = report::collect(&a.manifests)?;
            match a.format.as_str() {
                "csv" => report::write_csv(&c, &mut stdout)?,
                "json" => writeln!(stdout, "{}", report::summarize(&c))?,
                _ => write!(stdout, "{}", report::render_text(&report::summarize(&c)))?,
            }
            Ok(ExitStatus::Clean)
        }
        Command::Merge(a) => {
            let c = report::collect(&a.manifests)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&a.out)
                .with_context(|| format!("cannot create {}", a.out.display()))?;
            report::merge(&c, &mut f)?;
            Ok(ExitStatus::Clean)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "panscrub", &mut stdout);
            Ok(ExitStatus::Clean)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut stdout)?;
            Ok(ExitStatus::Clean)
        }
        scan_or_scrub => {
            drop(stdout);
            let cfg = Config::from_command(scan_or_scrub)?;
            panscrub::run::run(&cfg)
        }
    }
}
