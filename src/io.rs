//! Images: `readTiff` / `writeTiff` / `overlayPng` on worker threads over `stackbridge-io`. Files
//! are read and written here (std::fs) so the event loop only wraps results; a TIFF is written
//! to a temporary name and renamed, so an interrupted run never leaves half a file.

use crate::array::NativeArray;
use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::{HostArray, SbError, SbResult};
use stackbridge_io::{ome::OmeMeta, overlay_png, read_tiff, write_tiff, Circle, Compression, WriteOptions};

#[napi(object, object_from_js = false)]
pub struct TiffRead {
  pub array: NativeArray,
  /// `TiffInfo` as JSON (pages, fileDtype, compression, OME metadata, …).
  pub info: String,
}

pub struct ReadJob {
  name: String,
  /// The bytes of a Buffer source (copied: JS memory cannot be borrowed off-thread); else read from `name`.
  bytes: Option<Vec<u8>>,
}

impl Task for ReadJob {
  type Output = (HostArray, String);
  type JsValue = TiffRead;

  fn compute(&mut self) -> Result<Self::Output> {
    guard(|| {
      let (a, info) = match &self.bytes {
        Some(b) => read_tiff(b, &self.name)?,
        None => stackbridge_io::read_tiff_file(&self.name)?,
      };
      Ok((a, info.to_json().to_string()))
    })
  }

  fn resolve(&mut self, _env: Env, (a, info): Self::Output) -> Result<TiffRead> {
    Ok(TiffRead { array: NativeArray::fresh(a), info })
  }
}

/// Decodes a TIFF from a path, or from a Buffer (`name` then only labels errors).
#[napi(ts_return_type = "Promise<TiffRead>")]
pub fn read_tiff_file(name: String, bytes: Option<Buffer>) -> Result<AsyncTask<ReadJob>> {
  guard(|| Ok(AsyncTask::new(ReadJob { name, bytes: bytes.map(|b| b.to_vec()) })))
}

pub struct WriteJob {
  path: String,
  input: HostArray,
  options: WriteOptions,
}

impl Task for WriteJob {
  type Output = ();
  type JsValue = ();

  fn compute(&mut self) -> Result<()> {
    guard(|| {
      let bytes = write_tiff(&self.input, &self.options, &self.path)?;
      let tmp = format!("{}.partial-{}", self.path, std::process::id());
      let fail = |e: std::io::Error| SbError::image_format(&self.path, format!("cannot write the file ({e})"));
      std::fs::write(&tmp, bytes).map_err(fail)?;
      std::fs::rename(&tmp, &self.path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
      })
    })
  }

  fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
    Ok(())
  }
}

fn parse_write_options(json: &str) -> SbResult<WriteOptions> {
  let v: serde_json::Value = serde_json::from_str(json).map_err(|e| SbError::invalid(format!("writeTiff options: {e}")))?;
  let compression = v.get("compression").and_then(|c| c.as_str()).map(Compression::parse).transpose()?;
  let bigtiff = v.get("bigtiff").and_then(|b| b.as_bool()).unwrap_or(false);
  let ome = match v.get("ome") {
    Some(o) if !o.is_null() => {
      let n = |k: &str| o.get("sizes").and_then(|s| s.get(k)).and_then(|x| x.as_u64()).unwrap_or(1) as usize;
      let f = |k: &str| o.get("physicalSize").and_then(|s| s.get(k)).and_then(|x| x.as_f64());
      Some(OmeMeta {
        dimension_order: o.get("dimensionOrder").and_then(|d| d.as_str()).unwrap_or("XYZCT").to_owned(),
        size_z: n("z"),
        size_c: n("c"),
        size_t: n("t"),
        physical_size_x: f("x"),
        physical_size_y: f("y"),
        physical_size_z: f("z"),
        physical_size_unit: o.get("physicalSize").and_then(|s| s.get("unit")).and_then(|u| u.as_str()).map(str::to_owned),
        channel_names: o.get("channelNames").and_then(|c| c.as_array()).map(|c| c.iter().map(|n| n.as_str().map(str::to_owned)).collect()).unwrap_or_default(),
        ..OmeMeta::default()
      })
    }
    _ => None,
  };
  Ok(WriteOptions { compression, bigtiff, ome })
}

/// Encodes a host array as a TIFF at `path` (options JSON: compression, bigtiff, ome).
#[napi(ts_return_type = "Promise<void>")]
pub fn write_tiff_file(path: String, input: &NativeArray, options: String) -> Result<AsyncTask<WriteJob>> {
  guard(|| {
    let input = input.alive()?.for_work()?;
    if input.device() != stackbridge_core::Device::Host {
      return Err(SbError::invalid(format!("writeTiff takes a host array; this one is on {} (convert it to numpy first)", input.device())));
    }
    Ok(AsyncTask::new(WriteJob { path, input, options: parse_write_options(&options)? }))
  })
}

pub struct OverlayJob {
  input: HostArray,
  z: usize,
  circles: Vec<Circle>,
}

impl Task for OverlayJob {
  type Output = Vec<u8>;
  type JsValue = Buffer;

  fn compute(&mut self) -> Result<Vec<u8>> {
    guard(|| overlay_png(&self.input, self.z, &self.circles))
  }

  fn resolve(&mut self, _env: Env, png: Vec<u8>) -> Result<Buffer> {
    Ok(png.into())
  }
}

/// PNG of slice `z` contrast-stretched with circles drawn (`circles` = x, y, r triples).
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn overlay_png_bytes(input: &NativeArray, z: u32, circles: Vec<f64>) -> Result<AsyncTask<OverlayJob>> {
  guard(|| {
    let input = input.alive()?.for_work()?;
    if circles.len() % 3 != 0 {
      return Err(SbError::invalid("overlay circles must be x, y, r triples"));
    }
    let circles = circles.chunks(3).map(|c| Circle { x: c[0], y: c[1], r: c[2] }).collect();
    Ok(AsyncTask::new(OverlayJob { input, z: z as usize, circles }))
  })
}
