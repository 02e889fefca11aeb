//! The work a request may ask for, measured on the document as written,
//! before the engine sees it.
//!
//! The engine's own checks (depth, complexity) walk the document with every
//! fragment spread expanded in place, and add with plain arithmetic: a few
//! hundred bytes whose fragments spread each other twice per level ask it
//! for 2^24 fields (seconds of CPU and gigabytes before it refuses), and a
//! nine-deep nest of `followers(first: 100)` wraps its sum round to a small
//! number. Here each fragment is measured once and its measure reused
//! wherever it is spread (so measuring is linear in the document's size),
//! and every sum saturates. What is measured:
//!
//! - complexity: each field counts 1 plus its children; a connection field
//!   (one that takes `first`/`last`) counts its children once per item it
//!   may return (`pagination::cost`, the rule the engine applies too),
//!   plus `pagination::SCAN_COST` for a list that may read its whole
//!   index range (a `filter` given, `knownFollowers`);
//! - depth: fields nested in fields;
//! - root fields and aliases, fragments expanded (each root field is at
//!   least one statement; aliases are how one field is asked for many times);
//! - `signIn`/`signUp` fields (each costs an Argon2 hash).
//!
//! It also refuses text with a NUL byte anywhere in the arguments or the
//! variables: PostgreSQL cannot store it and SQLite would, so it is
//! refused at the edge, the same on both.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, InputValueDefinition, OperationDefinition, OperationType, Selection,
    SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::{ApiError, ApiResult};
use crate::pagination;

/// The most a request (or a whole batch) may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub complexity: usize,
    pub depth: usize,
    pub root_fields: usize,
    pub aliases: usize,
}

/// What one operation asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub complexity: usize,
    pub depth: usize,
    pub root_fields: usize,
    pub aliases: usize,
    /// `signIn` and `signUp` fields at the mutation root.
    pub sign_ins: usize,
}

impl Cost {
    /// Refuses a cost over `limits` with GRAPHQL_VALIDATION_FAILED.
    pub fn check(&self, limits: &Limits) -> ApiResult<()> {
        let over = |what: &str, asked: usize, most: usize| {
            Err(ApiError::ValidationFailed(format!("the query asks for {what} {asked}; the most allowed is {most}")))
        };
        if self.depth > limits.depth {
            return over("a depth of", self.depth, limits.depth);
        }
        if self.complexity > limits.complexity {
            return over("a complexity of", self.complexity, limits.complexity);
        }
        if self.root_fields > limits.root_fields {
            return over("root fields:", self.root_fields, limits.root_fields);
        }
        if self.aliases > limits.aliases {
            return over("aliased fields:", self.aliases, limits.aliases);
        }
        Ok(())
    }

    /// The cost of two requests of one batch, which share one budget.
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            complexity: self.complexity.saturating_add(other.complexity),
            depth: self.depth.max(other.depth),
            root_fields: self.root_fields.saturating_add(other.root_fields),
            aliases: self.aliases.saturating_add(other.aliases),
            sign_ins: self.sign_ins.saturating_add(other.sign_ins),
        }
    }
}

/// What the measure (and [`crate::order`], [`crate::variables`]) needs
/// to know of the schema: what type each field returns and where it may be
/// null, which fields are connections, which object types each type may
/// be at run time, and the types of arguments and input fields. Read from
/// the SDL once.
pub struct Shape {
    types: HashMap<String, TypeShape>,
    /// Each input object type's fields.
    inputs: HashMap<String, HashMap<String, InputShape>>,
    /// Each enum type's values.
    enums: HashMap<String, HashSet<String>>,
    query: String,
    mutation: String,
}

/// An argument's or an input field's type, and whether it has a default.
struct InputShape {
    ty: Type,
    default: bool,
}

#[derive(Default)]
struct TypeShape {
    fields: HashMap<String, FieldShape>,
    /// The object types a value of this type may be: itself for an object
    /// type, its implementations for an interface, its members for a union.
    possible: Vec<String>,
}

struct FieldShape {
    /// The named type under any list and non-null wrappers.
    returns: String,
    /// Whether each level may be null, outermost first: `[Post!]!` is
    /// `[false, false]`, `User` is `[true]`.
    nullable: Vec<bool>,
    connection: bool,
    args: HashMap<String, InputShape>,
}

impl Shape {
    pub fn from_sdl(sdl: &str) -> Self {
        let mut shape = Shape {
            types: HashMap::new(),
            inputs: HashMap::new(),
            enums: HashMap::new(),
            query: "Query".into(),
            mutation: "Mutation".into(),
        };
        let inputs = |values: &[Positioned<InputValueDefinition>]| {
            let shape =
                |v: &InputValueDefinition| InputShape { ty: v.ty.node.clone(), default: v.default_value.is_some() };
            values.iter().map(|v| (v.node.name.node.to_string(), shape(&v.node))).collect()
        };
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else { return shape };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Schema(schema) => {
                    if let Some(q) = &schema.node.query {
                        shape.query = q.node.to_string();
                    }
                    if let Some(m) = &schema.node.mutation {
                        shape.mutation = m.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let name = ty.node.name.node.to_string();
                    let fields = match &ty.node.kind {
                        TypeKind::Object(o) => {
                            shape.types.entry(name.clone()).or_default().possible.push(name.clone());
                            for interface in &o.implements {
                                shape.types.entry(interface.node.to_string()).or_default().possible.push(name.clone());
                            }
                            &o.fields
                        }
                        TypeKind::Interface(i) => &i.fields,
                        TypeKind::InputObject(input) => {
                            shape.inputs.insert(name, inputs(&input.fields));
                            continue;
                        }
                        TypeKind::Union(u) => {
                            let members = u.members.iter().map(|m| m.node.to_string());
                            shape.types.entry(name).or_default().possible.extend(members);
                            continue;
                        }
                        TypeKind::Enum(e) => {
                            shape.enums.insert(name, e.values.iter().map(|v| v.node.value.node.to_string()).collect());
                            continue;
                        }
                        _ => continue,
                    };
                    let entry = shape.types.entry(name).or_default();
                    for field in fields {
                        let args: Vec<&str> = field.node.arguments.iter().map(|a| a.node.name.node.as_str()).collect();
                        let mut base = &field.node.ty.node.base;
                        let mut nullable = vec![field.node.ty.node.nullable];
                        while let async_graphql::parser::types::BaseType::List(inner) = base {
                            nullable.push(inner.nullable);
                            base = &inner.base;
                        }
                        let returns = match base {
                            async_graphql::parser::types::BaseType::Named(name) => name.to_string(),
                            async_graphql::parser::types::BaseType::List(_) => String::new(),
                        };
                        let connection = args.contains(&"first") && args.contains(&"last");
                        let args = inputs(&field.node.arguments);
                        let field_shape = FieldShape { returns, nullable, connection, args };
                        entry.fields.insert(field.node.name.node.to_string(), field_shape);
                    }
                }
                _ => {}
            }
        }
        shape
    }

    fn field(&self, ty: &str, field: &str) -> Option<&FieldShape> {
        self.types.get(ty)?.fields.get(field)
    }

    /// The named type `field` of `ty` returns (`None`: no such field, or
    /// an introspection field, which the SDL does not hold).
    pub fn returns(&self, ty: &str, field: &str) -> Option<&str> {
        self.field(ty, field).map(|f| f.returns.as_str())
    }

    /// Whether `field` of `ty` may be null at each level, outermost first
    /// (one level for a named type, one more for each list around it).
    pub fn nullable(&self, ty: &str, field: &str) -> Option<&[bool]> {
        self.field(ty, field).map(|f| f.nullable.as_slice())
    }

    /// The type of argument `arg` of `field` of `ty`, and whether it has a
    /// default.
    pub fn argument(&self, ty: &str, field: &str, arg: &str) -> Option<(&Type, bool)> {
        self.field(ty, field)?.args.get(arg).map(|a| (&a.ty, a.default))
    }

    /// The type of field `field` of input object type `input`, and whether
    /// it has a default.
    pub fn input_field(&self, input: &str, field: &str) -> Option<(&Type, bool)> {
        self.inputs.get(input)?.get(field).map(|f| (&f.ty, f.default))
    }

    /// Each field of input object type `input`: its name, type and whether
    /// it has a default (`None`: not an input object type).
    pub fn input_fields(&self, input: &str) -> Option<impl Iterator<Item = (&str, &Type, bool)>> {
        Some(self.inputs.get(input)?.iter().map(|(name, f)| (name.as_str(), &f.ty, f.default)))
    }

    /// The values of enum type `ty` (`None`: not an enum type).
    pub fn enum_values(&self, ty: &str) -> Option<&HashSet<String>> {
        self.enums.get(ty)
    }

    /// The object types a value of `ty` may be; empty for a scalar, an
    /// enum or a type the SDL does not hold.
    pub fn possible(&self, ty: &str) -> &[String] {
        self.types.get(ty).map_or(&[], |t| t.possible.as_slice())
    }

    /// The root type of an operation of type `op`.
    pub fn root(&self, op: OperationType) -> &str {
        match op {
            OperationType::Mutation => &self.mutation,
            _ => &self.query,
        }
    }
}

/// Measures the operation a request would run (`operation_name` picks it
/// when the document has several), and checks every argument and variable
/// for NUL bytes. A document the engine would refuse anyway (a fragment
/// that spreads itself, an unknown fragment, no such operation) is refused
/// here with the code the engine would give.
pub fn measure(
    shape: &Shape,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> ApiResult<Cost> {
    refuse_nul(doc, variables)?;
    let op = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .get(name)
            .ok_or_else(|| ApiError::ValidationFailed(format!("the document has no operation named `{name}`")))?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().expect("one operation"),
        (DocumentOperations::Multiple(_), None) => {
            return Err(ApiError::ValidationFailed("the document has several operations: name one".into()))
        }
    };
    let mut walk = Walk { shape, doc, op: &op.node, variables, memo: HashMap::new(), open: Vec::new(), level: 0 };
    let sum = walk.set(&op.node.selection_set.node, Some(shape.root(op.node.ty)))?;
    // Every fragment counts, spread or not: the engine validates them all.
    for name in doc.fragments.keys() {
        walk.fragment(name)?;
    }
    Ok(Cost {
        complexity: sum.complexity,
        depth: sum.depth,
        root_fields: sum.fields,
        aliases: sum.aliases,
        sign_ins: if op.node.ty == OperationType::Mutation { sum.sign_ins } else { 0 },
    })
}

/// The deepest selection sets may nest, counting each fragment spread as
/// a level: the walks here recurse that deep before the engine sees the
/// document (it refuses more than 32 itself). Without it a chain of a few
/// thousand fragments, each spreading the next (190 KB), overflowed a
/// worker's stack and took the server down.
pub const MAX_NESTING: usize = 128;

/// The deepest a document's brackets (`{`, `[`, `(`) may nest in its text,
/// checked before it is parsed ([`refuse_deep_text`]): room for
/// [`MAX_NESTING`] selection sets with arguments inside, and for values
/// (lists, input objects) far deeper than any input type here.
pub const MAX_TEXT_NESTING: usize = 2 * MAX_NESTING;

/// Refuses a document whose brackets nest deeper than
/// [`MAX_TEXT_NESTING`], before it is parsed: pest, under async-graphql's
/// parser, recurses several frames for each level of a value or a
/// selection set while it matches the text, before the parser's own limit
/// (on selection sets only) applies; a 10 KB list of 5,000 nested lists in
/// an argument overflowed a worker's stack and aborted the server. One
/// pass over the bytes; brackets inside strings, block strings and
/// comments do not count.
pub fn refuse_deep_text(query: &str) -> ApiResult<()> {
    let bytes = query.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_TEXT_NESTING {
                    return Err(ApiError::ValidationFailed(format!(
                        "the document nests brackets deeper than {MAX_TEXT_NESTING}"
                    )));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

pub fn too_deep() -> ApiError {
    ApiError::ValidationFailed(format!("selections nest deeper than {MAX_NESTING}, fragments included"))
}

/// The measure of one selection set, fragments expanded.
#[derive(Clone, Copy, Default)]
struct Sum {
    complexity: usize,
    depth: usize,
    aliases: usize,
    /// Fields at this level (for the root: the root field count).
    fields: usize,
    /// `signIn`/`signUp` fields at this level.
    sign_ins: usize,
}

impl Sum {
    fn add(&mut self, other: Sum) {
        self.complexity = self.complexity.saturating_add(other.complexity);
        self.depth = self.depth.max(other.depth);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.fields = self.fields.saturating_add(other.fields);
        self.sign_ins = self.sign_ins.saturating_add(other.sign_ins);
    }
}

struct Walk<'a> {
    shape: &'a Shape,
    doc: &'a ExecutableDocument,
    op: &'a OperationDefinition,
    variables: &'a Variables,
    memo: HashMap<&'a str, Sum>,
    /// Fragments being measured (a spread of one of these is a cycle).
    open: Vec<&'a str>,
    /// Selection sets open, fragments' included.
    level: usize,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet, ty: Option<&str>) -> ApiResult<Sum> {
        self.level += 1;
        let sum = match self.level > MAX_NESTING {
            true => Err(too_deep()),
            false => self.set_within(set, ty),
        };
        self.level -= 1;
        sum
    }

    fn set_within(&mut self, set: &'a SelectionSet, ty: Option<&str>) -> ApiResult<Sum> {
        let mut sum = Sum::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let shape = ty.and_then(|t| self.shape.field(t, name));
                    let children = self.set(&field.selection_set.node, shape.map(|s| s.returns.as_str()))?;
                    let complexity = match shape {
                        Some(s) if s.connection => pagination::scan_cost(
                            self.int_arg(field, "first"),
                            self.int_arg(field, "last"),
                            name == "knownFollowers" || field.arguments.iter().any(|(n, _)| n.node == "filter"),
                            children.complexity,
                        ),
                        _ => children.complexity.saturating_add(1),
                    };
                    sum.add(Sum {
                        complexity,
                        depth: children.depth.saturating_add(1),
                        aliases: children.aliases.saturating_add(field.alias.is_some() as usize),
                        fields: 1,
                        sign_ins: matches!(name, "signIn" | "signUp") as usize,
                    });
                }
                Selection::FragmentSpread(spread) => {
                    let inner = self.fragment(spread.node.fragment_name.node.as_str())?;
                    sum.add(inner);
                }
                Selection::InlineFragment(inline) => {
                    let on = inline.node.type_condition.as_ref().map(|c| c.node.on.node.as_str()).or(ty);
                    let inner = self.set(&inline.node.selection_set.node, on)?;
                    sum.add(inner);
                }
            }
        }
        Ok(sum)
    }

    fn fragment(&mut self, name: &str) -> ApiResult<Sum> {
        if let Some(sum) = self.memo.get(name) {
            return Ok(*sum);
        }
        let Some((key, fragment)) = self.doc.fragments.get_key_value(name) else {
            return Err(ApiError::ValidationFailed(format!("unknown fragment `{name}`")));
        };
        let key: &'a str = key.as_str();
        if self.open.contains(&key) {
            return Err(ApiError::ValidationFailed(format!("fragment `{name}` spreads itself")));
        }
        self.open.push(key);
        let on = fragment.node.type_condition.node.on.node.as_str();
        let sum = self.set(&fragment.node.selection_set.node, Some(on));
        self.open.pop();
        let sum = sum?;
        self.memo.insert(key, sum);
        Ok(sum)
    }

    /// An Int argument given literally or through a variable (its value, or
    /// its default); `None` when absent or null.
    fn int_arg(&self, field: &async_graphql::parser::types::Field, name: &str) -> Option<i32> {
        let value = &field.arguments.iter().find(|(n, _)| n.node == name)?.1.node;
        let number = match value {
            Value::Number(n) => n.as_i64(),
            Value::Variable(var) => match self.variables.get(var) {
                Some(ConstValue::Number(n)) => n.as_i64(),
                Some(_) => None,
                None => self
                    .op
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == *var)
                    .and_then(|d| d.node.default_value.as_ref())
                    .and_then(|v| match &v.node {
                        ConstValue::Number(n) => n.as_i64(),
                        _ => None,
                    }),
            },
            _ => None,
        }?;
        Some(number.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
    }
}

/// BAD_USER_INPUT for a NUL byte in any string of the document's arguments
/// (operations, fragments, directives, variable defaults) or of the
/// variables.
fn refuse_nul(doc: &ExecutableDocument, variables: &Variables) -> ApiResult<()> {
    let nul = || ApiError::bad_input("text input must not contain NUL bytes (U+0000)");
    if variables.iter().any(|(_, v)| const_has_nul(v)) {
        return Err(nul());
    }
    let mut sets: Vec<&SelectionSet> = Vec::new();
    for (_, op) in doc.operations.iter() {
        if op
            .node
            .variable_definitions
            .iter()
            .any(|d| d.node.default_value.as_ref().is_some_and(|v| const_has_nul(&v.node)))
        {
            return Err(nul());
        }
        if directives_have_nul(&op.node.directives) {
            return Err(nul());
        }
        sets.push(&op.node.selection_set.node);
    }
    for fragment in doc.fragments.values() {
        if directives_have_nul(&fragment.node.directives) {
            return Err(nul());
        }
        sets.push(&fragment.node.selection_set.node);
    }
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if field.node.arguments.iter().any(|(_, v)| value_has_nul(&v.node))
                        || directives_have_nul(&field.node.directives)
                    {
                        return Err(nul());
                    }
                    sets.push(&field.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    if directives_have_nul(&spread.node.directives) {
                        return Err(nul());
                    }
                }
                Selection::InlineFragment(inline) => {
                    if directives_have_nul(&inline.node.directives) {
                        return Err(nul());
                    }
                    sets.push(&inline.node.selection_set.node);
                }
            }
        }
    }
    Ok(())
}

fn directives_have_nul(directives: &[Positioned<async_graphql::parser::types::Directive>]) -> bool {
    directives.iter().any(|d| d.node.arguments.iter().any(|(_, v)| value_has_nul(&v.node)))
}

fn value_has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Enum(name) | Value::Variable(name) => name_has_nul(name),
        Value::List(items) => items.iter().any(value_has_nul),
        Value::Object(fields) => fields.iter().any(|(k, v)| name_has_nul(k) || value_has_nul(v)),
        _ => false,
    }
}

fn const_has_nul(value: &ConstValue) -> bool {
    match value {
        ConstValue::String(s) => s.contains('\0'),
        ConstValue::Enum(name) => name_has_nul(name),
        ConstValue::List(items) => items.iter().any(const_has_nul),
        ConstValue::Object(fields) => fields.iter().any(|(k, v)| name_has_nul(k) || const_has_nul(v)),
        _ => false,
    }
}

fn name_has_nul(name: &Name) -> bool {
    name.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_are_counted_outside_strings_and_comments_only() {
        let deep = |n: usize, open: &str, close: &str| format!("{{ f(a: {}{}) }}", open.repeat(n), close.repeat(n));
        // `{ f(` is two levels: the list may take the rest.
        assert!(refuse_deep_text(&deep(MAX_TEXT_NESTING - 2, "[", "]")).is_ok());
        assert!(refuse_deep_text(&deep(MAX_TEXT_NESTING - 1, "[", "]")).is_err());
        assert!(refuse_deep_text(&deep(MAX_TEXT_NESTING - 1, "{a: ", "}")).is_err());
        // Closed brackets give their level back.
        let wide = "{ a { b } }".repeat(10_000);
        assert!(refuse_deep_text(&wide).is_ok());
        // Inside strings, block strings (with an escaped triple quote) and
        // comments, brackets are text.
        let many = "[".repeat(10_000);
        for text in [
            format!("{{ f(a: \"{many}\") }}"),
            format!("{{ f(a: \"\\\"{many}\") }}"),
            format!("{{ f(a: \"\"\"{many} \\\"\"\" {many}\"\"\") }}"),
            format!("# {many}\n{{ f }}"),
        ] {
            assert!(refuse_deep_text(&text).is_ok(), "{:.40}", text);
        }
        // A string cut short by a line end does not hide what follows.
        assert!(refuse_deep_text(&format!("{{ f(a: \"x\n{many}")).is_err());
        assert!(refuse_deep_text(&format!("{{ f(a: \"\"\"x\"\"\" b: {many}")).is_err());
    }

    fn shape() -> Shape {
        Shape::from_sdl(&crate::schema::sdl())
    }

    fn cost(query: &str) -> ApiResult<Cost> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        measure(&shape(), &doc, None, &Variables::default())
    }

    #[test]
    fn counts_connections_by_their_page_size() {
        let c = cost("{ users(first: 10) { nodes { username } } }").unwrap();
        assert_eq!(c.complexity, 10 * 2 + 1);
        let c = cost("{ users { nodes { username } } }").unwrap();
        assert_eq!(c.complexity, 20 * 2 + 1, "the default page");
        assert_eq!(c.depth, 3);
    }

    #[test]
    fn fragments_spreading_each_other_are_measured_expanded_in_linear_time() {
        let mut query = String::from("query { viewer { ...F0 } }");
        for i in 0..70 {
            query.push_str(&format!(" fragment F{i} on User {{ ...F{} ...F{} }}", i + 1, i + 1));
        }
        query.push_str(" fragment F70 on User { username }");
        let c = cost(&query).unwrap();
        assert_eq!(c.complexity, usize::MAX, "2^70 fields: saturated, not wrapped");
    }

    #[test]
    fn nested_connections_saturate() {
        let mut query = String::from("id");
        for _ in 0..12 {
            query = format!("followers(first: 100) {{ nodes {{ {query} }} }}");
        }
        let c = cost(&format!("{{ viewer {{ {query} }} }}")).unwrap();
        assert_eq!(c.complexity, usize::MAX);
    }

    #[test]
    fn cycles_and_nul_are_refused() {
        assert!(matches!(
            cost("query { viewer { ...A } } fragment A on User { ...B } fragment B on User { ...A }"),
            Err(ApiError::ValidationFailed(_))
        ));
        assert!(matches!(cost(r#"{ user(username: "a\u0000b") { id } }"#), Err(ApiError::BadUserInput(_))));
    }

    #[test]
    fn counts_root_fields_aliases_and_sign_ins() {
        let c = cost("{ a: viewer { id } b: viewer { id } ...R } fragment R on Query { c: viewer { id } }").unwrap();
        assert_eq!((c.root_fields, c.aliases), (3, 3));
        let q = r#"mutation { a: signIn(input: {login: "x", password: "y"}) { token } b: signIn(input: {login: "x", password: "y"}) { token } }"#;
        assert_eq!(cost(q).unwrap().sign_ins, 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever a client sends as a document: it parses or not, and
        /// what parses is measured, without a panic and in bounded time.
        #[test]
        fn any_document_is_parsed_and_measured_without_panic(
            query in "((query|mutation|fragment F[0-2]|on (User|Query)|\\.\\.\\.F[0-2]|\\.\\.\\. on User|[{}():$!@]|(users|viewer|followers|nodes|id|signIn|a)|first: ?(-?[0-9]{1,12}|\\$v)|\"[a-z\\\\u0]{0,6}\"|[a-z]{1,3}:) ?){0,60}",
            first in proptest::option::of(proptest::num::i64::ANY),
        ) {
            let shape = shape();
            if let Ok(doc) = async_graphql::parser::parse_query(&query) {
                let variables = Variables::from_json(serde_json::json!({ "v": first }));
                let _ = measure(&shape, &doc, None, &variables);
            }
        }

        /// Any JSON body is a request, a batch, or refused; never a panic.
        #[test]
        fn any_body_is_read_without_panic(body in "[\\[\\]{}\":,a-z0-9 ]{0,80}") {
            let _ = serde_json::from_str::<async_graphql::BatchRequest>(&body);
        }
    }
}
