//! Percent-encoding for the three places text goes into a URL or a header.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters: for a query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// A path: as a query value, but `/` stays.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');
/// RFC 5987 `attr-char`, for `filename*=UTF-8''…` in `Content-Disposition`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

pub fn query_value(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

pub fn path(text: &str) -> String {
    utf8_percent_encode(text, PATH).to_string()
}

pub fn header_value(text: &str) -> String {
    utf8_percent_encode(text, ATTR_CHAR).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_place_escapes_what_it_must() {
        assert_eq!(super::query_value("a b&c/é~"), "a%20b%26c%2F%C3%A9~");
        assert_eq!(super::path("/issues/1?x"), "/issues/1%3Fx");
        assert_eq!(super::header_value("été 1.png"), "%C3%A9t%C3%A9%201.png");
    }
}
