//! Fault injection, seeded and reproducible: 429 with `Retry-After`, 500, 503, latency, a
//! connection closed without a response, and lost answers (the request is served and its
//! write committed, then the connection is closed before the answer is sent). Faults apply to Flow Service requests only (not to
//! IMS or `/_emulator`).

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Added latency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Latency {
    /// None.
    #[default]
    None,
    /// The same delay on every request.
    Fixed(Duration),
    /// A delay drawn uniformly from `min..=max` (from the seeded generator).
    Random {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
}

/// Which faults to inject. Probabilities are in `0.0..=1.0`; one draw per request decides
/// between 429, 503, 500 and success, so the same seed and request order give the same faults.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    /// Seed of the generator.
    pub seed: u64,
    /// Probability of 429 Too Many Requests.
    pub p429: f64,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after_secs: u64,
    /// Probability of 500.
    pub p500: f64,
    /// Probability of 503.
    pub p503: f64,
    /// Probability of a lost answer: the request is served (a write is committed), then the
    /// connection is closed instead of answering.
    pub p_lost: f64,
    /// Latency added before answering.
    pub latency: Latency,
    /// Serve this many Flow Service requests, then close the connection of the next one
    /// without a response (once).
    pub close_after: Option<u64>,
    /// Once the Nth Flow Service request is answered, rename a flow out of band (once).
    pub edit_after: Option<u64>,
    /// Probability, per Flow Service request, of an out-of-band rename once it is answered.
    pub p_edit: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            p429: 0.0,
            retry_after_secs: 1,
            p500: 0.0,
            p503: 0.0,
            p_lost: 0.0,
            latency: Latency::None,
            close_after: None,
            edit_after: None,
            p_edit: 0.0,
        }
    }
}

/// The fate of one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Decision {
    pub delay: Duration,
    pub outcome: Outcome,
    pub retry_after: u64,
    /// Rename a flow out of band once the request is answered: a draw that picks which one.
    pub edit: Option<u64>,
}

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Serve,
    Status(u16),
    Close,
    /// Serve, then close the connection instead of answering.
    ServeThenClose,
}

/// The live fault state.
#[derive(Debug)]
pub(crate) struct Faults {
    inner: Mutex<(FaultConfig, SmallRng, u64)>,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Faults {
        let rng = SmallRng::seed_from_u64(config.seed);
        Faults {
            inner: Mutex::new((config, rng, 0)),
        }
    }

    /// Replaces the configuration and reseeds; the request counter restarts.
    pub(crate) fn set(&self, config: FaultConfig) {
        *self.inner.lock().expect("lock") =
            (config.clone(), SmallRng::seed_from_u64(config.seed), 0);
    }

    pub(crate) fn config(&self) -> FaultConfig {
        self.inner.lock().expect("lock").0.clone()
    }

    /// Decides the fate of the next request.
    pub(crate) fn decide(&self) -> Decision {
        let mut g = self.inner.lock().expect("lock");
        let (cfg, rng, n) = &mut *g;
        *n += 1;
        let delay = match cfg.latency {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Random { min, max } if max > min => {
                min + Duration::from_micros(rng.random_range(0..=(max - min).as_micros() as u64))
            }
            Latency::Random { min, .. } => min,
        };
        let outcome = if cfg.close_after.is_some_and(|after| *n == after + 1) {
            Outcome::Close
        } else {
            let r: f64 = rng.random();
            if r < cfg.p429 {
                Outcome::Status(429)
            } else if r < cfg.p429 + cfg.p503 {
                Outcome::Status(503)
            } else if r < cfg.p429 + cfg.p503 + cfg.p500 {
                Outcome::Status(500)
            } else if r < cfg.p429 + cfg.p503 + cfg.p500 + cfg.p_lost {
                Outcome::ServeThenClose
            } else {
                Outcome::Serve
            }
        };
        let mut edit = cfg.edit_after == Some(*n);
        if cfg.p_edit > 0.0 {
            edit |= rng.random::<f64>() < cfg.p_edit;
        }
        Decision {
            delay,
            outcome,
            retry_after: cfg.retry_after_secs,
            edit: edit.then(|| rng.random()),
        }
    }
}

/// A handle on one accepted connection, given to handlers as `ConnectInfo`, that can make the
/// connection fail: the response is then never written and the socket is closed.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnHandle {
    killed: Arc<AtomicBool>,
}

impl ConnHandle {
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

/// A TCP stream whose writes fail once its [`ConnHandle`] is killed.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

fn killed_err() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "fault injection: connection closed",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A listener producing [`KillableStream`]s; its address type is the [`ConnHandle`].
pub(crate) struct KillableListener(pub TcpListener);

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handle = ConnHandle::default();
                    return (
                        KillableStream {
                            inner: stream,
                            killed: handle.killed.clone(),
                        },
                        handle,
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr().map(|_| ConnHandle::default())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, KillableListener>>
    for ConnHandle
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_reproducible() {
        let cfg = FaultConfig {
            seed: 7,
            p429: 0.3,
            p500: 0.2,
            p503: 0.1,
            close_after: Some(3),
            ..FaultConfig::default()
        };
        let run = || {
            let f = Faults::new(cfg.clone());
            (0..50).map(|_| f.decide().outcome).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert_eq!(a[3], Outcome::Close);
        assert_eq!(a.iter().filter(|o| **o == Outcome::Close).count(), 1);
        assert!(a.contains(&Outcome::Status(429)) && a.contains(&Outcome::Serve));
    }

    #[test]
    fn lost_answers_are_drawn_after_the_statuses() {
        let f = Faults::new(FaultConfig {
            seed: 3,
            p500: 0.2,
            p_lost: 0.3,
            ..FaultConfig::default()
        });
        let outcomes: Vec<Outcome> = (0..200).map(|_| f.decide().outcome).collect();
        let lost = outcomes
            .iter()
            .filter(|o| **o == Outcome::ServeThenClose)
            .count();
        assert!((30..=90).contains(&lost), "{lost} lost answers in 200");
        assert!(outcomes.contains(&Outcome::Status(500)));
        // Without `p_lost`, the same seed gives the same statuses as before.
        let g = Faults::new(FaultConfig {
            seed: 3,
            p500: 0.2,
            ..FaultConfig::default()
        });
        for o in outcomes {
            let d = g.decide().outcome;
            match o {
                Outcome::ServeThenClose => assert_eq!(d, Outcome::Serve),
                o => assert_eq!(d, o),
            }
        }
    }

    #[test]
    fn edits_after_n_or_by_seeded_probability() {
        let after = Faults::new(FaultConfig {
            edit_after: Some(3),
            ..FaultConfig::default()
        });
        let edits: Vec<bool> = (0..6).map(|_| after.decide().edit.is_some()).collect();
        assert_eq!(edits, [false, false, true, false, false, false]);
        let cfg = FaultConfig {
            seed: 11,
            p_edit: 0.4,
            ..FaultConfig::default()
        };
        let run = || {
            let f = Faults::new(cfg.clone());
            (0..40).map(|_| f.decide().edit).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run(), "same seed, same edits and picks");
        assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
    }
}
