//! The Open Inference Protocol's binary tensor data extension, for BYTES
//! tensors: the HTTP body is the JSON header (`Inference-Header-Content-Length`
//! bytes long) followed by the tensors' raw data, and each BYTES element is a
//! 4-byte little-endian length followed by that many bytes.

/// Splits a body into its JSON header and the binary data after it; without
/// `header_len` the whole body is JSON.
pub fn split(body: &[u8], header_len: Option<usize>) -> Result<(&[u8], &[u8]), String> {
    match header_len {
        None => Ok((body, &[])),
        Some(len) if len <= body.len() => Ok(body.split_at(len)),
        Some(len) => Err(format!("Inference-Header-Content-Length is {len}, but the body has {} bytes", body.len())),
    }
}

/// The elements of a BYTES tensor's binary data.
pub fn decode_bytes(mut data: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut elements = Vec::new();
    while !data.is_empty() {
        let index = elements.len();
        let Some((prefix, rest)) = data.split_first_chunk::<4>() else {
            return Err(format!("BYTES element {index}: {} bytes left, too few for its 4-byte length", data.len()));
        };
        let len = u32::from_le_bytes(*prefix) as usize;
        if len > rest.len() {
            return Err(format!("BYTES element {index}: length {len}, but only {} bytes follow", rest.len()));
        }
        let (element, rest) = rest.split_at(len);
        elements.push(element);
        data = rest;
    }
    Ok(elements)
}

/// The binary data of a BYTES tensor with these elements.
pub fn encode_bytes<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut data = Vec::new();
    for element in elements {
        // Elements are OCR responses or images, far below 4 GiB.
        let len = u32::try_from(element.len()).expect("BYTES element over 4 GiB");
        data.extend_from_slice(&len.to_le_bytes());
        data.extend_from_slice(element);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_elements_round_trip_with_little_endian_lengths() {
        let elements: [&[u8]; 3] = [b"ab", b"", b"\x00\xffz"];
        let data = encode_bytes(elements);
        assert_eq!(data, b"\x02\x00\x00\x00ab\x00\x00\x00\x00\x03\x00\x00\x00\x00\xffz");
        assert_eq!(decode_bytes(&data).unwrap(), elements);
        assert_eq!(decode_bytes(&[]).unwrap(), Vec::<&[u8]>::new());
        // A length above 255 uses the higher bytes, low byte first.
        let long = vec![7u8; 300];
        assert_eq!(&encode_bytes([long.as_slice()])[..4], &[44, 1, 0, 0]);
    }

    #[test]
    fn truncated_data_is_refused_with_the_element_index() {
        let data = encode_bytes([b"abc".as_slice(), b"defg".as_slice()]);
        let short_element = decode_bytes(&data[..data.len() - 1]).unwrap_err();
        assert!(short_element.contains("element 1") && short_element.contains("length 4"), "{short_element}");
        let short_prefix = decode_bytes(&data[..9]).unwrap_err();
        assert!(short_prefix.contains("element 1") && short_prefix.contains("2 bytes left"), "{short_prefix}");
    }

    #[test]
    fn header_length_splits_json_from_binary() {
        let body = b"{\"a\":1}\x01\x00\x00\x00z";
        assert_eq!(split(body, Some(7)).unwrap(), (&b"{\"a\":1}"[..], &b"\x01\x00\x00\x00z"[..]));
        assert_eq!(split(body, None).unwrap(), (&body[..], &[][..]));
        assert!(split(body, Some(body.len() + 1)).unwrap_err().contains("body has 12 bytes"));
    }
}
