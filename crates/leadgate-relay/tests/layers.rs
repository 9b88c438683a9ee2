//! The relay's layers, checked on its source: no `use` circle among its modules (issue 11), so
//! a module added later can't quietly import one that imports it. A module is a top-level one
//! (`src/x.rs` or `src/x/**`); an edge is any `crate::y` path in its code (comment lines left
//! out). The crate root (`lib.rs`), which declares and wires every module, is not counted.
//! The same check by hand: `grep -ho 'crate::[a-z_]*'` per module, piped to `tsort`.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `module -> modules it names`, from the files under `dir`.
fn edges(dir: &Path, module: Option<&str>, graph: &mut BTreeMap<String, BTreeSet<String>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            edges(&path, Some(module.unwrap_or(&name)), graph);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || (module.is_none() && name == "lib") {
            continue;
        }
        let from = module.unwrap_or(&name).to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
        for line in code {
            for (at, _) in line.match_indices("crate::") {
                let before = line[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let to: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !to.is_empty() && to != from {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        graph.entry(from).or_default();
    }
}

/// A circle in `graph`, as the modules on it, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_relays_modules_import_each_other_in_no_circle() {
    let mut graph = BTreeMap::new();
    edges(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), None, &mut graph);
    assert!(graph.contains_key("http") && graph["http"].contains("store"), "{graph:?}");
    if let Some(found) = circle(&graph) {
        panic!("the relay's modules import each other in a circle: {}", found.join(" -> "));
    }
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("http", &["forward", "store"][..]),
        ("forward", &["logline"]),
        ("logline", &["http"]),
        ("store", &[]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(circle(&graph).unwrap().join(" -> "), "forward -> logline -> http -> forward");
}
