//! Fault `dpop-header-name-case-sensitive`: a server whose header lookup is case-sensitive and
//! finds the proof only under the spellings `DPoP` and `dpop`. HTTP field names ignore case
//! (RFC 9110 §5.1), and the HTTP stack here folds them before any handler runs, so the fault
//! sits below it: the connection's bytes are read as they arrive and any other spelling of a
//! `DPoP` field name at the start of a line (`Dpop:`, `DPOP:`) is renamed to `x-dp`, which the
//! server then never reads. A name split across two reads is missed; loopback request heads
//! arrive in one read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The spellings the faulty lookup finds.
const FOUND_SPELLINGS: [&[u8]; 2] = [b"DPoP", b"dpop"];
/// What other spellings become: a name of the same length that nothing reads.
const IGNORED_NAME: &[u8; 4] = b"x-dp";

/// Accepts connections whose non-canonical `DPoP` field names are hidden from the server.
pub struct CaseSensitiveDpopListener(pub TcpListener);

impl axum::serve::Listener for CaseSensitiveDpopListener {
    type Io = DpopNameRewriter<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (DpopNameRewriter::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A stream whose incoming bytes have other spellings of the `DPoP` field name renamed.
pub struct DpopNameRewriter<S> {
    inner: S,
    /// Whether the next byte read starts a line.
    at_line_start: bool,
}

impl<S> DpopNameRewriter<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            at_line_start: true,
        }
    }
}

/// Renames other spellings of `DPoP:` at line starts in `bytes`, the first byte starting a
/// line when `at_line_start`.
fn rename_other_spellings(bytes: &mut [u8], at_line_start: bool) {
    for i in 0..bytes.len() {
        let line_start = if i == 0 {
            at_line_start
        } else {
            bytes[i - 1] == b'\n'
        };
        let Some(name) = bytes.get(i..i + 4) else {
            break;
        };
        if line_start
            && bytes.get(i + 4) == Some(&b':')
            && name.eq_ignore_ascii_case(b"dpop")
            && !FOUND_SPELLINGS.contains(&name)
        {
            bytes[i..i + 4].copy_from_slice(IGNORED_NAME);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DpopNameRewriter<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let at_line_start = self.at_line_start;
            let new = &mut buf.filled_mut()[before..];
            if let Some(&last) = new.last() {
                rename_other_spellings(new, at_line_start);
                self.at_line_start = last == b'\n';
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for DpopNameRewriter<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renamed(text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        rename_other_spellings(&mut bytes, true);
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn only_other_spellings_at_line_starts_are_renamed() {
        assert_eq!(
            renamed("POST / HTTP/1.1\r\nDpop: a\r\nDPOP: b\r\ndpop: c\r\nDPoP: d\r\n\r\n"),
            "POST / HTTP/1.1\r\nx-dp: a\r\nx-dp: b\r\ndpop: c\r\nDPoP: d\r\n\r\n"
        );
        assert_eq!(renamed("Dpop: first line"), "x-dp: first line");
        assert_eq!(
            renamed("x: Dpop: value\r\nDpopx: y"),
            "x: Dpop: value\r\nDpopx: y"
        );
    }
}
