//! A listener whose connections a handler can sever, so a fault can drop the connection
//! instead of answering (the client then sees a transport error, not an HTTP status).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

pub struct SeverableListener(pub TcpListener);

pub struct SeverableStream {
    inner: TcpStream,
    severed: Arc<AtomicBool>,
}

/// Per-connection handle given to handlers through `ConnectInfo`.
#[derive(Clone, Debug)]
pub struct Connection {
    severed: Arc<AtomicBool>,
}

impl Connection {
    /// Makes every later read see end-of-stream and every write fail, so the server closes the
    /// connection without sending a byte of the pending response.
    pub fn sever(&self) {
        self.severed.store(true, Ordering::SeqCst);
    }
}

impl Listener for SeverableListener {
    type Io = SeverableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    // Small request/response exchanges: Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    let stream = SeverableStream {
                        inner: stream,
                        severed: Arc::new(AtomicBool::new(false)),
                    };
                    return (stream, addr);
                }
                Err(error) => {
                    // Usually descriptor exhaustion; back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, SeverableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, SeverableListener>) -> Self {
        Connection {
            severed: stream.io().severed.clone(),
        }
    }
}

impl SeverableStream {
    fn is_severed(&self) -> bool {
        self.severed.load(Ordering::SeqCst)
    }
}

impl AsyncRead for SeverableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_severed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SeverableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_severed() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_severed() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
