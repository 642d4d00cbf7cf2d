//! The `slotline` command line: `slotline bench ...` (more subcommands to come).

mod bench;
mod options;

pub use bench::{run as run_bench, BenchOptions, BenchReport};
pub use options::Args;

/// What the command line can fail with: a message for the user.
pub type CliError = String;

/// Runs the command line with these arguments (without the program name).
pub fn run(args: &[String]) -> Result<(), CliError> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(usage());
    };
    match sub.as_str() {
        "bench" => bench::main(rest),
        "-h" | "--help" | "help" => {
            println!("{}", usage());
            Ok(())
        }
        other => Err(format!("unknown subcommand {other:?}\n{}", usage())),
    }
}

fn usage() -> String {
    "usage: slotline bench [--url URL | -h HOST -p PORT] [-c CLIENTS] [-n REQUESTS] [-P PIPELINE] \
     [-t get,set] [-d SIZE] [-r KEYSPACE] [--connections N] [--threads N] [-q]"
        .to_string()
}
