//! The WebSocket clients: open and authenticate a connection, then receive until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use _core::core::keys::Key;
use _core::core::sign::Signer;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::tally::{Tally, now_ns};

pub type Ws = WebSocketStream<TcpStream>;

/// How long one connection may take to open and be welcomed (the Python client's `open_timeout`).
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a close handshake may take at the end of a run.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Seconds since the epoch, for a token's `iat`.
pub fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// Builds a signer as `sock8.Signer(secret, audience=..., ttl=3600)` does: sock8's own core.
pub fn signer(secret: &str, audience: &str) -> Result<Signer, String> {
    let key = Key::new(secret.as_bytes()).map_err(|err| format!("the secret: {err}"))?;
    Signer::new(key, None, Some(audience.to_owned()), None, 3600).map_err(|err| format!("the signer: {err}"))
}

/// Opens connections to one server: at most `concurrency` handshakes at a time.
pub struct Connector {
    addr: SocketAddr,
    url: String,
    config: WebSocketConfig,
    signer: Signer,
    channel: String,
    gate: Semaphore,
}

impl Connector {
    pub fn new(addr: SocketAddr, signer: Signer, channel: String, concurrency: usize, read_buffer: usize) -> Self {
        // The read buffer is allocated up front for every connection (128 KiB by default): a
        // few KiB hold dozens of frames per read and keep memory per connection small. The
        // client writes two frames in its life; no write buffering.
        let config = WebSocketConfig::default()
            .read_buffer_size(read_buffer)
            .write_buffer_size(0);
        Self {
            addr,
            url: format!("ws://{addr}/connect"),
            config,
            signer,
            channel,
            gate: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Opens one connection and authenticates it as `identity`; returns once it is welcomed.
    pub async fn open(&self, identity: &str) -> Result<Ws, String> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| "the handshake gate closed".to_owned())?;
        tokio::time::timeout(OPEN_TIMEOUT, self.handshake(identity))
            .await
            .map_err(|_| format!("not welcomed within {OPEN_TIMEOUT:?}"))?
    }

    async fn handshake(&self, identity: &str) -> Result<Ws, String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|err| format!("connect to {}: {err}", self.addr))?;
        stream.set_nodelay(true).map_err(|err| format!("TCP_NODELAY: {err}"))?;
        let (mut ws, _) = client_async_with_config(self.url.as_str(), stream, Some(self.config))
            .await
            .map_err(|err| format!("WebSocket handshake with {}: {err}", self.url))?;
        let mut channels = vec![self.channel.as_str()];
        let token = self
            .signer
            .sign(identity, &mut channels, now_seconds(), None, None)
            .map_err(|err| format!("signing a token: {err}"))?;
        // A token is base64url and dots: nothing to escape.
        ws.send(Message::text(format!(r#"{{"event":"auth","token":"{token}"}}"#)))
            .await
            .map_err(|err| format!("sending auth: {err}"))?;
        // The first frame the server sends answers the auth frame.
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: serde_json::Value = serde_json::from_str(text.as_str())
                        .map_err(|err| format!("the answer to auth is not JSON ({err}): {text}"))?;
                    if frame.get("event").and_then(serde_json::Value::as_str) == Some("welcome") {
                        return Ok(ws);
                    }
                    return Err(format!("refused: {text}"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("closed instead of welcomed: {frame:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(format!("waiting for welcome: {err}")),
                None => return Err("closed instead of welcomed".to_owned()),
            }
        }
    }
}

/// Receives on `ws` into `tally` until `stop` turns true, then closes the connection.
pub async fn receive(mut ws: Ws, tally: Arc<Tally>, mut stop: watch::Receiver<bool>) {
    let stopped = stop.wait_for(|&stop| stop);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            biased;
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => tally.frame(text.as_str(), now_ns()),
                Some(Ok(Message::Close(frame))) => {
                    tally.lost(format!("closed by the server: {frame:?}"));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    tally.lost(format!("receive error: {err}"));
                    return;
                }
                None => {
                    tally.lost("closed by the server".to_owned());
                    return;
                }
            },
            _ = &mut stopped => break,
        }
    }
    // The close handshake, as the Python client's `ws.close()`; a server that does not answer
    // in time is left to notice the dropped socket.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if ws.close(None).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}
