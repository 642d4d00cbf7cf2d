//! Replies printed the way `redis-cli` prints them, byte for byte: on a terminal with their
//! types visible (`(integer) 1`, `(nil)`, nested arrays numbered and indented), and raw
//! (`--raw`, or stdout not a terminal) as bare values, one per line.

use slotline_resp::Frame;

/// How replies are printed (redis-cli's `--raw` / `--no-raw`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Types visible, strings quoted, arrays numbered: redis-cli on a terminal.
    Tty,
    /// Bare values, one per line: redis-cli with `--raw` or into a pipe.
    Raw,
}

/// Renders a reply as `redis-cli` does on a terminal (without the final newline).
///
/// ```
/// use slotline::cli::format_reply;
/// use slotline::resp::Frame;
/// let reply = Frame::Array(vec![Frame::bulk("a"), Frame::Integer(2), Frame::Null]);
/// assert_eq!(format_reply(&reply), "1) \"a\"\n2) (integer) 2\n3) (nil)");
/// ```
pub fn format_reply(frame: &Frame) -> String {
    let mut out = Vec::new();
    tty(&mut out, frame, "");
    out.pop();
    String::from_utf8_lossy(&out).into_owned()
}

/// The bytes `redis-cli` writes for a reply: in `output` mode, or as a bare value when the
/// command is one it always prints raw (`verbatim`: `INFO`, `CLIENT LIST`, ...).
pub fn render_reply(frame: &Frame, output: Output, verbatim: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if verbatim {
        raw(&mut out, frame);
    } else {
        match output {
            Output::Tty => tty(&mut out, frame, ""),
            Output::Raw => {
                raw(&mut out, frame);
                out.push(b'\n');
            }
        }
    }
    out
}

/// Whether redis-cli prints this command's reply raw even on a terminal.
pub(super) fn prints_verbatim(args: &[impl AsRef<[u8]>]) -> bool {
    let is = |i: usize, name: &str| {
        args.get(i)
            .is_some_and(|a| a.as_ref().eq_ignore_ascii_case(name.as_bytes()))
    };
    let n = args.len();
    is(0, "info")
        || is(0, "lolwut")
        || (n >= 2 && is(0, "debug") && (is(1, "htstats") || is(1, "htstats-key")))
        || (n >= 2 && is(0, "memory") && (is(1, "malloc-stats") || is(1, "doctor")))
        || (n == 2 && is(0, "cluster") && (is(1, "nodes") || is(1, "info")))
        || (n >= 2 && is(0, "client") && (is(1, "list") || is(1, "info")))
        || (n == 3 && is(0, "latency") && is(1, "graph"))
        || (n == 2 && is(0, "latency") && is(1, "doctor"))
}

/// redis-cli's terminal form of `frame`, each line ending in a newline; nested elements
/// are indented by `prefix`.
fn tty(out: &mut Vec<u8>, frame: &Frame, prefix: &str) {
    match frame {
        Frame::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Frame::Integer(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Frame::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(d);
            out.push(b'\n');
        }
        Frame::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
            out.push(b'\n');
        }
        Frame::Bulk(b) => {
            quote(out, b);
            out.push(b'\n');
        }
        Frame::Verbatim(_) => {
            out.extend_from_slice(frame.as_bytes().unwrap_or_default());
            out.push(b'\n');
        }
        Frame::Null | Frame::NullArray => out.extend_from_slice(b"(nil)\n"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Frame::Attribute { value, .. } => tty(out, value, prefix),
        Frame::Array(items) | Frame::Push(items) | Frame::Set(items) | Frame::Map(items) => {
            let (mark, empty, count) = match frame {
                Frame::Set(_) => ('~', "(empty set)", items.len()),
                Frame::Map(_) => ('#', "(empty hash)", items.len() / 2),
                Frame::Push(_) => (')', "(empty push)", items.len()),
                _ => (')', "(empty array)", items.len()),
            };
            if items.is_empty() {
                out.extend_from_slice(empty.as_bytes());
                out.push(b'\n');
                return;
            }
            let width = count.to_string().len();
            let inner = format!("{prefix}{}", " ".repeat(width + 2));
            let map = matches!(frame, Frame::Map(_));
            let step = if map { 2 } else { 1 };
            for (n, i) in (0..items.len()).step_by(step).enumerate() {
                let lead = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{lead}{:>width$}{mark} ", n + 1).as_bytes());
                tty(out, &items[i], &inner);
                if map {
                    out.pop();
                    out.extend_from_slice(b" => ");
                    match items.get(i + 1) {
                        Some(value) => tty(out, value, &inner),
                        None => out.extend_from_slice(b"(nil)\n"),
                    }
                }
            }
        }
    }
}

/// redis-cli's raw form of `frame`: bare values, elements one per line, a map's key and
/// value on one line; nothing for nil.
fn raw(out: &mut Vec<u8>, frame: &Frame) {
    match frame {
        Frame::Null | Frame::NullArray => {}
        Frame::Error(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(b) | Frame::Bulk(b) | Frame::Double(b) | Frame::BigNumber(b) => {
            out.extend_from_slice(b)
        }
        Frame::Verbatim(_) => out.extend_from_slice(frame.as_bytes().unwrap_or_default()),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Attribute { value, .. } => raw(out, value),
        Frame::Array(items) | Frame::Push(items) | Frame::Set(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(out, item);
            }
        }
        Frame::Map(items) => {
            for (i, pair) in items.chunks(2).enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(out, &pair[0]);
                out.push(b' ');
                if let Some(value) = pair.get(1) {
                    raw(out, value);
                }
            }
        }
    }
}

/// A bulk string in double quotes, with redis-cli's escapes (`sdscatrepr`).
fn quote(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_resp3_types_like_redis_cli() {
        assert_eq!(format_reply(&Frame::Boolean(true)), "(true)");
        assert_eq!(format_reply(&Frame::Double("1.5".into())), "(double) 1.5");
        assert_eq!(
            format_reply(&Frame::BigNumber("123".into())),
            "(big number) 123"
        );
        assert_eq!(format_reply(&Frame::Verbatim("txt:a\nb".into())), "a\nb");
        let map = Frame::Map(vec![
            Frame::bulk("server"),
            Frame::bulk("redis"),
            Frame::bulk("modules"),
            Frame::Array(vec![]),
        ]);
        assert_eq!(
            format_reply(&map),
            "1# \"server\" => \"redis\"\n2# \"modules\" => (empty array)"
        );
        assert_eq!(format_reply(&Frame::Map(vec![])), "(empty hash)");
        assert_eq!(
            format_reply(&Frame::Set(vec![Frame::bulk("a"), Frame::bulk("b")])),
            "1~ \"a\"\n2~ \"b\""
        );
    }

    #[test]
    fn prints_like_redis_cli() {
        assert_eq!(format_reply(&Frame::simple("OK")), "OK");
        assert_eq!(format_reply(&Frame::error("ERR bad")), "(error) ERR bad");
        assert_eq!(format_reply(&Frame::Integer(-3)), "(integer) -3");
        assert_eq!(
            format_reply(&Frame::bulk("a\"b\n\x01")),
            "\"a\\\"b\\n\\x01\""
        );
        assert_eq!(format_reply(&Frame::Null), "(nil)");
        assert_eq!(format_reply(&Frame::Array(vec![])), "(empty array)");
        let nested = Frame::Array(vec![
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(5460)]),
            Frame::bulk("x"),
        ]);
        assert_eq!(
            format_reply(&nested),
            "1) 1) (integer) 0\n   2) (integer) 5460\n2) \"x\""
        );
        let eleven = Frame::Array((0..11).map(Frame::Integer).collect());
        assert!(format_reply(&eleven).starts_with(" 1) (integer) 0\n 2)"));
    }
}
