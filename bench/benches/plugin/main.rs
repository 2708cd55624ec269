//! The plugin's benchmarks (BENCHMARKS.md): the real shared library loaded as the host loads it,
//! its durable queue and the Salesforce emulator, each figure beside a baseline measured in the
//! same run. Prints Markdown rows.
//!
//! `cargo bench -p cloudcx-bench` runs everything at 1× and 10× (100× where that takes seconds);
//! `-- --quick` (or `BENCH_QUICK=1`) runs 1× only, smaller; names after `--` pick benchmarks
//! (`emulator`, `enqueue`, `hook`, `calls`, `e2e`, `memory`).

mod rig;

use std::process::Command;
use std::time::{Duration, Instant};

use cloudcx_salesforce::queue::Queue;
use cloudcx_shim::emulator::FaultKind;
use rig::{chat, send, Naive, Rig};

/// Set in the child process that measures peak memory: how many events it queues.
const RSS_CHILD: &str = "CLOUDCX_BENCH_RSS_CHILD";

/// The host threads calling hooks at once.
const HOST_THREADS: usize = 8;

fn main() {
    if let Ok(events) = std::env::var(RSS_CHILD) {
        return rss_child(events.parse().expect("a count"));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some();
    let picked: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let run = |name: &str| picked.is_empty() || picked.iter().any(|p| *p == name);
    // 1× only when quick; 10× and 100× too otherwise.
    let scales: &[u64] = if quick { &[1] } else { &[1, 10, 100] };
    let started = Instant::now();
    machine(quick);
    if run("emulator") {
        emulator_rate(quick);
    }
    if run("enqueue") {
        enqueue(quick, scales);
    }
    if run("hook") {
        hook_latency(quick, scales);
    }
    if run("calls") {
        api_calls(scales);
    }
    if run("e2e") {
        end_to_end(quick, scales);
    }
    if run("memory") {
        memory(scales);
    }
    println!("\nwhole run: {:.0} s", started.elapsed().as_secs_f64());
}

fn machine(quick: bool) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(str::to_string))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "# {} run: {cpu}, {} cores, {}, Linux {}",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" "),
        kernel.trim()
    );
}

fn section(title: &str) {
    println!("\n## {title}\n\n| case | figure | baseline (same run) | ratio |\n| --- | --- | --- | --- |");
}

fn row(case: &str, figure: String, baseline: String, ratio: String) {
    println!("| {case} | {figure} | {baseline} | {ratio} |");
}

fn per_sec(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

/// Runs `f(thread)` on `threads` threads at once; answers how long they took together.
fn parallel(threads: usize, f: impl Fn(usize) + Sync) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let f = &f;
            s.spawn(move || f(t));
        }
    });
    started.elapsed()
}

/// Simple authenticated requests on loopback, against the emulator idle.
fn emulator_rate(quick: bool) {
    section("Emulator: simple requests/s on loopback (GET limits, keep-alive)");
    let org = rig::emulator(1);
    let window = Duration::from_secs(if quick { 2 } else { 5 });
    let naive = Naive::new(&org);
    let mut one = 0.0;
    for threads in [1, 4] {
        let calls = org.api_calls();
        let took = parallel(threads, |_| {
            let client = naive.clone();
            let end = Instant::now() + window;
            while Instant::now() < end {
                client.get("/limits");
            }
        });
        let rate = per_sec(org.api_calls() - calls, took);
        if threads == 1 {
            one = rate;
        }
        row(
            &format!("{threads} client threads"),
            format!("{rate:.0} req/s"),
            format!("1 thread: {one:.0} req/s"),
            format!("{:.2}×", rate / one),
        );
    }
}

/// Group commit (the plugin's queue, many appenders; each append waits for its commit, so a
/// commit holds at most as many events as there are appenders) against one flush per event (redb, one
/// transaction per event, written here).
fn enqueue(quick: bool, scales: &[u64]) {
    section("Durable enqueue throughput");
    let payload = chat(0, "c-0", "someone@example.com", false);
    let baseline_n = if quick { 500 } else { 2000 };
    let baseline = per_event_flush(baseline_n, &payload);
    let disk = raw_flushes(baseline_n, &payload);
    row(
        "the disk itself: append one event to a file, fdatasync",
        format!("{disk:.0} flushes/s"),
        format!("redb, one transaction per event: {baseline:.0} events/s"),
        format!("{:.1}×", disk / baseline),
    );
    for &scale in scales {
        let n = scale * if quick { 20_000 } else { 10_000 };
        // The host's 8 threads at 1× only: at one commit per 8 events, 10× takes minutes.
        let threads: &[usize] = if scale == 1 {
            &[HOST_THREADS, 64, 256]
        } else {
            &[64, 256]
        };
        for &threads in threads {
            let rate = group_commit(n, threads, &payload);
            row(
                &format!("{n} events, {threads} appending threads, group commit"),
                format!("{rate:.0} events/s"),
                format!("one flush per event: {baseline:.0} events/s ({baseline_n} events)"),
                format!("{:.1}×", rate / baseline),
            );
        }
    }
}

fn group_commit(n: u64, threads: usize, payload: &[u8]) -> f64 {
    let dir = rig::state_dir();
    let queue = Queue::open(dir.path()).unwrap();
    let took = parallel(threads, |t| {
        for i in (t as u64..n).step_by(threads) {
            queue
                .append("t0", "chat.ended", &format!("c-{i}"), payload.to_vec())
                .unwrap();
        }
    });
    per_sec(n, took)
}

fn per_event_flush(n: u64, payload: &[u8]) -> f64 {
    const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
    let dir = rig::state_dir();
    let db = redb::Database::create(dir.path().join("baseline.redb")).unwrap();
    let started = Instant::now();
    for i in 0..n {
        let tx = db.begin_write().unwrap();
        tx.open_table(EVENTS).unwrap().insert(i, payload).unwrap();
        tx.commit().unwrap();
    }
    per_sec(n, started.elapsed())
}

fn raw_flushes(n: u64, payload: &[u8]) -> f64 {
    use std::io::Write;
    let dir = rig::state_dir();
    let mut file = std::fs::File::create(dir.path().join("raw")).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        file.write_all(payload).unwrap();
        file.sync_data().unwrap();
    }
    per_sec(n, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Hook calls through the loaded library, paced from 8 host threads, with the tenant not
/// connected (the hooks alone on the queue) and connected (its chats delivered meanwhile); the
/// baseline is the same hook called alone, one at a time.
fn hook_latency(quick: bool, scales: &[u64]) {
    section("Hook return time, durable (chat.ended through the loaded library)");
    for delivering in [false, true] {
        let rig = Rig::start(1, 4, delivering);
        let mut alone: Vec<Duration> = (0..200)
            .map(|i| {
                std::thread::sleep(Duration::from_millis(2));
                let id = format!("alone-{i}");
                send(
                    &rig.plugin,
                    &chat(0, &id, &format!("{id}@x.example"), false),
                )
            })
            .collect();
        alone.sort();
        let (alone_50, alone_99) = (percentile(&alone, 0.5), percentile(&alone, 0.99));
        for &scale in scales {
            let rate = 1000.0 * scale as f64;
            let window =
                Duration::from_secs_f64(if quick { 5.0 } else { 10.0 } / scale.min(10) as f64);
            let (mut took, elapsed) = paced(&rig, scale, rate, window);
            took.sort();
            let (p50, p99) = (percentile(&took, 0.5), percentile(&took, 0.99));
            row(
                &format!(
                    "{rate:.0}/s asked from {HOST_THREADS} threads ({:.0}/s reached, {} calls), {}",
                    per_sec(took.len() as u64, elapsed),
                    took.len(),
                    if delivering {
                        "delivering meanwhile"
                    } else {
                        "not connected"
                    }
                ),
                format!(
                    "p50 {} / p99 {} / max {}",
                    ms(p50),
                    ms(p99),
                    ms(*took.last().unwrap())
                ),
                format!("alone: p50 {} / p99 {}", ms(alone_50), ms(alone_99)),
                format!(
                    "p50 {:.1}× / p99 {:.1}×",
                    p50.as_secs_f64() / alone_50.as_secs_f64(),
                    p99.as_secs_f64() / alone_99.as_secs_f64()
                ),
            );
        }
    }
}

/// Open loop: host thread `t` sends its share of `rate` events/s at fixed times, each a new chat.
fn paced(rig: &Rig, round: u64, rate: f64, window: Duration) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let total = (rate * window.as_secs_f64()) as usize;
    let times = collect_parallel(HOST_THREADS, |t| {
        (t..total)
            .step_by(HOST_THREADS)
            .map(|i| {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let id = format!("r{round}-{i}");
                send(
                    &rig.plugin,
                    &chat(0, &id, &format!("{id}@x.example"), false),
                )
            })
            .collect()
    });
    (times, started.elapsed())
}

/// Runs `f(thread)` on `threads` threads and concatenates what they answer.
fn collect_parallel<T: Send>(threads: usize, f: impl Fn(usize) -> Vec<T> + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || f(t))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// The emulator's counter of API calls, per chat: through the plugin, and through the naive
/// client for the same chats.
fn api_calls(scales: &[u64]) {
    section("API calls per chat (the emulator's counter)");
    let rig = Rig::start(1, 4, true);
    let connect_cost = rig.org.api_calls();
    let naive = Naive::new(&rig.org);
    rig.deliver(&[chat(0, "k0", "known@x.example", false)]);
    let known = rig.deliver(&[chat(0, "k1", "known@x.example", false)]);
    let before = rig.org.api_calls();
    naive.chat("k2", "known@x.example");
    let naive_known = rig.org.api_calls() - before;
    row(
        "known visitor",
        format!("{known} calls"),
        format!("naive: {naive_known} calls"),
        format!("{:.2}×", known as f64 / naive_known as f64),
    );
    let new_file = rig.deliver(&[chat(0, "f1", "new-with-file@x.example", true)]);
    let before = rig.org.api_calls();
    naive.chat("f2", "another-new@x.example");
    let naive_new = rig.org.api_calls() - before;
    row(
        "new visitor with a file",
        format!("{new_file} calls"),
        format!("naive (no file): {naive_new} calls"),
        format!("{:.2}×", new_file as f64 / naive_new as f64),
    );
    for &scale in scales.iter().filter(|&&s| s <= 10) {
        let n = 1000 * scale;
        // Queued while the tenant is not connected, delivered once it is.
        let rig = Rig::start(1, 4, false);
        for i in 0..n {
            send(
                &rig.plugin,
                &chat(0, &format!("q{i}"), &format!("q{i}@x.example"), false),
            );
        }
        let before = rig.org.api_calls();
        let started = Instant::now();
        rig.connect(0);
        rig.wait_written(1, n);
        let took = started.elapsed();
        let calls = rig.org.api_calls() - before - connect_cost;
        let naive_org = rig::emulator(1);
        let naive = Naive::new(&naive_org);
        let naive_started = Instant::now();
        for i in 0..n {
            naive.chat(&format!("q{i}"), &format!("q{i}@x.example"));
        }
        let naive_took = naive_started.elapsed();
        let naive_calls = naive_org.api_calls();
        row(
            &format!("{n} queued chats of one tenant, new visitors"),
            format!(
                "{:.3} calls/chat ({calls} calls, {:.0} chats/s)",
                calls as f64 / n as f64,
                per_sec(n, took)
            ),
            format!(
                "naive: {:.3} calls/chat ({:.0} chats/s)",
                naive_calls as f64 / n as f64,
                per_sec(n, naive_took)
            ),
            format!("{:.3}×", calls as f64 / naive_calls as f64),
        );
    }
}

/// Chats from the hook until written in the emulator, 8 tenants (a tenant is one worker's at a
/// time); the naive client on as many threads against a fresh emulator. Without latency the
/// emulator answers at once (the plugin's own costs show); with it, as a distant Salesforce.
fn end_to_end(quick: bool, scales: &[u64]) {
    section("End-to-end delivery: hook to written in the emulator, 8 tenants, new visitors");
    for latency in [0, 10].map(Duration::from_millis) {
        // With latency, 1× only: the naive client on one thread takes minutes at 10×.
        let scales = scales
            .iter()
            .filter(|&&s| s == 1 || (s == 10 && latency.is_zero()));
        for &scale in scales {
            let per_tenant = scale * if quick { 50 } else { 125 };
            let n = per_tenant * HOST_THREADS as u64;
            for workers in [1, 4, 8] {
                let rig = Rig::start(HOST_THREADS, workers, true);
                rig.org.set_latency(latency);
                let calls = rig.org.api_calls();
                let started = Instant::now();
                parallel(HOST_THREADS, |t| {
                    for i in 0..per_tenant {
                        let id = format!("e{t}-{i}");
                        send(
                            &rig.plugin,
                            &chat(t, &id, &format!("{id}@x.example"), false),
                        );
                    }
                });
                rig.wait_written(HOST_THREADS, per_tenant);
                let took = started.elapsed();
                let calls = rig.org.api_calls() - calls;
                drop(rig);
                let org = rig::emulator(1);
                org.set_latency(latency);
                let naive_client = Naive::new(&org);
                let naive = parallel(workers, |w| {
                    let client = naive_client.clone();
                    for i in (w as u64..n).step_by(workers) {
                        client.chat(&format!("e{i}"), &format!("e{i}@x.example"));
                    }
                });
                let (rate, naive_rate) = (per_sec(n, took), per_sec(n, naive));
                row(
                    &format!("{n} chats, {workers} workers, latency {latency:?}"),
                    format!(
                        "{rate:.0} chats/s ({:.0} API calls/s)",
                        per_sec(calls, took)
                    ),
                    format!("naive on {workers} threads: {naive_rate:.0} chats/s"),
                    format!("{:.2}×", rate / naive_rate),
                );
            }
        }
    }
}

/// Peak RSS of a separate process that queues events for a tenant whose Salesforce is down.
fn memory(scales: &[u64]) {
    section("Memory: peak RSS (VmHWM) of a host process, Salesforce down");
    for &scale in scales.iter().filter(|&&s| s <= 10) {
        let events = 100_000 * scale;
        let out = Command::new(std::env::current_exe().unwrap())
            .env(RSS_CHILD, events.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let kb: Vec<f64> = text
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        let (loaded, peak, secs) = (kb[0] / 1024.0, kb[1] / 1024.0, kb[2]);
        row(
            &format!(
                "{events} events queued ({:.0} events/s)",
                events as f64 / secs
            ),
            format!("{peak:.1} MB"),
            format!("plugin loaded, tenant connected, nothing queued: {loaded:.1} MB"),
            format!("{:.2}×", peak / loaded),
        );
    }
}

/// In the child: loads the plugin with a tenant connected to an emulator that then answers
/// every data request with 503 (Salesforce down: the workers try, fail and back off), queues
/// `events` chats from 8 threads, and prints the peak RSS before and after, in kB, and the
/// seconds. The emulator lives in this process: its memory is in both figures.
fn rss_child(events: u64) {
    let rig = Rig::start(1, 4, true);
    rig.org.fail_next(u32::MAX, FaultKind::Unavailable);
    let loaded = vm_hwm_kb();
    let took = parallel(HOST_THREADS, |t| {
        for i in (t as u64..events).step_by(HOST_THREADS) {
            let id = format!("m{i}");
            send(
                &rig.plugin,
                &chat(0, &id, &format!("{id}@x.example"), false),
            );
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    println!("{loaded} {} {}", vm_hwm_kb(), took.as_secs_f64());
}

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/self/status")
}
