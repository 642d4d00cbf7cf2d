//! A small lock-free cache of command lookups by name, for the routing hot path (a sharded
//! client looks the same few commands up again and again).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{commands, lookup_parts, BeginSearch, CommandFlags, CommandInfo, FindKeys};

/// [`lookup_parts`] through a 64-entry cache of top-level commands. Entries are indices
/// into the table, verified on every hit, so a collision only costs a lookup.
pub fn lookup_cached(name: &[u8], second: Option<&[u8]>) -> Option<&'static CommandInfo> {
    static CACHE: [AtomicUsize; 64] = [const { AtomicUsize::new(usize::MAX) }; 64];
    let mut h: u32 = 0x811c_9dc5;
    for b in name {
        h = (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193);
    }
    let entry = &CACHE[(h as usize) % CACHE.len()];
    let table = commands();
    let info = match table.get(entry.load(Ordering::Relaxed)) {
        Some(info) if info.name.as_bytes().eq_ignore_ascii_case(name) => info,
        _ => {
            let info = lookup_parts(name, None)?;
            if let Some(i) = table.iter().position(|c| std::ptr::eq(c, info)) {
                entry.store(i, Ordering::Relaxed);
            }
            info
        }
    };
    match second {
        Some(sub) if !info.subcommands.is_empty() => info.subcommand(sub),
        _ => Some(info),
    }
}

impl CommandInfo {
    /// Whether the command's only key is its first argument (`GET k`, `SET k v`, ...):
    /// then routing it needs no key search.
    pub fn first_arg_is_the_key(&self) -> bool {
        if self.flags.contains(CommandFlags::MOVABLEKEYS) || self.key_specs.len() != 1 {
            return false;
        }
        let spec = &self.key_specs[0];
        matches!(
            (spec.begin_search, spec.find_keys),
            (BeginSearch::Index(1), FindKeys::Range { last_key: 0, .. })
        )
    }
}
