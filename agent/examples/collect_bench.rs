//! Collection benchmark: the Humaans client against the simulator with per-request
//! latency, at several concurrency limits, next to a plain sequential collector that keeps
//! the raw JSON. Prints numbers; asserts nothing.
//!
//! ```text
//! cargo run --release -p seatbroker-agent --example collect_bench -- [PEOPLE] [LATENCY_MS]
//! ```
//! Defaults: 100,000 people, 20 ms. The simulator and every measured collection run in
//! their own child processes (this same binary, re-executed), so CPU time and peak memory
//! (VmHWM) are those of the collector alone.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use seatbroker_agent::{HumaansClient, HumaansConfig};
use seatbroker_protocol::Secret;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--serve-sim") => serve_sim(&args[2], &args[3]),
        Some("--measure") => measure(&args[2], &args[3], &args[4], &args[5]),
        _ => orchestrate(
            args.get(1)
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or(100_000),
            args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(20),
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
    let ready: serde_json::Value = serde_json::from_str(&line).context("simulator ready line")?;
    let url = ready["url"].as_str().context("url")?.to_owned();
    let token = ready["token"].as_str().context("token")?.to_owned();

    println!(
        "collect_bench: {people} people, {latency_ms} ms latency per request, {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<22} {:>8} {:>9} {:>9} {:>13} {:>8} {:>10}",
        "collector", "wall_s", "cpu_s", "cpu/wall", "peak_rss_mib", "people", "job_roles"
    );
    let runs = [
        ("seatbroker c=1", "client", "1"),
        ("seatbroker c=4 (dflt)", "client", "4"),
        ("seatbroker c=8", "client", "8"),
        ("plain sequential", "plain", "1"),
    ];
    for (label, mode, concurrency) in runs {
        let out = Command::new(&exe)
            .args(["--measure", mode, &url, &token, concurrency])
            .output()
            .context("run a measurement child")?;
        if !out.status.success() {
            bail!(
                "{label} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let r: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let wall = r["wall_s"].as_f64().unwrap_or(0.0);
        let cpu = r["cpu_s"].as_f64().unwrap_or(0.0);
        println!(
            "{label:<22} {wall:>8.2} {cpu:>9.2} {:>9.2} {:>13.1} {:>8} {:>10}",
            cpu / wall.max(1e-9),
            r["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
            r["people"],
            r["job_roles"],
        );
    }
    // Closing stdin tells the simulator child to stop.
    drop(sim.stdin.take());
    sim.wait()?;
    Ok(())
}

/// Child: serve a simulated company until stdin closes.
fn serve_sim(people: &str, latency_ms: &str) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let sim = humaans_sim::Simulator::start(humaans_sim::SimConfig {
            people: people.parse()?,
            seed: 7,
            faults: humaans_sim::Faults {
                latency: Duration::from_millis(latency_ms.parse()?),
                ..Default::default()
            },
            ..Default::default()
        })
        .await?;
        let ready = serde_json::json!({"url": sim.url(), "token": sim.tokens().full});
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

/// Child: one measured collection; prints a JSON line.
fn measure(mode: &str, url: &str, token: &str, concurrency: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    let (people, job_roles) = runtime.block_on(async {
        match mode {
            "client" => {
                let mut config = HumaansConfig::new(url, Secret::new(token));
                config.concurrency = concurrency.parse()?;
                let collection = HumaansClient::new(config)?.collect(&|_| {}).await?;
                anyhow::Ok((collection.people.len(), collection.job_roles.len()))
            }
            _ => plain_sequential(url, token).await,
        }
    })?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu_before;
    let result = serde_json::json!({
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_kib": peak_rss_kib()?,
        "people": people,
        "job_roles": job_roles,
    });
    println!("{result}");
    Ok(())
}

/// The baseline: one page after the other, every record kept as raw JSON.
async fn plain_sequential(url: &str, token: &str) -> Result<(usize, usize)> {
    let http = reqwest::Client::new();
    let mut counts = [0usize; 2];
    let mut kept: Vec<serde_json::Value> = Vec::new();
    for (i, path) in ["/api/people", "/api/job-roles"].iter().enumerate() {
        let mut skip = 0u64;
        loop {
            let page: serde_json::Value = http
                .get(format!("{url}{path}?$limit=250&$skip={skip}"))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let total = page["total"].as_u64().unwrap_or(0);
            let data = page["data"].as_array().cloned().unwrap_or_default();
            skip += data.len() as u64;
            counts[i] += data.len();
            let empty = data.is_empty();
            kept.extend(data);
            if empty || skip >= total {
                break;
            }
        }
    }
    std::hint::black_box(&kept);
    Ok((counts[0], counts[1]))
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
