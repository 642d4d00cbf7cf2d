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
        Frame::Array(items) if items.is_empty() => out.push_str("(empty array)"),
        Frame::Array(items) => {
            let width = items.len().to_string().len();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let label = format!("{:>width$}) ", i + 1);
                out.push_str(&label);
                write_frame(out, item, indent + label.len());
            }
        }
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
