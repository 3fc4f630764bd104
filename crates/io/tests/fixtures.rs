//! Files written by tifffile (`__test__/fixtures/make_fixtures.py`) decode to exactly the arrays
//! tifffile wrote; corrupt and unsupported files are `ImageFormat` errors naming file and problem.

use serde_json::Value;
use stackbridge_core::{ErrorCode, HostArray};
use stackbridge_io::{read_tiff, read_tiff_file, write_tiff, Compression, WriteOptions};
use std::path::PathBuf;

fn dir() -> PathBuf {
  PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/tiff")
}

fn manifest() -> Value {
  serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap()
}

/// The array's values as the little-endian bytes of the file's own dtype (every dtype, uint32
/// included, is read as itself).
fn file_bytes(a: &HostArray, file_dtype: &str) -> Vec<u8> {
  assert_eq!(a.dtype.name(), file_dtype);
  a.pin().unwrap().bytes().to_vec()
}

#[test]
fn tifffile_files_decode_exactly() {
  let m = manifest();
  for f in m["files"].as_array().unwrap() {
    let name = f["file"].as_str().unwrap();
    let bytes = std::fs::read(dir().join(name)).unwrap();
    let (a, info) = read_tiff(&bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let shape: Vec<usize> = f["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    assert_eq!(a.shape, shape, "{name}");
    assert_eq!(a.dtype.name(), f["dtype"].as_str().unwrap(), "{name}");
    assert_eq!(info.file_dtype, f["fileDtype"].as_str().unwrap(), "{name}");
    assert_eq!(info.bigtiff, f["bigtiff"].as_bool().unwrap(), "{name}");
    assert_eq!(info.tiled, f["tiled"].as_bool().unwrap(), "{name}");
    assert_eq!(info.ome.is_some(), f["ome"].as_bool().unwrap(), "{name}");
    let raw = std::fs::read(dir().join(format!("{name}.raw"))).unwrap();
    assert!(file_bytes(&a, info.file_dtype) == raw, "{name}: values differ from tifffile's");
    // Reading through file handles instead of the bytes in memory gives the same array.
    let (f, _) = read_tiff_file(dir().join(name).to_str().unwrap()).unwrap();
    assert!(f.dtype == a.dtype && f.pin().unwrap().bytes() == a.pin().unwrap().bytes(), "{name}: file read differs");
  }
}

#[test]
fn ome_xml_from_tifffile() {
  let bytes = std::fs::read(dir().join("ome_zcyx.ome.tif")).unwrap();
  let (a, info) = read_tiff(&bytes, "ome_zcyx.ome.tif").unwrap();
  let ome = info.ome.unwrap();
  assert_eq!(a.shape, vec![6, 32, 48]);
  assert_eq!((ome.size_z, ome.size_c, ome.size_t), (3, 2, 1));
  // tifffile stores ZCYX as OME's XYCZT (pages: C fastest, then Z).
  assert_eq!(ome.dimension_order, "XYCZT");
  assert_eq!((ome.physical_size_x, ome.physical_size_z), (Some(0.65), Some(2.0)));
  assert_eq!(ome.channel_names, vec![Some("DAPI".to_owned()), Some("GFP".to_owned())]);
}

#[test]
fn bad_files_are_image_format_errors() {
  let m = manifest();
  for f in m["bad"].as_array().unwrap() {
    let name = f["file"].as_str().unwrap();
    let bytes = std::fs::read(dir().join(name)).unwrap();
    let e = read_tiff(&bytes, name).err().unwrap_or_else(|| panic!("{name} decoded"));
    assert_eq!(e.code, ErrorCode::ImageFormat, "{name}: {e}");
    assert!(e.message.starts_with(&format!("{name}: ")), "{e}");
    assert!(e.message.contains(f["problem"].as_str().unwrap()), "{name}: {e}");
    assert_eq!(e.details["path"], name);
    let path = dir().join(name).to_str().unwrap().to_owned();
    let e = read_tiff_file(&path).err().unwrap();
    assert!(e.code == ErrorCode::ImageFormat && e.message.contains(f["problem"].as_str().unwrap()), "{e}");
  }
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
  for name in ["u16_stack_lzw.tif", "u16_deflate_predictor_bigendian.tif", "u16_deflate_tiled_predictor.tif", "f32_tiled_deflate.tif"] {
    let bytes = std::fs::read(dir().join(name)).unwrap();
    for cut in (0..bytes.len()).step_by(97) {
      let e = read_tiff(&bytes[..cut], "cut.tif").err().unwrap_or_else(|| panic!("{name} cut at {cut} decoded"));
      assert_eq!(e.code, ErrorCode::ImageFormat);
    }
  }
}

#[test]
fn writes_what_it_reads() {
  let m = manifest();
  for f in m["files"].as_array().unwrap() {
    let name = f["file"].as_str().unwrap();
    let (a, info) = read_tiff(&std::fs::read(dir().join(name)).unwrap(), name).unwrap();
    for c in [Compression::None, Compression::Lzw, Compression::Deflate, Compression::PackBits] {
      for bigtiff in [false, true] {
        let opts = WriteOptions { compression: Some(c), bigtiff, ome: info.ome.clone() };
        let out = write_tiff(&a, &opts, "out.tif").unwrap();
        let (b, binfo) = read_tiff(&out, "out.tif").unwrap();
        assert_eq!((b.shape.clone(), b.dtype), (a.shape.clone(), a.dtype), "{name} {c:?}");
        assert!(b.pin().unwrap().bytes() == a.pin().unwrap().bytes(), "{name} {c:?}");
        assert_eq!(binfo.bigtiff, bigtiff);
        assert_eq!(binfo.ome.is_some(), a.shape[0] > 1 || info.ome.is_some(), "{name}");
        if let Some(o) = &info.ome {
          assert_eq!(binfo.ome.as_ref().unwrap(), o);
        }
      }
    }
  }
}
