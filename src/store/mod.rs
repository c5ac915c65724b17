//! Where few-shot classifiers live: a [`ClassifierStore`] trait with an in-memory store
//! (tests, ephemeral use), a filesystem store (the CLI's and server's default) and a
//! PostgreSQL one (several server replicas). The browser's IndexedDB store implements the
//! same trait.
//!
//! A record holds only what classification needs — weights, labels, per-label sample
//! counts, the model id and timestamps — never the training texts. Every record carries
//! a version; `put` succeeds only if the stored version is the one the caller read, so a
//! concurrent update is reported as `CONFLICT_RESOURCE_BUSY` instead of being lost.

#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(feature = "postgres")]
pub mod postgres;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::api::{Access, ClassifierSummary};
use crate::classify::fewshot::Classifier;
use crate::error::{Result, TriageError};

/// Format of records written now: 2 holds a [`crate::classify::fewshot::FewShot`]; format 1 (a
/// passive-aggressive classifier) is still read, and classifies as it did until it is next
/// trained, which rewrites it in format 2.
pub const RECORD_FORMAT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierRecord {
    pub format: u32,
    pub classifier_id: String,
    pub model: String,
    /// The task adapter its examples and inputs are embedded with (models with tasks);
    /// absent: the model's classification task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub access: Access,
    /// Owner of a private classifier (the local server's API key hash); None when unowned.
    #[serde(default)]
    pub owner: Option<String>,
    pub classifier: Classifier,
    pub created_at: String,
    pub updated_at: String,
    pub used_at: Option<String>,
    pub updated_number: u64,
    pub used_number: u64,
    /// Incremented by every successful `put`.
    pub version: u64,
}

impl ClassifierRecord {
    /// A record not yet stored (version 0), created and updated now, unowned and unused.
    pub fn new(classifier_id: String, model: String, access: Access, classifier: Classifier) -> Self {
        let now = now_rfc3339();
        ClassifierRecord {
            format: RECORD_FORMAT,
            classifier_id,
            model,
            task: None,
            access,
            owner: None,
            classifier,
            created_at: now.clone(),
            updated_at: now,
            used_at: None,
            updated_number: 0,
            used_number: 0,
            version: 0,
        }
    }

    /// Reads a stored record (`origin` names where it came from in the error): JSON that
    /// is not a valid record is reported as corrupt, never half-used.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self> {
        let record: ClassifierRecord = serde_json::from_slice(bytes)
            .map_err(|e| TriageError::Internal(format!("Stored classifier {origin} is corrupt: {e}")))?;
        record.validate()?;
        Ok(record)
    }

    /// Rejects a record that could not have been written by triage: a corrupt record is
    /// reported whole, never half-used.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| {
            Err(TriageError::Internal(format!("Stored classifier '{}' is corrupt: {why}", self.classifier_id)))
        };
        match (self.format, &self.classifier) {
            (1, Classifier::PassiveAggressive(_)) | (RECORD_FORMAT, Classifier::FewShot(_)) => {}
            (1 | RECORD_FORMAT, _) => return bad(&format!("format {} holds another learner", self.format)),
            (other, _) => return bad(&format!("unknown record format {other}")),
        }
        match self.classifier.check() {
            Ok(()) => Ok(()),
            Err(why) => bad(&why),
        }
    }

    pub fn summary(&self) -> ClassifierSummary {
        let per_label: serde_json::Map<String, serde_json::Value> = self
            .classifier
            .labels()
            .iter()
            .zip(self.classifier.counts())
            .map(|(l, n)| (l.clone(), (*n).into()))
            .collect();
        ClassifierSummary {
            classifier_id: self.classifier_id.clone(),
            user_id: "00000000-0000-0000-0000-000000000000".into(),
            model: self.model.clone(),
            labels: self.classifier.labels().to_vec(),
            access: self.access,
            updated_number: self.updated_number,
            used_number: self.used_number,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            used_at: self.used_at.clone(),
            is_active: true,
            is_latest: true,
            metadata_: serde_json::json!({
                "num_samples": self.classifier.counts().iter().sum::<u64>(),
                "samples_per_label": per_label,
                "dim": self.classifier.dim(),
            }),
        }
    }
}

/// Persistent classifiers. `put` is a compare-and-swap on `version`.
#[allow(async_fn_in_trait)]
pub trait ClassifierStore {
    async fn get(&self, id: &str) -> Result<Option<ClassifierRecord>>;
    async fn list(&self) -> Result<Vec<ClassifierRecord>>;
    /// Stores `record` if the stored version is `expected` (`None`: no such record yet);
    /// returns the record as stored, its version incremented. Otherwise `Conflict`.
    async fn put(&self, record: ClassifierRecord, expected: Option<u64>) -> Result<ClassifierRecord>;
    /// Returns whether a record was removed.
    async fn delete(&self, id: &str) -> Result<bool>;
    /// Whether the store answers (a readiness probe: cheap, reads no records).
    async fn check(&self) -> Result<()>;
}

pub(crate) fn conflict(id: &str) -> TriageError {
    TriageError::Conflict { kind: "Classifier", id: id.to_string() }
}

/// Classifiers in memory, lost with the process.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, ClassifierRecord>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ClassifierStore for MemoryStore {
    async fn get(&self, id: &str) -> Result<Option<ClassifierRecord>> {
        Ok(self.records.lock().map_err(|e| TriageError::internal("store lock", e))?.get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<ClassifierRecord>> {
        Ok(self.records.lock().map_err(|e| TriageError::internal("store lock", e))?.values().cloned().collect())
    }

    async fn put(&self, mut record: ClassifierRecord, expected: Option<u64>) -> Result<ClassifierRecord> {
        let mut records = self.records.lock().map_err(|e| TriageError::internal("store lock", e))?;
        let current = records.get(&record.classifier_id).map(|r| r.version);
        if current != expected {
            return Err(conflict(&record.classifier_id));
        }
        record.version = expected.unwrap_or(0) + 1;
        records.insert(record.classifier_id.clone(), record.clone());
        Ok(record)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        Ok(self.records.lock().map_err(|e| TriageError::internal("store lock", e))?.remove(id).is_some())
    }

    async fn check(&self) -> Result<()> {
        self.records.lock().map(|_| ()).map_err(|e| TriageError::internal("store lock", e))
    }
}

/// One JSON file per classifier in a directory. Writes go to a temporary file that is
/// renamed over the old one, so a crash leaves the old or the new record, never half of
/// one. A `<id>.lock` file created exclusively guards the read-compare-write of `put`
/// across processes; a lock older than [`FsStore::STALE_LOCK`] is taken to be left by a
/// crashed writer and removed.
pub struct FsStore {
    dir: PathBuf,
}

/// Ids are generated as UUIDs; anything else could escape the directory.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

struct LockGuard(PathBuf);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl FsStore {
    pub const STALE_LOCK: std::time::Duration = std::time::Duration::from_secs(30);
    pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| TriageError::internal(&format!("cannot create store directory {}", dir.display()), e))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn read(&self, path: &Path) -> Result<Option<ClassifierRecord>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TriageError::internal(&format!("cannot read {}", path.display()), e)),
        };
        ClassifierRecord::from_json(&bytes, &path.display().to_string()).map(Some)
    }

    /// Takes `<id>.lock`, waiting for another writer to finish (up to [`Self::LOCK_WAIT`];
    /// writes take milliseconds) before answering `Conflict`.
    fn lock(&self, id: &str) -> Result<LockGuard> {
        let path = self.dir.join(format!("{id}.lock"));
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_micros(200);
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(LockGuard(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .map(|t| t.elapsed().unwrap_or_default() > Self::STALE_LOCK)
                        .unwrap_or(false);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                    } else if started.elapsed() > Self::LOCK_WAIT {
                        return Err(conflict(id));
                    } else {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(std::time::Duration::from_millis(20));
                    }
                }
                Err(e) => return Err(TriageError::internal("cannot lock classifier", e)),
            }
        }
    }
}

impl ClassifierStore for FsStore {
    async fn get(&self, id: &str) -> Result<Option<ClassifierRecord>> {
        if !valid_id(id) {
            return Ok(None);
        }
        self.read(&self.path(id))
    }

    async fn list(&self) -> Result<Vec<ClassifierRecord>> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| TriageError::internal(&format!("cannot list {}", self.dir.display()), e))?;
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| TriageError::internal("cannot list store", e))?.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(r) = self.read(&path)?
            {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.classifier_id.cmp(&b.classifier_id)));
        Ok(out)
    }

    async fn put(&self, mut record: ClassifierRecord, expected: Option<u64>) -> Result<ClassifierRecord> {
        let id = record.classifier_id.clone();
        if !valid_id(&id) {
            return Err(TriageError::validation("classifier_id", format!("'{id}' is not a valid classifier id")));
        }
        record.validate()?;
        let _lock = self.lock(&id)?;
        let current = self.read(&self.path(&id))?.map(|r| r.version);
        if current != expected {
            return Err(conflict(&id));
        }
        record.version = expected.unwrap_or(0) + 1;
        let bytes = serde_json::to_vec(&record).map_err(|e| TriageError::internal("cannot encode classifier", e))?;
        let tmp = self.dir.join(format!("{id}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path(&id))
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(TriageError::internal("cannot write classifier", e));
        }
        Ok(record)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        if !valid_id(id) {
            return Ok(false);
        }
        let _lock = self.lock(id)?;
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(TriageError::internal("cannot delete classifier", e)),
        }
    }

    async fn check(&self) -> Result<()> {
        match std::fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(TriageError::Internal(format!("{} is not a directory", self.dir.display()))),
            Err(e) => Err(TriageError::internal(&format!("cannot reach {}", self.dir.display()), e)),
        }
    }
}

/// The native faces' store: a directory of files (the default: nothing to install) or, for a
/// `postgres://` / `postgresql://` address, PostgreSQL.
#[cfg(not(target_arch = "wasm32"))]
pub enum NativeStore {
    Files(FsStore),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgStore),
}

#[cfg(not(target_arch = "wasm32"))]
impl NativeStore {
    /// Opens the store `location` names (a directory, or a PostgreSQL URL).
    pub fn open(location: &str) -> Result<Self> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return postgres::PgStore::connect(location).map(Self::Postgres);
            #[cfg(not(feature = "postgres"))]
            return Err(TriageError::validation(
                "store",
                "this build has no PostgreSQL store: rebuild with `--features postgres`",
            ));
        }
        FsStore::open(location).map(Self::Files)
    }

    /// Where the store is, for messages: a directory, or the URL without its password.
    pub fn describe(location: &str) -> String {
        match location.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.rsplit_once('@')?))) {
            Some((scheme, (userinfo, host))) => {
                format!("{scheme}://{}@{host}", userinfo.split(':').next().unwrap_or_default())
            }
            None => location.to_string(),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
macro_rules! each_store {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            NativeStore::Files($store) => $call,
            #[cfg(feature = "postgres")]
            NativeStore::Postgres($store) => $call,
        }
    };
}

#[cfg(not(target_arch = "wasm32"))]
impl ClassifierStore for NativeStore {
    async fn get(&self, id: &str) -> Result<Option<ClassifierRecord>> {
        each_store!(self, s => s.get(id).await)
    }
    async fn list(&self) -> Result<Vec<ClassifierRecord>> {
        each_store!(self, s => s.list().await)
    }
    async fn put(&self, record: ClassifierRecord, expected: Option<u64>) -> Result<ClassifierRecord> {
        each_store!(self, s => s.put(record, expected).await)
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        each_store!(self, s => s.delete(id).await)
    }
    async fn check(&self) -> Result<()> {
        each_store!(self, s => s.check().await)
    }
}

/// Now as RFC 3339 UTC with milliseconds (`2026-11-23T20:47:00.123Z`).
pub fn now_rfc3339() -> String {
    let since = web_time::SystemTime::now().duration_since(web_time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date: Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn record(id: &str) -> ClassifierRecord {
        let mut classifier = Classifier::new(2);
        classifier.train(&[(vec![1.0, 0.0], "a".into()), (vec![0.0, 1.0], "b".into())], &[], 1);
        ClassifierRecord::new(id.into(), "m".into(), Access::Public, classifier)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        pollster::block_on(f)
    }

    #[test]
    fn version_check_on_both_stores() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsStore::open(dir.path()).unwrap();
        let mem = MemoryStore::new();
        block_on(async {
            for store in [&fs as &dyn DynCheck, &mem] {
                store.check().await;
            }
        });
    }

    // A tiny object-safe shim so one test body runs against both stores.
    trait DynCheck {
        fn check(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>;
    }
    impl<S: ClassifierStore> DynCheck for S {
        fn check(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
            Box::pin(async move {
                let r = self.put(record("c1"), None).await.unwrap();
                assert_eq!(r.version, 1);
                assert!(matches!(self.put(record("c1"), None).await, Err(TriageError::Conflict { .. })));
                let r2 = self.put(r.clone(), Some(1)).await.unwrap();
                assert_eq!(r2.version, 2);
                // A writer that read version 1 loses, and says so.
                assert!(matches!(self.put(r, Some(1)).await, Err(TriageError::Conflict { .. })));
                assert_eq!(self.get("c1").await.unwrap().unwrap().version, 2);
                assert_eq!(self.list().await.unwrap().len(), 1);
                assert!(self.delete("c1").await.unwrap());
                assert!(!self.delete("c1").await.unwrap());
                assert!(self.get("c1").await.unwrap().is_none());
            })
        }
    }

    #[test]
    fn corrupt_record_is_reported_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsStore::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("bad.json"), b"{\"format\":1,").unwrap();
        let err = block_on(fs.get("bad")).unwrap_err();
        assert_eq!(err.code(), "INTERNAL_ERROR");
        assert!(err.to_string().contains("corrupt"), "{err}");
        let mut r = record("short");
        let Classifier::FewShot(f) = &mut r.classifier else { panic!("a format-2 record") };
        f.weights[0].pop();
        std::fs::write(dir.path().join("short.json"), serde_json::to_vec(&r).unwrap()).unwrap();
        assert!(block_on(fs.get("short")).unwrap_err().to_string().contains("wrong width"));
    }

    #[test]
    fn a_writer_waits_for_a_lock_then_gives_up_and_ids_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsStore::open(dir.path()).unwrap();
        // Released while the writer waits: the write goes through.
        let lock = dir.path().join("c1.lock");
        std::fs::write(&lock, b"").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::fs::remove_file(lock).unwrap();
        });
        assert_eq!(block_on(fs.put(record("c1"), None)).unwrap().version, 1);
        release.join().unwrap();
        // Held longer than LOCK_WAIT: a conflict, nothing written.
        std::fs::write(dir.path().join("c2.lock"), b"").unwrap();
        assert!(matches!(block_on(fs.put(record("c2"), None)), Err(TriageError::Conflict { .. })));
        assert!(block_on(fs.get("c2")).unwrap().is_none());
        assert!(block_on(fs.get("../etc/passwd")).unwrap().is_none());
        assert!(block_on(fs.put(record("../x"), None)).is_err());
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
