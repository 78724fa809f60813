//! `--env-file`: `KEY=VALUE` lines (the format `local-platform` writes to
//! `.local/functions.env`), layered under the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why an env file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: &'static str },
}

/// Parses `KEY=VALUE` lines. Blank lines and lines starting with `#` are skipped; an optional
/// `export ` prefix is allowed; the value is everything after the first `=`, trimmed, with one
/// pair of matching surrounding quotes removed (`#` inside a value is kept: passwords may
/// contain it). A later line wins over an earlier one for the same key.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, EnvFileError> {
    let mut vars = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let syntax = |reason| EnvFileError::Syntax {
            line: index + 1,
            reason,
        };
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| syntax("expected KEY=VALUE"))?;
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(syntax("the key must be letters, digits and _"));
        }
        vars.insert(key.to_owned(), unquote(value.trim()).to_owned());
    }
    Ok(vars)
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<BTreeMap<String, String>, EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnvFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text)
}

/// A lookup where `primary` (the process environment) wins and `file` fills in what it lacks;
/// a variable set to an empty value counts as unset.
pub fn layered(
    primary: impl Fn(&str) -> Option<String>,
    file: BTreeMap<String, String>,
) -> impl Fn(&str) -> Option<String> {
    move |name| {
        primary(name)
            .filter(|v| !v.is_empty())
            .or_else(|| file.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_values_comments_and_quotes() {
        // GIVEN a file as local-platform writes it, with comments and some hand edits
        let text = "# written by local-platform\n\
                    REGISTRY_TABLE=t-registry\n\
                    \n\
                    MAIL_FROM=TaskifAI <no-reply@localhost>\n\
                    export AWS_REGION = us-east-1\n\
                    QUOTED=\"a b\"\n\
                    SINGLE='x#y'\n\
                    EMPTY=\n\
                    EQUALS=a=b\n";
        // WHEN it is parsed
        let vars = parse(text).unwrap();
        // THEN every assignment is there, values as written
        assert_eq!(vars["REGISTRY_TABLE"], "t-registry");
        assert_eq!(vars["MAIL_FROM"], "TaskifAI <no-reply@localhost>");
        assert_eq!(vars["AWS_REGION"], "us-east-1");
        assert_eq!(vars["QUOTED"], "a b");
        assert_eq!(vars["SINGLE"], "x#y");
        assert_eq!(vars["EMPTY"], "");
        assert_eq!(vars["EQUALS"], "a=b");
        assert_eq!(vars.len(), 7);
    }

    #[test]
    fn rejects_lines_that_are_not_assignments() {
        for (text, line) in [("A=1\nnot an assignment\n", 2), ("1ABC=x", 1), ("A B=x", 1)] {
            match parse(text) {
                Err(EnvFileError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn process_environment_wins_and_the_file_fills_gaps() {
        // GIVEN a process environment with A set, B empty, C unset, and a file with all three
        let process = |name: &str| match name {
            "A" => Some("process".to_owned()),
            "B" => Some(String::new()),
            _ => None,
        };
        let file = parse("A=file\nB=file\nC=file\n").unwrap();
        // WHEN they are layered
        let env = layered(process, file);
        // THEN the process wins where it has a value, the file elsewhere
        assert_eq!(env("A").as_deref(), Some("process"));
        assert_eq!(env("B").as_deref(), Some("file"));
        assert_eq!(env("C").as_deref(), Some("file"));
        assert_eq!(env("D"), None);
    }
}
