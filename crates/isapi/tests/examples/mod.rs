//! The literal wire examples of `docs/isapi.md`: every fenced block whose info string is
//! `json example=<name>` or `xml example=<name>`. Shared by the client's and the simulator's
//! golden tests, so a field name wrong on both sides (they share wire types) still fails.
#![allow(dead_code, clippy::expect_used)]

use std::collections::BTreeMap;

/// `docs/isapi.md`, read from the workspace root.
pub fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/isapi.md");
    std::fs::read_to_string(path).expect("docs/isapi.md is readable")
}

/// Every example by name: (language, body).
pub fn all() -> BTreeMap<String, (String, String)> {
    let mut examples = BTreeMap::new();
    let mut current: Option<(String, String, String)> = None;
    for line in doc().lines() {
        match current.as_mut() {
            Some((_, _, body)) if line.trim_end() != "```" => {
                body.push_str(line);
                body.push('\n');
            }
            Some(_) => {
                if let Some((name, lang, body)) = current.take() {
                    assert!(
                        examples.insert(name.clone(), (lang, body)).is_none(),
                        "example {name} appears twice"
                    );
                }
            }
            None => {
                if let Some(info) = line.strip_prefix("```")
                    && let Some((lang, name)) = info.split_once(" example=")
                {
                    current = Some((
                        name.trim().to_string(),
                        lang.trim().to_string(),
                        String::new(),
                    ));
                }
            }
        }
    }
    assert!(current.is_none(), "an example block is not closed");
    examples
}

/// The body of example `name`.
pub fn get(name: &str) -> String {
    all()
        .remove(name)
        .map(|(_, body)| body)
        .unwrap_or_else(|| panic!("docs/isapi.md has no example named {name}"))
}

/// The JSON example `name`, parsed.
pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&get(name)).unwrap_or_else(|e| panic!("example {name} is not JSON: {e}"))
}
