//! Finds the line of a key path (`sources[1].policy.leaving_window_days`) in block-style
//! YAML text, so errors found after parsing can still point at a line. A best effort: flow
//! style and anchors are not followed, and then the error simply has no line.

/// 1-based (line, column) of the key at `path`, if it can be found.
pub(crate) fn find(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    // The range of lines that belong to the current node, and the node's indentation
    // (children must be indented more).
    let mut start = 0;
    let mut end = lines.len();
    let mut min_indent: isize = -1;
    let mut found = None;
    for segment in split_path(path) {
        let (key, index) = segment;
        let (line, column) = find_key(&lines[start..end], key, min_indent)?;
        let line = start + line;
        found = Some((line + 1, column + 1));
        let indent = column as isize;
        // The node's children run until the next line indented at most as much.
        let node_end = (line + 1..end)
            .find(|&l| {
                let t = lines[l];
                !t.trim().is_empty()
                    && !t.trim_start().starts_with('#')
                    && indent_of(t) as isize <= indent
            })
            .unwrap_or(end);
        start = line;
        end = node_end;
        min_indent = indent;
        if let Some(index) = index {
            let (item_line, item_column) = find_item(&lines[start + 1..end], index)?;
            let item_line = start + 1 + item_line;
            found = Some((item_line + 1, item_column + 1));
            let dash = item_column as isize;
            let item_end = (item_line + 1..end)
                .find(|&l| {
                    let t = lines[l];
                    let i = indent_of(t) as isize;
                    !t.trim().is_empty()
                        && (i < dash || (i == dash && t.trim_start().starts_with('-')))
                })
                .unwrap_or(end);
            // The item's first key sits on the dash line, after "- ".
            start = item_line;
            end = item_end;
            min_indent = dash;
        }
    }
    found
}

fn split_path(path: &str) -> Vec<(&str, Option<usize>)> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(|segment| match segment.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse().ok()),
            None => (segment, None),
        })
        .collect()
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The line and column of `key:` among `lines`, indented more than `min_indent`. A key on
/// a list item's dash line (`- name: x`) counts at the column after the dash.
fn find_key(lines: &[&str], key: &str, min_indent: isize) -> Option<(usize, usize)> {
    let mut child_indent: Option<usize> = None;
    for (number, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut column = indent_of(line);
        let mut rest = trimmed;
        if number == 0 && min_indent >= 0 {
            // The parent's own line: only a list item dash line carries a child key.
            match rest.strip_prefix("- ") {
                Some(after) => {
                    column += 2 + (after.len() - after.trim_start().len());
                    rest = after.trim_start();
                }
                None => continue,
            }
        } else if (column as isize) <= min_indent {
            continue;
        }
        if let Some(expected) = child_indent {
            if column != expected {
                continue;
            }
        } else if number > 0 || min_indent < 0 {
            child_indent = Some(column);
        }
        let name = rest
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if name == key && rest.contains(':') {
            return Some((number, column));
        }
    }
    None
}

/// The line and column of the `index`th `- ` item among `lines`.
fn find_item(lines: &[&str], index: usize) -> Option<(usize, usize)> {
    let mut dash_indent = None;
    let mut seen = 0;
    for (number, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('-') {
            continue;
        }
        let column = indent_of(line);
        if *dash_indent.get_or_insert(column) != column {
            continue;
        }
        if seen == index {
            return Some((number, column));
        }
        seen += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find;

    const TEXT: &str = "\
platform:
  url: https://p.example
sources:
  - name: a
    kind: humaans
    policy:
      leaving_window_days: 10
  - name: b
    kind: humaans
    interval: 1s
    policy:
      leaving_window_days: 9999
logging:
  retention_days: 0
";

    #[test]
    fn finds_keys() {
        let check = |path: &str, expected: Option<(usize, usize)>| {
            assert_eq!(find(TEXT, path), expected, "{path}");
        };
        check("platform.url", Some((2, 3)));
        check("sources[0].name", Some((4, 5)));
        check("sources[1].name", Some((8, 5)));
        check("sources[1].interval", Some((10, 5)));
        check("sources[1].policy.leaving_window_days", Some((12, 7)));
        check("sources[0].policy.leaving_window_days", Some((7, 7)));
        check("sources[1]", Some((8, 3)));
        check("logging.retention_days", Some((14, 3)));
        check("sources[5].name", None);
        check("spool.max_bytes", None);
    }
}
