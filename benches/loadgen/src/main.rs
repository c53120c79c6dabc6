//! sock8-loadgen: the load generator of benches/gateway_load.py.
//!
//!     SOCK8_SECRET=... sock8-loadgen --port P --count N [options]   one run, orchestrated
//!     sock8-loadgen --self-test [options]                           its own ceiling
//!     sock8-loadgen --broadcast                                     the self-test's server
//!
//! A run opens N WebSocket clients on `ws://127.0.0.1:P/connect`, authenticates each with a token
//! signed by sock8's own core, receives on all of them, and publishes with `POST /publish`. It
//! talks to the orchestrator as the Python client process does: a `{"step": ...}` JSON line on
//! stdout, then a `go` line on stdin; the figures come last, as one `{"step": "done"}` line.
//!
//! The self-test runs against a trivial Rust broadcaster (`--broadcast`, in a child process) and
//! reports how many frames the generator receives per second of its own CPU time.

mod broadcast;
mod client;
mod publish;
mod run;
mod sys;
mod tally;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};

use run::{Figures, Options, Steps};

const USAGE: &str = "\
usage: SOCK8_SECRET=... sock8-loadgen --port P --count N [--messages 20] [--window 64]
                        [--concurrency 200] [--deliveries 100000] [--pipeline 1]
                        [--channel bench.all] [--read-buffer 4096] [--threads 1]
       sock8-loadgen --self-test [--count 1000] [--deliveries 2000000] [--runs 3] [--pipeline 1]
       sock8-loadgen --broadcast";

/// The self-test's broadcaster checks no token; any valid secret signs them.
const SELF_TEST_SECRET: &str = "sock8-loadgen-self-test-secret-0123456789";

enum Mode {
    Run,
    SelfTest { runs: usize },
    Broadcast,
    Help,
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)).and_then(|(mode, options)| start(&mode, &options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sock8-loadgen: {err}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(Mode, Options), String> {
    let (mut self_test, mut broadcast, mut help) = (false, false, false);
    let mut runs = 3;
    let mut port = None;
    let mut count = None;
    let mut deliveries = None;
    let mut options = Options {
        port: 0,
        count: 0,
        messages: 20,
        window: 64,
        concurrency: 200,
        deliveries: 0,
        pipeline: 1,
        channel: "bench.all".to_owned(),
        secret: String::new(),
        read_buffer: 4096,
        threads: 1,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--self-test" => self_test = true,
            "--broadcast" => broadcast = true,
            "--port" => port = Some(number(&arg, &value(&arg)?)?),
            "--count" => count = Some(number(&arg, &value(&arg)?)?),
            "--messages" => options.messages = number(&arg, &value(&arg)?)?,
            "--window" => options.window = number(&arg, &value(&arg)?)?,
            "--concurrency" => options.concurrency = number(&arg, &value(&arg)?)?,
            "--deliveries" => deliveries = Some(number(&arg, &value(&arg)?)?),
            "--pipeline" => options.pipeline = number(&arg, &value(&arg)?)?,
            "--channel" => options.channel = value(&arg)?,
            "--read-buffer" => options.read_buffer = number(&arg, &value(&arg)?)?,
            "--threads" => options.threads = number(&arg, &value(&arg)?)?,
            "--runs" => runs = number(&arg, &value(&arg)?)?,
            "-h" | "--help" => help = true,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let mode = match (help, broadcast, self_test) {
        (true, _, _) => Mode::Help,
        (false, true, false) => Mode::Broadcast,
        (false, false, true) => Mode::SelfTest { runs },
        (false, false, false) => Mode::Run,
        (false, true, true) => return Err("--broadcast and --self-test exclude each other".to_owned()),
    };
    if options.window < options.pipeline.max(1) {
        return Err("--window must be at least --pipeline".to_owned());
    }
    if options.threads == 0 {
        return Err("--threads must be at least 1".to_owned());
    }
    match mode {
        Mode::Run => {
            options.port = port.ok_or_else(|| format!("--port is required\n{USAGE}"))?;
            options.count = count.ok_or_else(|| format!("--count is required\n{USAGE}"))?;
            options.deliveries = deliveries.unwrap_or(100_000);
            // As `sock8 gateway`: the secret comes from the environment, never the command line.
            options.secret = std::env::var("SOCK8_SECRET")
                .map_err(|_| "SOCK8_SECRET is not set (the server's secret)".to_owned())?;
        }
        Mode::SelfTest { .. } => {
            options.count = count.unwrap_or(1000);
            options.deliveries = deliveries.unwrap_or(2_000_000);
            SELF_TEST_SECRET.clone_into(&mut options.secret);
        }
        Mode::Broadcast | Mode::Help => {}
    }
    if options.count == 0 && matches!(mode, Mode::Run | Mode::SelfTest { .. }) {
        return Err("--count must be at least 1".to_owned());
    }
    Ok((mode, options))
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name} needs a non-negative integer, not {text:?}"))
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder
        .enable_all()
        .build()
        .map_err(|err| format!("the runtime: {err}"))
}

fn start(mode: &Mode, options: &Options) -> Result<(), String> {
    // One descriptor per connection, and some to spare; a child broadcaster inherits it. The
    // broadcaster on its own takes all the hard limit allows: it does not know the count.
    let wanted = match mode {
        Mode::Broadcast => u64::MAX,
        _ => u64::from(options.count) + 256,
    };
    let limit = sys::raise_fd_limit(wanted).map_err(|err| format!("RLIMIT_NOFILE: {err}"))?;
    if limit < wanted && !matches!(mode, Mode::Broadcast) {
        eprintln!(
            "sock8-loadgen: note: RLIMIT_NOFILE is capped at {limit} by the hard limit; \
             {} connections may fail",
            options.count
        );
    }
    match mode {
        Mode::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Mode::Broadcast => runtime(1)?.block_on(broadcast::serve()),
        Mode::Run => {
            let figures = runtime(options.threads)?.block_on(async {
                let mut steps = Steps::orchestrated();
                run::run(options, &mut steps).await
            })?;
            let line = serde_json::to_string(&figures).map_err(|err| err.to_string())?;
            println!("{line}");
            Ok(())
        }
        Mode::SelfTest { runs } => self_test(options, *runs),
    }
}

/// A broadcaster child process, killed when dropped.
struct Broadcaster {
    child: Child,
    port: u16,
}

impl Broadcaster {
    fn start() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|err| format!("this executable: {err}"))?;
        let mut child = Command::new(exe)
            .arg("--broadcast")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("starting the broadcaster: {err}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout)
                .read_line(&mut line)
                .map_err(|err| format!("reading the broadcaster's port: {err}"))?;
        }
        let port = line.strip_prefix("PORT ").and_then(|port| port.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the broadcaster did not start: {line:?}"));
        };
        Ok(Self { child, port })
    }
}

impl Drop for Broadcaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = |index: usize| values.get(index).copied().unwrap_or(f64::NAN);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => middle(n / 2),
        n => f64::midpoint(middle(n / 2 - 1), middle(n / 2)),
    }
}

fn self_test(options: &Options, runs: usize) -> Result<(), String> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "self-test: {} connections, {} deliveries a run, pipeline {}, {} generator thread(s), \
         a Rust broadcaster on one thread in another process; load average {}",
        options.count,
        options.deliveries,
        options.pipeline,
        options.threads,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let runtime = runtime(options.threads)?;
    let (mut received, mut per_core) = (Vec::new(), Vec::new());
    for index in 1..=runs {
        let broadcaster = Broadcaster::start()?;
        let options = Options {
            port: broadcaster.port,
            channel: options.channel.clone(),
            secret: options.secret.clone(),
            ..*options
        };
        let mut steps = Steps::Watching {
            pid: broadcaster.child.id(),
            cpu: Vec::new(),
        };
        let figures: Figures = runtime.block_on(run::run(&options, &mut steps))?;
        let server_cpu = |name| match &steps {
            Steps::Watching { cpu, .. } => cpu
                .iter()
                .find(|(step, _)| *step == name)
                .map_or(f64::NAN, |(_, seconds)| *seconds),
            Steps::Orchestrated(_) => f64::NAN,
        };
        let server_busy = (server_cpu("delivered") - server_cpu("fan-out")) / figures.fan_out_seconds;
        let ceiling = 1e6 / figures.client_cpu_us_per_delivery;
        println!(
            "  run {index}: received {:>10.0} frames/s with {:.2} generator cores busy \
             ({:.2} us CPU a frame: {:.0} frames per generator CPU-second); broadcaster {:.2} \
             cores busy; latency p50 {:.2} ms, p99 {:.2} ms",
            figures.deliveries_per_s,
            figures.client_cores_busy,
            figures.client_cpu_us_per_delivery,
            ceiling,
            server_busy,
            figures.p50_ms,
            figures.p99_ms,
        );
        received.push(figures.deliveries_per_s);
        per_core.push(ceiling);
    }
    println!(
        "median: received {:.0} frames/s; {:.0} frames per generator CPU-second",
        median(received),
        median(per_core)
    );
    Ok(())
}
