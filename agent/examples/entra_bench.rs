//! Entra ID collection benchmark: the agent's Graph client against the Graph simulator with
//! per-request latency, next to the floor. `@odata.nextLink` paging is serial (each page's
//! link comes with the page before), so no client can beat pages x latency. Prints numbers;
//! asserts nothing.
//!
//! ```text
//! cargo run --release -p seatbroker-agent --example entra_bench -- [PEOPLE] [LATENCY_MS]
//! ```
//! Defaults: 58,750 people (a directory of about 50,000 users), 50 ms. The simulator and
//! the measured collection run in their own child processes (this same binary,
//! re-executed), so CPU time and peak memory (VmHWM) are those of the collector alone.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use seatbroker_agent::entra::{EntraClient, EntraConfig, to_licences};
use seatbroker_protocol::{LicencePolicy, Secret};

/// The day the simulated company is built around and the collection is evaluated for.
const AS_OF: &str = "2026-11-25";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--serve-sim") => serve_sim(&args[2], &args[3]),
        Some("--measure") => measure(&args[2]),
        _ => orchestrate(
            args.get(1)
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or(58_750),
            args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(50),
        ),
    }
}

fn orchestrate(people: usize, latency_ms: u64) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut sim = Command::new(&exe)
        .args(["--serve-sim", &people.to_string(), &latency_ms.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("start the simulator child")?;
    let mut line = String::new();
    BufReader::new(sim.stdout.take().context("sim stdout")?).read_line(&mut line)?;
    if line.trim().is_empty() {
        bail!("the simulator child exited before it was ready");
    }

    println!(
        "entra_bench: {people} people in HR, {latency_ms} ms latency per request, {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let out = Command::new(&exe)
        .args(["--measure", line.trim()])
        .output()
        .context("run the measurement child")?;
    // Closing stdin tells the simulator child to stop.
    drop(sim.stdin.take());
    sim.wait()?;
    if !out.status.success() {
        bail!(
            "the collection failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let pages = r["pages"].as_u64().unwrap_or(0);
    let wall = r["wall_s"].as_f64().unwrap_or(0.0);
    let cpu = r["cpu_s"].as_f64().unwrap_or(0.0);
    let latency = latency_ms as f64 / 1000.0;
    // Every request waits the latency once: the token, subscribedSkus, then each page.
    let floor_pages = pages as f64 * latency;
    let floor_requests = (pages + 2) as f64 * latency;
    println!(
        "users {}  pages {}  licence assignments {}  pools {}",
        r["users"], pages, r["assignments"], r["pools"]
    );
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>13}",
        "", "wall_s", "cpu_s", "cpu/wall", "peak_rss_mib"
    );
    println!(
        "{:<34} {:>8.2} {:>9.2} {:>9.3} {:>13.1}",
        "agent collect + evaluate",
        wall,
        cpu,
        cpu / wall.max(1e-9),
        r["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0
    );
    println!(
        "{:<34} {:>8.2}",
        "  of which evaluate (engine)",
        r["evaluate_s"].as_f64().unwrap_or(0.0)
    );
    println!("{:<34} {:>8.2}", "floor: pages x latency", floor_pages);
    println!(
        "{:<34} {:>8.2}",
        "floor: (pages + token + SKUs) x lat", floor_requests
    );
    println!(
        "overhead over the page floor: {:.2} s ({:.1}%)",
        wall - floor_pages,
        (wall / floor_pages.max(1e-9) - 1.0) * 100.0
    );
    Ok(())
}

/// Child: serve the Graph directory of a simulated company until stdin closes; the first
/// stdout line is what the measuring child needs, as JSON.
fn serve_sim(people: &str, latency_ms: &str) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let sim = humaans_sim::graph::GraphSimulator::start(humaans_sim::graph::GraphOptions {
            people: people.parse()?,
            seed: 7,
            as_of: AS_OF.parse()?,
            faults: humaans_sim::graph::GraphFaults {
                latency: Duration::from_millis(latency_ms.parse()?),
                ..Default::default()
            },
            ..Default::default()
        })
        .await?;
        let ready = serde_json::json!({
            "login_url": sim.login_url(),
            "graph_url": sim.graph_url(),
            "tenant_id": sim.tenant_id(),
            "client_id": sim.client_id(),
            "secret": sim.secrets().full,
        });
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{ready}")?;
        stdout.flush()?;
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await?;
        sim.shutdown().await;
        anyhow::Ok(())
    })
}

/// Child: one measured collection and evaluation, as the service does it; prints a JSON
/// line.
fn measure(ready: &str) -> Result<()> {
    let ready: serde_json::Value = serde_json::from_str(ready).context("simulator ready line")?;
    let field = |name: &str| {
        ready[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{name} in the ready line"))
    };
    let mut config = EntraConfig::new(
        field("tenant_id")?,
        field("client_id")?,
        Secret::new(field("secret")?),
    );
    config.login_url = field("login_url")?;
    config.graph_url = field("graph_url")?;
    let as_of: NaiveDate = AS_OF.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    let directory = runtime.block_on(async { EntraClient::new(config)?.collect().await })?;
    let evaluating = Instant::now();
    let licences = to_licences(&directory, &LicencePolicy::default(), as_of, None)?;
    let evaluate = evaluating.elapsed().as_secs_f64();
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu_before;
    let assignments: u64 = seatbroker_protocol::LicenceState::KNOWN
        .iter()
        .map(|s| licences.counts.get(s))
        .sum();
    let result = serde_json::json!({
        "wall_s": wall,
        "cpu_s": cpu,
        "evaluate_s": evaluate,
        "peak_rss_kib": peak_rss_kib()?,
        "users": licences.accounts_total,
        "pages": directory.pages,
        "assignments": assignments,
        "pools": licences.pools.len(),
    });
    println!("{result}");
    Ok(())
}

/// User + system CPU time of this process, from `/proc/self/stat` (Linux; USER_HZ = 100).
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("read /proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse()?;
    let stime: f64 = fields[12].parse()?;
    Ok((utime + stime) / 100.0)
}

/// Peak resident memory (VmHWM) of this process, KiB.
fn peak_rss_kib() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?)
}
