//! Integer arithmetic of domain.md §4: rounding half up, basis points.

/// `a / b` rounded half up: `(2a + b) div (2b)` (domain.md §4), and 0 when `b` is 0.
///
/// Takes `u128` because the contract's products (`10000 × Σ votes`, votes up to 2^53 − 1 each,
/// summed over sessions) overflow `u64`; callers widen before multiplying.
pub fn rhu(a: u128, b: u128) -> u128 {
    if b == 0 {
        // Every caller guards its zero denominator; 0 keeps a projection from panicking.
        return 0;
    }
    (2 * a + b) / (2 * b)
}

/// [`rhu`] narrowed back to `u64`, for results the contract bounds by 10000 or by an input.
pub fn rhu_u64(a: u128, b: u128) -> u64 {
    u64::try_from(rhu(a, b)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up() {
        assert_eq!(rhu(5, 2), 3); // 2.5 → 3
        assert_eq!(rhu(7, 3), 2); // 2.33 → 2
        assert_eq!(rhu(8, 3), 3); // 2.67 → 3
        assert_eq!(rhu(0, 7), 0);
        assert_eq!(rhu(1, 0), 0);
        let big = (1u128 << 53) - 1;
        assert_eq!(rhu(10000 * big * 3, big * 3), 10000);
    }
}
