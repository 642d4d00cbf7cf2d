//! A small argument reader: flags with values, in any order.

use super::CliError;

/// Command-line arguments, read one flag at a time.
#[derive(Debug)]
pub struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    /// Reads these arguments.
    pub fn new(args: &'a [String]) -> Self {
        Args { rest: args.iter() }
    }

    /// The next argument.
    pub fn next_arg(&mut self) -> Option<&'a str> {
        self.rest.next().map(String::as_str)
    }

    /// The value after `flag`.
    pub fn value(&mut self, flag: &str) -> Result<&'a str, CliError> {
        self.next_arg()
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    /// The value after `flag`, parsed.
    pub fn parsed<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, CliError> {
        let raw = self.value(flag)?;
        raw.parse()
            .map_err(|_| format!("{flag}: {raw:?} is not a valid value"))
    }
}
