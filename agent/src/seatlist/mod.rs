//! Seat lists: CSV files exported from an application's admin page, for applications
//! without an API. One file, or a folder whose `*.csv` files are read in name order.
//!
//! Header (any column order; only `application` and one of `account`/`email` required):
//! `application,account,email,licence,status,last_active,assigned_at`. Dates are ISO 8601
//! date-times or `YYYY-MM-DD`; an empty `status` is active, and `disabled`, `deactivated`,
//! `suspended` or `inactive` (any case) mean a disabled account; an empty `last_active`
//! means never used. A row that cannot be read is counted and listed with its file, line
//! and column, and left out; a broken header or a CSV syntax error fails the file.
//!
//! A file that changes while it is read (size, modification time or content differ before
//! and after) is read again, at most [`READ_ATTEMPTS`] times.

mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use seatbroker_protocol::{AccountType, LicencePolicy, LicenceSnapshot, PolicyError};
use sha2::{Digest, Sha256};

pub use parse::{Field, Record, SyntaxError, records};

use crate::engine::Pseudonymizer;
use crate::engine::accounts::{Account, Held, Pool, evaluate_licences};

/// Reads of one file before giving up on it changing.
pub const READ_ATTEMPTS: u32 = 3;

/// The documented columns.
pub const COLUMNS: [&str; 7] = [
    "application",
    "account",
    "email",
    "licence",
    "status",
    "last_active",
    "assigned_at",
];

/// Why a seat list could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum SeatListError {
    #[error("cannot read the seat list {}: {source}; check the path and that the agent's user may read it", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the seat-list folder {} holds no *.csv file; export the applications' seat lists into it", path.display())]
    EmptyFolder { path: PathBuf },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Header {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: the file is not UTF-8 (byte {offset}); export it as CSV UTF-8", path.display())]
    Encoding { path: PathBuf, offset: usize },
    #[error("{} kept changing while it was read ({attempts} attempts); wait until the export is finished", path.display())]
    Unstable { path: PathBuf, attempts: u32 },
}

/// One readable row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRow {
    pub file: PathBuf,
    pub line: usize,
    pub application: String,
    pub account: Option<String>,
    pub email: Option<String>,
    /// Empty: the application's one seat type.
    pub licence: Option<String>,
    pub enabled: bool,
    pub last_active: Option<DateTime<Utc>>,
    pub assigned_at: Option<NaiveDate>,
}

/// Everything read from a seat-list path.
#[derive(Debug, Clone, Default)]
pub struct SeatList {
    pub rows: Vec<SeatRow>,
    /// `file:line:column: what is wrong` of each row left out.
    pub bad_rows: Vec<String>,
    /// Rows seen, bad ones included.
    pub rows_seen: u64,
    /// Whether any file has a `last_active` column; without one, activity is unknown.
    pub activity_available: bool,
    pub files: Vec<PathBuf>,
}

/// Reads `path`: a CSV file, or every `*.csv` in a folder, sorted by name.
pub fn read_path(path: &Path) -> Result<SeatList, SeatListError> {
    read_path_with(path, &mut |p| std::fs::read(p))
}

/// [`read_path`] with an injected file reader (tests simulate a file being rewritten).
pub fn read_path_with(
    path: &Path,
    reader: &mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<SeatList, SeatListError> {
    let io = |source| SeatListError::Io {
        path: path.to_owned(),
        source,
    };
    let files = if std::fs::metadata(path).map_err(io)?.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(SeatListError::EmptyFolder {
                path: path.to_owned(),
            });
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut list = SeatList::default();
    for file in &files {
        let bytes = read_stable(file, reader)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| SeatListError::Encoding {
            path: file.clone(),
            offset: e.valid_up_to(),
        })?;
        parse_file(file, text, &mut list)?;
    }
    list.files = files;
    Ok(list)
}

/// Reads a file until two reads agree on its size, modification time and content.
pub fn read_stable(
    path: &Path,
    reader: &mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Vec<u8>, SeatListError> {
    let io = |source| SeatListError::Io {
        path: path.to_owned(),
        source,
    };
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| (m.len(), m.modified().ok()))
            .map_err(io)
    };
    let mut previous: Option<[u8; 32]> = None;
    for attempt in 1..=READ_ATTEMPTS + 1 {
        let before = stamp(path)?;
        let bytes = reader(path).map_err(io)?;
        let after = stamp(path)?;
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let steady = before == after && previous.is_none_or(|p| p == hash);
        if steady && previous.is_some() {
            return Ok(bytes);
        }
        if !steady {
            tracing::debug!(path = %path.display(), attempt, "The seat list changed while it was read; reading it again.");
        }
        previous = Some(hash);
    }
    Err(SeatListError::Unstable {
        path: path.to_owned(),
        attempts: READ_ATTEMPTS,
    })
}

/// Parses one file's text into `list`.
pub fn parse_file(path: &Path, text: &str, list: &mut SeatList) -> Result<(), SeatListError> {
    let records = records(text).map_err(|e| SeatListError::Syntax {
        path: path.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    let Some((header, rows)) = records.split_first() else {
        return Err(SeatListError::Header {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: format!(
                "the file is empty; the first line must be the header {}",
                COLUMNS.join(",")
            ),
        });
    };
    let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (position, field) in header.fields.iter().enumerate() {
        let name = field.value.trim().to_ascii_lowercase();
        let known = COLUMNS
            .iter()
            .find(|c| **c == name || (name == "license" && **c == "licence"));
        let header_error = |message: String| SeatListError::Header {
            path: path.to_owned(),
            line: field.line,
            column: field.column,
            message,
        };
        match known {
            Some(column) if index.contains_key(column) => {
                return Err(header_error(format!("the column `{column}` appears twice")));
            }
            Some(column) => {
                index.insert(column, position);
            }
            None => {
                return Err(header_error(format!(
                    "unknown column `{}`; the columns are {}",
                    field.value.trim(),
                    COLUMNS.join(", ")
                )));
            }
        }
    }
    if !index.contains_key("application")
        || !(index.contains_key("account") || index.contains_key("email"))
    {
        return Err(SeatListError::Header {
            path: path.to_owned(),
            line: header.line,
            column: 1,
            message: format!(
                "the header must name `application` and `account` or `email` (found: {}); the first line must be the header",
                header
                    .fields
                    .iter()
                    .map(|f| f.value.trim())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        });
    }
    if index.contains_key("last_active") {
        list.activity_available = true;
    }
    for record in rows {
        list.rows_seen += 1;
        match parse_row(path, record, &index) {
            Ok(row) => list.rows.push(row),
            Err((line, column, message)) => {
                let text = format!("{}:{line}:{column}: {message}", path.display());
                tracing::warn!(row = %text, "A seat-list row could not be read; it is left out.");
                list.bad_rows.push(text);
            }
        }
    }
    Ok(())
}

type RowError = (usize, usize, String);

fn parse_row(
    path: &Path,
    record: &Record,
    index: &BTreeMap<&'static str, usize>,
) -> Result<SeatRow, RowError> {
    let get =
        |column: &str| -> Option<&Field> { index.get(column).and_then(|i| record.fields.get(*i)) };
    let text = |column: &str| -> Option<String> {
        get(column)
            .map(|f| f.value.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let at = |column: &str| -> (usize, usize) {
        get(column)
            .map(|f| (f.line, f.column))
            .or_else(|| {
                record
                    .fields
                    .last()
                    .map(|f| (f.line, f.column + f.value.chars().count()))
            })
            .unwrap_or((record.line, 1))
    };
    let expected = index.len();
    if record.fields.len() != expected {
        let (line, column) = record
            .fields
            .get(expected)
            .map(|f| (f.line, f.column))
            .unwrap_or_else(|| at(""));
        return Err((
            line,
            column,
            format!(
                "{} fields where the header has {expected}",
                record.fields.len()
            ),
        ));
    }
    let application = text("application").ok_or_else(|| {
        let (l, c) = at("application");
        (l, c, "the application is empty".to_owned())
    })?;
    let account = text("account");
    let email = text("email");
    if account.is_none() && email.is_none() {
        let (l, c) = at(if index.contains_key("account") {
            "account"
        } else {
            "email"
        });
        return Err((
            l,
            c,
            "both account and email are empty; give at least one".into(),
        ));
    }
    let enabled = match text("status").map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("active") | Some("enabled") => true,
        Some("disabled" | "deactivated" | "suspended" | "inactive") => false,
        Some(other) => {
            let (l, c) = at("status");
            return Err((
                l,
                c,
                format!(
                    "unknown status `{other}`; use active (or empty), disabled, deactivated, suspended or inactive"
                ),
            ));
        }
    };
    let last_active = match text("last_active") {
        None => None,
        Some(value) => Some(parse_instant(&value).ok_or_else(|| {
            let (l, c) = at("last_active");
            (
                l,
                c,
                format!("`{value}` is not a date; write 2026-11-25 or 2026-11-25T08:30:00Z"),
            )
        })?),
    };
    let assigned_at =
        match text("assigned_at") {
            None => None,
            Some(value) => Some(parse_instant(&value).map(|t| t.date_naive()).ok_or_else(
                || {
                    let (l, c) = at("assigned_at");
                    (
                        l,
                        c,
                        format!(
                            "`{value}` is not a date; write 2026-11-25 or 2026-11-25T08:30:00Z"
                        ),
                    )
                },
            )?),
        };
    Ok(SeatRow {
        file: path.to_owned(),
        line: record.line,
        application,
        account,
        email,
        licence: text("licence"),
        enabled,
        last_active,
        assigned_at,
    })
}

/// `YYYY-MM-DD` (midnight UTC), RFC 3339, or a date-time without offset (UTC).
pub fn parse_instant(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.to_utc());
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
    .map(|t| t.and_utc())
}

/// The pool id of a row: `<application>/<licence>`, the licence defaulting to the
/// application's name.
pub fn pool_of(application: &str, licence: Option<&str>) -> (String, String) {
    let name = licence.unwrap_or(application).to_owned();
    (format!("{application}/{name}"), name)
}

/// Evaluates a seat list as of `today`. One account per application and account (or
/// email, when there is no account name), holding every licence of its rows; one pool per
/// application and licence. `purchased` maps licence (or application) names to seats
/// bought.
pub fn to_licences(
    list: &SeatList,
    purchased: &BTreeMap<String, u64>,
    policy: &LicencePolicy,
    today: NaiveDate,
    pseudonymizer: Option<&Pseudonymizer>,
) -> Result<LicenceSnapshot, PolicyError> {
    let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
    let mut pools: BTreeMap<String, Pool> = BTreeMap::new();
    for row in &list.rows {
        let (pool_id, name) = pool_of(&row.application, row.licence.as_deref());
        pools.entry(pool_id.clone()).or_insert_with(|| Pool {
            id: pool_id.clone(),
            purchased: purchased.get(&name).copied(),
            name,
            application: Some(row.application.clone()),
            assigned: None,
        });
        let key = row
            .account
            .as_deref()
            .or(row.email.as_deref())
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        // The id carries the account name, so it is pseudonymised like the addresses.
        let id = match pseudonymizer {
            Some(p) => format!("{}/{}", row.application, p.email(&key)),
            None => format!("{}/{key}", row.application),
        };
        let account = accounts.entry(id.clone()).or_insert_with(|| Account {
            id,
            login: row.account.clone(),
            email: row.email.clone(),
            aliases: Vec::new(),
            enabled: true,
            account_type: AccountType::Member,
            created: None,
            last_activity: None,
            licences: Vec::new(),
        });
        account.enabled &= row.enabled;
        account.last_activity = account.last_activity.max(row.last_active);
        if account.email.is_none() {
            account.email = row.email.clone();
        }
        if !account.licences.iter().any(|h| h.pool_id == pool_id) {
            account.licences.push(Held {
                pool_id,
                assigned: row.assigned_at,
            });
        }
    }
    let mut snapshot = evaluate_licences(
        accounts.into_values().collect(),
        pools.into_values().collect(),
        list.activity_available,
        policy,
        today,
        pseudonymizer,
    )?;
    snapshot.unparsable_records = list.bad_rows.clone();
    Ok(snapshot)
}

/// A stable tenant id for a seat-list source: `seatlist-` and 16 hex digits of the SHA-256
/// of the source name and the configured path, so it survives restarts and differs between
/// sources.
pub fn tenant_id(source_name: &str, path: &Path) -> String {
    let mut hash = Sha256::new();
    hash.update(source_name.as_bytes());
    hash.update([0]);
    hash.update(path.to_string_lossy().as_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("seatlist-{hex}")
}

/// The applications in a seat list, sorted and joined with `, `, for the tenant's name.
pub fn applications(list: &SeatList) -> String {
    let names: std::collections::BTreeSet<&str> =
        list.rows.iter().map(|r| r.application.as_str()).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}
