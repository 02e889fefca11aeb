//! The committed schema.graphql is what the code generates, and it honours
//! the shared API contract.

use std::path::Path;

/// Regenerate with `UPDATE_SCHEMA=1 cargo test schema` (or
/// `cargo run -- print-schema > schema.graphql`).
#[test]
fn schema_graphql_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let generated = api::schema::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == generated, "schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test schema` and commit it");
}

/// Runs `../shared/tools/check-contract` where the shared folder is present
/// (it always is in CI, which also runs the tool directly).
#[test]
fn schema_honours_the_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tool = root.join("../shared/tools/check-contract");
    if !tool.exists() {
        eprintln!("skipped: {} not found", tool.display());
        return;
    }
    let out = std::process::Command::new("python3")
        .arg(&tool)
        .arg(root.join("schema.graphql"))
        .arg(root.join("../shared/contract.graphql"))
        .output()
        .expect("run check-contract");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check-contract failed:\n{text}");
}

/// What GraphiQL (or any client) learns by introspection: every type, field,
/// argument, input field and enum value of ours carries a description. The
/// built-in scalars and the introspection types are the engine's.
#[tokio::test]
async fn every_part_of_the_schema_is_described() {
    const INTROSPECTION: &str = "{ __schema { types { kind name description
        fields(includeDeprecated: true) { name description args { name description } }
        inputFields { name description }
        enumValues(includeDeprecated: true) { name description } } } }";
    const BUILT_IN: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];
    let app = crate::helpers::spawn_app().await;
    let data = app.ok(None, INTROSPECTION, serde_json::json!({})).await;
    let described = |v: &serde_json::Value| v["description"].as_str().is_some_and(|d| !d.trim().is_empty());
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    // (kind, described, total) in the order of the report.
    let mut counts =
        [("types", 0, 0), ("fields", 0, 0), ("arguments", 0, 0), ("input fields", 0, 0), ("enum values", 0, 0)];
    let mut missing = Vec::new();
    let mut tally = |i: usize, item: &serde_json::Value, path: String| {
        counts[i].2 += 1;
        if described(item) {
            counts[i].1 += 1;
        } else {
            missing.push(path);
        }
    };
    for ty in list(&data["__schema"]["types"]) {
        let name = ty["name"].as_str().unwrap_or_default().to_owned();
        if name.starts_with("__") || BUILT_IN.contains(&name.as_str()) {
            continue;
        }
        tally(0, &ty, format!("type {name}"));
        for field in list(&ty["fields"]) {
            let field_name = field["name"].as_str().unwrap_or_default().to_owned();
            tally(1, &field, format!("field {name}.{field_name}"));
            for arg in list(&field["args"]) {
                tally(2, &arg, format!("argument {name}.{field_name}({})", arg["name"].as_str().unwrap_or_default()));
            }
        }
        for input in list(&ty["inputFields"]) {
            tally(3, &input, format!("input field {name}.{}", input["name"].as_str().unwrap_or_default()));
        }
        for value in list(&ty["enumValues"]) {
            tally(4, &value, format!("enum value {name}.{}", value["name"].as_str().unwrap_or_default()));
        }
    }
    let report: Vec<String> = counts.iter().map(|(what, yes, all)| format!("{what} {yes}/{all}")).collect();
    println!("described: {}", report.join(", "));
    assert!(
        missing.is_empty(),
        "{} without a description ({}):\n{}",
        missing.len(),
        report.join(", "),
        missing.join("\n")
    );
}
