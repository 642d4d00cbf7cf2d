//! The build step: a scanned reply's tokens turned into [`Frame`]s whose payloads are
//! slices of the one frozen buffer.

use bytes::Bytes;

use super::fast::interned;
use super::{Building, Token};
use crate::Frame;

/// Turns the scanned tokens of a reply with nested aggregates (from the outer aggregate's
/// token on) into frames whose payloads are slices of `reply`. Each frame is written once,
/// straight into the `Vec` of the aggregate that holds it (allocated with its exact length
/// when its header is met). `parents` is scratch space, kept for its capacity.
pub(crate) fn build_nested(tokens: &[Token], reply: &Bytes, parents: &mut Vec<Building>) -> Frame {
    parents.clear();
    let Some((&outer, rest)) = tokens.split_first() else {
        return Frame::NullArray;
    };
    let Some(children) = outer.children() else {
        return scalar_frame(outer, reply);
    };
    let mut items: Vec<Frame> = Vec::with_capacity(children);
    let mut left = children;
    let mut open = outer;
    for &token in rest {
        if let Some(len) = token.children() {
            let parent = std::mem::replace(&mut items, Vec::with_capacity(len));
            parents.push((parent, left, open));
            left = len;
            open = token;
            continue;
        }
        items.push(scalar_frame(token, reply));
        left -= 1;
        while left == 0 {
            let Some((parent, parent_left, parent_token)) = parents.pop() else {
                return aggregate_frame(open, items);
            };
            let done = std::mem::replace(&mut items, parent);
            items.push(aggregate_frame(open, done));
            left = parent_left - 1;
            open = parent_token;
        }
    }
    // Unreachable: the scan reports a reply complete only when its outer aggregate closes.
    aggregate_frame(open, items)
}

/// The frame of a non-empty aggregate of `token`'s kind holding `items`.
fn aggregate_frame(token: Token, mut items: Vec<Frame>) -> Frame {
    match token.kind() {
        Token::MAP => Frame::Map(items),
        Token::SET => Frame::Set(items),
        Token::PUSH => Frame::Push(items),
        Token::ATTRIBUTE => {
            // The pairs, then the element they describe (the scan counted it).
            let value = items.pop().unwrap_or(Frame::Null);
            Frame::Attribute {
                attributes: items,
                value: Box::new(value),
            }
        }
        _ => Frame::Array(items),
    }
}

/// Records in each aggregate token of a complete reply how many tokens its subtree takes
/// (see [`Token::ARRAY`]), so that a [`Reply`] view can step over an element whole. `open`
/// is scratch space.
pub(super) fn mark_subtrees(tokens: &mut [Token], nested: bool, open: &mut Vec<usize>) {
    let total = tokens.len();
    if !nested {
        if let Some(root) = tokens.first_mut() {
            *root = root.with_subtree(total);
        }
        return;
    }
    // The token index of each open aggregate; while open, its subtree field counts down the
    // elements it still expects (its length stays in `value`).
    open.clear();
    for i in 0..total {
        let token = tokens[i];
        if let Some(len) = token.children() {
            tokens[i] = token.with_subtree(len);
            open.push(i);
            continue;
        }
        // One element is complete: close every aggregate it completes.
        while let Some(&at) = open.last() {
            let due = tokens[at].subtree() - 1;
            if due > 0 {
                tokens[at] = tokens[at].with_subtree(due);
                break;
            }
            tokens[at] = tokens[at].with_subtree(i + 1 - at);
            open.pop();
        }
    }
}

/// Builds an aggregate none of whose elements is a non-empty aggregate: one pass, no stack.
#[inline(never)]
pub(crate) fn build_flat(tokens: &[Token], reply: &Bytes) -> Frame {
    let items = tokens.get(1..).unwrap_or(&[]);
    let items = items.iter().map(|&t| scalar_frame(t, reply)).collect();
    match tokens.first() {
        Some(&root) if root.kind() != Token::ARRAY => aggregate_frame(root, items),
        _ => Frame::Array(items),
    }
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
        Token::DOUBLE => Frame::Double(reply.slice(token.range())),
        Token::BOOLEAN => Frame::Boolean(token.value != 0),
        Token::BIG_NUMBER => Frame::BigNumber(reply.slice(token.range())),
        Token::VERBATIM => Frame::Verbatim(reply.slice(token.range())),
        Token::EMPTY_AGGREGATE => match token.value as usize {
            Token::MAP => Frame::Map(Vec::new()),
            Token::SET => Frame::Set(Vec::new()),
            _ => Frame::Push(Vec::new()),
        },
        _ => Frame::Array(Vec::new()),
    }
}
