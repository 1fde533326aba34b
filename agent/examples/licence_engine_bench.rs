//! Times the licence engine over 50,000 synthetic accounts holding 3 licences each (plus
//! addresses, half of them pseudonymised runs). Prints each run and the median; nothing is
//! asserted.
//!
//! `cargo run --release -p seatbroker-agent --example licence_engine_bench [-- ACCOUNTS]`

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use seatbroker_agent::Pseudonymizer;
use seatbroker_agent::accounts::{Account, Held, Pool, evaluate_licences};
use seatbroker_protocol::{AccountType, LicencePolicy};

const RUNS: usize = 7;

fn accounts(n: usize, now: DateTime<Utc>) -> Vec<Account> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..n)
        .map(|i| {
            let r = next();
            Account {
                id: format!("{:08x}-{i:012}", r as u32),
                login: Some(format!("user{i}@acme.onmicrosoft.com")),
                email: Some(format!("User{i}@Acme.com")),
                aliases: vec![format!("user{i}@acme.com"), format!("u{i}@acme.com")],
                enabled: r % 17 != 0,
                account_type: if r % 23 == 0 {
                    AccountType::Guest
                } else {
                    AccountType::Member
                },
                created: Some(now - TimeDelta::days((r % 2000) as i64)),
                last_activity: (r % 7 != 0).then(|| now - TimeDelta::days(((r >> 8) % 120) as i64)),
                licences: (0..3)
                    .map(|k| Held {
                        pool_id: format!("sku-{}", (i + k) % 5),
                        assigned: None,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ACCOUNTS is a number"))
        .unwrap_or(50_000);
    let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
    let today: NaiveDate = now.date_naive();
    let pools: Vec<Pool> = (0..5)
        .map(|k| Pool {
            id: format!("sku-{k}"),
            name: format!("SKU{k}"),
            application: None,
            purchased: Some(40_000),
            assigned: None,
        })
        .collect();
    let key = [7u8; 32];
    let pseudonymizer = Pseudonymizer::new(&key).unwrap();
    for pseudonymise in [false, true] {
        let mut times: Vec<Duration> = Vec::new();
        for run in 1..=RUNS {
            let input = accounts(n, now);
            let started = Instant::now();
            let snapshot = evaluate_licences(
                input,
                pools.clone(),
                true,
                &LicencePolicy::default(),
                today,
                pseudonymise.then_some(&pseudonymizer),
            )
            .unwrap();
            let took = started.elapsed();
            times.push(took);
            println!(
                "run {run}: {n} accounts x 3 licences (pseudonymised: {pseudonymise}) in {took:?}; counts {:?}",
                snapshot.counts
            );
        }
        times.sort();
        println!(
            "median (pseudonymised: {pseudonymise}): {:?}",
            times[RUNS / 2]
        );
    }
}
