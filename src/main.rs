//! The `strata` binary: parse arguments, run the command, turn an error chain into one message
//! and an exit code. Everything else lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `strata images | head` would panic on the closed pipe; behave like
    // every other Unix tool and end quietly instead.
    // SAFETY: called first thing, before any other thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match strata::cli::main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", strata::cli::render_error(&err));
            ExitCode::from(1)
        }
    }
}
