//! [`ClassifierStore`] on PostgreSQL (feature `postgres`, `--store postgres://…`), so that
//! several `triage serve` replicas behind one load balancer share their classifiers.
//!
//! One row per classifier. The schema is `src/store/migrations/`, applied at connect by sqlx's
//! migrator under a PostgreSQL advisory lock, so replicas starting together apply it once. Every write is one statement, so a crash
//! leaves the old row or the new one; an update is a compare-and-swap on `version`
//! (`UPDATE … WHERE version = $expected`): of two replicas updating one classifier, the second
//! gets `Conflict` and the engine retrains on the record the first wrote, so no update is lost.
//!
//! sqlx needs a tokio reactor, which the CLI's commands and the server's blocking workers do
//! not poll their futures on: the store keeps a small runtime of its own and each call runs
//! there, awaited from whatever executor the caller has.

use std::future::Future;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::{Result, TriageError};
use crate::store::{ClassifierRecord, ClassifierStore, conflict, valid_id};

pub struct PgStore {
    pool: PgPool,
    runtime: Option<tokio::runtime::Runtime>,
}

fn db_error(what: &str, e: impl std::fmt::Display) -> TriageError {
    TriageError::Internal(format!("classifier store (PostgreSQL): {what}: {e}"))
}

impl PgStore {
    /// Connections each process keeps at most.
    pub const MAX_CONNECTIONS: u32 = 8;

    /// Connects to `url` (`postgres://user:password@host/db`) and applies the migrations.
    pub fn connect(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("triage-postgres")
            .enable_all()
            .build()
            .map_err(|e| db_error("starting its runtime", e))?;
        let url = url.to_string();
        // On a thread of its own: `block_on` must not run inside another runtime.
        let pool = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    runtime.block_on(async {
                        let pool = PgPoolOptions::new()
                            .max_connections(Self::MAX_CONNECTIONS)
                            .acquire_timeout(Duration::from_secs(10))
                            .connect(&url)
                            .await
                            .map_err(|e| db_error("cannot connect", e))?;
                        sqlx::migrate!("src/store/migrations")
                            .run(&pool)
                            .await
                            .map_err(|e| db_error("cannot apply the schema migrations", e))?;
                        Ok::<_, TriageError>(pool)
                    })
                })
                .join()
                .map_err(|_| TriageError::Internal("classifier store (PostgreSQL): connecting panicked".into()))?
        })?;
        Ok(Self { pool, runtime: Some(runtime) })
    }

    /// Runs `work` with a pool handle on the store's runtime.
    async fn on_runtime<T: Send + 'static, F>(&self, work: impl FnOnce(PgPool) -> F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let Some(runtime) = &self.runtime else {
            return Err(TriageError::Internal("classifier store (PostgreSQL): closed".into()));
        };
        runtime.spawn(work(self.pool.clone())).await.map_err(|e| db_error("query task", e))?
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is refused inside another runtime (the server's).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl ClassifierStore for PgStore {
    async fn get(&self, id: &str) -> Result<Option<ClassifierRecord>> {
        let id = id.to_string();
        let row: Option<String> = self
            .on_runtime(|pool| async move {
                sqlx::query_scalar("SELECT record::text FROM triage_classifiers WHERE classifier_id = $1")
                    .bind(id)
                    .fetch_optional(&pool)
                    .await
                    .map_err(|e| db_error("cannot read a classifier", e))
            })
            .await?;
        row.map(|json| ClassifierRecord::from_json(json.as_bytes(), "PostgreSQL")).transpose()
    }

    async fn list(&self) -> Result<Vec<ClassifierRecord>> {
        let rows: Vec<String> = self
            .on_runtime(|pool| async move {
                sqlx::query_scalar("SELECT record::text FROM triage_classifiers ORDER BY created_at, classifier_id")
                    .fetch_all(&pool)
                    .await
                    .map_err(|e| db_error("cannot list classifiers", e))
            })
            .await?;
        rows.iter().map(|json| ClassifierRecord::from_json(json.as_bytes(), "PostgreSQL")).collect()
    }

    async fn put(&self, mut record: ClassifierRecord, expected: Option<u64>) -> Result<ClassifierRecord> {
        let id = record.classifier_id.clone();
        if !valid_id(&id) {
            return Err(TriageError::validation("classifier_id", format!("'{id}' is not a valid classifier id")));
        }
        record.validate()?;
        let version = expected.unwrap_or(0) + 1;
        record.version = version;
        let json = serde_json::to_string(&record).map_err(|e| TriageError::internal("cannot encode classifier", e))?;
        let as_i64 = |v: u64| i64::try_from(v).map_err(|_| TriageError::Internal(format!("version {v} out of range")));
        let (version, expected) = (as_i64(version)?, expected.map(as_i64).transpose()?);
        let (row_id, created_at) = (id.clone(), record.created_at.clone());
        let written = self
            .on_runtime(move |pool| async move {
                let query = match expected {
                    None => sqlx::query(
                        "INSERT INTO triage_classifiers (classifier_id, version, created_at, record) \
                         VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (classifier_id) DO NOTHING",
                    )
                    .bind(row_id)
                    .bind(version)
                    .bind(created_at)
                    .bind(json),
                    Some(expected) => sqlx::query(
                        "UPDATE triage_classifiers SET version = $2, record = $3::jsonb \
                         WHERE classifier_id = $1 AND version = $4",
                    )
                    .bind(row_id)
                    .bind(version)
                    .bind(json)
                    .bind(expected),
                };
                let done = query.execute(&pool).await.map_err(|e| db_error("cannot write a classifier", e))?;
                Ok(done.rows_affected())
            })
            .await?;
        if written == 0 {
            return Err(conflict(&id));
        }
        Ok(record)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        let removed = self
            .on_runtime(|pool| async move {
                let done = sqlx::query("DELETE FROM triage_classifiers WHERE classifier_id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await
                    .map_err(|e| db_error("cannot delete a classifier", e))?;
                Ok(done.rows_affected())
            })
            .await?;
        Ok(removed > 0)
    }

    async fn check(&self) -> Result<()> {
        self.on_runtime(|pool| async move {
            sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()).map_err(|e| db_error("does not answer", e))
        })
        .await
    }
}
