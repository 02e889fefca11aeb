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
