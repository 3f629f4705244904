//! Optional `config/*.toml` files: flat `KEY = value` settings below the environment and `.env`.

use std::collections::HashMap;
use std::path::Path;

use super::SETTINGS;

/// Reads every `*.toml` in `dir` as flat `KEY = value` settings (keys in any case); unknown keys and
/// non-scalar values are problems. A missing directory is no settings.
pub fn read_toml_dir(dir: &Path) -> (HashMap<String, String>, Vec<String>) {
    let mut values = HashMap::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (values, problems);
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        let name = file.display();
        let table = match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| text.parse::<toml::Table>().map_err(|e| e.to_string()))
        {
            Ok(table) => table,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (key, value) in table {
            let upper = key.to_ascii_uppercase();
            if !SETTINGS.iter().any(|(k, _)| *k == upper) {
                problems.push(format!(
                    "{name}: unknown setting '{key}' (see .env.example)"
                ));
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), String::from))
                    .collect::<Vec<_>>()
                    .join(","),
                other => {
                    problems.push(format!(
                        "{name}: '{key}' must be a string, number or list, not {other}"
                    ));
                    continue;
                }
            };
            values.insert(upper, text);
        }
    }
    (values, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_files_give_settings_and_report_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("hs-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("a.toml"),
            "rate_limit_delay_ms = 250\nCORS_ORIGINS = [\"https://a.example\", \"https://b.example\"]\nnope = 1\n",
        )
        .expect("write");
        std::fs::write(dir.join("b.toml"), "this is not toml").expect("write");
        let (values, problems) = read_toml_dir(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            values.get("RATE_LIMIT_DELAY_MS").map(String::as_str),
            Some("250")
        );
        assert_eq!(
            values.get("CORS_ORIGINS").map(String::as_str),
            Some("https://a.example,https://b.example")
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("unknown setting 'nope'"));
        assert!(problems[1].contains("b.toml"));
    }
}
