//! `strata debug parse [-f FILE]` and `strata debug expand [--env K=V]… WORD`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::Settings;

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the parsed Dockerfile in BuildKit's dump format.
    Parse {
        /// The Dockerfile (default: ./Dockerfile).
        #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
        file: PathBuf,
    },
    /// Print a word's expansion as the builder would do it.
    Expand {
        /// A variable visible to the expansion.
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Split the result into words (ProcessWords) instead of one string (ProcessWord).
        #[arg(long)]
        words: bool,
        /// The escape character.
        #[arg(long, default_value_t = '\\')]
        escape: char,
        word: String,
    },
}

pub fn run(_settings: &Settings, cmd: DebugCommand) -> Result<ExitCode> {
    match cmd {
        DebugCommand::Parse { file } => parse(&file),
        DebugCommand::Expand {
            env,
            words,
            escape,
            word,
        } => expand(&env, words, escape, &word),
    }
}

/// Prints the BuildKit dump; on a syntax error prints the located error and fails.
fn parse(file: &Path) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    let source = match crate::syntax::source::decode_or_render(&name, bytes) {
        Ok(s) => s,
        Err(rendered) => {
            eprint!("{rendered}");
            return Ok(ExitCode::from(1));
        }
    };
    match crate::syntax::parse(&source) {
        Ok(df) => {
            for w in &df.warnings {
                eprint!("{}", crate::syntax::render(&name, &source, w));
            }
            print!("{}", crate::syntax::dump(&df));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!(
                "{}",
                crate::syntax::render(&name, &source, &e.to_diagnostic())
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// Prints a word's expansion (one line), or each word on its own line with `--words`.
fn expand(env: &[String], words: bool, escape: char, word: &str) -> Result<ExitCode> {
    use crate::syntax::expand::{process_word, process_words};
    if escape != '\\' && escape != '`' {
        bail!("invalid escape character {escape:?}: expected \\ or `");
    }
    let mut vars: Vec<(String, String)> = Vec::new();
    for kv in env {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => vars.push((k.to_string(), v.to_string())),
            _ => bail!("invalid --env {kv:?}: expected NAME=VALUE"),
        }
    }
    let fail = |e: crate::syntax::expand::ExpandError| {
        let shown = crate::syntax::abbreviate(word, 64);
        anyhow::anyhow!("{shown:?}, column {}: {e}", e.offset() + 1)
    };
    if words {
        for w in process_words(word, escape, &vars).map_err(fail)? {
            println!("{w}");
        }
    } else {
        println!("{}", process_word(word, escape, &vars).map_err(fail)?.value);
    }
    Ok(ExitCode::SUCCESS)
}
