//! The install plan: a list of [`Action`]s computed by pure functions, applied by the
//! executor or printed by `--dry-run`.

use std::fmt;
use std::path::{Path, PathBuf};

use seatbroker_protocol::Secret;

/// The operating system a plan is for. Plans for every target can be computed (and tested)
/// on any host; only the executor's OS calls depend on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetOs {
    Linux,
    Macos,
    Windows,
}

impl TargetOs {
    /// The OS this installer was built for.
    pub fn host() -> Self {
        if cfg!(target_os = "macos") {
            Self::Macos
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Macos => "macos",
            Self::Windows => "windows",
        }
    }
}

impl fmt::Display for TargetOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// System-wide service (root/Administrator) or a per-user service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    System,
    User,
}

/// A path as the target OS spells it (`/etc/seatbroker/config.yaml`,
/// `C:\ProgramData\Seatbroker\config.yaml`). [`TargetPath::on_host`] maps it under `--root`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TargetPath(String);

impl TargetPath {
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn separator(&self) -> char {
        if self.is_windows() { '\\' } else { '/' }
    }

    fn is_windows(&self) -> bool {
        let bytes = self.0.as_bytes();
        bytes.len() >= 2 && bytes[1] == b':' || self.0.contains('\\')
    }

    /// A child path, joined with the target's separator.
    pub fn join(&self, name: &str) -> Self {
        let sep = self.separator();
        if self.0.ends_with(sep) {
            Self(format!("{}{name}", self.0))
        } else {
            Self(format!("{}{sep}{name}", self.0))
        }
    }

    /// True if `self` is `other` or lies below it.
    pub(crate) fn is_inside(&self, other: &TargetPath) -> bool {
        let sep = self.separator();
        self.0 == other.0
            || self
                .0
                .starts_with(&format!("{}{sep}", other.0.trim_end_matches(sep)))
    }

    /// The parent directory, if any.
    pub(crate) fn parent(&self) -> Option<Self> {
        let sep = self.separator();
        let trimmed = self.0.trim_end_matches(sep);
        let idx = trimmed.rfind(sep)?;
        if idx == 0 {
            return Some(Self(sep.to_string()));
        }
        Some(Self(trimmed[..idx].to_owned()))
    }

    /// Where this path is on the host: itself, or under `root` with every component
    /// (a Windows drive `C:` becomes the folder `C`) placed below it.
    pub(crate) fn on_host(&self, root: Option<&Path>) -> PathBuf {
        let Some(root) = root else {
            return PathBuf::from(&self.0);
        };
        let mut out = root.to_path_buf();
        for part in self.0.split(['/', '\\']).filter(|p| !p.is_empty()) {
            out.push(part.trim_end_matches(':'));
        }
        out
    }
}

impl fmt::Display for TargetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The intended owner of a file, by name. Under `--root` as a non-root user it is only
/// recorded (in the receipt); as root the executor applies it where the name resolves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    pub user: String,
    pub group: String,
}

impl Owner {
    pub fn new(user: &str, group: &str) -> Self {
        Self {
            user: user.to_owned(),
            group: group.to_owned(),
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.user, self.group)
    }
}

/// What a written file holds. Secrets never print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// Generated or copied text, with a one-line description for `--dry-run`.
    Text { text: String, what: String },
    /// A token; `--dry-run` and logs show only its length.
    Secret { value: Secret, what: String },
}

impl Contents {
    pub fn text(text: impl Into<String>, what: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            what: what.into(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Text { text, .. } => text.as_bytes(),
            Self::Secret { value, .. } => value.expose().as_bytes(),
        }
    }

    /// The one-line summary `--dry-run` prints: never the content of a secret.
    pub(crate) fn summary(&self) -> String {
        match self {
            Self::Text { text, what } => {
                format!(
                    "{what}, {} lines, {} bytes",
                    text.lines().count(),
                    text.len()
                )
            }
            Self::Secret { value, what } => {
                format!("{what}, secret, {} bytes, not shown", value.expose().len())
            }
        }
    }
}

/// A command the plan runs. Programs are named as the target finds them on its `PATH`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment variables for this command only.
    pub env: Vec<(String, String)>,
}

impl Command {
    pub fn new(program: &str, args: &[&str]) -> Self {
        Self {
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
        }
    }

    /// The command line as a person would type it in a POSIX shell (Windows commands are
    /// shown the same way; quoting is for reading, the executor never goes through a shell).
    pub fn display(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.env {
            out.push_str(&format!("{k}={} ", shell_quote(v)));
        }
        out.push_str(&shell_quote(&self.program));
        for arg in &self.args {
            out.push(' ');
            out.push_str(&shell_quote(arg));
        }
        out
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What to do when a command fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop the install and report the error with the step's hint.
    Abort,
    /// Carry on (e.g. stopping a service that is not running).
    Continue,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateDir {
        path: TargetPath,
        mode: Option<u32>,
        owner: Owner,
    },
    /// Write a file atomically (temporary file, sync, rename).
    WriteFile {
        path: TargetPath,
        mode: Option<u32>,
        owner: Owner,
        contents: Contents,
    },
    /// Copy a file from the host (the agent binary) atomically.
    Copy {
        from: PathBuf,
        to: TargetPath,
        mode: Option<u32>,
        owner: Owner,
    },
    /// Run a command on the target system. Never run under `--root` or `--dry-run`.
    Run {
        command: Command,
        why: String,
        on_failure: OnFailure,
        hint: String,
    },
    /// Remove a file if it exists.
    RemoveFile { path: TargetPath },
    /// Remove a directory and everything in it, if it exists.
    RemoveTree { path: TargetPath },
}

impl Action {
    /// A command to run, why, what a failure means, and what to do then.
    pub fn run(command: Command, why: &str, on_failure: OnFailure, hint: &str) -> Self {
        Action::Run {
            command,
            why: why.to_owned(),
            on_failure,
            hint: hint.to_owned(),
        }
    }

    /// The target path this action writes or removes, if any.
    pub fn path(&self) -> Option<&TargetPath> {
        match self {
            Self::CreateDir { path, .. }
            | Self::WriteFile { path, .. }
            | Self::RemoveFile { path }
            | Self::RemoveTree { path } => Some(path),
            Self::Copy { to, .. } => Some(to),
            Self::Run { .. } => None,
        }
    }
}

fn mode_str(mode: Option<u32>) -> String {
    match mode {
        Some(m) => format!("{m:04o}"),
        None => "acl".to_owned(),
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateDir { path, mode, owner } => {
                write!(f, "mkdir  {path}  mode {} owner {owner}", mode_str(*mode))
            }
            Self::WriteFile {
                path,
                mode,
                owner,
                contents,
            } => write!(
                f,
                "write  {path}  mode {} owner {owner}  ({})",
                mode_str(*mode),
                contents.summary()
            ),
            Self::Copy {
                from,
                to,
                mode,
                owner,
            } => write!(
                f,
                "copy   {} -> {to}  mode {} owner {owner}",
                from.display(),
                mode_str(*mode)
            ),
            Self::Run {
                command,
                why,
                on_failure,
                ..
            } => {
                let tolerant = match on_failure {
                    OnFailure::Abort => "",
                    OnFailure::Continue => " (failure tolerated)",
                };
                write!(f, "run    {}  # {why}{tolerant}", command.display())
            }
            Self::RemoveFile { path } => write!(f, "remove {path}"),
            Self::RemoveTree { path } => write!(f, "remove {path} (and everything in it)"),
        }
    }
}

/// A complete, ordered plan plus notes for the person running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    pub target: TargetOs,
    pub scope: Scope,
    pub actions: Vec<Action>,
    /// Things the person should know (kept files, next steps); printed after applying.
    pub notes: Vec<String>,
}

impl InstallPlan {
    /// Every command the plan runs.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.actions.iter().filter_map(|a| match a {
            Action::Run { command, .. } => Some(command),
            _ => None,
        })
    }

    /// The file the plan writes at `path`, if any.
    pub fn written(&self, path: &str) -> Option<&Contents> {
        self.actions.iter().find_map(|a| match a {
            Action::WriteFile {
                path: p, contents, ..
            } if p.as_str() == path => Some(contents),
            _ => None,
        })
    }
}

impl fmt::Display for InstallPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            Scope::System => "system",
            Scope::User => "per-user",
        };
        writeln!(f, "# plan for {} ({scope} service)", self.target)?;
        for action in &self.actions {
            writeln!(f, "{action}")?;
        }
        for note in &self.notes {
            writeln!(f, "# note: {note}")?;
        }
        Ok(())
    }
}
