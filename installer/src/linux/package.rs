//! The files the Debian packages ship in `packaging/deb/` (the agent's units and skeleton
//! config, the platform's unit), built from the installer's own pieces: one definition of
//! the agent's service, its enrollment and the sandbox of every Seatbroker service. A test
//! of this crate keeps the committed files identical to what these functions return.

use std::fmt::Write as _;

use crate::layout::{ENROLLMENT_TOKEN, HUMAANS_TOKEN, Layout, LayoutEnv};
use crate::plan::{Scope, TargetOs, TargetPath};
use crate::skeleton::skeleton;
use crate::steps;

use super::unit::{SYSTEM_HARDENING, render_agent_unit, sandbox_properties};

/// The enrollment unit the agent's packaged unit pulls in.
const ENROLL_UNIT: &str = "seatbroker-agent-enroll.service";

/// The agent's paths when installed by the package: the installer's system layout with the
/// binary in `/usr/bin` and the units in `/lib/systemd/system`.
pub fn package_layout() -> Layout {
    let mut layout = Layout::new(TargetOs::Linux, Scope::System, &LayoutEnv::default())
        .expect("the Linux system layout needs nothing from the environment");
    layout.binary = TargetPath::new("/usr/bin/seatbroker-agent");
    layout.service_file = Some(TargetPath::new(
        "/lib/systemd/system/seatbroker-agent.service",
    ));
    layout
}

fn header(package: &str, unit: &str) -> Vec<String> {
    vec![
        format!("# Shipped by the {package} package; an upgrade replaces this file."),
        format!("# Put local changes in a drop-in: `systemctl edit {unit}`."),
    ]
}

/// Each file the packages ship from `packaging/deb/`, by its name there.
pub fn package_files() -> Vec<(&'static str, String)> {
    vec![
        ("seatbroker-agent.service", package_agent_unit()),
        ("seatbroker-agent-enroll.service", package_enroll_unit()),
        ("seatbroker-agent.config.yaml", package_skeleton_config()),
        ("seatbroker-platform.service", package_platform_unit()),
    ]
}

/// The agent's packaged unit. It starts only once the config and the Humaans token exist
/// (a condition, so a fresh install is skipped at boot rather than failed), and pulls in the
/// enrollment unit, which runs first and only while the agent has no credential. The
/// enrollment token is not loaded here, so it can be deleted after enrollment.
pub(crate) fn package_agent_unit() -> String {
    let layout = package_layout();
    let extra = [
        format!("Wants={ENROLL_UNIT}"),
        format!("After={ENROLL_UNIT}"),
        "# Nothing starts before the config and the Humaans token exist.".to_owned(),
        format!("ConditionPathExists={}", layout.config_file),
        format!("ConditionPathExists={}", layout.credential(HUMAANS_TOKEN)),
    ];
    render_agent_unit(
        &layout,
        &[HUMAANS_TOKEN],
        &header("seatbroker-agent", "seatbroker-agent"),
        &extra,
    )
}

/// The one-off enrollment: `seatbroker-agent enroll` with the service's identity, folders,
/// sandbox and both tokens, the same run the installer starts with `systemd-run`. Skipped
/// once the agent holds a credential, so a restart never enrolls again.
pub(crate) fn package_enroll_unit() -> String {
    let layout = package_layout();
    let credentials = [HUMAANS_TOKEN, ENROLLMENT_TOKEN];
    let mut u = String::new();
    let w = &mut u;
    for line in header("seatbroker-agent", "seatbroker-agent-enroll") {
        let _ = writeln!(w, "{line}");
    }
    let _ = writeln!(w, "[Unit]");
    let _ = writeln!(
        w,
        "Description=Seatbroker agent: first enrollment with the platform"
    );
    let _ = writeln!(w, "Documentation=https://example.invalid/seatbroker");
    let _ = writeln!(w, "Wants=network-online.target");
    let _ = writeln!(w, "After=network-online.target");
    let _ = writeln!(w, "Before=seatbroker-agent.service");
    let _ = writeln!(w, "ConditionPathExists={}", layout.config_file);
    for name in credentials {
        let _ = writeln!(w, "ConditionPathExists={}", layout.credential(name));
    }
    let _ = writeln!(
        w,
        "# Enrolled already: the agent keeps its credential here."
    );
    let _ = writeln!(
        w,
        "ConditionPathExists=!{}",
        layout.state_dir.join("credential")
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "[Service]");
    let _ = writeln!(w, "Type=oneshot");
    let mut exec = vec![layout.binary.to_string()];
    exec.extend(steps::enroll_args(&layout));
    let _ = writeln!(w, "ExecStart={}", exec.join(" "));
    let _ = writeln!(w, "TimeoutStartSec=5min");
    let _ = writeln!(w);
    for prop in sandbox_properties(&layout, &credentials) {
        let _ = writeln!(w, "{prop}");
    }
    for line in SYSTEM_HARDENING {
        let _ = writeln!(w, "{line}");
    }
    u
}

/// The skeleton `/etc/seatbroker/config.yaml` the agent package ships as a conffile.
pub(crate) fn package_skeleton_config() -> String {
    let layout = package_layout();
    skeleton(
        &layout,
        "https://seatbroker.example.com",
        "shipped by the seatbroker-agent package",
        &format!(
            "Put each token in {}/NAME (mode 0600), then: systemctl start seatbroker-agent",
            layout.credentials_dir
        ),
    )
}

/// The platform's packaged unit: its settings come from `/etc/seatbroker/platform.env`
/// (`SEATBROKER_DATABASE_URL`, `SEATBROKER_LISTEN`...), its SQLite data (when no database URL
/// is set) from the state folder systemd creates, under the same sandbox as the agent.
pub(crate) fn package_platform_unit() -> String {
    let mut u = String::new();
    let w = &mut u;
    for line in header("seatbroker-platform", "seatbroker-platform") {
        let _ = writeln!(w, "{line}");
    }
    for line in [
        "[Unit]",
        "Description=Seatbroker platform (agent API, console and reports)",
        "Documentation=https://example.invalid/seatbroker",
        "Wants=network-online.target",
        "After=network-online.target postgresql.service",
        "StartLimitIntervalSec=10min",
        "StartLimitBurst=5",
        "ConditionPathExists=/etc/seatbroker/platform.env",
        "",
        "[Service]",
        "Type=exec",
        "# SEATBROKER_DATA_DIR is the state folder; platform.env sets the rest.",
        "Environment=SEATBROKER_DATA_DIR=/var/lib/seatbroker-platform",
        "EnvironmentFile=/etc/seatbroker/platform.env",
        "ExecStart=/usr/bin/seatbroker-platform serve",
        "Restart=on-failure",
        "RestartSec=5s",
        "TimeoutStopSec=30s",
        "# Exit code 64 is a bad configuration: restarting will not fix it.",
        "RestartPreventExitStatus=64",
        "",
        "# A throw-away user; systemd creates and owns /var/lib/seatbroker-platform.",
        "DynamicUser=yes",
        "StateDirectory=seatbroker-platform",
        "StateDirectoryMode=0700",
        "UMask=0077",
    ] {
        let _ = writeln!(w, "{line}");
    }
    for line in SYSTEM_HARDENING {
        let _ = writeln!(w, "{line}");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "[Install]");
    let _ = writeln!(w, "WantedBy=multi-user.target");
    u
}
