//! Times the usage engine over a synthetic company of 100,000 people (about 2.5 job roles
//! each). Prints each run and the median; nothing is asserted.
//!
//! `cargo run --release -p seatbroker-agent --example engine_bench [-- PEOPLE]`

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use seatbroker_agent::{JobRole, Person, Pseudonymizer, classify, evaluate};
use seatbroker_protocol::{PersonStatus, UsagePolicy};

const RUNS: usize = 7;

/// A small deterministic generator (xorshift64*), so every run builds the same company.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn day(&mut self, today: NaiveDate, back: u64, ahead: u64) -> NaiveDate {
        let offset = self.below(back + ahead);
        if offset < back {
            today - Days::new(back - offset)
        } else {
            today + Days::new(offset - back)
        }
    }
}

fn company(n: usize, today: NaiveDate) -> (Vec<Person>, Vec<JobRole>) {
    let mut rng = Rng(0x5EA7_B40C);
    let departments = [
        "Engineering",
        "Sales",
        "Marketing",
        "Finance",
        "People",
        "Support",
        "Legal",
        "Operations",
    ];
    let mut people = Vec::with_capacity(n);
    let mut roles = Vec::with_capacity(n * 3);
    for i in 0..n {
        let status = match rng.below(100) {
            0..=79 => Some(PersonStatus::Active),
            80..=84 => Some(PersonStatus::NewHire),
            85..=98 => Some(PersonStatus::Offboarded),
            _ => None,
        };
        let start = (rng.below(50) != 0).then(|| rng.day(today, 3000, 60));
        let end = (rng.below(5) == 0).then(|| rng.day(today, 400, 120));
        let id = format!("person{i:07}");
        people.push(Person {
            company_id: Some("company".into()),
            first_name: Some(format!("First{i}")),
            last_name: Some(format!("Last{}", rng.below(5000))),
            preferred_name: None,
            // About one in 500 shares an email with someone else.
            email: Some(format!(
                "user{}@example.com",
                rng.below(n as u64 * 500) / 500
            )),
            status,
            employment_start_date: start,
            employment_end_date: end,
            is_verified: Some(rng.below(20) != 0),
            id: id.clone(),
        });
        for r in 0..1 + rng.below(4) {
            let manager = if i == 0 {
                None
            } else {
                Some(format!("person{:07}", rng.below(i as u64)))
            };
            roles.push(JobRole {
                id: format!("role{i:07}-{r}"),
                person_id: id.clone(),
                job_title: Some(format!("Title {}", rng.below(200))),
                department: Some(departments[rng.below(8) as usize].into()),
                effective_date: Some(rng.day(today, 3000, 90)),
                end_date: (rng.below(3) == 0).then(|| rng.day(today, 2000, 200)),
                reporting_to: manager,
            });
        }
    }
    (people, roles)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("PEOPLE must be a number"))
        .unwrap_or(100_000);
    let today: NaiveDate = "2025-06-15".parse().unwrap();
    let (people, roles) = company(n, today);
    let policy = UsagePolicy::default();
    let key = Pseudonymizer::new(b"benchmark key, 32 bytes long....").unwrap();
    println!(
        "engine_bench: {} people, {} job roles, {RUNS} runs each",
        people.len(),
        roles.len()
    );
    // Where the time goes: the parts of `evaluate` that are public on their own.
    let phase = |label: &str, f: &dyn Fn() -> usize| {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = Instant::now();
            std::hint::black_box(f());
            times.push(started.elapsed());
        }
        println!(
            "  {label}: median {:.1} ms",
            median(times).as_secs_f64() * 1000.0
        );
    };
    phase("classify", &|| {
        people
            .iter()
            .filter(|p| classify(p, &policy, today).reason.is_some())
            .count()
    });
    for (label, pseudonymizer) in [("plain", None), ("pseudonymised", Some(&key))] {
        let mut times = Vec::with_capacity(RUNS);
        let mut seats = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let evaluation = evaluate(&people, &roles, &policy, today, pseudonymizer).unwrap();
            times.push(started.elapsed());
            seats = evaluation.seats.len() + evaluation.findings.len();
            drop(std::hint::black_box(evaluation));
        }
        let runs: Vec<String> = times
            .iter()
            .map(|t| format!("{:.1}", t.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "evaluate ({label}): median {:.1} ms, best {:.1} ms; runs [{}] ms ({seats} records and findings)",
            median(times.clone()).as_secs_f64() * 1000.0,
            times.iter().min().unwrap().as_secs_f64() * 1000.0,
            runs.join(", ")
        );
    }
}
