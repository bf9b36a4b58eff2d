//! What the `.tera` files of a template refer to (`extends`, `include`, `import`, macro
//! calls), checked before anything is rendered: every file referred to must exist, and the
//! references must not form a cycle. tera follows a cycle until the stack overflows, which
//! aborts the process; here it is an error naming the files.
//!
//! Macro calls are resolved generously: `ns::m()` may be any macro `m` in a file the caller
//! can reach through imports or parents. A cycle found that way may in rare cases be one
//! tera would not follow, but every cycle tera would follow is found, and recursive macros
//! are refused (templates write project files: they need no recursion).
//!
//! The AST is tera's own (`tera::ast`, public but outside its stability promise); the
//! lock file pins the tera this walks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tera::ast::{Expr, ExprVal, Node};
use tera::Template;

use super::FileFailure;

/// A place that renders something: a whole file, or one macro of a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Place {
    File(String),
    Macro(String, String),
}

/// How one place reaches another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Via {
    Extends,
    Includes,
    Imports,
    Calls,
}

/// Every missing reference and every cycle among the parsed `templates`, as failures of
/// the file they start in. `names` are all the template's `.tera` files, parsed or not: a
/// reference to one that failed to parse is not missing.
pub fn check(templates: &BTreeMap<String, Template>, names: &BTreeSet<&str>) -> Vec<FileFailure> {
    let mut failures = Vec::new();
    for (name, tpl) in templates {
        let missing = |what: &str, target: &str| FileFailure {
            path: name.clone(),
            cause: format!("{what} {target:?}, which is not a .tera file of this template"),
        };
        if let Some(parent) = &tpl.parent {
            if !names.contains(parent.as_str()) {
                failures.push(missing("extends", parent));
            }
        }
        for (file, _) in &tpl.imported_macro_files {
            if !names.contains(file.as_str()) {
                failures.push(missing("imports macros from", file));
            }
        }
    }
    let graph = Graph::of(templates);
    failures.extend(graph.cycles());
    failures
}

/// The edges still to follow from one place of the depth-first search.
type Edges<'a> = std::collections::btree_set::Iter<'a, (Via, Place)>;

struct Graph {
    edges: BTreeMap<Place, BTreeSet<(Via, Place)>>,
}

impl Graph {
    fn of(templates: &BTreeMap<String, Template>) -> Graph {
        let mut graph = Graph {
            edges: BTreeMap::new(),
        };
        for (name, tpl) in templates {
            let from = Place::File(name.clone());
            graph.edges.entry(from.clone()).or_default();
            if let Some(parent) = tpl.parent.as_ref().filter(|p| templates.contains_key(*p)) {
                graph.add(&from, Via::Extends, Place::File(parent.clone()));
            }
            for (file, _) in &tpl.imported_macro_files {
                if templates.contains_key(file) {
                    graph.add(&from, Via::Imports, Place::File(file.clone()));
                }
            }
            let scope = Scope::new(templates, name);
            graph.walk(&from, &tpl.ast, &scope, templates);
            for (macro_name, def) in &tpl.macros {
                let place = Place::Macro(name.clone(), macro_name.clone());
                graph.edges.entry(place.clone()).or_default();
                graph.walk(&place, &def.body, &scope, templates);
            }
        }
        graph
    }

    fn add(&mut self, from: &Place, via: Via, to: Place) {
        self.edges
            .entry(from.clone())
            .or_default()
            .insert((via, to));
    }

    fn walk(
        &mut self,
        from: &Place,
        nodes: &[Node],
        scope: &Scope,
        templates: &BTreeMap<String, Template>,
    ) {
        let mut calls = Vec::new();
        for node in nodes {
            match node {
                Node::Include(_, names, _) => {
                    for target in names.iter().filter(|n| templates.contains_key(*n)) {
                        self.add(from, Via::Includes, Place::File(target.clone()));
                    }
                }
                // Macro bodies are places of their own (walked by the caller).
                Node::MacroDefinition(..) => {}
                Node::VariableBlock(_, e) => exprs_calls(e, &mut calls),
                Node::Set(_, set) => exprs_calls(&set.value, &mut calls),
                Node::FilterSection(_, section, _) => {
                    for arg in section.filter.args.values() {
                        exprs_calls(arg, &mut calls);
                    }
                    self.walk(from, &section.body, scope, templates);
                }
                Node::Block(_, block, _) => self.walk(from, &block.body, scope, templates),
                Node::Forloop(_, for_loop, _) => {
                    exprs_calls(&for_loop.container, &mut calls);
                    self.walk(from, &for_loop.body, scope, templates);
                    if let Some(empty) = &for_loop.empty_body {
                        self.walk(from, empty, scope, templates);
                    }
                }
                Node::If(branches, _) => {
                    for (_, cond, body) in &branches.conditions {
                        exprs_calls(cond, &mut calls);
                        self.walk(from, body, scope, templates);
                    }
                    if let Some((_, body)) = &branches.otherwise {
                        self.walk(from, body, scope, templates);
                    }
                }
                Node::Super
                | Node::Text(_)
                | Node::Extends(..)
                | Node::ImportMacro(..)
                | Node::Raw(..)
                | Node::Break(_)
                | Node::Continue(_)
                | Node::Comment(..) => {}
            }
        }
        for (namespace, name) in calls {
            for file in scope.files_for(&namespace, &name, templates) {
                self.add(from, Via::Calls, Place::Macro(file, name.clone()));
            }
        }
    }

    /// One failure per cycle found, named after the first file on it.
    fn cycles(&self) -> Vec<FileFailure> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks: HashMap<&Place, Mark> = self.edges.keys().map(|p| (p, Mark::New)).collect();
        let mut failures = Vec::new();
        let mut seen: BTreeSet<Vec<Place>> = BTreeSet::new();
        // Iterative depth-first search: a hostile template must not overflow this either.
        for start in self.edges.keys() {
            if marks[start] != Mark::New {
                continue;
            }
            let mut path: Vec<(&Place, Via)> = Vec::new();
            let mut stack: Vec<(&Place, Edges)> = vec![(start, self.edges[start].iter())];
            marks.insert(start, Mark::OnPath);
            path.push((start, Via::Extends));
            while let Some((_, next)) = stack.last_mut() {
                match next.next() {
                    Some((via, to)) => match marks.get(to).copied().unwrap_or(Mark::Done) {
                        Mark::New => {
                            marks.insert(to, Mark::OnPath);
                            path.push((to, *via));
                            stack.push((to, self.edges[to].iter()));
                        }
                        Mark::OnPath => {
                            let at = path.iter().position(|(p, _)| *p == to).unwrap_or(0);
                            let mut cycle: Vec<(&Place, Via)> = path[at..].to_vec();
                            cycle.push((to, *via));
                            let key: Vec<Place> = cycle.iter().map(|(p, _)| (*p).clone()).collect();
                            if seen.insert(key) {
                                failures.push(describe(&cycle));
                            }
                        }
                        Mark::Done => {}
                    },
                    None => {
                        let (done, _) = stack.pop().expect("a frame");
                        marks.insert(done, Mark::Done);
                        path.pop();
                    }
                }
            }
        }
        failures
    }
}

/// `a.tera includes b.tera, which includes a.tera`.
fn describe(cycle: &[(&Place, Via)]) -> FileFailure {
    let file_of = |p: &Place| match p {
        Place::File(f) | Place::Macro(f, _) => f.clone(),
    };
    let name = |p: &Place| match p {
        Place::File(f) => f.clone(),
        Place::Macro(f, m) => format!("macro {m} of {f}"),
    };
    let mut text = name(cycle[0].0);
    for (i, (place, via)) in cycle.iter().enumerate().skip(1) {
        let verb = match via {
            Via::Extends => "extends",
            Via::Includes => "includes",
            Via::Imports => "imports",
            Via::Calls => "calls",
        };
        text.push_str(if i == 1 { " " } else { ", which " });
        text.push_str(verb);
        text.push(' ');
        text.push_str(&name(place));
    }
    FileFailure {
        path: file_of(cycle[0].0),
        cause: format!("a cycle that would never end: {text}"),
    }
}

/// The variables a template's `if` tests read (the first part of `a.b` or `a[0]`): tera
/// takes an undefined variable in a test for false, and a misspelt condition must not
/// silently leave files out.
pub fn tested_variables(template: &Template) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for node in &template.ast {
        if let Node::If(branches, _) = node {
            for (_, cond, _) in &branches.conditions {
                idents(cond, &mut out);
            }
        }
    }
    out
}

fn idents(expr: &Expr, out: &mut BTreeSet<String>) {
    let mut each = |e: &Expr| idents(e, out);
    match &expr.val {
        ExprVal::Ident(name) => {
            let first = name.split(['.', '[']).next().unwrap_or(name);
            out.insert(first.to_owned());
        }
        ExprVal::Math(m) => {
            each(&m.lhs);
            each(&m.rhs);
        }
        ExprVal::Logic(l) => {
            each(&l.lhs);
            each(&l.rhs);
        }
        ExprVal::In(i) => {
            each(&i.lhs);
            each(&i.rhs);
        }
        ExprVal::Test(t) => {
            each(&Expr::new(ExprVal::Ident(t.ident.clone())));
            t.args.iter().for_each(each);
        }
        ExprVal::Array(items) => items.iter().for_each(each),
        ExprVal::FunctionCall(call) => call.args.values().for_each(each),
        ExprVal::MacroCall(call) => call.args.values().for_each(each),
        ExprVal::StringConcat(concat) => {
            for v in &concat.values {
                each(&Expr::new(v.clone()));
            }
        }
        ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => {}
    }
}

/// `(namespace, macro)` of every macro call in an expression.
fn exprs_calls(expr: &Expr, out: &mut Vec<(String, String)>) {
    for filter in &expr.filters {
        for arg in filter.args.values() {
            exprs_calls(arg, out);
        }
    }
    match &expr.val {
        ExprVal::MacroCall(call) => {
            out.push((call.namespace.clone(), call.name.clone()));
            for arg in call.args.values() {
                exprs_calls(arg, out);
            }
        }
        ExprVal::FunctionCall(call) => {
            for arg in call.args.values() {
                exprs_calls(arg, out);
            }
        }
        ExprVal::Math(m) => {
            exprs_calls(&m.lhs, out);
            exprs_calls(&m.rhs, out);
        }
        ExprVal::Logic(l) => {
            exprs_calls(&l.lhs, out);
            exprs_calls(&l.rhs, out);
        }
        ExprVal::In(i) => {
            exprs_calls(&i.lhs, out);
            exprs_calls(&i.rhs, out);
        }
        ExprVal::Test(t) => {
            for arg in &t.args {
                exprs_calls(arg, out);
            }
        }
        ExprVal::Array(items) => {
            for item in items {
                exprs_calls(item, out);
            }
        }
        ExprVal::StringConcat(_)
        | ExprVal::String(_)
        | ExprVal::Int(_)
        | ExprVal::Float(_)
        | ExprVal::Bool(_)
        | ExprVal::Ident(_) => {}
    }
}

/// The files a macro call in one file may reach: the file itself and its parents (for
/// `self`), and every file imported from them, transitively (for any other namespace).
struct Scope {
    own: Vec<String>,
    imported: Vec<String>,
}

impl Scope {
    fn new(templates: &BTreeMap<String, Template>, name: &str) -> Scope {
        let mut own = vec![name.to_owned()];
        let mut at = name;
        while let Some(parent) = templates.get(at).and_then(|t| t.parent.as_deref()) {
            if own.iter().any(|o| o == parent) || !templates.contains_key(parent) {
                break;
            }
            own.push(parent.to_owned());
            at = parent;
        }
        let mut imported: Vec<String> = Vec::new();
        let mut todo: Vec<String> = own.clone();
        while let Some(file) = todo.pop() {
            for (target, _) in templates
                .get(&file)
                .map(|t| t.imported_macro_files.as_slice())
                .unwrap_or_default()
            {
                if templates.contains_key(target) && !imported.contains(target) {
                    imported.push(target.clone());
                    todo.push(target.clone());
                }
            }
        }
        Scope { own, imported }
    }

    fn files_for(
        &self,
        namespace: &str,
        name: &str,
        templates: &BTreeMap<String, Template>,
    ) -> Vec<String> {
        let candidates = if namespace == "self" {
            &self.own
        } else {
            &self.imported
        };
        candidates
            .iter()
            .filter(|f| {
                templates
                    .get(*f)
                    .is_some_and(|t| t.macros.contains_key(name))
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(files: &[(&str, &str)]) -> BTreeMap<String, Template> {
        files
            .iter()
            .map(|(n, t)| ((*n).to_owned(), Template::new(n, None, t).unwrap()))
            .collect()
    }

    fn causes(files: &[(&str, &str)]) -> Vec<String> {
        let names = files.iter().map(|(n, _)| *n).collect();
        check(&parse(files), &names)
            .into_iter()
            .map(|f| format!("{}: {}", f.path, f.cause))
            .collect()
    }

    #[test]
    fn a_file_that_includes_itself_is_a_cycle() {
        let c = causes(&[("a", "{% include \"a\" %}")]);
        assert_eq!(c, ["a: a cycle that would never end: a includes a"]);
    }

    #[test]
    fn include_import_extends_and_call_cycles_are_found() {
        let c = causes(&[("a", "{% include \"b\" %}"), ("b", "x{% include \"a\" %}")]);
        assert_eq!(
            c,
            ["a: a cycle that would never end: a includes b, which includes a"]
        );
        let c = causes(&[
            ("a", "{% import \"z\" as z %}"),
            ("z", "{% import \"a\" as a %}"),
        ]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains("imports z, which imports a"), "{c:?}");
        let c = causes(&[
            ("a", "{% extends \"b\" %}"),
            ("b", "{% extends \"c\" %}"),
            ("c", "{% extends \"b\" %}"),
        ]);
        assert!(
            c.iter().any(|c| c.contains("b extends c, which extends b")),
            "{c:?}"
        );
        let c = causes(&[(
            "m",
            "{% macro f() %}{{ self::g() }}{% endmacro %}{% macro g() %}{{ self::f() }}{% endmacro %}{{ self::f() }}",
        )]);
        assert!(
            c.iter()
                .any(|c| c.contains("macro f of m calls macro g of m, which calls macro f of m")),
            "{c:?}"
        );
    }

    #[test]
    fn sound_templates_pass() {
        let c = causes(&[
            ("base", "<{% block body %}{% endblock %}>"),
            ("child", "{% extends \"base\" %}{% import \"macros\" as m %}{% block body %}{{ m::hi(n=1) }}{% include \"part\" %}{% endblock %}"),
            ("macros", "{% macro hi(n) %}hi {{ n }}{% endmacro %}"),
            ("part", "part"),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn missing_parents_and_macro_files_are_named() {
        let c = causes(&[
            ("a", "{% extends \"nope\" %}"),
            ("b", "{% import \"gone\" as g %}"),
        ]);
        assert_eq!(
            c,
            [
                "a: extends \"nope\", which is not a .tera file of this template",
                "b: imports macros from \"gone\", which is not a .tera file of this template"
            ]
        );
    }
}
