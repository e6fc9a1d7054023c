//! `pedigree-scan`: parse the arguments, validate them into a plan, run it.
//! Exit codes: 0 OK, 1 not to be dispensed (or refused), 2 bad usage or
//! unreadable input, 3 could not reach a service or could not verify.

use std::process::ExitCode;

use clap::Parser;
use pedigree_scan::cli::Cli;
use pedigree_scan::exit::Exit;
use pedigree_scan::plan::Plan;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            return if usage {
                Exit::Usage.into()
            } else {
                // --help and --version.
                Exit::Ok.into()
            };
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    match Plan::from_cli(cli, &env) {
        Ok(plan) => pedigree_scan::run::run(plan).into(),
        Err(error) => {
            eprintln!("pedigree-scan: {error}");
            Exit::Usage.into()
        }
    }
}
