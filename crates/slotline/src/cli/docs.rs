//! The server's own documentation of its commands (`COMMAND DOCS`, Redis 7 and later):
//! each command's argument syntax, summary, version and group, as redis-cli's `HELP`
//! prints them and its prompt hints them. Asked of the server, so that it fits the
//! server's version and its modules; without it (Redis 6) the command line falls back to
//! what the command table knows (`help`).

use slotline_conn::{Frame, Query};

use crate::Client;

/// Every command and subcommand the server documents, in redis-cli's order (by group,
/// then by name).
pub(super) struct Docs {
    entries: Vec<Entry>,
}

/// One documented command or subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Its words, upper-cased (`["CLIENT", "KILL"]`).
    words: Vec<String>,
    /// Its arguments, written as redis-cli writes them (`key value [NX|XX] ...`).
    syntax: String,
    summary: String,
    since: String,
    group: String,
}

impl Docs {
    /// Asks the server for the documentation of every command; `None` if it has none to
    /// give (before Redis 7, or a refusal).
    pub(super) async fn fetch(client: &Client) -> Option<Docs> {
        let words = [b"COMMAND".to_vec(), b"DOCS".to_vec()];
        let reply = client
            .send_command(&super::oneshot::to_cmd(&words))
            .await
            .ok()?;
        let docs = Docs::parse(&reply);
        (!docs.entries.is_empty()).then_some(docs)
    }

    /// The documentation in a `COMMAND DOCS` reply (a map over RESP3, pairs over RESP2).
    fn parse(reply: &Frame) -> Docs {
        let mut entries = Vec::new();
        for (name, doc) in reply.pairs() {
            if let Some(name) = name.as_str() {
                collect(name, doc, &mut entries);
            }
        }
        entries.sort_by(|a, b| (&a.group, &a.words).cmp(&(&b.group, &b.words)));
        Docs { entries }
    }

    /// `HELP words` as redis-cli prints it: every command whose first words are `words`
    /// (`HELP client` lists `CLIENT` and its subcommands), or every command of a group
    /// (`HELP @string`); a blank line when nothing matches.
    pub(super) fn help(&self, words: &[Vec<u8>]) -> String {
        let words: Vec<String> = words
            .iter()
            .map(|w| String::from_utf8_lossy(w).to_ascii_uppercase())
            .collect();
        let mut out = String::new();
        let group = words.first().and_then(|w| w.strip_prefix('@'));
        for e in &self.entries {
            let shown = match group {
                Some(g) => e.group.eq_ignore_ascii_case(g),
                None => e.words.len() >= words.len() && e.words[..words.len()] == words[..],
            };
            if shown {
                out.push_str(&format!(
                    "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n",
                    e.words.join(" "),
                    e.syntax
                ));
                out.push_str(&format!("  \x1b[33msummary:\x1b[0m {}\r\n", e.summary));
                out.push_str(&format!("  \x1b[33msince:\x1b[0m {}\r\n", e.since));
                if group.is_none() {
                    out.push_str(&format!("  \x1b[33mgroup:\x1b[0m {}\r\n", e.group));
                }
            }
        }
        out.push_str("\r\n");
        out
    }

    /// The argument syntax of the command named `name` (one word), for the prompt's hint.
    pub(super) fn syntax(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.words.len() == 1 && e.words[0].eq_ignore_ascii_case(name))
            .map(|e| e.syntax.as_str())
    }
}

/// Adds the entry of the command `name` (`client|kill` for a subcommand) documented by
/// `doc`, and those of its subcommands.
fn collect(name: &str, doc: &Frame, entries: &mut Vec<Entry>) {
    let field = |key: &str| field(doc, key);
    let text = |key: &str| {
        field(key)
            .and_then(Frame::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let syntax = field("arguments")
        .map(|args| args.iter().map(argument).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    entries.push(Entry {
        words: name.split('|').map(str::to_ascii_uppercase).collect(),
        syntax,
        summary: text("summary"),
        since: text("since"),
        group: text("group"),
    });
    for (sub, sub_doc) in field("subcommands").map(Frame::pairs).into_iter().flatten() {
        if let Some(sub) = sub.as_str() {
            collect(sub, sub_doc, entries);
        }
    }
}

/// The value under `key` in a map (pairs over RESP2).
fn field<'a>(map: &'a Frame, key: &str) -> Option<&'a Frame> {
    map.pairs()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// One argument as redis-cli writes it: a block's arguments joined by spaces, a choice's
/// by `|`, a token before its value, `name [name ...]` when repeated, `[...]` when
/// optional.
fn argument(arg: &Frame) -> String {
    let field = |key: &str| field(arg, key);
    let text = |key: &str| field(key).and_then(Frame::as_str);
    let flag =
        |name: &str| field("flags").is_some_and(|f| f.iter().any(|v| v.as_str() == Some(name)));
    let inner = |sep: &str| {
        field("arguments")
            .map(|a| a.iter().map(argument).collect::<Vec<_>>().join(sep))
            .unwrap_or_default()
    };
    let token = text("token");
    let mut name = match text("type") {
        Some("block") => Some(inner(" ")),
        Some("oneof") => Some(inner("|")),
        Some("pure-token") => None,
        _ => text("display_text")
            .or_else(|| text("name"))
            .map(str::to_string),
    };
    if flag("multiple") {
        let one = name.clone().unwrap_or_default();
        name = Some(match (flag("multiple_token"), token) {
            (true, Some(t)) => format!("{one} [{t} {one} ...]"),
            _ => format!("{one} [{one} ...]"),
        });
    }
    // The empty token (`MIGRATE`'s `""` for no key) is written as redis-cli writes it.
    let token = token.map(|t| if t.is_empty() { "\"\"" } else { t });
    let mut out = match (token, name) {
        (Some(t), Some(n)) => format!("{t} {n}"),
        (Some(t), None) => t.to_string(),
        (None, n) => n.unwrap_or_default(),
    };
    if flag("optional") {
        out = format!("[{out}]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Frame)]) -> Frame {
        Frame::Map(
            pairs
                .iter()
                .flat_map(|(k, v)| [Frame::bulk(k.to_string()), v.clone()])
                .collect(),
        )
    }

    fn s(v: &str) -> Frame {
        Frame::bulk(v.to_string())
    }

    fn flags(f: &[&str]) -> Frame {
        Frame::Array(f.iter().map(|f| s(f)).collect())
    }

    fn token(name: &str, token: &str) -> Frame {
        map(&[
            ("name", s(name)),
            ("type", s("pure-token")),
            ("token", s(token)),
        ])
    }

    /// `SET`'s arguments as Redis 7.0 documents them, shortened.
    fn set_doc() -> Frame {
        map(&[
            ("summary", s("Set the string value of a key")),
            ("since", s("1.0.0")),
            ("group", s("string")),
            (
                "arguments",
                Frame::Array(vec![
                    map(&[("name", s("key")), ("type", s("key"))]),
                    map(&[("name", s("value")), ("type", s("string"))]),
                    map(&[
                        ("name", s("condition")),
                        ("type", s("oneof")),
                        ("flags", flags(&["optional"])),
                        (
                            "arguments",
                            Frame::Array(vec![token("nx", "NX"), token("xx", "XX")]),
                        ),
                    ]),
                    map(&[
                        ("name", s("expiration")),
                        ("type", s("oneof")),
                        ("flags", flags(&["optional"])),
                        (
                            "arguments",
                            Frame::Array(vec![
                                map(&[
                                    ("name", s("seconds")),
                                    ("type", s("integer")),
                                    ("token", s("EX")),
                                ]),
                                token("keepttl", "KEEPTTL"),
                            ]),
                        ),
                    ]),
                ]),
            ),
        ])
    }

    #[test]
    fn arguments_are_written_as_redis_cli_writes_them() {
        let docs = Docs::parse(&map(&[("set", set_doc())]));
        assert_eq!(
            docs.syntax("set"),
            Some("key value [NX|XX] [EX seconds|KEEPTTL]")
        );
        let repeated = map(&[
            ("name", s("data")),
            ("type", s("block")),
            ("flags", flags(&["multiple"])),
            (
                "arguments",
                Frame::Array(vec![
                    map(&[("name", s("field")), ("type", s("string"))]),
                    map(&[("name", s("value")), ("type", s("string"))]),
                ]),
            ),
        ]);
        assert_eq!(argument(&repeated), "field value [field value ...]");
        let by_token = map(&[
            ("name", s("pattern")),
            ("type", s("pattern")),
            ("token", s("GET")),
            ("flags", flags(&["optional", "multiple", "multiple_token"])),
        ]);
        assert_eq!(argument(&by_token), "[GET pattern [GET pattern ...]]");
    }

    #[test]
    fn help_matches_words_or_a_group() {
        // Over RESP2 the reply is pairs in an array; a subcommand is nested.
        let client = Frame::Array(vec![
            s("client"),
            Frame::Array(vec![
                s("summary"),
                s("A container"),
                s("since"),
                s("2.4.0"),
                s("group"),
                s("connection"),
                s("subcommands"),
                Frame::Array(vec![
                    s("client|id"),
                    Frame::Array(vec![
                        s("summary"),
                        s("Returns the client ID"),
                        s("since"),
                        s("5.0.0"),
                        s("group"),
                        s("connection"),
                    ]),
                ]),
            ]),
            s("set"),
            set_doc(),
        ]);
        let docs = Docs::parse(&client);
        let set = docs.help(&[b"set".to_vec()]);
        assert_eq!(
            set,
            "\r\n  \x1b[1mSET\x1b[0m \x1b[90mkey value [NX|XX] [EX seconds|KEEPTTL]\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m Set the string value of a key\r\n  \x1b[33msince:\x1b[0m \
             1.0.0\r\n  \x1b[33mgroup:\x1b[0m string\r\n\r\n"
        );
        let both = docs.help(&[b"CLIENT".to_vec()]);
        assert!(both.contains("CLIENT\x1b[0m \x1b[90m\x1b[0m") && both.contains("CLIENT ID"));
        assert_eq!(
            docs.help(&[b"client".to_vec(), b"id".to_vec()])
                .matches("summary")
                .count(),
            1
        );
        assert!(docs.help(&[b"@string".to_vec()]).contains("SET"));
        assert!(!docs.help(&[b"@string".to_vec()]).contains("group:"));
        assert_eq!(docs.help(&[b"nosuch".to_vec()]), "\r\n");
    }
}
