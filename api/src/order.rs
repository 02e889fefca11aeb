//! Answers in the order asked: each object of `data` lists its fields in
//! the order the query first asks for them (GraphQL spec, 7.2.2 and
//! CollectFields), fragments expanded where they stand.
//!
//! async-graphql 7 writes each object's fields in the order their
//! resolvers finish (it polls them through a `FuturesUnordered`;
//! async-graphql issue #612): a field that waits on a DataLoader lands
//! after one that did not, so `{ viewer { ... } feed { ... } }` could come
//! back feed first, and a post's `author` after its `body`. Nothing is
//! lost, but people reading answers in GraphiQL, and clients that compare
//! answers as text, see fields move between two runs of one query.
//!
//! Done on the answer after it ran, not in an engine extension: with any
//! extension registered the engine sends every field through the
//! extension chain (see `error::code_engine_errors`). The work is one pass
//! over the answer: every object of one list shares one plan (its
//! selection sets merged, computed once), and an object already in order
//! is only read.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet, TypeCondition,
};
use async_graphql::{Name, Positioned, Value, Variables};
use async_graphql_value::ConstValue;

use crate::budget::Shape;

/// What an answer's order needs of its request, taken before it runs (the
/// engine consumes the request).
pub struct Asked {
    doc: std::sync::Arc<ExecutableDocument>,
    operation: Option<String>,
    /// The Boolean variables, for `@skip` and `@include`.
    booleans: Vec<(Name, bool)>,
}

impl Asked {
    pub fn new(doc: std::sync::Arc<ExecutableDocument>, operation: Option<String>, variables: &Variables) -> Self {
        let booleans =
            variables
                .iter()
                .filter_map(|(k, v)| if let ConstValue::Boolean(b) = v { Some((k.clone(), *b)) } else { None });
        Asked { doc, operation, booleans: booleans.collect() }
    }

    /// Puts every object of `data` in the order asked.
    pub fn order(&self, shape: &Shape, data: &mut Value) {
        let Some(op) = self.operation() else { return };
        let walk = Walk { shape, asked: self };
        walk.values(vec![data], &[&op.selection_set.node], shape.root(op.ty));
    }

    fn operation(&self) -> Option<&OperationDefinition> {
        match (&self.doc.operations, &self.operation) {
            (DocumentOperations::Single(op), _) => Some(&op.node),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()).map(|op| &op.node),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| &op.node),
            (DocumentOperations::Multiple(_), None) => None,
        }
    }

    /// Whether `@skip`/`@include` leave a selection out, as the engine
    /// decides it: a variable not sent counts as false.
    fn skipped(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().any(|d| {
            let include = match d.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return false,
            };
            let value = match d.node.get_argument("if").map(|v| &v.node) {
                Some(async_graphql_value::Value::Boolean(b)) => *b,
                Some(async_graphql_value::Value::Variable(name)) => {
                    self.booleans.iter().find(|(n, _)| n == name).is_some_and(|(_, b)| *b)
                }
                _ => return false,
            };
            value != include
        })
    }
}

/// One response key of an object: where it stands, and what is asked of
/// its value (every selection set of the fields merged under that key).
struct Entry<'d> {
    key: &'d Name,
    field: &'d str,
    sets: Vec<&'d SelectionSet>,
}

struct Walk<'a> {
    shape: &'a Shape,
    asked: &'a Asked,
}

impl<'a> Walk<'a> {
    /// Orders `values`, all answers to `sets` on a field of type `ty`:
    /// objects, lists of them at any depth, or nulls.
    fn values(&self, values: Vec<&mut Value>, sets: &[&'a SelectionSet], ty: &str) {
        let possible = self.shape.possible(ty);
        if possible.is_empty() {
            // A scalar or enum (a JSON object there is data), or a type
            // the SDL does not hold (introspection's, resolved in order).
            return;
        }
        let mut objects = Vec::with_capacity(values.len());
        for value in values {
            flatten(value, &mut objects);
        }
        if objects.is_empty() {
            return;
        }
        if let [only] = possible {
            let plan = self.plan(sets, only);
            return self.objects(objects, &plan, only);
        }
        // An interface or union: the answer does not say which object
        // type each value is, so it is the first whose plan holds all of
        // its keys (where two would, both plans order its keys alike
        // unless a fragment on one type reorders the other's fields).
        let plans: Vec<Vec<Entry<'a>>> = possible.iter().map(|t| self.plan(sets, t)).collect();
        let mut groups: Vec<Vec<&mut IndexMap<Name, Value>>> = possible.iter().map(|_| Vec::new()).collect();
        for object in objects {
            let fits = |plan: &Vec<Entry>| object.keys().all(|k| plan.iter().any(|e| same(e.key, k)));
            if let Some(i) = plans.iter().position(fits) {
                groups[i].push(object);
            }
        }
        for ((group, plan), ty) in groups.into_iter().zip(&plans).zip(possible) {
            if !group.is_empty() {
                self.objects(group, plan, ty);
            }
        }
    }

    /// Orders objects of type `ty` by `plan`, then their fields' values
    /// (gathered by walking each object beside its plan: no lookups).
    fn objects(&self, objects: Vec<&mut IndexMap<Name, Value>>, plan: &[Entry<'a>], ty: &str) {
        let width = |e: &Entry| if e.sets.is_empty() { 0 } else { objects.len() };
        let mut children: Vec<Vec<&mut Value>> = plan.iter().map(|e| Vec::with_capacity(width(e))).collect();
        for object in objects {
            if !in_order(object, plan) {
                let rank = |k: &Name| plan.iter().position(|e| same(e.key, k)).unwrap_or(usize::MAX);
                object.sort_by(|a, _, b, _| rank(a).cmp(&rank(b)));
            }
            let mut at = 0;
            for (key, value) in object {
                // A key not in the plan (sorted last) ends the walk.
                let Some(i) = plan[at..].iter().position(|e| same(e.key, key)) else { break };
                at += i + 1;
                if !plan[at - 1].sets.is_empty() {
                    children[at - 1].push(value);
                }
            }
        }
        for (entry, values) in plan.iter().zip(children).filter(|(_, values)| !values.is_empty()) {
            if let Some(returns) = self.shape.returns(ty, entry.field) {
                self.values(values, &entry.sets, returns);
            }
        }
    }

    /// The response keys `sets` ask of an object of type `ty`, in order.
    fn plan(&self, sets: &[&'a SelectionSet], ty: &str) -> Vec<Entry<'a>> {
        let mut plan = Vec::new();
        let mut spread = Vec::new();
        for set in sets {
            self.collect(set, ty, &mut plan, &mut spread);
        }
        plan
    }

    /// CollectFields: appends `set`'s fields to `plan`, a key that is there
    /// already merging into it. A fragment spread again at the same level
    /// adds nothing new, so each is walked once (`spread`): the walk stays
    /// linear in the document however fragments nest.
    fn collect(&self, set: &'a SelectionSet, ty: &str, plan: &mut Vec<Entry<'a>>, spread: &mut Vec<&'a str>) {
        for item in &set.items {
            if self.asked.skipped(item.node.directives()) {
                continue;
            }
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let key = &field.response_key().node;
                    let sub = &field.selection_set.node;
                    match plan.iter_mut().find(|e| e.key == key) {
                        Some(entry) if !sub.items.is_empty() => entry.sets.push(sub),
                        Some(_) => {}
                        None => plan.push(Entry {
                            key,
                            field: field.name.node.as_str(),
                            sets: if sub.items.is_empty() { Vec::new() } else { vec![sub] },
                        }),
                    }
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if spread.contains(&name) {
                        continue;
                    }
                    spread.push(name);
                    if let Some(fragment) = self.asked.doc.fragments.get(name) {
                        if self.applies(Some(&fragment.node.type_condition), ty) {
                            self.collect(&fragment.node.selection_set.node, ty, plan, spread);
                        }
                    }
                }
                Selection::InlineFragment(f) => {
                    if self.applies(f.node.type_condition.as_ref(), ty) {
                        self.collect(&f.node.selection_set.node, ty, plan, spread);
                    }
                }
            }
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `ty`.
    fn applies(&self, condition: Option<&Positioned<TypeCondition>>, ty: &str) -> bool {
        condition.is_none_or(|c| self.shape.possible(c.node.on.node.as_str()).iter().any(|t| t == ty))
    }
}

/// The objects in `value`, through lists at any depth.
fn flatten<'v>(value: &'v mut Value, out: &mut Vec<&'v mut IndexMap<Name, Value>>) {
    match value {
        Value::Object(object) => out.push(object),
        Value::List(items) => items.iter_mut().for_each(|item| flatten(item, out)),
        _ => {}
    }
}

/// Whether two names are equal. The answer's keys are the engine's copies
/// of the document's names, which share their text with ours (a `Name`
/// is an `Arc<str>`): most compare by address.
fn same(a: &Name, b: &Name) -> bool {
    let (a, b) = (a.as_str(), b.as_str());
    std::ptr::eq(a, b) || a == b
}

/// Whether `object`'s keys already come in `plan`'s order.
fn in_order(object: &IndexMap<Name, Value>, plan: &[Entry]) -> bool {
    let mut at = 0;
    object.keys().all(|k| match plan[at..].iter().position(|e| same(e.key, k)) {
        Some(i) => {
            at += i + 1;
            true
        }
        None => false,
    })
}
