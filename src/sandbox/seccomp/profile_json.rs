//! Docker's seccomp profile JSON (`--security-opt seccomp=PROFILE.json`): reading it into
//! a `Profile` with errors that name the offending field, and writing it back.
//!
//! Reading walks a `serde_json::Value` by hand rather than deriving `Deserialize`, because
//! serde's errors give a line and column while a profile author wants the field path
//! (`syscalls[3].args[0].op`). Like Docker (Go's `encoding/json`), unknown fields are
//! ignored and `null` stands for an absent list or object.

use std::fmt;

use serde_json::{json, Map, Value};

use super::profile::{
    Action, ArchMap, ArgCmp, CmpOp, Condition, KernelVersion, Profile, SyscallRule,
};
use super::SeccompError;

/// The kernel caps a seccomp errno at this (`MAX_ERRNO`); a larger `errnoRet` would be
/// silently clamped, so it is refused instead.
const MAX_ERRNO: u64 = 4095;

const ACTION_NAMES: &str = "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, \
     SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG";

const OP_NAMES: &str = "SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, \
     SCMP_CMP_GT, SCMP_CMP_MASKED_EQ";

/// Every `SCMP_ARCH_*` name libseccomp knows; runc refuses others, so we do too.
const ARCH_NAMES: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

impl Profile {
    /// Reads a profile in Docker's JSON format.
    pub fn from_json(text: &str) -> Result<Profile, SeccompError> {
        let value: Value = serde_json::from_str(text).map_err(SeccompError::Json)?;
        parse_profile(&value)
    }

    /// Writes the profile back in Docker's JSON format; `from_json` reads it back equal.
    pub fn to_json(&self) -> String {
        let (action, errno) = action_to_json(self.default_action);
        let mut root = Map::new();
        root.insert("defaultAction".into(), action.into());
        if let Some(errno) = errno {
            root.insert("defaultErrnoRet".into(), errno.into());
        }
        if !self.architectures.is_empty() {
            root.insert("architectures".into(), json!(self.architectures));
        }
        if !self.arch_map.is_empty() {
            let arch_map: Vec<Value> = self
                .arch_map
                .iter()
                .map(|entry| {
                    json!({
                        "architecture": entry.architecture,
                        "subArchitectures": entry.sub_architectures,
                    })
                })
                .collect();
            root.insert("archMap".into(), arch_map.into());
        }
        let syscalls: Vec<Value> = self.syscalls.iter().map(rule_to_json).collect();
        root.insert("syscalls".into(), syscalls.into());
        serde_json::to_string_pretty(&Value::Object(root))
            .expect("a JSON value built in memory always serializes")
    }
}

fn action_to_json(action: Action) -> (&'static str, Option<u16>) {
    match action {
        Action::Allow => ("SCMP_ACT_ALLOW", None),
        Action::Errno(errno) => ("SCMP_ACT_ERRNO", Some(errno)),
        Action::KillThread => ("SCMP_ACT_KILL_THREAD", None),
        Action::KillProcess => ("SCMP_ACT_KILL_PROCESS", None),
        Action::Trap => ("SCMP_ACT_TRAP", None),
        Action::Trace(data) => ("SCMP_ACT_TRACE", Some(data)),
        Action::Log => ("SCMP_ACT_LOG", None),
    }
}

fn op_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Ne => "SCMP_CMP_NE",
        CmpOp::Lt => "SCMP_CMP_LT",
        CmpOp::Le => "SCMP_CMP_LE",
        CmpOp::Eq => "SCMP_CMP_EQ",
        CmpOp::Ge => "SCMP_CMP_GE",
        CmpOp::Gt => "SCMP_CMP_GT",
        CmpOp::MaskedEq => "SCMP_CMP_MASKED_EQ",
    }
}

fn rule_to_json(rule: &SyscallRule) -> Value {
    let (action, errno) = action_to_json(rule.action);
    let mut out = Map::new();
    out.insert("names".into(), json!(rule.names));
    out.insert("action".into(), action.into());
    if let Some(errno) = errno {
        out.insert("errnoRet".into(), errno.into());
    }
    if !rule.args.is_empty() {
        let args: Vec<Value> = rule
            .args
            .iter()
            .map(|arg| {
                json!({
                    "index": arg.index,
                    "value": arg.value,
                    "valueTwo": arg.value_two,
                    "op": op_name(arg.op),
                })
            })
            .collect();
        out.insert("args".into(), args.into());
    }
    if !rule.comment.is_empty() {
        out.insert("comment".into(), rule.comment.clone().into());
    }
    for (key, condition) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
        if *condition != Condition::default() {
            let mut obj = Map::new();
            if !condition.caps.is_empty() {
                obj.insert("caps".into(), json!(condition.caps));
            }
            if !condition.arches.is_empty() {
                obj.insert("arches".into(), json!(condition.arches));
            }
            if let Some(version) = condition.min_kernel {
                obj.insert("minKernel".into(), version.to_string().into());
            }
            out.insert(key.into(), obj.into());
        }
    }
    Value::Object(out)
}

/// Where in the document a value sits; only rendered to text when an error needs it.
#[derive(Clone, Copy)]
enum Loc<'p> {
    Root,
    Field(&'p Loc<'p>, &'static str),
    Item(&'p Loc<'p>, usize),
}

impl<'p> Loc<'p> {
    fn field(&'p self, name: &'static str) -> Loc<'p> {
        Loc::Field(self, name)
    }

    fn item(&'p self, index: usize) -> Loc<'p> {
        Loc::Item(self, index)
    }

    fn error(&self, problem: impl Into<String>) -> SeccompError {
        SeccompError::Field {
            path: self.to_string(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Root => write!(f, "(profile)"),
            Loc::Field(Loc::Root, name) => write!(f, "{name}"),
            Loc::Field(parent, name) => write!(f, "{parent}.{name}"),
            Loc::Item(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn object<'v>(value: &'v Value, loc: &Loc<'_>) -> Result<&'v Map<String, Value>, SeccompError> {
    value
        .as_object()
        .ok_or_else(|| loc.error(format!("expected an object, found {}", kind(value))))
}

/// A present, non-null field.
fn present<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|value| !value.is_null())
}

fn string(value: &Value, loc: &Loc<'_>) -> Result<String, SeccompError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| loc.error(format!("expected a string, found {}", kind(value))))
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &'static str,
    loc: &Loc<'_>,
) -> Result<Option<String>, SeccompError> {
    present(obj, key)
        .map(|value| string(value, &loc.field(key)))
        .transpose()
}

fn required_string(
    obj: &Map<String, Value>,
    key: &'static str,
    loc: &Loc<'_>,
) -> Result<String, SeccompError> {
    optional_string(obj, key, loc)?.ok_or_else(|| loc.field(key).error("missing"))
}

fn optional_u64(
    obj: &Map<String, Value>,
    key: &'static str,
    loc: &Loc<'_>,
) -> Result<Option<u64>, SeccompError> {
    present(obj, key)
        .map(|value| {
            value.as_u64().ok_or_else(|| {
                loc.field(key)
                    .error(format!("expected a non-negative integer, found {value}"))
            })
        })
        .transpose()
}

/// An absent or `null` list is empty.
fn list<T>(
    obj: &Map<String, Value>,
    key: &'static str,
    loc: &Loc<'_>,
    mut item: impl FnMut(&Value, &Loc<'_>) -> Result<T, SeccompError>,
) -> Result<Vec<T>, SeccompError> {
    let loc = loc.field(key);
    let Some(value) = present(obj, key) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| loc.error(format!("expected a list, found {}", kind(value))))?;
    items
        .iter()
        .enumerate()
        .map(|(index, value)| item(value, &loc.item(index)))
        .collect()
}

fn string_list(
    obj: &Map<String, Value>,
    key: &'static str,
    loc: &Loc<'_>,
) -> Result<Vec<String>, SeccompError> {
    list(obj, key, loc, string)
}

fn arch_name(value: &Value, loc: &Loc<'_>) -> Result<String, SeccompError> {
    let name = string(value, loc)?;
    if ARCH_NAMES.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(loc.error(format!("unknown architecture {name:?}")))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_profile(value: &Value) -> Result<Profile, SeccompError> {
    let root = Loc::Root;
    let obj = object(value, &root)?;
    let default_action = parse_action(obj, "defaultAction", "defaultErrnoRet", &root)?;
    let architectures = list(obj, "architectures", &root, arch_name)?;
    let arch_map = list(obj, "archMap", &root, parse_arch_map)?;
    if !architectures.is_empty() && !arch_map.is_empty() {
        return Err(root
            .field("architectures")
            .error("`architectures` and `archMap` are both set; use one of them"));
    }
    let syscalls = list(obj, "syscalls", &root, parse_syscall)?;
    Ok(Profile {
        default_action,
        architectures,
        arch_map,
        syscalls,
    })
}

fn parse_arch_map(value: &Value, loc: &Loc<'_>) -> Result<ArchMap, SeccompError> {
    let obj = object(value, loc)?;
    let architecture =
        present(obj, "architecture").ok_or_else(|| loc.field("architecture").error("missing"))?;
    Ok(ArchMap {
        architecture: arch_name(architecture, &loc.field("architecture"))?,
        sub_architectures: list(obj, "subArchitectures", loc, arch_name)?,
    })
}

fn parse_action(
    obj: &Map<String, Value>,
    action_key: &'static str,
    errno_key: &'static str,
    loc: &Loc<'_>,
) -> Result<Action, SeccompError> {
    let name = required_string(obj, action_key, loc)?;
    let data = optional_u64(obj, errno_key, loc)?;
    let errno_loc = loc.field(errno_key);
    let checked = |limit: u64| -> Result<u16, SeccompError> {
        match data {
            None => Ok(libc::EPERM as u16),
            Some(value) if value <= limit => Ok(value as u16),
            Some(value) => Err(errno_loc.error(format!("{value} is larger than {limit}"))),
        }
    };
    Ok(match name.as_str() {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(checked(MAX_ERRNO)?),
        "SCMP_ACT_TRACE" => Action::Trace(checked(u64::from(u16::MAX))?),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(loc
                .field(action_key)
                .error("SCMP_ACT_NOTIFY needs a seccomp agent, which strata does not run"))
        }
        other => {
            return Err(loc.field(action_key).error(format!(
                "unknown action {other:?} (expected one of {ACTION_NAMES})"
            )))
        }
    })
}

fn parse_syscall(value: &Value, loc: &Loc<'_>) -> Result<SyscallRule, SeccompError> {
    let obj = object(value, loc)?;
    let mut names = string_list(obj, "names", loc)?;
    if let Some(name) = optional_string(obj, "name", loc)? {
        if !names.is_empty() {
            return Err(loc
                .field("name")
                .error("`name` and `names` are both set; use one of them"));
        }
        names.push(name);
    }
    Ok(SyscallRule {
        names,
        action: parse_action(obj, "action", "errnoRet", loc)?,
        args: list(obj, "args", loc, parse_arg)?,
        includes: parse_condition(obj, "includes", loc)?,
        excludes: parse_condition(obj, "excludes", loc)?,
        comment: optional_string(obj, "comment", loc)?.unwrap_or_default(),
    })
}

/// Missing `index`, `value` and `valueTwo` are 0, Go's zero value, as in Docker.
fn parse_arg(value: &Value, loc: &Loc<'_>) -> Result<ArgCmp, SeccompError> {
    let obj = object(value, loc)?;
    let index = optional_u64(obj, "index", loc)?.unwrap_or(0);
    if index > 5 {
        return Err(loc.field("index").error(format!(
            "{index} is out of range: syscalls have arguments 0 to 5"
        )));
    }
    let op = match required_string(obj, "op", loc)?.as_str() {
        "SCMP_CMP_NE" => CmpOp::Ne,
        "SCMP_CMP_LT" => CmpOp::Lt,
        "SCMP_CMP_LE" => CmpOp::Le,
        "SCMP_CMP_EQ" => CmpOp::Eq,
        "SCMP_CMP_GE" => CmpOp::Ge,
        "SCMP_CMP_GT" => CmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
        other => {
            return Err(loc.field("op").error(format!(
                "unknown operator {other:?} (expected one of {OP_NAMES})"
            )))
        }
    };
    Ok(ArgCmp {
        index: index as u8,
        value: optional_u64(obj, "value", loc)?.unwrap_or(0),
        value_two: optional_u64(obj, "valueTwo", loc)?.unwrap_or(0),
        op,
    })
}

fn parse_condition(
    obj: &Map<String, Value>,
    key: &'static str,
    loc: &Loc<'_>,
) -> Result<Condition, SeccompError> {
    let Some(value) = present(obj, key) else {
        return Ok(Condition::default());
    };
    let loc = loc.field(key);
    let obj = object(value, &loc)?;
    let min_kernel = optional_string(obj, "minKernel", &loc)?
        .map(|text| {
            KernelVersion::parse(&text).ok_or_else(|| {
                loc.field("minKernel")
                    .error(format!("{text:?} is not a kernel version like \"4.8\""))
            })
        })
        .transpose()?;
    Ok(Condition {
        caps: string_list(obj, "caps", &loc)?,
        arches: string_list(obj, "arches", &loc)?,
        min_kernel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(text: &str) -> (String, String) {
        match Profile::from_json(text) {
            Err(SeccompError::Field { path, problem }) => (path, problem),
            other => panic!("expected a field error for {text}, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        // (profile, path the error must name, words the problem must contain)
        let cases: &[(&str, &str, &str)] = &[
            (r#"[]"#, "(profile)", "expected an object"),
            (r#"{}"#, "defaultAction", "missing"),
            (
                r#"{"defaultAction": 3}"#,
                "defaultAction",
                "expected a string",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#,
                "defaultAction",
                "SCMP_ACT_BOGUS",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}"#,
                "defaultErrnoRet",
                "non-negative",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096}"#,
                "defaultErrnoRet",
                "larger than 4095",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_NOPE"}]}"#,
                "syscalls[0].action",
                "unknown action \"SCMP_ACT_NOPE\"",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["close"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_FOO"}]}]}"#,
                "syscalls[3].args[0].op",
                "unknown operator \"SCMP_CMP_FOO\"",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
                        {"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                        {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                "syscalls[0].args[1].index",
                "out of range",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"index": 0, "value": 40}]}]}"#,
                "syscalls[0].args[0].op",
                "missing",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "name": "write", "action": "SCMP_ACT_ERRNO"}]}"#,
                "syscalls[0].name",
                "both set",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": "read", "action": "SCMP_ACT_ERRNO"}]}"#,
                "syscalls[0].names",
                "expected a list",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read", 7], "action": "SCMP_ACT_ERRNO"}]}"#,
                "syscalls[0].names[1]",
                "expected a string",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}"#,
                "syscalls[0].errnoRet",
                "larger than",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ALLOW",
                     "includes": {"minKernel": "four"}}]}"#,
                "syscalls[0].includes.minKernel",
                "not a kernel version",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": []}]}"#,
                "syscalls[0].excludes",
                "expected an object",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
                "syscalls[0].action",
                "seccomp agent",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [
                    {"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_Z80"]}]}"#,
                "archMap[0].subArchitectures[1]",
                "unknown architecture",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": ["SCMP_ARCH_X86_64"],
                    "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
                "architectures",
                "both set",
            ),
        ];
        for (text, want_path, want_words) in cases {
            let (path, problem) = field_error(text);
            assert_eq!(path, *want_path, "for {text}");
            assert!(
                problem.contains(want_words),
                "for {text}: {problem:?} lacks {want_words:?}"
            );
        }
    }

    #[test]
    fn malformed_json_is_a_json_error_with_a_position() {
        let err = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_ALLOW", "#).unwrap_err();
        assert!(matches!(err, SeccompError::Json(_)), "{err:?}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn go_style_leniency() {
        // Unknown fields are ignored, null stands for absent, `name` is a one-name `names`,
        // and missing index/value default to 0 as Go's zero values do.
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "architectures": null, "syscalls": [
                {"name": "personality", "action": "SCMP_ACT_ALLOW",
                 "args": [{"op": "SCMP_CMP_EQ"}], "includes": null, "whatever": 1},
                {"names": null, "action": "SCMP_ACT_KILL"}]}"#,
        )
        .unwrap();
        assert_eq!(profile.default_action, Action::Errno(1));
        assert_eq!(profile.syscalls[0].names, ["personality"]);
        assert_eq!(
            profile.syscalls[0].args,
            [ArgCmp {
                index: 0,
                value: 0,
                value_two: 0,
                op: CmpOp::Eq
            }]
        );
        assert!(profile.syscalls[1].names.is_empty());
        assert_eq!(profile.syscalls[1].action, Action::KillThread);
    }

    #[test]
    fn actions_resolve_their_errno() {
        let cases: &[(&str, Action)] = &[
            (r#""SCMP_ACT_ALLOW""#, Action::Allow),
            (r#""SCMP_ACT_ERRNO""#, Action::Errno(1)),
            (r#""SCMP_ACT_ERRNO", "errnoRet": 38"#, Action::Errno(38)),
            (r#""SCMP_ACT_ERRNO", "errnoRet": 0"#, Action::Errno(0)),
            (r#""SCMP_ACT_TRACE""#, Action::Trace(1)),
            (r#""SCMP_ACT_TRACE", "errnoRet": 9000"#, Action::Trace(9000)),
            (r#""SCMP_ACT_KILL""#, Action::KillThread),
            (r#""SCMP_ACT_KILL_THREAD""#, Action::KillThread),
            (r#""SCMP_ACT_KILL_PROCESS""#, Action::KillProcess),
            (r#""SCMP_ACT_TRAP""#, Action::Trap),
            (r#""SCMP_ACT_LOG""#, Action::Log),
            (r#""SCMP_ACT_ALLOW", "errnoRet": 5"#, Action::Allow),
        ];
        for (action, want) in cases {
            let text = format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{{"names": ["read"], "action": {action}}}]}}"#
            );
            let profile = Profile::from_json(&text).unwrap();
            assert_eq!(profile.syscalls[0].action, *want, "{action}");
        }
    }

    #[test]
    fn custom_profile_round_trips() {
        let text = r#"{"defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 7,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [
              {"name": "clone", "action": "SCMP_ACT_ALLOW", "comment": "why",
               "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                         "op": "SCMP_CMP_MASKED_EQ"}],
               "includes": {"arches": ["amd64"], "minKernel": "5.10.2"},
               "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["getcwd", "uname"], "action": "SCMP_ACT_KILL"}]}"#;
        let profile = Profile::from_json(text).unwrap();
        assert_eq!(Profile::from_json(&profile.to_json()).unwrap(), profile);
    }
}
