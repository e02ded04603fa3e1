//! The measurements of `make bench` (the binary `bench` writes them to BENCHMARKS.md).

pub mod ceiling;
pub mod requests;
pub mod through_functions;

pub use ceiling::ceiling;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The `q` quantile (0..=1) of sorted `values`, by the nearest-rank method.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn nearest_rank_quantiles() {
        let values: Vec<u32> = (1..=500).collect();
        assert_eq!(quantile(&values, 0.5), Some(250));
        assert_eq!(quantile(&values, 0.99), Some(495));
        assert_eq!(quantile(&values, 1.0), Some(500));
        assert_eq!(quantile(&[7], 0.5), Some(7));
        assert_eq!(quantile::<u32>(&[], 0.5), None);
    }
}
