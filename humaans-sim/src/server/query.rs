//! Query strings the Feathers way: `$limit` and `$skip`, sent raw or as `%24limit`.

use super::error::ApiError;

pub(crate) const DEFAULT_LIMIT: u64 = 100;
pub(crate) const MAX_LIMIT: u64 = 250;

/// Decoded query parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (decode(key), decode(value))
            })
            .collect();
        Self { pairs }
    }

    /// Every key, in order (repeats included).
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `$limit` (default 100, clamped to 250; 0 means "only the total") and `$skip`.
    pub(crate) fn page(&self) -> Result<Page, ApiError> {
        let number = |key: &str, default: u64| -> Result<u64, ApiError> {
            match self.get(key) {
                None => Ok(default),
                Some(text) => text.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "Invalid query parameter {key}={text:?}: expected a whole number of 0 or more"
                    ))
                }),
            }
        };
        Ok(Page {
            limit: number("$limit", DEFAULT_LIMIT)?.min(MAX_LIMIT),
            skip: number("$skip", 0)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) limit: u64,
    pub(crate) skip: u64,
}

impl Page {
    /// The index range of this page within `total` items.
    pub(crate) fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = usize::try_from(self.skip).unwrap_or(usize::MAX).min(total);
        let end = start.saturating_add(self.limit as usize).min(total);
        start..end
    }
}

/// Percent-decoding with `+` as space, as HTML forms and most HTTP clients encode.
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                out.push(hex(bytes[i + 1]).unwrap_or(0) * 16 + hex(bytes[i + 2]).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, expected: Result<(u64, u64), ()>) {
        let got = Params::parse(Some(query))
            .page()
            .map(|p| (p.limit, p.skip))
            .map_err(|_| ());
        assert_eq!(got, expected, "query {query:?}");
    }

    #[test]
    fn paging_parameters() {
        check("", Ok((100, 0)));
        check("$limit=10&$skip=20", Ok((10, 20)));
        check("%24limit=10&%24skip=20", Ok((10, 20)));
        check("%24LIMIT=10", Ok((100, 0)));
        check("$limit=1000", Ok((250, 0)));
        check("$limit=0", Ok((0, 0)));
        check("$limit=-1", Err(()));
        check("$skip=abc", Err(()));
        check("personId=x&$limit=5", Ok((5, 0)));
    }

    #[test]
    fn decodes_percent_and_plus() {
        let params = Params::parse(Some("a=b%20c+d&e=%zz&f=%4"));
        assert_eq!(params.get("a"), Some("b c d"));
        assert_eq!(params.get("e"), Some("%zz"));
        assert_eq!(params.get("f"), Some("%4"));
    }
}
