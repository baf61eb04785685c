//! A `.env` reader covering what Spin's (dotenvy) files use in practice:
//! `KEY=value`, `export KEY=value`, `#` comments, single quotes (literal),
//! double quotes (with `\n \r \t \\ \" \$` escapes), multi-line quoted values.
//! `${VAR}` substitution is not performed.

use std::collections::BTreeMap;

/// Entries, plus one message per malformed line (those lines are skipped).
pub(super) fn parse(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut entries = BTreeMap::new();
    let mut errors = Vec::new();
    let mut rest = text;
    let mut line_no = 1;
    while !rest.is_empty() {
        let start_line = line_no;
        match entry(rest) {
            Ok((parsed, after)) => {
                if let Some((k, v)) = parsed {
                    entries.insert(k, v);
                }
                line_no += rest[..rest.len() - after.len()].matches('\n').count();
                rest = after;
            }
            Err(msg) => {
                errors.push(format!("line {start_line}: {msg}"));
                let (_, after) = split_line(rest);
                line_no += 1;
                rest = after;
            }
        }
    }
    (entries, errors)
}

type Entry = Option<(String, String)>;

/// Parses one entry (or blank/comment line) and returns what follows it.
fn entry(input: &str) -> Result<(Entry, &str), String> {
    let (line, after_line) = split_line(input);
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok((None, after_line));
    }
    let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
    let Some((key, _)) = body.split_once('=') else {
        return Err("expected KEY=value".to_owned());
    };
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!("invalid key {key:?}"));
    }
    // Offset of the value in `input`, so quoted values may run past this line.
    let body_at = line.len() - body.len();
    let value_at = body_at + key_end(body) + 1;
    let value = input[value_at..].trim_start_matches([' ', '\t']);
    let (value, after) = match value.chars().next() {
        Some(q @ ('\'' | '"')) => quoted(&value[1..], q)?,
        _ => {
            let (line, after) = split_line(value);
            (unquoted(line), after)
        }
    };
    Ok((Some((key.to_owned(), value)), after))
}

fn key_end(body: &str) -> usize {
    body.find('=').unwrap_or(body.len())
}

fn split_line(s: &str) -> (&str, &str) {
    match s.find('\n') {
        Some(i) => (s[..i].trim_end_matches('\r'), &s[i + 1..]),
        None => (s.trim_end_matches('\r'), ""),
    }
}

/// Unquoted values end at ` #` (inline comment) and are trimmed.
fn unquoted(line: &str) -> String {
    let mut end = line.len();
    for (i, _) in line.match_indices('#') {
        if i == 0 || line[..i].ends_with([' ', '\t']) {
            end = i;
            break;
        }
    }
    line[..end].trim().to_owned()
}

/// Reads up to the closing quote; only a comment may follow it on that line.
fn quoted(s: &str, q: char) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == q {
            let (tail, after) = split_line(&s[i + 1..]);
            let tail = tail.trim();
            if !tail.is_empty() && !tail.starts_with('#') {
                return Err(format!("unexpected text after closing {q}"));
            }
            return Ok((out, after));
        }
        if c == '\\' && q == '"' {
            match chars.next().map(|(_, e)| e) {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(e @ ('\\' | '"' | '$')) => out.push(e),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => break,
            }
        } else {
            out.push(c);
        }
    }
    Err(format!("{q} is never closed"))
}
