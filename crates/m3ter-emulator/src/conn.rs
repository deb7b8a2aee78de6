//! The emulator's connections. Hyper answers requests it cannot parse
//! (400 bad request line or header, 414 URI too long, 431 headers too large)
//! by itself, with an empty body and no hook to change it. Every emulator
//! error must be JSON `{"message"}` (see [`super::error`]), so the listener
//! hands hyper a stream that spots exactly that head on its way out and sends
//! a JSON body in its place. Normal answers pass through untouched: the check
//! stops at the status code, and nothing is allocated unless it matches.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose streams are [`JsonErrorStream`]s.
pub(crate) struct JsonErrorListener(pub(crate) TcpListener);

impl axum::serve::Listener for JsonErrorListener {
    type Io = JsonErrorStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own accept loop (it logs and retries accept errors).
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonErrorStream::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that rewrites hyper's automatic parse-error answers.
pub(crate) struct JsonErrorStream {
    inner: TcpStream,
    /// The rewritten answer still to be written (empty, unallocated, until
    /// a parse error).
    pending: Vec<u8>,
    /// How much of `pending` is written.
    sent: usize,
    /// Set once an answer was rewritten: the connection is closing.
    rewrote: bool,
}

impl JsonErrorStream {
    fn new(inner: TcpStream) -> Self {
        JsonErrorStream {
            inner,
            pending: Vec::new(),
            sent: 0,
            rewrote: false,
        }
    }

    /// Takes `buf` (all of it) if it is hyper's parse-error head.
    fn intercept(&mut self, buf: &[u8]) -> bool {
        match rewrite(buf) {
            Some(answer) => {
                self.pending = answer;
                self.sent = 0;
                self.rewrote = true;
                true
            }
            None => false,
        }
    }

    /// Writes what is left of a rewritten answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads and drops what the client already sent (the rest of the bad
    /// request), without waiting: closing a socket with unread input makes
    /// the kernel send a reset, and the client could lose the answer.
    fn discard_input(&mut self) {
        let mut buf = [0u8; 8192];
        // Bounded, so a client that keeps sending cannot hold us here.
        for _ in 0..256 {
            match self.inner.try_read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

impl AsyncRead for JsonErrorStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonErrorStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if this.intercept(buf) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        // Hyper's automatic answer is a head and no body: one non-empty slice.
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next())
            && this.intercept(only)
        {
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        if this.rewrote {
            this.discard_input();
        }
        Poll::Ready(Ok(()))
    }
}

/// The marker of hyper's automatic answers: they never have a body.
const EMPTY_BODY: &[u8] = b"\r\ncontent-length: 0\r\n";

/// The message for a status hyper answers by itself, if `status` is one.
fn message(status: &[u8]) -> Option<&'static str> {
    Some(match status {
        b"400" => {
            "the request is not valid HTTP/1.1 (bad request line, method, URI, version or header); fix the client's request"
        }
        b"414" => {
            "the request URI is longer than 65534 bytes; send fewer or shorter query parameters"
        }
        b"431" => {
            "the request header is too large (more than 100 header fields, or a head over about 400 KB); send fewer or smaller headers"
        }
        _ => return None,
    })
}

/// Hyper's head `HTTP/1.x NNN ...\r\n...content-length: 0\r\n...\r\n\r\n`
/// for a parse error, rewritten with a JSON body; None for anything else.
/// The emulator itself never answers these statuses without a body.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let status = head.strip_prefix(b"HTTP/1.")?.get(2..5)?;
    let message = message(status)?;
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let at = head
        .windows(EMPTY_BODY.len())
        .position(|w| w == EMPTY_BODY)?;
    let body = serde_json::json!({ "message": message }).to_string();
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    out.extend_from_slice(&head[..at]);
    out.extend_from_slice(b"\r\ncontent-type: application/json");
    out.extend_from_slice(format!("\r\ncontent-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(&head[at + EMPTY_BODY.len()..]);
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_empty_parse_error_heads() {
        let head = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite(head).expect("rewritten")).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(head.ends_with("date: x"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["message"].as_str().unwrap().contains("65534"));

        // Ordinary answers are left alone.
        for other in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"{\"message\":\"x\"}",
        ] {
            assert!(
                rewrite(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
