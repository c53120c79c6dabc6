//! A trivial, fast broadcaster, for the self-test: `WebSocket /connect` answers the first frame
//! with a welcome (checking nothing, as the Python baseline), and `POST /publish` sends its body,
//! which is already a channel message frame (`{"channel", "payload"}`), to every connection.
//!
//! Everything runs on one thread. Each connection has a writer that takes every frame waiting for
//! it and writes them with one system call, so a broadcaster that falls behind writes several
//! frames at once, as an asyncio transport with a backlog does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Hub = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Utf8Bytes>>>>;

const WELCOME: &str = r#"{"event":"welcome","channels":[]}"#;
const MAX_BODY: usize = 1 << 20;

/// Serves on a free loopback port; prints `PORT <n>` once listening.
pub async fn serve() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("bind: {err}"))?;
    let port = listener
        .local_addr()
        .map_err(|err| format!("local address: {err}"))?
        .port();
    println!("PORT {port}");
    let hub = Hub::default();
    let ids = AtomicU64::new(0);
    loop {
        let (stream, _) = listener.accept().await.map_err(|err| format!("accept: {err}"))?;
        let id = ids.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(stream, Arc::clone(&hub), id));
    }
}

async fn connection(stream: TcpStream, hub: Hub, id: u64) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    // One byte tells a publish (`POST`) from a WebSocket upgrade (`GET`).
    let mut first = [0; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first == *b"P" => {
            let _ = publisher(BufStream::new(stream), &hub).await;
        }
        Ok(1) => websocket(stream, &hub, id).await,
        _ => {}
    }
}

async fn websocket(stream: TcpStream, hub: &Hub, id: u64) {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    // The auth frame; nothing is checked.
    match ws.next().await {
        Some(Ok(Message::Text(_))) => {}
        _ => return,
    }
    if ws.send(Message::text(WELCOME)).await.is_err() {
        return;
    }
    let (sender, mut frames) = mpsc::unbounded_channel();
    hub.lock().unwrap_or_else(PoisonError::into_inner).insert(id, sender);
    let mut batch = Vec::with_capacity(256);
    loop {
        tokio::select! {
            taken = frames.recv_many(&mut batch, 256) => {
                if taken == 0 {
                    break;
                }
                let mut sent = Ok(());
                for frame in batch.drain(..) {
                    sent = sent.and(ws.feed(Message::Text(frame)).await);
                }
                if sent.and(ws.flush().await).is_err() {
                    break;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    hub.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    let _ = ws.close(None).await;
}

/// Serves `POST /publish` requests on one keep-alive connection (pipelined ones included).
async fn publisher(mut stream: BufStream<TcpStream>, hub: &Hub) -> std::io::Result<()> {
    let mut line = String::new();
    loop {
        let mut length = 0;
        let mut request = String::new();
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let text = line.trim_end();
            if request.is_empty() {
                text.clone_into(&mut request);
            } else if text.is_empty() {
                break;
            } else if let Some((name, value)) = text.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(usize::MAX);
            }
        }
        if length > MAX_BODY {
            stream
                .write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await?;
            return stream.flush().await;
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        let answer: &[u8] = match String::from_utf8(body) {
            Ok(frame) if request.starts_with("POST /publish ") => {
                let frame = Utf8Bytes::from(frame);
                for sender in hub.lock().unwrap_or_else(PoisonError::into_inner).values() {
                    let _ = sender.send(frame.clone());
                }
                b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
            }
            Ok(_) => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            Err(_) => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        };
        stream.write_all(answer).await?;
        stream.flush().await?;
    }
}
