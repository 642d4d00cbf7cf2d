//! The build step: a scanned reply's tokens turned into [`Frame`]s whose payloads are
//! slices of the one frozen buffer.

use bytes::Bytes;

use super::fast::interned;
use super::Token;
use crate::Frame;

/// Turns the scanned tokens of a reply with nested arrays (from the outer array's token on)
/// into frames whose payloads are slices of `reply`. Each frame is written once, straight
/// into the `Vec` of the array that holds it (allocated with its exact length when its
/// header is met). `parents` is scratch space, kept for its capacity.
pub(crate) fn build_nested(
    tokens: &[Token],
    reply: &Bytes,
    parents: &mut Vec<(Vec<Frame>, usize)>,
) -> Frame {
    parents.clear();
    let (outer, rest) = match tokens.split_first() {
        Some((first, rest)) if first.array_len().is_some() => (first.value as usize, rest),
        // The scan only builds nested replies from an outer array.
        _ => return Frame::NullArray,
    };
    let mut items: Vec<Frame> = Vec::with_capacity(outer);
    let mut left = outer;
    for &token in rest {
        if let Some(len) = token.array_len() {
            parents.push((std::mem::replace(&mut items, Vec::with_capacity(len)), left));
            left = len;
            continue;
        }
        items.push(scalar_frame(token, reply));
        left -= 1;
        while left == 0 {
            let Some((parent, parent_left)) = parents.pop() else {
                return Frame::Array(items);
            };
            let done = std::mem::replace(&mut items, parent);
            items.push(Frame::Array(done));
            left = parent_left - 1;
        }
    }
    // Unreachable: the scan reports a reply complete only when its outer array closes.
    Frame::Array(items)
}

/// Records in each array token of a complete reply how many tokens its subtree takes (see
/// [`Token::ARRAY`]), so that a [`Reply`] view can step over an element whole. `open` is
/// scratch space.
pub(super) fn mark_subtrees(tokens: &mut [Token], nested: bool, open: &mut Vec<usize>) {
    let total = tokens.len();
    if !nested {
        if let Some(root) = tokens.first_mut() {
            root.head = (total << 3) | Token::ARRAY;
        }
        return;
    }
    // The token index of each open array; while open, its `head` counts down the elements
    // it still expects (its length stays in `value`).
    open.clear();
    for i in 0..total {
        let token = tokens[i];
        if let Some(len) = token.array_len() {
            tokens[i].head = (len << 3) | Token::ARRAY;
            open.push(i);
            continue;
        }
        // One element is complete: close every array it completes.
        while let Some(&at) = open.last() {
            let due = (tokens[at].head >> 3) - 1;
            if due > 0 {
                tokens[at].head = (due << 3) | Token::ARRAY;
                break;
            }
            tokens[at].head = ((i + 1 - at) << 3) | Token::ARRAY;
            open.pop();
        }
    }
}

/// Builds an array none of whose elements is a non-empty array: one pass, no stack.
#[inline(never)]
pub(crate) fn build_flat(tokens: &[Token], reply: &Bytes) -> Frame {
    let items = tokens.get(1..).unwrap_or(&[]);
    Frame::Array(items.iter().map(|&t| scalar_frame(t, reply)).collect())
}

/// The frame of a token that is not a non-empty array.
#[inline(always)]
pub(crate) fn scalar_frame(token: Token, reply: &Bytes) -> Frame {
    match token.kind() {
        Token::BULK => Frame::Bulk(reply.slice(token.range())),
        Token::INTEGER => Frame::Integer(token.value as i64),
        Token::NULL => Frame::Null,
        Token::SIMPLE => {
            let range = token.range();
            Frame::Simple(interned(&reply[range.clone()]).unwrap_or_else(|| reply.slice(range)))
        }
        Token::ERROR => Frame::Error(reply.slice(token.range())),
        Token::NULL_ARRAY => Frame::NullArray,
        _ => Frame::Array(Vec::new()),
    }
}
