//! Spool throughput: durable writes (fsync + rename + directory fsync), listing, checked
//! reads and acknowledgements. Prints numbers; asserts nothing.
//!
//! `cargo run --release -p seatbroker-agent --example spool_bench`

use std::time::Instant;

use chrono::Utc;
use seatbroker_agent::Spool;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (count, size) in [(200usize, 16 * 1024usize), (50, 1024 * 1024)] {
        let spool = Spool::open(&dir.path().join(format!("spool-{size}")), u64::MAX)
            .expect("the spool opens");
        let content: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let started = Instant::now();
        for n in 0..count {
            spool
                .write("acme", &format!("{n:032x}"), Utc::now(), &content)
                .expect("write");
        }
        let write = started.elapsed();
        let started = Instant::now();
        let entries = spool.entries().expect("list");
        let list = started.elapsed();
        let started = Instant::now();
        for entry in &entries {
            spool.read(entry).expect("read");
        }
        let read = started.elapsed();
        let started = Instant::now();
        for entry in &entries {
            spool.ack(entry).expect("ack");
        }
        let ack = started.elapsed();
        let per = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / count as f64;
        println!(
            "{count} snapshots of {} KiB: write {:.2} ms each ({:.1} MiB/s), list {:.2} ms ({} files), read+verify {:.2} ms each, ack {:.2} ms each",
            size / 1024,
            per(write),
            (count * size) as f64 / 1_048_576.0 / write.as_secs_f64(),
            list.as_secs_f64() * 1000.0,
            entries.len(),
            per(read),
            per(ack),
        );
    }
}
