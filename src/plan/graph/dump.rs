//! `--dump-plan`: the graph as pretty-printed JSON with a stable field and node order, made to
//! be diffed as golden files. Shows partial keys and the inputs each node's final key waits on.

use serde_json::{json, Value};

use crate::plan::graph::BuildGraph;

/// The dump format's version; bump it when fields change meaning.
pub const DUMP_VERSION: u32 = 1;

/// The graph as a JSON value.
pub fn dump_value(graph: &BuildGraph) -> Value {
    let target = graph
        .stages
        .iter()
        .find(|s| s.index == graph.target)
        .expect("the target stage is in the graph");
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "stage": n.stage,
                "stage_name": n.meta.stage_name,
                "label": n.meta.label,
                "line": n.meta.line,
                "onbuild": n.meta.onbuild,
                "history_args": n.meta.history_args,
                "op": n.op,
                "parent": n.parent,
                "key_parent": n.key_parent,
                "deps": n.deps,
                "partial_key": n.partial_key,
                "waits_on_inputs": n.inputs,
            })
        })
        .collect();
    json!({
        "version": DUMP_VERSION,
        "target": { "stage": target.index, "name": target.name },
        "output": graph.output(),
        "stages": graph.stages,
        "nodes": nodes,
    })
}

/// The graph as pretty JSON with a trailing newline.
pub fn dump_plan(graph: &BuildGraph) -> String {
    let mut s = serde_json::to_string_pretty(&dump_value(graph)).expect("plans serialise");
    s.push('\n');
    s
}
