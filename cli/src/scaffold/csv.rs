//! The first record of Go's `encoding/csv` reader with its defaults (comma
//! separator, strict quotes, no space trimming). pflag splits the values of
//! `--image-pull-secret`, `--component` and multi-pair `--variable` with it, so
//! `-s "a,b"` means two secrets and `-v 'k="x,y",j=z'` keeps the comma in `x,y`.

/// Reads one CSV record from `input`; the error text is Go's `csv.ParseError`
/// (or `EOF` when there is no record at all).
pub fn read_record(input: &str) -> Result<Vec<String>, String> {
    let mut lines = Lines::new(input);
    // Skip empty lines, as Go does before a record.
    let (first, start_line) = loop {
        match lines.next() {
            None => return Err("EOF".to_string()),
            Some(l) if l == "\n" => continue,
            Some(l) => break (l, lines.number),
        }
    };

    let mut fields = Vec::new();
    let mut line: &str = &first;
    let mut owned_line: String;
    let mut pos_line = start_line;
    let mut col = 1usize;
    let err = |line: usize, col: usize, what: &str| {
        if line != start_line {
            format!("record on line {start_line}; parse error on line {line}, column {col}: {what}")
        } else {
            format!("parse error on line {line}, column {col}: {what}")
        }
    };
    const BARE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";

    'field: loop {
        if !line.starts_with('"') {
            // Unquoted field: up to the next comma or the end of the line.
            let comma = line.find(',');
            let field = match comma {
                Some(i) => &line[..i],
                None => line.strip_suffix('\n').unwrap_or(line),
            };
            if let Some(j) = field.find('"') {
                return Err(err(lines.number, col + j, BARE));
            }
            fields.push(field.to_string());
            match comma {
                Some(i) => {
                    line = &line[i + 1..];
                    col += i + 1;
                    continue 'field;
                }
                None => break 'field,
            }
        }
        // Quoted field; may run over several lines.
        line = &line[1..];
        col += 1;
        let mut field = String::new();
        loop {
            if let Some(i) = line.find('"') {
                field.push_str(&line[..i]);
                line = &line[i + 1..];
                col += i + 1;
                if line.starts_with('"') {
                    field.push('"');
                    line = &line[1..];
                    col += 1;
                } else if line.starts_with(',') {
                    line = &line[1..];
                    col += 1;
                    fields.push(field);
                    continue 'field;
                } else if line.is_empty() || line == "\n" {
                    fields.push(field);
                    break 'field;
                } else {
                    return Err(err(lines.number, col - 1, QUOTE));
                }
            } else if !line.is_empty() {
                field.push_str(line);
                col += line.len();
                match lines.next() {
                    Some(next) => {
                        owned_line = next;
                        line = &owned_line;
                        pos_line = lines.number;
                        col = 1;
                    }
                    None => line = "",
                }
            } else {
                return Err(err(pos_line, col, QUOTE));
            }
        }
    }
    Ok(fields)
}

/// Go's `readLine`: lines keep their `\n`, `\r\n` becomes `\n`, and a final
/// line without a newline loses a trailing `\r`.
struct Lines<'a> {
    rest: &'a str,
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(input: &'a str) -> Self {
        Lines {
            rest: input,
            number: 0,
        }
    }

    fn next(&mut self) -> Option<String> {
        if self.rest.is_empty() {
            return None;
        }
        self.number += 1;
        let (line, rest) = match self.rest.find('\n') {
            Some(i) => self.rest.split_at(i + 1),
            None => (self.rest, ""),
        };
        self.rest = rest;
        let line = if let Some(body) = line.strip_suffix("\r\n") {
            format!("{body}\n")
        } else if !line.ends_with('\n') {
            line.strip_suffix('\r').unwrap_or(line).to_string()
        } else {
            line.to_string()
        };
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::read_record;

    fn ok(s: &str) -> Vec<String> {
        read_record(s).unwrap()
    }

    #[test]
    fn splits_on_commas() {
        assert_eq!(ok("a"), ["a"]);
        assert_eq!(ok("a,b"), ["a", "b"]);
        assert_eq!(ok("a,,b,"), ["a", "", "b", ""]);
        assert_eq!(ok(" a , b"), [" a ", " b"]);
    }

    #[test]
    fn honours_quotes() {
        assert_eq!(ok("\"a,b\",c"), ["a,b", "c"]);
        assert_eq!(ok("\"k=x,y\",j=z"), ["k=x,y", "j=z"]);
        assert_eq!(ok("\"a\"\"b\""), ["a\"b"]);
        assert_eq!(ok("\"a\nb\",c"), ["a\nb", "c"]);
    }

    #[test]
    fn reads_only_the_first_record() {
        assert_eq!(ok("a,b\nc,d"), ["a", "b"]);
        assert_eq!(ok("\n\na,b\r\n"), ["a", "b"]);
    }

    #[test]
    fn errors_like_go() {
        assert_eq!(
            read_record("k=\"x,y\""),
            Err("parse error on line 1, column 3: bare \" in non-quoted-field".into())
        );
        assert_eq!(
            read_record("\"abc"),
            Err("parse error on line 1, column 5: extraneous or missing \" in quoted-field".into())
        );
        assert_eq!(
            read_record("\"a\"b"),
            Err("parse error on line 1, column 3: extraneous or missing \" in quoted-field".into())
        );
        assert_eq!(read_record(""), Err("EOF".into()));
    }
}
