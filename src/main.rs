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
            // As clap does for its own errors: say where help is.
            if e.downcast_ref::<panscrub::error::ConfigError>().is_some() {
                eprintln!("\nFor more information, try '--help'.");
            }
            ExitStatus::Error.code()
        }
    };
    std::process::exit(code);
}

/// Creates (or truncates) `p` with owner-only permissions.
fn create_private(p: &std::path::Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .with_context(|| format!("cannot create {}", p.display()))
}

/// Whether two paths name the same existing file.
/// Whether an error is a write to a pipe whose reader has gone.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn dispatch(cmd: Command) -> Result<ExitStatus> {
    let mut stdout = std::io::stdout().lock();
    match cmd {
        Command::Report(a) => {
            let c = report::collect(&a.manifests)?;
            if c.bad_lines > 0 {
                eprintln!(
                    "panscrub: warning: {} unreadable manifest line(s) skipped (a run cut short mid-write)",
                    c.bad_lines
                );
            }
            let summary = report::summarize(&c);
            let mut out: Box<dyn Write> = match &a.output {
                Some(p) => Box::new(std::io::BufWriter::new(create_private(p)?)),
                None => Box::new(stdout),
            };
            let written = match (a.format.as_str(), a.files) {
                ("csv", true) => report::write_files_csv(&c, &mut out),
                ("csv", false) => report::write_csv(&c, &mut out),
                ("json", _) => writeln!(out, "{summary}").map_err(Into::into),
                ("html", _) => report::write_html(&c, &summary, &mut out),
                _ => report::write_text(&c, &summary, &mut out),
            }
            .and_then(|()| Ok(out.flush()?));
            match written {
                // `report | head`: the reader has what it wanted, as with cat.
                Err(e) if a.output.is_none() && is_closed_pipe(&e) => Ok(ExitStatus::Clean),
                other => other.map(|()| ExitStatus::Clean),
            }
        }
        Command::Merge(a) => {
            if let Some(same) = a.manifests.iter().find(|m| same_file(m, &a.out)) {
                anyhow::bail!(
                    "-o {} is also an input ({}): write the merge to a new file",
                    a.out.display(),
                    same.display()
                );
            }
            panscrub::outputs::check_manifest(&a.out, &[], a.force)?;
            let c = report::collect_for_merge(&a.manifests)?;
            if c.bad_lines > 0 {
                eprintln!(
                    "panscrub: warning: {} unreadable manifest line(s) skipped (a run cut short mid-write)",
                    c.bad_lines
                );
            }
            let mut f = std::io::BufWriter::new(create_private(&a.out)?);
            report::merge(&c, &mut f)?;
            f.flush()?;
            Ok(ExitStatus::Clean)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "panscrub", &mut stdout);
            Ok(ExitStatus::Clean)
        }
        Command::Man { command, dir } => {
            let top = Cli::command();
            let page = |name: Option<&str>| -> clap::Command {
                match name {
                    None => top.clone(),
                    Some(sub) => top
                        .find_subcommand(sub)
                        .expect("a known subcommand")
                        .clone()
                        .name(format!("panscrub-{sub}")),
                }
            };
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    let subs: Vec<String> = top
                        .get_subcommands()
                        .map(|c| c.get_name().to_string())
                        .filter(|n| n != "help")
                        .collect();
                    for name in std::iter::once(None).chain(subs.iter().map(|s| Some(s.as_str()))) {
                        let file = match name {
                            None => dir.join("panscrub.1"),
                            Some(sub) => dir.join(format!("panscrub-{sub}.1")),
                        };
                        let mut out = std::fs::File::create(&file)
                            .with_context(|| format!("cannot create {}", file.display()))?;
                        clap_mangen::Man::new(page(name)).render(&mut out)?;
                    }
                }
                None => clap_mangen::Man::new(page(command.as_deref())).render(&mut stdout)?,
            }
            Ok(ExitStatus::Clean)
        }
        scan_or_scrub => {
            drop(stdout);
            let cfg = Config::from_command(scan_or_scrub)?;
            panscrub::interrupt::install().context("cannot install signal handlers")?;
            let status = panscrub::run::run(&cfg)?;
            if let Some(sig) = panscrub::interrupt::requested() {
                // 128 + the signal, as a shell reports a process it ended.
                std::process::exit(128 + sig);
            }
            Ok(status)
        }
    }
}
