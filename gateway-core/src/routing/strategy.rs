//! Target ordering per strategy. The first index is the route's preferred
//! target for this request; the rest are the fallback order.

use std::sync::Mutex;

use rand::Rng;

use crate::config::Strategy;
use crate::sync::LockExt;

/// Chance that the latency strategy explores a random target first.
pub const EXPLORE: f64 = 0.1;

#[derive(Debug)]
pub enum StrategyState {
    Priority,
    /// Smooth weighted round robin (nginx): current weights per target.
    Weighted {
        weights: Vec<i64>,
        current: Mutex<Vec<i64>>,
    },
    Latency,
    /// Cheapest first for the request's estimated tokens.
    Cost,
}

/// Unmeasured targets first (they need a sample), then by EWMA.
fn by_latency(la: Option<f64>, lb: Option<f64>) -> std::cmp::Ordering {
    match (la, lb) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => x.total_cmp(&y),
    }
}

impl StrategyState {
    pub fn new(strategy: Strategy, weights: &[u32]) -> Self {
        match strategy {
            Strategy::Priority => Self::Priority,
            Strategy::Weighted => Self::Weighted {
                weights: weights.iter().map(|&w| i64::from(w.max(1))).collect(),
                current: Mutex::new(vec![0; weights.len()]),
            },
            Strategy::Latency => Self::Latency,
            Strategy::Cost => Self::Cost,
        }
    }

    /// The order to try targets in. `latency(i)` gives target i's EWMA, if
    /// any; `cost(i)` its estimated price for the request, if known.
    /// `pinned` (a sticky session's target) goes first without a pick: the
    /// round robin does not advance and latency does not explore; the rest
    /// follow in the strategy's fallback order.
    pub fn order(
        &self,
        n: usize,
        latency: impl Fn(usize) -> Option<f64>,
        cost: impl Fn(usize) -> Option<f64>,
        pinned: Option<usize>,
    ) -> Vec<usize> {
        let pinned = pinned.filter(|&p| p < n);
        match self {
            Self::Priority => (0..n).collect(),
            Self::Weighted { weights, current } => {
                let first = pinned.unwrap_or_else(|| {
                    let mut cur = current.lock_or_recover();
                    swrr_pick(weights, &mut cur)
                });
                let mut rest: Vec<usize> = (0..n).filter(|&i| i != first).collect();
                rest.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
                std::iter::once(first).chain(rest).collect()
            }
            Self::Latency => {
                let mut order: Vec<usize> = (0..n).collect();
                // Stable: equal latencies keep config order.
                order.sort_by(|&a, &b| by_latency(latency(a), latency(b)));
                if let Some(p) = pinned {
                    order.retain(|&i| i != p);
                    order.insert(0, p);
                    return order;
                }
                let mut rng = rand::rng();
                if n > 1 && rng.random_bool(EXPLORE) {
                    let pick = rng.random_range(1..n);
                    let t = order.remove(pick);
                    order.insert(0, t);
                }
                order
            }
            Self::Cost => {
                let mut order: Vec<usize> = (0..n).collect();
                // Cheapest first, unknown prices last; equal prices by
                // latency, then config order (the sort is stable).
                order.sort_by(|&a, &b| {
                    let by_cost = match (cost(a), cost(b)) {
                        (Some(x), Some(y)) => x.total_cmp(&y),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    };
                    by_cost.then_with(|| by_latency(latency(a), latency(b)))
                });
                if let Some(p) = pinned {
                    order.retain(|&i| i != p);
                    order.insert(0, p);
                }
                order
            }
        }
    }
}

fn swrr_pick(weights: &[i64], current: &mut [i64]) -> usize {
    let total: i64 = weights.iter().sum();
    let mut best = 0;
    for i in 0..weights.len() {
        current[i] += weights[i];
        if current[i] > current[best] {
            best = i;
        }
    }
    current[best] -= total;
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_weighted_round_robin_is_exact_and_smooth() {
        let s = StrategyState::new(Strategy::Weighted, &[5, 1, 1]);
        let picks: Vec<usize> = (0..7)
            .map(|_| s.order(3, |_| None, |_| None, None)[0])
            .collect();
        // nginx's classic sequence for 5/1/1: a a b a c a a
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn weighted_fallback_order_covers_all() {
        let s = StrategyState::new(Strategy::Weighted, &[1, 3]);
        let o = s.order(2, |_| None, |_| None, None);
        assert_eq!(o.len(), 2);
        assert_ne!(o[0], o[1]);
    }

    #[test]
    fn a_pinned_target_goes_first_without_a_pick() {
        let s = StrategyState::new(Strategy::Weighted, &[5, 1, 1]);
        for _ in 0..5 {
            assert_eq!(s.order(3, |_| None, |_| None, Some(2)), vec![2, 0, 1]);
        }
        // the round robin did not advance while pinned
        assert_eq!(s.order(3, |_| None, |_| None, None)[0], 0);
        assert_eq!(s.order(3, |_| None, |_| None, None)[0], 0);
        assert_eq!(s.order(3, |_| None, |_| None, None)[0], 1);
        let s = StrategyState::new(Strategy::Latency, &[1, 1, 1]);
        let lat = [Some(50.0), Some(5.0), Some(20.0)];
        for _ in 0..200 {
            assert_eq!(s.order(3, |i| lat[i], |_| None, Some(0)), vec![0, 1, 2]);
        }
        // out of range: ignored
        assert_eq!(s.order(3, |i| lat[i], |_| None, Some(7)).len(), 3);
    }

    #[test]
    fn cost_orders_cheapest_first_unknown_last_ties_by_latency() {
        let s = StrategyState::new(Strategy::Cost, &[1, 1, 1, 1]);
        let cost = [Some(3.0), None, Some(1.0), Some(1.0)];
        let lat = [Some(1.0), Some(1.0), Some(50.0), Some(5.0)];
        for _ in 0..50 {
            // deterministic: no exploration
            assert_eq!(s.order(4, |i| lat[i], |i| cost[i], None), vec![3, 2, 0, 1]);
        }
        // an unmeasured target among equals goes first (it needs a sample)
        let lat = [None, None, Some(50.0), None];
        assert_eq!(s.order(4, |i| lat[i], |i| cost[i], None), vec![3, 2, 0, 1]);
        // no prices at all: latency, then config order
        assert_eq!(s.order(3, |_| None, |_| None, None), vec![0, 1, 2]);
    }

    #[test]
    fn latency_prefers_faster_and_unmeasured() {
        let s = StrategyState::new(Strategy::Latency, &[1, 1, 1]);
        let lat = [Some(50.0), Some(5.0), None];
        let mut firsts = [0usize; 3];
        for _ in 0..1000 {
            firsts[s.order(3, |i| lat[i], |_| None, None)[0]] += 1;
        }
        // unmeasured first most of the time, exploration sometimes
        assert!(firsts[2] > 800, "{firsts:?}");
        let lat = [Some(50.0), Some(5.0), Some(20.0)];
        let mut firsts = [0usize; 3];
        for _ in 0..1000 {
            let o = s.order(3, |i| lat[i], |_| None, None);
            firsts[o[0]] += 1;
        }
        assert!(
            firsts[1] > 800 && firsts[0] > 0 && firsts[2] > 0,
            "{firsts:?}"
        );
    }
}
