//! Natural-key hashing. The warehouse keeps, next to each Parquet segment, the
//! sorted 64-bit hashes of its rows' keys, so an upsert can tell which
//! segments hold a replaced key without reading them. The hash must be stable
//! across versions and platforms (it is stored on disk), so it is FNV-1a over
//! a length-prefixed encoding of the key parts, not std's randomised hasher.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};

use super::schema::Table;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Typed access to the key columns of one batch.
pub struct KeyColumns<'a> {
    parts: Vec<KeyPart<'a>>,
}

enum KeyPart<'a> {
    Text(&'a datafusion::arrow::array::StringArray),
    Int(&'a datafusion::arrow::array::Int64Array),
}

impl<'a> KeyColumns<'a> {
    pub fn new(table: Table, batch: &'a RecordBatch) -> Self {
        let parts = table
            .key_indices()
            .into_iter()
            .map(|i| {
                let col = batch.column(i);
                match col.data_type() {
                    DataType::Int64 => KeyPart::Int(col.as_primitive::<Int64Type>()),
                    _ => KeyPart::Text(col.as_string::<i32>()),
                }
            })
            .collect();
        KeyColumns { parts }
    }

    pub fn hash(&self, row: usize) -> u64 {
        let mut h = FNV_OFFSET;
        for part in &self.parts {
            match part {
                KeyPart::Text(a) => {
                    let s = a.value(row).as_bytes();
                    h = fnv(h, &(s.len() as u64).to_le_bytes());
                    h = fnv(h, s);
                }
                KeyPart::Int(a) => h = fnv(h, &a.value(row).to_le_bytes()),
            }
        }
        // FNV's low bits mix poorly; a final avalanche spreads them.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    /// The exact key as a string, for equality checks after a hash match.
    pub fn exact(&self, row: usize) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('\u{1f}');
            }
            match part {
                KeyPart::Text(a) => out.push_str(a.value(row)),
                KeyPart::Int(a) => out.push_str(&a.value(row).to_string()),
            }
        }
        out
    }

    /// Human-readable key for messages: `repo=acme/api, sha=abc`.
    pub fn describe(&self, table: Table, row: usize) -> String {
        table
            .key()
            .iter()
            .zip(&self.parts)
            .map(|(name, part)| match part {
                KeyPart::Text(a) => format!("{name}={}", a.value(row)),
                KeyPart::Int(a) => format!("{name}={}", a.value(row)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Serialise sorted hashes (little-endian u64s).
pub fn encode(hashes: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * 8);
    for h in hashes {
        out.extend_from_slice(&h.to_le_bytes());
    }
    out
}

pub fn decode(bytes: &[u8]) -> Option<Vec<u64>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
    )
}

/// True when two sorted slices share a value (linear merge).
pub fn intersects(a: &[u64], b: &[u64]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}
