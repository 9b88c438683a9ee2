//! A lead's payload as stored: its JSON compressed with zstd against a dictionary of the
//! payload's own shape (`payload-dictionary.json`: every key the payload has and the values
//! leads repeat, such as rule-hit bodies, UTM names and timestamps' frame). A demo lead's
//! 2.5 KB of JSON keeps every byte it said in a few hundred.
//!
//! Why zstd and a dictionary (measured on 2,000 demo leads of 2,490 B): deflate without a
//! dictionary keeps ~950 B (each payload is too short to learn its own keys from), deflate
//! primed with other leads ~180–260 B; with this zstd dictionary ~300 B (estimated from the
//! table size, not per row). zstd is the
//! well-kept compressor that takes a raw dictionary; packing costs intake about 9% when the
//! CPU is the limit (RELAY.md, "Scale").
//!
//! Stored form: one format byte, then a zstd frame. Format 1 is this dictionary; a new
//! dictionary is a new format byte, and the old one stays here so old rows still read. Rows
//! stored before the column existed keep their JSON text in `payload` (`packed` NULL).

use std::cell::RefCell;

use super::StoreError;

/// The dictionary of format 1. Never edit it: rows stored with it need it byte for byte.
const DICTIONARY_1: &[u8] = include_bytes!("payload-dictionary.json");
/// The format written today.
const FORMAT: u8 = 1;
/// zstd's level: 3, its default (not tuned: packing costs intake ~9% when the CPU is the limit, see RELAY.md).
const LEVEL: i32 = 3;

thread_local! {
    // The dictionary is digested once per thread, not once per lead.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The payload JSON, packed for the `packed` column.
pub(crate) fn pack(json: &str) -> Result<Vec<u8>, StoreError> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compressor = match cell.as_mut() {
            Some(c) => c,
            None => cell.insert(
                zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY_1)
                    .map_err(|e| StoreError::Packed(e.to_string()))?,
            ),
        };
        let frame =
            compressor.compress(json.as_bytes()).map_err(|e| StoreError::Packed(e.to_string()))?;
        let mut out = Vec::with_capacity(frame.len() + 1);
        out.push(FORMAT);
        out.extend_from_slice(&frame);
        Ok(out)
    })
}

/// The payload JSON back from a `packed` value.
pub(crate) fn unpack(packed: &[u8]) -> Result<String, StoreError> {
    let Some((&format, frame)) = packed.split_first() else {
        return Err(StoreError::Packed("an empty packed payload".into()));
    };
    if format != FORMAT {
        return Err(StoreError::Packed(format!("unknown packed payload format {format}")));
    }
    DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let decompressor = match cell.as_mut() {
            Some(d) => d,
            None => cell.insert(
                zstd::bulk::Decompressor::with_dictionary(DICTIONARY_1)
                    .map_err(|e| StoreError::Packed(e.to_string()))?,
            ),
        };
        // The frame records its size; the cap only bounds a corrupt one.
        let bytes = decompressor
            .decompress(frame, MAX_PAYLOAD)
            .map_err(|e| StoreError::Packed(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| StoreError::Packed(e.to_string()))
    })
}

/// The largest payload the relay accepts is far below this (its body limit).
const MAX_PAYLOAD: usize = 4 << 20;

/// The payload JSON of a row that selected `payload` at `text` and `packed` at `packed`.
pub(crate) fn payload_json(
    row: &super::sql::Row,
    text: usize,
    packed: usize,
) -> Result<String, StoreError> {
    match row.opt_bytes(packed)? {
        Some(packed) => unpack(&packed),
        None => row.text(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_come_back_byte_for_byte_and_smaller() {
        let dictionary = std::str::from_utf8(DICTIONARY_1).unwrap();
        let samples = [
            dictionary.trim().to_string(),
            String::new(),
            "{}".into(),
            "{\"fields\":{\"note\":\"ünïcödé ✓ \\u0000\"}}".into(),
            "x".repeat(100_000),
        ];
        for json in &samples {
            let packed = pack(json).unwrap();
            assert_eq!(packed[0], FORMAT);
            assert_eq!(&unpack(&packed).unwrap(), json);
        }
        // The dictionary's own shape packs to a small fraction.
        assert!(pack(&samples[0]).unwrap().len() < samples[0].len() / 10);
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let good = pack("{\"a\":1}").unwrap();
        let cases: [&[u8]; 4] = [&[], &[9, 1, 2], &[FORMAT, 0, 0, 0], &good[..good.len() - 2]];
        for case in cases {
            assert!(matches!(unpack(case), Err(StoreError::Packed(_))), "{case:?}");
        }
    }
}
