//! [`BusyLink`]: how many shared clients' connections in this process have requests
//! written and not answered yet, so that a caller can tell whether its link is the only
//! one at work.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections of shared clients, in this process, with requests in flight.
static BUSY: AtomicUsize = AtomicUsize::new(0);

/// One connection's place in the process-wide count of busy links: counted while it has
/// requests in flight, and no longer once it is dropped.
#[derive(Debug, Default)]
pub(crate) struct BusyLink {
    counted: bool,
}

impl BusyLink {
    /// Says whether the link has requests in flight now; the count changes only when that
    /// differs from what it last said.
    pub(crate) fn set(&mut self, busy: bool) {
        if busy == self.counted {
            return;
        }
        self.counted = busy;
        if busy {
            BUSY.fetch_add(1, Ordering::Relaxed);
        } else {
            BUSY.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Whether another link in the process has requests in flight.
    pub(crate) fn others_busy(&self) -> bool {
        BUSY.load(Ordering::Relaxed) > usize::from(self.counted)
    }
}

impl Drop for BusyLink {
    fn drop(&mut self) {
        self.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::{BusyLink, BUSY};
    use std::sync::atomic::Ordering;

    // No other unit test of this crate runs a shared client, so the count moves only here.
    #[test]
    fn a_link_is_counted_while_busy_and_sees_only_the_others() {
        let before = BUSY.load(Ordering::Relaxed);
        let mut a = BusyLink::default();
        a.set(true);
        a.set(true);
        assert_eq!(BUSY.load(Ordering::Relaxed), before + 1, "counted once");
        assert_eq!(a.others_busy(), before > 0, "not by itself");
        let mut b = BusyLink::default();
        assert!(b.others_busy(), "a is busy");
        b.set(true);
        assert!(a.others_busy(), "b is busy");
        b.set(false);
        assert_eq!(BUSY.load(Ordering::Relaxed), before + 1);
        drop(b);
        assert_eq!(
            BUSY.load(Ordering::Relaxed),
            before + 1,
            "an idle link dropped"
        );
        drop(a);
        assert_eq!(BUSY.load(Ordering::Relaxed), before, "a busy link dropped");
    }
}
