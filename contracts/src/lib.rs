//! The contracts of the events that cross Bookish's queues: one JSON Schema per event type
//! and version in `events/<Type>.v<version>.schema.json` (see README.md), and the checks
//! the services' tests run against them. Producers check what they publish with `check`;
//! consumers feed themselves each schema's `examples`.

use std::path::PathBuf;

use serde_json::Value;

/// Where the schema of `kind` at `version` is kept.
pub fn schema_path(kind: &str, version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events").join(format!("{kind}.v{version}.schema.json"))
}

fn load(kind: &str, version: u32) -> Result<Value, String> {
    let path = schema_path(kind, version);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("no contract for {kind} v{version}: {} ({e})", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The schema of `kind` at `version`.
///
/// # Panics
/// When there is none: a test asking for it fails.
pub fn schema(kind: &str, version: u32) -> Value {
    load(kind, version).unwrap_or_else(|e| panic!("{e}"))
}

/// The example events the schema of `kind` at `version` gives.
///
/// # Panics
/// When there is no such schema, or it gives no examples.
pub fn examples(kind: &str, version: u32) -> Vec<Value> {
    match schema(kind, version).get("examples") {
        Some(Value::Array(examples)) if !examples.is_empty() => examples.clone(),
        _ => panic!("the contract for {kind} v{version} gives no examples"),
    }
}

/// Checks a whole event, envelope and all, against the contract its `type` and `version`
/// name. The error names every way it breaks it, each with where (a JSON pointer).
pub fn check(event: &Value) -> Result<(), String> {
    let kind = event.get("type").and_then(Value::as_str).ok_or("the event has no type")?;
    let version = event.get("version").and_then(Value::as_u64).ok_or("the event has no version")?;
    let version = u32::try_from(version).map_err(|_| format!("version {version} is out of range"))?;
    let validator = jsonschema::options()
        // Timestamps are promised as RFC 3339; 2020-12 only annotates formats unless asked.
        .should_validate_formats(true)
        .build(&load(kind, version)?)
        .map_err(|e| format!("the contract for {kind} v{version} is not a schema: {e}"))?;
    let errors: Vec<String> =
        validator.iter_errors(event).map(|e| format!("at '{}': {e}", e.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{kind} v{version} breaks its contract: {}", errors.join("; ")))
    }
}

/// Every contract kept, as (type, version), from the file names.
pub fn all() -> Vec<(String, u32)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut contracts: Vec<(String, u32)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory").file_name().to_string_lossy().into_owned())
        .map(|name| {
            let parsed = name.strip_suffix(".schema.json").and_then(|stem| stem.rsplit_once(".v"));
            let (kind, version) = parsed.unwrap_or_else(|| panic!("{name} is not named <Type>.v<version>.schema.json"));
            (kind.to_owned(), version.parse().unwrap_or_else(|_| panic!("{name}: the version is not a number")))
        })
        .collect();
    contracts.sort();
    contracts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_is_a_schema_named_after_its_type_and_version_with_examples_it_accepts() {
        let contracts = all();
        assert!(contracts.len() >= 6, "{contracts:?}");
        for (kind, version) in contracts {
            let schema = schema(&kind, version);
            jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("{kind} v{version}: {e}"));
            assert_eq!(schema["properties"]["type"]["const"], kind.as_str());
            assert_eq!(schema["properties"]["version"]["const"], version);
            assert_eq!(
                schema["additionalProperties"], false,
                "{kind} v{version}: producers send only what is declared"
            );
            for example in examples(&kind, version) {
                check(&example).unwrap_or_else(|e| panic!("an example of {e}"));
            }
        }
    }

    #[test]
    fn the_readme_names_every_contract() {
        let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
        for (kind, version) in all() {
            assert!(readme.contains(&format!("`{kind}.v{version}`")), "README.md does not list {kind} v{version}");
        }
    }

    #[test]
    fn an_event_without_a_contract_or_with_a_changed_shape_is_refused() {
        let mut event = examples("StockReserved", 1).remove(0);
        event["version"] = 2.into();
        assert!(check(&event).unwrap_err().contains("no contract for StockReserved v2"));

        let mut event = examples("StockReserved", 1).remove(0);
        event["data"]["reservedAt"] = "2026-11-27T12:00:01Z".into();
        let refused = check(&event).unwrap_err();
        assert!(refused.contains("at '/data'") && refused.contains("reservedAt"), "{refused}");

        let mut event = examples("StockReserved", 1).remove(0);
        event["occurredAt"] = "yesterday".into();
        assert!(check(&event).unwrap_err().contains("at '/occurredAt'"));
    }
}
