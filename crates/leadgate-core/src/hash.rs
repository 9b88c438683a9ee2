//! 64-bit FNV-1a: small and stable, the one hash of the widget and the relay (a scoring
//! model's id, the relay's retry jitter). Not a security hash.

/// FNV-1a's starting value (the offset basis).
const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
const PRIME: u64 = 0x0100_0000_01b3;

/// The FNV-1a hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    Fnv1a64::default().feed(bytes).finish()
}

/// FNV-1a over several pieces, as if they were one run of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(OFFSET)
    }
}

impl Fnv1a64 {
    /// The hash with `bytes` added.
    pub fn feed(self, bytes: &[u8]) -> Self {
        Fnv1a64(bytes.iter().fold(self.0, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME)))
    }

    /// The hash of everything added.
    pub fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_pieces() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(Fnv1a64::default().feed(b"foo").feed(b"bar").finish(), fnv1a64(b"foobar"));
    }
}
