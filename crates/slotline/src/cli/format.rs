//! Replies printed the way `redis-cli` prints them: types visible, nil, nested arrays
//! numbered and indented.

use slotline_resp::Frame;

/// Renders a reply as `redis-cli` does on a terminal.
///
/// ```
/// use slotline::cli::format_reply;
/// use slotline::resp::Frame;
/// let reply = Frame::Array(vec![Frame::bulk("a"), Frame::Integer(2), Frame::Null]);
/// assert_eq!(format_reply(&reply), "1) \"a\"\n2) (integer) 2\n3) (nil)");
/// ```
pub fn format_reply(frame: &Frame) -> String {
    let mut out = String::new();
    write_frame(&mut out, frame, 0);
    out
}

fn write_frame(out: &mut String, frame: &Frame, indent: usize) {
    match frame {
        Frame::Simple(s) => out.push_str(&String::from_utf8_lossy(s)),
        Frame::Error(e) => {
            out.push_str("(error) ");
            out.push_str(&String::from_utf8_lossy(e));
        }
        Frame::Integer(n) => out.push_str(&format!("(integer) {n}")),
        Frame::Bulk(b) => out.push_str(&quote(b)),
        Frame::Null | Frame::NullArray => out.push_str("(nil)"),
        Frame::Double(d) => out.push_str(&format!("(double) {}", String::from_utf8_lossy(d))),
        Frame::Boolean(b) => out.push_str(if *b { "(true)" } else { "(false)" }),
        Frame::BigNumber(n) => {
            out.push_str(&format!("(big number) {}", String::from_utf8_lossy(n)))
        }
        Frame::Verbatim(_) => out.push_str(&String::from_utf8_lossy(
            frame.as_bytes().unwrap_or_default(),
        )),
        Frame::Attribute { value, .. } => write_frame(out, value, indent),
        Frame::Array(items) | Frame::Push(items) => write_items(out, items, ')', indent),
        Frame::Set(items) => write_items(out, items, '~', indent),
        Frame::Map(items) if items.is_empty() => out.push_str("(empty hash)"),
        Frame::Map(items) => {
            let width = (items.len() / 2).to_string().len();
            for (i, pair) in items.chunks(2).enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let label = format!("{:>width$}# ", i + 1);
                out.push_str(&label);
                write_frame(out, &pair[0], indent + label.len());
                out.push_str(" => ");
                if let Some(value) = pair.get(1) {
                    write_frame(out, value, indent + label.len());
                }
            }
        }
    }
}

/// The elements of an array, push (`1)`) or set (`1~`), numbered and indented.
fn write_items(out: &mut String, items: &[Frame], mark: char, indent: usize) {
    if items.is_empty() {
        out.push_str(if mark == '~' {
            "(empty set)"
        } else {
            "(empty array)"
        });
        return;
    }
    let width = items.len().to_string().len();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        let label = format!("{:>width$}{mark} ", i + 1);
        out.push_str(&label);
        write_frame(out, item, indent + label.len());
    }
}

/// A bulk string in double quotes, with `redis-cli`'s escapes for non-printable bytes.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
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
