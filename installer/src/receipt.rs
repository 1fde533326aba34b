//! The install receipt: a JSON record of every path the installer wrote, with the mode and
//! owner it intended. `status` reads it; tests check ownership against it under `--root`.

use serde::{Deserialize, Serialize};

use crate::layout::Layout;
use crate::plan::{Action, Scope, TargetOs};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub installer_version: String,
    pub target: TargetOs,
    pub scope: Scope,
    pub binary: String,
    pub config: String,
    /// The unit or plist path, or the Windows service name.
    pub service: String,
    pub entries: Vec<ReceiptEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEntry {
    pub path: String,
    /// `dir` or `file`.
    pub kind: String,
    /// Octal mode like `0600`, or `acl` on Windows.
    pub mode: String,
    /// `user:group`.
    pub owner: String,
}

impl Receipt {
    /// The receipt for the paths `actions` write.
    pub(crate) fn from_actions<'a>(
        actions: impl Iterator<Item = &'a Action>,
        layout: &Layout,
    ) -> Self {
        let entries = actions
            .filter_map(|action| {
                let (path, kind, mode, owner) = match action {
                    Action::CreateDir { path, mode, owner } => (path, "dir", mode, owner),
                    Action::WriteFile {
                        path, mode, owner, ..
                    } => (path, "file", mode, owner),
                    Action::Copy {
                        to, mode, owner, ..
                    } => (to, "file", mode, owner),
                    _ => return None,
                };
                Some(ReceiptEntry {
                    path: path.to_string(),
                    kind: kind.to_owned(),
                    mode: mode.map_or_else(|| "acl".to_owned(), |m| format!("{m:04o}")),
                    owner: owner.to_string(),
                })
            })
            .collect();
        Self {
            installer_version: env!("CARGO_PKG_VERSION").to_owned(),
            target: layout.target,
            scope: layout.scope,
            binary: layout.binary.to_string(),
            config: layout.config_file.to_string(),
            service: layout.service_file.as_ref().map_or_else(
                || crate::layout::WINDOWS_SERVICE.to_owned(),
                ToString::to_string,
            ),
            entries,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a receipt always serializes");
        text.push('\n');
        text
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The entry for `path`, if the installer wrote it.
    pub fn entry(&self, path: &str) -> Option<&ReceiptEntry> {
        self.entries.iter().find(|e| e.path == path)
    }
}
