//! Image inputs: where the bytes come from (http(s) URL, base64 with or without a `data:`
//! prefix, raw bytes), decoding under limits, and the preprocessing jina-clip was trained
//! with. Backend-free: pixels in, a normalised `[3, size, size]` array out.
//!
//! Preprocessing follows jina-clip's image processor: torchvision `Resize(size, BICUBIC)`
//! on a PIL image, `CenterCrop(size)`, `ToTensor()`, `Normalize(CLIP mean, std)`. The
//! resize is Pillow's (`libImaging/Resample.c`): separable, antialiased (the kernel is
//! widened by the downscale factor), bicubic with a = −0.5, 8-bit fixed-point coefficients
//! (22 fraction bits), horizontal pass first with the intermediate rounded to 8 bits. It is
//! reproduced here operation for operation, so pixels match Pillow's exactly (checked in
//! `tests/images.rs` against Pillow + torchvision outputs). Only the output pixels inside the
//! center crop are computed: each output pixel depends on its own coefficients only, so
//! skipping the rest changes nothing.

use std::io::Cursor;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use image::{ImageFormat, ImageReader, Limits, RgbImage};

pub mod jpeg;

/// Size of one image input (Jina: "Images up to 8MB").
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

/// CLIP's normalisation (OpenAI's dataset statistics), per RGB channel.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_1];

/// Decoded pixels allowed per image. A 48-megapixel phone photo (8000×6000) passes; a
/// decompression bomb (a few KB declaring 100k×100k) is refused from its header, before any
/// pixel buffer is allocated.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// The formats decoded (Jina's: PNG, JPEG, WebP, GIF's first frame, BMP).
const FORMATS: &[ImageFormat] =
    &[ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp];

/// Where an image input's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// An http(s) URL, fetched when the request runs.
    Url(String),
    /// The encoded image (from base64, a data URL, or given as bytes).
    Bytes(Vec<u8>),
}

/// Parses an `image` value of a request: an `http://` / `https://` URL, a `data:image/…;base64,`
/// URL, or bare base64 (standard or URL-safe alphabet, padding optional, whitespace ignored).
/// Other URL schemes are refused (a server must never read its own files for a caller).
/// Errors are messages for the caller to put beside the field.
pub fn parse_ref(value: &str) -> Result<ImageRef, String> {
    let s = value.trim();
    if s.is_empty() {
        return Err("'image' must not be empty".into());
    }
    let lower: String = s.chars().take(16).collect::<String>().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        if s.chars().any(char::is_whitespace) {
            return Err("the image URL contains whitespace".into());
        }
        return Ok(ImageRef::Url(s.to_string()));
    }
    let payload = if lower.starts_with("data:") {
        let (header, data) = s.split_once(',').ok_or_else(|| "the data URL has no ',' before its data".to_string())?;
        let header = header.to_ascii_lowercase();
        if !header.ends_with(";base64") {
            return Err("the data URL is not base64 (expected 'data:image/…;base64,…')".into());
        }
        let media = &header["data:".len()..header.len() - ";base64".len()];
        if !media.is_empty() && !media.starts_with("image/") && media != "application/octet-stream" {
            return Err(format!("the data URL's media type is '{media}', not an image"));
        }
        data
    } else if let Some(scheme) = s.split_once("://").map(|(scheme, _)| scheme)
        && !scheme.is_empty()
        && scheme.len() <= 16
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(format!("'{scheme}://' URLs are not fetched; give an http(s) URL or base64"));
    } else {
        s
    };
    let bytes = decode_base64(payload)?;
    check_size(bytes.len())?;
    Ok(ImageRef::Bytes(bytes))
}

fn decode_base64(data: &str) -> Result<Vec<u8>, String> {
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err("the image's base64 data is empty".into());
    }
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard
        .decode(&compact)
        .or_else(|_| url_safe.decode(&compact))
        .map_err(|e| format!("the image is neither an http(s) URL nor valid base64 ({e})"))
}

/// Jina's limit: 8 MB per image, encoded.
pub fn check_size(len: usize) -> Result<(), String> {
    if len > MAX_IMAGE_BYTES {
        return Err(format!(
            "the image is {:.1} MB; images up to {} MB are accepted",
            len as f64 / 1_048_576.0,
            MAX_IMAGE_BYTES / 1_048_576
        ));
    }
    Ok(())
}

fn format_name(f: ImageFormat) -> &'static str {
    f.extensions_str().first().copied().unwrap_or("unknown")
}

/// Decodes an encoded image to 8-bit RGB (alpha dropped, as PIL's `convert("RGB")`; GIF:
/// its first frame), refusing unsupported formats and images over [`MAX_IMAGE_PIXELS`]
/// before allocating their pixels.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, String> {
    decode_within(bytes, MAX_IMAGE_PIXELS)
}

/// [`decode`] with another pixel limit (the fuzz target's smaller one keeps each execution
/// cheap; every code path is the same).
pub fn decode_within(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, String> {
    // Memory the decoder may allocate: RGBA16 of the largest allowed image fits.
    let max_alloc = 8 * max_pixels;
    check_size(bytes.len())?;
    if bytes.is_empty() {
        return Err("the image is empty (0 bytes)".into());
    }
    let format = image::guess_format(bytes)
        .map_err(|_| "the data is not an image in a known format (PNG, JPEG, WebP, GIF or BMP)".to_string())?;
    if !FORMATS.contains(&format) {
        return Err(format!(
            "{} images are not supported; give PNG, JPEG, WebP, GIF or BMP",
            format_name(format).to_ascii_uppercase()
        ));
    }
    let name = format_name(format).to_ascii_uppercase();
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The decoder would fill the missing part with gray; Pillow refuses it ("image file
        // is truncated"), and so does triage.
        return Err("cannot decode the JPEG image: it is truncated (no end-of-image marker after its last scan)".into());
    }
    let undecodable = |e: image::ImageError| format!("cannot decode the {name} image: {e}");
    let (width, height) =
        ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(undecodable)?;
    let pixels = width as u64 * height as u64;
    if pixels == 0 {
        return Err(format!("the {name} image is {width}×{height}: it has no pixels"));
    }
    if pixels > max_pixels {
        return Err(format!(
            "the {name} image is {width}×{height} = {pixels} pixels; at most {max_pixels} are decoded"
        ));
    }
    if format == ImageFormat::Jpeg {
        // Pillow's pixels (libjpeg-turbo's arithmetic); kinds it leaves go to the `image` crate.
        if let jpeg::Decoded::Rgb(rgb) =
            jpeg::decode(bytes, max_alloc).map_err(|e| format!("cannot decode the JPEG image: {e}"))?
        {
            return Ok(rgb);
        }
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    Ok(reader.decode().map_err(undecodable)?.into_rgb8())
}

/// Which hosts an image URL may reach. A shared server must not fetch its own network for
/// its callers (loopback, private ranges, link-local cloud metadata addresses): natively
/// the default is [`UrlPolicy::PublicOnly`], checked on every address a connection (a
/// redirect's too) resolves to, so a name that resolves to a private address is refused as
/// well. In the browser the page's own `fetch` (and CORS) decides; the policy is unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlPolicy {
    #[default]
    PublicOnly,
    /// Any host, for local use (`triage serve --allow-private-image-urls`).
    AnyHost,
}

/// The encoded bytes of an image input: base64 as decoded, a URL fetched (at most 8 MB).
pub async fn bytes_of(image: ImageRef, policy: UrlPolicy) -> Result<Vec<u8>, String> {
    match image {
        ImageRef::Bytes(b) => Ok(b),
        ImageRef::Url(url) => {
            let bytes = fetch(&url, policy).await?;
            check_size(bytes.len())?;
            Ok(bytes)
        }
    }
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, IPv6
/// unique-local), link-local (169.254/16 holds cloud metadata services), shared (100.64/10),
/// multicast, broadcast, unspecified or documentation; IPv4-mapped IPv6 is judged as IPv4.
#[cfg(not(target_arch = "wasm32"))]
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

/// ureq's resolver, refusing any host with a non-public address.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default)]
struct PublicOnlyResolver(ureq::unversioned::resolver::DefaultResolver);

#[cfg(not(target_arch = "wasm32"))]
impl ureq::unversioned::resolver::Resolver for PublicOnlyResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.0.resolve(uri, config, timeout)?;
        match addrs.iter().find(|a| !is_public(a.ip())) {
            Some(a) => Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{NOT_PUBLIC} ({})", a.ip()),
            ))),
            None => Ok(addrs),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
const NOT_PUBLIC: &str = "the host is not on the public internet: image URLs reaching this server's own network are refused (`triage serve --allow-private-image-urls` allows them)";

/// The HTTP client of a policy, made once so connections are reused between requests.
#[cfg(not(target_arch = "wasm32"))]
fn agent(policy: UrlPolicy) -> &'static ureq::Agent {
    use std::sync::OnceLock;
    use std::time::Duration;
    use ureq::unversioned::transport::DefaultConnector;
    static PUBLIC_ONLY: OnceLock<ureq::Agent> = OnceLock::new();
    static ANY_HOST: OnceLock<ureq::Agent> = OnceLock::new();
    let config = || {
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
    };
    match policy {
        UrlPolicy::PublicOnly => PUBLIC_ONLY.get_or_init(|| {
            ureq::Agent::with_parts(config(), DefaultConnector::default(), PublicOnlyResolver::default())
        }),
        UrlPolicy::AnyHost => ANY_HOST.get_or_init(|| config().into()),
    }
}

/// Natively: an HTTP client with timeouts, reading at most one byte past the limit.
#[cfg(not(target_arch = "wasm32"))]
async fn fetch(url: &str, policy: UrlPolicy) -> Result<Vec<u8>, String> {
    let agent = agent(policy);
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => format!("fetching the image URL {url} answered HTTP {code}"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            format!("the image URL {url} is refused: {io}")
        }
        other => format!("cannot fetch the image URL {url}: {other}"),
    })?;
    response.body_mut().with_config().limit(MAX_IMAGE_BYTES as u64 + 1).read_to_vec().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => {
            format!("the image at {url} is larger than {} MB", MAX_IMAGE_BYTES / 1_048_576)
        }
        other => format!("cannot read the image URL {url}: {other}"),
    })
}

/// In the browser: `fetch` (the image's server must allow this page's origin by CORS).
#[cfg(target_arch = "wasm32")]
async fn fetch(url: &str, _: UrlPolicy) -> Result<Vec<u8>, String> {
    use wasm_bindgen::JsCast;
    let failed = |e: wasm_bindgen::JsValue| {
        format!(
            "cannot fetch the image URL {url}: {} (unreachable, or its server does not allow this origin)",
            crate::js::js_error_text(&e)
        )
    };
    let response = crate::js::global_fetch(url).await.map_err(failed)?;
    if !response.ok() {
        return Err(format!("fetching the image URL {url} answered HTTP {}", response.status()));
    }
    if let Some(len) = response.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok()) {
        check_size(len)?;
    }
    let buffer =
        wasm_bindgen_futures::JsFuture::from(response.array_buffer().map_err(failed)?).await.map_err(failed)?;
    let buffer: js_sys::ArrayBuffer = buffer.dyn_into().map_err(failed)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Whether a JPEG's end-of-image marker follows its last scan. Entropy-coded data never
/// holds an unescaped `FF D9` or `FF DA`, so the last of each is a marker (an EXIF thumbnail's
/// own markers come before the main image's scans).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w[0] == 0xFF && w[1] == marker);
    matches!((last(0xDA), last(0xD9)), (Some(sos), Some(eoi)) if eoi > sos)
}

/// Pillow's bicubic kernel (a = −0.5).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fraction bits of Pillow's 8-bit resampling coefficients (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// One output pixel's taps: the first input index and its fixed-point weights.
struct Taps {
    first: usize,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for resizing `in_size` samples to
/// `out_size`, for the output indices in `range`.
fn taps(in_size: usize, out_size: usize, range: std::ops::Range<usize>) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = 2.0 * filter_scale;
    range
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filter_scale;
            // C's `(int)` truncates toward zero; negatives are clamped to 0 just after.
            let min = ((center - support + 0.5).trunc() as i64).max(0) as usize;
            let max = ((center + support + 0.5).trunc() as i64).min(in_size as i64) as usize;
            let raw: Vec<f64> = (min..max).map(|x| bicubic((x as f64 - center + 0.5) * ss)).collect();
            let total: f64 = raw.iter().sum();
            let weights = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let fixed = w * (1u32 << PRECISION_BITS) as f64;
                    (if w < 0.0 { fixed - 0.5 } else { fixed + 0.5 }).trunc() as i32
                })
                .collect();
            Taps { first: min, weights }
        })
        .collect()
}

/// Pillow's `clip8`: the accumulator's integer part, saturated to a byte.
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes to `out_w × out_h` as Pillow's `Image.resize(…, BICUBIC)` and keeps the window
/// `crop` = (left, top, width, height) of the result.
fn resize_crop(img: &RgbImage, out_w: usize, out_h: usize, crop: (usize, usize, usize, usize)) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let (left, top, cw, ch) = crop;
    let src = img.as_raw();
    // Horizontal pass (skipped when the width does not change, as Pillow does) over the rows
    // the vertical pass reads, for the cropped columns only.
    let horizontal: Option<Vec<Taps>> = (out_w != in_w).then(|| taps(in_w, out_w, left..left + cw));
    let vertical: Option<Vec<Taps>> = (out_h != in_h).then(|| taps(in_h, out_h, top..top + ch));
    let (row_first, row_end) = match &vertical {
        Some(v) => (v[0].first, v.iter().map(|t| t.first + t.weights.len()).max().unwrap_or(0)),
        None => (top, top + ch),
    };
    let rows = row_end - row_first;
    let mut mid = vec![0u8; rows * cw * 3];
    for r in 0..rows {
        let line = &src[(row_first + r) * in_w * 3..(row_first + r + 1) * in_w * 3];
        let out = &mut mid[r * cw * 3..(r + 1) * cw * 3];
        match &horizontal {
            Some(h) => {
                for (x, t) in h.iter().enumerate() {
                    for c in 0..3 {
                        let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                        for (k, &w) in t.weights.iter().enumerate() {
                            acc += line[(t.first + k) * 3 + c] as i32 * w;
                        }
                        out[x * 3 + c] = clip8(acc);
                    }
                }
            }
            None => out.copy_from_slice(&line[left * 3..(left + cw) * 3]),
        }
    }
    let mut pixels = vec![0u8; ch * cw * 3];
    match &vertical {
        Some(v) => {
            for (y, t) in v.iter().enumerate() {
                for i in 0..cw * 3 {
                    let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                    for (k, &w) in t.weights.iter().enumerate() {
                        acc += mid[(t.first - row_first + k) * cw * 3 + i] as i32 * w;
                    }
                    pixels[y * cw * 3 + i] = clip8(acc);
                }
            }
        }
        None => pixels.copy_from_slice(&mid),
    }
    RgbImage::from_raw(cw as u32, ch as u32, pixels).expect("buffer sized to the crop")
}

/// Python's `round` on a half-integer `d / 2` (ties to even), as torchvision's center crop.
fn half_round_even(d: usize) -> usize {
    let k = d / 2;
    if d % 2 == 0 || k % 2 == 0 { k } else { k + 1 }
}

/// torchvision's `Resize(size)` (shortest side to `size`, the other `int(size·long/short)`)
/// with Pillow's bicubic, then `CenterCrop(size)`: `size × size` RGB bytes.
pub fn resize_center_crop(img: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    // Python computes `int(size * long / short)`: the integer product, then a float division.
    let (out_w, out_h) = if w <= h {
        (size, ((size * h) as f64 / w as f64) as usize)
    } else {
        (((size * w) as f64 / h as f64) as usize, size)
    };
    let left = half_round_even(out_w - size);
    let top = half_round_even(out_h - size);
    resize_crop(img, out_w, out_h, (left, top, size, size))
}

/// `ToTensor` + `Normalize`: `size × size` RGB bytes → `[3, size, size]` floats, channel first.
pub fn normalize(img: &RgbImage) -> Vec<f32> {
    let plane = img.width() as usize * img.height() as usize;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px[c] as f32 / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    }
    out
}

/// Encoded bytes → the model's input: decode, resize, crop, normalise. `[3, size, size]`.
pub fn preprocess(bytes: &[u8], size: usize) -> Result<Vec<f32>, String> {
    Ok(normalize(&resize_center_crop(&decode(bytes)?, size)))
}

#[cfg(test)]
mod tests {
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "ff02::1",
        ] {
            assert!(!super::is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(super::is_public(public.parse().unwrap()), "{public}");
        }
    }

    use super::*;

    #[test]
    fn refs_parse_urls_data_urls_and_base64() {
        assert_eq!(parse_ref(" https://x.org/a.png ").unwrap(), ImageRef::Url("https://x.org/a.png".into()));
        assert_eq!(parse_ref("HTTP://x.org/a").unwrap(), ImageRef::Url("HTTP://x.org/a".into()));
        assert_eq!(parse_ref("data:image/png;base64,AAEC").unwrap(), ImageRef::Bytes(vec![0, 1, 2]));
        assert_eq!(parse_ref("AAE").unwrap(), ImageRef::Bytes(vec![0, 1]));
        assert_eq!(parse_ref("AA\nEC").unwrap(), ImageRef::Bytes(vec![0, 1, 2]));
        assert_eq!(parse_ref("-_8=").unwrap(), ImageRef::Bytes(vec![0xfb, 0xff]));
        for bad in ["", "file:///etc/passwd", "ftp://x/y", "data:text/plain;base64,AAEC", "data:image/png,abc", "@@@@"]
        {
            assert!(parse_ref(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn kernel_and_crop_rounding_match_pillow_and_python() {
        assert_eq!(bicubic(0.0), 1.0);
        assert_eq!(bicubic(1.0), 0.0);
        assert_eq!(bicubic(2.0), 0.0);
        // Python: round(0.5) = 0, round(1.5) = 2, round(2.5) = 2, round(3.5) = 4.
        assert_eq!([1, 3, 5, 7, 4].map(half_round_even), [0, 2, 2, 4, 2]);
        // Unchanged size: identity.
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 7]));
        assert_eq!(resize_crop(&img, 5, 4, (0, 0, 5, 4)), img);
        // A flat image stays flat at any scale.
        let flat = RgbImage::from_pixel(37, 11, image::Rgb([200, 3, 90]));
        let out = resize_center_crop(&flat, 8);
        assert!(out.pixels().all(|p| p.0 == [200, 3, 90]));
        assert_eq!((out.width(), out.height()), (8, 8));
    }
}
