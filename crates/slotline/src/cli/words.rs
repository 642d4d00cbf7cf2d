//! A typed line split into a command's words as redis-cli splits it (`sdssplitargs`):
//! spaces between words; `"..."` with `\n \r \t \b \a \\ \" \xHH` escapes; `'...'` with
//! only `\'`.

/// The words of `line`, or why it cannot be split (an unclosed quote, a quote followed by
/// something other than a space).
pub(super) fn split(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(words);
        }
        let mut word = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            let Some(&c) = bytes.get(i) else {
                if quote.is_some() {
                    return Err("unbalanced quotes".into());
                }
                break;
            };
            match quote {
                None if c.is_ascii_whitespace() => break,
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None => word.push(c),
                // The closing quote (an escaped one was taken with its backslash).
                Some(q) if c == q => {
                    if bytes.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                }
                Some(b'"') => match c {
                    b'\\'
                        if bytes.get(i + 1) == Some(&b'x')
                            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                            && bytes.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                    {
                        let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap_or("0");
                        word.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                        i += 3;
                    }
                    b'\\' if i + 1 < bytes.len() => {
                        i += 1;
                        word.push(match bytes[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    other => word.push(other),
                },
                Some(_) => match c {
                    b'\\' if bytes.get(i + 1) == Some(&b'\'') => {
                        word.push(b'\'');
                        i += 1;
                    }
                    other => word.push(other),
                },
            }
            i += 1;
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split(line)
            .unwrap()
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect()
    }

    #[test]
    fn splits_as_redis_cli() {
        assert_eq!(words("  SET k v "), ["SET", "k", "v"]);
        assert_eq!(words(r#"SET k "hello world""#), ["SET", "k", "hello world"]);
        assert_eq!(words(r#"SET k "a\nb\x41""#), ["SET", "k", "a\nbA"]);
        assert_eq!(words(r"SET k 'it\'s'"), ["SET", "k", "it's"]);
        assert_eq!(words(r#"SET k """#), ["SET", "k", ""]);
        assert!(split(r#"SET k "open"#).is_err());
        assert!(split(r#"SET k "a"b"#).is_err());
        assert!(split("SET k 'a'b").is_err());
        assert_eq!(words(r#"SET k "say \"hi\"""#), ["SET", "k", "say \"hi\""]);
        assert!(words("").is_empty());
    }
}
