//! Reads (never changes) what an earlier install left: the [`Facts`] a plan depends on.

use std::path::Path;

use crate::layout::{ENROLLMENT_TOKEN, HUMAANS_TOKEN, Layout, MACOS_USER};
use crate::plan::{Scope, TargetOs};
use crate::request::Facts;

/// Facts about `layout` on the host, or under `root`. Directory-service questions (does
/// `_seatbroker` exist, which id is free) are only asked of a real macOS host.
pub(crate) fn probe(layout: &Layout, root: Option<&Path>) -> Facts {
    let exists = |p: &crate::plan::TargetPath| p.on_host(root).exists();
    let credentials = [HUMAANS_TOKEN, ENROLLMENT_TOKEN]
        .into_iter()
        .filter(|name| exists(&layout.credential(name)))
        .map(str::to_owned)
        .collect();
    let installed = exists(&layout.receipt) || layout.service_file.as_ref().is_some_and(exists);
    let mut facts = Facts {
        config_exists: exists(&layout.config_file),
        credentials,
        installed,
        service_user_exists: installed,
        free_service_id: None,
    };
    if layout.target == TargetOs::Macos
        && layout.scope == Scope::System
        && root.is_none()
        && cfg!(target_os = "macos")
    {
        facts.service_user_exists = std::process::Command::new("id")
            .arg(MACOS_USER)
            .output()
            .is_ok_and(|o| o.status.success());
        let list = |path: &str, attr: &str| {
            std::process::Command::new("dscl")
                .args([".", "-list", path, attr])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let used = format!(
            "{}\n{}",
            list("/Users", "UniqueID"),
            list("/Groups", "PrimaryGroupID")
        );
        facts.free_service_id = free_id(&used);
    }
    if layout.target == TargetOs::Windows && root.is_none() && cfg!(windows) {
        facts.installed |= std::process::Command::new("sc.exe")
            .args(["query", crate::layout::WINDOWS_SERVICE])
            .output()
            .is_ok_and(|o| o.status.success());
    }
    facts
}

/// The highest id below 500 (macOS hides users below 500) and at least 200 not in the
/// `dscl -list` output `used` (lines `name id`).
pub(crate) fn free_id(used: &str) -> Option<u32> {
    let taken: Vec<u32> = used
        .lines()
        .filter_map(|l| l.split_whitespace().last()?.parse().ok())
        .collect();
    (200..500).rev().find(|id| !taken.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_id_skips_taken_ids() {
        assert_eq!(free_id("root 0\n_www 70\n"), Some(499));
        assert_eq!(free_id("a 499\nb 498\n"), Some(497));
        let all: String = (200..500).map(|i| format!("u{i} {i}\n")).collect();
        assert_eq!(free_id(&all), None);
    }
}
