//! TIFF encoding of `[Y, X]` / `[pages, Y, X]` host arrays: one page per slice, the chosen
//! compression, OME-XML in the first page's ImageDescription for stacks (or when metadata is
//! given), BigTIFF when asked or when the data would not fit a classic TIFF's 32-bit offsets.

use crate::ome::OmeMeta;
use stackbridge_core::{DType, HostArray, SbError, SbResult};
use std::io::{Cursor, Seek, Write};
use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression as TiffCompression, TiffEncoder, TiffKind, TiffKindBig, TiffKindStandard, TiffValue};
use tiff::tags::Tag;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
  None,
  Lzw,
  Deflate,
  PackBits,
}

impl Compression {
  pub fn parse(s: &str) -> SbResult<Compression> {
    Ok(match s {
      "none" => Compression::None,
      "lzw" => Compression::Lzw,
      "deflate" | "zlib" => Compression::Deflate,
      "packbits" => Compression::PackBits,
      other => return Err(SbError::invalid(format!("unknown TIFF compression {other:?}; expected none, lzw, deflate or packbits")).with("compression", other)),
    })
  }

  fn tiff(self) -> TiffCompression {
    match self {
      Compression::None => TiffCompression::Uncompressed,
      Compression::Lzw => TiffCompression::Lzw,
      Compression::Deflate => TiffCompression::Deflate(DeflateLevel::Balanced),
      Compression::PackBits => TiffCompression::Packbits,
    }
  }
}

#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
  pub compression: Option<Compression>,
  pub bigtiff: bool,
  /// Written as OME-XML; sizes are checked against the array. A stack without it gets `XYZCT`
  /// with every page a z plane.
  pub ome: Option<OmeMeta>,
}

fn pixel_type(d: DType) -> &'static str {
  match d {
    DType::U8 => "uint8",
    DType::U16 => "uint16",
    DType::I16 => "int16",
    DType::I32 => "int32",
    DType::U32 => "uint32",
    DType::F32 => "float",
    DType::F64 => "double",
  }
}

/// Encodes `a` (host memory, 2D or 3D) as a TIFF file's bytes; `name` is only for messages.
pub fn write_tiff(a: &HostArray, opts: &WriteOptions, name: &str) -> SbResult<Vec<u8>> {
  let (pages, h, w) = match a.shape.as_slice() {
    [h, w] => (1, *h, *w),
    [p, h, w] => (*p, *h, *w),
    s => return Err(SbError::dimension(format!("writeTiff takes a [Y, X] or [Z, Y, X] array, got shape {s:?}")).with("shape", format!("{s:?}"))),
  };
  if w == 0 || h == 0 || pages == 0 || w > u32::MAX as usize || h > u32::MAX as usize {
    return Err(SbError::dimension(format!("writeTiff cannot write an image of shape {:?}", a.shape)));
  }
  let ome = match (&opts.ome, pages) {
    (Some(m), _) => {
      let m = OmeMeta { size_x: w, size_y: h, ..m.clone() };
      if m.planes() != pages {
        return Err(SbError::invalid(format!("OME metadata has SizeZ·SizeC·SizeT = {} but the array has {pages} pages", m.planes())));
      }
      Some(m)
    }
    (None, 1) => None,
    (None, _) => Some(OmeMeta { dimension_order: "XYZCT".into(), size_x: w, size_y: h, size_z: pages, size_c: 1, size_t: 1, ..OmeMeta::default() }),
  };
  let xml = ome.map(|m| m.to_xml(pixel_type(a.dtype)));
  // A classic TIFF addresses 4 GiB; leave room for the directories.
  let big = opts.bigtiff || a.nbytes() as u64 > (u32::MAX as u64) - (1 << 24);
  let pinned = a.pin()?;
  let mut out = Cursor::new(Vec::with_capacity(a.nbytes() / 2 + 4096));
  let c = opts.compression.unwrap_or(Compression::None).tiff();
  let r = if big {
    encode_as::<TiffKindBig, _>(TiffEncoder::new_big(&mut out).map(|e| e.with_compression(c)), a.dtype, pinned.bytes(), (pages, h, w), xml.as_deref())
  } else {
    encode_as::<TiffKindStandard, _>(TiffEncoder::new(&mut out).map(|e| e.with_compression(c)), a.dtype, pinned.bytes(), (pages, h, w), xml.as_deref())
  };
  r.map_err(|e| SbError::image_format(name, format!("cannot encode TIFF ({e})")))?;
  Ok(out.into_inner())
}

type Dims = (usize, usize, usize);

fn encode_as<K: TiffKind, W: Write + Seek>(enc: tiff::TiffResult<TiffEncoder<W, K>>, dtype: DType, bytes: &[u8], dims: Dims, xml: Option<&str>) -> tiff::TiffResult<()> {
  let mut enc = enc?;
  match dtype {
    DType::U8 => pages::<colortype::Gray8, _, _>(&mut enc, bytes, dims, xml),
    DType::U16 => pages::<colortype::Gray16, _, _>(&mut enc, bytes, dims, xml),
    DType::I16 => pages::<colortype::GrayI16, _, _>(&mut enc, bytes, dims, xml),
    DType::I32 => pages::<colortype::GrayI32, _, _>(&mut enc, bytes, dims, xml),
    DType::U32 => pages::<colortype::Gray32, _, _>(&mut enc, bytes, dims, xml),
    DType::F32 => pages::<colortype::Gray32Float, _, _>(&mut enc, bytes, dims, xml),
    DType::F64 => pages::<colortype::Gray64Float, _, _>(&mut enc, bytes, dims, xml),
  }
}

fn pages<C: ColorType, W: Write + Seek, K: TiffKind>(enc: &mut TiffEncoder<W, K>, bytes: &[u8], (n, h, w): Dims, xml: Option<&str>) -> tiff::TiffResult<()>
where
  [C::Inner]: TiffValue,
  C::Inner: Copy,
{
  let size = std::mem::size_of::<C::Inner>();
  let page = w * h * size;
  for p in 0..n {
    let src = &bytes[p * page..(p + 1) * page];
    // The pinned bytes are 64-byte aligned (allocator) and page offsets are multiples of `size`.
    let data: &[C::Inner] = unsafe { std::slice::from_raw_parts(src.as_ptr() as *const C::Inner, w * h) };
    let mut img = enc.new_image::<C>(w as u32, h as u32)?;
    if p == 0 {
      if let Some(x) = xml {
        img.encoder().write_tag(Tag::ImageDescription, x)?;
      }
    }
    img.write_data(data)?;
  }
  Ok(())
}
