//! The typed command helpers, listed once.
//!
//! `command_list!` holds every helper; it hands the list to a macro that writes one flavour:
//! the async [`Commands`](crate::Commands) trait, the blocking
//! [`blocking::Commands`](crate::blocking::Commands) trait, and [`Pipeline`](crate::Pipeline)
//! methods. Adding a helper here adds it everywhere.

/// Calls `$flavour! { ... }` with the list of typed helpers.
///
/// Each entry is `fn name<RV..>(args) -> ReplyType = cmd-expression;`; the `<RV..>` reply
/// type parameters are the caller's choice of Rust type (dropped for pipelines).
macro_rules! command_list {
    ($flavour:ident) => {
        $flavour! {
            // ---- strings ----
            /// `GET key`: the value, converted into `RV` (use `Option<_>` for a key that may be missing).
            fn get<RV>(key: impl ToArgs) -> RV = cmd("GET").arg(key);
            /// `SET key value`.
            fn set(key: impl ToArgs, value: impl ToArgs) -> () = cmd("SET").arg(key).arg(value);
            /// `SET key value EX seconds`.
            fn set_ex(key: impl ToArgs, value: impl ToArgs, seconds: u64) -> () = cmd("SET").arg(key).arg(value).arg("EX").arg(seconds);
            /// `SET key value NX`: true when the key was set (it did not exist).
            fn set_nx(key: impl ToArgs, value: impl ToArgs) -> bool = cmd("SET").arg(key).arg(value).arg("NX");
            /// `GETSET`-like `SET key value GET`: the old value.
            fn getset<RV>(key: impl ToArgs, value: impl ToArgs) -> RV = cmd("SET").arg(key).arg(value).arg("GET");
            /// `GETDEL key`.
            fn getdel<RV>(key: impl ToArgs) -> RV = cmd("GETDEL").arg(key);
            /// `MGET key...`: one value per key, in order.
            fn mget<RV>(keys: impl ToArgs) -> RV = cmd("MGET").arg(keys);
            /// `MSET key value ...` from pairs, e.g. `&[("a", 1), ("b", 2)]`.
            fn mset(pairs: impl ToArgs) -> () = cmd("MSET").arg(pairs);
            /// `INCR key`: the new value.
            fn incr(key: impl ToArgs) -> i64 = cmd("INCR").arg(key);
            /// `INCRBY key delta`: the new value.
            fn incr_by(key: impl ToArgs, delta: i64) -> i64 = cmd("INCRBY").arg(key).arg(delta);
            /// `INCRBYFLOAT key delta`: the new value.
            fn incr_by_float(key: impl ToArgs, delta: f64) -> f64 = cmd("INCRBYFLOAT").arg(key).arg(delta);
            /// `DECR key`: the new value.
            fn decr(key: impl ToArgs) -> i64 = cmd("DECR").arg(key);
            /// `DECRBY key delta`: the new value.
            fn decr_by(key: impl ToArgs, delta: i64) -> i64 = cmd("DECRBY").arg(key).arg(delta);
            /// `APPEND key value`: the new length.
            fn append(key: impl ToArgs, value: impl ToArgs) -> i64 = cmd("APPEND").arg(key).arg(value);
            /// `STRLEN key`.
            fn strlen(key: impl ToArgs) -> i64 = cmd("STRLEN").arg(key);
            /// `GETRANGE key start end`.
            fn getrange<RV>(key: impl ToArgs, start: i64, end: i64) -> RV = cmd("GETRANGE").arg(key).arg(start).arg(end);
            /// `SETRANGE key offset value`: the new length.
            fn setrange(key: impl ToArgs, offset: u64, value: impl ToArgs) -> i64 = cmd("SETRANGE").arg(key).arg(offset).arg(value);

            // ---- keys ----
            /// `DEL key...`: how many keys were removed.
            fn del(keys: impl ToArgs) -> i64 = cmd("DEL").arg(keys);
            /// `UNLINK key...`: how many keys were removed.
            fn unlink(keys: impl ToArgs) -> i64 = cmd("UNLINK").arg(keys);
            /// `EXISTS key...`: how many of the keys exist.
            fn exists(keys: impl ToArgs) -> i64 = cmd("EXISTS").arg(keys);
            /// `TOUCH key...`: how many of the keys exist.
            fn touch(keys: impl ToArgs) -> i64 = cmd("TOUCH").arg(keys);
            /// `EXPIRE key seconds`: true when a timeout was set.
            fn expire(key: impl ToArgs, seconds: i64) -> bool = cmd("EXPIRE").arg(key).arg(seconds);
            /// `PEXPIRE key milliseconds`: true when a timeout was set.
            fn pexpire(key: impl ToArgs, millis: i64) -> bool = cmd("PEXPIRE").arg(key).arg(millis);
            /// `EXPIREAT key unix-seconds`: true when a timeout was set.
            fn expire_at(key: impl ToArgs, unix_seconds: i64) -> bool = cmd("EXPIREAT").arg(key).arg(unix_seconds);
            /// `PERSIST key`: true when a timeout was removed.
            fn persist(key: impl ToArgs) -> bool = cmd("PERSIST").arg(key);
            /// `TTL key`: seconds left, -1 without expiry, -2 when missing.
            fn ttl(key: impl ToArgs) -> i64 = cmd("TTL").arg(key);
            /// `PTTL key`: milliseconds left, -1 without expiry, -2 when missing.
            fn pttl(key: impl ToArgs) -> i64 = cmd("PTTL").arg(key);
            /// `RENAME key newkey`.
            fn rename(key: impl ToArgs, new_key: impl ToArgs) -> () = cmd("RENAME").arg(key).arg(new_key);
            /// `TYPE key`: `string`, `list`, ... or `none`.
            fn key_type(key: impl ToArgs) -> String = cmd("TYPE").arg(key);
            /// `KEYS pattern` (blocks the server on large databases: prefer the scan helpers).
            fn keys<RV>(pattern: impl ToArgs) -> RV = cmd("KEYS").arg(pattern);

            // ---- hashes ----
            /// `HGET key field`.
            fn hget<RV>(key: impl ToArgs, field: impl ToArgs) -> RV = cmd("HGET").arg(key).arg(field);
            /// `HSET key field value`: how many fields were added.
            fn hset(key: impl ToArgs, field: impl ToArgs, value: impl ToArgs) -> i64 = cmd("HSET").arg(key).arg(field).arg(value);
            /// `HSET key field value ...` from pairs: how many fields were added.
            fn hset_multiple(key: impl ToArgs, pairs: impl ToArgs) -> i64 = cmd("HSET").arg(key).arg(pairs);
            /// `HSETNX key field value`: true when the field was set.
            fn hset_nx(key: impl ToArgs, field: impl ToArgs, value: impl ToArgs) -> bool = cmd("HSETNX").arg(key).arg(field).arg(value);
            /// `HMGET key field...`.
            fn hmget<RV>(key: impl ToArgs, fields: impl ToArgs) -> RV = cmd("HMGET").arg(key).arg(fields);
            /// `HGETALL key`, e.g. into a `HashMap<String, String>`.
            fn hgetall<RV>(key: impl ToArgs) -> RV = cmd("HGETALL").arg(key);
            /// `HDEL key field...`: how many fields were removed.
            fn hdel(key: impl ToArgs, fields: impl ToArgs) -> i64 = cmd("HDEL").arg(key).arg(fields);
            /// `HEXISTS key field`.
            fn hexists(key: impl ToArgs, field: impl ToArgs) -> bool = cmd("HEXISTS").arg(key).arg(field);
            /// `HINCRBY key field delta`: the new value.
            fn hincr_by(key: impl ToArgs, field: impl ToArgs, delta: i64) -> i64 = cmd("HINCRBY").arg(key).arg(field).arg(delta);
            /// `HKEYS key`.
            fn hkeys<RV>(key: impl ToArgs) -> RV = cmd("HKEYS").arg(key);
            /// `HVALS key`.
            fn hvals<RV>(key: impl ToArgs) -> RV = cmd("HVALS").arg(key);
            /// `HLEN key`.
            fn hlen(key: impl ToArgs) -> i64 = cmd("HLEN").arg(key);

            // ---- lists ----
            /// `LPUSH key value...`: the new length.
            fn lpush(key: impl ToArgs, values: impl ToArgs) -> i64 = cmd("LPUSH").arg(key).arg(values);
            /// `RPUSH key value...`: the new length.
            fn rpush(key: impl ToArgs, values: impl ToArgs) -> i64 = cmd("RPUSH").arg(key).arg(values);
            /// `LPOP key`.
            fn lpop<RV>(key: impl ToArgs) -> RV = cmd("LPOP").arg(key);
            /// `RPOP key`.
            fn rpop<RV>(key: impl ToArgs) -> RV = cmd("RPOP").arg(key);
            /// `LRANGE key start stop`.
            fn lrange<RV>(key: impl ToArgs, start: i64, stop: i64) -> RV = cmd("LRANGE").arg(key).arg(start).arg(stop);
            /// `LLEN key`.
            fn llen(key: impl ToArgs) -> i64 = cmd("LLEN").arg(key);
            /// `LINDEX key index`.
            fn lindex<RV>(key: impl ToArgs, index: i64) -> RV = cmd("LINDEX").arg(key).arg(index);
            /// `LREM key count value`: how many were removed.
            fn lrem(key: impl ToArgs, count: i64, value: impl ToArgs) -> i64 = cmd("LREM").arg(key).arg(count).arg(value);
            /// `LTRIM key start stop`.
            fn ltrim(key: impl ToArgs, start: i64, stop: i64) -> () = cmd("LTRIM").arg(key).arg(start).arg(stop);
            /// `BLPOP key... timeout`: `(key, value)`, or `None` after `timeout` seconds (0: for ever).
            fn blpop<RV>(keys: impl ToArgs, timeout: f64) -> RV = cmd("BLPOP").arg(keys).arg(timeout);
            /// `BRPOP key... timeout`: `(key, value)`, or `None` after `timeout` seconds (0: for ever).
            fn brpop<RV>(keys: impl ToArgs, timeout: f64) -> RV = cmd("BRPOP").arg(keys).arg(timeout);

            // ---- sets ----
            /// `SADD key member...`: how many were added.
            fn sadd(key: impl ToArgs, members: impl ToArgs) -> i64 = cmd("SADD").arg(key).arg(members);
            /// `SREM key member...`: how many were removed.
            fn srem(key: impl ToArgs, members: impl ToArgs) -> i64 = cmd("SREM").arg(key).arg(members);
            /// `SMEMBERS key`.
            fn smembers<RV>(key: impl ToArgs) -> RV = cmd("SMEMBERS").arg(key);
            /// `SISMEMBER key member`.
            fn sismember(key: impl ToArgs, member: impl ToArgs) -> bool = cmd("SISMEMBER").arg(key).arg(member);
            /// `SCARD key`.
            fn scard(key: impl ToArgs) -> i64 = cmd("SCARD").arg(key);
            /// `SPOP key`.
            fn spop<RV>(key: impl ToArgs) -> RV = cmd("SPOP").arg(key);
            /// `SINTER key...`.
            fn sinter<RV>(keys: impl ToArgs) -> RV = cmd("SINTER").arg(keys);
            /// `SUNION key...`.
            fn sunion<RV>(keys: impl ToArgs) -> RV = cmd("SUNION").arg(keys);
            /// `SDIFF key...`.
            fn sdiff<RV>(keys: impl ToArgs) -> RV = cmd("SDIFF").arg(keys);

            // ---- sorted sets ----
            /// `ZADD key score member`: how many were added.
            fn zadd(key: impl ToArgs, member: impl ToArgs, score: f64) -> i64 = cmd("ZADD").arg(key).arg(score).arg(member);
            /// `ZADD key score member ...` from `(score, member)` pairs: how many were added.
            fn zadd_multiple(key: impl ToArgs, scored: impl ToArgs) -> i64 = cmd("ZADD").arg(key).arg(scored);
            /// `ZREM key member...`: how many were removed.
            fn zrem(key: impl ToArgs, members: impl ToArgs) -> i64 = cmd("ZREM").arg(key).arg(members);
            /// `ZSCORE key member`.
            fn zscore(key: impl ToArgs, member: impl ToArgs) -> Option<f64> = cmd("ZSCORE").arg(key).arg(member);
            /// `ZINCRBY key delta member`: the new score.
            fn zincr_by(key: impl ToArgs, member: impl ToArgs, delta: f64) -> f64 = cmd("ZINCRBY").arg(key).arg(delta).arg(member);
            /// `ZRANK key member`.
            fn zrank(key: impl ToArgs, member: impl ToArgs) -> Option<i64> = cmd("ZRANK").arg(key).arg(member);
            /// `ZCARD key`.
            fn zcard(key: impl ToArgs) -> i64 = cmd("ZCARD").arg(key);
            /// `ZCOUNT key min max`.
            fn zcount(key: impl ToArgs, min: impl ToArgs, max: impl ToArgs) -> i64 = cmd("ZCOUNT").arg(key).arg(min).arg(max);
            /// `ZRANGE key start stop`.
            fn zrange<RV>(key: impl ToArgs, start: i64, stop: i64) -> RV = cmd("ZRANGE").arg(key).arg(start).arg(stop);
            /// `ZRANGE key start stop WITHSCORES`, e.g. into `Vec<(String, f64)>`.
            fn zrange_withscores<RV>(key: impl ToArgs, start: i64, stop: i64) -> RV = cmd("ZRANGE").arg(key).arg(start).arg(stop).arg("WITHSCORES");
            /// `ZRANGEBYSCORE key min max`.
            fn zrangebyscore<RV>(key: impl ToArgs, min: impl ToArgs, max: impl ToArgs) -> RV = cmd("ZRANGEBYSCORE").arg(key).arg(min).arg(max);

            // ---- pub/sub, scripting, server ----
            /// `PUBLISH channel message`: how many subscribers received it.
            fn publish(channel: impl ToArgs, message: impl ToArgs) -> i64 = cmd("PUBLISH").arg(channel).arg(message);
            /// `EVAL script numkeys key... arg...` (prefer [`Script`](crate::Script), which sends the SHA1).
            fn eval<RV>(script: &str, keys: impl ToArgs, args: impl ToArgs) -> RV = eval_cmd(script, keys, args);
            /// `PING`: `PONG`.
            fn ping() -> String = cmd("PING");
            /// `DBSIZE`: number of keys in the database.
            fn dbsize() -> i64 = cmd("DBSIZE");
            /// `FLUSHDB`: removes every key of the database.
            fn flushdb() -> () = cmd("FLUSHDB");
            /// `INFO [section]` as text.
            fn info(section: impl ToArgs) -> String = cmd("INFO").arg(section);
        }
    };
}

pub(crate) use command_list;

use crate::{cmd, Cmd, ToArgs};

/// `EVAL script numkeys key... arg...`.
pub(crate) fn eval_cmd(script: &str, keys: impl ToArgs, args: impl ToArgs) -> Cmd {
    let keys = Cmd::new().arg(keys);
    let mut c = cmd("EVAL").arg(script).arg(keys.argc());
    for k in keys.args() {
        c.write_bytes(k);
    }
    c.arg(args)
}

/// Writes the [`Pipeline`](crate::Pipeline) methods of the typed helpers.
macro_rules! pipeline_flavour {
    ($(
        $(#[$meta:meta])*
        fn $name:ident $(<$($rv:ident),+>)? ($($arg:ident : $argty:ty),*) -> $ret:ty = $build:expr;
    )*) => {
        /// Typed helpers: each adds its command to the pipeline.
        impl crate::Pipeline {
            $(
                $(#[$meta])*
                pub fn $name(&mut self, $($arg: $argty),*) -> &mut Self {
                    self.add($build)
                }
            )*
        }
    };
}

command_list!(pipeline_flavour);
