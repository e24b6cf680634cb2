//! The hybrid logical clock: (wall ms, counter, node) stamps that order every write, with the
//! node id as tie-break. Pure: the caller passes `now`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The id of one replica (a store), random at creation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct NodeId(pub u64);

/// One HLC stamp. Ordered by wall time, then counter, then node. Text form is fixed-width
/// hex (`{ms:012x}{counter:04x}{node:016x}`) so that text order equals stamp order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Hlc {
    pub ms: u64,
    pub counter: u16,
    pub node: NodeId,
}

impl Hlc {
    pub fn zero(node: NodeId) -> Hlc {
        Hlc {
            ms: 0,
            counter: 0,
            node,
        }
    }

    /// The stamp for a local event at wall time `now_ms`, strictly after `self`.
    pub fn tick(&self, now_ms: u64) -> Hlc {
        if now_ms > self.ms {
            Hlc {
                ms: now_ms,
                counter: 0,
                node: self.node,
            }
        } else {
            self.bump(self.ms)
        }
    }

    /// The stamp after receiving `remote` at `now_ms`: after both `self` and `remote`.
    pub fn observe(&self, remote: &Hlc, now_ms: u64) -> Hlc {
        let ms = now_ms.max(self.ms).max(remote.ms);
        if ms == now_ms && ms > self.ms && ms > remote.ms {
            Hlc {
                ms,
                counter: 0,
                node: self.node,
            }
        } else {
            let counter = if ms == self.ms && ms == remote.ms {
                self.counter.max(remote.counter)
            } else if ms == self.ms {
                self.counter
            } else if ms == remote.ms {
                remote.counter
            } else {
                0
            };
            Hlc {
                ms,
                counter,
                node: self.node,
            }
            .bump(ms)
        }
    }

    fn bump(&self, ms: u64) -> Hlc {
        match self.counter.checked_add(1) {
            Some(c) => Hlc {
                ms,
                counter: c,
                node: self.node,
            },
            // Counter overflow: borrow one millisecond from the future rather than repeat.
            None => Hlc {
                ms: ms + 1,
                counter: 0,
                node: self.node,
            },
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:012x}{:04x}{:016x}",
            self.ms, self.counter, self.node.0
        )
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Hlc, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Hlc {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Hlc> {
        let bad = || crate::Error::bad_input(format!("`{s}` is not an HLC stamp"));
        if s.len() != 32 || !s.is_ascii() {
            return Err(bad());
        }
        let ms = u64::from_str_radix(&s[..12], 16).map_err(|_| bad())?;
        let counter = u16::from_str_radix(&s[12..16], 16).map_err(|_| bad())?;
        let node = u64::from_str_radix(&s[16..], 16).map_err(|_| bad())?;
        Ok(Hlc {
            ms,
            counter,
            node: NodeId(node),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);

    #[test]
    fn tick_is_monotonic_even_when_the_wall_clock_goes_back() {
        let h = Hlc::zero(A).tick(1000);
        assert_eq!((h.ms, h.counter), (1000, 0));
        let h2 = h.tick(900);
        assert!(h2 > h);
        assert_eq!((h2.ms, h2.counter), (1000, 1));
        let h3 = h2.tick(1001);
        assert_eq!((h3.ms, h3.counter), (1001, 0));
    }

    #[test]
    fn observe_orders_after_remote() {
        let local = Hlc::zero(A).tick(1000);
        let remote = Hlc {
            ms: 5000,
            counter: 7,
            node: B,
        };
        let h = local.observe(&remote, 1200);
        assert!(h > remote && h > local);
        assert_eq!((h.ms, h.counter, h.node), (5000, 8, A));
        let later = h.observe(&remote, 9000);
        assert_eq!((later.ms, later.counter), (9000, 0));
    }

    #[test]
    fn text_form_round_trips_and_sorts() {
        let a = Hlc {
            ms: 1_700_000_000_000,
            counter: 3,
            node: A,
        };
        let b = Hlc {
            ms: 1_700_000_000_000,
            counter: 3,
            node: B,
        };
        let c = Hlc {
            ms: 1_700_000_000_001,
            counter: 0,
            node: A,
        };
        for h in [a, b, c] {
            assert_eq!(h.to_string().parse::<Hlc>().unwrap(), h);
        }
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert!("xyz".parse::<Hlc>().is_err());
    }

    #[test]
    fn counter_overflow_moves_time_forward() {
        let h = Hlc {
            ms: 10,
            counter: u16::MAX,
            node: A,
        };
        let t = h.tick(5);
        assert!(t > h);
        assert_eq!((t.ms, t.counter), (11, 0));
    }
}
