//! What a server sent before an SSH handshake failed: a server that is not
//! SSH at all (a web server on the port given, say) is told apart from an
//! SSH server that refused us, so the error can name the likely cause.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of what the server sends first is kept.
const KEPT: usize = 512;

/// A stream that keeps the first bytes the server sent.
pub(crate) struct Recording<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S> Recording<S> {
    pub(crate) fn new(inner: S) -> (Recording<S>, Arc<Mutex<Vec<u8>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        (
            Recording {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let mut seen = self.seen.lock().expect("seen");
            let room = KEPT.saturating_sub(seen.len());
            let new = &buf.filled()[before..];
            seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// When what the server sent shows it is no SSH server, what it sent, in
/// words for an error message (empty when it sent nothing); `None` when it
/// sent an SSH identification line (the failure is then SSH's own).
pub(crate) fn not_ssh(seen: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(seen);
    // RFC 4253 allows other lines before the identification.
    if text.lines().any(|l| l.starts_with("SSH-"))
        || (seen.len() < 4 && b"SSH-".starts_with(seen) && !seen.is_empty())
    {
        return None;
    }
    let first: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    Some(if seen.is_empty() {
        String::new()
    } else {
        format!(" (it sent \"{}\")", first.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::not_ssh;

    #[test]
    fn ssh_servers_are_told_from_others() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (b"SSH-2.0-OpenSSH_9.6\r\n", None),
            (b"a greeting first\r\nSSH-2.0-russh\r\n", None),
            (b"SS", None),
            (b"", Some("")),
            (
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
                Some(" (it sent \"HTTP/1.1 400 Bad Request\")"),
            ),
            (
                b"0\x84\x00\x00\x00\x10\x02\x01",
                Some(" (it sent \"0\u{fffd}\")"),
            ),
        ];
        for (seen, want) in cases {
            assert_eq!(not_ssh(seen).as_deref(), want, "{seen:?}");
        }
    }
}
