//! Configuration of app sources (`entra_id`, `seat_list`): defaults, and errors that name
//! file, line, column and key, including settings of another kind of source.

use std::path::Path;

use seatbroker_agent::{Config, SecretRef, SourceKindConfig};
use seatbroker_protocol::LicencePolicy;

const HEAD: &str = "platform:\n  url: https://p.example\nsources:\n";

fn parse(sources: &str) -> Result<Config, String> {
    Config::parse(&format!("{HEAD}{sources}"), Path::new("agent.yaml")).map_err(|e| e.to_string())
}

#[test]
fn entra_and_seat_list_sources_have_documented_defaults() {
    let config = parse(
        "  - name: m365\n    kind: entra_id\n    tenant_id: 6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c31\n    client_id: 11111111-2222-3333-4444-555555555555\n    client_secret_file: /etc/seatbroker/entra-secret\n  - name: slack\n    kind: seat_list\n    path: /var/lib/seatbroker/slack.csv\n    purchased:\n      Business+: 50\n    policy:\n      idle_after_days: 60\n",
    )
    .unwrap();
    let entra = &config.sources[0];
    assert_eq!(entra.kind, SourceKindConfig::EntraId);
    assert_eq!(entra.login_url(), "https://login.microsoftonline.com");
    assert_eq!(entra.graph_url(), "https://graph.microsoft.com");
    assert_eq!(
        entra.client_secret(),
        Some(SecretRef::File("/etc/seatbroker/entra-secret".into()))
    );
    assert_eq!(entra.policy.licence_policy(), LicencePolicy::default());
    let seats = &config.sources[1];
    assert_eq!(seats.kind, SourceKindConfig::SeatList);
    assert_eq!(seats.purchased.get("Business+"), Some(&50));
    assert_eq!(seats.policy.licence_policy().idle_after_days, 60);
    assert_eq!(seats.policy.licence_policy().never_used_grace_days, 14);
}

#[test]
fn bad_app_sources_name_file_line_column_and_key() {
    let entra = "  - name: m\n    kind: entra_id\n    tenant_id: t1\n    client_id: c1\n";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{entra}    client_secret_file: /s\n    token_file: /t\n"),
            "agent.yaml:9:5: sources[0].token_file: `token_file` is a setting of a humaans source, not of an entra_id source; remove it or change `kind`",
        ),
        (
            format!("{entra}    client_secret_file: /s\n    policy:\n      leaving_window_days: 3\n"),
            "agent.yaml:10:7: sources[0].policy.leaving_window_days: `policy.leaving_window_days` is a setting of a humaans source, not of an entra_id source; remove it or change `kind`",
        ),
        (
            "  - name: h\n    kind: humaans\n    token_file: /t\n    graph_url: https://graph.microsoft.com\n".to_owned(),
            "agent.yaml:7:5: sources[0].graph_url: `graph_url` is a setting of an entra_id source, not of a humaans source; remove it or change `kind`",
        ),
        (
            "  - name: h\n    kind: humaans\n    token_file: /t\n    policy:\n      idle_after_days: 9\n".to_owned(),
            "agent.yaml:8:7: sources[0].policy.idle_after_days: `policy.idle_after_days` is a setting of an entra_id or seat_list source, not of a humaans source; remove it or change `kind`",
        ),
        (
            "  - name: s\n    kind: seat_list\n    path: /x.csv\n    client_id: c\n".to_owned(),
            "agent.yaml:7:5: sources[0].client_id: `client_id` is a setting of an entra_id source, not of a seat_list source; remove it or change `kind`",
        ),
        (
            entra.to_owned(),
            "agent.yaml:4:3: sources[0]: set exactly one of client_secret_file, client_secret_env and client_secret_credential for the Entra ID client secret",
        ),
        (
            format!("{entra}    client_secret_file: /s\n    client_secret_env: S\n"),
            "agent.yaml:4:3: sources[0]: set exactly one of client_secret_file, client_secret_env and client_secret_credential for the Entra ID client secret",
        ),
        (
            "  - name: m\n    kind: entra_id\n    client_id: c1\n    client_secret_env: S\n".to_owned(),
            "agent.yaml:4:3: sources[0]: an entra_id source needs `tenant_id`: the Directory (tenant) ID shown on the app registration's Overview page",
        ),
        (
            "  - name: m\n    kind: entra_id\n    tenant_id: t1\n    client_secret_env: S\n".to_owned(),
            "agent.yaml:4:3: sources[0]: an entra_id source needs `client_id`: the Application (client) ID shown on the app registration's Overview page",
        ),
        (
            format!("{entra}    client_secret_env: S\n    login_url: http://login.example\n"),
            "agent.yaml:9:5: sources[0].login_url: `http://login.example` uses plain http to a host that is not this machine; use https",
        ),
        (
            format!("{entra}    client_secret_env: S\n    graph_url: https://graph.example/?x=1\n"),
            "agent.yaml:9:5: sources[0].graph_url: `https://graph.example/?x=1` must be a plain host URL without query, fragment or credentials, e.g. https://graph.microsoft.com",
        ),
        (
            format!("{entra}    client_secret_env: S\n    policy:\n      idle_after_days: 0\n"),
            "agent.yaml:10:7: sources[0].policy.idle_after_days: 0 must be 1 to 3650 days",
        ),
        (
            "  - name: s\n    kind: seat_list\n".to_owned(),
            "agent.yaml:4:3: sources[0]: a seat_list source needs `path`: a CSV file, or a folder of *.csv files",
        ),
        (
            "  - name: s\n    kind: seat_list\n    path: /x.csv\n    purchased:\n      Pro: many\n".to_owned(),
            "agent.yaml:8:12: sources[0].purchased.Pro: invalid type: string \"many\", expected u64",
        ),
    ];
    let mut failures = Vec::new();
    for (sources, expected) in &cases {
        let got = parse(sources)
            .map(|_| "<accepted>".to_owned())
            .unwrap_or_else(|e| e);
        if got != *expected {
            failures.push(format!(
                "sources:\n{sources}\nexpected: {expected}\n     got: {got}\n"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Plain http to this machine (a local simulator) is allowed.
    parse(&format!(
        "{entra}    client_secret_env: S\n    login_url: http://127.0.0.1:9/\n    graph_url: http://localhost:9\n"
    ))
    .unwrap();
}
