//! Natural-key hashing. The warehouse keeps, next to each Parquet segment, the
//! sorted 64-bit hashes of its rows' keys, so an upsert can tell which
//! segments hold a replaced key without reading them. The hash must be stable
//! across versions and platforms (it is stored on disk), so it is FNV-1a over
//! a length-prefixed encoding of the key parts, not std's randomised hasher.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};

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

fn fnv_text(h: u64, s: &str) -> u64 {
    let s = s.as_bytes();
    fnv(fnv(h, &(s.len() as u64).to_le_bytes()), s)
}

/// FNV's low bits mix poorly; a final avalanche spreads them.
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The stored hash of a key made of text parts ([`KeyColumns::hash`] of a
/// row holding them).
pub fn text_key_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    avalanche(parts.into_iter().fold(FNV_OFFSET, fnv_text))
}

/// Typed access to the key columns of one batch.
pub struct KeyColumns<'a> {
    parts: Vec<KeyPart<'a>>,
}

enum KeyPart<'a> {
    Text(&'a datafusion::arrow::array::StringArray),
    Int(&'a datafusion::arrow::array::Int64Array),
    /// Microseconds since the epoch (a review's `submitted_at`).
    Time(&'a datafusion::arrow::array::TimestampMicrosecondArray),
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
                    DataType::Timestamp(..) => {
                        KeyPart::Time(col.as_primitive::<TimestampMicrosecondType>())
                    }
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
                KeyPart::Text(a) => h = fnv_text(h, a.value(row)),
                KeyPart::Int(a) => h = fnv(h, &a.value(row).to_le_bytes()),
                KeyPart::Time(a) => h = fnv(h, &a.value(row).to_le_bytes()),
            }
        }
        avalanche(h)
    }

    /// The exact key as a string, for equality checks after a hash match
    /// (see [`exact_key`]).
    pub fn exact(&self, row: usize) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                KeyPart::Text(a) => push_key_text(&mut out, a.value(row)),
                KeyPart::Int(a) => push_key_int(&mut out, a.value(row)),
                KeyPart::Time(a) => push_key_int(&mut out, a.value(row)),
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
                KeyPart::Time(a) => format!(
                    "{name}={}",
                    crate::base::time::Timestamp::from_micros(a.value(row))
                ),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Appends a text key part, length-prefixed (`5:acme/`), so that no
/// choice of characters inside the parts can make two different keys
/// encode alike (a separator character could also occur in a value).
pub fn push_key_text(out: &mut String, part: &str) {
    out.push_str(&part.len().to_string());
    out.push(':');
    out.push_str(part);
}

/// Appends an integer key part (`i42;`).
pub fn push_key_int(out: &mut String, part: i64) {
    out.push('i');
    out.push_str(&part.to_string());
    out.push(';');
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

/// Width of a [`sha_key`] in bytes.
pub const SHA_KEY_BYTES: i32 = 16;

/// A 128-bit key for a commit sha, so that the metric SQL can join the ~10
/// million rows of `deployment_commits` on a fixed 16-byte value instead of
/// hashing and comparing 40-character strings (and so attribution's commit
/// index compares one integer, not a string). Two different shas sharing a
/// key would be conflated; for 10⁷ commits the chance is about 10⁻²⁵.
///
/// Stored on disk in derived tables, so it must not change between versions
/// without bumping the attribution version. Two independent multiply–rotate
/// chains over 8-byte words, each finished with a 64-bit avalanche.
pub fn sha_key(sha: &str) -> u128 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;
    let bytes = sha.as_bytes();
    let len = bytes.len() as u64;
    let (mut a, mut b) = (K1 ^ len, K2 ^ len.rotate_left(32));
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        a = (a ^ w).wrapping_mul(K1).rotate_left(27);
        b = (b ^ w.rotate_left(19)).wrapping_mul(K2).rotate_left(31);
    }
    let avalanche = |mut x: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    };
    let hi = avalanche(a ^ b.rotate_left(13));
    let lo = avalanche(b ^ a.rotate_left(41) ^ K1);
    ((hi as u128) << 64) | lo as u128
}

/// How a key is laid out in a `FixedSizeBinary(SHA_KEY_BYTES)` column
/// (attribution's `deployment_commits.sha_key` and SQL's `sha_key()` must
/// agree byte for byte).
pub fn sha_key_bytes(key: u128) -> [u8; SHA_KEY_BYTES as usize] {
    key.to_be_bytes()
}

#[cfg(test)]
mod exact_key_tests {
    use super::push_key_text;

    fn key(parts: &[&str]) -> String {
        let mut out = String::new();
        for p in parts {
            push_key_text(&mut out, p);
        }
        out
    }

    #[test]
    fn regression_keys_with_the_separator_character_do_not_collide() {
        assert_ne!(key(&["a\u{1f}b", "c"]), key(&["a", "b\u{1f}c"]));
        assert_ne!(key(&["a:1", "b"]), key(&["a", ":1b"]));
    }

    proptest::proptest! {
        #[test]
        fn different_key_tuples_encode_differently(
            a in proptest::collection::vec(".{0,6}", 2),
            b in proptest::collection::vec(".{0,6}", 2),
        ) {
            proptest::prop_assume!(a != b);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let b: Vec<&str> = b.iter().map(String::as_str).collect();
            proptest::prop_assert_ne!(key(&a), key(&b));
        }
    }
}

#[cfg(test)]
mod sha_key_tests {
    use super::sha_key;

    #[test]
    fn sha_key_is_stable_across_versions() {
        // Stored on disk: a change here must bump ATTRIBUTION_VERSION.
        assert_eq!(
            format!(
                "{:032x}",
                sha_key("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
            ),
            "00f62cf77c317b56e65bd21ae6e2cdf3"
        );
        assert_eq!(
            format!("{:032x}", sha_key("")),
            "95adb7a546f2e59909090f095c6b6d9a"
        );
    }

    proptest::proptest! {
        #[test]
        fn different_shas_get_different_keys(a in "[0-9a-f]{1,40}", b in "[0-9a-f]{1,40}") {
            proptest::prop_assume!(a != b);
            proptest::prop_assert_ne!(sha_key(&a), sha_key(&b));
        }
    }

    #[test]
    fn keys_spread_over_every_bit() {
        // One bit flipped in the input flips about half the output bits.
        let base = sha_key("0000000000000000000000000000000000000000");
        for i in 0..40 {
            let mut s = vec![b'0'; 40];
            s[i] = b'1';
            let flipped = (base ^ sha_key(std::str::from_utf8(&s).unwrap())).count_ones();
            assert!((40..=88).contains(&flipped), "position {i}: {flipped} bits");
        }
    }
}
