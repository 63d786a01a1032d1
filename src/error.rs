//! The one error type of polycodec, in the style of `serde_json::Error`: opaque, cheap to
//! move, with a [`Category`] from [`Error::classify`] and the place the problem was found
//! (a byte offset into the input, a path into the value, or both).

use std::fmt;

/// Result alias used throughout polycodec.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while encoding, decoding or transcoding.
///
/// Decoding never panics on bad input: it returns an `Error` whose [`classify`](Error::classify)
/// says what kind of problem it was, and whose [`offset`](Error::offset) and
/// [`path`](Error::path) say where.
pub struct Error(Box<ErrorImpl>);

struct ErrorImpl {
    category: Category,
    message: String,
    offset: Option<usize>,
    path: Option<String>,
}

/// What kind of problem an [`Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// The input is not well-formed in its format (bad JSON, bad MessagePack).
    Syntax,
    /// The input ended before the document did.
    Eof,
    /// Well-formed input whose content is wrong: bad superjson meta, a value of the wrong
    /// type for the target, a forbidden path segment.
    Data,
    /// A configured [`Limits`](crate::Limits) value was exceeded.
    Limit,
    /// The value cannot be written in the target codec (a cycle in plain JSON, a value kind
    /// the codec has no form for).
    Unsupported,
    /// Reading or writing the underlying stream failed.
    Io,
}

impl Error {
    pub(crate) fn new(category: Category, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorImpl {
            category,
            message: message.into(),
            offset: None,
            path: None,
        }))
    }

    pub(crate) fn syntax(message: impl Into<String>, offset: usize) -> Self {
        Error::new(Category::Syntax, message).at_offset(offset)
    }

    pub(crate) fn eof(offset: usize) -> Self {
        Error::new(Category::Eof, "unexpected end of input").at_offset(offset)
    }

    pub(crate) fn data(message: impl Into<String>) -> Self {
        Error::new(Category::Data, message)
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        Error::new(Category::Limit, message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Error::new(Category::Unsupported, message)
    }

    /// Attach a byte offset, unless one is already set (the innermost wins).
    pub(crate) fn at_offset(mut self, offset: usize) -> Self {
        if self.0.offset.is_none() {
            self.0.offset = Some(offset);
        }
        self
    }

    /// Attach a path, unless one is already set (the innermost wins).
    pub(crate) fn at_path(mut self, path: impl Into<String>) -> Self {
        if self.0.path.is_none() {
            self.0.path = Some(path.into());
        }
        self
    }

    /// Prepend one path segment (the error happened inside `seg`). Used while unwinding out
    /// of nested containers, so the path grows from the inside out.
    pub(crate) fn in_segment(mut self, seg: &str) -> Self {
        let esc = crate::path::escape_segment(seg);
        self.0.path = Some(match self.0.path.take() {
            None => esc.into_owned(),
            Some(rest) => format!("{esc}.{rest}"),
        });
        self
    }

    /// The kind of problem.
    pub fn classify(&self) -> Category {
        self.0.category
    }

    /// The message, without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Byte offset in the input where the problem was found, when known.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }

    /// Path to the value where the problem was found, in superjson's dotted form
    /// (`a.b.0`; the root is the empty string), when known.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// True for [`Category::Syntax`] and [`Category::Eof`].
    pub fn is_syntax(&self) -> bool {
        matches!(self.0.category, Category::Syntax | Category::Eof)
    }

    /// True for [`Category::Limit`].
    pub fn is_limit(&self) -> bool {
        self.0.category == Category::Limit
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        match &self.0.path {
            Some(p) if p.is_empty() => f.write_str(" at the root")?,
            Some(p) => write!(f, " at path `{p}`")?,
            None => {}
        }
        if let Some(o) = self.0.offset {
            write!(f, " at byte {o}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}, \"{}\")", self.0.category, self)
    }
}

impl std::error::Error for Error {}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::data(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::data(msg.to_string())
    }
}

impl Error {
    /// Convert an error that passed through `erased_serde`, keeping its message.
    pub(crate) fn from_erased(e: erased_serde::Error) -> Error {
        Error::data(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(Category::Io, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_path_and_offset() {
        let e = Error::data("bad").at_path("a.b").at_offset(7);
        assert_eq!(e.to_string(), "bad at path `a.b` at byte 7");
        let e = Error::data("bad").at_path("");
        assert_eq!(e.to_string(), "bad at the root");
        assert_eq!(e.classify(), Category::Data);
    }

    #[test]
    fn innermost_location_wins() {
        let e = Error::data("x").at_path("inner").at_path("outer");
        assert_eq!(e.path(), Some("inner"));
    }
}
