//! A minimal XML property-list writer (just the value kinds a launchd job needs), with
//! escaping, so the plist is generated and testable on every host.

use std::fmt::Write as _;

/// A property-list value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plist {
    String(String),
    Bool(bool),
    Integer(i64),
    Array(Vec<Plist>),
    /// Keys in the order written.
    Dict(Vec<(String, Plist)>),
}

impl Plist {
    pub(crate) fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// The whole document, with the XML declaration and DOCTYPE launchd expects.
    pub(crate) fn to_document(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
             \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
             <plist version=\"1.0\">\n",
        );
        self.write(&mut out, 0);
        out.push_str("</plist>\n");
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "\t".repeat(depth);
        match self {
            Self::String(s) => {
                let _ = writeln!(out, "{pad}<string>{}</string>", escape(s));
            }
            Self::Bool(b) => {
                let _ = writeln!(out, "{pad}<{}/>", if *b { "true" } else { "false" });
            }
            Self::Integer(i) => {
                let _ = writeln!(out, "{pad}<integer>{i}</integer>");
            }
            Self::Array(items) => {
                let _ = writeln!(out, "{pad}<array>");
                for item in items {
                    item.write(out, depth + 1);
                }
                let _ = writeln!(out, "{pad}</array>");
            }
            Self::Dict(entries) => {
                let _ = writeln!(out, "{pad}<dict>");
                for (key, value) in entries {
                    let _ = writeln!(out, "{pad}\t<key>{}</key>", escape(key));
                    value.write(out, depth + 1);
                }
                let _ = writeln!(out, "{pad}</dict>");
            }
        }
    }
}

/// Escapes the five XML special characters. Control characters other than tab, newline and
/// carriage return cannot appear in XML 1.0 at all; they are dropped (no path or URL the
/// installer writes contains one).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
