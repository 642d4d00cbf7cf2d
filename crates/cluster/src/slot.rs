//! Hash slots: `CRC16/XMODEM(key) % 16384`, over the key's hash tag when it has one.

pub use slotline_conn::shard::hash_tag;

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The hash slot of `key`, as Redis Cluster computes it.
///
/// When the key has a hash tag (a `{` followed later by a `}` with at least one byte
/// between them; the first `{` and the first `}` after it count), only the tag is hashed,
/// so `{user1000}.following` and `{user1000}.followers` share a slot.
///
/// ```
/// use slotline_cluster::slot;
/// assert_eq!(slot(b"123456789"), 12739);
/// assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
/// assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}")); // empty tag: the whole key
/// assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
/// ```
pub fn slot(key: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b""), 0);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{}"), slot(b"{}"));
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"}{"), b"}{");
        assert_eq!(hash_tag(b"a{b}"), b"b");
    }
}
