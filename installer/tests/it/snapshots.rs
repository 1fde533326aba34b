//! Every generated file and every plan, checked against files in `snapshots/`.

use seatbroker_installer::{
    Facts, Scope, TargetOs, launchd_plist, plan_install, plan_uninstall, skeleton_config,
    systemd_unit,
};

use crate::{check_snapshot, layout, request, upgrade_facts};

#[test]
fn generated_files_match_snapshots() {
    let both = ["humaans-token", "enrollment-token"];
    let cases: Vec<(&str, String)> = vec![
        (
            "linux-system.service",
            systemd_unit(&layout(TargetOs::Linux, Scope::System), &both),
        ),
        (
            "linux-user.service",
            systemd_unit(&layout(TargetOs::Linux, Scope::User), &both[..1]),
        ),
        (
            "macos-daemon.plist",
            launchd_plist(&layout(TargetOs::Macos, Scope::System)),
        ),
        (
            "macos-user-agent.plist",
            launchd_plist(&layout(TargetOs::Macos, Scope::User)),
        ),
        (
            "linux-skeleton.yaml",
            skeleton_config(
                &layout(TargetOs::Linux, Scope::System),
                "https://seatbroker.example.com",
            ),
        ),
        (
            "windows-skeleton.yaml",
            skeleton_config(
                &layout(TargetOs::Windows, Scope::System),
                "https://seatbroker.example.com",
            ),
        ),
    ];
    for (name, text) in cases {
        check_snapshot(name, &text);
    }
}

#[test]
fn plans_match_snapshots() {
    let fresh = Facts::default();
    let upgrade = upgrade_facts();
    let mut no_tokens = request();
    no_tokens.humaans_token = None;
    no_tokens.enrollment_token = None;
    no_tokens.platform_url = None;
    for (name, target, scope, req, facts) in [
        (
            "linux-install.plan",
            TargetOs::Linux,
            Scope::System,
            request(),
            &fresh,
        ),
        (
            "linux-upgrade.plan",
            TargetOs::Linux,
            Scope::System,
            no_tokens.clone(),
            &upgrade,
        ),
        (
            "linux-user-install.plan",
            TargetOs::Linux,
            Scope::User,
            request(),
            &fresh,
        ),
        (
            "macos-install.plan",
            TargetOs::Macos,
            Scope::System,
            request(),
            &fresh,
        ),
        (
            "macos-upgrade.plan",
            TargetOs::Macos,
            Scope::System,
            no_tokens.clone(),
            &upgrade,
        ),
        (
            "windows-install.plan",
            TargetOs::Windows,
            Scope::System,
            request(),
            &fresh,
        ),
        (
            "windows-upgrade.plan",
            TargetOs::Windows,
            Scope::System,
            no_tokens.clone(),
            &upgrade,
        ),
    ] {
        let plan = plan_install(&req, &layout(target, scope), facts).expect("plan");
        check_snapshot(name, &plan.to_string());
    }
    for (name, target, purge) in [
        ("linux-uninstall.plan", TargetOs::Linux, false),
        ("linux-uninstall-purge.plan", TargetOs::Linux, true),
        ("macos-uninstall-purge.plan", TargetOs::Macos, true),
        ("windows-uninstall-purge.plan", TargetOs::Windows, true),
    ] {
        let plan = plan_uninstall(&layout(target, Scope::System), purge);
        check_snapshot(name, &plan.to_string());
    }
}

#[test]
fn plans_never_print_secrets() {
    for target in [TargetOs::Linux, TargetOs::Macos, TargetOs::Windows] {
        let plan = plan_install(
            &request(),
            &layout(target, Scope::System),
            &Facts::default(),
        )
        .unwrap();
        let printed = format!("{plan}\n{plan:?}");
        assert!(
            !printed.contains("hm-token-value"),
            "{target}: Humaans token printed"
        );
        assert!(
            !printed.contains("enroll-token-value"),
            "{target}: enrollment token printed"
        );
        // ...but the files do hold them.
        let token = plan.written(
            &layout(target, Scope::System)
                .credential("humaans-token")
                .to_string(),
        );
        assert_eq!(
            token.map(|c| c.bytes().to_vec()),
            Some(b"hm-token-value".to_vec())
        );
    }
}

#[test]
fn upgrade_keeps_config_and_credentials() {
    let mut req = request();
    req.humaans_token = None;
    req.enrollment_token = None;
    for target in [TargetOs::Linux, TargetOs::Macos, TargetOs::Windows] {
        let l = layout(target, Scope::System);
        let plan = plan_install(&req, &l, &upgrade_facts()).unwrap();
        for kept in [
            l.config_file.clone(),
            l.credential("humaans-token"),
            l.credential("enrollment-token"),
        ] {
            assert!(
                plan.written(kept.as_str()).is_none(),
                "{target}: upgrade rewrites {kept}"
            );
        }
        assert!(
            plan.commands()
                .all(|c| !c.args.iter().any(|a| a == "enroll")),
            "{target}: an upgrade without a new enrollment token must not enroll again (it would create a new agent)"
        );
        assert!(
            !plan.commands().any(|c| c.program == "dscl"),
            "{target}: upgrade recreates the user"
        );
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("kept the existing config")),
            "{target}: {:?}",
            plan.notes
        );
    }
}
