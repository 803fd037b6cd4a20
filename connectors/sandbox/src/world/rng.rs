//! Stateless, seedable randomness: every entity is derived from `(seed, kind, index)` so any
//! record can be regenerated on demand without storing it.

/// The SplitMix64 finaliser: a fast, well-mixed 64-bit hash.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Entity kinds, used to separate the random streams of different entity types.
pub(crate) mod tag {
    pub const PERSON: u64 = 1;
    pub const COMPANY: u64 = 2;
    pub const DEAL: u64 = 3;
    pub const OWNER: u64 = 4;
    pub const CAMPAIGN: u64 = 5;
    pub const MUTATION: u64 = 6;
    pub const NAMES: u64 = 7;
    pub const FAULT: u64 = 8;
    pub const CORRELATION: u64 = 9;
}

/// A SplitMix64 generator positioned at the stream of one entity.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// The generator for entity `index` of kind `tag` in the world seeded with `seed`.
    #[inline]
    pub(crate) fn for_entity(seed: u64, tag: u64, index: u64) -> Self {
        Rng(mix64(
            seed ^ mix64(tag.wrapping_mul(GOLDEN) ^ mix64(index.wrapping_add(GOLDEN))),
        ))
    }

    /// Next 64 random bits.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// Uniform integer in `0..n` (`0` when `n == 0`).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in `lo..hi` (`lo` when the range is empty).
    #[inline]
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo) as u64) as i64
        }
    }

    /// Uniform float in `[0, 1)`.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniformly chosen element of a non-empty slice.
    #[inline]
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Formats a UUID-shaped (version 4 layout) identifier from 128 pseudo-random bits.
pub(crate) fn uuid_like(seed: u64, n: u64) -> String {
    let mut rng = Rng::for_entity(seed, tag::CORRELATION, n);
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        let a: Vec<u64> = (0..4)
            .map(|i| Rng::for_entity(42, 1, i).next_u64())
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|i| Rng::for_entity(42, 1, i).next_u64())
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        assert_ne!(
            Rng::for_entity(42, 1, 0).next_u64(),
            Rng::for_entity(43, 1, 0).next_u64()
        );
        let mut r = Rng::for_entity(1, 1, 1);
        let hits = (0..10_000).filter(|_| r.chance(0.1)).count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| r.below(7) < 7));
    }

    #[test]
    fn uuid_shape() {
        let u = uuid_like(1, 2);
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid_like(1, 3));
    }
}
