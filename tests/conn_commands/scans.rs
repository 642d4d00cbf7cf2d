//! Cursor iteration, async and blocking.

use super::*;
use slotline_conn::ErrorKind;

// ---------------------------------------------------------------- scans

/// 1,000 keys `scan:{i}`, 100 other keys, and a hash, a set and a sorted set of 1,000
/// elements each (large enough to be real hash tables, so the cursor takes many steps),
/// plus small ones (listpack/intset: one step).
fn fill_for_scan(server: &Standalone) {
    let mut raw = server.conn().unwrap();
    let mut cmds: Vec<Vec<String>> = Vec::new();
    for i in 0..1000 {
        cmds.push(vec!["SET".into(), format!("scan:{i}"), i.to_string()]);
        cmds.push(vec![
            "HSET".into(),
            "hash".into(),
            format!("f{i}"),
            format!("v{i}"),
        ]);
        cmds.push(vec!["SADD".into(), "set".into(), format!("m{i}")]);
        cmds.push(vec![
            "ZADD".into(),
            "zset".into(),
            i.to_string(),
            format!("z{i}"),
        ]);
    }
    for i in 0..100 {
        cmds.push(vec!["SET".into(), format!("other:{i}"), "x".into()]);
    }
    cmds.push(strings(&["HSET", "small-hash", "a", "1", "b", "2"]));
    cmds.push(strings(&["SADD", "small-set", "1", "2", "3"]));
    for c in &cmds {
        raw.send(c).unwrap();
    }
    for _ in &cmds {
        assert!(!raw.read_frame().unwrap().is_error());
    }
}

fn check_unique<T: std::hash::Hash + Eq + std::fmt::Debug + Clone>(
    items: &[T],
    want: usize,
    what: &str,
) -> HashSet<T> {
    let set: HashSet<T> = items.iter().cloned().collect();
    assert_eq!(items.len(), want, "{what}: {} items", items.len());
    assert_eq!(set.len(), want, "{what}: duplicates");
    set
}

#[allow(clippy::too_many_arguments)]
fn check_scans(
    keys: Vec<String>,
    all_keys: Vec<String>,
    hashes: Vec<(String, String)>,
    hash_f1: Vec<(String, String)>,
    members: Vec<String>,
    scored: Vec<(String, f64)>,
    of_type: Vec<String>,
    small: Vec<(String, i64)>,
) {
    let set = check_unique(&keys, 1000, "SCAN MATCH scan:*");
    assert!((0..1000).all(|i| set.contains(&format!("scan:{i}"))));
    check_unique(&all_keys, 1000 + 100 + 5, "SCAN");
    let set = check_unique(&hashes, 1000, "HSCAN");
    assert!((0..1000).all(|i| set.contains(&(format!("f{i}"), format!("v{i}")))));
    // f1, f10..f19, f100..f199
    check_unique(&hash_f1, 111, "HSCAN MATCH f1*");
    assert!(hash_f1.iter().all(|(f, _)| f.starts_with("f1")));
    let set = check_unique(&members, 1000, "SSCAN");
    assert!((0..1000).all(|i| set.contains(&format!("m{i}"))));
    assert_eq!(scored.len(), 1000, "ZSCAN");
    let map: HashMap<String, f64> = scored.into_iter().collect();
    assert_eq!(map.len(), 1000, "ZSCAN: duplicates");
    assert!((0..1000).all(|i| map.get(&format!("z{i}")) == Some(&f64::from(i))));
    assert_eq!(sorted(of_type), ["hash", "small-hash"], "SCAN TYPE hash");
    assert_eq!(sorted(small), [("a".to_string(), 1), ("b".to_string(), 2)]);
}

macro_rules! async_scans {
    ($c:ident) => {{
        let keys = $c
            .scan::<String>(ScanOptions::keys().pattern("scan:*").count(100))
            .collect_all()
            .await
            .unwrap();
        let all_keys = $c
            .scan::<String>(ScanOptions::keys())
            .collect_all()
            .await
            .unwrap();
        let hashes = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").count(50))
            .collect_all()
            .await
            .unwrap();
        let hash_f1 = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").pattern("f1*"))
            .collect_all()
            .await
            .unwrap();
        // Item by item, with `next`.
        let mut members = Vec::new();
        let mut it = $c.scan::<String>(ScanOptions::set("set").count(37));
        while let Some(m) = it.next().await {
            members.push(m.unwrap());
        }
        assert!(it.next().await.is_none(), "stays finished");
        let scored = $c
            .scan::<(String, f64)>(ScanOptions::sorted_set("zset").count(200))
            .collect_all()
            .await
            .unwrap();
        let of_type = $c
            .scan::<String>(ScanOptions::keys().key_type("hash").count(1000))
            .collect_all()
            .await
            .unwrap();
        let small = $c
            .scan::<(String, i64)>(ScanOptions::hash("small-hash"))
            .collect_all()
            .await
            .unwrap();
        let ints = $c
            .scan::<u8>(ScanOptions::set("small-set"))
            .collect_all()
            .await
            .unwrap();
        assert_eq!(sorted(ints), [1, 2, 3]);
        // Scanning a key of the wrong type: the server's error, then the end.
        let mut bad = $c.scan::<String>(ScanOptions::hash("scan:1"));
        assert_server_error(bad.next().await.unwrap(), ServerErrorKind::WrongType);
        assert!(bad.next().await.is_none());
        // A conversion error is that item's: the iteration goes on.
        let mut conv = $c.scan::<i64>(ScanOptions::set("set").count(100));
        let mut type_errors = 0;
        while let Some(item) = conv.next().await {
            assert!(matches!(item, Err(ref e) if e.kind() == ErrorKind::Type), "{item:?}");
            type_errors += 1;
        }
        assert_eq!(type_errors, 1000);
        check_scans(
            keys, all_keys, hashes, hash_f1, members, scored, of_type, small,
        );
    }};
}

macro_rules! blocking_scans {
    ($c:ident) => {{
        type R<T> = slotline_conn::Result<Vec<T>>;
        let keys = $c
            .scan::<String>(ScanOptions::keys().pattern("scan:*").count(100))
            .collect::<R<_>>()
            .unwrap();
        let all_keys = $c
            .scan::<String>(ScanOptions::keys())
            .collect::<R<_>>()
            .unwrap();
        let hashes = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").count(50))
            .collect::<R<_>>()
            .unwrap();
        let hash_f1 = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").pattern("f1*"))
            .collect::<R<_>>()
            .unwrap();
        let mut members = Vec::new();
        let mut it = $c.scan::<String>(ScanOptions::set("set").count(37));
        for m in it.by_ref() {
            members.push(m.unwrap());
        }
        assert!(it.next().is_none(), "stays finished");
        let scored = $c
            .scan::<(String, f64)>(ScanOptions::sorted_set("zset").count(200))
            .collect::<R<_>>()
            .unwrap();
        let of_type = $c
            .scan::<String>(ScanOptions::keys().key_type("hash").count(1000))
            .collect::<R<_>>()
            .unwrap();
        let small = $c
            .scan::<(String, i64)>(ScanOptions::hash("small-hash"))
            .collect::<R<_>>()
            .unwrap();
        let ints = $c
            .scan::<u8>(ScanOptions::set("small-set"))
            .collect::<R<_>>()
            .unwrap();
        assert_eq!(sorted(ints), [1, 2, 3]);
        let mut bad = $c.scan::<String>(ScanOptions::hash("scan:1"));
        assert_server_error(bad.next().unwrap(), ServerErrorKind::WrongType);
        assert!(bad.next().is_none());
        let conv = $c.scan::<i64>(ScanOptions::set("set").count(100));
        let results: Vec<_> = conv.collect();
        assert_eq!(results.len(), 1000);
        assert!(results.iter().all(|r| matches!(r, Err(ref e) if e.kind() == ErrorKind::Type)));
        check_scans(
            keys, all_keys, hashes, hash_f1, members, scored, of_type, small,
        );
    }};
}

#[tokio::test]
async fn scan_async() {
    use slotline_conn::Query;
    let server = Standalone::builder().local().start().unwrap();
    fill_for_scan(&server);
    let c = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    async_scans!(c);
    let c = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    async_scans!(c);
}

#[test]
fn scan_blocking() {
    use slotline_conn::blocking::Query;
    let server = Standalone::builder().local().start().unwrap();
    fill_for_scan(&server);
    let c = slotline_conn::blocking::Connection::connect(config(&server)).unwrap();
    blocking_scans!(c);
    let c = slotline_conn::blocking::Client::connect(config(&server)).unwrap();
    blocking_scans!(c);
}
