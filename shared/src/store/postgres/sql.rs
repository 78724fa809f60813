//! SQL text quoting for the few statements that cannot take bind parameters (DDL): every
//! identifier and literal the platform writes into SQL goes through these two functions.

/// `"name"`, with inner double quotes doubled: safe for any identifier in SQL text.
pub fn quote_ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A string literal as PostgreSQL's `quote_literal` writes it: quotes doubled, and with
/// backslashes the `E'...'` form with backslashes doubled, so the result means the same whatever
/// `standard_conforming_strings` is. For the few places a bind parameter isn't allowed (DDL).
pub fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_doubles_inner_quotes() {
        // GIVEN plain, quoted and injection-shaped identifiers
        // WHEN quoted THEN they are wrapped in double quotes with inner quotes doubled
        assert_eq!(quote_ident("t_abc"), r#""t_abc""#);
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_ident(r"a\b"), r#""a\b""#);
        assert_eq!(quote_ident("it's"), r#""it's""#);
        assert_eq!(
            quote_ident(r#"x"; DROP ROLE postgres; --"#),
            r#""x""; DROP ROLE postgres; --""#
        );
    }

    #[test]
    fn quote_literal_doubles_quotes_and_escapes_backslashes() {
        // GIVEN plain, quoted, backslashed and injection-shaped strings
        // WHEN quoted THEN quotes are doubled, and backslashes select the E'' form, doubled
        assert_eq!(quote_literal("secret"), "'secret'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
        assert_eq!(
            quote_literal(r"\'; DROP ROLE postgres; --"),
            r"E'\\''; DROP ROLE postgres; --'"
        );
        assert_eq!(
            quote_literal(r#"x"; DROP ROLE postgres; --"#),
            r#"'x"; DROP ROLE postgres; --'"#
        );
        assert_eq!(quote_literal(""), "''");
    }
}
