//! A request's variables, checked before the engine runs, where
//! async-graphql 7 does not:
//!
//! - [`coerce`]: defaults filled in, and each required variable not sent
//!   refused;
//! - [`check_values`]: each value fits its variable's type (spec 6.1.2,
//!   CoerceVariableValues). For a document the engine validated before it
//!   stands in for the one part of the engine's validation that depends on
//!   the request (such documents run in its fast mode: `schema::Schemas`).
//!   The engine checks a value only against the arguments it is used in,
//!   so it let null through for a non-null variable used where null is
//!   allowed (`query($x: FollowFilter!) { .. following(filter: $x) .. }`);
//!   checked for every document, such a request is refused whether its
//!   document is new or known;
//! - [`check_usages`]: a variable used only where its type fits (spec
//!   5.8.5, "All Variable Usages Are Allowed"), and not sent as null where
//!   only its default made it fit. The engine has the rule,
//!   but its visitor chain never calls it: `VisitorCons` (validation/
//!   visitor.rs) forwards every hook but `enter_input_value`, the one the
//!   rule listens on, so `query($u: String) { user(username: $u) { id } }`
//!   passed validation and failed in the resolver when `$u` was null.
//!
//! Each answers GRAPHQL_VALIDATION_FAILED, a request error: nothing runs.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, OperationDefinition, Selection, SelectionSet, Type, VariableDefinition,
};
use async_graphql::{Name, Pos, Positioned, ServerError, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::budget::{too_deep, Shape, MAX_NESTING};
use crate::error::ApiError;

/// The most errors a request is told of (graphql-js's cap).
const MAX_ERRORS: usize = 50;

/// Gives each variable that `op` declares with a default, and the request
/// does not send, its default; refuses the request when a variable of a
/// non-null type is neither sent nor given a default (an error for each,
/// at most [`MAX_ERRORS`]: graphql-js's cap on a request's errors). The
/// engine does neither for `@skip(if:)` and `@include(if:)`, which read a
/// variable not sent as false (async-graphql 7.2.1: `query($all: Boolean
/// = true) { viewer @include(if: $all) { id } }` answered `null`), and a
/// required variable not sent reached a resolver as an internal error.
pub fn coerce(op: &OperationDefinition, variables: &mut Variables) -> Result<(), Vec<ServerError>> {
    let mut missing = Vec::new();
    for def in &op.variable_definitions {
        let name = &def.node.name.node;
        if variables.contains_key(name) {
            continue;
        }
        match &def.node.default_value {
            Some(default) => {
                variables.insert(name.clone(), default.node.clone());
            }
            None if !def.node.var_type.node.nullable => {
                let message = format!("the variable `${name}` of type `{}` was not sent", def.node.var_type.node);
                let mut err = ServerError::new(String::new(), Some(def.pos));
                ApiError::ValidationFailed(message).replace(&mut err);
                if missing.len() < MAX_ERRORS {
                    missing.push(err);
                }
            }
            None => {}
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// Refuses each variable whose value does not fit its declared type, as
/// the engine's validation does for every argument a variable is used in
/// (`ArgumentsOfCorrectType` with async-graphql 7.2.1's
/// `is_valid_input_value`, mirrored here rule for rule, so that a document
/// gives the same answer whether it is validated again or not): null only
/// where the type may be null; a list, or a single value for a list type;
/// Int an integer, Float a number, String a string, Boolean a boolean, ID
/// a string or an integer; an enum one of its values; an input object its
/// fields, each required one given, no other. Like the engine, it lets
/// through any value for a custom scalar (`DateTime`: its resolver's
/// parse refuses a bad one, BAD_USER_INPUT) and a value that is not an
/// object for an input object (refused the same way).
///
/// Run after [`check_usages`] (on a known document, that passed once): a
/// variable's type then fits every place it is used, so a value that fits
/// it fits them too. A type the schema does not have fits anything here
/// (the engine refuses the document).
pub fn check_values(shape: &Shape, op: &OperationDefinition, variables: &Variables) -> Result<(), Vec<ServerError>> {
    let mut errors = Vec::new();
    for def in &op.variable_definitions {
        let name = &def.node.name.node;
        let Some(value) = variables.get(name) else { continue };
        let ty = &def.node.var_type.node;
        if let Some(reason) = misfit(shape, ty, value) {
            let message = format!("the variable `${name}` is not a valid `{ty}`: {reason}");
            let mut err = ServerError::new(String::new(), Some(def.pos));
            ApiError::ValidationFailed(message).replace(&mut err);
            if errors.len() < MAX_ERRORS {
                errors.push(err);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Why `value` is not a valid `ty`, or `None` when it is.
fn misfit(shape: &Shape, ty: &Type, value: &ConstValue) -> Option<String> {
    if let ConstValue::Null = value {
        return (!ty.nullable).then(|| "expected a value, not null".to_owned());
    }
    let name = match &ty.base {
        BaseType::List(item) => {
            return match value {
                ConstValue::List(items) => items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| misfit(shape, item, v).map(|reason| format!("item {i}: {reason}"))),
                _ => misfit(shape, item, value),
            };
        }
        BaseType::Named(name) => name.as_str(),
    };
    let fits = match name {
        "Int" => matches!(value, ConstValue::Number(n) if n.is_i64()),
        "Float" => matches!(value, ConstValue::Number(_)),
        "String" => matches!(value, ConstValue::String(_)),
        "Boolean" => matches!(value, ConstValue::Boolean(_)),
        "ID" => matches!(value, ConstValue::String(_)) || matches!(value, ConstValue::Number(n) if n.is_i64()),
        _ => {
            if let Some(values) = shape.enum_values(name) {
                let given = match value {
                    ConstValue::Enum(v) => v.as_str(),
                    ConstValue::String(v) => v.as_str(),
                    _ => return Some(format!("expected a value of `{name}`")),
                };
                return (!values.contains(given))
                    .then(|| format!("`{name}` has no value `{}`", crate::error::quoted(given)));
            }
            let (Some(fields), ConstValue::Object(object)) = (shape.input_fields(name), value) else {
                return None;
            };
            for (field, ty, default) in fields {
                match object.get(field) {
                    Some(v) => {
                        if let Some(reason) = misfit(shape, ty, v) {
                            return Some(format!("field `{field}`: {reason}"));
                        }
                    }
                    None if !ty.nullable && !default => {
                        return Some(format!("field `{field}` of type `{ty}` is required but not given"));
                    }
                    None => {}
                }
            }
            if let Some(unknown) = object.keys().find(|k| shape.input_field(name, k).is_none()) {
                return Some(format!("`{name}` has no field `{}`", crate::error::quoted(unknown)));
            }
            true
        }
    };
    (!fits).then(|| format!("expected a value of `{name}`"))
}

/// Whether a nullable variable was sent as null: only then can a known
/// document's usages stop fitting, where a default (the variable's or the
/// place's) let it stand for a value ([`check_usages`] walks it again).
pub fn sends_null(op: &OperationDefinition, variables: &Variables) -> bool {
    op.variable_definitions
        .iter()
        .any(|d| d.node.var_type.node.nullable && matches!(variables.get(&d.node.name.node), Some(ConstValue::Null)))
}

/// Refuses each use of a variable where its type does not fit: a nullable
/// variable where a value is required (unless the variable has a default,
/// or the place does, and the request did not send it as null: a default
/// stands in only for a variable not sent), or a variable of another type.
/// Walks `op` once, each fragment once. `variables` as [`coerce`] left
/// them (defaults filled in).
pub fn check_usages(
    shape: &Shape,
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    variables: &Variables,
) -> Result<(), Vec<ServerError>> {
    if op.variable_definitions.is_empty() {
        return Ok(());
    }
    // By name: a document may declare thousands.
    let defined = op.variable_definitions.iter().map(|d| (&d.node.name.node, &d.node)).collect();
    let mut walk = Usages {
        shape,
        doc,
        defined,
        variables,
        spread: HashSet::new(),
        errors: Vec::new(),
        level: 0,
        too_deep: false,
    };
    walk.selection_set(&op.selection_set.node, shape.root(op.ty));
    if walk.errors.is_empty() {
        Ok(())
    } else {
        Err(walk.errors)
    }
}

struct Usages<'a> {
    shape: &'a Shape,
    doc: &'a ExecutableDocument,
    defined: HashMap<&'a Name, &'a VariableDefinition>,
    variables: &'a Variables,
    spread: HashSet<&'a Name>,
    errors: Vec<ServerError>,
    /// Selection sets open, fragments' included ([`MAX_NESTING`]).
    level: usize,
    too_deep: bool,
}

impl<'a> Usages<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, ty: &str) {
        if self.level == MAX_NESTING {
            // Told once; the walk goes no deeper anywhere.
            if !self.too_deep {
                let mut err = ServerError::new(String::new(), None);
                too_deep().replace(&mut err);
                self.errors.push(err);
                self.too_deep = true;
            }
            return;
        }
        self.level += 1;
        self.selection_set_within(set, ty);
        self.level -= 1;
    }

    fn selection_set_within(&mut self, set: &'a SelectionSet, ty: &str) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    self.directives(&field.directives);
                    let name = field.name.node.as_str();
                    for (arg, value) in &field.arguments {
                        if let Some((place, default)) = self.shape.argument(ty, name, &arg.node) {
                            self.value(&value.node, value.pos, place, default);
                        }
                    }
                    let shape = self.shape;
                    if let Some(returns) = shape.returns(ty, name) {
                        self.selection_set(&field.selection_set.node, returns);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.node.directives);
                    let name = &spread.node.fragment_name.node;
                    if self.spread.insert(name) {
                        if let Some(fragment) = self.doc.fragments.get(name) {
                            let on = fragment.node.type_condition.node.on.node.as_str();
                            self.selection_set(&fragment.node.selection_set.node, on);
                        }
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.node.directives);
                    let on = inline.node.type_condition.as_ref().map_or(ty, |c| c.node.on.node.as_str());
                    self.selection_set(&inline.node.selection_set.node, on);
                }
            }
        }
    }

    /// `@skip(if:)` and `@include(if:)` take a `Boolean!`.
    fn directives(&mut self, directives: &'a [Positioned<Directive>]) {
        for directive in directives {
            if matches!(directive.node.name.node.as_str(), "skip" | "include") {
                if let Some(value) = directive.node.get_argument("if") {
                    let place = Type { base: BaseType::Named(Name::new("Boolean")), nullable: false };
                    self.value(&value.node, value.pos, &place, false);
                }
            }
        }
    }

    /// Checks the variables in `value`, given at `pos` for a place of type
    /// `place` (`default`: the place has a default of its own).
    fn value(&mut self, value: &'a Value, pos: Pos, place: &Type, default: bool) {
        match value {
            Value::Variable(name) => {
                let Some(def) = self.defined.get(name) else { return };
                let null = matches!(self.variables.get(name), Some(ConstValue::Null));
                if !allowed(def, place, default, null) && self.errors.len() < MAX_ERRORS {
                    let message = match null && !place.nullable {
                        true => format!("the variable `${name}` is null where `{place}` is expected"),
                        false => format!(
                            "the variable `${name}` of type `{}` is used where `{place}` is expected",
                            def.var_type.node
                        ),
                    };
                    let mut err = ServerError::new(String::new(), Some(pos));
                    ApiError::ValidationFailed(message).replace(&mut err);
                    self.errors.push(err);
                }
            }
            Value::List(items) => {
                if let BaseType::List(item) = &place.base {
                    for value in items {
                        self.value(value, pos, item, false);
                    }
                }
            }
            Value::Object(fields) => {
                if let BaseType::Named(input) = &place.base {
                    for (key, value) in fields {
                        if let Some((place, default)) = self.shape.input_field(input, key) {
                            self.value(value, pos, place, default);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// IsVariableUsageAllowed (spec 5.8.5): where a value is required, a
/// nullable variable fits only with a default (its own, not null, or the
/// place's), and only when not sent as null (`null`): a default stands in
/// for a variable not sent, and null where a value is required fails the
/// argument's coercion (spec 6.4.1), which the engine does not refuse on a
/// known document.
fn allowed(def: &VariableDefinition, place: &Type, place_default: bool, null: bool) -> bool {
    let var = &def.var_type.node;
    if !place.nullable && var.nullable {
        let own = def.default_value.as_ref().is_some_and(|d| d.node != ConstValue::Null);
        if null || (!own && !place_default) {
            return false;
        }
        return fits(var, &Type { base: place.base.clone(), nullable: true });
    }
    fits(var, place)
}

/// AreTypesCompatible (spec 5.8.5).
fn fits(var: &Type, place: &Type) -> bool {
    if !place.nullable && var.nullable {
        return false;
    }
    match (&var.base, &place.base) {
        (BaseType::List(var), BaseType::List(place)) => fits(var, place),
        (BaseType::Named(var), BaseType::Named(place)) => var == place,
        _ => false,
    }
}
