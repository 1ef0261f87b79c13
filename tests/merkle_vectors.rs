//! Golden RFC 6962/9162 vectors, tampered proofs and a property test of the Merkle tree against the RFC's own recursive definitions.
//!
//! The leaf inputs, node hashes, roots and proofs below are copied from the transparency-dev/merkle Go library:
//! `testonly/constants.go` (LeafInputs, NodeHashes, RootHashes, EmptyRootHash)
//! and `proof/verify_test.go` (inclusionProofs, consistencyProofs; there the leaf number is 1-based, here `leaf_index` is 0-based).
//! These are the RFC 6962 test data also used by google/certificate-transparency.

use proptest::prelude::*;
use taizhang::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root_at,
    verify_consistency, verify_inclusion, ConsistencyProof, Frontier, Hash, InclusionProof,
    MemoryTree, NodeSource, ProofError, MAX_PATH_LEN,
};

fn h(text: &str) -> Hash {
    let bytes = hex::decode(text).expect("test vector is hex");
    bytes.try_into().expect("test vector is 32 bytes")
}

/// `LeafInputs()` of transparency-dev/merkle `testonly/constants.go`.
const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `NodeHashes()[0]`: the leaf hashes SHA-256(0x00 ‖ input).
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// `NodeHashes()[1..]`: (level, index, hash) of every perfect subtree above the leaves.
const INNER_NODES: [(u8, u64, &str); 7] = [
    (
        1,
        0,
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    ),
    (
        1,
        1,
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    ),
    (
        1,
        2,
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    ),
    (
        1,
        3,
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ),
    (
        2,
        0,
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ),
    (
        2,
        1,
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ),
    (
        3,
        0,
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ),
];

/// `RootHashes()`: the root for each size 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `inclusionProofs` of `proof/verify_test.go`, leaf made 0-based: (leaf_index, tree_size, path).
const INCLUSION_PROOFS: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// `consistencyProofs` of `proof/verify_test.go`: (first, second, path).
const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn golden_tree() -> MemoryTree {
    MemoryTree::from_leaves(
        LEAF_INPUTS
            .iter()
            .map(|input| leaf_hash(&hex::decode(input).expect("hex"))),
    )
}

fn path_of(hashes: &[&str]) -> Vec<Hash> {
    hashes.iter().map(|text| h(text)).collect()
}

#[test]
fn golden_leaf_and_node_hashes() {
    let tree = golden_tree();
    for (index, expected) in LEAF_HASHES.iter().enumerate() {
        assert_eq!(
            tree.node(0, index as u64).unwrap(),
            h(expected),
            "leaf {index}"
        );
    }
    for (level, index, expected) in INNER_NODES {
        assert_eq!(
            tree.node(level, index).unwrap(),
            h(expected),
            "node ({level}, {index})"
        );
    }
}

#[test]
fn golden_roots_for_every_size() {
    assert_eq!(empty_root(), h(ROOTS[0]));
    let tree = golden_tree();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), h(ROOTS[0]));
    for size in 0..=8u64 {
        let expected = h(ROOTS[size as usize]);
        assert_eq!(root_at(&tree, size).unwrap(), expected, "root_at {size}");
        assert_eq!(
            Frontier::from_source(size, &tree).unwrap().root(),
            expected,
            "Frontier::from_source {size}"
        );
        if size > 0 {
            let input = hex::decode(LEAF_INPUTS[size as usize - 1]).unwrap();
            frontier.push(leaf_hash(&input));
            assert_eq!(frontier.root(), expected, "Frontier::push {size}");
        }
    }
}

#[test]
fn golden_inclusion_proofs() {
    let tree = golden_tree();
    for (leaf_index, tree_size, expected) in INCLUSION_PROOFS {
        let expected = path_of(expected);
        let path = inclusion_proof(&tree, leaf_index, tree_size).unwrap();
        assert_eq!(path, expected, "inclusion {leaf_index} in {tree_size}");
        let root = h(ROOTS[tree_size as usize]);
        let leaf = h(LEAF_HASHES[leaf_index as usize]);
        assert_eq!(
            verify_inclusion(leaf_index, tree_size, &leaf, &path, &root),
            Ok(())
        );
        assert_tampered_inclusion_fails(leaf_index, tree_size, &leaf, &path, &root);
    }
}

#[test]
fn golden_consistency_proofs() {
    let tree = golden_tree();
    for (first, second, expected) in CONSISTENCY_PROOFS {
        let expected = path_of(expected);
        let path = consistency_proof(&tree, first, second).unwrap();
        assert_eq!(path, expected, "consistency {first} to {second}");
        let first_root = h(ROOTS[first as usize]);
        let second_root = h(ROOTS[second as usize]);
        assert_eq!(
            verify_consistency(first, second, &first_root, &second_root, &path),
            Ok(())
        );
        if first < second {
            assert_tampered_consistency_fails(first, second, &first_root, &second_root, &path);
        }
    }
}

#[test]
fn degenerate_inclusion_arguments_fail() {
    // After transparency-dev/merkle TestVerifyInclusion: no index is in an empty tree, nor past the end.
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (leaf_index, tree_size) in [(0, 0), (1, 0), (1, 1), (2, 1), (u64::MAX, u64::MAX)] {
        assert_eq!(
            verify_inclusion(leaf_index, tree_size, &some, &[], &empty_root()),
            Err(ProofError::IndexOutOfRange {
                leaf_index,
                tree_size
            })
        );
    }
    // A one-leaf tree: the root is the leaf hash and the path is empty.
    let leaf = leaf_hash(b"data");
    assert_eq!(verify_inclusion(0, 1, &leaf, &[], &leaf), Ok(()));
    assert_eq!(
        verify_inclusion(0, 1, &leaf, &[], &some),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(0, 1, &leaf, &[leaf], &leaf),
        Err(ProofError::WrongPathLength {
            expected: 0,
            actual: 1
        })
    );
}

#[test]
fn degenerate_consistency_arguments_fail() {
    let root = h(ROOTS[3]);
    let other = h(ROOTS[4]);
    // formats.md §3: 0 < first <= second; the RFC's "size 0 is consistent with anything" is not a proof here.
    for (first, second) in [(0, 0), (0, 1), (1, 0), (2, 1), (9, 8)] {
        assert_eq!(
            verify_consistency(first, second, &root, &root, &[]),
            Err(ProofError::InvalidSizes { first, second })
        );
    }
    // Equal sizes: empty path and equal roots, nothing else.
    assert_eq!(verify_consistency(3, 3, &root, &root, &[]), Ok(()));
    assert_eq!(
        verify_consistency(3, 3, &root, &other, &[]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 3, &root, &root, &[empty_root()]),
        Err(ProofError::WrongPathLength {
            expected: 0,
            actual: 1
        })
    );
    // Different sizes need a path.
    assert_eq!(
        verify_consistency(1, 2, &root, &other, &[]),
        Err(ProofError::WrongPathLength {
            expected: 1,
            actual: 0
        })
    );
}

/// After transparency-dev/merkle `corruptInclusionProof`: every way of spoiling a good proof must be refused.
///
/// Like there, the size is only doubled or halved, never moved by one: a proof for size n often also
/// verifies for size n ± 1 *with the root of size n*, because only the root binds the size, and the root
/// is trusted only through a checkpoint signed for its size. That is the RFC's design, not a flaw to test for.
fn assert_tampered_inclusion_fails(
    leaf_index: u64,
    tree_size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) {
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut probes: Vec<(String, u64, u64, Hash, Vec<Hash>, Hash)> = vec![
        (
            "leaf_index + 1".into(),
            leaf_index.wrapping_add(1),
            tree_size,
            *leaf,
            path.to_vec(),
            *root,
        ),
        (
            "leaf_index ^ 2".into(),
            leaf_index ^ 2,
            tree_size,
            *leaf,
            path.to_vec(),
            *root,
        ),
        (
            "tree_size * 2".into(),
            leaf_index,
            tree_size.saturating_mul(2),
            *leaf,
            path.to_vec(),
            *root,
        ),
        (
            "tree_size / 2".into(),
            leaf_index,
            tree_size / 2,
            *leaf,
            path.to_vec(),
            *root,
        ),
        (
            "wrong leaf".into(),
            leaf_index,
            tree_size,
            leaf_hash(b"WrongLeaf"),
            path.to_vec(),
            *root,
        ),
        (
            "empty root".into(),
            leaf_index,
            tree_size,
            *leaf,
            path.to_vec(),
            empty_root(),
        ),
        (
            "random root".into(),
            leaf_index,
            tree_size,
            *leaf,
            path.to_vec(),
            some,
        ),
    ];
    // In a one-leaf tree the leaf is the root, so swapping them changes nothing.
    if leaf != root {
        probes.push((
            "leaf as root".into(),
            leaf_index,
            tree_size,
            *root,
            path.to_vec(),
            *leaf,
        ));
    }
    if leaf_index > 0 {
        probes.push((
            "leaf_index - 1".into(),
            leaf_index - 1,
            tree_size,
            *leaf,
            path.to_vec(),
            *root,
        ));
    }
    let mut extended = path.to_vec();
    extended.push(*root);
    probes.push((
        "trailing root".into(),
        leaf_index,
        tree_size,
        *leaf,
        extended,
        *root,
    ));
    let mut prepended = vec![*root];
    prepended.extend_from_slice(path);
    probes.push((
        "preceding root".into(),
        leaf_index,
        tree_size,
        *leaf,
        prepended,
        *root,
    ));
    if !path.is_empty() {
        probes.push((
            "truncated".into(),
            leaf_index,
            tree_size,
            *leaf,
            path[..path.len() - 1].to_vec(),
            *root,
        ));
        probes.push((
            "first dropped".into(),
            leaf_index,
            tree_size,
            *leaf,
            path[1..].to_vec(),
            *root,
        ));
    }
    if path.len() > 1 {
        let mut swapped = path.to_vec();
        swapped.swap(0, 1);
        if swapped != path {
            probes.push((
                "swapped".into(),
                leaf_index,
                tree_size,
                *leaf,
                swapped,
                *root,
            ));
        }
        let mut inserted = vec![path[0], some];
        inserted.extend_from_slice(&path[1..]);
        probes.push((
            "inserted".into(),
            leaf_index,
            tree_size,
            *leaf,
            inserted,
            *root,
        ));
    }
    for element in 0..path.len() {
        for byte in 0..32 {
            let mut tampered = path.to_vec();
            tampered[element][byte] ^= 0x08;
            probes.push((
                format!("path[{element}] byte {byte}"),
                leaf_index,
                tree_size,
                *leaf,
                tampered,
                *root,
            ));
        }
    }
    for (what, index, size, leaf, path, root) in probes {
        assert!(
            verify_inclusion(index, size, &leaf, &path, &root).is_err(),
            "inclusion {leaf_index} in {tree_size}: tampered proof ({what}) verified"
        );
    }
}

/// After transparency-dev/merkle `corruptConsistencyProof`: every way of spoiling a good proof must be refused.
fn assert_tampered_consistency_fails(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) {
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = vec![
        (
            "first - 1".into(),
            first - 1,
            second,
            *first_root,
            *second_root,
            path.to_vec(),
        ),
        (
            "first + 1".into(),
            first + 1,
            second,
            *first_root,
            *second_root,
            path.to_vec(),
        ),
        (
            "first ^ 2".into(),
            first ^ 2,
            second,
            *first_root,
            *second_root,
            path.to_vec(),
        ),
        (
            "second * 2".into(),
            first,
            second.saturating_mul(2),
            *first_root,
            *second_root,
            path.to_vec(),
        ),
        (
            "second / 2".into(),
            first,
            second / 2,
            *first_root,
            *second_root,
            path.to_vec(),
        ),
        (
            "wrong first root".into(),
            first,
            second,
            some,
            *second_root,
            path.to_vec(),
        ),
        (
            "wrong second root".into(),
            first,
            second,
            *first_root,
            some,
            path.to_vec(),
        ),
        (
            "swapped roots".into(),
            first,
            second,
            *second_root,
            *first_root,
            path.to_vec(),
        ),
        (
            "empty path".into(),
            first,
            second,
            *first_root,
            *second_root,
            Vec::new(),
        ),
    ];
    for extra in [*first_root, *second_root, empty_root()] {
        let mut extended = path.to_vec();
        extended.push(extra);
        probes.push((
            "trailing hash".into(),
            first,
            second,
            *first_root,
            *second_root,
            extended,
        ));
        let mut prepended = vec![extra];
        prepended.extend_from_slice(path);
        probes.push((
            "preceding hash".into(),
            first,
            second,
            *first_root,
            *second_root,
            prepended,
        ));
    }
    let mut doubled = vec![path[0]];
    doubled.extend_from_slice(path);
    probes.push((
        "preceding path[0]".into(),
        first,
        second,
        *first_root,
        *second_root,
        doubled,
    ));
    probes.push((
        "truncated".into(),
        first,
        second,
        *first_root,
        *second_root,
        path[..path.len() - 1].to_vec(),
    ));
    if path.len() > 1 {
        let mut swapped = path.to_vec();
        swapped.swap(0, 1);
        probes.push((
            "swapped".into(),
            first,
            second,
            *first_root,
            *second_root,
            swapped,
        ));
    }
    for element in 0..path.len() {
        for byte in 0..32 {
            let mut tampered = path.to_vec();
            tampered[element][byte] ^= 0x10;
            probes.push((
                format!("path[{element}] byte {byte}"),
                first,
                second,
                *first_root,
                *second_root,
                tampered,
            ));
        }
    }
    for (what, f, s, fr, sr, path) in probes {
        assert!(
            verify_consistency(f, s, &fr, &sr, &path).is_err(),
            "consistency {first} to {second}: tampered proof ({what}) verified"
        );
    }
}

#[test]
fn golden_proofs_as_json() {
    let tree = golden_tree();
    let proof = InclusionProof::from_source(&tree, 5, 8).unwrap();
    let json = serde_json::to_string(&proof).unwrap();
    // The field order and spelling of formats.md §3, hashes from proof/verify_test.go.
    let expected = concat!(
        r#"{"leaf_index":5,"tree_size":8,"#,
        r#""leaf_sha256":"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658","#,
        r#""path":["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b","#,
        r#""ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0","#,
        r#""d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],"#,
        r#""root":"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"}"#
    );
    assert_eq!(json, expected);
    let parsed: InclusionProof = serde_json::from_str(expected).unwrap();
    assert_eq!(parsed, proof);
    assert_eq!(parsed.verify(), Ok(()));

    let proof = ConsistencyProof::from_source(&tree, 2, 5).unwrap();
    let json = serde_json::to_string(&proof).unwrap();
    let expected = concat!(
        r#"{"first":2,"second":5,"#,
        r#""first_root":"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125","#,
        r#""second_root":"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4","#,
        r#""path":["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e","#,
        r#""bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]}"#
    );
    assert_eq!(json, expected);
    let parsed: ConsistencyProof = serde_json::from_str(expected).unwrap();
    assert_eq!(parsed, proof);
    assert_eq!(parsed.verify(), Ok(()));
}

#[test]
fn proof_json_is_parsed_strictly() {
    let good = r#"{"first":2,"second":5,"first_root":"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125","second_root":"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4","path":["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e","bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]}"#;
    assert!(serde_json::from_str::<ConsistencyProof>(good).is_ok());
    let bad = [
        // Upper-case hex.
        good.replace("fac54203e7cc", "FAC54203E7CC"),
        // A hash one digit short.
        good.replace("fac54203e7cc", "fac54203e7c"),
        // An unknown field.
        good.replace(r#""first":2,"#, r#""first":2,"extra":null,"#),
        // A missing field.
        good.replace(r#""first":2,"#, ""),
        // A negative, fractional or too large integer.
        good.replace(r#""first":2,"#, r#""first":-2,"#),
        good.replace(r#""first":2,"#, r#""first":2.0,"#),
        good.replace(r#""second":5,"#, r#""second":9007199254740992,"#),
        // A hash as a number, a path as a string.
        good.replace(
            r#""path":["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e","bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]"#,
            r#""path":"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e""#,
        ),
    ];
    for text in bad {
        assert_ne!(text, good, "each bad case changes the text");
        assert!(
            serde_json::from_str::<ConsistencyProof>(&text).is_err(),
            "accepted {text}"
        );
    }
    // The largest JSON-safe integer is fine to parse (verifying then fails on its own terms).
    let largest = good.replace(r#""second":5,"#, r#""second":9007199254740991,"#);
    let parsed: ConsistencyProof = serde_json::from_str(&largest).unwrap();
    assert!(parsed.verify().is_err());
    // A path longer than any valid proof is refused while parsing.
    let hash = format!("\"{}\"", "00".repeat(32));
    let long = format!(
        r#"{{"leaf_index":0,"tree_size":1,"leaf_sha256":{hash},"path":[{}],"root":{hash}}}"#,
        vec![hash.as_str(); MAX_PATH_LEN + 1].join(",")
    );
    let error = serde_json::from_str::<InclusionProof>(&long).unwrap_err();
    assert!(error.to_string().contains("at most 65"), "{error}");
}

/// MTH of RFC 9162 §2.1.1, written straight from the definition over a slice of leaf hashes.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = naive_split(n);
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than n, by counting up.
fn naive_split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH of RFC 9162 §2.1.3.1, straight from the definition.
fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return Vec::new();
    }
    let k = naive_split(n);
    if m < k {
        let mut path = naive_path(m, &leaves[..k]);
        path.push(naive_root(&leaves[k..]));
        path
    } else {
        let mut path = naive_path(m - k, &leaves[k..]);
        path.push(naive_root(&leaves[..k]));
        path
    }
}

/// SUBPROOF of RFC 9162 §2.1.4.1, straight from the definition.
fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![naive_root(leaves)]
        };
    }
    let k = naive_split(n);
    if m <= k {
        let mut proof = naive_subproof(m, &leaves[..k], whole);
        proof.push(naive_root(&leaves[k..]));
        proof
    } else {
        let mut proof = naive_subproof(m - k, &leaves[k..], false);
        proof.push(naive_root(&leaves[..k]));
        proof
    }
}

fn numbered_leaves(size: usize, salt: u64) -> Vec<Hash> {
    (0..size as u64)
        .map(|i| leaf_hash(&[salt.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

#[test]
fn every_proof_of_small_trees_matches_the_rfc_definition() {
    // Exhaustive up to 40 leaves: every size, every leaf, every pair of sizes.
    let leaves = numbered_leaves(40, 0);
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    for second in 1..=leaves.len() {
        let prefix = &leaves[..second];
        let second_root = naive_root(prefix);
        assert_eq!(root_at(&tree, second as u64).unwrap(), second_root);
        for (leaf_index, leaf) in prefix.iter().enumerate() {
            let path = inclusion_proof(&tree, leaf_index as u64, second as u64).unwrap();
            assert_eq!(
                path,
                naive_path(leaf_index, prefix),
                "inclusion {leaf_index} in {second}"
            );
            assert_eq!(
                verify_inclusion(leaf_index as u64, second as u64, leaf, &path, &second_root),
                Ok(())
            );
        }
        for first in 1..=second {
            let path = consistency_proof(&tree, first as u64, second as u64).unwrap();
            let expected = if first == second {
                Vec::new()
            } else {
                naive_subproof(first, prefix, true)
            };
            assert_eq!(path, expected, "consistency {first} to {second}");
            let first_root = naive_root(&leaves[..first]);
            assert_eq!(
                verify_consistency(
                    first as u64,
                    second as u64,
                    &first_root,
                    &second_root,
                    &path
                ),
                Ok(())
            );
        }
    }
}

#[test]
fn tampering_fails_for_every_proof_of_a_small_tree() {
    let leaves = numbered_leaves(21, 1);
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    for second in 1..=leaves.len() as u64 {
        let second_root = root_at(&tree, second).unwrap();
        for leaf_index in 0..second {
            let path = inclusion_proof(&tree, leaf_index, second).unwrap();
            assert_tampered_inclusion_fails(
                leaf_index,
                second,
                &leaves[leaf_index as usize],
                &path,
                &second_root,
            );
        }
        for first in 1..second {
            let path = consistency_proof(&tree, first, second).unwrap();
            let first_root = root_at(&tree, first).unwrap();
            assert_tampered_consistency_fails(first, second, &first_root, &second_root, &path);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For random trees up to 300 leaves: the frontier, root_at and the RFC definition agree,
    /// every inclusion and consistency proof verifies, and a one-byte change to any path hash breaks it.
    #[test]
    fn proofs_verify_and_tampering_fails(
        size in 1usize..=300,
        salt in any::<u64>(),
        tamper_byte in 0usize..32,
        tamper_bit in 0u8..8,
        probes in proptest::collection::vec((any::<u64>(), any::<u64>()), 8),
    ) {
        let leaves = numbered_leaves(size, salt);
        let tree = MemoryTree::from_leaves(leaves.iter().copied());
        let naive = naive_root(&leaves);
        prop_assert_eq!(tree.root(), naive);
        prop_assert_eq!(root_at(&tree, size as u64).unwrap(), naive);
        prop_assert_eq!(Frontier::from_source(size as u64, &tree).unwrap(), tree.frontier().clone());

        let sizes = (1..=size as u64).map(|s| (s, root_at(&tree, s).unwrap())).collect::<Vec<_>>();
        let flip = |path: &[Hash], element: usize| {
            let mut tampered = path.to_vec();
            tampered[element][tamper_byte] ^= 1 << tamper_bit;
            tampered
        };
        for leaf_index in 0..size as u64 {
            let path = inclusion_proof(&tree, leaf_index, size as u64).unwrap();
            let leaf = leaves[leaf_index as usize];
            prop_assert_eq!(verify_inclusion(leaf_index, size as u64, &leaf, &path, &naive), Ok(()));
            for element in 0..path.len() {
                prop_assert!(verify_inclusion(leaf_index, size as u64, &leaf, &flip(&path, element), &naive).is_err());
            }
        }
        for &(first, first_root) in &sizes {
            let path = consistency_proof(&tree, first, size as u64).unwrap();
            prop_assert_eq!(verify_consistency(first, size as u64, &first_root, &naive, &path), Ok(()));
            for element in 0..path.len() {
                prop_assert!(verify_consistency(first, size as u64, &first_root, &naive, &flip(&path, element)).is_err());
            }
        }
        // Random pairs below the full size, to cover proofs that end inside the tree.
        for (a, b) in probes {
            let second = 1 + b % size as u64;
            let first = 1 + a % second;
            let leaf_index = a % second;
            let (_, second_root) = sizes[second as usize - 1];
            let (_, first_root) = sizes[first as usize - 1];
            let path = inclusion_proof(&tree, leaf_index, second).unwrap();
            prop_assert_eq!(&path, &naive_path(leaf_index as usize, &leaves[..second as usize]));
            prop_assert_eq!(verify_inclusion(leaf_index, second, &leaves[leaf_index as usize], &path, &second_root), Ok(()));
            let path = consistency_proof(&tree, first, second).unwrap();
            prop_assert_eq!(verify_consistency(first, second, &first_root, &second_root, &path), Ok(()));
            if first < second {
                prop_assert!(verify_consistency(first, second, &second_root, &first_root, &path).is_err());
            }
        }
    }

    /// Appending leaf by leaf and persisting what `push` returns gives a store from which the frontier rebuilds exactly.
    #[test]
    fn frontier_rebuilds_from_what_push_returned(size in 0u64..300) {
        let mut frontier = Frontier::new();
        let mut stored = std::collections::HashMap::new();
        for i in 0..size {
            for (level, index, hash) in frontier.push(leaf_hash(&i.to_be_bytes())) {
                prop_assert!(stored.insert((level, index), hash).is_none(), "node written twice");
            }
        }
        struct Stored<'a>(&'a std::collections::HashMap<(u8, u64), Hash>);
        impl NodeSource for Stored<'_> {
            type Error = (u8, u64);
            fn node(&self, level: u8, index: u64) -> Result<Hash, (u8, u64)> {
                self.0.get(&(level, index)).copied().ok_or((level, index))
            }
        }
        let rebuilt = Frontier::from_source(size, &Stored(&stored)).unwrap();
        prop_assert_eq!(&rebuilt, &frontier);
        prop_assert_eq!(rebuilt.root(), root_at(&Stored(&stored), size).unwrap());
        // Every perfect subtree inside the size, and nothing else, was handed out to be stored.
        let expected: u64 = (0..64).map(|level| size >> level).sum();
        prop_assert_eq!(stored.len() as u64, expected);
    }
}
