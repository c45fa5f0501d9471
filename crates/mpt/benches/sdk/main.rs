//! SDK benchmarks against the mock server, run as a separate process so that only the client's
//! own CPU and memory are measured. `cargo bench -p mpt --bench sdk` (or `cargo xtask bench`)
//! prints a Markdown table; no timing is asserted anywhere.
//!
//! * overhead: sequential `get` of one token through the facade, the generated client with the
//!   facade's hook layer, the generated client without hooks, and plain reqwest + serde_json (the
//!   floor): median latency and client CPU per request (the client runs
//!   on one thread, measured with `RUSAGE_THREAD`);
//! * bulk: `ensure_disabled_many` over 10,000 tokens at concurrency 1, 16 and 64 against plain reqwest,
//!   seven runs of each taking turns (median and spread);
//! * listing: streaming 10,000 and 100,000 tokens: time and peak heap of this process;
//! * the official Python client (`mpt-api-client`, Python ≥ 3.12 found or skipped) doing the same
//!   gets and listing against the same server process;
//! * the mock's own throughput.
//!
//! With `MPT_BENCH_INSTRUCTIONS=VARIANT:N` it does only the work `cargo xtask bench
//! --instructions` counts under callgrind: against a mock in its own process (not counted), it
//! lists the seeded tokens, warms up, then runs N requests of one variant (see `instructions.rs`).
//!
//! `MPT_BENCH_SCALE=0.1` shrinks every size, for a quick look; `MPT_BENCH_ONLY=bulk,listing`
//! runs some sections only (overhead, python, listing, bulk, server). `MPT_BENCH_ONLY=paced`
//! runs the paced benchmark alone (`paced.rs`, `cargo xtask bench --paced`).

mod harness;
mod instructions;
mod paced;
mod python;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};

use harness::*;
use python::*;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing; there is nothing to list.
    }
    if let Ok(spec) = std::env::var("MPT_BENCH_INSTRUCTIONS") {
        return instructions::instructions(&spec, &mock_binary());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `cargo xtask bench --paced`: only the paced section (it is not part of the default run).
    if std::env::var("MPT_BENCH_ONLY").is_ok_and(|only| only.trim() == "paced") {
        return paced::paced(&rt);
    }
    let bin = mock_binary();
    let mut table = Table(Vec::new());

    // --- Overhead of one get -------------------------------------------------------------
    if wanted("overhead") {
        let n = scaled(5000);
        println!("overhead: {n} sequential gets each");
        let mock = Mock::spawn(&bin, 1);
        let id = rt.block_on(ids(&mock)).remove(0);
        // The three variants take turns in rounds, so drift (the server's state, the machine's other
        // work) hits them alike.
        let (mut facade_s, mut hooked_s, mut generated_s, mut raw_s) = rt.block_on(async {
            let client = facade(&mock);
            // The generated client with the facade's hook layer installed.
            let hooked = client.api();
            let generated = generated_client(&mock);
            let raw = http();
            let url = token_url(&mock, &id, "");
            let (mut f, mut h, mut g, mut r): (Sample, Sample, Sample, Sample) = Default::default();
            let rounds = 10;
            for round in 0..=rounds {
                // Round 0 warms every connection up and is thrown away.
                let batch = if round == 0 { scaled(200) } else { n / rounds };
                let (mut f1, mut h1, mut g1, mut r1): (Sample, Sample, Sample, Sample) =
                    Default::default();
                f1.run(batch, || async {
                    client.get(&id).await.unwrap();
                })
                .await;
                h1.run(batch, || async {
                    hooked.get_api_token().id(&id).send().await.unwrap();
                })
                .await;
                g1.run(batch, || async {
                    generated.get_api_token().id(&id).send().await.unwrap();
                })
                .await;
                r1.run(batch, || plain(raw.get(&url).bearer_auth(&mock.secret)))
                    .await;
                if round > 0 {
                    for (acc, one) in [(&mut f, f1), (&mut h, h1), (&mut g, g1), (&mut r, r1)] {
                        acc.latencies.extend(one.latencies);
                        acc.cpu += one.cpu;
                    }
                }
            }
            (f, h, g, r)
        });
        let (facade_m, hooked_m, generated_m, raw_m) = (
            facade_s.median(),
            hooked_s.median(),
            generated_s.median(),
            raw_s.median(),
        );
        let lat = |d: Duration| d.as_secs_f64();
        let cpu = |s: &Sample| s.cpu_per_request().as_secs_f64();
        table.row(
            "get, plain reqwest + serde_json: median latency",
            us(raw_m),
            "floor".into(),
            "",
        );
        table.row(
            "get, plain reqwest + serde_json: client CPU/request",
            us(raw_s.cpu_per_request()),
            "floor".into(),
            "",
        );
        for (what, median, sample, target) in [
            ("generated client, no hooks", generated_m, &generated_s, ""),
            (
                "generated client + hook layer",
                hooked_m,
                &hooked_s,
                "≤ 1.05×",
            ),
            ("facade", facade_m, &facade_s, "≤ 1.05×"),
        ] {
            table.row(
                &format!("get, {what}: median latency"),
                us(median),
                ratio(lat(median), lat(raw_m)) + " of reqwest",
                target,
            );
            table.row(
                &format!("get, {what}: client CPU/request"),
                us(sample.cpu_per_request()),
                ratio(cpu(sample), cpu(&raw_s)) + " of reqwest",
                target,
            );
        }
    }

    // --- The official Python client, same server process ---------------------------------------
    if wanted("python") {
        let listing_mock = Mock::spawn(&bin, scaled(10_000));
        let list_id = rt.block_on(ids(&listing_mock)).remove(0);
        let python_n = scaled(1000);
        match python_client() {
            Ok(py) => {
                println!("python: {python_n} gets and a full listing");
                let out = Command::new(py)
                    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_client.py"))
                    .args([
                        &listing_mock.url,
                        &listing_mock.secret,
                        &list_id,
                        &python_n.to_string(),
                    ])
                    .output()
                    .expect("python runs");
                let parsed: serde_json::Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
                        panic!("python said: {}", String::from_utf8_lossy(&out.stderr))
                    });
                let (rust_get, rust_list) = rt.block_on(async {
                    let client = facade(&listing_mock);
                    let mut s = Sample::default();
                    s.run(scaled(100), || async {
                        client.get(&list_id).await.unwrap();
                    })
                    .await;
                    s = Sample::default();
                    s.run(python_n, || async {
                        client.get(&list_id).await.unwrap();
                    })
                    .await;
                    let started = Instant::now();
                    let count = client
                        .list()
                        .stream()
                        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
                        .await
                        .unwrap();
                    assert_eq!(count, scaled(10_000));
                    (s, started.elapsed())
                });
                let f = |k: &str| parsed[k].as_f64().unwrap_or(f64::NAN);
                let (mut rust_get, rust_list) = (rust_get, rust_list);
                let rust_median = rust_get.median();
                table.row(
                    "get, Python mpt-api-client 7.0.0: median latency",
                    us(Duration::from_secs_f64(f("get_median_s"))),
                    format!(
                        "facade is {} faster",
                        ratio(f("get_median_s"), rust_median.as_secs_f64())
                    ),
                    "≥ 6×",
                );
                table.row(
                    "get, Python mpt-api-client 7.0.0: client CPU/request",
                    us(Duration::from_secs_f64(f("get_cpu_s"))),
                    format!(
                        "facade uses {} less",
                        ratio(f("get_cpu_s"), rust_get.cpu_per_request().as_secs_f64())
                    ),
                    "≥ 8×",
                );
                table.row(
                    &format!("list {} tokens, Python", parsed["list_count"]),
                    format!("{:.2} s", f("list_s")),
                    format!(
                        "facade {:.2} s ({} faster)",
                        rust_list.as_secs_f64(),
                        ratio(f("list_s"), rust_list.as_secs_f64())
                    ),
                    "",
                );
            }
            Err(why) => table.row(
                "Python mpt-api-client",
                "not run".into(),
                why.to_string(),
                "≥ 6× / ≥ 8×",
            ),
        }
        drop(listing_mock);
    }

    // --- Listing memory -----------------------------------------------------------------
    let mut peaks = Vec::new();
    for size in [scaled(10_000), scaled(100_000)]
        .into_iter()
        .filter(|_| wanted("listing"))
    {
        let mock = Mock::spawn(&bin, size);
        let (elapsed, peak) = rt.block_on(async {
            let client = facade(&mock);
            client.list().count().await.unwrap(); // warm the connection
            let base = reset_peak();
            let started = Instant::now();
            let count = client
                .list()
                .stream()
                .try_fold(0usize, |n, _| async move { Ok(n + 1) })
                .await
                .unwrap();
            assert_eq!(count, size);
            (
                started.elapsed(),
                PEAK.load(Ordering::Relaxed).saturating_sub(base),
            )
        });
        peaks.push(peak);
        table.row(
            &format!("stream {size} tokens (facade)"),
            format!(
                "{:.2} s, peak heap {:.0} KiB",
                elapsed.as_secs_f64(),
                peak as f64 / 1024.0
            ),
            if peaks.len() == 2 {
                format!(
                    "peak {} of the smaller run",
                    ratio(peaks[1] as f64, peaks[0] as f64)
                )
            } else {
                String::new()
            },
            if peaks.len() == 2 { "≤ 1.5×" } else { "" },
        );
    }

    // --- Bulk disable ---------------------------------------------------------------------
    let bulk = scaled(10_000);
    for concurrency in [1usize, 16, 64].into_iter().filter(|_| wanted("bulk")) {
        let facade_run = || {
            let mock = Mock::spawn(&bin, bulk);
            rt.block_on(async {
                let ids = ids(&mock).await;
                let client = facade(&mock);
                let (started, cpu) = (Instant::now(), thread_cpu());
                let report = client.ensure_disabled_many(ids, concurrency).await;
                if let Some((id, e)) = report.failed().next() {
                    panic!(
                        "{} of {bulk} failed, e.g. {id}: {e} ({e:?})",
                        report.failed().count()
                    );
                }
                (
                    bulk as f64 / started.elapsed().as_secs_f64(),
                    (thread_cpu() - cpu) / bulk as u32,
                )
            })
        };
        let raw_run = || {
            let mock = Mock::spawn(&bin, bulk);
            rt.block_on(async {
                let ids = ids(&mock).await;
                let raw = http();
                let (started, cpu) = (Instant::now(), thread_cpu());
                stream::iter(ids)
                    .map(|id| {
                        plain(
                            raw.post(token_url(&mock, &id, "/disable"))
                                .bearer_auth(&mock.secret),
                        )
                    })
                    .buffer_unordered(concurrency)
                    .collect::<Vec<()>>()
                    .await;
                (
                    bulk as f64 / started.elapsed().as_secs_f64(),
                    (thread_cpu() - cpu) / bulk as u32,
                )
            })
        };
        // Facade and plain reqwest take turns, seven runs each: one run on two cores shared with
        // the server swings by ±20%, so medians are reported with the spread of the ratio over
        // the seven pairs.
        let (mut facade_runs, mut raw_runs) = (Vec::new(), Vec::new());
        for _ in 0..ALTERNATIONS {
            facade_runs.push(facade_run());
            raw_runs.push(raw_run());
        }
        let mut pair_ratios: Vec<f64> = facade_runs
            .iter()
            .zip(&raw_runs)
            .map(|(f, r)| f.0 / r.0)
            .collect();
        pair_ratios.sort_by(f64::total_cmp);
        let median = |runs: &mut Vec<(f64, Duration)>| {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let rate = runs[runs.len() / 2].0;
            let mut cpus: Vec<Duration> = runs.iter().map(|r| r.1).collect();
            cpus.sort();
            (rate, cpus[cpus.len() / 2])
        };
        let ((facade_rate, facade_cpu), (raw_rate, raw_cpu)) =
            (median(&mut facade_runs), median(&mut raw_runs));
        table.row(
            &format!("ensure_disabled_many {bulk} tokens, concurrency {concurrency}"),
            format!(
                "{facade_rate:.0} tokens/s, client CPU {}/token",
                us(facade_cpu)
            ),
            format!(
                "{} of plain reqwest ({raw_rate:.0}/s, {}/token); pairs {:.2}–{:.2}×, {ALTERNATIONS} alternations",
                ratio(facade_rate, raw_rate),
                us(raw_cpu),
                pair_ratios[0],
                pair_ratios[pair_ratios.len() - 1],
            ),
            "≥ 0.95×",
        );
    }

    // --- The mock server's own throughput ---------------------------------------------------
    if wanted("server") {
        let mock = Mock::spawn(&bin, 1);
        let id = rt.block_on(ids(&mock)).remove(0);
        let rps = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let raw = http();
                let url = token_url(&mock, &id, "");
                let total = scaled(20_000);
                let started = Instant::now();
                stream::iter(0..total)
                    .map(|_| {
                        let request = raw.get(&url).bearer_auth(&mock.secret);
                        async move {
                            let _ = request.send().await.unwrap().bytes().await.unwrap();
                        }
                    })
                    .buffer_unordered(64)
                    .collect::<Vec<()>>()
                    .await;
                total as f64 / started.elapsed().as_secs_f64()
            });
        table.row(
            "mock server: authenticated gets, 64 in flight",
            format!("{rps:.0} requests/s"),
            "client and server share the 2 cores".into(),
            "thousands/s",
        );
    }

    let _ = std::fs::create_dir_all(workspace().join("target/bench"));
    let _ = std::fs::write(workspace().join("target/bench/sdk.md"), table.markdown());
    // `cargo xtask bench` prints one table of every bench; run alone, this one prints its own.
    if std::env::var_os("MPT_BENCH_FROM_XTASK").is_none() {
        println!("\n{}", table.markdown());
    }
}
