//! The `strata` binary: parse arguments, run the command, turn an error chain into one message
//! and an exit code. Everything else lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match strata::cli::main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", strata::cli::render_error(&err));
            ExitCode::from(1)
        }
    }
}
