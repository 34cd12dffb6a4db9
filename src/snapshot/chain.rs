//! OCI chain IDs: the identity of a stack of layers, used to key unpacked snapshots.

use crate::digest::{Digest, DigestHasher};

/// `ChainID(L0) = DiffID(L0)`; `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`, with
/// both digests in their `sha256:<hex>` form. Panics on an empty list: a chain has a base layer.
pub fn chain_id(diff_ids: &[Digest]) -> Digest {
    let (first, rest) = diff_ids
        .split_first()
        .expect("chain_id of an empty layer list");
    rest.iter().fold(*first, |parent, diff| {
        let mut h = DigestHasher::new();
        h.update(format!("{parent} {diff}").as_bytes());
        h.finish()
    })
}

/// The chain ID of every prefix of `diff_ids`: element `n` keys the snapshot of layer `n`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    (1..=diff_ids.len())
        .map(|n| chain_id(&diff_ids[..n]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_oci_definition() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = Digest::of(b"c");
        assert_eq!(chain_id(&[a]), a);
        let ab = Digest::of(format!("{a} {b}").as_bytes());
        assert_eq!(chain_id(&[a, b]), ab);
        let abc = Digest::of(format!("{ab} {c}").as_bytes());
        assert_eq!(chain_id(&[a, b, c]), abc);
        assert_eq!(chain_ids(&[a, b, c]), vec![a, ab, abc]);
    }

    #[test]
    fn known_vector() {
        // Computed with: printf 'sha256:<A> sha256:<B>' | sha256sum, A = sha256("a"), B = sha256("b").
        let a: Digest = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
            .parse()
            .unwrap();
        let b: Digest = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
            .parse()
            .unwrap();
        let want = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' '{a} {b}' | sha256sum"))
            .output()
            .unwrap();
        let hex = String::from_utf8(want.stdout).unwrap();
        assert_eq!(chain_id(&[a, b]).hex(), hex[..64]);
    }
}
