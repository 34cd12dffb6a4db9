//! Recognising ADD's archives by their *content* (plain, gzip, bzip2, xz, zstd — never by
//! extension, as BuildKit reads the first header) and opening the right decompressor.

use std::io::{self, BufReader, Read};

/// The compression wrapped around a tar stream, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// Recognises the compression from the first bytes of a file.
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `r` in the decompressor its first bytes call for.
pub fn decompress<'a>(r: Box<dyn Read + 'a>) -> io::Result<Box<dyn Read + 'a>> {
    let mut r = BufReader::with_capacity(64 * 1024, r);
    let head = io::BufRead::fill_buf(&mut r)?.to_vec();
    Ok(match detect_compression(&head) {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(r, true)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

/// Whether the stream is a (possibly compressed) tar archive: its first 512-byte block, after
/// decompression, is a tar header with a valid checksum.
pub fn is_tar_archive(r: Box<dyn Read + '_>) -> bool {
    let Ok(mut r) = decompress(r) else {
        return false;
    };
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < block.len() {
        match r.read(&mut block[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    valid_header(&block)
}

/// A tar header block whose checksum field matches its bytes (Go's `archive/tar` accepts both
/// the unsigned and the historical signed sum). An all-zero block is the end marker, not a header.
pub fn valid_header(block: &[u8; 512]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let Ok(want) = i64::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as i64;
        signed += (b as i8) as i64;
    }
    want == unsigned || want == signed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "hello.txt", &b"hello"[..]).unwrap();
        b.into_inner().unwrap()
    }

    const FIXTURES: &[(&str, &[u8], Compression)] = &[
        (
            "tar",
            include_bytes!("../../../testdata/copy/archives/hello.tar"),
            Compression::None,
        ),
        (
            "gz",
            include_bytes!("../../../testdata/copy/archives/hello.tar.gz"),
            Compression::Gzip,
        ),
        (
            "bz2",
            include_bytes!("../../../testdata/copy/archives/hello.tar.bz2"),
            Compression::Bzip2,
        ),
        (
            "xz",
            include_bytes!("../../../testdata/copy/archives/hello.tar.xz"),
            Compression::Xz,
        ),
        (
            "zst",
            include_bytes!("../../../testdata/copy/archives/hello.tar.zst"),
            Compression::Zstd,
        ),
    ];

    #[test]
    fn detects_archives_by_content() {
        for &(name, data, c) in FIXTURES {
            assert_eq!(detect_compression(data), c, "{name}");
            assert!(is_tar_archive(Box::new(data)), "{name}");
            // The whole stream decompresses to the same tar.
            let mut out = Vec::new();
            decompress(Box::new(data))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, FIXTURES[0].1, "{name}");
        }
    }

    #[test]
    fn non_archives_are_not_archives() {
        let text = b"just some text, not a tar header".repeat(40);
        assert!(!is_tar_archive(Box::new(&text[..])));
        assert!(!is_tar_archive(Box::new(&[0u8; 1024][..])));
        // Gzip of something that is not a tar.
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&text).unwrap();
        let gz = e.finish().unwrap();
        assert!(!is_tar_archive(Box::new(&gz[..])));
        // A corrupted checksum.
        let mut raw = tar_bytes();
        raw[150] ^= 1;
        assert!(!is_tar_archive(Box::new(&raw[..])));
    }
}
