//! A stored classifier record as every store reads one (a file, a PostgreSQL row, an
//! IndexedDB value's JSON): parsed and validated whole, and a record that passes must
//! classify any input of its width without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage::store::ClassifierRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = ClassifierRecord::from_json(data, "fuzz") {
        let dim = record.classifier.dim();
        if dim <= 1 << 16 {
            let scores = record.classifier.predict(&vec![0.5; dim]);
            assert_eq!(scores.len(), record.classifier.labels().len());
            let _ = record.summary();
        }
    }
});
