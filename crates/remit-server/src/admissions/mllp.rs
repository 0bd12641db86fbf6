//! The patient administration system's ADT feed: HL7 v2 over MLLP (a message is `0x0B`, the message, `0x1C 0x0D`).
//! Each message is answered with its ACK on the same connection, in order, after it has been applied (or not)
//! through [`remit_services::adt`]; open boards of the places it changed are told at once.
//!
//! MLLP has no authentication of its own: only the peers the administrator names (loopback by default) may
//! connect, and anything else is closed before a byte is read. A message is at most [`MAX_MESSAGE`] bytes and, once
//! begun, must arrive within [`MESSAGE_TIMEOUT`]; nothing of a message is logged but its sender, control id, event
//! and acknowledgement.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use remit_domain::adt::{self, AckCode, ErrorCode, Header, Locations, Problem, Read};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::AppState;

/// The largest message taken (1 MiB): an ADT message is a few kilobytes.
pub const MAX_MESSAGE: usize = 1 << 20;
/// How long a begun message may take to arrive.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open at once: a patient administration system keeps one or two.
const MAX_CONNECTIONS: usize = 16;

const START: u8 = 0x0B;
const END: [u8; 2] = [0x1C, 0x0D];

/// How the feed is taken: the map of locations, and the peers that may send.
#[derive(Debug, Clone)]
pub struct Feed {
    pub locations: Arc<Locations>,
    /// The addresses that may connect; loopback alone when empty.
    pub allow: Vec<IpAddr>,
}

impl Feed {
    fn allows(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        if self.allow.is_empty() {
            peer.is_loopback()
        } else {
            self.allow.contains(&peer)
        }
    }
}

/// Takes ADT messages on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    feed: Feed,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let feed = Arc::new(feed);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(cause = %e, "MLLP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if !feed.allows(peer.ip()) {
            tracing::warn!(peer = %peer.ip(), "MLLP connection from a peer not allowed: closed");
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(peer = %peer.ip(), "MLLP connection refused: {MAX_CONNECTIONS} open already");
            continue;
        };
        let (state, feed) = (state.clone(), feed.clone());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection(stream, &state, &feed).await {
                tracing::info!(peer = %peer.ip(), cause = %e, "MLLP connection ended");
            }
        });
    }
}

/// One connection: messages in, acknowledgements out, one at a time.
async fn connection(mut stream: TcpStream, state: &AppState, feed: &Feed) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let frame = match next_message(&mut stream, &mut buf).await? {
            Frame::Message(m) => m,
            Frame::Closed => return Ok(()),
            Frame::TooLong => {
                let p = Problem::new(
                    ErrorCode::SegmentSequence,
                    format!("the message is longer than {MAX_MESSAGE} bytes"),
                );
                send(
                    &mut stream,
                    state,
                    &Header::default(),
                    AckCode::Rejected,
                    &p.reason,
                    Some(p.code),
                )
                .await?;
                return Ok(());
            }
        };
        let text = decode(&frame);
        let (header, outcome) = handle(state, feed, &text).await;
        state.metrics.adt(outcome.code.as_str());
        tracing::info!(
            sender = %header.sender(),
            control_id = %header.control_id,
            event = %header.trigger,
            ack = outcome.code.as_str(),
            "ADT message"
        );
        send(
            &mut stream,
            state,
            &header,
            outcome.code,
            &outcome.text,
            outcome.problem,
        )
        .await?;
    }
}

enum Frame {
    Message(Vec<u8>),
    Closed,
    TooLong,
}

/// The next framed message; bytes outside a frame are skipped.
async fn next_message(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Frame> {
    let mut chunk = [0u8; 8192];
    let mut deadline: Option<tokio::time::Instant> = None;
    // Where the search for the end stopped: each byte is looked at once, however the message is split.
    let mut searched: usize = 0;
    loop {
        if deadline.is_none() {
            match buf.iter().position(|b| *b == START) {
                Some(start) => {
                    buf.drain(..start);
                    deadline = Some(tokio::time::Instant::now() + MESSAGE_TIMEOUT);
                    searched = 1;
                }
                None => buf.clear(),
            }
        }
        if deadline.is_some() {
            if let Some(end) = buf[searched.saturating_sub(1)..].windows(2).position(|w| w == END) {
                let end = end + searched.saturating_sub(1);
                let message = buf[1..end].to_vec();
                buf.drain(..end + 2);
                return Ok(Frame::Message(message));
            }
            searched = buf.len();
            if buf.len() > MAX_MESSAGE + 3 {
                return Ok(Frame::TooLong);
            }
        }
        let read = match deadline {
            Some(d) => match tokio::time::timeout_at(d, stream.read(&mut chunk)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "a message begun was not finished in time",
                    ));
                }
            },
            None => stream.read(&mut chunk).await?,
        };
        if read == 0 {
            return Ok(Frame::Closed);
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// The message's text: UTF-8, or else ISO 8859-1 (HL7 v2's usual character set), byte for character.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

/// Reads and applies one message.
async fn handle(state: &AppState, feed: &Feed, text: &str) -> (Header, remit_services::adt::Outcome) {
    use remit_services::adt::{Outcome, apply, refuse_unapplied};
    let today = remit_domain::time::london_date(state.store.now());
    match adt::read(text, today) {
        Read::Rejected(h, p) => (h, Outcome::not_applied(AckCode::Rejected, p)),
        Read::NotApplicable(h, p) => {
            let outcome = match refuse_unapplied(&state.store, &h, p).await {
                Ok(o) => o,
                Err(e) => failed(&e),
            };
            (h, outcome)
        }
        Read::Message(m) => {
            let outcome = match apply(&state.store, &m, &feed.locations).await {
                Ok(o) => o,
                Err(e) => failed(&e),
            };
            (m.header, outcome)
        }
    }
}

/// remit's own failure (the database unreachable): nothing was applied, and the sender is asked to send again.
fn failed(e: &remit_store::StoreError) -> remit_services::adt::Outcome {
    tracing::error!(cause = %e, "ADT message not applied");
    remit_services::adt::Outcome::not_applied(
        AckCode::Error,
        Problem::new(
            ErrorCode::InternalError,
            "remit could not apply the message now: nothing was changed; send it again",
        ),
    )
}

async fn send(
    stream: &mut TcpStream,
    state: &AppState,
    header: &Header,
    code: AckCode,
    text: &str,
    problem: Option<ErrorCode>,
) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = state.store.now();
    let id = format!(
        "R{}.{}",
        now.format("%Y%m%d%H%M%S"),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let ack = adt::ack(header, code, text, problem, &id, now);
    let mut out = Vec::with_capacity(ack.len() + 3);
    out.push(START);
    out.extend_from_slice(ack.as_bytes());
    out.extend_from_slice(&END);
    // A sender that stops reading does not hold the connection for ever.
    let write = async {
        stream.write_all(&out).await?;
        stream.flush().await
    };
    tokio::time::timeout(MESSAGE_TIMEOUT, write).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the acknowledgement was not taken in time",
        )
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_peers_may_send() {
        let feed = Feed {
            locations: Arc::default(),
            allow: Vec::new(),
        };
        assert!(feed.allows("127.0.0.1".parse().unwrap()));
        assert!(feed.allows("::1".parse().unwrap()));
        assert!(feed.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!feed.allows("10.0.0.5".parse().unwrap()));
        let feed = Feed {
            allow: vec!["10.0.0.5".parse().unwrap()],
            ..feed
        };
        assert!(feed.allows("10.0.0.5".parse().unwrap()));
        assert!(!feed.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn text_that_is_not_utf8_is_latin1() {
        assert_eq!(decode(b"O'Brien"), "O'Brien");
        assert_eq!(decode(&[b'J', 0xF6, b'r', b'g']), "Jörg");
    }
}
