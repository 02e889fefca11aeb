//! Answers shaped as the spec says, where async-graphql 7 does not:
//!
//! - each object lists its fields in the order the query first asks for
//!   them (spec 7.2.2 and CollectFields), fragments expanded where they
//!   stand. The engine writes them in the order their resolvers finish (a
//!   `FuturesUnordered` per object; async-graphql issue #612): a field
//!   that waits on a DataLoader lands after one that did not, so `{ viewer
//!   { ... } feed { ... } }` could come back feed first, and a post's
//!   `author` after its `body`;
//! - a field that failed is null in its place, or, where the schema says
//!   it cannot be null, its nearest nullable parent is (spec 6.4.4). The
//!   engine left the key out and nulled nothing, so a client saw an object
//!   without a field its schema promised;
//! - a mutation runs no field after one whose failure nulled `data`
//!   ([`Serially`], [`MutationRun`]).
//!
//! Done on the answer after it ran, not in an engine extension: with any
//! extension registered the engine sends every field through the
//! extension chain (see `error::code_engine_errors`). The work is one pass
//! over the answer: every object of one list shares one plan (its
//! selection sets merged, computed once), and an object already in order
//! is only read. Each error walks its own path once.
//!
//! - an object none of whose fields apply (all skipped by `@skip` or
//!   `@include`, or asked only in fragments on other types) is `{}`, not
//!   null (spec 6.3, CollectFields). The engine answered null, which a
//!   client cannot tell from a resolver's own null (`viewer` signed out),
//!   and which broke non-null types (`nodes: [Post!]!` came back `[null,
//!   null]`). Such selection sets get a `__typename` under [`FILLER`] for
//!   the engine to answer ([`Asked::fill`]); shaping takes it out again.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet, TypeCondition,
};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Name, ObjectType, OutputType, PathSegment, Pos, Positioned,
    ServerError, ServerResult, Value, Variables,
};
use async_graphql_value::ConstValue;

use crate::budget::Shape;

/// The response key of the `__typename` added where a selection set could
/// leave an object with no field ([`Asked::fill`]); never in an answer.
pub const FILLER: &str = "__fgType";

/// What shaping an answer needs of its request, taken before it runs (the
/// engine consumes the request).
pub struct Asked {
    doc: Arc<ExecutableDocument>,
    operation: Option<String>,
    /// The Boolean variables, for `@skip` and `@include`.
    booleans: Vec<(Name, bool)>,
    /// The engine runs a copy of `doc` with [`FILLER`]s in it.
    filled: bool,
}

impl Asked {
    pub fn new(doc: Arc<ExecutableDocument>, operation: Option<String>, variables: &Variables) -> Self {
        let booleans =
            variables
                .iter()
                .filter_map(|(k, v)| if let ConstValue::Boolean(b) = v { Some((k.clone(), *b)) } else { None });
        Asked { doc, operation, booleans: booleans.collect(), filled: false }
    }

    /// The document for the engine to run in `doc`'s place when an object
    /// it asks for could come back with no field: each selection set that
    /// could (under this request's `@skip` and `@include`, and for every
    /// type the field may answer) gets `FILLER: __typename`, so the engine
    /// answers an object (it answers null for one with no field) and says
    /// its type. `None`, nothing copied, when no set could, as in nearly
    /// every request; also when the document uses `FILLER` itself. Runs
    /// after `budget::measure` (no fragment cycles, bounded nesting).
    pub fn fill(&mut self, shape: &Shape) -> Option<ExecutableDocument> {
        let op = self.operation()?;
        let mut find = Fill { shape, asked: self, sure: HashMap::new(), sets: HashSet::new(), taken: false };
        find.set(&op.selection_set.node, shape.root(op.ty));
        for fragment in self.doc.fragments.values() {
            find.set(&fragment.node.selection_set.node, fragment.node.type_condition.node.on.node.as_str());
        }
        let Fill { sets, taken, .. } = find;
        if sets.is_empty() || taken {
            return None;
        }
        let mut doc = ExecutableDocument::clone(&self.doc);
        let mut add = |set: &mut Positioned<SelectionSet>| {
            if sets.contains(&set.pos) {
                let field = Field {
                    alias: Some(Positioned::new(Name::new(FILLER), set.pos)),
                    name: Positioned::new(Name::new("__typename"), set.pos),
                    arguments: Vec::new(),
                    directives: Vec::new(),
                    selection_set: Positioned::new(SelectionSet::default(), set.pos),
                };
                set.node.items.push(Positioned::new(Selection::Field(Positioned::new(field, set.pos)), set.pos));
            }
        };
        match &mut doc.operations {
            DocumentOperations::Single(op) => each_set(&mut op.node.selection_set, &mut add),
            DocumentOperations::Multiple(ops) => {
                ops.values_mut().for_each(|op| each_set(&mut op.node.selection_set, &mut add))
            }
        }
        for fragment in doc.fragments.values_mut() {
            each_set(&mut fragment.node.selection_set, &mut add);
        }
        self.filled = true;
        Some(doc)
    }

    /// Shapes an answer as the spec does: each errored field null in its
    /// place, or its nearest nullable parent null where the schema says
    /// the field cannot be (6.4.4); then every object in the order asked.
    pub fn shape(&self, shape: &Shape, response: &mut async_graphql::Response) {
        let Some(op) = self.operation() else { return };
        self.null_errored(shape, &mut response.data, &response.errors);
        let walk = Walk { shape, asked: self };
        walk.values(vec![&mut response.data], &[&op.selection_set.node], shape.root(op.ty));
    }

    /// Puts null in `data` where each of `errors` says (6.4.4; see
    /// [`Walk::null_errored`]).
    fn null_errored(&self, shape: &Shape, data: &mut Value, errors: &[ServerError]) {
        let Some(op) = self.operation() else { return };
        let walk = Walk { shape, asked: self };
        let root = (&op.selection_set.node, shape.root(op.ty));
        let mut nulled = HashSet::new();
        for error in errors.iter().filter(|e| !e.path.is_empty()) {
            walk.null_errored(data, &error.path, root, &mut nulled);
        }
    }

    /// Whether `errors`, raised under the root field answered under `key`,
    /// null `data` itself (6.4.4): `value` is what the field answered, or
    /// `None` when it failed itself. Worked out on a copy holding only
    /// that field, so it costs nothing while no error is raised.
    fn nulls_data(&self, shape: &Shape, key: &str, value: Option<&Value>, errors: &[ServerError]) -> bool {
        let mut data = IndexMap::new();
        if let Some(value) = value {
            data.insert(Name::new(key), value.clone());
        }
        let mut data = Value::Object(data);
        self.null_errored(shape, &mut data, errors);
        data == Value::Null
    }

    /// Whether the operation is a mutation.
    pub fn is_mutation(&self) -> bool {
        self.operation().is_some_and(|op| op.ty == OperationType::Mutation)
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

/// A mutation's run, in its request's data: its fields run one after
/// another, and none runs after one whose failure nulls `data` (spec 6.3.2
/// and 6.4.4; graphql-js stops there too). async-graphql 7 ran every
/// field whatever came before, so `mutation { follow(...) createPost(...)
/// }` with the follow refused answered `data: null` and wrote the post all
/// the same: a write the client could not see, and would repeat.
/// [`Serially`] asks it before each field and tells it after.
pub struct MutationRun {
    asked: Arc<Asked>,
    shape: Arc<Shape>,
    halted: AtomicBool,
}

impl MutationRun {
    pub fn new(asked: Arc<Asked>, shape: Arc<Shape>) -> Self {
        MutationRun { asked, shape, halted: AtomicBool::new(false) }
    }

    /// Whether an earlier field's failure nulled `data`: the rest do not run.
    fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// After the field answered under `key` (`value`; `None` when it
    /// failed itself) with `errors` raised under it: halts the run when
    /// they null `data`.
    fn settle(&self, key: &str, value: Option<&Value>, errors: &[ServerError]) {
        if !errors.is_empty() && self.asked.nulls_data(&self.shape, key, value, errors) {
            self.halted.store(true, Ordering::Relaxed);
        }
    }
}

/// A mutation root as the engine runs it: `M`'s fields, except that none
/// runs once an earlier one's failure has nulled `data` (the request's
/// [`MutationRun`] says; without one, every field runs). The schema is
/// unchanged: the type is `M`'s own.
pub struct Serially<M>(pub M);

impl<M: ObjectType> ContainerType for Serially<M> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let Some(run) = ctx.data_opt::<MutationRun>() else { return self.0.resolve_field(ctx).await };
        if run.halted() {
            // Not run, and not seen: `data` is null already.
            return Ok(None);
        }
        // The errors raised under this field are those the engine added
        // while it ran (mutation fields run one at a time). Its own list,
        // the only place they are told.
        let raised = || ctx.query_env.errors.lock().map_or(0, |errors| errors.len());
        let before = raised();
        let answered = self.0.resolve_field(ctx).await;
        let key = ctx.item.node.response_key().node.as_str();
        match &answered {
            Ok(value) if raised() > before => {
                let errors = ctx.query_env.errors.lock().map(|errors| errors[before..].to_vec()).unwrap_or_default();
                run.settle(key, value.as_ref(), &errors);
            }
            Ok(_) => {}
            Err(error) => {
                let mut error = error.clone();
                if error.path.is_empty() {
                    error.path = vec![PathSegment::Field(key.to_owned())];
                }
                run.settle(key, None, &[error]);
            }
        }
        answered
    }
}

impl<M: ObjectType> OutputType for Serially<M> {
    fn type_name() -> Cow<'static, str> {
        M::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        M::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        async_graphql::resolver_utils::resolve_container_serial(ctx, self).await
    }
}

impl<M: ObjectType> ObjectType for Serially<M> {}

/// A response key a mutation asks for twice at its root (fragments
/// expanded), or a fragment it spreads there twice. The spec runs each
/// key once (6.3.2, with the selections merged); async-graphql 7 runs the
/// field once for each time it is written, so `mutation { createPost(..)
/// { id } createPost(..) { body } }` wrote two posts and answered one. The
/// HTTP layer refuses such a mutation (skipped or not): each write needs a
/// key of its own.
pub fn repeated_root_key<'d>(doc: &'d ExecutableDocument, op: &'d OperationDefinition) -> Option<String> {
    let (mut keys, mut spread) = (HashSet::new(), HashSet::new());
    let mut sets = vec![&op.selection_set.node];
    while let Some(set) = sets.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    if key != "__typename" && !keys.insert(key) {
                        return Some(key.to_owned());
                    }
                }
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if !spread.insert(name) {
                        return Some(format!("...{name}"));
                    }
                    if let Some(fragment) = doc.fragments.get(name) {
                        sets.push(&fragment.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
            }
        }
    }
    None
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
            self.objects(objects, &plan, only);
            return;
        }
        let plans: Vec<Vec<Entry<'a>>> = possible.iter().map(|t| self.plan(sets, t)).collect();
        let mut groups: Vec<Vec<&mut IndexMap<Name, Value>>> = possible.iter().map(|_| Vec::new()).collect();
        for object in objects {
            if let Some(i) = pick(object, possible, &plans) {
                groups[i].push(object);
            }
        }
        for ((group, plan), ty) in groups.into_iter().zip(&plans).zip(possible) {
            if !group.is_empty() {
                self.objects(group, plan, ty);
            }
        }
    }

    /// The object type of `object`, an answer to `sets` on a field of type
    /// `ty`, and its plan (see [`Self::values`] for interfaces).
    fn concrete(
        &self,
        object: &IndexMap<Name, Value>,
        sets: &[&'a SelectionSet],
        ty: &str,
    ) -> Option<(&'a str, Vec<Entry<'a>>)> {
        let possible = self.shape.possible(ty);
        let mut plans: Vec<Vec<Entry<'a>>> = possible.iter().map(|t| self.plan(sets, t)).collect();
        let i = pick(object, possible, &plans)?;
        Some((possible[i].as_str(), plans.swap_remove(i)))
    }

    /// The engine leaves an errored field's key out of its object (and an
    /// object left with no field is null), and never nulls a parent for a
    /// field that cannot be null. Puts null where the spec does: at the
    /// field's place when it may be null, else at the nearest place above
    /// it that may be, else `data` itself. `nulled`: the places this pass
    /// has set null (as [`place`] writes them).
    fn null_errored(
        &self,
        data: &mut Value,
        path: &[PathSegment],
        (root, root_ty): (&'a SelectionSet, &'a str),
        nulled: &mut HashSet<String>,
    ) {
        // Whether each place on the path may be null, read on the way down.
        let mut nullable = Vec::with_capacity(path.len());
        let (mut value, mut ty, mut sets) = (Some(&*data), root_ty, vec![root]);
        let (mut levels, mut depth): (&[bool], usize) = (&[], 0);
        let empty = IndexMap::new();
        for (i, step) in path.iter().enumerate() {
            // Null just above the failed field, and not set by this pass:
            // the engine's object whose every field failed (or was
            // skipped); the spec's is an object.
            let here: Option<Result<&Value, &IndexMap<Name, Value>>> = match value {
                Some(Value::Null) if i + 1 == path.len() && !nulled.contains(&place(&path[..i])) => Some(Err(&empty)),
                other => other.map(Ok),
            };
            match (here, step) {
                (Some(Ok(Value::Object(object))) | Some(Err(object)), PathSegment::Field(key)) => {
                    let Some((concrete, plan)) = self.concrete(object, &sets, ty) else { return };
                    let Some(entry) = plan.into_iter().find(|e| e.key.as_str() == key) else { return };
                    let (Some(returns), Some(field)) =
                        (self.shape.returns(concrete, entry.field), self.shape.nullable(concrete, entry.field))
                    else {
                        return;
                    };
                    (ty, sets, levels, depth) = (returns, entry.sets, field, 0);
                    nullable.push(levels.first().copied().unwrap_or(true));
                    value = object.get(key.as_str());
                    if value.is_none() {
                        // Left out by the engine: failed here, whatever
                        // the path names below (a list's item error is
                        // its list's).
                        break;
                    }
                }
                (Some(Ok(Value::List(items))), PathSegment::Index(n)) => {
                    depth += 1;
                    nullable.push(levels.get(depth).copied().unwrap_or(true));
                    value = items.get(*n);
                }
                // Null on the way (settled by another error) or not there.
                _ => return,
            }
        }
        if !matches!(value, None | Some(Value::Null)) {
            return;
        }
        let at = nullable.iter().rposition(|n| *n).map_or(0, |at| at + 1);
        set_null(data, &path[..at]);
        nulled.insert(place(&path[..at]));
    }

    /// Orders objects of type `ty` by `plan`, then their fields' values
    /// (gathered by walking each object beside its plan: no lookups).
    fn objects(&self, objects: Vec<&mut IndexMap<Name, Value>>, plan: &[Entry<'a>], ty: &str) {
        let width = |e: &Entry| if e.sets.is_empty() { 0 } else { objects.len() };
        let mut children: Vec<Vec<&mut Value>> = plan.iter().map(|e| Vec::with_capacity(width(e))).collect();
        for object in objects {
            if self.asked.filled {
                object.shift_remove(FILLER);
            }
            if !in_order(object, plan) {
                // Rebuilt in the plan's order (keys not in it last): one
                // lookup a key.
                let mut rest = std::mem::take(&mut *object);
                object.reserve(rest.len());
                for entry in plan {
                    if let Some((key, value)) = rest.swap_remove_entry(entry.key) {
                        object.insert(key, value);
                    }
                }
                object.extend(rest);
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
        let mut spread = HashSet::new();
        for set in sets {
            self.collect(set, ty, &mut plan, &mut spread);
        }
        plan
    }

    /// CollectFields: appends `set`'s fields to `plan`, a key that is there
    /// already merging into it. A fragment spread again at the same level
    /// adds nothing new, so each is walked once (`spread`): the walk stays
    /// linear in the document however fragments nest.
    fn collect(&self, set: &'a SelectionSet, ty: &str, plan: &mut Vec<Entry<'a>>, spread: &mut HashSet<&'a str>) {
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
                    if !spread.insert(name) {
                        continue;
                    }
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

/// Finds the selection sets that could leave an object with no field
/// ([`Asked::fill`]), by where each starts in the document.
struct Fill<'a> {
    shape: &'a Shape,
    asked: &'a Asked,
    /// Whether a fragment, on objects of a type, always gives a field.
    sure: HashMap<(&'a str, &'a str), bool>,
    sets: HashSet<Pos>,
    /// The document has a response key `FILLER` of its own.
    taken: bool,
}

impl<'a> Fill<'a> {
    /// Visits the fields of `set`, on objects of type `ty`, and the
    /// selection sets below them (fragment spreads' are visited on their
    /// own, once).
    fn set(&mut self, set: &'a SelectionSet, ty: &'a str) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    self.taken |= field.response_key().node == FILLER;
                    let sub = &field.selection_set;
                    if sub.node.items.is_empty() {
                        // A leaf: no lookup.
                        continue;
                    }
                    let Some(returns) = self.shape.returns(ty, field.name.node.as_str()) else { continue };
                    if self.shape.possible(returns).is_empty() {
                        continue;
                    }
                    if !self.surely(&sub.node, returns) {
                        self.sets.insert(sub.pos);
                    }
                    self.set(&sub.node, returns);
                }
                Selection::InlineFragment(inline) => {
                    let on = inline.node.type_condition.as_ref().map_or(ty, |c| c.node.on.node.as_str());
                    self.set(&inline.node.selection_set.node, on);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// Whether `set` gives at least one field for every object type `ty`
    /// may be (a field of its own not skipped, or a fragment not skipped
    /// that applies to all of them and surely gives one).
    fn surely(&mut self, set: &'a SelectionSet, ty: &'a str) -> bool {
        set.items.iter().any(|item| {
            if self.asked.skipped(item.node.directives()) {
                return false;
            }
            match &item.node {
                Selection::Field(_) => true,
                Selection::InlineFragment(inline) => {
                    let on = inline.node.type_condition.as_ref().map(|c| c.node.on.node.as_str());
                    on.is_none_or(|on| self.covers(on, ty)) && self.surely(&inline.node.selection_set.node, ty)
                }
                Selection::FragmentSpread(spread) => {
                    let Some((name, fragment)) =
                        self.asked.doc.fragments.get_key_value(spread.node.fragment_name.node.as_str())
                    else {
                        return false;
                    };
                    let key = (name.as_str(), ty);
                    if let Some(sure) = self.sure.get(&key) {
                        return *sure;
                    }
                    // A cycle was refused before; false while it is worked out.
                    self.sure.insert(key, false);
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    let sure = self.covers(on, ty) && self.surely(&fragment.node.selection_set.node, ty);
                    self.sure.insert(key, sure);
                    sure
                }
            }
        })
    }

    /// Whether a fragment on `on` applies to every object type of `ty`.
    fn covers(&self, on: &str, ty: &str) -> bool {
        on == ty || {
            let of_on = self.shape.possible(on);
            self.shape.possible(ty).iter().all(|t| of_on.contains(t))
        }
    }
}

/// Calls `f` on every selection set of a field below `set`, inline
/// fragments' included.
fn each_set(set: &mut Positioned<SelectionSet>, f: &mut impl FnMut(&mut Positioned<SelectionSet>)) {
    for item in &mut set.node.items {
        match &mut item.node {
            Selection::Field(field) => {
                let sub = &mut field.node.selection_set;
                if !sub.node.items.is_empty() {
                    f(sub);
                    each_set(sub, f);
                }
            }
            Selection::InlineFragment(inline) => each_set(&mut inline.node.selection_set, f),
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Which of `possible` (an interface's or union's object types, with
/// their `plans`) an object is: the answer does not say unless it asked
/// for `__typename`. A type fits when its plan holds all of the object's
/// keys and its `__typename` fields, if any, name it; of those that fit,
/// the first the object is already in order for (the engine writes fields
/// that do not wait in order), else the first.
fn pick(object: &IndexMap<Name, Value>, possible: &[String], plans: &[Vec<Entry>]) -> Option<usize> {
    if let Some(Value::String(ty)) = object.get(FILLER) {
        return possible.iter().position(|p| p == ty);
    }
    let fits = |(ty, plan): &(&String, &Vec<Entry>)| {
        object.keys().all(|k| plan.iter().any(|e| same(e.key, k)))
            && plan.iter().filter(|e| e.field == "__typename").all(|e| match object.get(e.key) {
                Some(Value::String(name)) => name == *ty,
                _ => true,
            })
    };
    let fitting: Vec<usize> =
        possible.iter().zip(plans).enumerate().filter(|(_, candidate)| fits(candidate)).map(|(i, _)| i).collect();
    fitting.iter().copied().find(|&i| in_order(object, &plans[i])).or(fitting.first().copied())
}

/// A place in the answer as text: its keys, and `#` and an index for a
/// list's item (no GraphQL name holds `.` or starts with `#`).
fn place(path: &[PathSegment]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            PathSegment::Field(key) => text.push_str(key),
            PathSegment::Index(n) => text.push_str(&format!("#{n}")),
        }
        text.push('.');
    }
    text
}

/// Sets the place `path` leads to null (adding the key if it is not there;
/// an empty path: `data`). The engine's null for an object with no field
/// left becomes the object it stands for.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        *data = Value::Null;
        return;
    };
    let mut at = data;
    for step in parents {
        at = match (at, step) {
            (Value::Object(object), PathSegment::Field(key)) => match object.get_mut(key.as_str()) {
                Some(value) => value,
                None => return,
            },
            (Value::List(items), PathSegment::Index(n)) => match items.get_mut(*n) {
                Some(value) => value,
                None => return,
            },
            _ => return,
        };
    }
    if matches!((&*at, last), (Value::Null, PathSegment::Field(_))) {
        *at = Value::Object(IndexMap::new());
    }
    match (at, last) {
        (Value::Object(object), PathSegment::Field(key)) => {
            object.insert(Name::new(key), Value::Null);
        }
        (Value::List(items), PathSegment::Index(n)) => {
            if let Some(item) = items.get_mut(*n) {
                *item = Value::Null;
            }
        }
        _ => {}
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
