//! The chooser alone, on a clock of the test's own: each way answers at a rate the test
//! sets, and the chooser must keep the faster, find it again when conditions change, and
//! spend little on the slower.

use std::time::{Duration, Instant};

use super::{Way, WayChooser, FIRST_KEEP, GIVE_UP, MAX_KEEP, STALE, WINDOW};

/// A chooser fed answers in reads of 64, each way taking its own time per read.
struct Bench {
    chooser: WayChooser,
    now: Instant,
    /// Time per read of 64 answers: overlapped, batched.
    cost: [Duration; 2],
    /// Time spent under each way: overlapped, batched.
    spent: [Duration; 2],
}

impl Bench {
    fn new(overlapped_us: u64, batched_us: u64) -> Self {
        Bench {
            chooser: WayChooser::default(),
            now: Instant::now(),
            cost: [
                Duration::from_micros(overlapped_us),
                Duration::from_micros(batched_us),
            ],
            spent: [Duration::ZERO; 2],
        }
    }

    /// One read of 64 answers under the current way.
    fn read(&mut self) {
        let i = match self.chooser.way() {
            Way::Overlapped => 0,
            Way::Batched => 1,
        };
        self.now += self.cost[i];
        self.spent[i] += self.cost[i];
        self.chooser.answered(64, self.now);
    }

    /// Reads until a trial begins.
    fn until_trial(&mut self) {
        while self.chooser.keep_left().is_some() {
            self.read();
        }
    }

    /// Reads until the trial under way ends; how many windows its winner is kept for.
    fn until_kept(&mut self) -> u32 {
        loop {
            if let Some(left) = self.chooser.keep_left() {
                return left;
            }
            self.read();
        }
    }

    /// `windows` windows' worth of reads; the ways seen, one per read.
    fn run(&mut self, windows: u64) -> Vec<Way> {
        (0..windows * WINDOW / 64)
            .map(|_| {
                let way = self.chooser.way();
                self.read();
                way
            })
            .collect()
    }
}

/// The ways in `seen`, each run of one way once.
fn runs(seen: &[Way]) -> Vec<Way> {
    let mut out: Vec<Way> = Vec::new();
    for &way in seen {
        if out.last() != Some(&way) {
            out.push(way);
        }
    }
    out
}

#[test]
fn it_starts_with_a_trial_of_both_ways_in_a_balanced_order() {
    // Equal costs: the order of the trial shows, and a tie keeps the overlapped way.
    let mut b = Bench::new(100, 100);
    assert_eq!(b.chooser.way(), Way::Batched);
    assert_eq!(b.chooser.keep_left(), None, "a trial from the start");
    let seen = b.run(6);
    assert_eq!(
        runs(&seen),
        [Way::Batched, Way::Overlapped, Way::Batched, Way::Overlapped],
        "batched, overlapped twice, batched, then the tie's winner"
    );
}

#[test]
fn under_a_shared_cpu_the_batched_way_is_found_and_kept() {
    // Overlapped four times as slow, as measured beside a busy process.
    let mut b = Bench::new(400, 100);
    b.until_kept();
    assert_eq!(b.chooser.way(), Way::Batched);
    let spent_before = b.spent;
    let seen = b.run(u64::from(FIRST_KEEP) - 1);
    assert!(
        seen.iter().all(|&w| w == Way::Batched),
        "kept for its windows"
    );
    assert_eq!(
        b.spent[0], spent_before[0],
        "no time under the slow way meanwhile"
    );
}

#[test]
fn the_slow_way_costs_a_quarter_of_a_window_to_find() {
    let mut b = Bench::new(1000, 100);
    b.until_trial();
    let before = b.spent[0];
    b.until_kept();
    assert_eq!(b.chooser.way(), Way::Batched);
    let window = Duration::from_micros(100) * (WINDOW / 64) as u32;
    let slow = b.spent[0] - before;
    // The read that begins the slow way's window is not timed, nor the one that ends it.
    assert!(
        slow <= window / 4 + Duration::from_micros(2000),
        "{slow:?} under the slow way, against {window:?} a window of the fast"
    );
}

#[test]
fn a_way_slower_by_less_than_give_up_is_timed_to_the_end() {
    // Batched a fifth slower: not given up early, the trial runs its four windows.
    let mut b = Bench::new(100, 120);
    b.until_trial();
    let spent = b.spent;
    b.until_kept();
    let window = |us| Duration::from_micros(us) * (WINDOW / 64) as u32;
    assert!(
        b.spent[1] - spent[1] >= 2 * window(120),
        "two batched windows"
    );
    assert!(
        b.spent[0] - spent[0] >= 2 * window(100),
        "two overlapped windows"
    );
    assert_eq!(b.chooser.way(), Way::Overlapped);
    const { assert!(GIVE_UP > 1.2) };
}

#[test]
fn a_way_with_no_answers_at_all_is_given_up() {
    let mut b = Bench::new(100, 100);
    b.until_trial();
    // The batched window, then the overlapped one sees a stall: no answers for a while.
    while b.chooser.way() == Way::Batched {
        b.read();
    }
    b.read();
    let window = Duration::from_micros(100) * (WINDOW / 64) as u32;
    b.now += window * 2;
    b.chooser.answered(0, b.now);
    assert_eq!(b.chooser.way(), Way::Batched, "kept the way that answered");
    assert_eq!(b.chooser.keep_left(), Some(FIRST_KEEP));
}

#[test]
fn on_a_quiet_machine_the_overlapped_way_is_kept() {
    // Overlapped a quarter faster, as measured on a quiet machine.
    let mut b = Bench::new(80, 100);
    b.until_trial();
    assert_eq!(b.until_kept(), FIRST_KEEP);
    assert_eq!(b.chooser.way(), Way::Overlapped);
    // Over a long run the trials that confirm it cost less and less.
    let seen = b.run(1000);
    let batched = seen.iter().filter(|&&w| w == Way::Batched).count();
    assert!(
        batched * 100 <= seen.len() * 2,
        "{batched} of {} reads batched",
        seen.len()
    );
}

#[test]
fn a_winner_confirmed_is_kept_longer_up_to_a_bound() {
    let mut b = Bench::new(400, 100);
    let mut keeps = Vec::new();
    for _ in 0..7 {
        b.until_trial();
        keeps.push(b.until_kept());
        assert_eq!(b.chooser.way(), Way::Batched);
    }
    let doubling: Vec<u32> = (0..7).map(|i| (FIRST_KEEP << i).min(MAX_KEEP)).collect();
    assert_eq!(keeps, doubling);
    assert_eq!(keeps.last(), Some(&MAX_KEEP), "the bound is reached");
}

#[test]
fn a_winner_overturned_is_kept_briefly_again() {
    let mut b = Bench::new(400, 100);
    for _ in 0..3 {
        b.until_trial();
        b.until_kept();
    }
    b.cost = [Duration::from_micros(80), Duration::from_micros(100)];
    b.until_trial();
    assert_eq!(b.until_kept(), FIRST_KEEP);
    assert_eq!(b.chooser.way(), Way::Overlapped);
}

#[test]
fn a_change_of_conditions_is_followed() {
    let mut b = Bench::new(400, 100);
    b.until_kept();
    assert_eq!(b.chooser.way(), Way::Batched);
    // The busy process ends: overlapped is now the faster.
    b.cost = [Duration::from_micros(80), Duration::from_micros(100)];
    b.until_trial();
    assert_eq!(b.until_kept(), FIRST_KEEP, "overturned: kept briefly");
    assert_eq!(b.chooser.way(), Way::Overlapped);
}

#[test]
fn an_idle_spell_is_not_timed() {
    let mut b = Bench::new(100, 100);
    assert_eq!(b.chooser.way(), Way::Batched, "the trial's first window");
    b.read();
    // The client idles; the trial's window must not count the pause.
    b.now += STALE * 4;
    b.read();
    assert_eq!(
        b.chooser.way(),
        Way::Batched,
        "still the same window, restarted"
    );
    b.run(3);
    assert_eq!(b.chooser.way(), Way::Overlapped, "a tie after the trial");
    // A trickle (a window longer than STALE) never moves the chooser.
    let mut t = Bench::new(100_000, 100_000);
    t.run(20);
    assert_eq!(t.chooser.way(), Way::Batched);
    assert_eq!(
        t.chooser.keep_left(),
        None,
        "no window was ever complete in time"
    );
}
