//! The apply lock: one `apply` at a time per sandbox, built only on documented Flow Service
//! calls (the service has no lock of its own).
//!
//! The lock is a **lease object**: a Profile store base connection (that spec takes no
//! credentials) named [`LEASE_NAME`] whose `description` is a [`Lease`] marker,
//! `[destctl-lock holder=<uuid> host=<host> pid=<pid> since=<RFC3339> expires=<RFC3339>]`.
//! It has no `[destctl:NAME]` marker, so plan and drift never see it as a managed object.
//!
//! Taking it ([`acquire`]) loops over one list of the Profile store base connections:
//! - no lease object: create one holding it (`POST`), then list again. A lease object this
//!   run created (the service answered with its id) and that the lists do not show is looked
//!   for again, a short pause between lists, but not created again; after
//!   [`MAX_UNSEEN_LISTS`] such lists the service is at fault (it stores creates that it never
//!   lists back, so no run can see another's lease) and the lock fails at once
//!   ([`LockError::NotListed`]), deleting what it created;
//! - several lease objects: the **winner** is the oldest by `createdAt`, then by id
//!   ([`winner`]); only the winner confers the lock. Every run deletes its own losing objects
//!   and expired losing ones, then goes on with the winner;
//! - the winner is ours and unexpired: the lock is held (this list came after our create or
//!   takeover, so any lease object made before it is seen and ordered the same way by all);
//! - the winner is expired (a crashed holder): take it over with `PATCH` and `If-Match` (a
//!   compare-and-swap: of two takers one gets 412), then list again;
//! - else it is held: wait and poll until `timeout`, then fail naming the holder.
//!
//! While held, a task renews the lease (`PATCH` with `If-Match`) every quarter of its time to
//! live; if a renewal finds the lease taken or gone, the lock is lost and the apply's cancel
//! token stops new requests. [`LockGuard::release`] stops renewing and deletes the lease while
//! it is still unexpired (so nobody can have taken it over).

use crate::catalog::{PROFILE_STORE_SPEC_ID, SPEC_VERSION};
use crate::client::{Client, ClientError};
use crate::fetch::profile_store_filter;
use crate::wire::{EntityId, Etag, PatchOp, PatchOpKind, Resource};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The `name` of every lease object.
pub const LEASE_NAME: &str = "destctl apply lock";

/// How long a lease lasts without renewal.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// How often a waiting run looks at the lease again.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

const PREFIX: &str = "[destctl-lock ";

/// A lease marker: who holds the lock and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// A random id of the holding run.
    pub holder: String,
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// When the holder took the lock.
    pub since: DateTime<Utc>,
    /// When the lease ends unless renewed.
    pub expires: DateTime<Utc>,
}

impl Lease {
    /// A lease for this process, from `now` for `ttl`.
    pub fn for_this_process(now: DateTime<Utc>, ttl: Duration) -> Lease {
        let now = to_ms(now);
        Lease {
            holder: uuid::Uuid::new_v4().to_string(),
            host: host_name(),
            pid: std::process::id(),
            since: now,
            expires: now + ttl_delta(ttl),
        }
    }

    /// Parses a lease marker (the whole description, surrounding blanks allowed).
    pub fn parse(description: &str) -> Option<Lease> {
        let inner = description.trim().strip_prefix(PREFIX)?.strip_suffix(']')?;
        let (mut holder, mut host, mut pid, mut since, mut expires) =
            (None, None, None, None, None);
        for part in inner.split(' ') {
            let (k, v) = part.split_once('=')?;
            if v.is_empty() {
                return None;
            }
            match k {
                "holder" => holder = Some(v.to_owned()),
                "host" => host = Some(v.to_owned()),
                "pid" => pid = Some(v.parse().ok()?),
                "since" => since = Some(parse_time(v)?),
                "expires" => expires = Some(parse_time(v)?),
                _ => return None,
            }
        }
        Some(Lease {
            holder: holder?,
            host: host?,
            pid: pid?,
            since: since?,
            expires: expires?,
        })
    }

    /// Whether the lease has ended at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires <= now
    }

    /// The same holder, renewed from `now` for `ttl`.
    pub fn renewed(&self, now: DateTime<Utc>, ttl: Duration) -> Lease {
        Lease {
            expires: to_ms(now) + ttl_delta(ttl),
            ..self.clone()
        }
    }

    /// The same holder, taking the lock anew at `now` for `ttl`.
    fn taken(&self, now: DateTime<Utc>, ttl: Duration) -> Lease {
        Lease {
            since: to_ms(now),
            ..self.renewed(now, ttl)
        }
    }

    /// Who holds it, for people: `run <holder> on <host> (pid <pid>) since <since>`.
    pub fn who(&self) -> String {
        format!(
            "run {} on {} (pid {}) since {}",
            self.holder,
            self.host,
            self.pid,
            rfc3339(self.since)
        )
    }
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}holder={} host={} pid={} since={} expires={}]",
            self.holder,
            self.host,
            self.pid,
            rfc3339(self.since),
            rfc3339(self.expires)
        )
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `ttl` as a time delta, whole milliseconds (what the marker carries).
fn ttl_delta(ttl: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(ttl)
        .map(|d| chrono::TimeDelta::milliseconds(d.num_milliseconds()))
        .unwrap_or(chrono::TimeDelta::MAX)
}

/// `t` to whole milliseconds (what the marker carries).
fn to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The host name, reduced to characters a marker can carry.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

/// A lease object as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseObject {
    /// Its id.
    pub id: EntityId,
    /// Its etag.
    pub etag: Etag,
    /// `createdAt` in ms (0 when absent).
    pub created_at: i64,
    /// Its marker.
    pub lease: Lease,
}

impl LeaseObject {
    /// Reads a listed connection; `None` unless it is a lease object.
    pub fn from_value(v: &Value) -> Option<LeaseObject> {
        let lease = Lease::parse(v.get("description")?.as_str()?)?;
        Some(LeaseObject {
            id: EntityId(v.get("id")?.as_str()?.to_owned()),
            etag: Etag(v.get("etag")?.as_str()?.to_owned()),
            created_at: v.get("createdAt").and_then(Value::as_i64).unwrap_or(0),
            lease,
        })
    }
}

/// The lease object that confers the lock: the oldest by `createdAt`, then by id.
pub fn winner(objects: &[LeaseObject]) -> Option<&LeaseObject> {
    objects.iter().min_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    })
}

/// How to take the lock.
#[derive(Clone, Debug)]
pub struct LockOptions {
    /// How long to wait for another holder; zero fails at once.
    pub timeout: Duration,
    /// How long a lease lasts without renewal.
    pub ttl: Duration,
    /// How often to look again while waiting.
    pub poll: Duration,
}

impl LockOptions {
    /// Waits up to `timeout`, with the default lease time and poll interval.
    pub fn new(timeout: Duration) -> LockOptions {
        LockOptions {
            timeout,
            ttl: DEFAULT_TTL,
            poll: DEFAULT_POLL,
        }
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run held it for longer than `--lock-timeout`.
    #[error(
        "the apply lock is held by {}, until {} unless renewed; gave up after {}s (--lock-timeout); nothing was sent",
        .holder.who(), rfc3339(.holder.expires), .waited.as_secs()
    )]
    Held {
        /// The holder.
        holder: Lease,
        /// How long this run waited.
        waited: Duration,
    },
    /// Ctrl-C while waiting.
    #[error("interrupted while waiting for the apply lock; nothing was sent")]
    Interrupted,
    /// A Flow Service request about the lease failed.
    #[error("cannot take the apply lock; nothing was sent")]
    Client(#[source] ClientError),
    /// The service answered this run's lease create with an id, but its lists never showed
    /// that lease object: a lock cannot be built on such a service.
    #[error(
        "cannot take the apply lock: the Flow Service accepted lease object {id} but did not list it back in {lists} lists of connections (a service fault: no run could see another's lock); nothing else was sent"
    )]
    NotListed {
        /// The id the create was answered with.
        id: String,
        /// How many lists did not show it.
        lists: u32,
    },
    /// Deleting the lease at the end failed (it expires by itself).
    #[error("cannot release the apply lock")]
    Release(#[source] ClientError),
}

/// What a waiting run reports.
pub trait LockObserver: Send + Sync {
    /// The lock is held by `holder`; called once per holder seen.
    fn waiting(&self, _holder: &Lease) {}
}

impl LockObserver for () {}

/// Lists the lease objects of the client's sandbox.
pub async fn list_leases(client: &Client) -> Result<Vec<LeaseObject>, ClientError> {
    let items = client
        .list("/connections", &[("property", profile_store_filter())])
        .await?;
    Ok(items.iter().filter_map(LeaseObject::from_value).collect())
}

fn description_patch(lease: &Lease) -> [PatchOp; 1] {
    [PatchOp {
        op: PatchOpKind::Replace,
        path: "/description".into(),
        value: Some(json!(lease.to_string())),
    }]
}

/// Writes `lease` on `object` if its etag is still `etag`. `Ok(None)`: someone else changed or
/// deleted it first. A 412 after a lost answer is told apart by reading the object again.
async fn compare_and_swap(
    client: &Client,
    id: &EntityId,
    etag: &Etag,
    lease: &Lease,
) -> Result<Option<Etag>, ClientError> {
    match client
        .patch(Resource::Connection, id, etag, &description_patch(lease))
        .await
    {
        Ok(w) => Ok(Some(w.etag)),
        Err(ClientError::PreconditionFailed(_)) => {
            match client.get(Resource::Connection, id).await {
                Ok(v) => Ok(LeaseObject::from_value(&v)
                    .filter(|o| o.lease == *lease)
                    .map(|o| o.etag)),
                Err(ClientError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        }
        Err(ClientError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How many lease creates may fail transiently in one [`acquire`].
const MAX_CREATE_FAILURES: u32 = 3;

/// How many lists in a row may miss a lease object this run created before [`acquire`]
/// gives up on the service ([`LockError::NotListed`]).
pub const MAX_UNSEEN_LISTS: u32 = 4;

/// The pause before listing again for a created lease object the last list missed (at most
/// the poll interval).
const UNSEEN_PAUSE: Duration = Duration::from_millis(250);

/// A failure after which the request may be sent again: no answer, 429 or 5xx.
fn transient(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. } => true,
        ClientError::Api(a) => a.status == 429 || a.status >= 500,
        _ => false,
    }
}

async fn delete_quietly(client: &Client, id: &EntityId) -> Result<(), ClientError> {
    match client.delete(Resource::Connection, id).await {
        Ok(()) | Err(ClientError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes the apply lock of the client's sandbox, waiting up to `opts.timeout` for another
/// holder. `cancel` (Ctrl-C) stops the wait; the guard cancels it if the lock is later lost
/// (a renewal found the lease taken over or gone), so the apply sends nothing more.
pub async fn acquire(
    client: &Client,
    opts: &LockOptions,
    cancel: &CancellationToken,
    observer: &dyn LockObserver,
) -> Result<LockGuard, LockError> {
    let started = tokio::time::Instant::now();
    let mut me = Lease::for_this_process(Utc::now(), opts.ttl);
    let mut reported: Option<String> = None;
    let mut create_failures = 0;
    // The lease object this run created and no list has shown yet, and how many lists missed it.
    let mut unseen: Option<(EntityId, u32)> = None;
    loop {
        let objects = list_leases(client).await.map_err(LockError::Client)?;
        let now = Utc::now();
        if let Some((id, _)) = &unseen
            && objects.iter().any(|o| o.id == *id)
        {
            unseen = None;
        }
        let Some(w) = winner(&objects).cloned() else {
            if let Some((id, misses)) = &mut unseen {
                // Created and answered, but not listed: a list that lags is given a moment;
                // a service that never lists it back fails the lock.
                *misses += 1;
                if *misses >= MAX_UNSEEN_LISTS {
                    let (id, lists) = (id.clone(), *misses);
                    if let Err(e) = delete_quietly(client, &id).await {
                        tracing::warn!(id = %id.0, error = %e, "deleting the unlisted lease object failed");
                    }
                    return Err(LockError::NotListed { id: id.0, lists });
                }
                tracing::debug!(id = %id.0, misses = *misses, "the created lease object is not listed yet");
                tokio::select! {
                    () = tokio::time::sleep(UNSEEN_PAUSE.min(opts.poll)) => {}
                    () = cancel.cancelled() => return Err(LockError::Interrupted),
                }
                continue;
            }
            me = me.taken(now, opts.ttl);
            let body = json!({
                "name": LEASE_NAME,
                "description": me.to_string(),
                "connectionSpec": {"id": PROFILE_STORE_SPEC_ID, "version": SPEC_VERSION},
            });
            match client.create(Resource::Connection, &body).await {
                Ok(created) => unseen = Some((created.id, 0)),
                Err(e) => {
                    // The next list tells whether the service stored it (an answer lost after
                    // the write) or not (then it is created again, a few times at most).
                    create_failures += 1;
                    if !transient(&e) || create_failures > MAX_CREATE_FAILURES {
                        return Err(LockError::Client(e));
                    }
                }
            }
            continue;
        };
        for o in &objects {
            if o.id != w.id && (o.lease.holder == me.holder || o.lease.is_expired(now)) {
                delete_quietly(client, &o.id)
                    .await
                    .map_err(LockError::Client)?;
            }
        }
        if w.lease.holder == me.holder && !w.lease.is_expired(now) {
            tracing::debug!(id = %w.id.0, "apply lock taken");
            return Ok(LockGuard::start(
                client.clone(),
                w,
                opts.ttl,
                cancel.clone(),
            ));
        }
        if w.lease.is_expired(now) {
            let taken = me.taken(now, opts.ttl);
            if compare_and_swap(client, &w.id, &w.etag, &taken)
                .await
                .map_err(LockError::Client)?
                .is_some()
            {
                me = taken;
            }
            continue;
        }
        let waited = started.elapsed();
        if waited >= opts.timeout {
            return Err(LockError::Held {
                holder: w.lease,
                waited,
            });
        }
        if reported.as_deref() != Some(w.lease.holder.as_str()) {
            observer.waiting(&w.lease);
            reported = Some(w.lease.holder.clone());
        }
        let pause = opts.poll.min(opts.timeout - waited);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = cancel.cancelled() => return Err(LockError::Interrupted),
        }
    }
}

/// The held lock: renewed in the background until [`LockGuard::release`].
pub struct LockGuard {
    client: Client,
    id: EntityId,
    state: Arc<Mutex<(Etag, Lease)>>,
    lost: CancellationToken,
    stop: CancellationToken,
    renewer: tokio::task::JoinHandle<()>,
}

impl LockGuard {
    fn start(
        client: Client,
        object: LeaseObject,
        ttl: Duration,
        on_lost: CancellationToken,
    ) -> Self {
        let state = Arc::new(Mutex::new((object.etag, object.lease)));
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let renewer = tokio::spawn(renew(
            client.clone(),
            object.id.clone(),
            Arc::clone(&state),
            ttl,
            stop.clone(),
            lost.clone(),
            on_lost,
        ));
        LockGuard {
            client,
            id: object.id,
            state,
            lost,
            stop,
            renewer,
        }
    }

    /// The lease object's id.
    pub fn id(&self) -> &EntityId {
        &self.id
    }

    /// Whether a renewal found the lease taken or gone (the apply was then cancelled).
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Stops renewing and deletes the lease object, unless the lock was lost (then the object
    /// is someone else's and is left alone).
    pub async fn release(self) -> Result<(), LockError> {
        self.stop.cancel();
        // The renewer ends at its next await; a renewal already sent finishes first.
        let _ = self.renewer.await;
        if self.lost.is_cancelled() {
            return Ok(());
        }
        let still_valid = !self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .is_expired(Utc::now());
        if still_valid {
            delete_quietly(&self.client, &self.id)
                .await
                .map_err(LockError::Release)?;
        }
        Ok(())
    }
}

async fn renew(
    client: Client,
    id: EntityId,
    state: Arc<Mutex<(Etag, Lease)>>,
    ttl: Duration,
    stop: CancellationToken,
    lost: CancellationToken,
    on_lost: CancellationToken,
) {
    let every = ttl / 4;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let (etag, lease) = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let next = lease.renewed(Utc::now(), ttl);
        match compare_and_swap(&client, &id, &etag, &next).await {
            Ok(Some(etag)) => {
                *state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = (etag, next);
            }
            Ok(None) => {
                tracing::warn!(id = %id.0, "the apply lock was taken over; stopping");
                lost.cancel();
                on_lost.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(id = %id.0, error = %e, "renewing the apply lock failed; retrying");
                if lease.is_expired(Utc::now()) {
                    lost.cancel();
                    on_lost.cancel();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn lease() -> Lease {
        Lease {
            holder: "0b5c".into(),
            host: "ci-7".into(),
            pid: 42,
            since: t("2026-11-30T07:00:00Z"),
            expires: t("2026-11-30T07:01:00Z"),
        }
    }

    #[test]
    fn marker_round_trip() {
        let l = lease();
        let s = l.to_string();
        assert_eq!(
            s,
            "[destctl-lock holder=0b5c host=ci-7 pid=42 since=2026-11-30T07:00:00.000Z expires=2026-11-30T07:01:00.000Z]"
        );
        assert_eq!(Lease::parse(&s), Some(l.clone()));
        assert_eq!(Lease::parse(&format!("  {s}\n")), Some(l));
        let mine = Lease::for_this_process(Utc::now(), DEFAULT_TTL);
        assert_eq!(Lease::parse(&mine.to_string()), Some(mine));
    }

    #[test]
    fn not_a_lease() {
        let s = lease().to_string();
        for bad in [
            "",
            "made in the UI",
            "[destctl:campaign-s3]",
            &s[..s.len() - 1],
            &s.replace("pid=42", "pid=x"),
            &s.replace("pid=42 ", ""),
            &s.replace("host=ci-7", "host="),
            &s.replace("since=2026-11-30T07:00:00.000Z", "since=yesterday"),
            &s.replace("pid=42", "pid=42 extra=1"),
            &format!("text {s}"),
        ] {
            assert_eq!(Lease::parse(bad), None, "{bad}");
        }
        // A lease is never an ownership marker, so plan and drift never manage it.
        assert_eq!(crate::marker::Marker::parse(&s), None);
    }

    #[test]
    fn expiry_and_renewal() {
        let l = lease();
        assert!(!l.is_expired(t("2026-11-30T07:00:59Z")));
        assert!(l.is_expired(t("2026-11-30T07:01:00Z")));
        let r = l.renewed(t("2026-11-30T07:00:30Z"), Duration::from_secs(60));
        assert_eq!(r.expires, t("2026-11-30T07:01:30Z"));
        assert_eq!((r.since, &r.holder), (l.since, &l.holder));
        let taken = l.taken(t("2026-11-30T08:00:00Z"), Duration::from_secs(10));
        assert_eq!(taken.since, t("2026-11-30T08:00:00Z"));
        assert!(
            LockError::Held {
                holder: l,
                waited: Duration::from_secs(3)
            }
            .to_string()
            .contains("held by run 0b5c on ci-7 (pid 42) since 2026-11-30T07:00:00.000Z")
        );
    }

    fn object(id: &str, created_at: i64) -> LeaseObject {
        LeaseObject {
            id: EntityId(id.into()),
            etag: Etag("\"1\"".into()),
            created_at,
            lease: lease(),
        }
    }

    #[test]
    fn the_oldest_then_the_smallest_id_wins() {
        assert_eq!(winner(&[]), None);
        let objs = [object("b", 5), object("a", 7), object("c", 5)];
        assert_eq!(winner(&objs).unwrap().id.0, "b");
        // The same answer whatever the listing order.
        let mut rev = objs.clone();
        rev.reverse();
        assert_eq!(winner(&rev).unwrap().id.0, "b");
        let objs = [object("z", 1), object("a", 2)];
        assert_eq!(winner(&objs).unwrap().id.0, "z");
    }

    #[test]
    fn lease_objects_are_read_from_listed_connections() {
        let v = json!({"id": "c1", "etag": "\"9\"", "createdAt": 17,
                       "description": lease().to_string()});
        assert_eq!(
            LeaseObject::from_value(&v),
            Some(object("c1", 17)).map(|mut o| {
                o.etag = Etag("\"9\"".into());
                o
            })
        );
        let managed = json!({"id": "c2", "etag": "\"1\"", "description": "[destctl:x]"});
        assert_eq!(LeaseObject::from_value(&managed), None);
    }
}
