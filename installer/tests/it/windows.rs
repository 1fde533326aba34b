//! The Windows service definition, as data.

use seatbroker_installer::{
    Facts, Scope, TargetOs, acl_commands, environment_command, plan_install, sc_create, sc_failure,
    service_command_line,
};

use crate::{layout, request};

#[test]
fn service_runs_under_its_virtual_account_with_delayed_auto_start() {
    let l = layout(TargetOs::Windows, Scope::System);
    let create = sc_create(&l, false);
    assert_eq!(create.program, "sc.exe");
    let arg_after = |key: &str| {
        let i = create
            .args
            .iter()
            .position(|a| a == key)
            .unwrap_or_else(|| panic!("no {key}"));
        create.args[i + 1].clone()
    };
    assert_eq!(create.args[..2], ["create", "SeatbrokerAgent"]);
    assert_eq!(arg_after("obj="), r"NT SERVICE\SeatbrokerAgent");
    assert_eq!(arg_after("start="), "delayed-auto");
    assert_eq!(
        arg_after("binPath="),
        r#""C:\Program Files\Seatbroker\seatbroker-agent.exe" run --config "C:\ProgramData\Seatbroker\config.yaml""#
    );
    assert!(
        !create.args.iter().any(|a| a == "password="),
        "virtual accounts have no password"
    );
    assert_eq!(
        sc_create(&l, true).args[0],
        "config",
        "an upgrade reconfigures the existing service"
    );
}

#[test]
fn command_line_quotes_paths_with_spaces() {
    let mut env = crate::env();
    env.program_files = r"D:\Apps & Tools".into();
    let l = seatbroker_installer::Layout::new(TargetOs::Windows, Scope::System, &env).unwrap();
    assert!(
        service_command_line(&l)
            .starts_with(r#""D:\Apps & Tools\Seatbroker\seatbroker-agent.exe" "#)
    );
}

#[test]
fn failure_actions_restart_after_5_10_60_seconds_and_reset_daily() {
    assert_eq!(
        sc_failure().args,
        [
            "failure",
            "SeatbrokerAgent",
            "reset=",
            "86400",
            "actions=",
            "restart/5000/restart/10000/restart/60000"
        ]
    );
}

#[test]
fn secrets_are_readable_only_by_the_service_and_admins() {
    let l = layout(TargetOs::Windows, Scope::System);
    let acls = acl_commands(&l);
    let (secrets, _) = acls
        .iter()
        .find(|(c, _)| c.args[0] == l.credentials_dir.as_str())
        .expect("an icacls for the secrets folder");
    assert_eq!(secrets.program, "icacls");
    assert!(
        secrets.args.contains(&"/inheritance:r".to_owned()),
        "inherited ACLs (Users: read) must go"
    );
    let grants: Vec<&str> = secrets.args.iter().skip(3).map(String::as_str).collect();
    assert_eq!(
        grants,
        [
            "*S-1-5-18:(OI)(CI)F",
            "*S-1-5-32-544:(OI)(CI)F",
            r"NT SERVICE\SeatbrokerAgent:(OI)(CI)R"
        ]
    );
}

#[test]
fn environment_names_the_same_folders_as_systemd() {
    let l = layout(TargetOs::Windows, Scope::System);
    let reg = environment_command(&l);
    let i = reg.args.iter().position(|a| a == "/d").unwrap();
    let values: Vec<&str> = reg.args[i + 1].split('|').collect();
    assert_eq!(
        values,
        [
            r"STATE_DIRECTORY=C:\ProgramData\Seatbroker\state",
            r"LOGS_DIRECTORY=C:\ProgramData\Seatbroker\logs",
            r"CONFIGURATION_DIRECTORY=C:\ProgramData\Seatbroker",
            r"CREDENTIALS_DIRECTORY=C:\ProgramData\Seatbroker\secrets",
        ]
    );
}

#[test]
fn secrets_are_written_after_the_folders_are_locked_down() {
    let l = layout(TargetOs::Windows, Scope::System);
    let plan = plan_install(&request(), &l, &Facts::default()).unwrap();
    let position = |pred: &dyn Fn(&seatbroker_installer::Action) -> bool| {
        plan.actions.iter().position(pred).unwrap()
    };
    let token_write = position(&|a| a.path() == Some(&l.credential("humaans-token")));
    let lock = position(&|a| {
        matches!(a, seatbroker_installer::Action::Run { command, .. }
            if command.program == "icacls" && command.args[0] == l.credentials_dir.as_str())
    });
    let start = position(
        &|a| matches!(a, seatbroker_installer::Action::Run { command, .. } if command.args[0] == "start"),
    );
    assert!(lock < token_write, "the token would inherit a readable ACL");
    assert!(token_write < start);
}
