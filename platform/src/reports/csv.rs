//! A small RFC 4180 CSV writer for report exports.
//!
//! Fields are quoted when they hold a comma, a quote or a line break; quotes are doubled.
//! A field that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a
//! tab or a carriage return) is prefixed with `'`, because HR data is typed by people and
//! exports are opened in spreadsheets.

/// Builds a CSV document row by row. Lines end with CRLF, as RFC 4180 says.
#[derive(Debug, Default)]
pub(crate) struct CsvWriter {
    out: String,
}

impl CsvWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends one row.
    pub(crate) fn row<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_field(&mut self.out, field.as_ref());
        }
        self.out.push_str("\r\n");
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

fn push_field(out: &mut String, field: &str) {
    let guard = matches!(
        field.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let needs_quotes = guard
        || field.contains([',', '"', '\n', '\r'])
        || field.starts_with(' ')
        || field.ends_with(' ');
    if !needs_quotes {
        out.push_str(field);
        return;
    }
    out.push('"');
    if guard {
        out.push('\'');
    }
    for c in field.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(fields: &[&str], expected: &str) {
        let mut csv = CsvWriter::new();
        csv.row(fields);
        assert_eq!(csv.finish(), expected, "fields: {fields:?}");
    }

    #[test]
    fn quoting() {
        check(&["a", "b"], "a,b\r\n");
        check(&["", ""], ",\r\n");
        check(&["Smith, Jane"], "\"Smith, Jane\"\r\n");
        check(&["say \"hi\""], "\"say \"\"hi\"\"\"\r\n");
        check(&["two\nlines"], "\"two\nlines\"\r\n");
        check(&["cr\rhere"], "\"cr\rhere\"\r\n");
        check(&[" padded "], "\" padded \"\r\n");
        check(&["Zoë Ørsted"], "Zoë Ørsted\r\n");
        check(&["2026-01-31", "42"], "2026-01-31,42\r\n");
    }

    #[test]
    fn formulas_are_defused() {
        check(&["=HYPERLINK(\"x\")"], "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
        check(&["+1"], "\"'+1\"\r\n");
        check(&["-2"], "\"'-2\"\r\n");
        check(&["@SUM(A1)"], "\"'@SUM(A1)\"\r\n");
        check(&["a=b"], "a=b\r\n");
    }
}
