//! A lead's payload as stored: its JSON compressed with zstd against a dictionary of the
//! payload's shape. A demo lead's 2.5 KB of JSON keeps every byte it said in about 200 (211 B
//! on average over 100,000 stored demo leads, RELAY.md "What a lead costs on disk").
//!
//! Why zstd and a dictionary (measured on 2,000 demo leads of 2,490 B): deflate without a
//! dictionary keeps ~950 B (each payload is too short to learn its own keys from), deflate
//! primed with other leads ~180–260 B. zstd is the well-kept compressor that takes a
//! dictionary.
//!
//! Stored form: one format byte, then a zstd frame. Each format is a dictionary, kept here
//! for as long as rows packed with it may exist (never edited: those rows need it byte for
//! byte); the newest is written. Rows stored before the column existed keep their JSON text in
//! `payload` (`packed` NULL).
//!
//! - Format 1: `payload-dictionary.json`, raw content (every key the payload has and values
//!   leads repeat). 590 B per demo payload (1,000 payloads of `million --samples`, 2.4 KB
//!   each, level 1; 571 B at level 3).
//! - Format 2: `payload-dictionary-2.zdict`, 8 KB trained by `zstd --train` on demo payloads
//!   as the relay stores them, so it holds entropy tables as well as content and a small frame
//!   needs no tables of its own: 187 B per demo payload at level 3 (the same 1,000, not
//!   among the 2,000 it was trained on), and compressing took a third of format 1's time
//!   (`zstd -b`: ~440 vs ~140–170 MB/s). Made with
//!   `target/relay/examples/million --samples DIR 3000` and
//!   `zstd --train DIR/000[0-1]*.json --maxdict=8192 -o payload-dictionary-2.zdict`.
//!   Payloads of other forms share its keys and frame and pack well with it too.

use std::cell::RefCell;

use super::StoreError;

/// The dictionaries, by format byte (index = format - 1). Never edit one: rows stored with it
/// need it byte for byte. A new dictionary is a new format at the end.
const DICTIONARIES: [&[u8]; 2] =
    [include_bytes!("payload-dictionary.json"), include_bytes!("payload-dictionary-2.zdict")];
/// The format written today.
const FORMAT: u8 = 2;
/// zstd's level: 3, its default (with format 2's dictionary as fast as level 1 and ~7% smaller).
const LEVEL: i32 = 3;

thread_local! {
    // Each dictionary is digested once per thread, not once per lead.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSORS: RefCell<[Option<zstd::bulk::Decompressor<'static>>; DICTIONARIES.len()]> =
        const { RefCell::new([None, None]) };
}

/// The payload JSON, packed for the `packed` column.
pub(crate) fn pack(json: &str) -> Result<Vec<u8>, StoreError> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compressor = match cell.as_mut() {
            Some(c) => c,
            None => cell.insert(new_compressor(FORMAT)?),
        };
        frame(compressor, FORMAT, json)
    })
}

/// A compressor for `format` (1-based).
fn new_compressor(format: u8) -> Result<zstd::bulk::Compressor<'static>, StoreError> {
    zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARIES[usize::from(format) - 1])
        .map_err(|e| StoreError::Packed(e.to_string()))
}

/// `json` packed by `compressor` as `format`: the format byte, then the frame.
fn frame(
    compressor: &mut zstd::bulk::Compressor<'static>,
    format: u8,
    json: &str,
) -> Result<Vec<u8>, StoreError> {
    let frame =
        compressor.compress(json.as_bytes()).map_err(|e| StoreError::Packed(e.to_string()))?;
    let mut out = Vec::with_capacity(frame.len() + 1);
    out.push(format);
    out.extend_from_slice(&frame);
    Ok(out)
}

/// The payload JSON back from a `packed` value, of any format.
pub(crate) fn unpack(packed: &[u8]) -> Result<String, StoreError> {
    let Some((&format, frame)) = packed.split_first() else {
        return Err(StoreError::Packed("an empty packed payload".into()));
    };
    let Some(index) = usize::from(format).checked_sub(1).filter(|i| *i < DICTIONARIES.len()) else {
        return Err(StoreError::Packed(format!("unknown packed payload format {format}")));
    };
    DECOMPRESSORS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let decompressor = match cell[index].as_mut() {
            Some(d) => d,
            None => cell[index].insert(
                zstd::bulk::Decompressor::with_dictionary(DICTIONARIES[index])
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
        // A demo lead as the relay stores it (`million --samples`, not one trained on).
        let demo = include_str!("demo-payload.json").to_string();
        let samples = [
            demo.clone(),
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
        // A demo payload packs to a small fraction (2,537 B to 182 today).
        let packed = pack(&demo).unwrap().len();
        assert!(packed < demo.len() / 10, "{packed} B");
    }

    #[test]
    fn rows_packed_in_every_older_format_still_read() {
        let json = "{\"schema_version\":1,\"id\":\"00000000-0000-4000-8000-000000000001\",\"fields\":{\"email\":\"ada@example.com\"}}";
        for format in 1..=DICTIONARIES.len() as u8 {
            let packed = frame(&mut new_compressor(format).unwrap(), format, json).unwrap();
            assert_eq!(packed[0], format);
            assert_eq!(unpack(&packed).unwrap(), json, "format {format}");
        }
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let good = pack("{\"a\":1}").unwrap();
        let cases: [&[u8]; 6] = [
            &[],
            &[9, 1, 2],
            &[0, 1, 2],
            &[FORMAT, 0, 0, 0],
            &[1, 0, 0, 0],
            &good[..good.len() - 2],
        ];
        for case in cases {
            assert!(matches!(unpack(case), Err(StoreError::Packed(_))), "{case:?}");
        }
    }
}
