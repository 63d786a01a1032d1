//! Who may connect: the auth hook's view of the upgrade request ([`AuthRequest`]: query,
//! cookies, bearer token, same-origin check) and its refusal ([`AuthError`]).

use super::super::conn::Identity;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::sync::Arc;

/// Decides, from the HTTP request alone, whether a WebSocket upgrade may happen.
pub type Authenticate =
    Arc<dyn Fn(&AuthRequest<'_>) -> Result<Option<Identity>, AuthError> + Send + Sync>;

/// What an auth hook sees: the upgrade request, before any upgrade.
pub struct AuthRequest<'a> {
    /// The request headers (cookies, `Authorization`).
    pub headers: &'a HeaderMap,
    /// The request URI (path and query).
    pub uri: &'a Uri,
}

impl AuthRequest<'_> {
    /// A query parameter (`?token=...`).
    pub fn query(&self, name: &str) -> Option<String> {
        query_pairs(self.uri)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
    pub fn bearer(&self) -> Option<String> {
        let v = self.headers.get("authorization")?.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    }

    /// False when a browser opens the socket from a page of another origin: its `Origin`
    /// header names another host than the request's `Host`. Browsers send cookies with
    /// such upgrades (WebSocket has no CORS), so a credential in a cookie must only count
    /// when this holds. True without an `Origin` header (clients that are no browser).
    ///
    /// The host is the `Host` header, or the URI's authority (HTTP/2 has no `Host`); a
    /// default port (`:80`, `:443`) is ignored on both sides. A proxy that rewrites `Host`
    /// makes every browser upgrade look cross-origin: have it keep the client's `Host`.
    pub fn same_origin(&self) -> bool {
        let Some(origin) = self.headers.get("origin").and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let host = self
            .headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()));
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        let plain = |h: &str| {
            let h = h.trim_end_matches('/');
            h.strip_suffix(":80")
                .or_else(|| h.strip_suffix(":443"))
                .unwrap_or(h)
                .to_ascii_lowercase()
        };
        host.is_some_and(|h| plain(h) == plain(origin_host))
    }
}

/// Why an upgrade was refused: 401 (who are you?) or 403 (not you).
#[derive(Debug, Clone)]
pub struct AuthError {
    status: StatusCode,
    message: String,
}

impl AuthError {
    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
}

impl AuthError {
    /// The HTTP status the upgrade is refused with.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The message sent with the refusal.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn http_status(&self) -> StatusCode {
        self.status
    }
}

/// The query parameters of a URI, percent-decoded (`+` as a space), as a browser's
/// `URLSearchParams` reads them.
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let query = uri.query().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The bytes a URL path segment stands for, its `%XX` escapes decoded (`+` stays a plus;
/// an escape that is not two hex digits stays as sent). Bytes, so that the caller decides
/// what a segment whose escapes are no UTF-8 means (the chat demo keeps it as sent).
pub(crate) fn percent_decode_path(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // Two hex digits (`from_str_radix` also took a sign: `%+1` was byte 1).
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_like_url_search_params() {
        let uri: Uri = "/chat/a?username=J%C3%BCrgen+K&token=a%2Bb&flag&=x&bad=%ZZ"
            .parse()
            .unwrap();
        let pairs = query_pairs(&uri);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("username"), Some("Jürgen K"));
        assert_eq!(get("token"), Some("a+b"));
        assert_eq!(get("flag"), Some(""));
        assert_eq!(get(""), Some("x"));
        assert_eq!(get("bad"), Some("%ZZ"));
    }

    #[test]
    fn path_segments_keep_plus_and_bad_escapes() {
        assert_eq!(percent_decode_path("my%20room+1"), b"my room+1");
        assert_eq!(percent_decode_path("%+1%2"), b"%+1%2");
        assert_eq!(percent_decode_path("%FF"), [0xFF]);
    }
}
