//! The pest parser generated from `grammar/dockerfile.pest`; the only file that names pest types
//! besides `lower.rs`, which walks the pairs.

use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "../grammar/dockerfile.pest"]
pub(crate) struct DockerfileGrammar;
