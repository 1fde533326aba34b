//! The real `seatbroker-install` binary installing, upgrading and removing under `--root`:
//! files, modes, owners, kept data, and no command touching the real system.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seatbroker_installer::Receipt;

/// A temp folder with a root to install into, input files, and a `bin/` of fake
/// systemctl/launchctl/... that leave a mark if anything runs them.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

const SYSTEM_COMMANDS: &[&str] = &[
    "systemctl",
    "systemd-run",
    "launchctl",
    "dscl",
    "sc.exe",
    "icacls",
    "reg.exe",
    "useradd",
    "sudo",
];

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let f = Self { dir };
        std::fs::create_dir_all(f.path("root")).unwrap();
        std::fs::create_dir_all(f.path("bin")).unwrap();
        for name in SYSTEM_COMMANDS {
            let script = f.path("bin").join(name);
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\necho {name} \"$@\" >> '{}'\n",
                    f.path("ran").display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        f.write("agent-v1", "#!/bin/sh\necho v1\n");
        f.write("agent-v2", "#!/bin/sh\necho v2\n");
        f.write("humaans-token", "hm-secret-1\n");
        f.write("humaans-token-2", "  hm-secret-2  \n");
        f.write("enrollment-token", "enroll-secret\n");
        f
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    /// A path under the install root.
    pub(crate) fn rooted(&self, path: &str) -> PathBuf {
        let mut out = self.path("root");
        for part in path.split(['/', '\\']).filter(|p| !p.is_empty()) {
            out.push(part.trim_end_matches(':'));
        }
        out
    }

    /// Runs the installer with `args` (paths named `@x` are files of this fixture).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix('@') {
                Some(name) => self.path(name).display().to_string(),
                None => (*a).to_owned(),
            })
            .collect();
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(env!("CARGO_BIN_EXE_seatbroker-install"))
            .args(&args)
            .env("PATH", path)
            .env("HOME", "/home/alice")
            .env("USER", "alice")
            .output()
            .expect("run seatbroker-install")
    }

    /// Runs and expects success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "seatbroker-install {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !self.path("ran").exists(),
            "a system command ran under --root:\n{}",
            self.read("ran")
        );
        stdout
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    pub(crate) fn mode(&self, path: &str) -> u32 {
        std::fs::metadata(self.rooted(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode()
            & 0o7777
    }

    pub(crate) fn text(&self, path: &str) -> String {
        std::fs::read_to_string(self.rooted(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every file and folder under the root with its mode and contents.
    pub(crate) fn tree(&self) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (u32, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                let body = if meta.is_file() {
                    std::fs::read(&path).unwrap()
                } else {
                    Vec::new()
                };
                out.insert(path.clone(), (meta.permissions().mode(), body));
                if meta.is_dir() {
                    walk(&path, out);
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.path("root"), &mut out);
        out
    }
}

const ROOT: &str = "--root";

fn install_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![ROOT, "@root", "install", "--binary", "@agent-v1"];
    args.extend_from_slice(extra);
    args
}

fn running_as_root() -> bool {
    seatbroker_installer::effective_uid() == Some(0)
}

fn receipt(f: &Fixture, path: &str) -> Receipt {
    Receipt::from_json(&f.text(path)).expect("receipt parses")
}

/// Checks mode and owner of each `(path, mode, owner)`: the real owner when running as root,
/// else the owner recorded in the receipt.
fn check_files(f: &Fixture, receipt_path: &str, expected: &[(&str, u32, &str)], real_owner: bool) {
    let receipt = receipt(f, receipt_path);
    for (path, mode, owner) in expected {
        assert_eq!(f.mode(path), *mode, "mode of {path}");
        let entry = receipt
            .entry(path)
            .unwrap_or_else(|| panic!("{path} not in the receipt"));
        assert_eq!(entry.mode, format!("{mode:04o}"), "recorded mode of {path}");
        assert_eq!(entry.owner, *owner, "recorded owner of {path}");
        if real_owner && running_as_root() {
            let meta = std::fs::metadata(f.rooted(path)).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (0, 0),
                "{path} must belong to root:root"
            );
        }
    }
}

const LINUX_FILES: &[(&str, u32, &str)] = &[
    ("/usr/local/bin/seatbroker-agent", 0o755, "root:root"),
    ("/etc/seatbroker", 0o755, "root:root"),
    ("/etc/seatbroker/config.yaml", 0o644, "root:root"),
    ("/etc/seatbroker/credentials", 0o700, "root:root"),
    (
        "/etc/seatbroker/credentials/humaans-token",
        0o600,
        "root:root",
    ),
    (
        "/etc/seatbroker/credentials/enrollment-token",
        0o600,
        "root:root",
    ),
    (
        "/etc/systemd/system/seatbroker-agent.service",
        0o644,
        "root:root",
    ),
];

#[test]
fn linux_install_upgrade_and_uninstall_under_root() {
    let f = Fixture::new();
    let out = f.ok(&install_args(&[
        "--target",
        "linux",
        "--platform-url",
        "https://seatbroker.example.com",
        "--humaans-token-file",
        "@humaans-token",
        "--enrollment-token-file",
        "@enrollment-token",
    ]));
    assert!(
        out.contains("skipped (--root) systemctl daemon-reload"),
        "{out}"
    );
    assert!(out.contains("skipped (--root) systemd-run"), "{out}");
    check_files(
        &f,
        "/etc/seatbroker/install-receipt.json",
        LINUX_FILES,
        true,
    );
    assert_eq!(
        f.text("/etc/seatbroker/credentials/humaans-token"),
        "hm-secret-1"
    );
    assert_eq!(
        f.text("/etc/seatbroker/credentials/enrollment-token"),
        "enroll-secret"
    );
    assert!(
        f.text("/etc/seatbroker/config.yaml")
            .contains("url: \"https://seatbroker.example.com\"")
    );
    assert_eq!(
        f.text("/usr/local/bin/seatbroker-agent"),
        "#!/bin/sh\necho v1\n"
    );
    assert!(!out.contains("hm-secret"), "a token was printed");

    // State the running agent made; a local config edit; a tampered unit.
    std::fs::create_dir_all(f.rooted("/var/lib/private/seatbroker/spool")).unwrap();
    std::fs::write(f.rooted("/var/lib/private/seatbroker/spool/snap-1"), "data").unwrap();
    std::os::unix::fs::symlink("private/seatbroker", f.rooted("/var/lib/seatbroker")).unwrap();
    let edited = format!("{}# local edit\n", f.text("/etc/seatbroker/config.yaml"));
    std::fs::write(f.rooted("/etc/seatbroker/config.yaml"), &edited).unwrap();
    std::fs::write(
        f.rooted("/etc/systemd/system/seatbroker-agent.service"),
        "[Unit]\n",
    )
    .unwrap();

    // Upgrade: new binary, nothing else given.
    let out = f.ok(&[
        ROOT,
        "@root",
        "--target",
        "linux",
        "install",
        "--binary",
        "@agent-v2",
    ]);
    assert!(out.contains("Upgraded"), "{out}");
    assert!(
        !out.contains("systemd-run"),
        "an upgrade must not enroll again:\n{out}"
    );
    assert_eq!(
        f.text("/usr/local/bin/seatbroker-agent"),
        "#!/bin/sh\necho v2\n"
    );
    let unit = f.text("/etc/systemd/system/seatbroker-agent.service");
    assert!(
        unit.contains("LoadCredential=humaans-token:/etc/seatbroker/credentials/humaans-token")
    );
    assert!(
        unit.contains("LoadCredential=enrollment-token:"),
        "kept credential still loaded"
    );
    assert_eq!(
        f.text("/etc/seatbroker/config.yaml"),
        edited,
        "upgrade replaced the config"
    );
    assert_eq!(
        f.text("/etc/seatbroker/credentials/humaans-token"),
        "hm-secret-1"
    );
    assert_eq!(
        f.text("/var/lib/seatbroker/spool/snap-1"),
        "data",
        "upgrade lost state"
    );
    check_files(
        &f,
        "/etc/seatbroker/install-receipt.json",
        &LINUX_FILES[..1],
        true,
    );

    // A new token replaces the old one (trimmed), mode kept.
    f.ok(&[
        ROOT,
        "@root",
        "--target",
        "linux",
        "install",
        "--binary",
        "@agent-v2",
        "--humaans-token-file",
        "@humaans-token-2",
    ]);
    assert_eq!(
        f.text("/etc/seatbroker/credentials/humaans-token"),
        "hm-secret-2"
    );
    assert_eq!(f.mode("/etc/seatbroker/credentials/humaans-token"), 0o600);

    let status = f.ok(&[ROOT, "@root", "--target", "linux", "status"]);
    assert!(status.contains("files:     all 7 present"), "{status}");
    // Run by hand, the agent must be told the service's folders, not guess the user's.
    assert!(
        status.contains(
            "/usr/local/bin/seatbroker-agent status --config /etc/seatbroker/config.yaml \
             --state-dir /var/lib/seatbroker --log-dir /var/log/seatbroker"
        ),
        "{status}"
    );

    // Uninstall keeps config, credentials and state.
    f.ok(&[ROOT, "@root", "--target", "linux", "uninstall"]);
    for gone in [
        "/usr/local/bin/seatbroker-agent",
        "/etc/systemd/system/seatbroker-agent.service",
        "/etc/seatbroker/install-receipt.json",
    ] {
        assert!(!f.rooted(gone).exists(), "{gone} survived uninstall");
    }
    assert_eq!(f.text("/etc/seatbroker/config.yaml"), edited);
    assert_eq!(
        f.text("/etc/seatbroker/credentials/humaans-token"),
        "hm-secret-2"
    );
    assert_eq!(f.text("/var/lib/seatbroker/spool/snap-1"), "data");
    let out = f.run(&[ROOT, "@root", "--target", "linux", "status"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "status after uninstall says not installed"
    );

    // Purge removes the rest.
    f.ok(&[ROOT, "@root", "--target", "linux", "uninstall", "--purge"]);
    for gone in [
        "/etc/seatbroker",
        "/var/lib/seatbroker",
        "/var/lib/private/seatbroker",
    ] {
        assert!(
            std::fs::symlink_metadata(f.rooted(gone)).is_err(),
            "{gone} survived --purge"
        );
    }
}

#[test]
fn macos_install_under_root_records_the_service_owner() {
    let f = Fixture::new();
    let out = f.ok(&install_args(&[
        "--target",
        "macos",
        "--platform-url",
        "https://seatbroker.example.com",
        "--humaans-token-file",
        "@humaans-token",
    ]));
    assert!(
        out.contains("skipped (--root) dscl . -create /Users/_seatbroker"),
        "{out}"
    );
    assert!(out.contains("skipped (--root) launchctl bootstrap system /Library/LaunchDaemons/io.seatbroker.agent.plist"));
    let base = "/Library/Application Support/Seatbroker";
    let receipt_path = format!("{base}/install-receipt.json");
    check_files(
        &f,
        &receipt_path,
        &[
            ("/usr/local/bin/seatbroker-agent", 0o755, "root:wheel"),
            (&format!("{base}/config.yaml"), 0o644, "root:wheel"),
            (&format!("{base}/secrets"), 0o750, "root:_seatbroker"),
            (
                &format!("{base}/secrets/humaans-token"),
                0o400,
                "_seatbroker:_seatbroker",
            ),
            (&format!("{base}/state"), 0o700, "_seatbroker:_seatbroker"),
            ("/Library/Logs/Seatbroker", 0o700, "_seatbroker:_seatbroker"),
            (
                "/Library/LaunchDaemons/io.seatbroker.agent.plist",
                0o644,
                "root:wheel",
            ),
        ],
        false,
    );
    assert!(
        f.text("/Library/LaunchDaemons/io.seatbroker.agent.plist")
            .contains("<string>_seatbroker</string>")
    );
    // An upgrade does not recreate the account and reloads the job.
    let out = f.ok(&[
        ROOT,
        "@root",
        "--target",
        "macos",
        "install",
        "--binary",
        "@agent-v2",
    ]);
    assert!(!out.contains("dscl"), "{out}");
    assert!(
        out.contains("skipped (--root) launchctl bootout system/io.seatbroker.agent"),
        "{out}"
    );
    assert_eq!(
        f.text(&format!("{base}/secrets/humaans-token")),
        "hm-secret-1"
    );
}

#[test]
fn windows_install_under_root_maps_drive_paths() {
    let f = Fixture::new();
    let out = f.ok(&install_args(&[
        "--target",
        "windows",
        "--platform-url",
        "https://seatbroker.example.com",
        "--humaans-token-file",
        "@humaans-token",
    ]));
    assert!(
        out.contains("skipped (--root) sc.exe create SeatbrokerAgent"),
        "{out}"
    );
    assert_eq!(
        f.text(r"C:\ProgramData\Seatbroker\secrets\humaans-token"),
        "hm-secret-1"
    );
    assert_eq!(
        f.text(r"C:\Program Files\Seatbroker\seatbroker-agent.exe"),
        "#!/bin/sh\necho v1\n"
    );
    let receipt = receipt(&f, r"C:\ProgramData\Seatbroker\install-receipt.json");
    let entry = receipt
        .entry(r"C:\ProgramData\Seatbroker\secrets\humaans-token")
        .unwrap();
    assert_eq!(entry.mode, "acl");
}

#[test]
fn user_install_under_root_writes_a_user_unit() {
    let f = Fixture::new();
    let out = f.ok(&[
        ROOT,
        "@root",
        "--target",
        "linux",
        "--user",
        "install",
        "--binary",
        "@agent-v1",
        "--platform-url",
        "https://seatbroker.example.com",
        "--humaans-token-file",
        "@humaans-token",
    ]);
    assert!(
        out.contains("skipped (--root) systemctl --user daemon-reload"),
        "{out}"
    );
    let unit = f.text("/home/alice/.config/systemd/user/seatbroker-agent.service");
    assert!(
        !unit.contains("DynamicUser"),
        "user units cannot use DynamicUser"
    );
    assert!(unit.contains("WantedBy=default.target"));
    assert_eq!(
        f.mode("/home/alice/.config/seatbroker/credentials/humaans-token"),
        0o600
    );
    assert_eq!(
        f.text("/home/alice/.local/bin/seatbroker-agent"),
        "#!/bin/sh\necho v1\n"
    );
}

#[test]
fn dry_run_changes_nothing() {
    let f = Fixture::new();
    let full = [
        "--platform-url",
        "https://seatbroker.example.com",
        "--humaans-token-file",
        "@humaans-token",
        "--enrollment-token-file",
        "@enrollment-token",
    ];
    for target in ["linux", "macos", "windows"] {
        // On an empty root, and over an existing install.
        for existing in [false, true] {
            if existing {
                let mut args = install_args(&full);
                args.extend(["--target", target]);
                f.ok(&args);
            }
            let before = f.tree();
            let mut args = vec!["--dry-run", "--target", target];
            args.extend(install_args(&full));
            let out = f.ok(&args);
            assert!(out.contains("# dry run: nothing is changed"), "{out}");
            assert!(out.contains("write "), "{out}");
            assert!(!out.contains("hm-secret"), "dry run printed a token");
            f.ok(&[
                "--dry-run",
                "--target",
                target,
                ROOT,
                "@root",
                "uninstall",
                "--purge",
            ]);
            assert_eq!(
                f.tree(),
                before,
                "{target}: dry run changed the root (existing install: {existing})"
            );
        }
    }
}

#[test]
fn dry_run_on_the_real_system_prints_real_paths_and_changes_nothing() {
    let f = Fixture::new();
    let existed = Path::new("/etc/seatbroker").exists();
    let out = f.ok(&[
        "--dry-run",
        "--target",
        "linux",
        "install",
        "--binary",
        "@agent-v1",
        "--platform-url",
        "https://seatbroker.example.com",
        "--humaans-token-file",
        "@humaans-token",
    ]);
    assert!(
        out.contains(
            "write  /etc/systemd/system/seatbroker-agent.service  mode 0644 owner root:root"
        ),
        "{out}"
    );
    assert!(out.contains("run    systemctl daemon-reload"), "{out}");
    assert_eq!(Path::new("/etc/seatbroker").exists(), existed);
}
