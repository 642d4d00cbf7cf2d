//! Small bit-flag sets for the command table (no extra crate): command flags, key-spec
//! flags, ACL categories and command tips, each with the names Redis uses in `COMMAND`.

/// Defines a `Copy` bit set over an unsigned integer with named constants, the names Redis
/// gives them on the wire, and the usual set operations (all `const`).
macro_rules! bit_flags {
    (
        $(#[$meta:meta])*
        $name:ident: $ty:ty {
            $(
                $(#[$cmeta:meta])*
                $konst:ident = $bit:literal, $wire:literal;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $name($ty);

        impl $name {
            $(
                $(#[$cmeta])*
                pub const $konst: $name = $name(1 << $bit);
            )*

            /// No flag set.
            pub const EMPTY: $name = $name(0);

            /// Every flag with the name Redis gives it in `COMMAND`, in bit order.
            pub const ALL: &'static [($name, &'static str)] = &[$(($name::$konst, $wire)),*];

            /// The raw bits.
            pub const fn bits(self) -> $ty {
                self.0
            }

            /// The set made of these bits; bits that name no flag are dropped.
            pub const fn from_bits_truncate(bits: $ty) -> $name {
                let mut all: $ty = 0;
                let mut i = 0;
                while i < Self::ALL.len() {
                    all |= Self::ALL[i].0 .0;
                    i += 1;
                }
                $name(bits & all)
            }

            /// The union of a list of flags (usable in `const` and `static` items).
            pub const fn of(flags: &[$name]) -> $name {
                let mut bits: $ty = 0;
                let mut i = 0;
                while i < flags.len() {
                    bits |= flags[i].0;
                    i += 1;
                }
                $name(bits)
            }

            /// The flags in either set.
            pub const fn union(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }

            /// Whether every flag of `other` is set here.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any flag of `other` is set here.
            pub const fn intersects(self, other: $name) -> bool {
                self.0 & other.0 != 0
            }

            /// Whether no flag is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// The flag Redis calls `name` (ASCII case-insensitive; a leading `@` is ignored,
            /// as in ACL categories).
            pub fn from_name(name: &str) -> Option<$name> {
                let name = name.strip_prefix('@').unwrap_or(name);
                Self::ALL
                    .iter()
                    .find(|(_, wire)| wire.eq_ignore_ascii_case(name))
                    .map(|(flag, _)| *flag)
            }

            /// The names of the flags set here, in bit order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::ALL
                    .iter()
                    .filter(move |(flag, _)| self.contains(*flag))
                    .map(|(_, wire)| *wire)
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }

        impl std::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name {
                $name(self.0 & rhs.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                for (i, name) in self.names().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    f.write_str(name)?;
                }
                f.write_str(")")
            }
        }
    };
}

bit_flags! {
    /// Flags of a command, as `COMMAND` lists them (`readonly`, `write`, `denyoom`, ...).
    CommandFlags: u32 {
        /// `write`: the command may modify data.
        WRITE = 0, "write";
        /// `readonly`: the command only reads data (may run on a replica).
        READONLY = 1, "readonly";
        /// `denyoom`: refused when the server is over `maxmemory`.
        DENYOOM = 2, "denyoom";
        /// `module`: implemented by a module.
        MODULE = 3, "module";
        /// `admin`: an administrative command.
        ADMIN = 4, "admin";
        /// `pubsub`: a pub/sub command.
        PUBSUB = 5, "pubsub";
        /// `noscript`: not allowed in scripts.
        NOSCRIPT = 6, "noscript";
        /// `blocking`: may block the client.
        BLOCKING = 7, "blocking";
        /// `loading`: allowed while the database is loading.
        LOADING = 8, "loading";
        /// `stale`: allowed on a replica with stale data.
        STALE = 9, "stale";
        /// `skip_monitor`: not shown by `MONITOR`.
        SKIP_MONITOR = 10, "skip_monitor";
        /// `skip_slowlog`: not logged in the slow log.
        SKIP_SLOWLOG = 11, "skip_slowlog";
        /// `asking`: accepted on an importing slot after `ASKING` (cluster).
        ASKING = 12, "asking";
        /// `fast`: O(1) or O(log N).
        FAST = 13, "fast";
        /// `no_auth`: allowed before authentication.
        NO_AUTH = 14, "no_auth";
        /// `may_replicate`: may produce replication traffic.
        MAY_REPLICATE = 15, "may_replicate";
        /// `no_mandatory_keys`: may be called without keys.
        NO_MANDATORY_KEYS = 16, "no_mandatory_keys";
        /// `no_async_loading`: refused during asynchronous loading.
        NO_ASYNC_LOADING = 17, "no_async_loading";
        /// `no_multi`: not allowed in a transaction.
        NO_MULTI = 18, "no_multi";
        /// `movablekeys`: key positions depend on the arguments.
        MOVABLEKEYS = 19, "movablekeys";
        /// `allow_busy`: allowed while a script or function is busy.
        ALLOW_BUSY = 20, "allow_busy";
        /// `module_no_cluster`: a module command refused in cluster mode.
        MODULE_NO_CLUSTER = 21, "module_no_cluster";
    }
}

bit_flags! {
    /// Flags of a key specification: how the command uses the keys it describes.
    KeySpecFlags: u16 {
        /// `RO`: the key is only read.
        RO = 0, "RO";
        /// `RW`: the key is read and written.
        RW = 1, "RW";
        /// `OW`: the key is overwritten without being read.
        OW = 2, "OW";
        /// `RM`: the key is deleted.
        RM = 3, "RM";
        /// `access`: the value is returned or used to compute the reply.
        ACCESS = 4, "access";
        /// `update`: the value is updated.
        UPDATE = 5, "update";
        /// `insert`: data is added to the value.
        INSERT = 6, "insert";
        /// `delete`: data is removed from the value.
        DELETE = 7, "delete";
        /// `not_key`: not a key (a shard channel), but hashed like one in a cluster.
        NOT_KEY = 8, "not_key";
        /// `incomplete`: the spec may not find every key.
        INCOMPLETE = 9, "incomplete";
        /// `variable_flags`: the flags depend on the arguments (`SET ... GET`).
        VARIABLE_FLAGS = 10, "variable_flags";
    }
}

bit_flags! {
    /// ACL categories of a command (`@read`, `@write`, ...), named without the `@`.
    AclCategories: u32 {
        /// `@keyspace`
        KEYSPACE = 0, "keyspace";
        /// `@read`
        READ = 1, "read";
        /// `@write`
        WRITE = 2, "write";
        /// `@set`
        SET = 3, "set";
        /// `@sortedset`
        SORTEDSET = 4, "sortedset";
        /// `@list`
        LIST = 5, "list";
        /// `@hash`
        HASH = 6, "hash";
        /// `@string`
        STRING = 7, "string";
        /// `@bitmap`
        BITMAP = 8, "bitmap";
        /// `@hyperloglog`
        HYPERLOGLOG = 9, "hyperloglog";
        /// `@geo`
        GEO = 10, "geo";
        /// `@stream`
        STREAM = 11, "stream";
        /// `@pubsub`
        PUBSUB = 12, "pubsub";
        /// `@admin`
        ADMIN = 13, "admin";
        /// `@fast`
        FAST = 14, "fast";
        /// `@slow`
        SLOW = 15, "slow";
        /// `@blocking`
        BLOCKING = 16, "blocking";
        /// `@dangerous`
        DANGEROUS = 17, "dangerous";
        /// `@connection`
        CONNECTION = 18, "connection";
        /// `@transaction`
        TRANSACTION = 19, "transaction";
        /// `@scripting`
        SCRIPTING = 20, "scripting";
    }
}

bit_flags! {
    /// Command tips other than the routing policies.
    Tips: u8 {
        /// `nondeterministic_output`: the reply may differ between runs on the same data.
        NONDETERMINISTIC_OUTPUT = 0, "nondeterministic_output";
        /// `nondeterministic_output_order`: the reply is a set whose order may vary.
        NONDETERMINISTIC_OUTPUT_ORDER = 1, "nondeterministic_output_order";
    }
}
