//! The command line's flags, as redis-cli names them (`-h -p -a --user --pass -n -u --tls
//! --cacert --cert --key --sni --insecure --raw --no-raw -r -i -x -e -c -3 --eval --scan
//! --pattern --count`), read with `clap`; every slotline URL goes through `-u`/`--url`.

use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::format::Output;
use super::CliError;

/// What the command line asks for.
#[derive(Debug, Clone)]
pub(super) struct CliArgs {
    /// The URL the flags name.
    pub url: String,
    /// Whether a flag or `$SLOTLINE_URL` named it (else it is the default node).
    pub url_given: bool,
    /// `--raw` / `--no-raw`; none: raw when stdout is not a terminal.
    pub output: Option<Output>,
    /// `-r`: how many times (negative: forever).
    pub repeat: i64,
    /// `-i`: seconds between repeats.
    pub interval: f64,
    /// `-x`: the last argument read from stdin.
    pub stdin_arg: bool,
    /// `-e`: an error reply exits with 1 (and goes to stderr).
    pub errcode: bool,
    /// `-c`: say where a cluster command went (`-> Redirected to slot ...`).
    pub follow: bool,
    /// `--eval FILE`.
    pub eval: Option<String>,
    /// `--scan`, with `--pattern` and `--count`.
    pub scan: bool,
    pub pattern: Option<String>,
    pub count: Option<u64>,
    /// `--help`.
    pub help: bool,
    /// `--version`.
    pub version: bool,
    /// At the prompt (a person reads stderr too: warnings before a command the server
    /// will refuse); one-shot output stays byte for byte redis-cli's.
    pub interactive: bool,
    /// The command and its arguments (or `bench ...`, `topology`, `stats ...`).
    pub words: Vec<String>,
}

/// A flag without a value (`--raw`, `-e`).
pub(super) fn flag(name: &'static str, short: Option<char>, help: &'static str) -> Arg {
    let a = Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help);
    match short {
        Some(c) => a.short(c),
        None => a,
    }
}

/// A flag with a value (`-p 6379`).
pub(super) fn value(name: &'static str, short: Option<char>, help: &'static str) -> Arg {
    let a = Arg::new(name).long(name).num_args(1).help(help);
    match short {
        Some(c) => a.short(c),
        None => a,
    }
}

/// The parser (redis-cli's flags; `-h` is the host, `--help` the help).
pub(super) fn command() -> Command {
    Command::new("slotline")
        .about("A command line for Redis in every deployment mode, with redis-cli's flags")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(value(
            "host",
            Some('h'),
            "Server host name (default 127.0.0.1)",
        ))
        .arg(value("port", Some('p'), "Server port (default 6379)"))
        .arg(value(
            "socket",
            Some('s'),
            "Server Unix socket (overrides host and port)",
        ))
        .arg(value("pass", Some('a'), "Password (also --pass)").alias("password"))
        .arg(value("user", None, "ACL user name"))
        .arg(value(
            "url",
            Some('u'),
            "Any slotline URL: redis://, rediss://, redis+sentinel://, redis+cluster://",
        ))
        .arg(value("db", Some('n'), "Database number"))
        .arg(flag("resp3", Some('3'), "Speak RESP3"))
        .arg(flag("resp2", Some('2'), "Speak RESP2"))
        .arg(flag("tls", None, "TLS"))
        .arg(value("cacert", None, "CA certificate file (implies --tls)"))
        .arg(value(
            "cert",
            None,
            "Client certificate file (implies --tls)",
        ))
        .arg(value("key", None, "Client key file (implies --tls)"))
        .arg(value("sni", None, "Server name for TLS (implies --tls)"))
        .arg(flag(
            "insecure",
            None,
            "Do not verify the server's certificate (implies --tls)",
        ))
        .arg(flag("raw", None, "Print replies raw"))
        .arg(flag(
            "no-raw",
            None,
            "Print replies formatted, even into a pipe",
        ))
        .arg(value(
            "repeat",
            Some('r'),
            "Run the command this many times (negative: forever)",
        ))
        .arg(value("interval", Some('i'), "Seconds between repeats"))
        .arg(flag(
            "stdin",
            Some('x'),
            "Read the last argument from stdin",
        ))
        .arg(flag("errcode", Some('e'), "Exit with 1 on an error reply"))
        .arg(flag(
            "cluster-mode",
            Some('c'),
            "Say where each cluster command went",
        ))
        .arg(flag(
            "no-auth-warning",
            None,
            "Accepted (slotline prints no such warning)",
        ))
        .arg(value(
            "eval",
            None,
            "Run a Lua script file: --eval FILE key1 key2 , arg1 arg2",
        ))
        .arg(flag(
            "scan",
            None,
            "List keys with SCAN (every master or shard)",
        ))
        .arg(value("pattern", None, "Keys --scan lists"))
        .arg(value("count", None, "COUNT for --scan"))
        .arg(flag("help", None, "Print this help"))
        .arg(flag("version", Some('v'), "Print the version"))
        .arg(
            Arg::new("words")
                .num_args(0..)
                .trailing_var_arg(true)
                .allow_hyphen_values(true)
                .value_name("COMMAND [ARG ...]"),
        )
}

/// Reads the arguments (without the program name); `default_url`: `$SLOTLINE_URL`.
pub(super) fn parse(args: &[String], default_url: Option<String>) -> Result<CliArgs, CliError> {
    let m = command()
        .try_get_matches_from(
            std::iter::once(OsString::from("slotline")).chain(args.iter().map(OsString::from)),
        )
        .map_err(|e| e.to_string().trim_end().to_string())?;
    let get = |name: &str| m.get_one::<String>(name).cloned();
    let on = |name: &str| m.get_flag(name);
    let url_given = [
        "url", "host", "port", "socket", "tls", "cacert", "cert", "key", "sni",
    ]
    .iter()
    .any(|f| m.contains_id(f) && m.value_source(f) == Some(clap::parser::ValueSource::CommandLine))
        || default_url.is_some();
    let words: Vec<String> = m
        .get_many::<String>("words")
        .map(|w| w.cloned().collect())
        .unwrap_or_default();
    // Words start at the first one that is not a flag; a flag there is one clap did not know.
    if let Some(first) = words
        .first()
        .filter(|w| w.starts_with('-') && w.parse::<f64>().is_err())
    {
        return Err(format!(
            "unrecognized option or bad number of arguments for {first:?} (--help lists them)"
        ));
    }
    let url = build_url(&m, default_url)?;
    let number = |name: &str, default: f64| -> Result<f64, CliError> {
        match get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("-{}: {v:?} is not a number", &name[..1])),
            None => Ok(default),
        }
    };
    Ok(CliArgs {
        url,
        url_given,
        output: match (on("raw"), on("no-raw")) {
            (true, _) => Some(Output::Raw),
            (_, true) => Some(Output::Tty),
            _ => None,
        },
        repeat: number("repeat", 1.0)? as i64,
        interval: number("interval", 0.0)?,
        stdin_arg: on("stdin"),
        errcode: on("errcode"),
        follow: on("cluster-mode"),
        eval: get("eval"),
        scan: on("scan"),
        pattern: get("pattern"),
        count: get("count")
            .map(|c| {
                c.parse()
                    .map_err(|_| format!("--count: {c:?} is not a number"))
            })
            .transpose()?,
        help: on("help"),
        version: on("version"),
        interactive: false,
        words,
    })
}

/// The URL the flags name: `-u` as given (with `-n`, `-a`/`--user`, `-3` and the TLS
/// flags applied on top), else one built from `-h`/`-p`/`-s`.
fn build_url(m: &ArgMatches, default_url: Option<String>) -> Result<String, CliError> {
    let get = |name: &str| m.get_one::<String>(name).cloned();
    let mut options: Vec<String> = Vec::new();
    let tls_value = [
        ("cacert", "ssl_ca_certs"),
        ("cert", "ssl_certfile"),
        ("key", "ssl_keyfile"),
        ("sni", "ssl_server_name"),
    ];
    let mut tls = m.get_flag("tls");
    for (flag, option) in tls_value {
        if let Some(v) = get(flag) {
            tls = true;
            options.push(format!("{option}={}", encode(&v)));
        }
    }
    if m.get_flag("insecure") {
        tls = true;
        options.push("ssl_cert_reqs=none".into());
    }
    if m.get_flag("resp3") {
        options.push("protocol=3".into());
    } else if m.get_flag("resp2") {
        options.push("protocol=2".into());
    }
    let given = get("url").or_else(|| {
        // $SLOTLINE_URL stands in for -u only when no -h/-p/-s names a node.
        let named = ["host", "port", "socket"].iter().any(|f| get(f).is_some());
        default_url.filter(|_| !named)
    });
    let mut url = match given {
        Some(url) => url,
        None => {
            let userinfo = match (get("user"), get("pass")) {
                (Some(u), Some(p)) => format!("{}:{}@", encode(&u), encode(&p)),
                (None, Some(p)) => format!(":{}@", encode(&p)),
                (Some(u), None) => format!("{}@", encode(&u)),
                (None, None) => String::new(),
            };
            match get("socket") {
                Some(path) => format!("redis+unix://{userinfo}{path}"),
                None => {
                    let host = get("host").unwrap_or_else(|| "127.0.0.1".into());
                    let port = get("port").unwrap_or_else(|| "6379".into());
                    port.parse::<u16>()
                        .map_err(|_| format!("-p: {port:?} is not a port"))?;
                    let host = if host.contains(':') && !host.starts_with('[') {
                        format!("[{host}]")
                    } else {
                        host
                    };
                    format!("redis://{userinfo}{host}:{port}")
                }
            }
        }
    };
    if let Some(db) = get("db") {
        db.parse::<i64>()
            .map_err(|_| format!("-n: {db:?} is not a database number"))?;
        options.push(format!("db={db}"));
    }
    if tls {
        url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("redis") => {
                format!("rediss://{rest}")
            }
            Some((scheme, rest)) if scheme.to_ascii_lowercase().starts_with("redis+") => {
                format!("rediss+{}://{rest}", &scheme[6..])
            }
            _ => url,
        };
    }
    for option in options {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&option);
    }
    Ok(url)
}

/// Percent-encodes what may not stand in a URL's user info or option value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> CliArgs {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&words, None).unwrap()
    }

    #[test]
    fn redis_cli_flags_make_the_url() {
        assert_eq!(args("PING").url, "redis://127.0.0.1:6379");
        let a = args("-h 10.0.0.1 -p 7000 -a s3cret -n 2 GET k");
        assert_eq!(a.url, "redis://:s3cret@10.0.0.1:7000?db=2");
        assert_eq!(a.words, ["GET", "k"]);
        assert_eq!(
            args("--user app --pass p@ss --tls --cacert /ca.pem PING").url,
            "rediss://app:p%40ss@127.0.0.1:6379?ssl_ca_certs=/ca.pem"
        );
        assert_eq!(
            args("-u redis+cluster://127.0.0.1:7000 --insecure --tls INFO").url,
            "rediss+cluster://127.0.0.1:7000?ssl_cert_reqs=none"
        );
        assert_eq!(args("-3 PING").url, "redis://127.0.0.1:6379?protocol=3");
        assert_eq!(args("-s /tmp/r.sock PING").url, "redis+unix:///tmp/r.sock");
    }

    #[test]
    fn command_words_keep_their_dashes() {
        let a = args("--raw -r 3 -i 0.5 LRANGE l 0 -1");
        assert_eq!(a.words, ["LRANGE", "l", "0", "-1"]);
        assert_eq!(
            (a.repeat, a.interval, a.output),
            (3, 0.5, Some(Output::Raw))
        );
        let a = args("--scan --pattern user:* --count 100");
        assert!(a.scan && a.words.is_empty());
        assert_eq!(a.pattern.as_deref(), Some("user:*"));
        assert_eq!(a.count, Some(100));
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(parse(&words("-p nope PING"), None)
            .unwrap_err()
            .contains("not a port"));
        assert!(parse(&words("--bogus PING"), None).is_err());
        assert!(parse(&words("-r x PING"), None)
            .unwrap_err()
            .contains("not a number"));
    }
}
