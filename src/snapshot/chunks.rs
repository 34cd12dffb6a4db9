//! Reusing compressed chunks of earlier layers.
//!
//! The parallel gzip writer cuts a layer's tar stream into chunks and deflates each on its own
//! (with the previous chunk's tail as its dictionary). A chunk's compressed bytes depend only on
//! what its key covers: the compressor's version, the level, whether it ends the stream, the
//! dictionary and the chunk's bytes. So when an earlier layer blob holds a chunk with the same
//! key, its bytes can be copied instead of deflated again, and the output is byte for byte what
//! compressing would have given: reuse changes speed, never digests.
//!
//! The tar writer cuts before and after the data of every file of at least
//! [`FILE_CUT_MIN`] and starts such a file's data with no dictionary, so a file's compressed
//! data is the same wherever it sits: in a rebuilt COPY layer after a one-file change, in a
//! `cp -a` of a base layer's files, in a stage's artifact copied to another stage.
//!
//! Every gzip layer the store writes gets an index (`chunks-v1/<blob hex>`) listing its chunks
//! of at least [`REUSE_MIN`] bytes: key, offset and length in the blob, CRC-32 and length of the
//! uncompressed bytes.

use std::io;

/// Files with at least this much data get chunks of their own.
pub const FILE_CUT_MIN: u64 = 16 * 1024;
/// Smaller chunks are cheaper to deflate than to look up and read back.
pub const REUSE_MIN: usize = 16 * 1024;

/// What identifies a chunk's compressed bytes: blake3 of everything that shapes them.
pub type ChunkKey = [u8; 32];

/// The version of whatever produces compressed bytes (the deflate library, the stored-segment
/// rule): part of every key, so chunks compressed by another strata never mix into output that
/// must be reproducible by this one.
const COMPRESSOR: &str = concat!("strata-gzip-chunk-1/", env!("CARGO_PKG_VERSION"));

/// The key of a chunk of `data` deflated at `level` after `dict`, ending the stream if `last`.
pub fn chunk_key(level: u32, last: bool, dict: Option<&[u8]>, data: &[u8]) -> ChunkKey {
    let mut h = blake3::Hasher::new();
    h.update(COMPRESSOR.as_bytes());
    h.update(&[level as u8, last as u8]);
    let dict = dict.unwrap_or(&[]);
    h.update(&(dict.len() as u64).to_le_bytes());
    h.update(dict);
    h.update(&(data.len() as u64).to_le_bytes());
    h.update(data);
    *h.finalize().as_bytes()
}

/// One chunk of a written blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkEntry {
    pub key: ChunkKey,
    /// Where its compressed bytes start in the blob, and how many there are.
    pub offset: u64,
    pub len: u32,
    /// CRC-32 and length of the uncompressed bytes: checked against the chunk being written
    /// before a stored chunk is used, so a damaged index cannot put wrong data in a layer.
    pub crc: u32,
    pub raw_len: u32,
}

/// Where earlier chunks come from.
pub trait ChunkSource: Send + Sync {
    /// The compressed bytes of the chunk `key`, if some blob has it and its entry matches the
    /// chunk's CRC-32 and length.
    fn fetch(&self, key: &ChunkKey, crc: u32, raw_len: u32) -> Option<Vec<u8>>;
}

const MAGIC: &[u8; 16] = b"strata-chunks-1\n";
const ENTRY_LEN: usize = 32 + 8 + 4 + 4 + 4;

/// The index file's bytes.
pub fn encode_index(entries: &[ChunkEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + entries.len() * ENTRY_LEN);
    out.extend_from_slice(MAGIC);
    for e in entries {
        out.extend_from_slice(&e.key);
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.len.to_le_bytes());
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&e.raw_len.to_le_bytes());
    }
    out
}

/// Parses an index file; anything but exact whole entries after the magic is an error.
pub fn decode_index(bytes: &[u8]) -> io::Result<Vec<ChunkEntry>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("not a chunk index (bad magic)"))?;
    if body.len() % ENTRY_LEN != 0 {
        return Err(bad("chunk index ends inside an entry"));
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    Ok(body
        .chunks_exact(ENTRY_LEN)
        .map(|b| ChunkEntry {
            key: b[..32].try_into().unwrap(),
            offset: u64::from_le_bytes(b[32..40].try_into().unwrap()),
            len: u32_at(b, 40),
            crc: u32_at(b, 44),
            raw_len: u32_at(b, 48),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_rejects_damage() {
        let entries: Vec<ChunkEntry> = (0..3u8)
            .map(|i| ChunkEntry {
                key: [i; 32],
                offset: 10 + u64::from(i) * 1000,
                len: 999 - u32::from(i),
                crc: 0xdead_beef ^ u32::from(i),
                raw_len: 65536 + u32::from(i),
            })
            .collect();
        let bytes = encode_index(&entries);
        assert_eq!(decode_index(&bytes).unwrap(), entries);
        assert_eq!(decode_index(MAGIC).unwrap(), vec![]);
        // (name, bytes)
        let damaged: Vec<(&str, Vec<u8>)> = vec![
            ("torn", bytes[..bytes.len() - 1].to_vec()),
            ("no magic", bytes[16..].to_vec()),
            ("empty", Vec::new()),
        ];
        for (name, b) in damaged {
            assert!(decode_index(&b).is_err(), "{name}");
        }
    }

    #[test]
    fn key_covers_level_end_dictionary_and_data() {
        let base = chunk_key(5, false, Some(b"dict"), b"data");
        assert_eq!(base, chunk_key(5, false, Some(b"dict"), b"data"));
        let others = [
            chunk_key(6, false, Some(b"dict"), b"data"),
            chunk_key(5, true, Some(b"dict"), b"data"),
            chunk_key(5, false, None, b"data"),
            chunk_key(5, false, Some(b"dic"), b"tdata"),
            chunk_key(5, false, Some(b"dict"), b"datb"),
        ];
        for (i, k) in others.iter().enumerate() {
            assert_ne!(*k, base, "variant {i}");
        }
    }
}
