//! [`Script`]: Lua scripts sent by SHA1 (`EVALSHA`), loaded transparently on `NOSCRIPT`.

use crate::args::ToArgs;
use crate::{cmd, Cmd};

/// A Lua script, identified by its SHA1 digest.
///
/// ```
/// use slotline_command::Script;
/// let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
/// let call = script.key("counter").arg(5);
/// assert_eq!(script.sha1().len(), 40);
/// // Run it with `client.invoke_script::<i64>(&call)`: EVALSHA first, EVAL on NOSCRIPT.
/// # let _ = call;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    code: String,
    sha1: String,
}

impl Script {
    /// A script from its Lua source.
    pub fn new(code: impl Into<String>) -> Self {
        let code = code.into();
        let sha1 = sha1_smol::Sha1::from(code.as_bytes()).digest().to_string();
        Script { code, sha1 }
    }

    /// The Lua source.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The hex SHA1 digest Redis knows the script by.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// Starts a call with a first key.
    pub fn key<T: ToArgs>(&self, key: T) -> ScriptCall<'_> {
        self.prepare().key(key)
    }

    /// Starts a call with a first argument.
    pub fn arg<T: ToArgs>(&self, arg: T) -> ScriptCall<'_> {
        self.prepare().arg(arg)
    }

    /// Starts a call with no key and no argument yet.
    pub fn prepare(&self) -> ScriptCall<'_> {
        ScriptCall {
            script: self,
            keys: Cmd::new(),
            args: Cmd::new(),
        }
    }

    /// `SCRIPT LOAD` for this script.
    pub fn load_cmd(&self) -> Cmd {
        cmd("SCRIPT").arg("LOAD").arg(&self.code)
    }
}

/// A script with its keys and arguments, ready to run.
#[derive(Debug, Clone)]
pub struct ScriptCall<'a> {
    script: &'a Script,
    keys: Cmd,
    args: Cmd,
}

impl ScriptCall<'_> {
    /// Adds a key (`KEYS[n]`).
    pub fn key<T: ToArgs>(mut self, key: T) -> Self {
        self.keys.push_arg(key);
        self
    }

    /// Adds an argument (`ARGV[n]`).
    pub fn arg<T: ToArgs>(mut self, arg: T) -> Self {
        self.args.push_arg(arg);
        self
    }

    /// `EVALSHA sha numkeys keys... args...`.
    pub fn evalsha_cmd(&self) -> Cmd {
        self.with_body(cmd("EVALSHA").arg(self.script.sha1()))
    }

    /// `EVAL code numkeys keys... args...` (which also loads the script).
    pub fn eval_cmd(&self) -> Cmd {
        self.with_body(cmd("EVAL").arg(self.script.code()))
    }

    fn with_body(&self, mut c: Cmd) -> Cmd {
        c.push_arg(self.keys.argc());
        for k in self.keys.args() {
            c.write_bytes(k);
        }
        for a in self.args.args() {
            c.write_bytes(a);
        }
        c
    }
}

/// Whether the answer to a script's `EVALSHA`, an error of `kind`, says the server does not
/// know the script yet (`NOSCRIPT`): then its source is sent (`EVAL`). The one rule of both
/// flavours of `invoke_script`.
pub(crate) fn wants_source(kind: Option<&crate::ServerErrorKind>) -> bool {
    kind == Some(&crate::ServerErrorKind::NoScript)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_and_commands() {
        let s = Script::new("return 1");
        assert_eq!(s.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        let call = s.key("k").arg("a").arg(2);
        let evalsha = call.evalsha_cmd();
        let args: Vec<&[u8]> = evalsha.args().collect();
        assert_eq!(args[2..], [&b"1"[..], b"k", b"a", b"2"]);
        assert!(call.eval_cmd().is("EVAL"));
    }
}
