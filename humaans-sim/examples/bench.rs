//! Generation time, memory and serving throughput of the simulator. Prints numbers; asserts
//! nothing. Run with `cargo run --release -p humaans-sim --example bench [PEOPLE]`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures_util::StreamExt;
use humaans_sim::{Company, CompanySpec, SimConfig, Simulator};

/// Resident and peak resident memory in MiB (Linux; zeros elsewhere).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn fetch_all(
    sim: &Simulator,
    path: &str,
    concurrency: usize,
) -> anyhow::Result<(usize, usize)> {
    let client = reqwest::Client::new();
    let token = sim.tokens().full.clone();
    let first: serde_json::Value = client
        .get(format!("{}{path}?$limit=0", sim.url()))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let total = first["total"].as_u64().context("total")? as usize;
    let pages = total.div_ceil(250);
    let bytes: Vec<usize> = futures_util::stream::iter(0..pages)
        .map(|page| {
            let request = client
                .get(format!(
                    "{}{path}?$limit=250&$skip={}",
                    sim.url(),
                    page * 250
                ))
                .bearer_auth(&token);
            async move { anyhow::Ok(request.send().await?.bytes().await?.len()) }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok((pages, bytes.iter().sum()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let people: usize = std::env::args().nth(1).map_or(Ok(200_000), |a| a.parse())?;
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 3, 15).context("date")?;
    let (rss_before, _) = memory_mib();
    let started = Instant::now();
    let company = Company::generate(&CompanySpec::new(people, 1, as_of))?;
    let generated = started.elapsed();
    let (rss_after, peak) = memory_mib();
    let json_bytes: usize = company.people().iter().map(|p| p.json().len()).sum();
    println!("people                 {people}");
    println!("job roles              {}", company.job_roles().len());
    println!("generation             {:.2} s", generated.as_secs_f64());
    println!(
        "memory                 {:.0} MiB resident after generation (+{:.0} MiB), peak {:.0} MiB",
        rss_after,
        rss_after - rss_before,
        peak
    );
    println!(
        "person JSON            {:.0} bytes on average (full view), {:.0} MiB in all",
        json_bytes as f64 / people as f64,
        json_bytes as f64 / 1048576.0
    );
    println!(
        "truth                  {}",
        serde_json::to_string(company.truth())?
    );

    let sim = Simulator::start_with(Arc::new(company), SimConfig::default()).await?;
    for path in ["/api/people", "/api/job-roles"] {
        for concurrency in [1, 4, 8] {
            let started = Instant::now();
            let (pages, bytes) = fetch_all(&sim, path, concurrency).await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{path:<15} c={concurrency}  {pages} pages in {secs:.2} s: {:.0} pages/s, {:.0} MiB/s",
                pages as f64 / secs,
                bytes as f64 / 1048576.0 / secs
            );
        }
    }
    let (_, peak) = memory_mib();
    println!("peak memory            {peak:.0} MiB");
    sim.shutdown().await;
    Ok(())
}
