//! Splitting lowered instructions into the global ARG section and build stages, and resolving
//! stage references (`FROM name`, `COPY --from=name|index`, `RUN --mount=from=…`).

use crate::syntax::{Diagnostic, Instruction, Span, Spanned, Word};

/// One `FROM … [AS name]` and the instructions up to the next FROM.
#[derive(Debug, Clone)]
pub struct Stage<'a> {
    pub index: usize,
    /// The `AS` name, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
    /// Where the name was written (or the FROM line when unnamed).
    pub name_span: Span,
    pub image: &'a Word,
    pub platform: Option<&'a Word>,
    pub from_span: Span,
    pub instructions: &'a [Spanned<Instruction>],
}

/// A Dockerfile's stages.
#[derive(Debug, Clone)]
pub struct Stages<'a> {
    /// ARGs before the first FROM, visible to FROM lines.
    pub global_args: Vec<&'a Spanned<Instruction>>,
    pub stages: Vec<Stage<'a>>,
}

/// What a `--from` or FROM value refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageRef {
    /// An earlier stage, by position.
    Stage(usize),
    /// Not a stage: an image reference.
    Image,
}

/// Why a stage reference is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageRefError {
    #[error("stage {name:?} is defined later in the Dockerfile (stage {index}); a stage can only use earlier stages")]
    Later { name: String, index: usize },
    #[error("stage {name:?} refers to itself")]
    Itself { name: String },
    #[error("stage index {index} is out of range: only {available} earlier stage(s)")]
    IndexOutOfRange { index: usize, available: usize },
}

/// Splits instructions into the global section and stages. Errors: an instruction other than
/// ARG before the first FROM, no FROM at all.
pub fn split_stages(instrs: &[Spanned<Instruction>]) -> Result<Stages<'_>, Diagnostic> {
    let mut global_args = Vec::new();
    let mut starts = Vec::new();
    for (i, ins) in instrs.iter().enumerate() {
        match &ins.node {
            Instruction::From { .. } => starts.push(i),
            Instruction::Arg(_) if starts.is_empty() => global_args.push(ins),
            other if starts.is_empty() => {
                return Err(Diagnostic::error(
                    ins.span,
                    format!(
                        "no build stage in current context: {} must come after a FROM",
                        other.name()
                    ),
                ))
            }
            _ => {}
        }
    }
    if starts.is_empty() {
        let span = instrs.last().map(|i| i.span).unwrap_or_default();
        return Err(Diagnostic::error(
            span,
            "the Dockerfile has no FROM instruction, so there is no stage to build",
        ));
    }
    let mut stages = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(instrs.len());
        let from = &instrs[start];
        let Instruction::From {
            image,
            platform,
            alias,
        } = &from.node
        else {
            unreachable!("stage starts are FROM instructions")
        };
        stages.push(Stage {
            index: n,
            name: alias.as_ref().map(|a| a.text.to_ascii_lowercase()),
            name_span: alias.as_ref().map(|a| a.span).unwrap_or(from.span),
            image,
            platform: platform.as_ref(),
            from_span: from.span,
            instructions: &instrs[start + 1..end],
        });
    }
    Ok(Stages {
        global_args,
        stages,
    })
}

impl Stages<'_> {
    /// The index of the stage named `name` (case-insensitive), anywhere in the file.
    pub fn find(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// Resolves a `FROM` image value seen in stage `current`: a name of an earlier stage, or an
    /// image. Docker does not take indexes in FROM.
    pub fn resolve_from(&self, value: &str, current: usize) -> Result<StageRef, StageRefError> {
        match self.find(value) {
            Some(i) if i < current => Ok(StageRef::Stage(i)),
            Some(i) if i == current => Err(StageRefError::Itself {
                name: value.to_string(),
            }),
            Some(i) => Err(StageRefError::Later {
                name: value.to_string(),
                index: i,
            }),
            None => Ok(StageRef::Image),
        }
    }

    /// Resolves a `COPY --from` / `RUN --mount=from=` value seen in stage `current`: a stage
    /// name, a stage index, or an image.
    pub fn resolve_copy_from(
        &self,
        value: &str,
        current: usize,
    ) -> Result<StageRef, StageRefError> {
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            let index: usize = value.parse().unwrap_or(usize::MAX);
            return if index < current {
                Ok(StageRef::Stage(index))
            } else if index == current {
                Err(StageRefError::Itself {
                    name: value.to_string(),
                })
            } else {
                Err(StageRefError::IndexOutOfRange {
                    index,
                    available: current,
                })
            };
        }
        self.resolve_from(value, current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{lower, parse};

    fn lowered(src: &str) -> Vec<Spanned<Instruction>> {
        let (ins, diags) = lower(&parse(src).unwrap());
        assert!(diags.is_empty(), "{diags:?}");
        ins
    }

    #[test]
    fn splits_global_args_and_stages() {
        let ins = lowered("ARG A=1\nARG B\nFROM x AS Build\nRUN a\nFROM build\nCOPY . .\n");
        let st = split_stages(&ins).unwrap();
        assert_eq!(st.global_args.len(), 2);
        assert_eq!(st.stages.len(), 2);
        assert_eq!(st.stages[0].name.as_deref(), Some("build"));
        assert_eq!(st.stages[0].instructions.len(), 1);
        assert_eq!(st.stages[1].image.text, "build");
        assert_eq!(st.stages[1].instructions.len(), 1);
        assert_eq!(st.find("BUILD"), Some(0));
    }

    #[test]
    fn rejects_instructions_before_from_and_no_from() {
        let ins = lowered("ARG A\nRUN x\nFROM y\n");
        let e = split_stages(&ins).unwrap_err();
        assert_eq!((e.span.line, e.span.column), (2, 1));
        assert!(e.message.contains("no build stage"), "{}", e.message);
        let ins = lowered("ARG A\n");
        assert!(split_stages(&ins).unwrap_err().message.contains("no FROM"));
    }

    #[test]
    fn stage_reference_table() {
        let ins = lowered("FROM a AS one\nFROM b AS two\nFROM c AS three\n");
        let st = split_stages(&ins).unwrap();
        // (value, current stage, copy --from?, expected)
        let cases: &[(&str, usize, bool, Result<StageRef, StageRefError>)] = &[
            ("one", 1, false, Ok(StageRef::Stage(0))),
            ("ONE", 2, true, Ok(StageRef::Stage(0))),
            ("alpine:3", 1, false, Ok(StageRef::Image)),
            ("0", 1, false, Ok(StageRef::Image)), // FROM takes no index: "0" is an image name
            ("0", 1, true, Ok(StageRef::Stage(0))),
            ("1", 2, true, Ok(StageRef::Stage(1))),
            (
                "2",
                1,
                true,
                Err(StageRefError::IndexOutOfRange {
                    index: 2,
                    available: 1,
                }),
            ),
            (
                "1",
                1,
                true,
                Err(StageRefError::Itself { name: "1".into() }),
            ),
            (
                "three",
                1,
                false,
                Err(StageRefError::Later {
                    name: "three".into(),
                    index: 2,
                }),
            ),
            (
                "two",
                1,
                true,
                Err(StageRefError::Itself { name: "two".into() }),
            ),
        ];
        for (value, current, copy, want) in cases {
            let got = if *copy {
                st.resolve_copy_from(value, *current)
            } else {
                st.resolve_from(value, *current)
            };
            assert_eq!(&got, want, "{value} from stage {current} (copy: {copy})");
        }
    }
}
