//! What a person sees when something is wrong: exit code and a message saying what to do.

use std::process::Command;

use crate::root_install::Fixture;

/// Runs the installer under a fresh `--root` and checks the exit code and that stderr
/// contains every expected fragment.
fn check(args: &[&str], code: i32, expected: &[&str]) {
    let f = Fixture::new();
    f.write("empty-token", "\n");
    f.write("two-tokens", "a\nb\n");
    let mut all = vec!["--root", "@root", "--target", "linux"];
    all.extend_from_slice(args);
    let out = f.run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    for fragment in expected {
        assert!(
            stderr.contains(fragment),
            "{args:?}: expected {fragment:?} in:\n{stderr}"
        );
    }
    assert!(
        !f.path("root/etc").exists(),
        "{args:?}: a failed install wrote files"
    );
}

#[test]
fn bad_input_is_refused_with_what_to_do() {
    check(
        &[
            "install",
            "--binary",
            "@missing",
            "--platform-url",
            "https://x.example",
        ],
        64,
        &[
            "agent binary",
            "missing does not exist",
            "pass --binary PATH",
        ],
    );
    check(
        &[
            "install",
            "--binary",
            "@agent-v1",
            "--humaans-token-file",
            "@humaans-token",
        ],
        64,
        &["no configuration", "--config FILE", "--platform-url URL"],
    );
    check(
        &[
            "install",
            "--binary",
            "@agent-v1",
            "--platform-url",
            "https://x.example",
        ],
        64,
        &[
            "no Humaans token",
            "--humaans-token-file FILE",
            "private:read",
            "--no-start",
        ],
    );
    check(
        &[
            "install",
            "--binary",
            "@agent-v1",
            "--platform-url",
            "seatbroker.example.com",
            "--humaans-token-file",
            "@humaans-token",
        ],
        64,
        &["must start with https://", "--platform-url https://"],
    );
    check(
        &[
            "install",
            "--binary",
            "@agent-v1",
            "--platform-url",
            "https://x.example",
            "--humaans-token-file",
            "@empty-token",
        ],
        64,
        &["empty-token is empty", "put exactly the token in it"],
    );
    check(
        &[
            "install",
            "--binary",
            "@agent-v1",
            "--platform-url",
            "https://x.example",
            "--humaans-token-file",
            "@two-tokens",
        ],
        64,
        &["more than one line"],
    );
    check(
        &["install", "--binary", "@agent-v1", "--config", "@nope.yaml"],
        64,
        &["cannot read the config file", "nope.yaml"],
    );
    check(
        &["status"],
        3,
        &["not installed", "seatbroker-install install"],
    );
}

#[test]
fn without_root_a_system_install_is_refused() {
    let f = Fixture::new();
    let binary = env!("CARGO_BIN_EXE_seatbroker-install");
    let args = [
        "install",
        "--binary",
        "/bin/true",
        "--platform-url",
        "https://x.example",
    ];
    let out = if seatbroker_installer::effective_uid() == Some(0) {
        // Drop to nobody to see what a normal user sees.
        let setpriv = "/usr/bin/setpriv";
        assert!(
            std::path::Path::new(setpriv).exists(),
            "this test drops root with {setpriv} (util-linux)"
        );
        Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", binary])
            .args(args)
            .current_dir(f.dir.path())
            .output()
            .unwrap()
    } else {
        Command::new(binary).args(args).output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(
        stderr.contains(
            "seatbroker-install must run as root (try: sudo seatbroker-install install ...), or use --user for a per-user service"
        ),
        "{stderr}"
    );
}
