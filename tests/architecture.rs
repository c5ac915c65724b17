//! The layout of docs/architecture.md, held against the code: the top-level modules of `src/`
//! import each other without a cycle, the faces (CLI, server, browser) sit on top where
//! nothing imports them, and the classification math stays free of models and backends.
//!
//! The graph is read from the source as text: every `crate::module` path (in `use` lines and
//! in code, `crate::{a, b}` groups included, crate-root re-exports such as `crate::Engine`
//! resolved through `src/lib.rs`), comment lines left out (doc links are not imports).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source lines that are not comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first segment of each path a `crate::` reference names: `crate::api::X` → `api`,
/// `crate::{api::X, error::Y}` → `api`, `error`; `crate::Engine` → `Engine`.
fn crate_references(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        // `triage_crate::` or `$crate::` are not this crate's root.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The group runs to its matching brace (groups nest: `crate::{api::{A, B}, error}`).
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map_or(group.len(), |(i, _)| i);
            let inner = &group[..end];
            let mut start = 0;
            for (i, c) in inner.char_indices().chain([(inner.len(), ',')]) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let first: String = inner[start..i].trim().chars().take_while(|&c| is_ident(c)).collect();
                        if !first.is_empty() {
                            found.push(first);
                        }
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            let first: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !first.is_empty() {
                found.push(first);
            }
        }
    }
    found
}

/// Names `src/lib.rs` re-exports at the crate root, mapped to the module they come from
/// (`pub use engine::Engine;` → `Engine` → `engine`).
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in code_lines(lib) {
        let Some(path) = line.trim().strip_prefix("pub use ").and_then(|p| p.strip_suffix(';')) else { continue };
        let path = path.trim_start_matches("crate::");
        let module: String = path.chars().take_while(|&c| is_ident(c)).collect();
        let items = match (path.find('{'), path.rfind('}')) {
            (Some(open), Some(close)) => path[open + 1..close].split(',').map(str::trim).collect::<Vec<_>>(),
            _ => vec![path.rsplit("::").next().unwrap_or(path)],
        };
        for item in items {
            let name = item.rsplit(" as ").next().unwrap_or(item).trim();
            if !name.is_empty() && name != module {
                names.insert(name.to_string(), module.clone());
            }
        }
    }
    names
}

/// The top-level module a file of `src/` belongs to (`src/engine/encoder.rs` → `engine`);
/// `None` for the crate root and the binary.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

fn module_graph(src: &Path) -> Graph {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let Some(from) = top_module(src, &file) else { continue };
        let deps = graph.entry(from.clone()).or_default();
        let text = std::fs::read_to_string(&file).unwrap();
        for line in code_lines(&text) {
            for name in crate_references(line) {
                let to = reexports.get(&name).cloned().unwrap_or(name);
                if to != from {
                    deps.insert(to);
                }
            }
        }
    }
    graph
}

/// One cycle of the graph, as the path of modules that closes it, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph.keys().find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn show(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(m, deps)| format!("  {m} -> {}\n", deps.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect()
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = module_graph(&src());
    // The reader found the modules the layout names (a reader that sees nothing passes
    // every check below).
    for module in ["api", "classify", "engine", "faces", "image", "loader", "models", "registry", "store"] {
        assert!(graph.contains_key(module), "no module {module} in src/:\n{}", show(&graph));
    }
    assert!(graph["engine"].contains("models") && graph["faces"].contains("engine"), "{}", show(&graph));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}\nthe graph:\n{}", cycle.join(" -> "), show(&graph));
    }
}

#[test]
fn the_faces_are_on_top_and_the_math_is_backend_free() {
    let graph = module_graph(&src());
    for (module, deps) in &graph {
        assert!(module == "faces" || !deps.contains("faces"), "{module} imports the faces:\n{}", show(&graph));
    }
    let allowed: BTreeSet<String> = ["api", "error"].map(String::from).into();
    assert!(
        graph["classify"].is_subset(&allowed),
        "classify (the math on plain vectors) may import only {allowed:?}, imports {:?}",
        graph["classify"]
    );
}

#[test]
fn the_reader_sees_groups_reexports_and_cycles() {
    assert_eq!(crate_references("use crate::{api::{A, B}, error::Result, Engine};"), ["api", "error", "Engine"]);
    assert_eq!(crate_references("let x = crate::image::parse(crate::js::f());"), ["image", "js"]);
    assert_eq!(crate_references("macro: $crate::x, other_crate::y"), Vec::<String>::new());
    let reexports = root_reexports("pub use engine::Engine;\npub use error::{Result, TriageError};\n");
    assert_eq!(reexports["Engine"], "engine");
    assert_eq!(reexports["TriageError"], "error");
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&graph), Some(["a", "b", "c", "a"].map(String::from).to_vec()));
}
