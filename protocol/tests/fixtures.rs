//! Every message of the protocol has a JSON fixture in `protocol/fixtures/`. These tests
//! check that each fixture round-trips through its type, that unknown fields are ignored,
//! that unknown enum values land in the catch-all variant, and that the examples in
//! `protocol/README.md` are exactly the fixtures.
//!
//! `UPDATE_FIXTURES=1 cargo test -p seatbroker-protocol` regenerates the upload-part
//! fixtures from the snapshot payload fixture and rewrites the README's example blocks.

use std::path::{Path, PathBuf};

use seatbroker_protocol::{
    AccountRecord, EnrollRequest, EnrollResponse, Heartbeat, HeartbeatAck, Problem,
    SnapshotPayload, StatusResponse, UploadAck, UploadPart, UsagePolicy,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A fixture's file name and the function that checks it against its type.
type Fixture = (&'static str, fn(&str));

/// Every fixture.
fn fixtures() -> Vec<Fixture> {
    vec![
        ("enroll_request.json", check::<EnrollRequest>),
        ("enroll_response.json", check::<EnrollResponse>),
        ("status_response.json", check::<StatusResponse>),
        ("upload_part_1.json", check::<UploadPart>),
        ("upload_part_2.json", check::<UploadPart>),
        ("upload_ack.json", check::<UploadAck>),
        ("upload_ack_already_have.json", check::<UploadAck>),
        ("heartbeat.json", check::<Heartbeat>),
        ("heartbeat_ack.json", check::<HeartbeatAck>),
        ("problem_source_pending.json", check_problem),
        ("problem_protocol_too_old.json", check_problem),
        ("snapshot_payload.json", check::<SnapshotPayload>),
        ("snapshot_payload_licences.json", check::<SnapshotPayload>),
        (
            "snapshot_payload_licences_delta.json",
            check::<SnapshotPayload>,
        ),
        ("usage_policy.json", check::<UsagePolicy>),
    ]
}

/// Round trip, and tolerance of unknown fields, for one fixture.
fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(text: &str) {
    let original: Value = serde_json::from_str(text).expect("fixture is JSON");
    let parsed: T = serde_json::from_str(text).expect("fixture parses into its type");
    let back = serde_json::to_value(&parsed).expect("serializes");
    assert_eq!(back, original, "fixture does not round-trip");

    let mut extended = original.clone();
    add_unknown_fields(&mut extended);
    let tolerant: T = serde_json::from_value(extended).expect("unknown fields are ignored");
    assert_eq!(tolerant, parsed, "unknown fields changed the parsed value");
}

/// Problems round-trip like every message, but RFC 9457 says unknown members are extension
/// members: they are kept (in `extensions`), not dropped, so a relayed problem loses nothing.
fn check_problem(text: &str) {
    let original: Value = serde_json::from_str(text).unwrap();
    let parsed: Problem = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), original);
    let mut extended = original;
    add_unknown_fields(&mut extended);
    let mut tolerant: Problem = serde_json::from_value(extended).unwrap();
    let kept = tolerant.extensions.remove("x_added_in_a_later_version");
    assert_eq!(kept, Some(Value::from(42)), "extension member not kept");
    assert_eq!(tolerant, parsed);
}

/// Adds a field no version knows to every object in `value`, except to the maps whose keys
/// are data (the count maps of a summary), where an extra key is a count, not a field.
fn add_unknown_fields(value: &mut Value) {
    add_unknown_fields_under(value, "");
}

fn add_unknown_fields_under(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            for (child_key, child) in map.iter_mut() {
                add_unknown_fields_under(child, child_key);
            }
            let is_count_map = matches!(key, "counts" | "inactive_reasons" | "findings");
            if !is_count_map {
                map.insert("x_added_in_a_later_version".into(), Value::from(42));
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| add_unknown_fields_under(item, "")),
        _ => {}
    }
}

#[test]
fn every_fixture_round_trips_and_ignores_unknown_fields() {
    for (name, check) in fixtures() {
        eprintln!("checking {name}");
        check(&read(name));
    }
}

/// The delta fixture is the licence fixture's next collection (one account signed in, one
/// gone) as a delta against it: what it sends, removes and its digest agree with the two.
#[test]
fn the_delta_fixture_is_the_next_collection_against_the_licence_fixture() {
    let parse = |name: &str| -> SnapshotPayload { serde_json::from_str(&read(name)).unwrap() };
    let base = parse("snapshot_payload_licences.json").licences.unwrap();
    let delta = parse("snapshot_payload_licences_delta.json")
        .licences
        .unwrap();
    let meta = delta.delta.clone().expect("a delta");
    let mut whole: Vec<AccountRecord> = base
        .accounts
        .iter()
        .filter(|a| !meta.removed_accounts.contains(&a.account_id))
        .filter(|a| delta.accounts.iter().all(|d| d.account_id != a.account_id))
        .cloned()
        .chain(delta.accounts.iter().cloned())
        .collect();
    whole.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    assert_eq!(whole.len() as u64, delta.accounts_total);
    let mut next = delta.clone();
    next.accounts = whole;
    next.delta = None;
    assert_eq!(
        next.delta_against(&meta.base_snapshot_id, &base.marks()),
        delta
    );
}

#[test]
fn every_fixture_is_listed() {
    let listed: Vec<&str> = fixtures().iter().map(|(name, _)| *name).collect();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(listed.contains(&name.as_str()), "{name} has no check");
    }
}

/// Replaces the string at `pointer` with a value no version knows and checks it is kept.
fn check_unknown_enum<T: DeserializeOwned + Serialize>(fixture: &str, pointer: &str) {
    let mut value: Value = serde_json::from_str(&read(fixture)).unwrap();
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{fixture}{pointer}")) = Value::from("introduced_later");
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{fixture}{pointer}: unknown enum value rejected: {e}"));
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        back.pointer(pointer),
        Some(&Value::from("introduced_later"))
    );
}

#[test]
fn unknown_enum_values_land_in_the_catch_all() {
    check_unknown_enum::<EnrollRequest>("enroll_request.json", "/sources/0/kind");
    check_unknown_enum::<EnrollResponse>("enroll_response.json", "/state");
    check_unknown_enum::<StatusResponse>("status_response.json", "/state");
    check_unknown_enum::<StatusResponse>("status_response.json", "/sources/0/state");
    check_unknown_enum::<UploadPart>("upload_part_1.json", "/encoding");
    check_unknown_enum::<UploadAck>("upload_ack.json", "/outcome");
    check_unknown_enum::<Heartbeat>("heartbeat.json", "/sources/0/last_collection/outcome");
    check_unknown_enum::<Problem>("problem_source_pending.json", "/code");
    for pointer in [
        "/seats/1/status",
        "/seats/1/state",
        "/seats/1/reason",
        "/findings/0/kind",
    ] {
        check_unknown_enum::<SnapshotPayload>("snapshot_payload.json", pointer);
    }
    for pointer in [
        "/licences/accounts/0/account_type",
        "/licences/accounts/0/licences/0/state",
        "/licences/accounts/0/licences/0/reason",
    ] {
        check_unknown_enum::<SnapshotPayload>("snapshot_payload_licences.json", pointer);
    }
}

/// A schema-1 payload decodes with no licence section, and a schema-2 payload keeps it.
#[test]
fn licence_section_is_optional() {
    let people: SnapshotPayload = serde_json::from_str(&read("snapshot_payload.json")).unwrap();
    assert_eq!(people.schema, seatbroker_protocol::SCHEMA_PEOPLE);
    assert!(people.licences.is_none());
    let apps: SnapshotPayload =
        serde_json::from_str(&read("snapshot_payload_licences.json")).unwrap();
    assert_eq!(apps.schema, seatbroker_protocol::SCHEMA_LICENCES);
    let licences = apps.licences.expect("licence section");
    assert_eq!(licences.counts.total(), 5);
    let assigned: u64 = licences.pools.iter().map(|p| p.assigned).sum();
    assert_eq!(assigned, licences.counts.total(), "pools and counts agree");
    assert!(apps.seats.is_empty() && apps.summary.counts.total() == 0);
}

#[test]
fn upload_parts_reassemble_into_the_snapshot_fixture() {
    let parts: Vec<UploadPart> = ["upload_part_1.json", "upload_part_2.json"]
        .iter()
        .map(|name| serde_json::from_str(&read(name)).unwrap())
        .collect();
    let chunks: Vec<Vec<u8>> = parts.iter().map(|p| p.chunk().unwrap()).collect();
    let payload = seatbroker_protocol::decode_parts(&chunks, &parts[0].snapshot_checksum).unwrap();
    let expected: SnapshotPayload = serde_json::from_str(&read("snapshot_payload.json")).unwrap();
    assert_eq!(payload, expected);
}

/// The README's examples: a `<!-- fixture: NAME -->` line followed by a json code block.
fn readme_blocks(readme: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line
            .trim()
            .strip_prefix("<!-- fixture: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        {
            assert_eq!(lines.next(), Some("```json"), "block after fixture {name}");
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push((name.to_owned(), body.join("\n") + "\n"));
        }
    }
    blocks
}

#[test]
fn the_spec_examples_are_the_fixtures() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        let updated = rewrite_readme(&readme);
        std::fs::write(&readme_path, &updated).unwrap();
        return;
    }
    let blocks = readme_blocks(&readme);
    let names: Vec<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    for (name, _) in fixtures() {
        assert!(names.contains(&name), "the spec has no example for {name}");
    }
    for (name, body) in blocks {
        assert_eq!(
            body,
            read(&name),
            "the spec's example for {name} differs from the fixture"
        );
    }
}

fn rewrite_readme(readme: &str) -> String {
    let mut out = String::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if let Some(name) = line
            .trim()
            .strip_prefix("<!-- fixture: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        {
            lines.next();
            for _ in lines.by_ref().take_while(|l| *l != "```") {}
            out.push_str("```json\n");
            out.push_str(&read(name));
            out.push_str("```\n");
        }
    }
    out
}

#[test]
fn regenerate_upload_part_fixtures_on_request() {
    if std::env::var_os("UPDATE_FIXTURES").is_none() {
        return;
    }
    let payload: SnapshotPayload = serde_json::from_str(&read("snapshot_payload.json")).unwrap();
    let encoded = seatbroker_protocol::encode_snapshot(&payload, 600).unwrap();
    assert_eq!(encoded.chunks.len(), 2, "the fixture should need two parts");
    let collected_at = payload.collected_at;
    for part in 1..=2 {
        let message = encoded.part(
            "9b2e6c1f0a4d4e3f8c7b6a5d4e3f2a1b",
            "src_1Fh7Yw2Kc9",
            42,
            collected_at,
            part,
        );
        let text = serde_json::to_string_pretty(&message).unwrap() + "\n";
        std::fs::write(dir().join(format!("upload_part_{part}.json")), text).unwrap();
    }
}
