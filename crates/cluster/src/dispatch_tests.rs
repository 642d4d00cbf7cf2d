//! The dispatch machine alone, no sockets: each outcome sequence gives the expected sends
//! and result, and no part ever exceeds its budget.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use slotline_conn::{Addr, Error, ErrorKind, RetryPolicy, UnavailableKind};

use super::{Dispatch, Place, Redirect};
use crate::retry::Outcome;

fn a(port: u16) -> Addr {
    Addr::tcp("10.0.0.1", port)
}

/// A toy cluster: the owner of each slot, patched on `MOVED` as the client would.
struct Map(RefCell<HashMap<u16, Addr>>);

impl Map {
    fn new(owners: &[(u16, u16)]) -> Self {
        Map(RefCell::new(
            owners.iter().map(|&(slot, port)| (slot, a(port))).collect(),
        ))
    }

    fn locate(&self, place: &Place) -> Option<Addr> {
        match place {
            Place::Slot(s) | Place::MasterOf(s) => self.0.borrow().get(s).cloned(),
            Place::Node(addr) => Some(addr.clone()),
            Place::Any => self.0.borrow().values().next().cloned(),
        }
    }
}

/// A reply as the node sent it: `-...` is an error reply.
fn outcome(result: &Result<String, Error>) -> Outcome<'_> {
    match result {
        Ok(text) => Outcome::Reply(text.strip_prefix('-').map(str::as_bytes)),
        Err(e) => Outcome::Failed(e),
    }
}

/// Runs `d` against `map`, answering each send with the next of `answers` for the node it
/// went to (the last answer repeats); returns the sends made: (node, part, asking).
fn run(
    d: &mut Dispatch<&'static str, String>,
    map: &Map,
    answers: &mut HashMap<Addr, Vec<Result<String, Error>>>,
) -> Vec<(Addr, usize, bool)> {
    let mut sent = Vec::new();
    for _round in 0..100 {
        let batches = d.round(|place, _readonly, _avoid| map.locate(place));
        if batches.is_empty() && d.is_done() {
            return sent;
        }
        for batch in batches {
            for &i in &batch.parts {
                sent.push((batch.node.clone(), i, d.asking(i)));
                let queue = answers
                    .get_mut(&batch.node)
                    .expect("an answer for the node");
                let answer = if queue.len() > 1 {
                    queue.remove(0)
                } else {
                    queue[0].clone()
                };
                if let Some(Redirect::Moved { slot, addr }) =
                    d.take(i, Some(&batch.node), answer, outcome)
                {
                    map.0.borrow_mut().insert(slot, addr);
                }
            }
        }
        let _ = d.wait();
    }
    panic!("the dispatch never ended");
}

fn answers(
    list: Vec<(u16, Vec<Result<&str, Error>>)>,
) -> HashMap<Addr, Vec<Result<String, Error>>> {
    list.into_iter()
        .map(|(port, v)| {
            (
                a(port),
                v.into_iter().map(|r| r.map(String::from)).collect(),
            )
        })
        .collect()
}

fn one_part(idempotent: bool) -> Dispatch<&'static str, String> {
    let mut d = Dispatch::new(RetryPolicy::default(), None);
    d.push("GET k", Place::Slot(100), true, idempotent);
    d
}

fn result(d: Dispatch<&'static str, String>) -> Result<String, Error> {
    d.finish().into_iter().next().expect("one part").1
}

#[test]
fn moved_then_ok_patches_the_map_and_resends() {
    let map = Map::new(&[(100, 1)]);
    let mut d = one_part(false);
    let mut ans = answers(vec![
        (1, vec![Ok("-MOVED 100 10.0.0.1:2")]),
        (2, vec![Ok("v")]),
    ]);
    let sent = run(&mut d, &map, &mut ans);
    assert_eq!(sent, [(a(1), 0, false), (a(2), 0, false)]);
    assert_eq!(map.locate(&Place::Slot(100)), Some(a(2)));
    assert_eq!(result(d).unwrap(), "v");
}

#[test]
fn ask_then_ok_goes_once_with_asking_and_keeps_the_map() {
    let map = Map::new(&[(100, 1)]);
    let mut d = one_part(false);
    let mut ans = answers(vec![
        (1, vec![Ok("-ASK 100 10.0.0.1:3")]),
        (3, vec![Ok("v")]),
    ]);
    let sent = run(&mut d, &map, &mut ans);
    assert_eq!(sent, [(a(1), 0, false), (a(3), 0, true)]);
    assert_eq!(map.locate(&Place::Slot(100)), Some(a(1)));
    assert_eq!(result(d).unwrap(), "v");
}

#[test]
fn tryagain_backs_off_then_succeeds_and_never_exceeds_the_budget() {
    let map = Map::new(&[(100, 1)]);
    let mut d = one_part(false);
    let try_again = || Ok("-TRYAGAIN Multiple keys request during rehashing of slot");
    let mut ans = answers(vec![(1, vec![try_again(), try_again(), Ok("v")])]);
    let sent = run(&mut d, &map, &mut ans);
    assert_eq!(sent.len(), 3);
    assert_eq!(result(d).unwrap(), "v");

    // For ever TRYAGAIN: 1 send + max_retries resends, then the refusal is the answer.
    let policy = RetryPolicy::default().with_max_retries(4);
    let mut d = Dispatch::new(policy, None);
    d.push("GET k", Place::Slot(100), true, false);
    let mut ans = answers(vec![(1, vec![try_again()])]);
    let sent = run(&mut d, &map, &mut ans);
    assert_eq!(sent.len(), 1 + 4);
    assert!(result(d).unwrap().starts_with("-TRYAGAIN"));
}

#[test]
fn tryagain_asks_no_refresh_clusterdown_does() {
    let map = Map::new(&[(100, 1)]);
    for (reply, refresh) in [
        ("-TRYAGAIN x", false),
        ("-LOADING Redis is loading", false),
        ("-CLUSTERDOWN The cluster is down", true),
    ] {
        let mut d = one_part(false);
        let batches = d.round(|p, _, _| map.locate(p));
        assert_eq!(batches.len(), 1);
        d.take(0, Some(&a(1)), Ok(reply.to_string()), outcome);
        let (delay, r) = d.wait().expect("a backoff");
        assert!(delay <= RetryPolicy::default().backoff_max, "{reply}");
        assert_eq!(r, refresh, "{reply}");
        assert!(!d.is_done());
    }
}

#[test]
fn redirects_are_bounded_too() {
    // Two nodes that send the slot back and forth for ever.
    let map = Map::new(&[(100, 1)]);
    let policy = RetryPolicy {
        max_redirects: 5,
        ..RetryPolicy::default()
    };
    let mut d = Dispatch::new(policy, None);
    d.push("GET k", Place::Slot(100), true, false);
    let mut ans = answers(vec![
        (1, vec![Ok("-MOVED 100 10.0.0.1:2")]),
        (2, vec![Ok("-MOVED 100 10.0.0.1:1")]),
    ]);
    let sent = run(&mut d, &map, &mut ans);
    assert_eq!(sent.len(), 1 + 5);
    assert!(result(d).unwrap().starts_with("-MOVED"));
}

#[test]
fn io_errors_follow_the_retry_rule() {
    let map = Map::new(&[(100, 1)]);
    let written = || Err(Error::closed(true));
    // Written, not idempotent: may have run, never resent.
    let mut d = one_part(false);
    let mut ans = answers(vec![(1, vec![written(), Ok("v")])]);
    assert_eq!(run(&mut d, &map, &mut ans).len(), 1);
    let e = result(d).unwrap_err();
    assert!(e.may_have_run());
    // Written, idempotent: resent.
    let mut d = one_part(true);
    let mut ans = answers(vec![(1, vec![written(), Ok("v")])]);
    assert_eq!(run(&mut d, &map, &mut ans).len(), 2);
    assert_eq!(result(d).unwrap(), "v");
    // Never written: resent, whatever the command.
    let mut d = one_part(false);
    let mut ans = answers(vec![(1, vec![Err(Error::closed(false)), Ok("v")])]);
    assert_eq!(run(&mut d, &map, &mut ans).len(), 2);
    assert_eq!(result(d).unwrap(), "v");
    // A timeout after writing: its time is spent, even for an idempotent command.
    let mut d = one_part(true);
    let timeout = Error::timeout_after(Duration::from_millis(100), "reply", true);
    let mut ans = answers(vec![(1, vec![Err(timeout), Ok("v")])]);
    assert_eq!(run(&mut d, &map, &mut ans).len(), 1);
    assert!(matches!(result(d), Err(ref e) if e.kind() == ErrorKind::Timeout));
}

#[test]
fn no_node_retries_with_refresh_then_is_unavailable() {
    let map = Map::new(&[]);
    let mut d = Dispatch::<&str, String>::new(RetryPolicy::default().with_max_retries(3), None);
    d.push("GET k", Place::Slot(100), true, false);
    let mut rounds = 0;
    while !d.is_done() {
        assert!(d.round(|p, _, _| map.locate(p)).is_empty());
        if let Some((_, refresh)) = d.wait() {
            assert!(refresh);
        }
        rounds += 1;
        assert!(rounds <= 4, "budget exceeded");
    }
    assert_eq!(rounds, 4);
    match result(d) {
        Err(e) if e.kind() == ErrorKind::Unavailable(UnavailableKind::NoNode) => {
            assert!(e.to_string().contains("slot 100"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn parts_batch_per_node_and_a_redirect_moves_only_its_part() {
    let map = Map::new(&[(1, 1), (2, 2), (3, 1)]);
    let mut d = Dispatch::new(RetryPolicy::default(), None);
    d.push("GET a", Place::Slot(1), true, false);
    d.push("GET b", Place::Slot(2), true, false);
    d.push("GET c", Place::Slot(3), true, false);
    let batches = d.round(|p, _, _| map.locate(p));
    let shape: Vec<(Addr, Vec<usize>)> = batches
        .iter()
        .map(|b| (b.node.clone(), b.parts.to_vec()))
        .collect();
    assert_eq!(shape, [(a(1), vec![0, 2]), (a(2), vec![1])]);
    d.take(0, Some(&a(1)), Ok("A".into()), outcome);
    let moved = d.take(2, Some(&a(1)), Ok("-MOVED 3 10.0.0.1:2".into()), outcome);
    assert_eq!(
        moved,
        Some(Redirect::Moved {
            slot: 3,
            addr: a(2)
        })
    );
    map.0.borrow_mut().insert(3, a(2));
    d.take(1, Some(&a(2)), Ok("B".into()), outcome);
    let batches = d.round(|p, _, _| map.locate(p));
    assert_eq!(batches.len(), 1);
    assert_eq!(
        (batches[0].node.clone(), batches[0].parts.to_vec()),
        (a(2), vec![2])
    );
    d.take(2, Some(&a(2)), Ok("C".into()), outcome);
    assert!(d.is_done());
    let results: Vec<String> = d
        .finish()
        .into_iter()
        .map(|(_, r)| r.expect("a reply"))
        .collect();
    assert_eq!(results, ["A", "B", "C"]);
}

#[test]
fn a_keyless_part_moved_goes_to_the_named_node() {
    let map = Map::new(&[(1, 1)]);
    let mut d = Dispatch::<&str, String>::new(RetryPolicy::default(), None);
    d.push("RANDOMKEY", Place::Any, true, false);
    let mut ans = answers(vec![
        (1, vec![Ok("-MOVED 9 10.0.0.1:4")]),
        (4, vec![Ok("k")]),
    ]);
    let sent = run(&mut d, &map, &mut ans);
    assert_eq!(sent, [(a(1), 0, false), (a(4), 0, false)]);
}
