//! What `slotline` does with a command, as redis-cli does: the reply printed (formatted on
//! a terminal, raw into a pipe or with `--raw`), repeated with `-r`/`-i`; `SUBSCRIBE`,
//! `PSUBSCRIBE`, `SSUBSCRIBE` and `MONITOR` streamed until Ctrl-C; `--eval` and `--scan`;
//! `HELP`. Errors a person can act on go to stderr (an unknown command's closest names,
//! the arguments a command takes), never into the reply bytes.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use slotline_conn::{Cmd, Frame, MessageKind, Query};

use super::args::CliArgs;
use super::docs::Docs;
use super::format::{prints_verbatim, render_reply, Output};
use super::help;
use super::CliError;
use crate::Client;

/// How the command line ends: redis-cli's exit status.
pub(super) type Exit = i32;

/// Writes `bytes` to stdout and flushes (grep-friendly, as redis-cli).
pub(super) fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Connects to what `url` names, with a message a person can act on.
pub(super) async fn open(url: &str) -> Result<Client, CliError> {
    Client::open(url).await.map_err(|e| {
        format!(
            "could not connect to {}: {e}",
            slotline_conn::url::redact(url)
        )
    })
}

/// Runs one command (its words) as the flags say; returns the exit status.
pub(super) async fn run(
    a: &CliArgs,
    client: &Client,
    words: &[Vec<u8>],
    output: Output,
) -> Result<Exit, CliError> {
    let Some(name) = words.first() else {
        return Ok(0);
    };
    let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
    match upper.as_str() {
        "HELP" | "?" => {
            // redis-cli's help from the server's own documentation when it has some (one
            // round trip), else what the command table knows.
            let docs = match words.len() {
                1 => None,
                _ => Docs::fetch(client).await,
            };
            let text = match docs {
                Some(docs) => docs.help(&words[1..]),
                None => help::help(&words[1..]),
            };
            emit(text.as_bytes());
            return Ok(0);
        }
        "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" => {
            return subscribe(client, &upper, &words[1..], output).await;
        }
        "MONITOR" => return monitor(client, output).await,
        _ => {}
    }
    if a.interactive {
        help::warn_before_sending(words);
    }
    let command = to_cmd(words);
    let verbatim = prints_verbatim(words);
    let mut left = a.repeat;
    while left != 0 {
        if left > 0 {
            left -= 1;
        }
        let reply = client
            .send_command(&command)
            .await
            .map_err(|e| e.to_string())?;
        if let (true, Frame::Error(line)) = (a.errcode, &reply) {
            eprintln!("{}", String::from_utf8_lossy(line));
            return Ok(1);
        }
        emit(&render_reply(&reply, output, verbatim));
        if a.interval > 0.0 && left != 0 {
            tokio::time::sleep(Duration::from_secs_f64(a.interval)).await;
        }
    }
    Ok(0)
}

/// The command of `words`.
pub(super) fn to_cmd(words: &[Vec<u8>]) -> Cmd {
    let mut c = Cmd::new();
    for w in words {
        c.push_arg(&w[..]);
    }
    c
}

/// `SUBSCRIBE` and its kin: each confirmation and message printed as redis-cli prints
/// them, until Ctrl-C.
async fn subscribe(
    client: &Client,
    kind: &str,
    names: &[Vec<u8>],
    output: Output,
) -> Result<Exit, CliError> {
    if names.is_empty() {
        return Err(format!("{kind} needs at least one channel"));
    }
    let mut pubsub = client.pubsub().await.map_err(|e| e.to_string())?;
    if output != Output::Raw {
        emit(b"Reading messages... (press Ctrl-C to quit)\n");
    }
    let confirm = kind.to_ascii_lowercase();
    let mut count = 0;
    for name in names {
        let name = Bytes::copy_from_slice(name);
        let done = match kind {
            "PSUBSCRIBE" => pubsub.psubscribe(&name[..]).await,
            "SSUBSCRIBE" => pubsub.ssubscribe(&name[..]).await,
            _ => pubsub.subscribe(&name[..]).await,
        };
        done.map_err(|e| e.to_string())?;
        count += 1;
        let frame = Frame::Array(vec![
            Frame::bulk(confirm.clone()),
            Frame::Bulk(name),
            Frame::Integer(count),
        ]);
        emit(&render_reply(&frame, output, false));
    }
    loop {
        let message = tokio::select! {
            m = pubsub.next_message() => m,
            _ = tokio::signal::ctrl_c() => return Ok(0),
        };
        let frame = match message {
            None => return Err("the subscription's connection closed".into()),
            Some(Err(e)) => {
                eprintln!("slotline: {e} (messages may have been lost; subscribed again)");
                continue;
            }
            Some(Ok(m)) => {
                let label = match m.kind {
                    MessageKind::PMessage => "pmessage",
                    MessageKind::SMessage => "smessage",
                    _ => "message",
                };
                let mut items = vec![Frame::bulk(label)];
                if let Some(p) = m.pattern {
                    items.push(Frame::Bulk(p));
                }
                items.push(Frame::Bulk(m.channel));
                items.push(Frame::Bulk(m.payload));
                Frame::Array(items)
            }
        };
        emit(&render_reply(&frame, output, false));
    }
}

/// `MONITOR`: `OK`, then every line the server sends, until Ctrl-C.
async fn monitor(client: &Client, output: Output) -> Result<Exit, CliError> {
    // A connection of its own to the node the client uses (`Client::dedicated`).
    let node = match client {
        Client::Node(c) => c,
        Client::SentinelMaster(c) => c.client(),
        _ => {
            return Err(
                "MONITOR watches one node: give its URL (redis://host:port), not a cluster or \
                 sharded URL"
                    .into(),
            )
        }
    };
    let con = node.dedicated().await.map_err(|e| e.to_string())?;
    let mut monitor = con.into_monitor().await.map_err(|e| e.to_string())?;
    emit(&render_reply(&Frame::simple("OK"), output, false));
    loop {
        let line = tokio::select! {
            l = monitor.next_line() => l.map_err(|e| e.to_string())?,
            _ = tokio::signal::ctrl_c() => return Ok(0),
        };
        let Some(line) = line else {
            return Err("the server closed the connection".into());
        };
        emit(&render_reply(&Frame::Simple(line), output, false));
    }
}

/// `--eval FILE key1 key2 , arg1 arg2`: the script run with `EVAL`.
pub(super) async fn eval(
    a: &CliArgs,
    client: &Client,
    file: &str,
    output: Output,
) -> Result<Exit, CliError> {
    let script = std::fs::read(file).map_err(|e| format!("--eval: cannot read {file}: {e}"))?;
    let (keys, args) = match a.words.iter().position(|w| w == ",") {
        Some(i) => (&a.words[..i], &a.words[i + 1..]),
        None => (&a.words[..], &a.words[..0]),
    };
    let mut words: Vec<Vec<u8>> = vec![
        b"EVAL".to_vec(),
        script,
        keys.len().to_string().into_bytes(),
    ];
    words.extend(keys.iter().chain(args).map(|w| w.as_bytes().to_vec()));
    let once = CliArgs {
        repeat: 1,
        ..a.clone()
    };
    run(&once, client, &words, output).await
}

/// `--scan [--pattern P] [--count N]`: every key, one per line, over every master or shard.
pub(super) async fn scan(a: &CliArgs, client: &Client) -> Result<Exit, CliError> {
    let mut options = slotline_conn::ScanOptions::keys();
    if let Some(p) = &a.pattern {
        options = options.pattern(p.as_str());
    }
    if let Some(n) = a.count {
        options = options.count(n);
    }
    let mut keys = client.scan::<Vec<u8>>(options);
    let mut out = Vec::new();
    while let Some(key) = keys.next().await {
        out.clear();
        out.extend_from_slice(&key.map_err(|e| e.to_string())?);
        out.push(b'\n');
        emit(&out);
    }
    Ok(0)
}
