//! How server functions answer: JSON, read back in the browser as text.
//!
//! A page carries the data it was rendered from as JSON text, which Leptos reads with
//! `serde_json::from_str`; Leptos' own JSON answers are read with `from_slice`. Each reader
//! is a separate copy of every type's decoder in the wasm, so answers are read as text too
//! (they are UTF-8 JSON), and each type has one decoder. Every server function names this
//! (`output = crate::api::codec::JsonText`), and so do errors (`AppError`).

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

/// JSON in, JSON out, read from text.
pub struct JsonTextEncoding;

/// A server function's answer in [`JsonTextEncoding`], to a POST.
pub type JsonText = Post<JsonTextEncoding>;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    #[test]
    fn answers_read_back_as_they_were_sent() {
        let sent: Vec<(i64, String)> = vec![(1, "naïve ☃".into())];
        let bytes = <JsonTextEncoding as Encodes<_>>::encode(&sent).unwrap();
        let read: Vec<(i64, String)> = JsonTextEncoding::decode(bytes).unwrap();
        assert_eq!(read, sent);
        let not_text = Bytes::from_static(b"\"\xff\"");
        let err = <JsonTextEncoding as Decodes<String>>::decode(not_text);
        assert!(err.is_err(), "not UTF-8 is an error, not a panic");
        let err = <JsonTextEncoding as Decodes<AppError>>::decode(Bytes::from_static(b"{"));
        assert!(err.is_err());
    }
}
