//! The processor set (DESIGN §12) against the golden data of `__test__/golden/set/make_<group>.py`
//! (scikit-image / scipy / numpy), on the host: every case of every group's manifest through
//! `dispatch::run_named`, as the binding calls it. `SET_CASES=<group or case> cargo test -p
//! stackbridge-kernels --test golden_set` runs the cases whose name contains it. The ava suite (`__test__/set.spec.ts`) runs the same
//! cases through the TypeScript families and on OpenCL.

use serde_json::Value;
use stackbridge_core::{with_dtype, Cancel, DType, HostArray, MemoryType};
use stackbridge_kernels::dispatch::run_named;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
  Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/golden/set")
}

/// A `.npy` file (little-endian, C order; the dtypes the engine has) as a host array.
fn load_npy(name: &str) -> HostArray {
  let bytes = std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
  assert_eq!(&bytes[..6], b"\x93NUMPY", "{name}: not an npy file");
  let (hlen, start) = if bytes[6] == 1 { (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10) } else { (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12) };
  let header = std::str::from_utf8(&bytes[start..start + hlen]).unwrap();
  let field = |key: &str| -> &str {
    let i = header.find(key).unwrap_or_else(|| panic!("{name}: no {key} in {header}")) + key.len();
    header[i..].trim_start_matches([' ', ':', '\'']).split(['\'', ')']).next().unwrap()
  };
  assert!(header.contains("'fortran_order': False"), "{name}: Fortran order");
  let dtype = match field("'descr'") {
    "|u1" => DType::U8,
    "<u2" => DType::U16,
    "<i2" => DType::I16,
    "<i4" => DType::I32,
    "<u4" => DType::U32,
    "<f4" => DType::F32,
    "<f8" => DType::F64,
    d => panic!("{name}: dtype {d}"),
  };
  let shape_text = &header[header.find("'shape'").unwrap()..];
  let shape: Vec<usize> = shape_text[shape_text.find('(').unwrap() + 1..shape_text.find(')').unwrap()]
    .split(',')
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .map(|s| s.parse().unwrap())
    .collect();
  let a = HostArray::alloc(shape, dtype, MemoryType::Numpy, false).unwrap();
  let data = &bytes[start + hlen..];
  let pin = a.pin().unwrap();
  assert_eq!(data.len(), a.nbytes(), "{name}: size");
  pin.as_mut_bytes().copy_from_slice(data);
  a
}

fn values(a: &HostArray) -> Vec<f64> {
  let pin = a.pin().unwrap();
  with_dtype!(a.dtype, T => pin.as_slice::<T>().iter().map(|v| stackbridge_core::Element::to_f64(*v)).collect())
}

/// Where two JSON values differ beyond `tol` (relative above 1), or `None`.
fn special_diff(got: &Value, want: &Value, tol: f64, path: &str) -> Option<String> {
  match (want, got) {
    (Value::Number(w), Value::Number(g)) => {
      let (w, g) = (w.as_f64().unwrap(), g.as_f64().unwrap());
      ((g - w).abs() > tol * w.abs().max(1.0)).then(|| format!("{path}: {g} ≠ {w} (±{tol})"))
    }
    (Value::Array(w), Value::Array(g)) => {
      if w.len() != g.len() {
        return Some(format!("{path}: length {} ≠ {}", g.len(), w.len()));
      }
      w.iter().zip(g).enumerate().find_map(|(i, (w, g))| special_diff(g, w, tol, &format!("{path}[{i}]")))
    }
    (Value::Object(w), Value::Object(g)) => w.iter().find_map(|(k, w)| match g.get(k) {
      Some(g) => special_diff(g, w, tol, &format!("{path}.{k}")),
      None => Some(format!("{path}.{k} missing")),
    }),
    (w, g) => (w != g).then(|| format!("{path}: {g} ≠ {w}")),
  }
}

#[test]
fn every_golden_case_of_the_set_matches_its_oracle() {
  let filter = std::env::var("SET_CASES").ok().filter(|f| !f.is_empty());
  let mut ran = 0;
  let mut failures = Vec::new();
  let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
  manifests.sort();
  for path in manifests {
    let group = path.file_stem().unwrap().to_string_lossy().to_string();
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for c in manifest["cases"].as_array().unwrap() {
      let name = format!("{group}/{}", c["name"].as_str().unwrap());
      if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
        continue;
      }
      let processor = c["processor"].as_str().unwrap();
      let input = load_npy(c["input"].as_str().unwrap());
      let aux: Vec<Option<HostArray>> = c["aux"].as_array().unwrap().iter().map(|a| a.as_str().map(load_npy)).collect();
      let options = c["options"].to_string();
      let tol = c["tolerance"].as_f64().unwrap();
      let out = match run_named(processor, &input, &options, &aux, &Cancel::none()) {
        Ok(o) => o,
        Err(e) => {
          failures.push(format!("{name}: {processor} failed: {e:?}"));
          continue;
        }
      };
      ran += 1;
      if let Some(exp) = c["expected"].as_str() {
        let want = load_npy(exp);
        let Some(got) = out.array.as_ref() else {
          failures.push(format!("{name}: no array"));
          continue;
        };
        if got.shape != want.shape || got.dtype != want.dtype {
          failures.push(format!("{name}: {:?} {:?} ≠ expected {:?} {:?}", got.shape, got.dtype, want.shape, want.dtype));
          continue;
        }
        let (g, w) = (values(got), values(&want));
        let mut worst = (0.0f64, 0usize);
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
          let d = if a.is_nan() || b.is_nan() { if a.is_nan() == b.is_nan() { 0.0 } else { f64::INFINITY } } else { (a - b).abs() };
          if d > worst.0 {
            worst = (d, i);
          }
        }
        if worst.0 > tol {
          let plane = want.shape[1] * want.shape[2];
          let i = worst.1;
          failures.push(format!(
            "{name}: max |diff| {} > {tol} at [{}, {}, {}] (got {}, want {})",
            worst.0,
            i / plane.max(1),
            (i % plane.max(1)) / want.shape[2].max(1),
            i % want.shape[2].max(1),
            g[i],
            w[i]
          ));
        }
      } else if out.array.is_some() {
        failures.push(format!("{name}: a measurement returned an array"));
      }
      if !c["special"].is_null() {
        let got: Value = out.special.as_deref().map(|s| serde_json::from_str(s).unwrap()).unwrap_or(Value::Null);
        if let Some(d) = special_diff(&got, &c["special"], c["specialTolerance"].as_f64().unwrap_or(0.0), "$") {
          failures.push(format!("{name}: special output {d}"));
        }
      }
    }
  }
  eprintln!("{ran} golden set cases ran");
  assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}
