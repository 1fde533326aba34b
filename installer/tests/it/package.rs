//! The files the Debian packages ship (`packaging/deb/`): identical to what the installer
//! generates, accepted by `systemd-analyze verify`, as locked down as the installer's unit,
//! and gated so nothing starts before the config and tokens exist.

use std::path::{Path, PathBuf};

use seatbroker_installer::{Scope, TargetOs, package_files, package_layout, systemd_unit};

use crate::layout;
use crate::systemd::{exposure, verify};

fn packaging_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/deb")
}

fn shipped(name: &str) -> String {
    package_files()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no packaged file {name}"))
        .1
}

#[test]
fn committed_package_files_are_the_generated_ones() {
    for (name, text) in package_files() {
        let path = packaging_dir().join(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &text).expect("write packaged file");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `UPDATE_SNAPSHOTS=1 cargo test -p seatbroker-installer --test it package`",
                path.display()
            )
        });
        assert_eq!(
            committed,
            text,
            "{} differs from what the installer generates; if the change is intended, run \
             `UPDATE_SNAPSHOTS=1 cargo test -p seatbroker-installer --test it package`",
            path.display()
        );
    }
}

/// The lines of a unit from `DynamicUser=` to the end of `[Service]`, without the
/// credentials (which differ on purpose) and comments.
fn sandbox(unit: &str) -> Vec<&str> {
    unit.lines()
        .skip_while(|l| !l.starts_with("DynamicUser="))
        .take_while(|l| !l.starts_with("[Install]"))
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("LoadCredential="))
        .collect()
}

#[test]
fn every_packaged_unit_has_the_installers_sandbox() {
    let installer = systemd_unit(&layout(TargetOs::Linux, Scope::System), &["humaans-token"]);
    let reference = sandbox(&installer);
    assert!(reference.contains(&"SystemCallFilter=@system-service"));
    assert_eq!(sandbox(&shipped("seatbroker-agent.service")), reference);
    assert_eq!(
        sandbox(&shipped("seatbroker-agent-enroll.service")),
        reference
    );
    // The platform has its own state folder and no logs or config folder of the agent's.
    let platform = shipped("seatbroker-platform.service");
    let platform_sandbox = sandbox(&platform);
    for line in reference.iter().filter(|l| {
        !l.starts_with("StateDirectory")
            && !l.starts_with("LogsDirectory")
            && !l.starts_with("ConfigurationDirectory")
    }) {
        assert!(
            platform_sandbox.contains(line),
            "the platform unit lacks {line}"
        );
    }
    assert!(platform_sandbox.contains(&"StateDirectory=seatbroker-platform"));
}

#[test]
fn nothing_starts_before_config_and_tokens_exist() {
    let agent = shipped("seatbroker-agent.service");
    for line in [
        "ConditionPathExists=/etc/seatbroker/config.yaml",
        "ConditionPathExists=/etc/seatbroker/credentials/humaans-token",
        "ExecStart=/usr/bin/seatbroker-agent run --config /etc/seatbroker/config.yaml",
        "LoadCredential=humaans-token:/etc/seatbroker/credentials/humaans-token",
        "Wants=seatbroker-agent-enroll.service",
        "After=seatbroker-agent-enroll.service",
    ] {
        assert!(agent.lines().any(|l| l == line), "agent unit lacks {line}");
    }
    // The enrollment token is loaded only by the enrollment unit, so deleting it after
    // enrollment never stops the agent from starting.
    assert!(!agent.contains("enrollment-token"));
    let enroll = shipped("seatbroker-agent-enroll.service");
    for line in [
        "ConditionPathExists=/etc/seatbroker/credentials/enrollment-token",
        "ConditionPathExists=/etc/seatbroker/credentials/humaans-token",
        "ConditionPathExists=!/var/lib/seatbroker/credential",
        "Type=oneshot",
        "ExecStart=/usr/bin/seatbroker-agent enroll --config /etc/seatbroker/config.yaml",
        "LoadCredential=enrollment-token:/etc/seatbroker/credentials/enrollment-token",
    ] {
        assert!(
            enroll.lines().any(|l| l == line),
            "enroll unit lacks {line}"
        );
    }
    assert!(
        !enroll.contains("[Install]"),
        "enrollment runs only when the agent pulls it in"
    );
    let platform = shipped("seatbroker-platform.service");
    for line in [
        "EnvironmentFile=/etc/seatbroker/platform.env",
        "ConditionPathExists=/etc/seatbroker/platform.env",
        "ExecStart=/usr/bin/seatbroker-platform serve",
    ] {
        assert!(
            platform.lines().any(|l| l == line),
            "platform unit lacks {line}"
        );
    }
    // The skeleton config names the credentials the units load.
    let config = shipped("seatbroker-agent.config.yaml");
    assert!(config.contains("token_credential: humaans-token"));
    assert!(config.contains("enrollment_token_credential: enrollment-token"));
    assert_eq!(
        package_layout().config_file.to_string(),
        "/etc/seatbroker/config.yaml"
    );
}

/// Writes `name` with its `/usr/bin` binaries replaced by stand-ins in `dir` (verify
/// checks that each Exec binary exists), returns the unit's path.
fn unit_with_stand_ins(dir: &Path, name: &str) -> PathBuf {
    let mut text = shipped(name);
    for bin in ["seatbroker-agent", "seatbroker-platform"] {
        let stand_in = dir.join(bin);
        std::fs::copy("/bin/true", &stand_in).expect("copy /bin/true as a stand-in");
        text = text.replace(&format!("/usr/bin/{bin}"), stand_in.to_str().unwrap());
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn packaged_units_pass_systemd_analyze_verify_and_stay_locked_down() {
    let dir = tempfile::tempdir().unwrap();
    // Verify resolves the enrollment unit the agent's unit wants from the same folder.
    let units: Vec<PathBuf> = [
        "seatbroker-agent-enroll.service",
        "seatbroker-agent.service",
        "seatbroker-platform.service",
    ]
    .iter()
    .map(|name| unit_with_stand_ins(dir.path(), name))
    .collect();
    for unit in &units {
        if let Err(complaints) = verify(unit, &[]) {
            panic!(
                "systemd-analyze verify rejects {}:\n{complaints}",
                unit.display()
            );
        }
    }
    let installer_unit = dir.path().join("installer.service");
    let mut layout = layout(TargetOs::Linux, Scope::System);
    layout.binary = seatbroker_installer::TargetPath::new(
        dir.path().join("seatbroker-agent").to_str().unwrap(),
    );
    std::fs::write(&installer_unit, systemd_unit(&layout, &["humaans-token"])).unwrap();
    let reference = exposure(&installer_unit);
    for unit in &units {
        let score = exposure(unit);
        println!("{}: exposure {score}", unit.display());
        assert!(
            score <= reference + 0.3,
            "{} is more exposed ({score}) than the installer's unit ({reference})",
            unit.display()
        );
    }
}
