//! `POST /publish` over one keep-alive HTTP/1.1 connection, as the Python client publishes with
//! httpx: a bearer publish token, a JSON body `{"channel", "payload": {"seq", "t"}}`, `t` the
//! time the body was written in nanoseconds since the epoch.
//!
//! HTTP here is the least a publisher needs: answers must carry a `Content-Length` (Starlette's
//! and the broadcaster's do); anything else is reported as an error.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use crate::tally::now_ns;

/// How long one answer may take (the Python client's httpx timeout).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer head or body read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

pub struct Publisher {
    addr: SocketAddr,
    /// The request line and headers up to, not including, `Content-Length`.
    head: String,
    channel_json: String,
    stream: Option<BufStream<TcpStream>>,
    request: String,
}

impl Publisher {
    pub fn new(addr: SocketAddr, token: &str, channel: &str) -> Result<Self, String> {
        let head = format!(
            "POST /publish HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\n"
        );
        let channel_json = serde_json::to_string(channel).map_err(|err| format!("the channel: {err}"))?;
        Ok(Self {
            addr,
            head,
            channel_json,
            stream: None,
            request: String::with_capacity(1024),
        })
    }

    /// Publishes messages `seqs`, each stamped as it is written: one request at a time when
    /// `seqs` holds one, else all requests written back to back (HTTP/1.1 pipelining), then
    /// every answer read.
    pub async fn publish(&mut self, seqs: std::ops::Range<usize>) -> Result<(), String> {
        let count = seqs.len();
        self.request.clear();
        for seq in seqs {
            let body = format!(
                r#"{{"channel":{},"payload":{{"seq":{seq},"t":{}}}}}"#,
                self.channel_json,
                now_ns()
            );
            let _ = write!(
                self.request,
                "{}Content-Length: {}\r\n\r\n{body}",
                self.head,
                body.len()
            );
        }
        let request = std::mem::take(&mut self.request);
        let stream = self.connection().await?;
        let exchange = async {
            stream.write_all(request.as_bytes()).await?;
            stream.flush().await?;
            let mut keep_alive = true;
            for _ in 0..count {
                keep_alive &= read_answer(stream).await?;
            }
            Ok::<bool, std::io::Error>(keep_alive)
        };
        let outcome = tokio::time::timeout(ANSWER_TIMEOUT, exchange).await;
        self.request = request;
        match outcome {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => {
                self.stream = None;
                Ok(())
            }
            Ok(Err(err)) => {
                self.stream = None;
                Err(format!("POST /publish: {err}"))
            }
            Err(_) => {
                self.stream = None;
                Err(format!("POST /publish: no answer within {ANSWER_TIMEOUT:?}"))
            }
        }
    }

    async fn connection(&mut self) -> Result<&mut BufStream<TcpStream>, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|err| format!("connect to {} for publishing: {err}", self.addr))?;
            stream.set_nodelay(true).map_err(|err| format!("TCP_NODELAY: {err}"))?;
            self.stream = Some(BufStream::new(stream));
        }
        self.stream
            .as_mut()
            .ok_or_else(|| "no publishing connection".to_owned())
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Reads one answer; an error unless it is a 2xx. Returns whether the connection stays open.
async fn read_answer(stream: &mut BufStream<TcpStream>) -> std::io::Result<bool> {
    let mut line = String::new();
    let mut head_bytes = 0;
    let mut status_line = String::new();
    let mut length = None;
    let mut keep_alive = true;
    loop {
        line.clear();
        let read = stream.read_line(&mut line).await?;
        if read == 0 {
            return Err(invalid("the server closed the connection".to_owned()));
        }
        head_bytes += read;
        if head_bytes > MAX_ANSWER_BYTES {
            return Err(invalid("an answer head over 1 MiB".to_owned()));
        }
        let text = line.trim_end();
        if status_line.is_empty() {
            text.clone_into(&mut status_line);
            continue;
        }
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(invalid(format!("a malformed header: {text:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| invalid(format!("Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(format!("Transfer-Encoding {value} is not supported")));
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        }
    }
    let length = length.ok_or_else(|| invalid(format!("no Content-Length: {status_line}")))?;
    if length > MAX_ANSWER_BYTES {
        return Err(invalid(format!("an answer body of {length} bytes")));
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("a malformed status line: {status_line:?}")))?;
    if !(200..300).contains(&status) {
        return Err(invalid(format!("{status_line}: {}", String::from_utf8_lossy(&body))));
    }
    Ok(keep_alive)
}
