//! Label embeddings kept across requests, per (model, adapter, label text), least recently
//! used first out once their bytes pass a budget.
//!
//! Zero-shot requests repeat their labels far more than their inputs (a page classifies
//! stream after stream against the same few labels), so a label hit saves a forward pass.
//! The budget is in bytes, not entries, because one entry is 384 floats for MiniLM and 1,024
//! for jina-embeddings-v3; evicting the least recently used entry keeps the labels a page is
//! using now while a burst of one-off labels passes through.

use std::hash::Hash;

use lru::LruCache;

/// What the engine keeps by default: 64 MiB, about 44,000 MiniLM labels or 16,000
/// jina-embeddings-v3 labels.
pub const DEFAULT_BUDGET_BYTES: usize = 64 << 20;

pub struct LabelCache<K: Hash + Eq> {
    entries: LruCache<K, Vec<f32>>,
    bytes: usize,
    budget_bytes: usize,
}

impl<K: Hash + Eq> LabelCache<K> {
    pub fn new(budget_bytes: usize) -> Self {
        Self { entries: LruCache::unbounded(), bytes: 0, budget_bytes }
    }

    /// The cached vector, marked as just used.
    pub fn get(&mut self, key: &K) -> Option<&Vec<f32>> {
        self.entries.get(key)
    }

    /// Keeps `vector` under `key`, then drops least recently used entries until the cache is
    /// within its budget. A vector larger than the whole budget is not kept.
    pub fn put(&mut self, key: K, vector: Vec<f32>) {
        let size = entry_bytes(&vector);
        if size > self.budget_bytes {
            return;
        }
        if let Some(old) = self.entries.put(key, vector) {
            self.bytes -= entry_bytes(&old);
        }
        self.bytes += size;
        while self.bytes > self.budget_bytes {
            match self.entries.pop_lru() {
                Some((_, old)) => self.bytes -= entry_bytes(&old),
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of vectors held now (what the budget bounds).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

fn entry_bytes(vector: &[f32]) -> usize {
    std::mem::size_of_val(vector)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(x: f32) -> Vec<f32> {
        vec![x; 4] // 16 bytes
    }

    #[test]
    fn evicts_least_recently_used_first_within_the_byte_budget() {
        let mut cache = LabelCache::new(3 * 16);
        cache.put("a", vector(1.0));
        cache.put("b", vector(2.0));
        cache.put("c", vector(3.0));
        assert_eq!(cache.bytes(), 48);
        // Using "a" makes "b" the least recently used.
        assert_eq!(cache.get(&"a"), Some(&vector(1.0)));
        cache.put("d", vector(4.0));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"a"), Some(&vector(1.0)));
        assert_eq!(cache.get(&"c"), Some(&vector(3.0)));
        assert_eq!(cache.get(&"d"), Some(&vector(4.0)));
        assert_eq!(cache.bytes(), 48);
    }

    #[test]
    fn a_larger_entry_evicts_as_many_as_it_needs() {
        let mut cache = LabelCache::new(4 * 16);
        for (i, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            cache.put(key, vector(i as f32));
        }
        cache.put("wide", vec![0.0; 8]); // 32 bytes: "a" and "b" go
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), None);
        assert!(cache.get(&"c").is_some() && cache.get(&"d").is_some() && cache.get(&"wide").is_some());
        assert_eq!(cache.bytes(), 64);
    }

    #[test]
    fn replacing_a_key_counts_its_bytes_once() {
        let mut cache = LabelCache::new(1024);
        cache.put("a", vector(1.0));
        cache.put("a", vec![2.0; 8]);
        assert_eq!((cache.len(), cache.bytes()), (1, 32));
        assert_eq!(cache.get(&"a"), Some(&vec![2.0; 8]));
    }

    #[test]
    fn an_entry_over_the_whole_budget_is_not_kept_and_evicts_nothing() {
        let mut cache = LabelCache::new(32);
        cache.put("a", vector(1.0));
        cache.put("huge", vec![0.0; 100]);
        assert_eq!(cache.get(&"huge"), None);
        assert_eq!(cache.get(&"a"), Some(&vector(1.0)));
        assert_eq!(cache.bytes(), 16);
    }
}
