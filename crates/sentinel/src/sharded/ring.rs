//! Where a key lives among named shards: ketama consistent hashing, exactly as twemproxy
//! (nutcracker) computes it with `distribution: ketama` and `hash: md5`. Sans-IO.

use md5::{Digest, Md5};
use slotline_conn::shard::hash_tag;

/// Points each shard places on the ring (twemproxy's `KETAMA_POINTS_PER_SERVER`).
const POINTS_PER_SHARD: u32 = 160;
/// Points taken from one MD5 digest (four 32-bit words).
const POINTS_PER_HASH: u32 = 4;

/// A ketama ring over named shards, each of weight 1, compatible with twemproxy's
/// `distribution: ketama`, `hash: md5`, `hash_tag: "{}"` when its servers carry the same
/// names (`- 127.0.0.1:6379:1 svc1`): a key is placed on the same shard by both.
///
/// How it is built (twemproxy's `ketama_update`): shard `i` named `name` places 160
/// points; for `n` in `0..40`, the MD5 digest of `"{name}-{n}"` gives four points, its
/// four little-endian 32-bit words. The points are sorted. A key is hashed with the first
/// little-endian word of the MD5 of its hash tag (the bytes between the first `{` and the
/// first `}` after it, when not empty) or of the whole key, and belongs to the first point
/// at or after that hash, wrapping to the first point.
///
/// The arcs are uneven by design: with three shards named `svc1`, `svc2`, `svc3`,
/// about 29 %, 38 % and 33 % of keys land on each. The ring never changes while the client
/// lives; a shard that is down fails its keys instead of handing them to another.
///
/// ```
/// use slotline_sentinel::Ring;
/// let ring = Ring::new(["svc1", "svc2", "svc3"]).unwrap();
/// let shard = ring.shard_of(b"user:1000");
/// assert_eq!(ring.shard_of(b"{user:1000}.name"), shard); // hash tags keep keys together
/// assert!(["svc1", "svc2", "svc3"].contains(&ring.name(shard)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    names: Vec<String>,
    /// `(point, shard)`, sorted by point.
    points: Vec<(u32, usize)>,
}

impl Ring {
    /// The ring over these shard names, in this order (shard `i` is the `i`-th name).
    /// Refused: no name, an empty or repeated name.
    pub fn new<I>(names: I) -> Result<Ring, String>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Err("a ring needs at least one shard".into());
        }
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err("a shard name is empty".into());
            }
            if names[..i].contains(name) {
                return Err(format!("the shard name {name:?} is given twice"));
            }
        }
        let per_shard = points_per_shard(names.len());
        let mut points = Vec::with_capacity(names.len() * per_shard as usize);
        for (shard, name) in names.iter().enumerate() {
            for n in 0..per_shard / POINTS_PER_HASH {
                let digest = Md5::digest(format!("{name}-{n}").as_bytes());
                for word in 0..POINTS_PER_HASH as usize {
                    points.push((le_word(&digest, word), shard));
                }
            }
        }
        // Stable, so that equal points keep the order they were made in.
        points.sort_by_key(|&(point, _)| point);
        Ok(Ring { names, points })
    }

    /// The shard that owns `key` (an index into [`names`](Ring::names)).
    pub fn shard_of(&self, key: &[u8]) -> usize {
        let hash = key_hash(key);
        let at = self.points.partition_point(|&(point, _)| point < hash);
        self.points
            .get(at)
            .or_else(|| self.points.first())
            .map_or(0, |&(_, shard)| shard)
    }

    /// Each shard's share of the hash space (the arcs of its points), in shard order: the
    /// share of keys it gets, on average.
    pub fn shares(&self) -> Vec<f64> {
        let mut arcs = vec![0u64; self.names.len()];
        let mut previous = self.points.last().map_or(0, |&(p, _)| p);
        for &(point, shard) in &self.points {
            // The arc ending at `point` (wrapping round from the last point).
            arcs[shard] += u64::from(point.wrapping_sub(previous));
            previous = point;
        }
        let whole = (1u64 << 32) as f64;
        arcs.into_iter().map(|a| a as f64 / whole).collect()
    }

    /// The name of shard `i` (empty if there is no such shard).
    pub fn name(&self, shard: usize) -> &str {
        self.names.get(shard).map_or("", String::as_str)
    }

    /// The shard names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of shards.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a ring has at least one shard.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The hash of a key on the ring: twemproxy's `hash_md5` of its hash tag (or the key).
fn key_hash(key: &[u8]) -> u32 {
    le_word(&Md5::digest(hash_tag(key)), 0)
}

/// The `i`-th little-endian 32-bit word of a digest.
fn le_word(digest: &[u8], i: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(bytes) = digest.get(i * 4..i * 4 + 4) {
        word.copy_from_slice(bytes);
    }
    u32::from_le_bytes(word)
}

/// Points per shard of `n` shards of weight 1, computed in `f32` as twemproxy does
/// (`floorf(pct * 160 / 4 * n + 1e-10) * 4`), so that rounding agrees too.
fn points_per_shard(n: usize) -> u32 {
    let n = n as f32;
    let pct = 1.0f32 / n;
    let quarter = pct * POINTS_PER_SHARD as f32 / POINTS_PER_HASH as f32 * n;
    ((f64::from(quarter) + 0.000_000_000_1) as f32).floor() as u32 * POINTS_PER_HASH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_places_160_points_and_names_are_checked() {
        let ring = Ring::new(["svc1", "svc2", "svc3"]).unwrap();
        assert_eq!(ring.points.len(), 480);
        assert!(ring.points.windows(2).all(|w| w[0].0 <= w[1].0));
        for n in 1..=24 {
            assert_eq!(points_per_shard(n), 160, "{n} shards");
        }
        // twemproxy's f32 arithmetic rounds down here, and so does the ring.
        assert_eq!(points_per_shard(25), 156);
        assert!(Ring::new(Vec::<String>::new()).is_err());
        assert!(Ring::new(["a", ""]).is_err());
        assert!(Ring::new(["a", "b", "a"]).unwrap_err().contains("twice"));
    }

    #[test]
    fn the_key_hash_is_the_first_little_endian_word_of_md5() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(key_hash(b""), 0xd98c_1dd4);
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(key_hash(b"a"), 0xb975_c10c);
        assert_eq!(key_hash(b"x{a}y"), key_hash(b"a"));
    }

    #[test]
    fn a_key_goes_to_the_first_point_at_or_after_its_hash_wrapping() {
        let ring = Ring::new(["svc1", "svc2", "svc3"]).unwrap();
        for key in ["", "a", "user:1", "{tag}x", "zzzzzzzz"] {
            let hash = key_hash(key.as_bytes());
            let expected = ring
                .points
                .iter()
                .find(|&&(p, _)| p >= hash)
                .unwrap_or(&ring.points[0])
                .1;
            assert_eq!(ring.shard_of(key.as_bytes()), expected, "{key}");
        }
        let shares = ring.shares();
        assert!(
            (shares.iter().sum::<f64>() - 1.0).abs() < 1e-9,
            "{shares:?}"
        );
        let one = Ring::new(["only"]).unwrap();
        assert_eq!(one.shard_of(b"anything"), 0);
        assert_eq!(one.name(0), "only");
        assert_eq!(one.name(7), "");
    }
}
