//! Newline framing of legacy kkrpc (0.2 – 0.7): a message ends with `\n`, a frame may hold
//! several messages or part of one. Pure string work, with no socket.

/// The lines of the frames a legacy peer sends, and the unfinished line between frames.
#[derive(Default)]
pub(crate) struct LegacyFraming {
    /// The unfinished line (never holds a newline).
    tail: String,
    /// The frame being read (or the tail and the frame joined), from `pos` on.
    frame: String,
    pos: usize,
}

/// What [`LegacyFraming::push`] did with a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The unfinished line grew past the limit without a newline: it was dropped.
    TooLarge,
    /// The frame only added to the unfinished line.
    Buffered,
    /// The frame completes lines: read them with [`LegacyFraming::next_line`].
    Lines,
}

impl LegacyFraming {
    /// True when no unfinished line is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.tail.is_empty()
    }

    /// Take a frame in; `max` bounds the unfinished line plus the frame.
    pub(crate) fn push(&mut self, text: String, max: usize) -> Pushed {
        if self.tail.len() + text.len() > max {
            self.tail.clear();
            return Pushed::TooLarge;
        }
        // Without a newline the frame only adds to the unfinished line: copying and
        // rescanning the buffer for every frame made 16 MB sent in 100-byte frames cost
        // minutes of CPU.
        if !self.tail.is_empty() && !text.contains('\n') {
            self.tail.push_str(&text);
            return Pushed::Buffered;
        }
        // Lines are read in place from the frame (or from what was buffered plus the frame).
        self.frame = if self.tail.is_empty() {
            text
        } else {
            self.tail.push_str(&text);
            std::mem::take(&mut self.tail)
        };
        self.pos = 0;
        Pushed::Lines
    }

    /// The next complete line of the frame pushed last, trimmed. At the end, the unfinished
    /// rest is kept for the next frame and `None` is returned.
    pub(crate) fn next_line(&mut self) -> Option<&str> {
        let rest = &self.frame[self.pos..];
        match rest.find('\n') {
            Some(i) => {
                let start = self.pos;
                self.pos += i + 1;
                Some(self.frame[start..start + i].trim())
            }
            None => {
                self.tail.push_str(rest);
                // Not `clear()`: an idle peer must not keep its last frame's capacity (up
                // to the message limit per connection).
                self.frame = String::new();
                self.pos = 0;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &mut LegacyFraming) -> Vec<String> {
        std::iter::from_fn(|| f.next_line().map(str::to_owned)).collect()
    }

    #[test]
    fn lines_across_frames() {
        let mut f = LegacyFraming::default();
        assert_eq!(f.push("{\"a\":1}\n{\"b\"".into(), 100), Pushed::Lines);
        assert_eq!(lines(&mut f), ["{\"a\":1}"]);
        assert!(!f.is_empty());
        assert_eq!(f.push(":2".into(), 100), Pushed::Buffered);
        assert_eq!(f.push("}\n \n".into(), 100), Pushed::Lines);
        assert_eq!(lines(&mut f), ["{\"b\":2}", ""]);
        assert!(f.is_empty());
    }

    #[test]
    fn an_unfinished_line_over_the_limit_is_dropped() {
        let mut f = LegacyFraming::default();
        assert_eq!(f.push("12345".into(), 8), Pushed::Lines);
        assert_eq!(lines(&mut f), Vec::<String>::new());
        assert_eq!(f.push("6789".into(), 8), Pushed::TooLarge);
        assert!(f.is_empty());
    }
}
