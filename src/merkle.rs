//! The RFC 9162 §2.1 Merkle tree over leaf hashes: roots, inclusion and consistency proofs, their verifiers and their JSON form.
//!
//! The tree is stored as the hashes of its *perfect subtrees*.
//! Node `(level, index)` covers the leaves `[index·2^level, (index+1)·2^level)`; level 0 holds the leaf hashes themselves.
//! Once written such a node never changes, so a store can keep it on disk and answer every question below in O(log n) reads:
//! any range the RFC definitions need is a left-aligned run of leaves, which splits into at most 64 perfect subtrees.
//!
//! The verifiers use nothing but SHA-256 and follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, so an auditor can compare them line by line.
//! This module does no IO.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node or a root.
pub type Hash = [u8; 32];

/// Largest number of hashes a valid proof path can hold.
///
/// An inclusion path has `inner + border ≤ 64` hashes (one per bit of a 64-bit index);
/// a consistency path has at most one more, the seed of the first tree.
/// Parsing refuses longer paths before allocating them.
pub const MAX_PATH_LEN: usize = 65;

/// Largest integer the JSON formats carry (formats.md §1: integers from 0 to 2^53 − 1), so that every JSON parser reads it exactly.
pub const MAX_JSON_INTEGER: u64 = (1 << 53) - 1;

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The leaf hash of RFC 9162: SHA-256(0x00 ‖ leaf input).
///
/// The log computes leaf inputs elsewhere (formats.md §2); this is here so tools and tests hash leaves the same way.
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf_input);
    hasher.finalize().into()
}

/// An interior node of RFC 9162: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Where the hashes of complete perfect subtrees are kept.
///
/// `node(level, index)` is the hash of the perfect subtree over leaves `[index·2^level, (index+1)·2^level)`;
/// level 0 is the leaf hashes.
/// It is only ever asked for subtrees that lie entirely inside the tree size the caller passed,
/// so a source that answers it for every complete subtree of its current size serves every older size too.
pub trait NodeSource {
    /// What goes wrong reading a node (IO, corruption, a node that is not there).
    type Error;

    /// The hash of the complete perfect subtree `(level, index)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// Arguments that name no proof: the caller asked for something outside the tree.
///
/// A server should answer these with a 400 naming the arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// An inclusion proof needs `leaf_index < tree_size`.
    #[error("leaf_index {leaf_index} is not below tree_size {tree_size}")]
    LeafIndexOutOfRange {
        /// The requested leaf.
        leaf_index: u64,
        /// The requested tree size.
        tree_size: u64,
    },
    /// A consistency proof needs `0 < first ≤ second`.
    #[error(
        "a consistency proof needs 0 < first <= second, got first {first} and second {second}"
    )]
    ConsistencySizes {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
    },
}

/// Why a proof could not be built: bad arguments, or the node source failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError<E> {
    /// The arguments name no proof; report them to the caller.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// Reading a node failed; this is the store's problem, not the caller's.
    #[error("reading a tree node failed: {0}")]
    Source(E),
}

/// Why a proof does not verify.
///
/// Any of these means the proof proves nothing; a client should distrust whoever served it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf_index {leaf_index} is not below tree_size {tree_size}")]
    IndexOutOfRange {
        /// The leaf the proof is about.
        leaf_index: u64,
        /// The tree size the proof is about.
        tree_size: u64,
    },
    /// The sizes of a consistency proof are not `0 < first ≤ second`.
    #[error(
        "a consistency proof needs 0 < first <= second, got first {first} and second {second}"
    )]
    InvalidSizes {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
    },
    /// The path has not the number of hashes these sizes need.
    #[error("the path has {actual} hashes where {expected} are needed")]
    WrongPathLength {
        /// How many hashes the sizes call for.
        expected: usize,
        /// How many the path has.
        actual: usize,
    },
    /// The root computed from the path is not the root given.
    #[error("the path does not lead to the given root")]
    RootMismatch,
    /// The path does not lead to the first root of a consistency proof.
    #[error("the path does not lead to first_root")]
    FirstRootMismatch,
    /// The path does not lead to the second root of a consistency proof.
    #[error("the path does not lead to second_root")]
    SecondRootMismatch,
}

/// The largest power of two strictly below `n` (the RFC's `k`); needs `n ≥ 2`.
fn split_point(n: u64) -> u64 {
    assert!(n >= 2, "split_point needs at least two leaves, got {n}");
    1 << (63 - (n - 1).leading_zeros())
}

/// The RFC 9162 hash of the leaves `[start, end)`, read as at most 64 perfect subtrees.
///
/// Every range the RFC definitions use starts at a multiple of the largest power of two in its length,
/// so its perfect pieces (the set bits of `end - start`, largest first) are each aligned and stored.
/// The RFC tree over n leaves is exactly those pieces folded from the right, since its left child is always the largest power of two below n.
fn range_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    assert!(start < end, "empty or reversed range [{start}, {end})");
    let length = end - start;
    let mut pieces: Vec<Hash> = Vec::with_capacity(length.count_ones() as usize);
    let mut position = start;
    for level in (0..64u8).rev() {
        let width = 1u64 << level;
        if length & width != 0 {
            assert_eq!(
                position % width,
                0,
                "range [{start}, {end}) is not aligned at level {level}"
            );
            pieces.push(src.node(level, position / width)?);
            position += width;
        }
    }
    debug_assert_eq!(position, end);
    let mut hash = pieces.pop().expect("a non-empty range has a piece");
    while let Some(left) = pieces.pop() {
        hash = node_hash(&left, &hash);
    }
    Ok(hash)
}

/// The root of the first `size` leaves, in `popcount(size)` node reads.
pub fn root_at<S: NodeSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// The inclusion path of RFC 9162 §2.1.3.1 for leaf `leaf_index` in the tree of the first `tree_size` leaves, in O(log n) node reads.
///
/// The path runs from the leaf upwards: the first hash is the leaf's sibling.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if leaf_index >= tree_size {
        return Err(RangeError::LeafIndexOutOfRange {
            leaf_index,
            tree_size,
        }
        .into());
    }
    let mut path = Vec::new();
    inclusion_path(src, leaf_index, 0, tree_size, &mut path).map_err(ProveError::Source)?;
    debug_assert_eq!(path.len(), inclusion_path_len(leaf_index, tree_size));
    Ok(path)
}

/// PATH(m, D[start:start+n]) of RFC 9162 §2.1.3.1, with `m` relative to `start`.
///
/// Going left reads one right-hand range (its pieces) and then stays inside a perfect subtree, where every sibling is one node;
/// going right reads one perfect left sibling. So the whole path costs at most about 2·log2(n) reads.
fn inclusion_path<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    debug_assert!(m < n);
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        inclusion_path(src, m, start, k, path)?;
        path.push(range_hash(src, start + k, start + n)?);
    } else {
        inclusion_path(src, m - k, start + k, n - k, path)?;
        path.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// The consistency path of RFC 9162 §2.1.4.1 from the tree of `first` leaves to the tree of `second` leaves, in O(log n) node reads.
///
/// Per formats.md §3 it needs `0 < first ≤ second`; for `first = second` the path is empty.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if first == 0 || first > second {
        return Err(RangeError::ConsistencySizes { first, second }.into());
    }
    let mut path = Vec::new();
    if first < second {
        subproof(src, first, 0, second, true, &mut path).map_err(ProveError::Source)?;
    }
    debug_assert_eq!(path.len(), consistency_path_len(first, second));
    Ok(path)
}

/// SUBPROOF(m, D[start:start+n], b) of RFC 9162 §2.1.4.1.
fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    whole_first_tree: bool,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    debug_assert!(0 < m && m <= n);
    if m == n {
        if !whole_first_tree {
            path.push(range_hash(src, start, start + m)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, k, whole_first_tree, path)?;
        path.push(range_hash(src, start + k, start + n)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, path)?;
        path.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// The RFC path splits into `inner` levels below the point where the leaf's path leaves the last (rightmost) node's path,
/// and `border` levels above it where the leaf's ancestor is a right child (one sibling each); the rest are skipped.
fn inclusion_decomposition(leaf_index: u64, tree_size: u64) -> (u32, u32) {
    debug_assert!(leaf_index < tree_size);
    let inner = 64 - (leaf_index ^ (tree_size - 1)).leading_zeros();
    let border = leaf_index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// How many hashes the inclusion path of `leaf_index` in a tree of `tree_size` leaves has.
fn inclusion_path_len(leaf_index: u64, tree_size: u64) -> usize {
    let (inner, border) = inclusion_decomposition(leaf_index, tree_size);
    (inner + border) as usize
}

/// How many hashes the consistency path from `first` to `second` has (`0 < first ≤ second`).
fn consistency_path_len(first: u64, second: u64) -> usize {
    debug_assert!(0 < first && first <= second);
    if first == second {
        return 0;
    }
    // The path is that of the last leaf of the first tree, minus the levels inside the
    // perfect subtree that ends the first tree (they are implied by the first tree itself),
    // plus that subtree's own hash unless it is the whole first tree.
    let (inner, border) = inclusion_decomposition(first - 1, second);
    let shift = first.trailing_zeros();
    debug_assert!(
        shift < inner,
        "first < second keeps the split above the first tree's last subtree"
    );
    let seed = usize::from(!first.is_power_of_two());
    seed + (inner - shift + border) as usize
}

/// Verifies an inclusion proof exactly as RFC 9162 §2.1.3.2 says, using nothing but SHA-256.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1.
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    // Not an RFC step: it only turns a wrong length into a clearer error than "no match".
    let expected = inclusion_path_len(leaf_index, tree_size);
    if path.len() != expected {
        return Err(ProofError::WrongPathLength {
            expected,
            actual: path.len(),
        });
    }
    // Steps 2 and 3.
    let mut f_n = leaf_index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    // Step 4.
    for p in path {
        if s_n == 0 {
            return Err(ProofError::WrongPathLength {
                expected,
                actual: path.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    if s_n != 0 {
        return Err(ProofError::WrongPathLength {
            expected,
            actual: path.len(),
        });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof exactly as RFC 9162 §2.1.4.2 says, using nothing but SHA-256.
///
/// Per formats.md §3, `0 < first ≤ second`; for `first = second` the path must be empty and the roots equal.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::InvalidSizes { first, second });
    }
    let expected = consistency_path_len(first, second);
    if path.len() != expected {
        return Err(ProofError::WrongPathLength {
            expected,
            actual: path.len(),
        });
    }
    if first == second {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // Step 1: with first < second the expected length is never zero, so this cannot pass an empty path.
    let Some(first_path_hash) = path.first() else {
        return Err(ProofError::WrongPathLength {
            expected,
            actual: 0,
        });
    };
    // Step 2, without copying: when first is a power of two, the seed is first_root and every path hash follows it.
    let (seed, rest) = if first.is_power_of_two() {
        (first_root, path)
    } else {
        (first_path_hash, &path[1..])
    };
    // Step 3.
    let mut f_n = first - 1;
    let mut s_n = second - 1;
    // Step 4.
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let mut f_r = *seed;
    let mut s_r = *seed;
    // Step 6.
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::WrongPathLength {
                expected,
                actual: path.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(ProofError::WrongPathLength {
            expected,
            actual: path.len(),
        });
    }
    if f_r != *first_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if s_r != *second_root {
        return Err(ProofError::SecondRootMismatch);
    }
    Ok(())
}

/// The right border of the tree (a compact range): the roots of the perfect subtrees that make up the first `size` leaves, largest first.
///
/// It is all an appender needs in memory: at most 64 hashes, one per set bit of the size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `hashes[i]` is the subtree for the i-th set bit of `size`, counted from the most significant.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of the first `size` leaves from stored nodes, in `popcount(size)` reads.
    pub fn from_source<S: NodeSource>(size: u64, src: &S) -> Result<Self, S::Error> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut position = 0u64;
        for level in (0..64u8).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                hashes.push(src.node(level, position / width)?);
                position += width;
            }
        }
        debug_assert_eq!(position, size);
        Ok(Self { size, hashes })
    }

    /// Appends a leaf hash and returns every perfect subtree it completes, smallest first:
    /// the leaf itself at `(0, size)`, then each parent that now has both children.
    /// A store persists exactly these nodes; nothing written earlier ever changes.
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves, which no real log reaches.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        assert!(self.size < u64::MAX, "the tree is full");
        let mut completed = Vec::with_capacity(self.size.trailing_ones() as usize + 1);
        let mut level = 0u8;
        let mut index = self.size;
        let mut hash = leaf;
        completed.push((level, index, hash));
        // Each trailing one bit of the old size is a perfect subtree of that level waiting for a right sibling.
        while index & 1 == 1 {
            let left = self
                .hashes
                .pop()
                .expect("a set bit of the size has its subtree in the frontier");
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed.push((level, index, hash));
        }
        self.hashes.push(hash);
        self.size += 1;
        assert_eq!(self.hashes.len(), self.size.count_ones() as usize);
        completed
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 9162 root of the tree.
    pub fn root(&self) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        let Some(last) = hashes.next() else {
            return empty_root();
        };
        hashes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// The perfect subtree roots, largest first, one per set bit of the size.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }
}

/// A whole tree in memory, for tests and tools: the leaf hashes and every completed perfect node.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    frontier: Frontier,
    leaves: Vec<Hash>,
    /// Nodes of level 1 and above, as `Frontier::push` completes them.
    nodes: HashMap<(u8, u64), Hash>,
}

/// A node the in-memory tree does not (yet) have: it is not a complete subtree of its current size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node (level {level}, index {index}) is not a complete subtree of a tree of size {size}")]
pub struct MissingNode {
    /// The requested level.
    pub level: u8,
    /// The requested index within the level.
    pub index: u64,
    /// The size of the tree asked.
    pub size: u64,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree over these leaf hashes, in order.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.frontier.size();
        for (level, node_index, hash) in self.frontier.push(leaf) {
            if level == 0 {
                self.leaves.push(hash);
            } else {
                let previous = self.nodes.insert((level, node_index), hash);
                assert!(
                    previous.is_none(),
                    "node ({level}, {node_index}) completed twice"
                );
            }
        }
        index
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }

    /// The frontier of the whole tree.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        let missing = MissingNode {
            level,
            index,
            size: self.size(),
        };
        if level == 0 {
            let position = usize::try_from(index).map_err(|_| missing.clone())?;
            return self.leaves.get(position).copied().ok_or(missing);
        }
        self.nodes.get(&(level, index)).copied().ok_or(missing)
    }
}

/// An inclusion proof as JSON (formats.md §3), hashes in lower-case hex.
///
/// `verify` checks only that the path leads from the leaf to `root`;
/// the caller must still check that `root` is the root of a checkpoint it trusts for `tree_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// 0-based position of the leaf.
    #[serde(deserialize_with = "json_integer")]
    pub leaf_index: u64,
    /// Number of leaves of the tree the proof is for.
    #[serde(deserialize_with = "json_integer")]
    pub tree_size: u64,
    /// The leaf hash, SHA-256(0x00 ‖ leaf input).
    #[serde(with = "hex_hash")]
    pub leaf_sha256: Hash,
    /// The RFC 9162 inclusion path, from the leaf upwards.
    #[serde(with = "hex_path")]
    pub path: Vec<Hash>,
    /// The root of the tree of `tree_size` leaves.
    #[serde(with = "hex_hash")]
    pub root: Hash,
}

impl InclusionProof {
    /// Builds the proof for leaf `leaf_index` in the tree of the first `tree_size` leaves.
    pub fn from_source<S: NodeSource>(
        src: &S,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<Self, ProveError<S::Error>> {
        let path = inclusion_proof(src, leaf_index, tree_size)?;
        let leaf_sha256 = src.node(0, leaf_index).map_err(ProveError::Source)?;
        let root = root_at(src, tree_size).map_err(ProveError::Source)?;
        Ok(Self {
            leaf_index,
            tree_size,
            leaf_sha256,
            path,
            root,
        })
    }

    /// Checks the path leads from `leaf_sha256` at `leaf_index` to `root`.
    pub fn verify(&self) -> Result<(), ProofError> {
        verify_inclusion(
            self.leaf_index,
            self.tree_size,
            &self.leaf_sha256,
            &self.path,
            &self.root,
        )
    }
}

/// A consistency proof as JSON (formats.md §3), hashes in lower-case hex.
///
/// `verify` checks only that the two roots are consistent;
/// the caller must still check that they are the roots of checkpoints it trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree size.
    #[serde(deserialize_with = "json_integer")]
    pub first: u64,
    /// The newer tree size.
    #[serde(deserialize_with = "json_integer")]
    pub second: u64,
    /// The root of the older tree.
    #[serde(with = "hex_hash")]
    pub first_root: Hash,
    /// The root of the newer tree.
    #[serde(with = "hex_hash")]
    pub second_root: Hash,
    /// The RFC 9162 consistency path.
    #[serde(with = "hex_path")]
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Builds the proof that the tree of `first` leaves is a prefix of the tree of `second` leaves.
    pub fn from_source<S: NodeSource>(
        src: &S,
        first: u64,
        second: u64,
    ) -> Result<Self, ProveError<S::Error>> {
        let path = consistency_proof(src, first, second)?;
        let first_root = root_at(src, first).map_err(ProveError::Source)?;
        let second_root = root_at(src, second).map_err(ProveError::Source)?;
        Ok(Self {
            first,
            second,
            first_root,
            second_root,
            path,
        })
    }

    /// Checks the path proves `first_root` is a prefix of `second_root`.
    pub fn verify(&self) -> Result<(), ProofError> {
        verify_consistency(
            self.first,
            self.second,
            &self.first_root,
            &self.second_root,
            &self.path,
        )
    }
}

/// Parses one hash written as exactly 64 lower-case hex digits, the only spelling the formats use.
pub fn parse_hex_hash(text: &str) -> Result<Hash, HexHashError> {
    if text.len() != 64 {
        return Err(HexHashError::WrongLength { len: text.len() });
    }
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(HexHashError::NotLowerHex);
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).map_err(|_| HexHashError::NotLowerHex)?;
    Ok(hash)
}

/// Why a string is not a hash in the formats' spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexHashError {
    /// A hash is 64 hex digits.
    #[error("a hash is 64 hex digits, got {len} characters")]
    WrongLength {
        /// The length found, in bytes.
        len: usize,
    },
    /// Only `0-9a-f` are allowed; upper case is refused so that each hash has one spelling.
    #[error("a hash is written in lower-case hex digits only")]
    NotLowerHex,
}

/// A hash as a lower-case hex string.
struct HexDisplay<'a>(&'a Hash);

impl fmt::Display for HexDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Refuses integers the JSON formats cannot carry exactly.
fn json_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = u64::deserialize(deserializer)?;
    if value > MAX_JSON_INTEGER {
        return Err(serde::de::Error::custom(format_args!(
            "integer {value} is above 2^53 - 1"
        )));
    }
    Ok(value)
}

mod hex_hash {
    //! Serde for one hash as a lower-case hex string.
    use super::*;

    pub fn serialize<S: Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&HexDisplay(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse_hex_hash(&text).map_err(serde::de::Error::custom)
    }
}

mod hex_path {
    //! Serde for a proof path: at most `MAX_PATH_LEN` lower-case hex hashes.
    use super::*;
    use serde::de::{SeqAccess, Visitor};
    use serde::ser::SerializeSeq;

    pub fn serialize<S: Serializer>(path: &[Hash], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(path.len()))?;
        for hash in path {
            seq.serialize_element(&HexDisplay(hash).to_string())?;
        }
        seq.end()
    }

    struct HexHash(Hash);

    impl<'de> Deserialize<'de> for HexHash {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            super::hex_hash::deserialize(deserializer).map(HexHash)
        }
    }

    struct PathVisitor;

    impl<'de> Visitor<'de> for PathVisitor {
        type Value = Vec<Hash>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an array of at most {MAX_PATH_LEN} hex hashes")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Hash>, A::Error> {
            let mut path = Vec::new();
            while let Some(HexHash(hash)) = seq.next_element()? {
                if path.len() == MAX_PATH_LEN {
                    return Err(serde::de::Error::custom(format_args!(
                        "a proof path has at most {MAX_PATH_LEN} hashes"
                    )));
                }
                path.push(hash);
            }
            Ok(path)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Hash>, D::Error> {
        deserializer.deserialize_seq(PathVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node source that counts its reads, to hold the O(log n) promise.
    struct Counting<'a> {
        tree: &'a MemoryTree,
        reads: std::cell::Cell<u64>,
    }

    impl NodeSource for Counting<'_> {
        type Error = MissingNode;

        fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
            self.reads.set(self.reads.get() + 1);
            self.tree.node(level, index)
        }
    }

    fn tree_of(size: u64) -> MemoryTree {
        MemoryTree::from_leaves((0..size).map(|i| leaf_hash(&i.to_be_bytes())))
    }

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ];
        for (n, k) in cases {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn reads_stay_logarithmic() {
        let tree = tree_of(1000);
        let counting = Counting {
            tree: &tree,
            reads: std::cell::Cell::new(0),
        };
        for size in 1..=1000u64 {
            // log2(1000) < 10: a path costs at most one read per level plus one range of at most 10 pieces.
            let bound = 2 * (64 - size.leading_zeros()) as u64 + 1;
            counting.reads.set(0);
            root_at(&counting, size).unwrap();
            assert_eq!(counting.reads.get(), u64::from(size.count_ones()));
            counting.reads.set(0);
            Frontier::from_source(size, &counting).unwrap();
            assert_eq!(counting.reads.get(), u64::from(size.count_ones()));
            for leaf in [0, size / 3, size / 2, size - 1] {
                counting.reads.set(0);
                inclusion_proof(&counting, leaf, size).unwrap();
                assert!(counting.reads.get() <= bound, "inclusion {leaf} in {size}");
            }
            for first in [1, size / 3 + 1, size / 2 + 1, size] {
                counting.reads.set(0);
                consistency_proof(&counting, first, size).unwrap();
                assert!(
                    counting.reads.get() <= bound,
                    "consistency {first} to {size}"
                );
            }
        }
    }

    #[test]
    fn push_returns_every_completed_node_once() {
        let mut frontier = Frontier::new();
        let completed = frontier.push([1; 32]);
        assert_eq!(completed, vec![(0, 0, [1; 32])]);
        let completed = frontier.push([2; 32]);
        assert_eq!(
            completed,
            vec![(0, 1, [2; 32]), (1, 0, node_hash(&[1; 32], &[2; 32]))]
        );
        // Leaf 7 completes (0,7), (1,3), (2,1) and (3,0).
        let mut frontier = Frontier::new();
        for i in 0..7u8 {
            frontier.push([i; 32]);
        }
        let levels: Vec<(u8, u64)> = frontier
            .push([7; 32])
            .into_iter()
            .map(|(level, index, _)| (level, index))
            .collect();
        assert_eq!(levels, vec![(0, 7), (1, 3), (2, 1), (3, 0)]);
        assert_eq!(frontier.hashes().len(), 1);
    }

    #[test]
    fn memory_tree_refuses_incomplete_nodes() {
        let tree = tree_of(5);
        assert!(tree.node(0, 4).is_ok());
        assert_eq!(
            tree.node(0, 5),
            Err(MissingNode {
                level: 0,
                index: 5,
                size: 5
            })
        );
        assert!(tree.node(2, 0).is_ok());
        assert!(tree.node(2, 1).is_err());
        assert!(tree.node(3, 0).is_err());
    }

    #[test]
    fn range_errors_name_the_arguments() {
        let tree = tree_of(4);
        let error = inclusion_proof(&tree, 4, 4).unwrap_err();
        assert_eq!(error.to_string(), "leaf_index 4 is not below tree_size 4");
        for (first, second) in [(0, 3), (4, 3)] {
            let error = consistency_proof(&tree, first, second).unwrap_err();
            assert!(
                matches!(error, ProveError::Range(RangeError::ConsistencySizes { first: f, second: s }) if f == first && s == second),
                "{error}"
            );
        }
        // A size beyond what the source holds is the source's error, not a silent wrong answer.
        assert!(matches!(
            inclusion_proof(&tree, 0, 5),
            Err(ProveError::Source(MissingNode { .. }))
        ));
    }

    #[test]
    fn path_lengths_at_the_top_of_the_range() {
        // Sizes near 2^64 exercise the shifts by 64 that a naive formula would overflow on.
        // Leaf 0: 63 levels inside the left half of 2^63 leaves, then the right part as sibling.
        assert_eq!(inclusion_path_len(0, u64::MAX), 64);
        // The last leaf is a perfect piece of its own; its siblings are the other 63 pieces.
        assert_eq!(inclusion_path_len(u64::MAX - 1, u64::MAX), 63);
        // The first leaf of the right part: 63 inside it, plus the left half.
        assert_eq!(inclusion_path_len(1 << 63, u64::MAX), 64);
        // The first tree is the whole left half: only the right part is needed.
        assert_eq!(consistency_path_len(1 << 63, u64::MAX), 1);
        assert_eq!(consistency_path_len(1, u64::MAX), 64);
        // The longest path there is: the seed plus 64 levels.
        assert_eq!(consistency_path_len(3, u64::MAX), MAX_PATH_LEN);
    }

    #[test]
    fn hex_hashes_have_one_spelling() {
        let lower = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
        assert!(parse_hex_hash(lower).is_ok());
        assert_eq!(
            parse_hex_hash(&lower.to_uppercase()),
            Err(HexHashError::NotLowerHex)
        );
        assert_eq!(
            parse_hex_hash(&lower[..62]),
            Err(HexHashError::WrongLength { len: 62 })
        );
        assert_eq!(
            parse_hex_hash(&format!("{lower}00")),
            Err(HexHashError::WrongLength { len: 66 })
        );
        assert_eq!(
            parse_hex_hash(&format!("{}g", &lower[..63])),
            Err(HexHashError::NotLowerHex)
        );
        // Non-ASCII with the right byte length must not panic on a char boundary.
        assert_eq!(
            parse_hex_hash(&format!("{}é", &lower[..62])),
            Err(HexHashError::NotLowerHex)
        );
    }
}
