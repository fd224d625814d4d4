//! Repairs one request framing that HTTP servers refuse but DeepCall's
//! documented clients produce: the document's Python, PHP, OkHttp, libcurl,
//! Ruby… examples add a `Content-Length` header with an *empty* value (some
//! send it as is, libcurl drops it and sends no length at all) and then the
//! JSON body. hyper answers such a request 400 before any router sees it, so
//! the repair sits between the socket and hyper:
//!
//! - a head whose `Content-Length` values are all empty gets its body
//!   collected — up to the end of the first complete JSON value (and the
//!   whitespace after it), or whatever arrived before the connection ended
//!   or went quiet for [`BODY_WAIT`] — and a `Content-Length` with its size;
//! - a head with no `Content-Length` and no `Transfer-Encoding` directly
//!   followed by `{` (which no request line can start with) likewise.
//!
//! Every other byte passes through unchanged: heads are only parsed to find
//! where each body ends (valid `Content-Length`); a connection switches to
//! plain pass-through for good at `Transfer-Encoding`, `Upgrade`, `CONNECT`,
//! HTTP/2, an invalid length or an oversized head, all of which hyper
//! handles itself. The repair thus only changes requests hyper would refuse.

use axum::serve::Listener;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// How long a body of unknown length may pause before it is taken as complete.
const BODY_WAIT: Duration = Duration::from_secs(1);
/// Heads larger than this are left to hyper (which refuses them).
const MAX_HEAD: usize = 64 * 1024;
/// Collection stops here; the declared length then exceeds the body limit.
const MAX_COLLECT: usize = crate::body_limit::MAX_BODY_BYTES + 1;

pub(crate) struct LenientListener(TcpListener, Duration);

/// The listener with the repair on every connection, for a custom accept
/// loop. A connection must deliver each request head within `head_timeout`
/// (an idle keep-alive connection is closed after it, a half-sent head is an
/// error): slow clients cannot hold connections open.
pub(crate) fn lenient_listener(l: TcpListener, head_timeout: Duration) -> LenientListener {
    LenientListener(l, head_timeout)
}

impl Listener for LenientListener {
    type Io = LenientIo<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = Listener::accept(&mut self.0).await;
        // Small responses must not wait for Nagle's algorithm.
        let _ = io.set_nodelay(true);
        let mut io = LenientIo::new(io);
        io.head_timeout = self.1;
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

enum State {
    /// Waiting for a request head.
    Head,
    /// Forwarding this many more body bytes.
    Body(usize),
    /// Collecting a body of unknown length; the head waits, without its
    /// final empty line and without `Content-Length`.
    Collect(Vec<u8>),
    /// Forwarding everything unchanged from now on.
    Pass,
}

pub(crate) struct LenientIo<S> {
    inner: S,
    /// Bytes read from the peer, not yet handed on.
    input: Vec<u8>,
    /// Bytes ready for hyper.
    out: Vec<u8>,
    out_pos: usize,
    state: State,
    eof: bool,
    timer: Option<Pin<Box<Sleep>>>,
    head_timeout: Duration,
    /// When the head being waited for must have arrived.
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// Whether a request head has been handed on: from then on hyper's own
    /// `header_read_timeout` bounds each wait for a head. Before it, hyper
    /// is still finding out the protocol version (`auto`) and has no timer
    /// running, so the first wait is bounded here.
    handed_on: bool,
}

impl<S: AsyncRead + Unpin> LenientIo<S> {
    fn new(inner: S) -> Self {
        LenientIo {
            inner,
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            state: State::Head,
            eof: false,
            timer: None,
            head_timeout: Duration::from_secs(10),
            head_deadline: None,
            handed_on: false,
        }
    }

    /// Reads more from the peer into `input` (or notes the end).
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut tmp = [0u8; 8192];
        let mut rb = ReadBuf::new(&mut tmp);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rb))?;
        if rb.filled().is_empty() {
            self.eof = true;
        } else {
            self.input.extend_from_slice(rb.filled());
            if let Some(t) = self.timer.as_mut() {
                t.as_mut().reset(Instant::now() + BODY_WAIT);
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Moves the first `n` input bytes to the output.
    fn forward(&mut self, n: usize) {
        self.out.extend(self.input.drain(..n));
    }

    fn on_head(&mut self, end: usize) {
        self.head_deadline = None;
        self.handed_on = true;
        let head = &self.input[..end];
        let rest = &self.input[end..];
        match framing(head, rest) {
            Framing::NoBody => {
                self.forward(end);
                self.state = State::Head;
            }
            Framing::Length(n) => {
                self.forward(end);
                self.state = State::Body(n);
            }
            Framing::Unknown => {
                let kept = head_without_length(head);
                self.input.drain(..end);
                self.state = State::Collect(kept);
                self.timer = Some(Box::pin(tokio::time::sleep(BODY_WAIT)));
            }
            Framing::Other => {
                self.forward(end);
                self.state = State::Pass;
            }
        }
    }

    /// The common case, without copies: reads straight into hyper's buffer
    /// and leaves there what needs no repair, one whole request head with no
    /// body or with (part of) a body of known length. Anything else (half a
    /// head, a body to collect, pipelined requests) is taken back into
    /// `input` for the careful path.
    fn read_through(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let start = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let new = &buf.filled()[start..];
        if new.is_empty() {
            self.eof = true;
            return Poll::Ready(Ok(()));
        }
        if let Some(end) = head_end(new) {
            match framing(&new[..end], &new[end..]) {
                Framing::NoBody if end == new.len() => return Poll::Ready(Ok(())),
                Framing::Length(n) if new.len() - end <= n => {
                    self.state = State::Body(n - (new.len() - end));
                    return Poll::Ready(Ok(()));
                }
                _ => {}
            }
        }
        self.input.extend_from_slice(new);
        buf.set_filled(start);
        Poll::Ready(Ok(()))
    }

    /// Ends a collection: the head with the body's length, then the body.
    fn finish_collect(&mut self, len: usize) {
        let State::Collect(head) = std::mem::replace(&mut self.state, State::Head) else { return };
        self.timer = None;
        self.out.extend_from_slice(&head);
        self.out.extend_from_slice(format!("content-length: {len}\r\n\r\n").as_bytes());
        self.forward(len);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LenientIo<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.handed_on && this.out.is_empty() && this.input.is_empty() && !this.eof && matches!(this.state, State::Head) {
            ready!(this.read_through(cx, buf))?;
            if this.input.is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            match &mut this.state {
                State::Pass => {
                    if this.input.is_empty() {
                        return Pin::new(&mut this.inner).poll_read(cx, buf);
                    }
                    this.forward(this.input.len());
                }
                State::Body(0) => this.state = State::Head,
                State::Body(n) => {
                    let n = *n;
                    if !this.input.is_empty() {
                        let k = n.min(this.input.len());
                        this.state = State::Body(n - k);
                        this.forward(k);
                    } else if this.eof {
                        return Poll::Ready(Ok(()));
                    } else {
                        ready!(this.fill(cx))?;
                    }
                }
                State::Head => {
                    if this.input.starts_with(b"PRI * HTTP/2") || this.input.len() > MAX_HEAD {
                        this.state = State::Pass;
                    } else if let Some(end) = head_end(&this.input) {
                        this.on_head(end);
                    } else if this.eof {
                        if this.input.is_empty() {
                            return Poll::Ready(Ok(()));
                        }
                        this.state = State::Pass;
                    } else if this.handed_on {
                        ready!(this.fill(cx))?;
                    } else {
                        let timeout = this.head_timeout;
                        let deadline = this.head_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                        if deadline.as_mut().poll(cx).is_ready() {
                            this.head_deadline = None;
                            // Idle between requests: a clean close; half a head: an error.
                            return if this.input.is_empty() {
                                Poll::Ready(Ok(()))
                            } else {
                                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "request head not received in time")))
                            };
                        }
                        ready!(this.fill(cx))?;
                    }
                }
                State::Collect(_) => {
                    if let Some(len) = json_extent(&this.input) {
                        this.finish_collect(len);
                    } else if this.eof || this.input.len() >= MAX_COLLECT {
                        this.finish_collect(this.input.len());
                    } else {
                        match this.fill(cx) {
                            Poll::Ready(r) => r?,
                            Poll::Pending => {
                                let expired = this.timer.as_mut().is_none_or(|t| t.as_mut().poll(cx).is_ready());
                                if !expired {
                                    return Poll::Pending;
                                }
                                this.finish_collect(this.input.len());
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LenientIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Where a request head ends (just after its empty line), if it is complete.
/// Lines end with CRLF or a bare LF, as hyper accepts.
/// Every request's head passes here: the line ends are found with `memchr`
/// (a byte-at-a-time loop was 0.6 % of a read by id, issue 26).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for i in memchr::memchr_iter(b'\n', buf) {
        let line = &buf[line_start..i];
        // Empty lines before the request line are allowed and skipped.
        if (line.is_empty() || line == b"\r") && buf[..line_start].iter().any(|c| !c.is_ascii_whitespace()) {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

#[derive(Debug, PartialEq)]
enum Framing {
    NoBody,
    Length(usize),
    /// A body whose length the client did not say.
    Unknown,
    /// Left to hyper for the rest of the connection.
    Other,
}

/// The header lines of a head (without the request line and the empty line).
fn header_lines(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    head.split(|&b| b == b'\n').skip_while(|l| l.trim_ascii().is_empty()).skip(1).filter_map(|line| {
        let colon = memchr::memchr(b':', line)?;
        Some((line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()))
    })
}

fn framing(head: &[u8], rest: &[u8]) -> Framing {
    let method = head.trim_ascii_start().split(|&b| b == b' ').next().unwrap_or_default();
    if method.eq_ignore_ascii_case(b"CONNECT") {
        return Framing::Other;
    }
    let mut lengths = Vec::new();
    for (name, value) in header_lines(head) {
        if name.eq_ignore_ascii_case(b"transfer-encoding") || name.eq_ignore_ascii_case(b"upgrade") {
            return Framing::Other;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            lengths.extend(value.split(|&b| b == b',').map(<[u8]>::trim_ascii));
        }
    }
    if lengths.is_empty() {
        return if rest.first() == Some(&b'{') { Framing::Unknown } else { Framing::NoBody };
    }
    if lengths.iter().all(|v| v.is_empty()) {
        return Framing::Unknown;
    }
    let parsed: Option<Vec<usize>> = lengths
        .iter()
        .map(|v| if !v.is_empty() && v.iter().all(u8::is_ascii_digit) { std::str::from_utf8(v).ok()?.parse().ok() } else { None })
        .collect();
    match parsed.as_deref() {
        Some([n, others @ ..]) if others.iter().all(|o| o == n) => Framing::Length(*n),
        _ => Framing::Other,
    }
}

/// The head without its `Content-Length` lines and without its final empty line.
fn head_without_length(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 24);
    let lines: Vec<&[u8]> = head.split_inclusive(|&b| b == b'\n').collect();
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.into_iter().enumerate() {
        let is_length =
            line.iter().position(|&b| b == b':').is_some_and(|c| line[..c].trim_ascii().eq_ignore_ascii_case(b"content-length"));
        if i != last && !is_length {
            out.extend_from_slice(line);
        }
    }
    out
}

/// How many bytes of `buf` make up one complete JSON value and the
/// whitespace after it; `Some(len)` of everything when `buf` cannot be JSON
/// (nothing more is worth waiting for); `None` while the value is incomplete.
fn json_extent(buf: &[u8]) -> Option<usize> {
    let start = buf.iter().position(|b| !b.is_ascii_whitespace())?;
    let mut values = serde_json::Deserializer::from_slice(&buf[start..]).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => {
            let end = start + values.byte_offset();
            Some(end + buf[end..].iter().take_while(|b| b.is_ascii_whitespace()).count())
        }
        Some(Err(e)) if e.is_eof() => None,
        _ => Some(buf.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_end_at_the_empty_line() {
        assert_eq!(head_end(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n{}"), Some(28));
        assert_eq!(head_end(b"POST / HTTP/1.1\nHost: x\n\n{}"), Some(25));
        assert_eq!(head_end(b"\r\nGET / HTTP/1.1\r\n\r\n"), Some(20));
        assert_eq!(head_end(b"POST / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    #[test]
    fn framings() {
        let f = |h: &str, rest: &str| framing(h.as_bytes(), rest.as_bytes());
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", ""), Framing::Length(12));
        assert_eq!(f("POST / HTTP/1.1\r\ncontent-length: 3, 3\r\n\r\n", ""), Framing::Length(3));
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", "{}"), Framing::Unknown);
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", ""), Framing::Unknown);
        assert_eq!(f("POST / HTTP/1.1\r\nHost: a\r\n\r\n", "{\"a\":1}"), Framing::Unknown);
        assert_eq!(f("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\n"), Framing::NoBody);
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", ""), Framing::Other);
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", ""), Framing::Other);
        assert_eq!(f("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: \r\n\r\n", ""), Framing::Other);
        assert_eq!(f("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", ""), Framing::Other);
    }

    #[test]
    fn length_lines_are_dropped() {
        let h = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: \r\nAccept: */*\r\n\r\n";
        assert_eq!(head_without_length(h), b"POST /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n");
    }

    #[test]
    fn json_extents() {
        assert_eq!(json_extent(b""), None);
        assert_eq!(json_extent(b"  {\"a\": [1, "), None);
        assert_eq!(json_extent(b"{\"a\":1}\n"), Some(8));
        assert_eq!(json_extent(b"\n{\"a\":1}\r\nGET / HTTP/1.1"), Some(10));
        assert_eq!(json_extent(b"nope"), Some(4));
    }
}

/// Fuzzing entry points: the head parser and JSON framing on arbitrary bytes.
#[cfg(feature = "fuzzing")]
pub fn fuzz_framing(data: &[u8]) {
    if let Some(end) = head_end(data) {
        let (head, rest) = data.split_at(end.min(data.len()));
        let _ = framing(head, rest);
        let stripped = head_without_length(head);
        assert!(stripped.len() <= head.len());
        for _ in header_lines(head) {}
    }
    if let Some(n) = json_extent(data) {
        assert!(n <= data.len());
    }
}
