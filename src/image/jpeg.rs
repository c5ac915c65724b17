//! JPEG decoding that gives the pixels Pillow gives.
//!
//! jina-clip was trained on images decoded by Pillow, whose JPEG decoder is libjpeg-turbo with
//! its defaults: the accurate integer inverse DCT ("ISLOW", `jidctint.c`), "fancy" chroma
//! upsampling (the triangle filters of `jdsample.c`), and YCbCr→RGB through the fixed-point
//! tables of `jdcolor.c`. Other decoders (the `image` crate's) choose differently at each of
//! these steps: on the 14 JPEG fixtures of `tests/images.rs`, the `image` crate's pixels are
//! up to 1–4 levels from Pillow's on photos and chroma layouts (mean 0.01–0.36), 11 with
//! restart markers and 25 on a 3-px-wide 4:2:0 strip (mean 4.1); this module's are equal. This module follows ITU-T T.81 for
//! the bitstream (baseline, extended-sequential and progressive Huffman coding, restart
//! intervals) and libjpeg's arithmetic for everything after it, so that for 8-bit grayscale
//! and three-component (YCbCr or RGB) images the output equals libjpeg-turbo's byte for byte
//! (`tests/images.rs` checks whole decoded images against Pillow).
//!
//! Not handled here (the caller falls back to the `image` crate): four-component (CMYK/YCCK),
//! 12-bit, lossless, hierarchical and arithmetic-coded files. Corrupt entropy-coded data is an
//! error, where libjpeg would warn and fill in.

use image::RgbImage;

/// Zigzag position → natural (row-major) position of a coefficient.
const NATURAL: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// What [`decode`] made of a JPEG.
pub enum Decoded {
    Rgb(RgbImage),
    /// A kind of JPEG this module leaves to another decoder (see the module doc).
    NotHandled,
}

type Result<T> = std::result::Result<T, String>;

/// Decodes a JPEG to 8-bit RGB as Pillow's `Image.open(…).convert("RGB")` does (no EXIF
/// rotation, grayscale replicated). `max_alloc` bounds the bytes allocated for coefficients,
/// sample planes and the output together; the caller has already checked the pixel count.
pub fn decode(bytes: &[u8], max_alloc: u64) -> Result<Decoded> {
    let mut r = Segments { data: bytes, pos: 0 };
    if r.u16()? != 0xFFD8 {
        return Err("not a JPEG (no start-of-image marker)".into());
    }
    let mut tables = Tables::default();
    let mut frame: Option<Frame> = None;
    let (mut saw_jfif, mut adobe_transform) = (false, None);
    loop {
        let marker = r.next_marker()?;
        match marker {
            0xD9 => break,
            0xD8 | 0x01 | 0xD0..=0xD7 => {}
            0xC0 | 0xC1 | 0xC2 => {
                let seg = r.segment()?;
                if frame.is_some() {
                    return Err("more than one frame header".into());
                }
                match Frame::parse(seg, marker == 0xC2, max_alloc)? {
                    Some(f) => frame = Some(f),
                    None => return Ok(Decoded::NotHandled),
                }
            }
            // Lossless, hierarchical or arithmetic-coded.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Ok(Decoded::NotHandled),
            0xC4 => tables.huffman(r.segment()?)?,
            0xDB => tables.quantization(r.segment()?)?,
            0xDD => {
                let seg = r.segment()?;
                tables.restart_interval =
                    u16::from_be_bytes([*seg.first().ok_or("short DRI")?, *seg.get(1).ok_or("short DRI")?]) as usize;
            }
            0xDA => {
                let seg = r.segment()?;
                let frame = frame.as_mut().ok_or("a scan before the frame header")?;
                let scan = Scan::parse(seg, frame)?;
                r.pos = frame.decode_scan(bytes, r.pos, &scan, &tables)?;
            }
            0xE0 => saw_jfif |= r.segment()?.starts_with(b"JFIF\0"),
            0xEE => {
                let seg = r.segment()?;
                if seg.len() >= 12 && seg.starts_with(b"Adobe") {
                    adobe_transform = Some(seg[11]);
                }
            }
            _ => {
                r.segment()?;
            }
        }
    }
    let frame = frame.ok_or("no frame header before the end of the image")?;
    if frame.scans == 0 {
        return Err("no image data (no scan)".into());
    }
    frame.into_rgb(saw_jfif, adobe_transform).map(Decoded::Rgb)
}

/// The marker segments around the entropy-coded data.
struct Segments<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Segments<'a> {
    fn u16(&mut self) -> Result<u16> {
        let b = self.data.get(self.pos..self.pos + 2).ok_or("the JPEG ends inside a marker")?;
        self.pos += 2;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// The next marker code, skipping fill bytes and anything before it (the tail of
    /// entropy-coded data, with its stuffed `FF 00` pairs).
    fn next_marker(&mut self) -> Result<u8> {
        loop {
            let at = self.data[self.pos.min(self.data.len())..]
                .iter()
                .position(|&b| b == 0xFF)
                .ok_or("the JPEG ends without an end-of-image marker")?;
            self.pos += at;
            while self.data.get(self.pos) == Some(&0xFF) {
                self.pos += 1;
            }
            let code = *self.data.get(self.pos).ok_or("the JPEG ends inside a marker")?;
            self.pos += 1;
            if code != 0 {
                return Ok(code);
            }
        }
    }

    /// A marker segment's payload (after its length field).
    fn segment(&mut self) -> Result<&'a [u8]> {
        let len = self.u16()? as usize;
        if len < 2 {
            return Err(format!("a marker segment of length {len}"));
        }
        let seg = self.data.get(self.pos..self.pos + len - 2).ok_or("the JPEG ends inside a marker segment")?;
        self.pos += len - 2;
        Ok(seg)
    }
}

/// Tables as last defined (a scan uses those current when it starts).
#[derive(Default)]
struct Tables {
    /// Natural order.
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
}

impl Tables {
    fn quantization(&mut self, mut seg: &[u8]) -> Result<()> {
        while let Some((&pq_tq, rest)) = seg.split_first() {
            let (precision, id) = (pq_tq >> 4, (pq_tq & 15) as usize);
            if id > 3 || precision > 1 {
                return Err(format!("quantization table {id} of precision {precision}"));
            }
            let size = if precision == 0 { 64 } else { 128 };
            let body = rest.get(..size).ok_or("short quantization table")?;
            let mut table = [0u16; 64];
            for (k, &pos) in NATURAL.iter().enumerate() {
                table[pos] =
                    if precision == 0 { body[k] as u16 } else { u16::from_be_bytes([body[2 * k], body[2 * k + 1]]) };
            }
            self.quant[id] = Some(table);
            seg = &rest[size..];
        }
        Ok(())
    }

    fn huffman(&mut self, mut seg: &[u8]) -> Result<()> {
        while let Some((&tc_th, rest)) = seg.split_first() {
            let (class, id) = (tc_th >> 4, (tc_th & 15) as usize);
            if class > 1 || id > 3 {
                return Err(format!("Huffman table class {class} id {id}"));
            }
            let counts: [u8; 16] =
                rest.get(..16).ok_or("short Huffman table")?.try_into().map_err(|_| "short Huffman table")?;
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let values = rest.get(16..16 + total).ok_or("short Huffman table")?;
            if total > 256 || (class == 0 && values.iter().any(|&v| v > 15)) {
                return Err("bad Huffman table".into());
            }
            let table = Huffman::new(&counts, values)?;
            if class == 0 {
                self.dc[id] = Some(table);
            } else {
                self.ac[id] = Some(table);
            }
            seg = &rest[16 + total..];
        }
        Ok(())
    }
}

/// A canonical Huffman code: codes up to 9 bits by table lookup, longer ones by length.
struct Huffman {
    /// Indexed by the next 9 bits: `length << 8 | value`, 0 when the code is longer.
    fast: Vec<u16>,
    max_code: [i32; 17],
    min_code: [i32; 17],
    first_index: [usize; 17],
    values: Vec<u8>,
}

const FAST_BITS: u32 = 9;

impl Huffman {
    fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self> {
        let mut t = Huffman {
            fast: vec![0; 1 << FAST_BITS],
            max_code: [-1; 17],
            min_code: [0; 17],
            first_index: [0; 17],
            values: values.to_vec(),
        };
        let (mut code, mut k) = (0u32, 0usize);
        let longest = counts.iter().rposition(|&c| c > 0).map_or(0, |i| i + 1);
        for len in 1..=16usize {
            t.first_index[len] = k;
            t.min_code[len] = code as i32;
            for _ in 0..counts[len - 1] {
                if code >= 1 << len {
                    return Err("bad Huffman table (too many codes of one length)".into());
                }
                if len as u32 <= FAST_BITS {
                    let shift = FAST_BITS - len as u32;
                    let base = (code << shift) as usize;
                    for e in &mut t.fast[base..base + (1 << shift)] {
                        *e = (len as u16) << 8 | values[k] as u16;
                    }
                }
                code += 1;
                k += 1;
            }
            if counts[len - 1] > 0 {
                t.max_code[len] = code as i32 - 1;
            }
            // As libjpeg: the all-ones code of a length is never assigned.
            if len <= longest && code >= 1 << len {
                return Err("bad Huffman table (too many codes of one length)".into());
            }
            code <<= 1;
        }
        Ok(t)
    }

    fn decode(&self, bits: &mut Bits) -> Result<u8> {
        let peek = bits.peek(16);
        let e = self.fast[(peek >> (16 - FAST_BITS)) as usize];
        if e != 0 {
            bits.consume((e >> 8) as u32);
            return Ok(e as u8);
        }
        for len in FAST_BITS as usize + 1..=16 {
            let code = (peek >> (16 - len)) as i32;
            if code <= self.max_code[len] {
                bits.consume(len as u32);
                return self
                    .values
                    .get(self.first_index[len] + (code - self.min_code[len]) as usize)
                    .copied()
                    .ok_or_else(|| "corrupt JPEG data (bad Huffman code)".to_string());
            }
        }
        Err("corrupt JPEG data (bad Huffman code)".into())
    }
}

/// Entropy-coded bits, most significant first, with `FF 00` unstuffed. At a marker the
/// stream yields zeros, as libjpeg does.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    at_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits { data, pos, acc: 0, count: 0, at_marker: false }
    }

    fn refill(&mut self) {
        while self.count <= 56 {
            let mut byte = 0u8;
            if !self.at_marker {
                match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
                    (Some(&0xFF), Some(&0)) => {
                        byte = 0xFF;
                        self.pos += 2;
                    }
                    (Some(&0xFF), _) | (None, _) => self.at_marker = true,
                    (Some(&b), _) => {
                        byte = b;
                        self.pos += 1;
                    }
                }
            }
            self.acc |= (byte as u64) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next `n` (1..=16) bits, not consumed.
    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.refill();
        }
        (self.acc >> (64 - n)) as u32
    }

    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    fn bits(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        let v = self.peek(n);
        self.consume(n);
        v as i32
    }

    /// `n` bits read as a signed magnitude category (T.81 F.12, EXTEND).
    fn extend(&mut self, n: u32) -> i32 {
        let v = self.bits(n);
        if n > 0 && v < 1 << (n - 1) { v - (1 << n) + 1 } else { v }
    }

    /// At a restart: drops the bits left and moves past the RSTn marker.
    fn restart(&mut self) {
        self.acc = 0;
        self.count = 0;
        let mut p = self.pos;
        while p + 1 < self.data.len() {
            if self.data[p] == 0xFF {
                match self.data[p + 1] {
                    0x00 => p += 2,
                    0xFF => p += 1,
                    0xD0..=0xD7 => {
                        self.pos = p + 2;
                        self.at_marker = false;
                        return;
                    }
                    _ => {
                        // Another marker where a restart belongs: corrupt; zeros from here.
                        self.pos = p;
                        self.at_marker = true;
                        return;
                    }
                }
            } else {
                p += 1;
            }
        }
        self.pos = self.data.len();
        self.at_marker = true;
    }
}

/// One image component and the samples decoded for it.
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant_id: usize,
    /// The quantization table latched at the component's first scan (libjpeg's rule).
    quant: Option<[u16; 64]>,
    /// Samples of the component at its own resolution (libjpeg's `downsampled_width/height`).
    width: usize,
    height: usize,
    /// Blocks holding real samples.
    blocks_w: usize,
    blocks_h: usize,
    /// Blocks allocated per row (whole MCUs); `stride = alloc_w * 8` samples per plane row.
    alloc_w: usize,
    /// Progressive only: every block's coefficients, natural order.
    coefs: Vec<i16>,
    plane: Vec<u8>,
}

struct Frame {
    width: usize,
    height: usize,
    progressive: bool,
    comps: Vec<Component>,
    h_max: usize,
    v_max: usize,
    mcus_x: usize,
    mcus_y: usize,
    scans: usize,
}

struct Scan {
    /// (component index, DC table, AC table).
    comps: Vec<(usize, usize, usize)>,
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
}

impl Frame {
    /// `Ok(None)`: a frame this module leaves to another decoder (12-bit samples, a height
    /// given after the scan by DNL, other than 1 or 3 components).
    fn parse(seg: &[u8], progressive: bool, max_alloc: u64) -> Result<Option<Frame>> {
        if seg.len() < 6 {
            return Err("short frame header".into());
        }
        if seg[0] != 8 {
            return Ok(None);
        }
        let height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
        let width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
        let n = seg[5] as usize;
        if height == 0 {
            return Ok(None);
        }
        if width == 0 {
            return Err("the JPEG is 0 pixels wide".into());
        }
        if n != 1 && n != 3 {
            return Ok(None);
        }
        let spec = seg.get(6..6 + 3 * n).ok_or("short frame header")?;
        let mut comps = Vec::with_capacity(n);
        for c in spec.chunks_exact(3) {
            let (h, v) = ((c[1] >> 4) as usize, (c[1] & 15) as usize);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
                return Err(format!("bad sampling factors {h}×{v} or table {}", c[2]));
            }
            comps.push((c[0], h, v, c[2] as usize));
        }
        let h_max = comps.iter().map(|c| c.1).max().unwrap_or(1);
        let v_max = comps.iter().map(|c| c.2).max().unwrap_or(1);
        if comps.iter().any(|c| h_max % c.1 != 0 || v_max % c.2 != 0) {
            return Err("fractional chroma sampling is not supported".into());
        }
        let (mcus_x, mcus_y) = (width.div_ceil(8 * h_max), height.div_ceil(8 * v_max));
        let samples: u64 = comps.iter().map(|c| (mcus_x * c.1) as u64 * (mcus_y * c.2) as u64 * 64).sum();
        let need = samples * if progressive { 3 } else { 1 } + 3 * width as u64 * height as u64;
        if need > max_alloc {
            return Err(format!("decoding it would take {need} bytes; at most {max_alloc} are allowed"));
        }
        let comps = comps
            .into_iter()
            .map(|(id, h, v, quant_id)| {
                let (cw, ch) = ((width * h).div_ceil(h_max), (height * v).div_ceil(v_max));
                let (alloc_w, alloc_h) = (mcus_x * h, mcus_y * v);
                Component {
                    id,
                    h,
                    v,
                    quant_id,
                    quant: None,
                    width: cw,
                    height: ch,
                    blocks_w: cw.div_ceil(8),
                    blocks_h: ch.div_ceil(8),
                    alloc_w,
                    coefs: if progressive { vec![0; alloc_w * alloc_h * 64] } else { Vec::new() },
                    plane: vec![0; alloc_w * alloc_h * 64],
                }
            })
            .collect();
        Ok(Some(Frame { width, height, progressive, comps, h_max, v_max, mcus_x, mcus_y, scans: 0 }))
    }

    /// Decodes one scan's entropy-coded data from `start`; returns where it stopped.
    fn decode_scan(&mut self, data: &[u8], start: usize, scan: &Scan, tables: &Tables) -> Result<usize> {
        for &(ci, _, _) in &scan.comps {
            let comp = &mut self.comps[ci];
            if comp.quant.is_none() {
                comp.quant = Some(tables.quant[comp.quant_id].ok_or("a scan before its quantization table")?);
            }
        }
        let dc_used = scan.ss == 0 && scan.ah == 0;
        let ac_used = scan.se > 0;
        let mut dc_tables = Vec::new();
        let mut ac_tables = Vec::new();
        for &(_, td, ta) in &scan.comps {
            dc_tables.push(if dc_used {
                Some(tables.dc[td].as_ref().ok_or("a scan uses an undefined DC Huffman table")?)
            } else {
                None
            });
            ac_tables.push(if ac_used {
                Some(tables.ac[ta].as_ref().ok_or("a scan uses an undefined AC Huffman table")?)
            } else {
                None
            });
        }
        let single = scan.comps.len() == 1;
        let (mcus_x, mcus_y) = if single {
            let c = &self.comps[scan.comps[0].0];
            (c.blocks_w, c.blocks_h)
        } else {
            (self.mcus_x, self.mcus_y)
        };
        let mut bits = Bits::new(data, start);
        let mut preds = [0i32; 4];
        let mut eobrun = 0u32;
        for m in 0..mcus_x * mcus_y {
            if tables.restart_interval > 0 && m > 0 && m % tables.restart_interval == 0 {
                bits.restart();
                preds = [0; 4];
                eobrun = 0;
            }
            let (mx, my) = (m % mcus_x, m / mcus_x);
            for (k, &(ci, _, _)) in scan.comps.iter().enumerate() {
                let comp = &mut self.comps[ci];
                let (nh, nv) = if single { (1, 1) } else { (comp.h, comp.v) };
                for by in 0..nv {
                    for bx in 0..nh {
                        let (x, y) = if single { (mx, my) } else { (mx * comp.h + bx, my * comp.v + by) };
                        if !self.progressive {
                            let mut block = [0i16; 64];
                            decode_sequential(&mut bits, dc_tables[k], ac_tables[k], &mut preds[k], &mut block)?;
                            let q = comp.quant.as_ref().ok_or("no quantization table")?;
                            let stride = comp.alloc_w * 8;
                            idct_islow(&block, q, &mut comp.plane[y * 8 * stride + x * 8..], stride);
                            continue;
                        }
                        let at = (y * comp.alloc_w + x) * 64;
                        let coefs: &mut [i16; 64] =
                            (&mut comp.coefs[at..at + 64]).try_into().map_err(|_| "block out of range")?;
                        match (scan.ss, scan.ah) {
                            (0, 0) => {
                                let t = dc_tables[k].ok_or("no DC table")?.decode(&mut bits)?;
                                preds[k] = preds[k].wrapping_add(bits.extend(t as u32));
                                coefs[0] = preds[k].wrapping_shl(scan.al) as i16;
                            }
                            (0, _) => {
                                if bits.bits(1) != 0 {
                                    coefs[0] |= 1 << scan.al;
                                }
                            }
                            (_, 0) => decode_ac_first(
                                &mut bits,
                                ac_tables[k].ok_or("no AC table")?,
                                scan,
                                &mut eobrun,
                                coefs,
                            )?,
                            _ => decode_ac_refine(
                                &mut bits,
                                ac_tables[k].ok_or("no AC table")?,
                                scan,
                                &mut eobrun,
                                coefs,
                            )?,
                        }
                    }
                }
            }
        }
        self.scans += 1;
        Ok(bits.pos)
    }

    /// Inverse DCT of progressive coefficients, upsampling and colour conversion.
    fn into_rgb(mut self, saw_jfif: bool, adobe_transform: Option<u8>) -> Result<RgbImage> {
        if self.progressive {
            for comp in &mut self.comps {
                // A component no scan reached has zero coefficients; libjpeg uses its table as defined.
                let q = comp.quant.unwrap_or([1; 64]);
                let stride = comp.alloc_w * 8;
                for y in 0..comp.blocks_h {
                    for x in 0..comp.blocks_w {
                        let at = (y * comp.alloc_w + x) * 64;
                        let block: &[i16; 64] = comp.coefs[at..at + 64].try_into().map_err(|_| "block out of range")?;
                        idct_islow(block, &q, &mut comp.plane[y * 8 * stride + x * 8..], stride);
                    }
                }
                comp.coefs = Vec::new();
            }
        }
        let (w, h) = (self.width, self.height);
        let mut rgb = vec![0u8; w * h * 3];
        let mut rows: Vec<Vec<u8>> =
            self.comps.iter().map(|c| vec![0u8; (c.alloc_w * 8 * self.h_max / c.h).max(w)]).collect();
        // libjpeg's guess of the colour space of three components (jdapimin.c).
        let ids: Vec<u8> = self.comps.iter().map(|c| c.id).collect();
        let is_rgb = self.comps.len() == 3
            && !saw_jfif
            && match adobe_transform {
                Some(t) => t == 0,
                None => ids == [b'R', b'G', b'B'],
            };
        let ycc = YccTables::new();
        for y in 0..h {
            for (comp, row) in self.comps.iter().zip(rows.iter_mut()) {
                upsample_row(comp, self.h_max / comp.h, self.v_max / comp.v, y, row);
            }
            let out = &mut rgb[y * w * 3..(y + 1) * w * 3];
            match rows.as_slice() {
                [gray] => {
                    for (px, &g) in out.chunks_exact_mut(3).zip(gray.iter()) {
                        px.copy_from_slice(&[g, g, g]);
                    }
                }
                [a, b, c] if is_rgb => {
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        px.copy_from_slice(&[a[x], b[x], c[x]]);
                    }
                }
                [luma, cb, cr] => {
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        px.copy_from_slice(&ycc.rgb(luma[x], cb[x], cr[x]));
                    }
                }
                _ => return Err("unsupported component count".into()),
            }
        }
        RgbImage::from_raw(w as u32, h as u32, rgb).ok_or_else(|| "decoded size mismatch".into())
    }
}

impl Scan {
    fn parse(seg: &[u8], frame: &Frame) -> Result<Scan> {
        let n = *seg.first().ok_or("short scan header")? as usize;
        if n == 0 || n > 4 {
            return Err(format!("a scan of {n} components"));
        }
        let body = seg.get(1..1 + 2 * n + 3).ok_or("short scan header")?;
        let mut comps = Vec::with_capacity(n);
        for c in body[..2 * n].chunks_exact(2) {
            let ci = frame.comps.iter().position(|comp| comp.id == c[0]).ok_or("a scan names an unknown component")?;
            let (td, ta) = ((c[1] >> 4) as usize, (c[1] & 15) as usize);
            if td > 3 || ta > 3 {
                return Err("a scan names Huffman table > 3".into());
            }
            comps.push((ci, td, ta));
        }
        let (ss, se, ahal) = (body[2 * n] as usize, body[2 * n + 1] as usize, body[2 * n + 2]);
        let (ah, al) = ((ahal >> 4) as u32, (ahal & 15) as u32);
        let blocks: usize = comps.iter().map(|&(ci, _, _)| frame.comps[ci].h * frame.comps[ci].v).sum();
        if n > 1 && blocks > 10 {
            return Err("more than 10 blocks per MCU".into());
        }
        if frame.progressive {
            let ok = ss <= se && se <= 63 && al <= 13 && ah <= 13 && if ss == 0 { se == 0 } else { n == 1 };
            if !ok {
                return Err(format!("bad progressive scan (Ss {ss}, Se {se}, Ah {ah}, Al {al}, {n} components)"));
            }
            Ok(Scan { comps, ss, se, ah, al })
        } else {
            // Sequential scans carry every coefficient; libjpeg ignores these fields there.
            Ok(Scan { comps, ss: 0, se: 63, ah: 0, al: 0 })
        }
    }
}

/// One block of a sequential scan (T.81 F.2.2), natural order.
fn decode_sequential(
    bits: &mut Bits,
    dc: Option<&Huffman>,
    ac: Option<&Huffman>,
    pred: &mut i32,
    block: &mut [i16; 64],
) -> Result<()> {
    let (dc, ac) = (dc.ok_or("no DC table")?, ac.ok_or("no AC table")?);
    let t = dc.decode(bits)?;
    *pred = pred.wrapping_add(bits.extend(t as u32));
    block[0] = *pred as i16;
    let mut k = 1;
    while k < 64 {
        let rs = ac.decode(bits)?;
        let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
        if s != 0 {
            k += r;
            if k > 63 {
                return Err("corrupt JPEG data (coefficient past the block)".into());
            }
            block[NATURAL[k]] = bits.extend(s) as i16;
            k += 1;
        } else if r == 15 {
            k += 16;
        } else {
            break;
        }
    }
    Ok(())
}

/// First AC scan of a band (T.81 G.1.2.2).
fn decode_ac_first(bits: &mut Bits, ac: &Huffman, scan: &Scan, eobrun: &mut u32, coefs: &mut [i16; 64]) -> Result<()> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = scan.ss;
    while k <= scan.se {
        let rs = ac.decode(bits)?;
        let (r, s) = ((rs >> 4) as u32, (rs & 15) as u32);
        if s != 0 {
            k += r as usize;
            if k > 63 {
                return Err("corrupt JPEG data (coefficient past the block)".into());
            }
            coefs[NATURAL[k]] = (bits.extend(s) << scan.al) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = (1 << r) + bits.bits(r) as u32 - 1;
            break;
        }
        k += 1;
    }
    Ok(())
}

/// Refinement AC scan (T.81 G.1.2.3): one more bit of every coefficient already nonzero,
/// and new coefficients of magnitude 1.
fn decode_ac_refine(bits: &mut Bits, ac: &Huffman, scan: &Scan, eobrun: &mut u32, coefs: &mut [i16; 64]) -> Result<()> {
    let p1: i16 = 1 << scan.al;
    let m1: i16 = -1i16 << scan.al;
    // A correction bit for a coefficient already nonzero: 1 raises its magnitude.
    let refine = |bits: &mut Bits, c: &mut i16| {
        if *c != 0 && bits.bits(1) != 0 && *c & p1 == 0 {
            *c = c.wrapping_add(if *c >= 0 { p1 } else { m1 });
        }
    };
    let mut k = scan.ss;
    if *eobrun == 0 {
        while k <= scan.se {
            let rs = ac.decode(bits)?;
            let (mut r, s) = ((rs >> 4) as i32, rs & 15);
            let mut value = 0i16;
            if s != 0 {
                value = if bits.bits(1) != 0 { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = (1 << r) + bits.bits(r as u32) as u32;
                break;
            }
            while k <= scan.se {
                let c = &mut coefs[NATURAL[k]];
                if *c != 0 {
                    refine(bits, c);
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 {
                if k > 63 {
                    return Err("corrupt JPEG data (coefficient past the block)".into());
                }
                coefs[NATURAL[k]] = value;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= scan.se {
            refine(bits, &mut coefs[NATURAL[k]]);
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}

// libjpeg's ISLOW inverse DCT constants: FIX(x) = round(x · 2^13).
const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;
const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// libjpeg's post-IDCT range limit: the value plus 128, clamped, on the low 10 bits (so a
/// wildly out-of-range value from corrupt data wraps exactly as libjpeg's table does).
fn idct_sample(x: i64) -> u8 {
    let v = (x & 1023) as usize;
    match v {
        0..=127 => (v + 128) as u8,
        128..=511 => 255,
        512..=895 => 0,
        _ => (v - 896) as u8,
    }
}

/// One 1-D ISLOW inverse DCT (Loeffler–Ligtenberg–Moschytz, as `jidctint.c`) of the eight
/// values `x`, returning the eight outputs before descaling.
fn idct_1d(x: [i64; 8]) -> [i64; 8] {
    // Even part.
    let z1 = (x[2] + x[6]) * FIX_0_541196100;
    let tmp2 = z1 - x[6] * FIX_1_847759065;
    let tmp3 = z1 + x[2] * FIX_0_765366865;
    let tmp0 = (x[0] + x[4]) << CONST_BITS;
    let tmp1 = (x[0] - x[4]) << CONST_BITS;
    let (tmp10, tmp13, tmp11, tmp12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
    // Odd part.
    let (t0, t1, t2, t3) = (x[7], x[5], x[3], x[1]);
    let (z1, z2, z3, z4) = (t0 + t3, t1 + t2, t0 + t2, t1 + t3);
    let z5 = (z3 + z4) * FIX_1_175875602;
    let (t0, t1, t2, t3) = (t0 * FIX_0_298631336, t1 * FIX_2_053119869, t2 * FIX_3_072711026, t3 * FIX_1_501321110);
    let (z1, z2) = (-z1 * FIX_0_899976223, -z2 * FIX_2_562915447);
    let (z3, z4) = (-z3 * FIX_1_961570560 + z5, -z4 * FIX_0_390180644 + z5);
    let (t0, t1, t2, t3) = (t0 + z1 + z3, t1 + z2 + z4, t2 + z2 + z3, t3 + z1 + z4);
    [tmp10 + t3, tmp11 + t2, tmp12 + t1, tmp13 + t0, tmp13 - t0, tmp12 - t1, tmp11 - t2, tmp10 - t3]
}

/// Dequantises and inverse-transforms one block into `out` (8 rows of `stride`).
fn idct_islow(coefs: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [0i64; 64];
    for col in 0..8 {
        let x: [i64; 8] = std::array::from_fn(|row| coefs[row * 8 + col] as i64 * quant[row * 8 + col] as i64);
        let y = idct_1d(x);
        for row in 0..8 {
            // Integer results of the column pass are kept PASS1_BITS larger.
            ws[row * 8 + col] = descale(y[row], CONST_BITS - PASS1_BITS);
        }
    }
    for row in 0..8 {
        let x: [i64; 8] = std::array::from_fn(|c| ws[row * 8 + c]);
        let y = idct_1d(x);
        for (c, v) in y.iter().enumerate() {
            out[row * stride + c] = idct_sample(descale(*v, CONST_BITS + PASS1_BITS + 3));
        }
    }
}

/// Output row `y` of one component at full resolution (`row[..width]` and possibly a
/// sample or two beyond), as libjpeg-turbo's upsampler with `do_fancy_upsampling`: triangle
/// filters for 2:1 horizontal, 2:1 vertical and 2:1 both ways, sample replication otherwise.
/// Past the component's real samples the edge sample or row is repeated (`jdmainct.c`).
fn upsample_row(comp: &Component, h_factor: usize, v_factor: usize, y: usize, row: &mut [u8]) {
    let stride = comp.alloc_w * 8;
    let plane_row = |r: usize| &comp.plane[r * stride..r * stride + comp.width];
    let w = comp.width;
    match (h_factor, v_factor) {
        (1, 1) => row[..w].copy_from_slice(plane_row(y)),
        (2, 1) if w > 2 => {
            let s = plane_row(y);
            row[0] = s[0];
            row[1] = ((s[0] as u32 * 3 + s[1] as u32 + 2) >> 2) as u8;
            for x in 1..w - 1 {
                let v = s[x] as u32 * 3;
                row[2 * x] = ((v + s[x - 1] as u32 + 1) >> 2) as u8;
                row[2 * x + 1] = ((v + s[x + 1] as u32 + 2) >> 2) as u8;
            }
            row[2 * w - 2] = ((s[w - 1] as u32 * 3 + s[w - 2] as u32 + 1) >> 2) as u8;
            row[2 * w - 1] = s[w - 1];
        }
        (1, 2) => {
            let (near, far, bias) = vertical_pair(comp, y);
            let (near, far) = (plane_row(near), plane_row(far));
            for x in 0..w {
                row[x] = ((near[x] as u32 * 3 + far[x] as u32 + bias) >> 2) as u8;
            }
        }
        (2, 2) if w > 2 => {
            let (near, far, _) = vertical_pair(comp, y);
            let (near, far) = (plane_row(near), plane_row(far));
            let sum = |x: usize| near[x] as u32 * 3 + far[x] as u32;
            row[0] = ((sum(0) * 4 + 8) >> 4) as u8;
            row[1] = ((sum(0) * 3 + sum(1) + 7) >> 4) as u8;
            for x in 1..w - 1 {
                let this = sum(x) * 3;
                row[2 * x] = ((this + sum(x - 1) + 8) >> 4) as u8;
                row[2 * x + 1] = ((this + sum(x + 1) + 7) >> 4) as u8;
            }
            row[2 * w - 2] = ((sum(w - 1) * 3 + sum(w - 2) + 8) >> 4) as u8;
            row[2 * w - 1] = ((sum(w - 1) * 4 + 7) >> 4) as u8;
        }
        _ => {
            let s = plane_row(y / v_factor);
            for (x, out) in row.iter_mut().take(w * h_factor).enumerate() {
                *out = s[x / h_factor];
            }
        }
    }
}

/// For output row `y` of a component upsampled 2:1 vertically: its own input row, the
/// nearer neighbour (above for even rows, below for odd; the edge row repeats), and the
/// rounding bias of `h1v2_fancy_upsample` for that half.
fn vertical_pair(comp: &Component, y: usize) -> (usize, usize, u32) {
    let r = y / 2;
    if y % 2 == 0 { (r, r.saturating_sub(1), 1) } else { (r, (r + 1).min(comp.height - 1), 2) }
}

/// `jdcolor.c`'s YCbCr→RGB tables (16 fraction bits, rounding folded in).
struct YccTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i64; 256],
    cb_g: [i64; 256],
}

impl YccTables {
    fn new() -> Self {
        const SCALEBITS: u32 = 16;
        const ONE_HALF: i64 = 1 << (SCALEBITS - 1);
        let fix = |x: f64| (x * (1u64 << SCALEBITS) as f64 + 0.5) as i64;
        let mut t = YccTables { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] };
        for i in 0..256 {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        }
        t
    }

    fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let y = y as i32;
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        let g = ((self.cb_g[cb as usize] + self.cr_g[cr as usize]) >> 16) as i32;
        [clamp(y + self.cr_r[cr as usize]), clamp(y + g), clamp(y + self.cb_b[cb as usize])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idct_of_a_dc_only_block_is_flat_and_centred() {
        let mut coefs = [0i16; 64];
        coefs[0] = 80; // DC 80 × q 2 = 160 → 160 / 8 = 20 above mid-gray
        let mut out = [0u8; 64];
        idct_islow(&coefs, &[2; 64], &mut out, 8);
        assert!(out.iter().all(|&v| v == 148), "{out:?}");
    }

    #[test]
    fn range_limit_clamps_like_libjpeg_table() {
        assert_eq!(idct_sample(0), 128);
        assert_eq!(idct_sample(127), 255);
        assert_eq!(idct_sample(300), 255);
        assert_eq!(idct_sample(-128), 0);
        assert_eq!(idct_sample(-1), 127);
        assert_eq!(idct_sample(-400), 0);
    }

    #[test]
    fn ycc_tables_match_jdcolor_values() {
        let t = YccTables::new();
        assert_eq!(t.rgb(128, 128, 128), [128, 128, 128]);
        assert_eq!(t.rgb(0, 128, 255), [178, 0, 0]); // 1.402·127 = 178.05
        assert_eq!(t.rgb(255, 0, 128), [255, 255, 28]); // 255 − 1.772·128 = 28.2
    }

    #[test]
    fn huffman_codes_are_canonical() {
        // Two 2-bit codes (00 → 5, 01 → 6) and one 3-bit code (100 → 7).
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[2] = 1;
        let t = Huffman::new(&counts, &[5, 6, 7]).unwrap();
        let data = [0b0001_1000u8, 0];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(
            [t.decode(&mut bits).unwrap(), t.decode(&mut bits).unwrap(), t.decode(&mut bits).unwrap()],
            [5, 6, 7]
        );
        // Too many codes of one length is refused.
        counts[0] = 2;
        assert!(Huffman::new(&counts, &[1, 2, 5, 6, 7]).is_err());
    }
}
