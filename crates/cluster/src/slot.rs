//! Hash slots: `CRC16/XMODEM(key) % 16384`, over the key's hash tag when it has one.

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

/// The part of `key` that is hashed: its hash tag if it has a non-empty one, else the
/// whole key.
///
/// ```
/// use slotline_cluster::hash_tag;
/// assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
/// assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
/// assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
/// assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
/// ```
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.iter().position(|&b| b == b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
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
