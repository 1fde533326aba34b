//! Integration tests of the installer: generated files (snapshots), the systemd unit
//! against `systemd-analyze`, the launchd plist parsed back, the Windows service commands,
//! the real binary installing, upgrading and uninstalling under `--root`, and the files the
//! Debian packages ship (`packaging/deb/`).

mod cli;
mod enrollment;
mod package;
mod plist;
mod root_install;
mod skeleton;
mod snapshots;
mod systemd;
mod windows;

use std::path::{Path, PathBuf};

use seatbroker_installer::{
    Facts, InstallRequest, Layout, LayoutEnv, Scope, TargetOs, UserIdentity,
};
use seatbroker_protocol::Secret;

/// The environment every pure-plan test uses: a fixed `--user` identity, default Windows
/// folders.
pub(crate) fn env() -> LayoutEnv {
    LayoutEnv {
        user: Some(UserIdentity {
            name: "alice".into(),
            uid: 1000,
            home: "/home/alice".into(),
        }),
        ..LayoutEnv::default()
    }
}

pub(crate) fn layout(target: TargetOs, scope: Scope) -> Layout {
    Layout::new(target, scope, &env()).expect("layout exists")
}

/// A fresh install with both tokens and a skeleton config.
pub(crate) fn request() -> InstallRequest {
    InstallRequest {
        agent_binary: PathBuf::from("/build/seatbroker-agent"),
        config: None,
        platform_url: Some("https://seatbroker.example.com".into()),
        humaans_token: Some(Secret::new("hm-token-value")),
        enrollment_token: Some(Secret::new("enroll-token-value")),
        start: true,
    }
}

/// Facts of a host where an earlier install left config and both tokens.
pub(crate) fn upgrade_facts() -> Facts {
    Facts {
        config_exists: true,
        credentials: vec!["humaans-token".into(), "enrollment-token".into()],
        installed: true,
        service_user_exists: true,
        free_service_id: None,
    }
}

/// Compares `actual` with `tests/it/snapshots/<name>`; `UPDATE_SNAPSHOTS=1` rewrites it.
pub(crate) fn check_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run `UPDATE_SNAPSHOTS=1 cargo test -p seatbroker-installer`",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "snapshot {name} differs at line {}:\n expected: {:?}\n   actual: {:?}\n\
             full output:\n{actual}\nIf the change is intended, run with UPDATE_SNAPSHOTS=1.",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}
