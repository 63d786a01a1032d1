//! tRPC's error codes and its error shape: `{message, code, data: {code, httpStatus,
//! stack?, path?}}`, the `code` a JSON-RPC number and `data.code` tRPC's name for it.

use crate::rpc::error::{codes, RpcError};
use crate::{Object, Value};

/// tRPC's error codes (`data.code` on the wire), with their JSON-RPC numbers and HTTP
/// statuses, as `@trpc/server` 11 has them.
///
/// A handler fails with one by returning [`Code::error`]; any other [`RpcError`] is an
/// `INTERNAL_SERVER_ERROR` whose message is passed through (what a plain `throw new
/// Error(...)` gives in tRPC), except the RPC layer's own errors, which map to their tRPC
/// kin (a bad argument is `BAD_REQUEST`, an unknown path `NOT_FOUND`).
///
/// ```
/// use polycodec::rpc::trpc::Code;
/// let e = Code::NotFound.error("Nothing to see here");
/// assert_eq!(e.name, "NOT_FOUND");
/// assert_eq!((Code::NotFound.json_rpc(), Code::NotFound.http_status()), (-32004, 404));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// `PARSE_ERROR`, -32700, 400.
    ParseError,
    /// `BAD_REQUEST`, -32600, 400.
    BadRequest,
    /// `INTERNAL_SERVER_ERROR`, -32603, 500.
    InternalServerError,
    /// `NOT_IMPLEMENTED`, -32603, 501.
    NotImplemented,
    /// `BAD_GATEWAY`, -32603, 502.
    BadGateway,
    /// `SERVICE_UNAVAILABLE`, -32603, 503.
    ServiceUnavailable,
    /// `GATEWAY_TIMEOUT`, -32603, 504.
    GatewayTimeout,
    /// `UNAUTHORIZED`, -32001, 401.
    Unauthorized,
    /// `PAYMENT_REQUIRED`, -32002, 402.
    PaymentRequired,
    /// `FORBIDDEN`, -32003, 403.
    Forbidden,
    /// `NOT_FOUND`, -32004, 404.
    NotFound,
    /// `METHOD_NOT_SUPPORTED`, -32005, 405.
    MethodNotSupported,
    /// `TIMEOUT`, -32008, 408.
    Timeout,
    /// `CONFLICT`, -32009, 409.
    Conflict,
    /// `PRECONDITION_FAILED`, -32012, 412.
    PreconditionFailed,
    /// `PAYLOAD_TOO_LARGE`, -32013, 413.
    PayloadTooLarge,
    /// `UNSUPPORTED_MEDIA_TYPE`, -32015, 415.
    UnsupportedMediaType,
    /// `UNPROCESSABLE_CONTENT`, -32022, 422.
    UnprocessableContent,
    /// `PRECONDITION_REQUIRED`, -32028, 428.
    PreconditionRequired,
    /// `TOO_MANY_REQUESTS`, -32029, 429.
    TooManyRequests,
    /// `CLIENT_CLOSED_REQUEST`, -32099, 499.
    ClientClosedRequest,
}

const TABLE: [(Code, &str, i32, u16); 21] = [
    (Code::ParseError, "PARSE_ERROR", -32700, 400),
    (Code::BadRequest, "BAD_REQUEST", -32600, 400),
    (
        Code::InternalServerError,
        "INTERNAL_SERVER_ERROR",
        -32603,
        500,
    ),
    (Code::NotImplemented, "NOT_IMPLEMENTED", -32603, 501),
    (Code::BadGateway, "BAD_GATEWAY", -32603, 502),
    (Code::ServiceUnavailable, "SERVICE_UNAVAILABLE", -32603, 503),
    (Code::GatewayTimeout, "GATEWAY_TIMEOUT", -32603, 504),
    (Code::Unauthorized, "UNAUTHORIZED", -32001, 401),
    (Code::PaymentRequired, "PAYMENT_REQUIRED", -32002, 402),
    (Code::Forbidden, "FORBIDDEN", -32003, 403),
    (Code::NotFound, "NOT_FOUND", -32004, 404),
    (
        Code::MethodNotSupported,
        "METHOD_NOT_SUPPORTED",
        -32005,
        405,
    ),
    (Code::Timeout, "TIMEOUT", -32008, 408),
    (Code::Conflict, "CONFLICT", -32009, 409),
    (Code::PreconditionFailed, "PRECONDITION_FAILED", -32012, 412),
    (Code::PayloadTooLarge, "PAYLOAD_TOO_LARGE", -32013, 413),
    (
        Code::UnsupportedMediaType,
        "UNSUPPORTED_MEDIA_TYPE",
        -32015,
        415,
    ),
    (
        Code::UnprocessableContent,
        "UNPROCESSABLE_CONTENT",
        -32022,
        422,
    ),
    (
        Code::PreconditionRequired,
        "PRECONDITION_REQUIRED",
        -32028,
        428,
    ),
    (Code::TooManyRequests, "TOO_MANY_REQUESTS", -32029, 429),
    (
        Code::ClientClosedRequest,
        "CLIENT_CLOSED_REQUEST",
        -32099,
        499,
    ),
];

impl Code {
    /// Every code, in the order of tRPC's table.
    pub fn all() -> impl Iterator<Item = Code> {
        TABLE.iter().map(|r| r.0)
    }

    fn row(self) -> &'static (Code, &'static str, i32, u16) {
        TABLE.iter().find(|r| r.0 == self).unwrap_or(&TABLE[2])
    }

    /// tRPC's name for it (`"NOT_FOUND"`), `data.code` on the wire.
    pub fn key(self) -> &'static str {
        self.row().1
    }

    /// Its JSON-RPC number, the shape's `code`.
    pub fn json_rpc(self) -> i32 {
        self.row().2
    }

    /// The HTTP status tRPC answers it with.
    pub fn http_status(self) -> u16 {
        self.row().3
    }

    /// The code named `key` (`"NOT_FOUND"`).
    pub fn from_key(key: &str) -> Option<Code> {
        TABLE.iter().find(|r| r.1 == key).map(|r| r.0)
    }

    /// An error of this code: what a handler returns to fail with it.
    pub fn error(self, message: impl Into<String>) -> RpcError {
        RpcError::new(self.key(), message)
    }

    /// The code an error travels with (see [`Code`]).
    pub fn of(e: &RpcError) -> Code {
        if let Some(c) = Code::from_key(&e.name) {
            return c;
        }
        match e.name.as_str() {
            codes::NOT_FOUND => Code::NotFound,
            codes::BAD_ARGUMENTS => Code::BadRequest,
            codes::PARSE => Code::ParseError,
            codes::TOO_MANY_CALLS | codes::RATE_LIMITED => Code::TooManyRequests,
            codes::TOO_LARGE => Code::PayloadTooLarge,
            codes::TIMEOUT => Code::Timeout,
            _ => Code::InternalServerError,
        }
    }
}

/// The error shape of the default `errorFormatter`: `{message, code, data: {code,
/// httpStatus, stack?, path?}}`, in that key order. `stack` only when `dev` is on (the
/// error's own, else its name and message).
pub(crate) fn shape(e: &RpcError, path: Option<&str>, dev: bool) -> Value {
    let code = Code::of(e);
    let mut data = Object::with_capacity(4);
    data.insert("code", Value::from(code.key()));
    data.insert("httpStatus", Value::from(code.http_status()));
    if dev {
        let stack = e
            .stack
            .clone()
            .unwrap_or_else(|| format!("TRPCError: {}", e.message));
        data.insert("stack", Value::String(stack));
    }
    if let Some(p) = path {
        data.insert("path", Value::from(p));
    }
    let mut o = Object::with_capacity(3);
    o.insert("message", Value::String(e.message.clone()));
    o.insert("code", Value::from(code.json_rpc()));
    o.insert("data", Value::Object(data));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_both_ways() {
        for c in Code::all() {
            assert_eq!(Code::from_key(c.key()), Some(c));
        }
        assert_eq!(Code::of(&RpcError::msg("boom")), Code::InternalServerError);
        assert_eq!(
            Code::of(&RpcError::new(codes::BAD_ARGUMENTS, "x")),
            Code::BadRequest
        );
        assert_eq!(Code::ClientClosedRequest.http_status(), 499);
    }
}
