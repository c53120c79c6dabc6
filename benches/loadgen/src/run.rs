//! One measured run against one server, step for step as the Python client process of
//! benches/gateway_load.py: warm up, open and authenticate `count` connections, publish one
//! message at a time for latency, then back to back within a window for throughput.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::client::{Connector, now_seconds, receive, signer};
use crate::publish::Publisher;
use crate::sys::{cpu_seconds, process_cpu_seconds, rss_bytes};
use crate::tally::{Tally, percentile};

/// Connections opened and closed before measuring: code paths and buffers allocated once.
const WARM_UP: u32 = 20;
const LATENCY_TIMEOUT: Duration = Duration::from_secs(120);
const FAN_OUT_TIMEOUT: Duration = Duration::from_secs(300);
/// The client audience sock8 verifies, and the publish audience (`<audience>:publish`).
const AUDIENCE: &str = "sock8";
const PUBLISH_AUDIENCE: &str = "sock8:publish";

pub struct Options {
    pub port: u16,
    pub count: u32,
    /// Messages of the latency run.
    pub messages: usize,
    /// Messages in flight at most during the fan-out run.
    pub window: usize,
    /// Handshakes in flight at most.
    pub concurrency: usize,
    /// Deliveries the fan-out run aims at: `max(10, deliveries / count)` messages.
    pub deliveries: usize,
    /// Publish requests written back to back before their answers are read (1: one at a time).
    pub pipeline: usize,
    pub channel: String,
    pub secret: String,
    /// Each connection's read buffer, in bytes.
    pub read_buffer: usize,
    /// Runtime threads (1: everything on one core).
    pub threads: usize,
}

/// How a run moves from step to step.
pub enum Steps {
    /// Print `{"step": name, ...}` on stdout and wait for a `go` line on stdin: the orchestrator
    /// reads the server's memory and CPU in between.
    Orchestrated(Lines<BufReader<Stdin>>),
    /// No orchestrator: read the CPU time of the server process `pid` at each step.
    Watching { pid: u32, cpu: Vec<(&'static str, f64)> },
}

impl Steps {
    pub fn orchestrated() -> Self {
        Self::Orchestrated(BufReader::new(tokio::io::stdin()).lines())
    }

    async fn step(&mut self, name: &'static str, figures: serde_json::Value) -> Result<(), String> {
        match self {
            Self::Orchestrated(lines) => {
                let mut line = json!({ "step": name });
                if let (Some(line), serde_json::Value::Object(figures)) = (line.as_object_mut(), figures) {
                    line.extend(figures);
                }
                println!("{line}");
                match lines.next_line().await {
                    Ok(Some(answer)) if answer.trim() == "go" => Ok(()),
                    Ok(_) => Err("the orchestrator went away".to_owned()),
                    Err(err) => Err(format!("reading the orchestrator: {err}")),
                }
            }
            Self::Watching { pid, cpu } => {
                let seconds = process_cpu_seconds(*pid).map_err(|err| format!("the server's CPU time: {err}"))?;
                cpu.push((name, seconds));
                Ok(())
            }
        }
    }
}

/// The figures of a run, as the Python client process reports them, plus the generator's own
/// CPU over the fan-out window.
#[derive(Serialize)]
pub struct Figures {
    pub step: &'static str,
    pub client: &'static str,
    pub connect_rate: f64,
    pub client_bytes_per_conn: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub deliveries_per_s: f64,
    pub fan_out_messages: usize,
    pub fan_out_seconds: f64,
    /// The generator's CPU time (all threads) over the fan-out window, per delivery.
    pub client_cpu_us_per_delivery: f64,
    /// The generator's CPU time over the fan-out window divided by its wall time: how many cores
    /// it kept busy. Well below its thread count, it was waiting for the server.
    pub client_cores_busy: f64,
    pub client_threads: usize,
    /// Text frames received over the whole run, and how many were not a message of the run.
    pub frames: u64,
    pub stray_frames: u64,
}

/// Runs the whole sequence against the server at `options.port`.
pub async fn run(options: &Options, steps: &mut Steps) -> Result<Figures, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], options.port));
    let connector = Arc::new(Connector::new(
        addr,
        signer(&options.secret, AUDIENCE)?,
        options.channel.clone(),
        options.concurrency,
        options.read_buffer,
    ));
    let publish_token = signer(&options.secret, PUBLISH_AUDIENCE)?
        .sign("bench", &mut Vec::new(), now_seconds(), None, None)
        .map_err(|err| format!("signing the publish token: {err}"))?;
    let count = options.count;
    let clients = count as usize;

    let (stop, stopped) = watch::channel(false);
    let warm_up = Arc::new(Tally::new(WARM_UP, 0, 0));
    let readers = open_all(&connector, WARM_UP, "warm-up", &warm_up, &stopped).await?;
    close_all(&stop, readers).await;
    let client_before = rss_bytes("self").map_err(|err| format!("RSS: {err}"))?;
    steps.step("idle", json!({})).await?;

    let first = options.messages;
    let total = (options.deliveries / clients).max(10);
    let tally = Arc::new(Tally::new(count, first + total, first));
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let readers = open_all(&connector, count, "user", &tally, &stopped).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    let client_after = rss_bytes("self").map_err(|err| format!("RSS: {err}"))?;
    steps
        .step("connected", json!({ "connect_seconds": connect_seconds }))
        .await?;

    // Latency: one message at a time, each once the previous one reached every client.
    let mut publisher = Publisher::new(addr, &publish_token, &options.channel)?;
    for seq in 0..first {
        publisher.publish(seq..seq + 1).await?;
        tally.wait_complete(seq + 1, LATENCY_TIMEOUT).await?;
    }
    let mut latencies = tally.take_latencies();
    latencies.sort_unstable();

    // Throughput: back to back on one HTTP connection, at most `window` messages not yet
    // delivered everywhere (below the gateway's send queue of 256 frames, so that no client is
    // closed as a slow consumer).
    steps.step("fan-out", json!({})).await?;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let end = first + total;
    let mut seq = first;
    while seq < end {
        let batch_end = (seq + options.pipeline.max(1)).min(end);
        while batch_end - tally.complete() > options.window {
            tally.wait_complete(tally.complete() + 1, LATENCY_TIMEOUT).await?;
        }
        publisher.publish(seq..batch_end).await?;
        seq = batch_end;
    }
    tally.wait_complete(end, FAN_OUT_TIMEOUT).await?;
    let fan_out_seconds = started.elapsed().as_secs_f64();
    let client_cpu = cpu_seconds() - cpu_before;
    // The orchestrator reads the server's CPU here, before any client closes: closing is not
    // delivery work.
    steps.step("delivered", json!({})).await?;
    close_all(&stop, readers).await;

    #[allow(clippy::cast_precision_loss)] // counts and bytes of a bench run: far below 2^52
    let (clients_f, deliveries, grown) = (
        clients as f64,
        (clients * total) as f64,
        client_after as f64 - client_before as f64,
    );
    Ok(Figures {
        step: "done",
        client: "rust",
        connect_rate: clients_f / connect_seconds,
        client_bytes_per_conn: grown / clients_f,
        p50_ms: percentile(&latencies, 0.50) / 1e6,
        p99_ms: percentile(&latencies, 0.99) / 1e6,
        deliveries_per_s: deliveries / fan_out_seconds,
        fan_out_messages: total,
        fan_out_seconds,
        client_cpu_us_per_delivery: client_cpu * 1e6 / deliveries,
        client_cores_busy: client_cpu / fan_out_seconds,
        client_threads: options.threads,
        frames: tally.frames(),
        stray_frames: tally.strays(),
    })
}

/// Opens `count` connections named `<prefix>-<index>`, each then receiving into `tally` until
/// `stopped`; returns once every one was welcomed, or with the first failure.
async fn open_all(
    connector: &Arc<Connector>,
    count: u32,
    prefix: &'static str,
    tally: &Arc<Tally>,
    stopped: &watch::Receiver<bool>,
) -> Result<JoinSet<()>, String> {
    let (opened, mut welcomes) = mpsc::unbounded_channel();
    let mut readers = JoinSet::new();
    for index in 0..count {
        let (connector, tally, stopped, opened) = (
            Arc::clone(connector),
            Arc::clone(tally),
            stopped.clone(),
            opened.clone(),
        );
        readers.spawn(async move {
            match connector.open(&format!("{prefix}-{index}")).await {
                Ok(ws) => {
                    let _ = opened.send(Ok(()));
                    receive(ws, tally, stopped).await;
                }
                Err(err) => {
                    let _ = opened.send(Err(format!("connection {prefix}-{index}: {err}")));
                }
            }
        });
    }
    drop(opened);
    for _ in 0..count {
        match welcomes.recv().await {
            Some(Ok(())) => {}
            Some(Err(err)) => return Err(err),
            None => return Err("a connection task ended without an answer".to_owned()),
        }
    }
    Ok(readers)
}

/// Asks every reader to close its connection, and waits for them.
async fn close_all(stop: &watch::Sender<bool>, mut readers: JoinSet<()>) {
    let _ = stop.send(true);
    while readers.join_next().await.is_some() {}
}
