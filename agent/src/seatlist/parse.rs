//! A small RFC 4180 CSV reader that remembers where every field starts, so errors can
//! name the line and column. Accepts a UTF-8 BOM, CRLF or LF line ends, quoted fields
//! with commas, doubled quotes and line breaks inside.

/// One field and the 1-based line and column where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub value: String,
    pub line: usize,
    pub column: usize,
}

/// One record (row): its fields, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<Field>,
}

/// A syntax error at a place in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Splits `text` into records. Empty lines are skipped. A syntax error (a quote in the
/// middle of an unquoted field, text after a closing quote, an unclosed quote) stops the
/// parse: everything after it would be misread.
pub fn records(text: &str) -> Result<Vec<Record>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut column) = (1usize, 1usize);
    let mut record: Vec<Field> = Vec::new();
    let mut record_line = 1;
    loop {
        // At the start of a field.
        let (start_line, start_column) = (line, column);
        let mut value = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            column += 1;
            loop {
                match chars.next() {
                    None => {
                        return Err(SyntaxError {
                            line: start_line,
                            column: start_column,
                            message: "this quoted field is never closed; add the closing `\"`"
                                .into(),
                        });
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        column += 2;
                        value.push('"');
                    }
                    Some('"') => {
                        column += 1;
                        break;
                    }
                    Some('\r') if chars.peek() == Some(&'\n') => {
                        chars.next();
                        value.push_str("\r\n");
                        line += 1;
                        column = 1;
                    }
                    Some('\n') => {
                        value.push('\n');
                        line += 1;
                        column = 1;
                    }
                    Some(c) => {
                        value.push(c);
                        column += 1;
                    }
                }
            }
        }
        // Unquoted text, or what follows a closing quote, up to the separator.
        let end = loop {
            match chars.peek().copied() {
                None => break None,
                Some(',') => {
                    chars.next();
                    column += 1;
                    break Some(',');
                }
                Some('\r') => {
                    chars.next();
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    break Some('\n');
                }
                Some('\n') => {
                    chars.next();
                    break Some('\n');
                }
                Some(c) if quoted => {
                    return Err(SyntaxError {
                        line,
                        column,
                        message: format!(
                            "unexpected `{c}` after a closing quote; a quoted field must end at a comma or the end of the line"
                        ),
                    });
                }
                Some('"') => {
                    return Err(SyntaxError {
                        line,
                        column,
                        message: "a quote inside an unquoted field; quote the whole field and double the quote (`\"\"`)".into(),
                    });
                }
                Some(c) => {
                    chars.next();
                    column += 1;
                    value.push(c);
                }
            }
        };
        record.push(Field {
            value,
            line: start_line,
            column: start_column,
        });
        match end {
            Some(',') => continue,
            _ => {
                let blank = record.len() == 1 && record[0].value.is_empty() && !quoted;
                if !blank {
                    out.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut record),
                    });
                } else {
                    record.clear();
                }
                if end.is_none() {
                    return Ok(out);
                }
                line += 1;
                column = 1;
                record_line = line;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Vec<String>> {
        records(text)
            .unwrap()
            .into_iter()
            .map(|r| r.fields.into_iter().map(|f| f.value).collect())
            .collect()
    }

    #[test]
    fn fields_and_places() {
        assert_eq!(
            values("a,b\r\n1,2\r\n"),
            vec![vec!["a", "b"], vec!["1", "2"]]
        );
        assert_eq!(
            values("\u{feff}a,b\n1,\n\n"),
            vec![vec!["a", "b"], vec!["1", ""]]
        );
        assert_eq!(
            values("a,\"x, \"\"y\"\"\nz\",c\nd,e,f"),
            vec![vec!["a", "x, \"y\"\nz", "c"], vec!["d", "e", "f"]]
        );
        let parsed = records("h1,h2\n\"multi\nline\",v\nnext,w\n").unwrap();
        assert_eq!(parsed[1].line, 2);
        assert_eq!(parsed[2].line, 4);
        assert_eq!(
            (parsed[2].fields[1].line, parsed[2].fields[1].column),
            (4, 6)
        );
    }

    #[test]
    fn syntax_errors_name_the_place() {
        let check = |text: &str, line: usize, column: usize| {
            let error = records(text).unwrap_err();
            assert_eq!(
                (error.line, error.column),
                (line, column),
                "{text:?}: {error:?}"
            );
        };
        check("a,b\n1,\"open\n", 2, 3);
        check("a,b\n1,\"x\"y\n", 2, 6);
        check("a,b\nab\"c,d\n", 2, 3);
    }
}
