//! What bounds one client's hold on the server: connection slots per peer address beside the
//! global cap, and a socket that fails a write stalled past its deadline (a client that stops
//! reading must not keep its connection, and the response it pinned, forever).
//!
//! Hand-written: `tokio-io-timeout` would do the write deadline but is not in the tree and needs
//! `pin-project`; with a `TcpStream` (which is `Unpin`) the wrapper is a few lines without
//! unsafe code. Nothing in the tree counts connections per key.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Live connections per peer address. An entry exists only while that peer has a connection,
/// so the map is bounded by the global cap.
pub struct PeerSlots {
    per_peer: usize,
    live: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// The address a peer is counted under. One IPv6 host is routinely given a whole /64 and can
/// pick any source address in it, so an IPv6 peer is its /64; an IPv4 client reaching a
/// dual-stack listener (`::ffff:a.b.c.d`) is its IPv4 address, not the one mapped /64 that all
/// IPv4 clients would otherwise share.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

/// One connection's hold on its peer's count, given back when dropped.
pub struct PeerSlot {
    peer: IpAddr,
    live: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PeerSlots {
    pub fn new(per_peer: usize) -> Self {
        Self {
            per_peer,
            live: Arc::default(),
        }
    }

    /// A slot for `peer`, or `None` when it already holds `per_peer` connections.
    pub fn try_acquire(&self, peer: IpAddr) -> Option<PeerSlot> {
        let peer = peer_key(peer);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let n = live.entry(peer).or_insert(0);
        if *n >= self.per_peer {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peer,
            live: self.live.clone(),
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = live.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.peer);
            }
        }
    }
}

/// A stream whose writes (and flushes) fail with `TimedOut` once they have made no progress
/// for `stall`. Reads are bounded elsewhere (hyper's header timeout, the body timeout).
pub struct WriteDeadline<S> {
    inner: S,
    stall: Duration,
    /// Armed when a write first returns `Pending`, disarmed by any progress.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, stall: Duration) -> Self {
        Self {
            inner,
            stall,
            timer: None,
        }
    }

    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let stall = self.stall;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + stall)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }

    fn progressed<T>(
        &mut self,
        r: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => self.pending(cx),
            done => {
                self.timer = None;
                done
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progressed(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progressed(r, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn a_peer_gets_at_most_its_share_and_gets_it_back() {
        let slots = PeerSlots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = slots.try_acquire(a).expect("first");
        let _second = slots.try_acquire(a).expect("second");
        assert!(slots.try_acquire(a).is_none(), "a third from the same peer");
        assert!(
            slots.try_acquire(b).is_some(),
            "another peer is not affected"
        );
        drop(first);
        assert!(
            slots.try_acquire(a).is_some(),
            "a closed connection frees its slot"
        );
    }

    /// A slot for the peer spelled `addr`.
    fn slot(slots: &PeerSlots, addr: &str) -> Option<PeerSlot> {
        slots.try_acquire(addr.parse().unwrap())
    }

    #[test]
    fn addresses_of_one_ipv6_subnet_are_one_peer() {
        let slots = PeerSlots::new(2);
        let _one = slot(&slots, "2001:db8:1:2::1").expect("first");
        let _two = slot(&slots, "2001:db8:1:2:ffff:ffff:ffff:ffff").expect("second");
        let third = slot(&slots, "2001:db8:1:2:dead:beef::7");
        assert!(third.is_none(), "a third address of the same /64");
        let next = slot(&slots, "2001:db8:1:3::1");
        assert!(next.is_some(), "the next /64 is another peer");
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_counted_by_their_ipv4_address() {
        let slots = PeerSlots::new(1);
        let _mapped = slot(&slots, "::ffff:192.0.2.1").expect("first");
        let plain = slot(&slots, "192.0.2.1");
        assert!(
            plain.is_none(),
            "the mapped and the plain spelling are one peer"
        );
        let other = slot(&slots, "::ffff:192.0.2.2");
        assert!(other.is_some(), "another IPv4 client is not affected");
    }

    #[test]
    fn peers_without_connections_leave_no_entry() {
        let slots = PeerSlots::new(1);
        for i in 0..1000u32 {
            drop(slots.try_acquire(IpAddr::from(i.to_be_bytes())));
        }
        assert!(slots.live.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_stall() {
        // A duplex pipe with a tiny buffer and nobody reading the other end.
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(ours, Duration::from_millis(100));
        let started = std::time::Instant::now();
        let err = w.write_all(&[0u8; 4096]).await.expect_err("stalls");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_slow_but_steady_reader_is_not_cut_off() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(ours, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 1024 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                got += tokio::io::AsyncReadExt::read(&mut theirs, &mut buf)
                    .await
                    .unwrap();
            }
        });
        // 16 pipe-fulls at 20 ms each: 320 ms in all, more than the stall, never stalled that long.
        w.write_all(&[0u8; 1024]).await.expect("steady progress");
        reader.await.unwrap();
    }
}
