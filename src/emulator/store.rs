//! Entities, isolated per org and per sandbox, and the state file (written atomically after
//! every change, loaded at start).

use super::EmulatorError;
use crate::wire::Resource;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Every collection, in a fixed order (the index of [`col_index`]).
pub(crate) const COLLECTIONS: [Resource; 4] = [
    Resource::Connection,
    Resource::SourceConnection,
    Resource::TargetConnection,
    Resource::Flow,
];

fn col_index(r: Resource) -> usize {
    match r {
        Resource::Connection => 0,
        Resource::SourceConnection => 1,
        Resource::TargetConnection => 2,
        Resource::Flow => 3,
    }
}

/// The collection's name in paths, error types and the state file.
pub(crate) fn col_name(r: Resource) -> &'static str {
    &r.collection()[1..]
}

/// One stored entity: the full JSON as GET returns it, pre-serialized for fast listing.
#[derive(Clone, Debug)]
pub(crate) struct Entity {
    /// Global write sequence of its last change.
    pub seq: u64,
    /// Global write sequence of its creation: lists order by it (newest first), and it never
    /// changes, so paging cursors stay valid across updates.
    pub created: u64,
    pub value: Arc<Value>,
    pub json: Arc<str>,
    /// For flows: the ids of its audiences, for the reverse lookup.
    pub audiences: Option<Arc<HashSet<String>>>,
}

impl Entity {
    /// A new entity, created at `seq`.
    pub(crate) fn new(seq: u64, value: Value) -> Entity {
        Entity::with_created(seq, seq, value)
    }

    /// An entity created at `created`, last written at `seq`.
    pub(crate) fn with_created(created: u64, seq: u64, value: Value) -> Entity {
        let json: Arc<str> = serde_json::to_string(&value)
            .expect("a Value serializes")
            .into();
        let audiences = value
            .pointer("/transformations/0/params/segmentSelectors/selectors")
            .and_then(Value::as_array)
            .filter(|_| {
                value
                    .get("transformations")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.len() == 1)
            })
            .map(|sels| {
                Arc::new(
                    sels.iter()
                        .filter_map(|s| s.pointer("/value/id").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect(),
                )
            });
        Entity {
            seq,
            created,
            value: Arc::new(value),
            json,
            audiences,
        }
    }
}

/// One sandbox of one org.
#[derive(Clone, Debug)]
pub(crate) struct Sandbox {
    pub id: String,
    pub org: String,
    pub name: String,
    cols: [HashMap<String, Entity>; 4],
    /// Data Prep schemas by id (`dataprep.rs`).
    pub(crate) schemas: BTreeMap<String, Value>,
    /// Data Prep mapping sets by id: every version, oldest first (`dataprep.rs`).
    pub(crate) mapping_sets: BTreeMap<String, Vec<Value>>,
}

impl Sandbox {
    fn new(org: &str, name: &str, id: String) -> Sandbox {
        Sandbox {
            id,
            org: org.to_owned(),
            name: name.to_owned(),
            cols: Default::default(),
            schemas: BTreeMap::new(),
            mapping_sets: BTreeMap::new(),
        }
    }

    /// An empty sandbox for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Sandbox {
        Sandbox::new("org", "prod", "sandbox".into())
    }

    pub(crate) fn col(&self, r: Resource) -> &HashMap<String, Entity> {
        &self.cols[col_index(r)]
    }

    pub(crate) fn col_mut(&mut self, r: Resource) -> &mut HashMap<String, Entity> {
        &mut self.cols[col_index(r)]
    }

    pub(crate) fn get(&self, r: Resource, id: &str) -> Option<&Entity> {
        self.col(r).get(id)
    }

    /// Stores `value` as entity `id` written at `seq`, keeping its creation sequence when it
    /// already exists.
    pub(crate) fn put(&mut self, r: Resource, id: &str, seq: u64, value: Value) {
        let created = self.get(r, id).map_or(seq, |e| e.created);
        self.col_mut(r)
            .insert(id.to_owned(), Entity::with_created(created, seq, value));
    }

    /// Entities of a collection, most recently created first.
    pub(crate) fn newest_first(&self, r: Resource) -> Vec<Entity> {
        let mut v: Vec<Entity> = self.col(r).values().cloned().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.created));
        v
    }

    fn is_empty(&self) -> bool {
        self.cols.iter().all(HashMap::is_empty)
            && self.schemas.is_empty()
            && self.mapping_sets.is_empty()
    }
}

type SandboxKey = (String, String);

/// All sandboxes of all orgs.
#[derive(Debug, Default)]
pub(crate) struct Store {
    sandboxes: RwLock<HashMap<SandboxKey, Arc<RwLock<Sandbox>>>>,
    seq: AtomicU64,
}

impl Store {
    /// The last write sequence number given out.
    pub(crate) fn current_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// The next write sequence number.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The sandbox, created on first use.
    pub(crate) fn sandbox(&self, org: &str, name: &str) -> Arc<RwLock<Sandbox>> {
        let key = (org.to_owned(), name.to_owned());
        if let Some(s) = self.sandboxes.read().expect("lock").get(&key) {
            return s.clone();
        }
        self.sandboxes
            .write()
            .expect("lock")
            .entry(key)
            .or_insert_with(|| {
                Arc::new(RwLock::new(Sandbox::new(
                    org,
                    name,
                    uuid::Uuid::new_v4().to_string(),
                )))
            })
            .clone()
    }

    /// The sandbox if it exists (reads never create one).
    pub(crate) fn existing(&self, org: &str, name: &str) -> Option<Arc<RwLock<Sandbox>>> {
        self.sandboxes
            .read()
            .expect("lock")
            .get(&(org.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every sandbox, in no particular order.
    pub(crate) fn all_sandboxes(&self) -> Vec<Arc<RwLock<Sandbox>>> {
        self.sandboxes
            .read()
            .expect("lock")
            .values()
            .cloned()
            .collect()
    }

    /// Every flow as `(org, sandbox, id, name)`, by org, sandbox and creation: an order that
    /// depends only on the order of writes.
    pub(crate) fn all_flows(&self) -> Vec<(String, String, String, String)> {
        let sandboxes: Vec<Arc<RwLock<Sandbox>>> = self
            .sandboxes
            .read()
            .expect("lock")
            .values()
            .cloned()
            .collect();
        let mut flows = Vec::new();
        for sb in sandboxes {
            let sb = sb.read().expect("lock");
            for e in sb.col(Resource::Flow).values() {
                flows.push((
                    (sb.org.clone(), sb.name.clone(), e.created),
                    e.value["id"].as_str().unwrap_or_default().to_owned(),
                    e.value["name"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        flows.sort_by(|a, b| a.0.cmp(&b.0));
        flows
            .into_iter()
            .map(|((org, sandbox, _), id, name)| (org, sandbox, id, name))
            .collect()
    }

    /// Drops every entity of every org.
    pub(crate) fn clear(&self) {
        self.sandboxes.write().expect("lock").clear();
    }

    /// The whole store as the state file's JSON text.
    pub(crate) fn snapshot(&self) -> String {
        self.snapshot_with(None)
    }

    /// The state file's text as it will be once `draft` replaces the sandbox of the same org
    /// and name (which must not be write-locked by the caller).
    pub(crate) fn snapshot_with(&self, draft: Option<&Sandbox>) -> String {
        let draft_key = draft.map(|d| (d.org.clone(), d.name.clone()));
        let sandboxes: Vec<Arc<RwLock<Sandbox>>> = {
            let map = self.sandboxes.read().expect("lock");
            let mut keys: Vec<&SandboxKey> = map
                .keys()
                .filter(|k| Some(*k) != draft_key.as_ref())
                .collect();
            keys.sort();
            keys.into_iter().map(|k| map[k].clone()).collect()
        };
        let mut guards: Vec<(SandboxKey, std::sync::RwLockReadGuard<'_, Sandbox>)> = sandboxes
            .iter()
            .map(|sb| {
                let g = sb.read().expect("lock");
                ((g.org.clone(), g.name.clone()), g)
            })
            .collect();
        let mut views: Vec<(SandboxKey, &Sandbox)> =
            guards.iter_mut().map(|(k, g)| (k.clone(), &**g)).collect();
        if let (Some(k), Some(d)) = (draft_key, draft) {
            views.push((k, d));
        }
        views.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::with_capacity(1024);
        out.push_str(&format!(
            "{{\"formatVersion\":1,\"seq\":{},\"sandboxes\":[",
            self.seq.load(Ordering::SeqCst)
        ));
        let mut first_sb = true;
        for (_, sb) in views {
            if sb.is_empty() {
                continue;
            }
            if !first_sb {
                out.push(',');
            }
            first_sb = false;
            out.push_str(&format!(
                "{{\"imsOrgId\":{},\"sandboxName\":{},\"sandboxId\":{}",
                Value::from(sb.org.as_str()),
                Value::from(sb.name.as_str()),
                Value::from(sb.id.as_str())
            ));
            for r in COLLECTIONS {
                out.push_str(&format!(",\"{}\":[", col_name(r)));
                let mut entities: Vec<&Entity> = sb.col(r).values().collect();
                entities.sort_by_key(|e| e.seq);
                for (i, e) in entities.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!(
                        "{{\"seq\":{},\"created\":{},\"entity\":",
                        e.seq, e.created
                    ));
                    out.push_str(&e.json);
                    out.push('}');
                }
                out.push(']');
            }
            if !sb.schemas.is_empty() || !sb.mapping_sets.is_empty() {
                out.push_str(&format!(
                    ",\"dataPrep\":{}",
                    serde_json::json!({"schemas": sb.schemas, "mappingSets": sb.mapping_sets})
                ));
            }
            out.push('}');
        }
        out.push_str("]}\n");
        out
    }

    /// Loads a state file's text.
    pub(crate) fn load(text: &str) -> Result<Store, CorruptState> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(rename = "formatVersion")]
            format_version: u32,
            seq: u64,
            sandboxes: Vec<FileSandbox>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct FileSandbox {
            ims_org_id: String,
            sandbox_name: String,
            sandbox_id: String,
            connections: Vec<FileEntity>,
            source_connections: Vec<FileEntity>,
            target_connections: Vec<FileEntity>,
            flows: Vec<FileEntity>,
            #[serde(default)]
            data_prep: Option<FileDataPrep>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct FileDataPrep {
            schemas: BTreeMap<String, Value>,
            mapping_sets: BTreeMap<String, Vec<Value>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileEntity {
            seq: u64,
            #[serde(default)]
            created: Option<u64>,
            entity: Value,
        }
        let file: File = serde_json::from_str(text).map_err(CorruptState::Json)?;
        if file.format_version != 1 {
            return Err(CorruptState::FormatVersion(file.format_version));
        }
        let store = Store::default();
        let mut max_seq = file.seq;
        for fs in file.sandboxes {
            let mut sb = Sandbox::new(&fs.ims_org_id, &fs.sandbox_name, fs.sandbox_id);
            if let Some(dp) = fs.data_prep {
                sb.schemas = dp.schemas;
                sb.mapping_sets = dp.mapping_sets;
            }
            let lists = [
                fs.connections,
                fs.source_connections,
                fs.target_connections,
                fs.flows,
            ];
            for (r, list) in COLLECTIONS.into_iter().zip(lists) {
                for fe in list {
                    let id = fe
                        .entity
                        .get("id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| CorruptState::NoId {
                            collection: col_name(r),
                            sandbox: sb.name.clone(),
                        })?
                        .to_owned();
                    max_seq = max_seq.max(fe.seq);
                    let created = fe.created.unwrap_or(fe.seq);
                    sb.col_mut(r)
                        .insert(id, Entity::with_created(created, fe.seq, fe.entity));
                }
            }
            store
                .sandboxes
                .write()
                .expect("lock")
                .insert((sb.org.clone(), sb.name.clone()), Arc::new(RwLock::new(sb)));
        }
        store.seq.store(max_seq, Ordering::SeqCst);
        Ok(store)
    }
}

/// Writes `text` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the
/// directory.
pub(crate) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The lock file of a state file: `emulator.json` → `emulator.lock`, beside it.
pub(crate) fn lock_path(state: &Path) -> PathBuf {
    let p = state.with_extension("lock");
    if p == state {
        PathBuf::from(format!("{}.lock", state.display()))
    } else {
        p
    }
}

/// The held lock of a state file: the open, exclusively locked lock file. Dropping it (a
/// clean exit) removes the lock file, then releases the lock; a process that dies leaves the
/// file behind, and the OS releases its lock.
#[derive(Debug)]
pub(crate) struct StateLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Removed while still locked: a process that opened the old file meanwhile sees, once
        // it holds the lock, that the path no longer leads to it, and takes the new one.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `file` is still the file at `path` (not removed or replaced since it was opened).
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// Takes the exclusive lock of the state file (creating its directory and lock file), so two
/// emulators never share one state file. The OS releases it when the file is closed, also
/// when the process dies; a clean exit also removes the lock file (see [`StateLock`]).
pub(crate) fn lock_state(state: &Path) -> Result<StateLock, EmulatorError> {
    let lock = lock_path(state);
    let err = |message: String| EmulatorError::StateFile {
        path: state.to_path_buf(),
        message,
    };
    if let Some(dir) = state.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    // A few rounds at most: each one that fails found the file removed by a clean exit.
    for _ in 0..16 {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|e| err(format!("cannot open lock file {}: {e}", lock.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(EmulatorError::StateLocked {
                    path: state.to_path_buf(),
                    lock,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(err(format!("cannot lock {}: {e}", lock.display())));
            }
        }
        if !same_file(&file, &lock) {
            continue;
        }
        let _ = file.set_len(0);
        let _ = (&file).write_all(format!("{}\n", std::process::id()).as_bytes());
        return Ok(StateLock {
            path: lock,
            _file: file,
        });
    }
    Err(err(format!(
        "cannot lock {}: it keeps being removed",
        lock.display()
    )))
}

/// Why a state file's text is not a store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CorruptState {
    /// Not JSON, or not the state file's shape; the parser's message is the whole message, as
    /// it ends in the state file error's text rather than in a source chain.
    #[error("{0}")]
    Json(serde_json::Error),
    /// A `formatVersion` this emulator does not write.
    #[error("unsupported formatVersion {0} (this emulator writes 1)")]
    FormatVersion(u32),
    /// An entity without an `id`.
    #[error("a {collection} entity in sandbox {sandbox} has no id")]
    NoId {
        /// The collection's name (`flows`, …).
        collection: &'static str,
        /// The sandbox name.
        sandbox: String,
    },
}

/// Opens the state file: loads it if it exists (a clear error if it cannot be read or parsed),
/// otherwise creates it (and its directory) empty.
pub(crate) fn open_state(path: &Path) -> Result<Store, EmulatorError> {
    let err = |message: String| EmulatorError::StateFile {
        path: path.to_path_buf(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Store::load(&text).map_err(|e| err(format!("corrupt state file: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            }
            let store = Store::default();
            write_atomic(path, &store.snapshot()).map_err(|e| err(e.to_string()))?;
            Ok(store)
        }
        Err(e) => Err(err(format!("cannot read: {e}"))),
    }
}

/// The state file's writer; holding its commit lock serializes changes, so each one is on
/// disk before it is committed in memory.
#[derive(Debug)]
pub(crate) struct Persister {
    path: PathBuf,
    commit: tokio::sync::Mutex<()>,
    /// The exclusive lock on the state file's lock file, held while this persister lives.
    _lock: StateLock,
}

/// A state-file write that failed: the change it carried was not committed.
#[derive(Debug)]
pub(crate) struct PersistFailed {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl Persister {
    /// A writer for `path`, holding `lock` (see [`lock_state`]).
    pub(crate) fn new(path: PathBuf, lock: StateLock) -> Persister {
        Persister {
            path,
            commit: tokio::sync::Mutex::new(()),
            _lock: lock,
        }
    }

    /// Held while a change is prepared, written and committed.
    pub(crate) async fn commit_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.commit.lock().await
    }

    /// Writes `text` atomically to the state file.
    pub(crate) async fn write(&self, text: String) -> Result<(), PersistFailed> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &text))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|error| PersistFailed {
                path: self.path.clone(),
                error,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshot_round_trips() {
        let s = Store::default();
        let sb = s.sandbox("O@AdobeOrg", "prod");
        let seq = s.next_seq();
        sb.write().unwrap().col_mut(Resource::Flow).insert(
            "f1".into(),
            Entity::new(seq, json!({"id": "f1", "name": "x"})),
        );
        let text = s.snapshot();
        let back = Store::load(&text).unwrap();
        assert_eq!(back.snapshot(), text);
        let b = back.existing("O@AdobeOrg", "prod").unwrap();
        assert_eq!(
            b.read().unwrap().get(Resource::Flow, "f1").unwrap().value["name"],
            "x"
        );
        assert!(Store::load("{\"formatVersion\":1}").is_err());
        assert!(Store::load("not json").is_err());
    }
}
