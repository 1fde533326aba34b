//! The spool against an in-memory model: random sequences of write / send / ack / crash /
//! restart / corruption, with the model deciding what must be on disk after each step.

use std::collections::{BTreeMap, HashMap};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use seatbroker_agent::{Spool, SpoolError};

const SOURCES: [&str; 3] = ["acme", "beta", "corp"];

#[derive(Debug, Clone)]
enum Op {
    /// Collect a snapshot of `size` bytes for a source.
    Write { source: usize, size: usize },
    /// Read the oldest snapshot of a source, as the uploader does.
    Send { source: usize },
    /// The platform acknowledged the oldest snapshot of a source.
    Ack { source: usize },
    /// The process dies; maybe in the middle of a write.
    Crash { torn_write: Option<usize> },
    /// Flip a byte in the oldest snapshot of a source (disk damage).
    Corrupt { source: usize },
    /// `spool purge --source`.
    Purge { source: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..400usize).prop_map(|(source, size)| Op::Write { source, size }),
        2 => (0..3usize).prop_map(|source| Op::Send { source }),
        2 => (0..3usize).prop_map(|source| Op::Ack { source }),
        1 => proptest::option::of(0..3usize).prop_map(|torn_write| Op::Crash { torn_write }),
        1 => (0..3usize).prop_map(|source| Op::Corrupt { source }),
        1 => (0..3usize).prop_map(|source| Op::Purge { source }),
    ]
}

/// What the spool must hold: per (source, sequence), the content and collection order.
#[derive(Debug, Default)]
struct Model {
    snapshots: BTreeMap<(String, u64), (u64, Vec<u8>)>,
    next_sequence: HashMap<String, u64>,
    quarantined: usize,
}

impl Model {
    fn oldest(&self, source: &str) -> Option<(String, u64)> {
        self.snapshots.keys().find(|(s, _)| s == source).cloned()
    }

    fn write(
        &mut self,
        source: &str,
        order: u64,
        content: Vec<u8>,
        file_size: u64,
        limit: u64,
        sizes: &mut HashMap<(String, u64), u64>,
    ) {
        let next = self.next_sequence.entry(source.to_owned()).or_insert(0);
        *next += 1;
        let key = (source.to_owned(), *next);
        sizes.insert(key.clone(), file_size);
        self.snapshots.insert(key, (order, content));
        // Drop the oldest snapshot of a source with a newer one until it fits.
        loop {
            let total: u64 = self.snapshots.keys().map(|k| sizes[k]).sum();
            if total <= limit {
                break;
            }
            let newest: HashMap<&str, u64> =
                self.snapshots.keys().fold(HashMap::new(), |mut m, (s, q)| {
                    let e = m.entry(s.as_str()).or_insert(0);
                    *e = (*e).max(*q);
                    m
                });
            let victim = self
                .snapshots
                .iter()
                .filter(|((s, q), _)| newest[s.as_str()] != *q)
                .min_by_key(|((_, q), (order, _))| (*order, *q))
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    self.snapshots.remove(&k);
                }
                None => break,
            }
        }
    }
}

fn content(order: u64, size: usize) -> Vec<u8> {
    (0..size).map(|i| (order as usize * 31 + i) as u8).collect()
}

/// The model does not know the file framing's size; it takes each new file's size from the
/// spool's answer and then applies the size limit itself.
fn run(ops: Vec<Op>, limit: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool");
    let mut spool = Some(Spool::open(&path, limit).unwrap());
    let mut model = Model::default();
    let mut sizes = HashMap::new();
    let mut order = 0u64;
    for op in ops {
        let s = spool.as_ref().unwrap();
        match op {
            Op::Write { source, size } => {
                order += 1;
                let name = SOURCES[source];
                let bytes = content(order, size);
                let collected_at = Utc
                    .timestamp_millis_opt(1_700_000_000_000 + order as i64 * 1000)
                    .unwrap();
                let snapshot_id = format!("{order:032x}");
                let spooled = s.write(name, &snapshot_id, collected_at, &bytes).unwrap();
                let expected_sequence = model.next_sequence.get(name).copied().unwrap_or(0) + 1;
                assert_eq!(
                    spooled.entry.sequence, expected_sequence,
                    "sequence of {name}"
                );
                let dropped_before: Vec<_> = model.snapshots.keys().cloned().collect();
                model.write(name, order, bytes, spooled.entry.bytes, limit, &mut sizes);
                let dropped_model: Vec<_> = dropped_before
                    .into_iter()
                    .filter(|k| !model.snapshots.contains_key(k))
                    .collect();
                let dropped_spool: Vec<_> = spooled
                    .dropped
                    .iter()
                    .map(|e| (e.source.clone(), e.sequence))
                    .collect();
                let mut dropped_spool_sorted = dropped_spool.clone();
                dropped_spool_sorted.sort();
                assert_eq!(dropped_spool_sorted, dropped_model, "dropped snapshots");
            }
            Op::Send { source } => {
                let name = SOURCES[source];
                let entries = s.pending(name).unwrap();
                match (entries.first(), model.oldest(name)) {
                    (None, None) => {}
                    (Some(entry), Some(key)) => {
                        assert_eq!((entry.source.clone(), entry.sequence), key);
                        match s.read(entry) {
                            Ok(bytes) => assert_eq!(bytes, model.snapshots[&key].1),
                            Err(SpoolError::Corrupt { .. }) => {
                                panic!("an undamaged snapshot was reported damaged")
                            }
                            Err(e) => panic!("read failed: {e}"),
                        }
                    }
                    (got, want) => panic!("oldest of {name}: spool {got:?}, model {want:?}"),
                }
            }
            Op::Ack { source } => {
                let name = SOURCES[source];
                if let Some(entry) = s.pending(name).unwrap().first() {
                    s.ack(entry).unwrap();
                    model
                        .snapshots
                        .remove(&(entry.source.clone(), entry.sequence));
                }
            }
            Op::Crash { torn_write } => {
                if let Some(source) = torn_write {
                    order += 1;
                    s.write_torn(
                        SOURCES[source],
                        &format!("{order:032x}"),
                        &content(order, 100),
                    )
                    .unwrap();
                    *model
                        .next_sequence
                        .entry(SOURCES[source].to_owned())
                        .or_insert(0) += 1;
                }
                drop(spool.take());
                spool = Some(Spool::open(&path, limit).unwrap());
            }
            Op::Corrupt { source } => {
                let name = SOURCES[source];
                if let Some(entry) = s.pending(name).unwrap().first() {
                    let mut bytes = std::fs::read(&entry.path).unwrap();
                    let last = bytes.len() - 1;
                    bytes[last] ^= 0xff;
                    std::fs::write(&entry.path, bytes).unwrap();
                    match s.read(entry) {
                        Err(SpoolError::Corrupt { .. }) => {}
                        other => panic!("damage not detected: {other:?}"),
                    }
                    model
                        .snapshots
                        .remove(&(entry.source.clone(), entry.sequence));
                    model.quarantined += 1;
                }
            }
            Op::Purge { source } => {
                let name = SOURCES[source];
                let before = model.snapshots.len();
                model.snapshots.retain(|(s, _), _| s != name);
                assert_eq!(s.purge(name).unwrap(), before - model.snapshots.len());
            }
        }
        let s = spool.as_ref().unwrap();
        let on_disk: Vec<(String, u64)> = s
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.source, e.sequence))
            .collect();
        let expected: Vec<(String, u64)> = model.snapshots.keys().cloned().collect();
        assert_eq!(on_disk, expected, "spool contents");
        assert_eq!(
            s.quarantined().unwrap().len(),
            model.quarantined,
            "quarantine"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn spool_agrees_with_model(ops in proptest::collection::vec(op(), 1..60)) {
        // About six snapshots fit, so the size limit is exercised often.
        run(ops, 3000);
    }

    #[test]
    fn spool_without_pressure_agrees_with_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops, 1 << 30);
    }
}

#[test]
fn the_newest_snapshot_of_each_source_survives_a_tiny_limit() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 10).unwrap();
    let at = |n: i64| Utc.timestamp_opt(1_700_000_000 + n, 0).unwrap();
    spool
        .write("acme", &"a".repeat(32), at(1), b"first")
        .unwrap();
    let second = spool
        .write("acme", &"b".repeat(32), at(2), b"second")
        .unwrap();
    assert_eq!(second.dropped.len(), 1);
    assert_eq!(second.dropped[0].sequence, 1);
    spool
        .write("beta", &"c".repeat(32), at(3), b"third")
        .unwrap();
    let left: Vec<_> = spool
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.source, e.sequence))
        .collect();
    assert_eq!(left, vec![("acme".to_owned(), 2), ("beta".to_owned(), 1)]);
}

#[test]
fn unknown_files_are_set_aside_and_leftovers_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    std::fs::write(
        dir.path()
            .join(".tmp-acme.00000000000000000001.0000000000001.x.snap"),
        b"half",
    )
    .unwrap();
    let spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert!(spool.entries().unwrap().is_empty());
    let quarantined = spool.quarantined().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(quarantined[0].ends_with("notes.txt"));
    assert!(
        !dir.path()
            .join(".tmp-acme.00000000000000000001.0000000000001.x.snap")
            .exists()
    );
}

#[test]
fn sequence_survives_acknowledging_everything_and_restarting() {
    let dir = tempfile::tempdir().unwrap();
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    {
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = spool.write("acme", &"a".repeat(32), at, b"x").unwrap();
        spool.ack(&a.entry).unwrap();
    }
    let spool = Spool::open(dir.path(), 1 << 20).unwrap();
    let b = spool.write("acme", &"b".repeat(32), at, b"y").unwrap();
    assert_eq!(b.entry.sequence, 2, "a sequence number is never reused");
}

#[test]
fn spool_list_and_purge_commands() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let spool = Spool::open(&state.join("spool"), 1 << 20).unwrap();
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    spool.write("acme", &"a".repeat(32), at, b"one").unwrap();
    spool.write("acme", &"b".repeat(32), at, b"two").unwrap();
    spool.write("beta", &"c".repeat(32), at, b"three").unwrap();
    let base = [
        "--config",
        "/nonexistent/agent.yaml",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        crate::config::agent(&args)
    };
    let (code, stdout, _) = with(&["spool", "list"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("acme{}1  {}", " ".repeat(24), "a".repeat(32))),
        "{stdout}"
    );
    assert!(stdout.contains("3 snapshot(s)"), "{stdout}");
    let (code, stdout, _) = with(&["spool", "purge", "--source", "acme"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Deleted 2 spooled snapshot(s) of source acme"),
        "{stdout}"
    );
    assert_eq!(spool.entries().unwrap().len(), 1);
    let (code, _, _) = with(&["spool", "purge"]);
    assert_eq!(code, 64, "--source is required");
}
