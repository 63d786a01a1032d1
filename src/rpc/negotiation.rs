//! What both sides read the same way when they agree on a codec: the `?codec=` parameter
//! and the subprotocol tokens offered.

/// The codec a URL's query names with `codec=NAME`, as sent (not percent-decoded: codec
/// names are plain tokens). `None` without one.
pub(crate) fn codec_param(query: &str) -> Option<&str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "codec")
        .map(|(_, v)| v)
}

/// The subprotocol tokens in `Sec-WebSocket-Protocol` header values, in order.
#[cfg(feature = "server")]
pub(crate) fn offered_tokens<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_param_and_tokens() {
        assert_eq!(codec_param("a=1&codec=msgpack"), Some("msgpack"));
        assert_eq!(codec_param("codec"), None);
    }

    #[cfg(feature = "server")]
    #[test]
    fn offered_subprotocol_tokens() {
        let tokens = offered_tokens(["polycodec.msgpack, x", " "].into_iter());
        assert_eq!(tokens, ["polycodec.msgpack", "x"]);
    }
}
