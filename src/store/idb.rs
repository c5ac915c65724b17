//! [`ClassifierStore`] on IndexedDB, through raw `web-sys`.
//!
//! One database (default `triage`), one object store `classifiers`, records keyed by
//! classifier id and stored as plain JS objects (readable in the browser's dev tools).
//!
//! Every write is one `readwrite` transaction that reads the stored version and writes
//! only if it is the version the caller read (compare-and-swap, as the native stores).
//! IndexedDB runs `readwrite` transactions on one object store one after another, across
//! tabs too, so two tabs updating one classifier cannot both win: the second gets
//! `CONFLICT_RESOURCE_BUSY` and can retry on the fresh record. A write is reported only
//! once its transaction has completed, so a quota error (which IndexedDB reports by
//! aborting the transaction) reaches the caller as `AUTHZ_RESOURCE_LIMIT_EXCEEDED`.
//!
//! Requests are awaited as promises; the continuation after a request's success runs
//! as a microtask of that success event, while the transaction is still active, so a
//! get followed by a put stays one transaction (the pattern of Jake Archibald's `idb`).

use std::cell::RefCell;

use js_sys::{Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::error::{Result, TriageError};
use crate::js::js_error_text;
use crate::store::{ClassifierRecord, ClassifierStore};

/// The object store holding classifiers.
pub const OBJECT_STORE: &str = "classifiers";
/// Schema version of the database.
const DB_VERSION: u32 = 1;

/// Classifiers in one IndexedDB database.
pub struct IdbStore {
    name: String,
    db: RefCell<Option<IdbDatabase>>,
}

/// The `indexedDB` factory of a page or a worker.
pub fn factory() -> Result<IdbFactory> {
    let global = js_sys::global();
    let idb = js_sys::Reflect::get(&global, &JsValue::from_str("indexedDB"))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
        .ok_or_else(|| TriageError::Internal("IndexedDB is not available in this context".into()))?;
    idb.dyn_into::<IdbFactory>().map_err(|_| TriageError::Internal("indexedDB is not an IDBFactory".into()))
}

/// An IndexedDB failure as a triage error: a full quota is the caller's limit, anything
/// else is internal.
fn idb_error(context: &str, e: &JsValue) -> TriageError {
    let name = e.dyn_ref::<web_sys::DomException>().map(|d| d.name()).unwrap_or_default();
    if name == "QuotaExceededError" {
        return TriageError::StorageFull(format!(
            "the browser's storage quota for this site is full ({context}); delete classifiers or cached models to make room"
        ));
    }
    TriageError::Internal(format!("IndexedDB {context}: {}", js_error_text(e)))
}

/// Resolves with the request's result on `success`, rejects with its error on `error`.
fn request_promise(request: &IdbRequest) -> Promise {
    let request = request.clone();
    Promise::new(&mut |resolve: Function, reject: Function| {
        let req = request.clone();
        let on_success = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &req.result().unwrap_or(JsValue::UNDEFINED));
        });
        let req = request.clone();
        let on_error = Closure::once_into_js(move |_: web_sys::Event| {
            let err = req.error().ok().flatten().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &err);
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    })
}

async fn await_request(request: &IdbRequest, context: &str) -> Result<JsValue> {
    JsFuture::from(request_promise(request)).await.map_err(|e| idb_error(context, &e))
}

/// Resolves when the transaction commits; rejects with its error when it aborts.
fn transaction_promise(tx: &IdbTransaction) -> Promise {
    let tx = tx.clone();
    Promise::new(&mut |resolve: Function, reject: Function| {
        let on_complete = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let t = tx.clone();
        let reject2 = reject.clone();
        let on_abort = Closure::once_into_js(move |_: web_sys::Event| {
            let err = t.error().map(JsValue::from).unwrap_or_else(|| JsValue::from_str("AbortError: aborted"));
            let _ = reject2.call1(&JsValue::NULL, &err);
        });
        let t = tx.clone();
        let on_error = Closure::once_into_js(move |_: web_sys::Event| {
            let err = t.error().map(JsValue::from).unwrap_or_else(|| JsValue::from_str("transaction error"));
            let _ = reject.call1(&JsValue::NULL, &err);
        });
        tx.set_oncomplete(Some(on_complete.unchecked_ref()));
        tx.set_onabort(Some(on_abort.unchecked_ref()));
        tx.set_onerror(Some(on_error.unchecked_ref()));
    })
}

fn to_js(record: &ClassifierRecord) -> Result<JsValue> {
    use serde::Serialize;
    record
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| TriageError::internal("encoding a classifier for IndexedDB", e))
}

/// A stored value as a record, validated whole: a corrupt record is an error naming it.
fn from_js(id: &str, value: JsValue) -> Result<ClassifierRecord> {
    let record: ClassifierRecord = serde_wasm_bindgen::from_value(value).map_err(|e| {
        TriageError::Internal(format!("Stored classifier '{id}' is corrupt: {e}; delete it and train it again"))
    })?;
    if record.classifier_id != id {
        return Err(TriageError::Internal(format!(
            "Stored classifier '{id}' is corrupt: it names itself '{}'",
            record.classifier_id
        )));
    }
    record.validate()?;
    Ok(record)
}

impl IdbStore {
    /// Opens (creating if needed) the database `name`.
    pub async fn open(name: &str) -> Result<Self> {
        let store = Self { name: name.to_string(), db: RefCell::new(None) };
        store.database().await?;
        Ok(store)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the connection (a later call reopens it).
    pub fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
    }

    async fn database(&self) -> Result<IdbDatabase> {
        if let Some(db) = self.db.borrow().as_ref() {
            return Ok(db.clone());
        }
        let open: IdbOpenDbRequest =
            factory()?.open_with_u32(&self.name, DB_VERSION).map_err(|e| idb_error("open", &e))?;
        let on_upgrade = Closure::once_into_js(move |event: web_sys::IdbVersionChangeEvent| {
            let db = event
                .target()
                .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
            if let Some(db) = db
                && !db.object_store_names().contains(OBJECT_STORE)
            {
                let _ = db.create_object_store(OBJECT_STORE);
            }
        });
        open.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
        let db: IdbDatabase = await_request(&open, "open")
            .await?
            .dyn_into()
            .map_err(|_| TriageError::Internal("IndexedDB open did not give a database".into()))?;
        // Another tab upgrading or deleting the database: let it, reopen on next use.
        let weak = db.clone();
        let on_version_change = Closure::once_into_js(move |_: web_sys::Event| weak.close());
        db.set_onversionchange(Some(on_version_change.unchecked_ref()));
        *self.db.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    async fn transaction(&self, mode: IdbTransactionMode) -> Result<IdbTransaction> {
        let db = self.database().await?;
        match db.transaction_with_str_and_mode(OBJECT_STORE, mode) {
            Ok(tx) => Ok(tx),
            Err(_) => {
                // The connection was closed (another tab's version change): reopen once.
                self.db.borrow_mut().take();
                let db = self.database().await?;
                db.transaction_with_str_and_mode(OBJECT_STORE, mode).map_err(|e| idb_error("transaction", &e))
            }
        }
    }
}

impl ClassifierStore for IdbStore {
    async fn get(&self, id: &str) -> Result<Option<ClassifierRecord>> {
        let tx = self.transaction(IdbTransactionMode::Readonly).await?;
        let os = tx.object_store(OBJECT_STORE).map_err(|e| idb_error("object store", &e))?;
        let value = await_request(&os.get(&JsValue::from_str(id)).map_err(|e| idb_error("get", &e))?, "get").await?;
        if value.is_undefined() {
            return Ok(None);
        }
        from_js(id, value).map(Some)
    }

    async fn list(&self) -> Result<Vec<ClassifierRecord>> {
        let tx = self.transaction(IdbTransactionMode::Readonly).await?;
        let os = tx.object_store(OBJECT_STORE).map_err(|e| idb_error("object store", &e))?;
        let keys = await_request(&os.get_all_keys().map_err(|e| idb_error("list", &e))?, "list").await?;
        let values = await_request(&os.get_all().map_err(|e| idb_error("list", &e))?, "list").await?;
        let keys: js_sys::Array = keys.unchecked_into();
        let values: js_sys::Array = values.unchecked_into();
        let mut records = Vec::with_capacity(values.length() as usize);
        for (key, value) in keys.iter().zip(values.iter()) {
            let id = key.as_string().unwrap_or_default();
            records.push(from_js(&id, value)?);
        }
        records.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.classifier_id.cmp(&b.classifier_id)));
        Ok(records)
    }

    async fn put(&self, mut record: ClassifierRecord, expected: Option<u64>) -> Result<ClassifierRecord> {
        record.validate()?;
        let id = record.classifier_id.clone();
        let key = JsValue::from_str(&id);
        let tx = self.transaction(IdbTransactionMode::Readwrite).await?;
        let committed = JsFuture::from(transaction_promise(&tx));
        let os = tx.object_store(OBJECT_STORE).map_err(|e| idb_error("object store", &e))?;
        let current = await_request(&os.get(&key).map_err(|e| idb_error("get", &e))?, "get").await?;
        let stored_version = if current.is_undefined() {
            None
        } else {
            let v = js_sys::Reflect::get(&current, &JsValue::from_str("version")).unwrap_or(JsValue::UNDEFINED);
            Some(v.as_f64().map(|v| v as u64).ok_or_else(|| {
                TriageError::Internal(format!("Stored classifier '{id}' is corrupt: it has no version"))
            })?)
        };
        if stored_version != expected {
            let _ = tx.abort();
            let _ = committed.await;
            return Err(TriageError::Conflict { kind: "Classifier", id });
        }
        record.version = expected.map_or(1, |v| v + 1);
        let value = to_js(&record)?;
        await_request(&os.put_with_key(&value, &key).map_err(|e| idb_error("put", &e))?, "put").await?;
        committed.await.map_err(|e| idb_error("commit", &e))?;
        Ok(record)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let key = JsValue::from_str(id);
        let tx = self.transaction(IdbTransactionMode::Readwrite).await?;
        let committed = JsFuture::from(transaction_promise(&tx));
        let os = tx.object_store(OBJECT_STORE).map_err(|e| idb_error("object store", &e))?;
        let count = await_request(&os.count_with_key(&key).map_err(|e| idb_error("count", &e))?, "count").await?;
        let existed = count.as_f64().unwrap_or(0.0) > 0.0;
        if existed {
            await_request(&os.delete(&key).map_err(|e| idb_error("delete", &e))?, "delete").await?;
        }
        committed.await.map_err(|e| idb_error("commit", &e))?;
        Ok(existed)
    }

    async fn check(&self) -> Result<()> {
        self.database().await.map(|_| ())
    }
}
