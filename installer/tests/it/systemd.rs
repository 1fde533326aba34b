//! The generated unit against systemd's own checker, and its exposure score.

use std::path::{Path, PathBuf};
use std::process::Command;

use seatbroker_installer::{Scope, TargetOs, TargetPath, systemd_unit};

use crate::layout;

const SYSTEMD_ANALYZE: &str = "/usr/bin/systemd-analyze";

fn systemd_analyze() -> &'static str {
    assert!(
        Path::new(SYSTEMD_ANALYZE).exists(),
        "{SYSTEMD_ANALYZE} is missing: these tests check the unit with systemd's own tools; \
         install them with `apt-get install -y systemd` (Debian/Ubuntu) or `dnf install systemd`"
    );
    SYSTEMD_ANALYZE
}

/// Writes the system unit with its binary pointed at an existing executable (verify checks
/// that ExecStart= exists), returns the unit's path.
fn unit_in(dir: &Path, scope: Scope) -> PathBuf {
    let binary = dir.join("seatbroker-agent");
    std::fs::copy("/bin/true", &binary).expect("copy /bin/true as a stand-in agent");
    let mut layout = layout(TargetOs::Linux, scope);
    layout.binary = TargetPath::new(binary.to_str().unwrap());
    let path = dir.join("seatbroker-agent.service");
    std::fs::write(
        &path,
        systemd_unit(&layout, &["humaans-token", "enrollment-token"]),
    )
    .unwrap();
    path
}

/// Runs `systemd-analyze verify`; Ok if it passes with nothing to say.
pub(crate) fn verify(unit: &Path, extra: &[&str]) -> Result<(), String> {
    // A user manager needs a runtime folder even for an offline check.
    let runtime = tempfile::tempdir().unwrap();
    let out = Command::new(systemd_analyze())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(extra)
        .args(["verify", "--man=no"])
        .arg(unit)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && stderr.trim().is_empty() {
        Ok(())
    } else {
        Err(stderr)
    }
}

#[test]
fn system_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path(), Scope::System);
    if let Err(complaints) = verify(&unit, &[]) {
        panic!("systemd-analyze verify rejects the unit:\n{complaints}");
    }
}

#[test]
fn user_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path(), Scope::User);
    if let Err(complaints) = verify(&unit, &["--user"]) {
        panic!("systemd-analyze --user verify rejects the unit:\n{complaints}");
    }
}

#[test]
fn verify_catches_a_broken_unit() {
    // The verify helper must be able to fail: an unknown key and a missing binary.
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path(), Scope::System);
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, text.replace("ProtectClock=yes", "ProtectClocks=yes")).unwrap();
    assert!(verify(&unit, &[]).is_err(), "a misspelt key passed verify");
    let unit = unit_in(dir.path(), Scope::System);
    std::fs::remove_file(dir.path().join("seatbroker-agent")).unwrap();
    assert!(
        verify(&unit, &[]).is_err(),
        "a missing ExecStart binary passed verify"
    );
}

/// The overall exposure from `systemd-analyze security --offline=true` (0 = locked down,
/// 10 = fully exposed). Offline mode reads the unit file alone, so no running systemd is
/// needed.
pub(crate) fn exposure(unit: &Path) -> f64 {
    let out = Command::new(systemd_analyze())
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("run systemd-analyze security");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure line in:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    line.rsplit(':')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"))
}

#[test]
fn system_unit_exposure_is_low() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path(), Scope::System);
    let score = exposure(&unit);
    println!("systemd-analyze security exposure: {score}");
    // 1.1 when written; "OK" in systemd's words is below 2.0... anything above means a
    // hardening line was lost.
    assert!(
        score <= 1.5,
        "exposure {score} is higher than the 1.1 the unit was written with"
    );
    // And the check can fail: without the sandbox the unit is exposed.
    let text = std::fs::read_to_string(&unit).unwrap();
    let bare: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("Protect") && !l.starts_with("Private") && !l.starts_with("Restrict")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&unit, bare).unwrap();
    assert!(exposure(&unit) > score + 1.0);
}
