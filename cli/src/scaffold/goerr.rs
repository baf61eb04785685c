//! The few pieces of Go's standard library whose *wording* shows up in the
//! plugin's error messages: `%q` quoting, `strconv.ParseInt(s, 0, 32)`,
//! `strconv.ParseBool` and `*os.PathError` texts. Users grep for these
//! messages, so they are reproduced rather than paraphrased.

use std::fmt::Write as _;
use std::io;

/// Go's `strconv.Quote` (what `%q` does to a string).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (what `%q` does to a byte or rune).
pub fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

/// `strconv.ParseInt(s, 0, 32)`: base from the prefix (`0x`, `0o`, `0b`, leading `0`
/// = octal), optional sign, `_` digit separators. The error is Go's `*NumError` text.
pub fn parse_int32(s: &str) -> Result<i32, String> {
    let syntax = || {
        Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            quote(s)
        ))
    };
    let range = || {
        Err(format!(
            "strconv.ParseInt: parsing {}: value out of range",
            quote(s)
        ))
    };
    if s.is_empty() {
        return syntax();
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return syntax();
    }
    let bytes = body.as_bytes();
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' && bytes.len() >= 3 {
        match bytes[1].to_ascii_lowercase() {
            b'b' => (2, &bytes[2..]),
            b'o' => (8, &bytes[2..]),
            b'x' => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else if bytes[0] == b'0' {
        (8, &bytes[1..])
    } else {
        (10, bytes)
    };
    let mut underscores = false;
    let mut value: u64 = 0;
    for &b in digits {
        if b == b'_' {
            underscores = true;
            continue;
        }
        let d = match b {
            b'0'..=b'9' => u64::from(b - b'0'),
            b'a'..=b'z' => u64::from(b - b'a') + 10,
            b'A'..=b'Z' => u64::from(b - b'A') + 10,
            _ => return syntax(),
        };
        if d >= base {
            return syntax();
        }
        // ParseUint(s, 0, 32) gives up with a range error as soon as the
        // value no longer fits 32 bits, before looking at the rest.
        value = value * base + d;
        if value > u64::from(u32::MAX) {
            return range();
        }
    }
    if underscores && !underscore_ok(s) {
        return syntax();
    }
    let limit: u64 = 1 << 31;
    if (!neg && value >= limit) || (neg && value > limit) {
        return range();
    }
    let v = value as i64;
    Ok((if neg { -v } else { v }) as i32)
}

/// Go's rule for `_` in base-prefixed literals: only between digits (or right
/// after the base prefix), never doubled, never trailing.
fn underscore_ok(s: &str) -> bool {
    let mut s = s.as_bytes();
    if let Some((&(b'+' | b'-'), rest)) = s.split_first() {
        s = rest;
    }
    // 'digit' = last saw a digit or the base prefix; '_' = underscore; '!' = other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(s)
        )),
    }
}

/// The errno text Go prints (`no such file or directory`), from Rust's
/// `No such file or directory (os error 2)`.
pub fn errno_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// A Go `*os.PathError`: `open out.yaml: permission denied`.
pub fn path_error(op: &str, path: &str, e: &io::Error) -> String {
    format!("{op} {path}: {}", errno_text(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote_rune('x'), "'x'");
        assert_eq!(quote_rune('\''), "'\\''");
    }

    #[test]
    fn parses_int32_like_strconv() {
        assert_eq!(parse_int32("2"), Ok(2));
        assert_eq!(parse_int32("-1"), Ok(-1));
        assert_eq!(parse_int32("+7"), Ok(7));
        assert_eq!(parse_int32("0x10"), Ok(16));
        assert_eq!(parse_int32("0o17"), Ok(15));
        assert_eq!(parse_int32("017"), Ok(15));
        assert_eq!(parse_int32("0b101"), Ok(5));
        assert_eq!(parse_int32("0"), Ok(0));
        assert_eq!(parse_int32("1_000"), Ok(1000));
        assert_eq!(parse_int32("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_int32("-2147483648"), Ok(i32::MIN));
        assert_eq!(
            parse_int32("2147483648"),
            Err("strconv.ParseInt: parsing \"2147483648\": value out of range".into())
        );
        assert_eq!(
            parse_int32("99999999999999999999999"),
            Err("strconv.ParseInt: parsing \"99999999999999999999999\": value out of range".into())
        );
        for bad in ["", "abc", "1_", "_1", "1__0", "08", "0x", "1.5", "-", " 1"] {
            assert_eq!(
                parse_int32(bad),
                Err(format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    quote(bad)
                )),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parses_bool_like_strconv() {
        assert_eq!(parse_bool("True"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("yes").is_err());
    }

    #[test]
    fn errno_text_is_lowercase_without_code() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(errno_text(&e), "no such file or directory");
        assert_eq!(
            path_error("open", "x.toml", &e),
            "open x.toml: no such file or directory"
        );
    }
}
