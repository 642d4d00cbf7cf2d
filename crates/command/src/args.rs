//! [`ToArgs`]: what can be an argument of a command.

use bytes::{Bytes, BytesMut};

use crate::Cmd;

/// A value that writes itself as one or more command arguments.
///
/// Strings and bytes are one argument; integers, floats and `bool` are written in decimal;
/// slices, arrays, `Vec`s and tuples write each element; `Option` writes nothing for `None`.
pub trait ToArgs {
    /// Appends this value's arguments to `cmd`.
    fn write_args(&self, cmd: &mut Cmd);

    /// Appends a slice of such values. `u8` overrides this so that `&[u8]` and `Vec<u8>`
    /// are one binary argument, not a list of numbers.
    #[doc(hidden)]
    fn write_slice(items: &[Self], cmd: &mut Cmd)
    where
        Self: Sized,
    {
        for item in items {
            item.write_args(cmd);
        }
    }
}

impl<T: ToArgs + ?Sized> ToArgs for &T {
    fn write_args(&self, cmd: &mut Cmd) {
        (**self).write_args(cmd)
    }
}

/// No argument at all (e.g. `unsubscribe(())` for "every channel").
impl ToArgs for () {
    fn write_args(&self, _cmd: &mut Cmd) {}
}

impl ToArgs for str {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_bytes(self.as_bytes())
    }
}

impl ToArgs for String {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_bytes(self.as_bytes())
    }
}

impl ToArgs for Bytes {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_bytes(self)
    }
}

impl ToArgs for BytesMut {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_bytes(self)
    }
}

impl<T: ToArgs> ToArgs for [T] {
    fn write_args(&self, cmd: &mut Cmd) {
        T::write_slice(self, cmd)
    }
}

impl<T: ToArgs, const N: usize> ToArgs for [T; N] {
    fn write_args(&self, cmd: &mut Cmd) {
        T::write_slice(self, cmd)
    }
}

impl<T: ToArgs> ToArgs for Vec<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        T::write_slice(self, cmd)
    }
}

impl<T: ToArgs> ToArgs for Option<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        if let Some(value) = self {
            value.write_args(cmd)
        }
    }
}

impl ToArgs for u8 {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_int(i64::from(*self))
    }

    fn write_slice(items: &[u8], cmd: &mut Cmd) {
        cmd.write_bytes(items)
    }
}

macro_rules! small_int_args {
    ($($t:ty),*) => {$(
        impl ToArgs for $t {
            fn write_args(&self, cmd: &mut Cmd) {
                cmd.write_int(i64::from(*self))
            }
        }
    )*};
}
small_int_args!(i8, i16, u16, i32, u32, i64);

macro_rules! wide_int_args {
    ($($t:ty),*) => {$(
        impl ToArgs for $t {
            fn write_args(&self, cmd: &mut Cmd) {
                match i64::try_from(*self) {
                    Ok(n) => cmd.write_int(n),
                    Err(_) => cmd.write_bytes(self.to_string().as_bytes()),
                }
            }
        }
    )*};
}
wide_int_args!(u64, usize, isize, i128, u128);

impl ToArgs for f64 {
    fn write_args(&self, cmd: &mut Cmd) {
        // Rust prints the shortest text that reads back to the same value, and `inf`/`-inf`
        // as Redis expects them.
        cmd.write_bytes(self.to_string().as_bytes())
    }
}

impl ToArgs for f32 {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_bytes(self.to_string().as_bytes())
    }
}

impl ToArgs for bool {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.write_bytes(if *self { b"1" } else { b"0" })
    }
}

macro_rules! tuple_args {
    ($($name:ident)+) => {
        impl<$($name: ToArgs),+> ToArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write_args(&self, cmd: &mut Cmd) {
                let ($($name,)+) = self;
                $($name.write_args(cmd);)+
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);

#[cfg(test)]
mod tests {
    use crate::cmd;

    #[test]
    fn writes_every_kind_of_argument() {
        let c = cmd("X")
            .arg(&b"raw"[..])
            .arg(vec![1u8, 2])
            .arg(["a", "b"])
            .arg(vec![10i32, 20])
            .arg(u64::MAX)
            .arg(1.5f64)
            .arg(f64::INFINITY)
            .arg(true)
            .arg(None::<&str>)
            .arg(Some("s"))
            .arg((1, "two"))
            .arg(&[("f", 1)][..]);
        let args: Vec<String> = c
            .args()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "X",
                "raw",
                "\u{1}\u{2}",
                "a",
                "b",
                "10",
                "20",
                "18446744073709551615",
                "1.5",
                "inf",
                "1",
                "s",
                "1",
                "two",
                "f",
                "1"
            ]
        );
    }
}
