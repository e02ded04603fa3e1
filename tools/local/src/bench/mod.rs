//! The measurements of `make bench` (the binary `bench` writes them to BENCHMARKS.md).

pub mod ceiling;
pub mod requests;
pub mod through_functions;

pub use ceiling::ceiling;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Bookings completed over a time: one load run, or the sum of several.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Throughput {
    pub bookings: u64,
    pub seconds: f64,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bookings as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl std::ops::AddAssign for Throughput {
    fn add_assign(&mut self, other: Self) {
        self.bookings += other.bookings;
        self.seconds += other.seconds;
    }
}

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
    use super::{quantile, Throughput};

    #[test]
    fn throughputs_add_up_by_bookings_and_time() {
        let mut total = Throughput::default();
        assert_eq!(total.per_second(), 0.0);
        total += Throughput {
            bookings: 100,
            seconds: 1.0,
        };
        total += Throughput {
            bookings: 300,
            seconds: 3.0,
        };
        total += Throughput {
            bookings: 0,
            seconds: 1.0,
        };
        assert_eq!(
            total,
            Throughput {
                bookings: 400,
                seconds: 5.0
            }
        );
        assert_eq!(total.per_second(), 80.0);
    }

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
