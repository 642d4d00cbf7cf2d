//! The interactive prompt (`slotline` with no command, stdin a terminal): line editing and
//! history (`rustyline`, kept in `~/.slotline_history`), Tab completing command names from
//! the command table and hints of their arguments from the server's `COMMAND DOCS`, `HELP
//! cmd`, the node and the mode in the prompt (`127.0.0.1:7000[cluster]> `), and with `-c`
//! in cluster mode a line saying where a command went when its slot lives elsewhere, as
//! redis-cli's `-> Redirected to slot [S] located at H:P`.

use std::borrow::Cow;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use slotline_conn::command_table;

use super::args::CliArgs;
use super::docs::Docs;
use super::format::Output;
use super::oneshot::{self, Exit};
use super::{help, words, CliError};
use crate::Client;

/// Completion from the command table; hints from the server's documentation when it has
/// some (`COMMAND DOCS`), else from the command table.
struct CommandHelper {
    names: Vec<String>,
    docs: Option<Docs>,
}

impl Completer for CommandHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let head = &line[..pos];
        if head.contains(char::is_whitespace) {
            return Ok((pos, Vec::new()));
        }
        let typed = head.to_ascii_uppercase();
        let found = self
            .names
            .iter()
            .filter(|n| n.starts_with(&typed))
            .map(|n| format!("{n} "))
            .collect();
        Ok((0, found))
    }
}

impl Hinter for CommandHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        let mut parts = line.split_whitespace();
        let name = parts.next()?;
        let typed = parts.count() + usize::from(line.ends_with(' '));
        if let Some(syntax) = self.docs.as_ref().and_then(|d| d.syntax(name)) {
            return hint_from_syntax(syntax, line, typed);
        }
        let info = command_table::lookup_name(name)?;
        let arguments = help::arguments(info);
        let rest = arguments
            .split_whitespace()
            .skip(typed.saturating_sub(1))
            .collect::<Vec<_>>()
            .join(" ");
        match (rest.is_empty(), line.ends_with(' ')) {
            (true, _) => None,
            (false, true) => Some(rest),
            (false, false) if typed == 0 => Some(format!(" {rest}")),
            (false, false) => None,
        }
    }
}

/// redis-cli's hint from a command's syntax: the words not typed yet, up to the first
/// optional part (`[`), which stays; a space first when the line does not end in one.
fn hint_from_syntax(syntax: &str, line: &str, typed: usize) -> Option<String> {
    let mut rest = syntax;
    let mut skip = typed.saturating_sub(1);
    while skip > 0 && !rest.is_empty() && !rest.starts_with('[') {
        if rest.starts_with(' ') {
            skip -= 1;
        }
        rest = &rest[rest.chars().next().map_or(1, char::len_utf8)..];
    }
    match (rest.is_empty(), line.ends_with(' ')) {
        (true, _) => None,
        (false, true) => Some(rest.to_string()),
        (false, false) if typed == 0 => Some(format!(" {rest}")),
        (false, false) => None,
    }
}

impl Highlighter for CommandHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl Validator for CommandHelper {}

impl Helper for CommandHelper {}

/// Where the prompt says it is: the node, the database, the mode.
struct Where {
    node: String,
    db: i64,
    mode: String,
}

impl Where {
    fn of(client: &Client) -> Where {
        let (node, db, mode) = match client {
            Client::Node(c) => (c.addr().to_string(), c.config().db, String::new()),
            Client::SentinelMaster(c) => (
                c.client().addr().to_string(),
                c.client().config().db,
                format!("sentinel {}", c.service()),
            ),
            Client::SentinelReplica(c) => (
                c.replica_addrs()
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                0,
                format!("sentinel {} replicas", c.service()),
            ),
            Client::ShardedSentinel(_) => (String::new(), 0, "sharded".to_string()),
            Client::Cluster(c) => (
                c.masters()
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                0,
                "cluster".to_string(),
            ),
        };
        Where { node, db, mode }
    }

    fn prompt(&self) -> String {
        let mut p = self.node.clone();
        if self.db != 0 {
            p.push_str(&format!("[{}]", self.db));
        }
        if !self.mode.is_empty() {
            p.push_str(&format!("[{}]", self.mode));
        }
        p.push_str("> ");
        p
    }
}

/// The prompt, until `quit`, `exit` or Ctrl-D.
pub(super) fn run(a: &CliArgs, runtime: &tokio::runtime::Runtime) -> Result<Exit, CliError> {
    let client = runtime.block_on(oneshot::open(&a.url))?;
    let output = a.output.unwrap_or(Output::Tty);
    let mut here = Where::of(&client);
    let mut editor: Editor<CommandHelper, DefaultHistory> =
        Editor::new().map_err(|e| format!("cannot open the terminal: {e}"))?;
    editor.set_helper(Some(CommandHelper {
        names: help::names(),
        docs: runtime.block_on(Docs::fetch(&client)),
    }));
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".slotline_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    loop {
        let line = match editor.readline(&here.prompt()) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(format!("cannot read the terminal: {e}")),
        };
        let words = match words::split(&line) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(e) => {
                eprintln!("Invalid argument(s): {e}");
                continue;
            }
        };
        let _ = editor.add_history_entry(line.as_str());
        let first = String::from_utf8_lossy(&words[0]).to_ascii_lowercase();
        match first.as_str() {
            "quit" | "exit" => break,
            "clear" => {
                let _ = editor.clear_screen();
                continue;
            }
            _ => {}
        }
        if a.follow {
            redirected(&client, &words, &mut here);
        }
        let once = CliArgs {
            repeat: 1,
            interactive: true,
            ..a.clone()
        };
        if let Err(e) = runtime.block_on(oneshot::run(&once, &client, &words, output)) {
            eprintln!("(error) {e}");
        }
        if first == "select" && words.len() == 2 {
            here.db = String::from_utf8_lossy(&words[1])
                .parse()
                .unwrap_or(here.db);
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(0)
}

/// In cluster mode, says where a keyed command goes when it is not the node the prompt
/// names, and moves the prompt there.
fn redirected(client: &Client, words: &[Vec<u8>], here: &mut Where) {
    let Client::Cluster(c) = client else { return };
    let command = oneshot::to_cmd(words);
    let Some(key) = command_table::keys(&command).next() else {
        return;
    };
    let slot = slotline_cluster::slot(key);
    let Some(owner) = c.master_for_slot(slot) else {
        return;
    };
    let owner = owner.to_string();
    if owner != here.node {
        println!("-> Redirected to slot [{slot}] located at {owner}");
        here.node = owner;
    }
}

#[cfg(test)]
mod tests {
    use super::hint_from_syntax;

    #[test]
    fn the_hint_drops_what_was_typed_as_redis_cli_does() {
        let set = "key value [NX|XX] [GET]";
        let hint = |line: &str| {
            let typed = line.split_whitespace().count() - 1 + usize::from(line.ends_with(' '));
            hint_from_syntax(set, line, typed)
        };
        assert_eq!(hint("SET").as_deref(), Some(" key value [NX|XX] [GET]"));
        assert_eq!(hint("SET ").as_deref(), Some("key value [NX|XX] [GET]"));
        assert_eq!(hint("SET k").as_deref(), None);
        assert_eq!(hint("SET k ").as_deref(), Some("value [NX|XX] [GET]"));
        // Optional parts are not counted off: they stay until the line is sent.
        assert_eq!(hint("SET k v ").as_deref(), Some("[NX|XX] [GET]"));
        assert_eq!(hint("SET k v NX ").as_deref(), Some("[NX|XX] [GET]"));
        assert_eq!(hint_from_syntax("", "PING ", 1), None);
    }
}
