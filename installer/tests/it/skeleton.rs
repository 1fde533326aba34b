//! The skeleton config is YAML the agent accepts: its keys are the agent's (which rejects
//! unknown keys), and the credential names are the ones the service passes.

use std::collections::BTreeSet;

use seatbroker_installer::{Scope, TargetOs, skeleton_config};
use serde_norway::Value;

use crate::layout;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn skeleton_parses_with_the_agents_keys() {
    for target in [TargetOs::Linux, TargetOs::Macos, TargetOs::Windows] {
        let text = skeleton_config(
            &layout(target, Scope::System),
            "https://sb.example.com:8443/base",
        );
        let doc: Value =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{target}: {e}\n{text}"));
        assert_eq!(keys(&doc), ["platform", "sources"].map(String::from).into());
        let platform = &doc["platform"];
        assert_eq!(
            keys(platform),
            ["enrollment_token_credential", "url"]
                .map(String::from)
                .into()
        );
        assert_eq!(
            platform["url"].as_str(),
            Some("https://sb.example.com:8443/base")
        );
        assert_eq!(
            platform["enrollment_token_credential"].as_str(),
            Some("enrollment-token")
        );
        let source = &doc["sources"][0];
        assert_eq!(
            keys(source),
            ["kind", "name", "token_credential"]
                .map(String::from)
                .into()
        );
        assert_eq!(source["kind"].as_str(), Some("humaans"));
        assert_eq!(source["token_credential"].as_str(), Some("humaans-token"));
    }
}

#[test]
fn commented_options_are_valid_when_uncommented() {
    let text = skeleton_config(
        &layout(TargetOs::Linux, Scope::System),
        "https://sb.example.com",
    );
    let uncommented = text
        .replace("    # base_url:", "    base_url:")
        .replace("    # interval:", "    interval:");
    let doc: Value = serde_norway::from_str(&uncommented).unwrap();
    assert_eq!(doc["sources"][0]["interval"].as_str(), Some("6h"));
    assert_eq!(
        doc["sources"][0]["base_url"].as_str(),
        Some("https://app.humaans.io/api")
    );
}
