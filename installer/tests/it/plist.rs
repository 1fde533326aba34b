//! The launchd plist, parsed back with a small XML property-list reader written here (so
//! the writer is not checked by its own code).

use std::collections::BTreeMap;

use seatbroker_installer::{Scope, TargetOs, TargetPath, launchd_plist};

use crate::layout;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    String(String),
    Bool(bool),
    Integer(i64),
    Array(Vec<Value>),
    Dict(BTreeMap<String, Value>),
}

impl Value {
    fn dict(&self) -> &BTreeMap<String, Value> {
        match self {
            Value::Dict(d) => d,
            other => panic!("expected a dict, got {other:?}"),
        }
    }
}

/// Splits the document into tags and text, skipping the prolog, DOCTYPE and whitespace.
fn tokens(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        if !text.trim().is_empty() {
            out.push(text.to_owned());
        }
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start..=end];
        if !tag.starts_with("<?") && !tag.starts_with("<!") {
            out.push(tag.to_owned());
        }
        rest = &rest[end + 1..];
    }
    assert!(rest.trim().is_empty(), "text after the last tag");
    out
}

fn unescape(s: &str) -> String {
    assert!(
        !s.contains('<') && !s.contains('>'),
        "unescaped markup in {s:?}"
    );
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("unterminated entity") + i;
        out.push(match &rest[i + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            other => panic!("unknown entity &{other};"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn parse_value(toks: &[String], i: &mut usize) -> Value {
    let tag = toks[*i].clone();
    *i += 1;
    let text_until = |i: &mut usize, close: &str| {
        let text = if toks[*i] == close {
            String::new()
        } else {
            *i += 1;
            unescape(&toks[*i - 1])
        };
        assert_eq!(toks[*i], close);
        *i += 1;
        text
    };
    match tag.as_str() {
        "<string>" => Value::String(text_until(i, "</string>")),
        "<integer>" => Value::Integer(text_until(i, "</integer>").parse().expect("integer")),
        "<true/>" => Value::Bool(true),
        "<false/>" => Value::Bool(false),
        "<array>" => {
            let mut items = Vec::new();
            while toks[*i] != "</array>" {
                items.push(parse_value(toks, i));
            }
            *i += 1;
            Value::Array(items)
        }
        "<dict>" => {
            let mut map = BTreeMap::new();
            while toks[*i] != "</dict>" {
                assert_eq!(toks[*i], "<key>", "a dict entry starts with a key");
                *i += 1;
                let key = text_until(i, "</key>");
                let value = parse_value(toks, i);
                assert!(
                    map.insert(key.clone(), value).is_none(),
                    "duplicate key {key}"
                );
            }
            *i += 1;
            Value::Dict(map)
        }
        other => panic!("unexpected tag {other}"),
    }
}

fn parse(xml: &str) -> Value {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\""));
    let toks = tokens(xml);
    assert_eq!(
        toks.first().map(String::as_str),
        Some("<plist version=\"1.0\">")
    );
    assert_eq!(toks.last().map(String::as_str), Some("</plist>"));
    let mut i = 1;
    let value = parse_value(&toks, &mut i);
    assert_eq!(i, toks.len() - 1, "one value in the plist");
    value
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

#[test]
fn daemon_plist_has_the_launchd_keys() {
    let doc = parse(&launchd_plist(&layout(TargetOs::Macos, Scope::System)));
    let d = doc.dict();
    assert_eq!(d["Label"], s("io.seatbroker.agent"));
    assert_eq!(
        d["ProgramArguments"],
        Value::Array(vec![
            s("/usr/local/bin/seatbroker-agent"),
            s("run"),
            s("--config"),
            s("/Library/Application Support/Seatbroker/config.yaml"),
        ])
    );
    assert_eq!(d["UserName"], s("_seatbroker"));
    assert_eq!(d["GroupName"], s("_seatbroker"));
    assert_eq!(d["RunAtLoad"], Value::Bool(true));
    assert_eq!(
        d["KeepAlive"].dict()["SuccessfulExit"],
        Value::Bool(false),
        "restart only on failure"
    );
    assert_eq!(d["ThrottleInterval"], Value::Integer(10));
    assert_eq!(d["Umask"], Value::Integer(0o077));
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let Value::String(path) = &d[key] else {
            panic!("{key} is not a string")
        };
        assert!(
            path.starts_with("/Library/Logs/Seatbroker/"),
            "{key} = {path}"
        );
    }
    let env = d["EnvironmentVariables"].dict();
    assert_eq!(
        env["STATE_DIRECTORY"],
        s("/Library/Application Support/Seatbroker/state")
    );
    assert_eq!(env["LOGS_DIRECTORY"], s("/Library/Logs/Seatbroker"));
    assert_eq!(
        env["CREDENTIALS_DIRECTORY"],
        s("/Library/Application Support/Seatbroker/secrets")
    );
    assert_eq!(
        env["CONFIGURATION_DIRECTORY"],
        s("/Library/Application Support/Seatbroker")
    );
}

#[test]
fn user_agent_plist_runs_as_the_user() {
    let d = parse(&launchd_plist(&layout(TargetOs::Macos, Scope::User)));
    let d = d.dict();
    assert!(
        !d.contains_key("UserName"),
        "a LaunchAgent runs as its user; UserName is for daemons"
    );
    assert_eq!(
        d["EnvironmentVariables"].dict()["STATE_DIRECTORY"],
        s("/home/alice/Library/Application Support/Seatbroker/state")
    );
}

#[test]
fn markup_in_paths_is_escaped_and_read_back_unchanged() {
    let mut l = layout(TargetOs::Macos, Scope::System);
    let odd = r#"/Volumes/R&D <"tools">/it's/seatbroker-agent"#;
    l.binary = TargetPath::new(odd);
    let doc = parse(&launchd_plist(&l));
    let Value::Array(args) = &doc.dict()["ProgramArguments"] else {
        panic!()
    };
    assert_eq!(args[0], s(odd));
}
