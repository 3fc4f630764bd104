//! OpenCL crop equals the CPU crop exactly, for every dtype.
mod common;
use common::*;

#[test]
fn crop_equals_cpu() {
  let Some(dev) = cl() else { return };
  let v = noise(3 * 17 * 23, 7, -1000.0, 1000.0);
  stackbridge_core::with_dtype!(stackbridge_core::DType::I16, T => {
    let (h, c) = pair::<T>(dev, [3, 17, 23], &v);
    assert_equivalent(dev, "crop", &h, &c, r#"{"startZ":1,"startY":2,"startX":3,"depth":2,"height":10,"width":19}"#, 0.0, 0.0);
  });
  for dt in dtypes() {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 17, 23], &v);
      assert_equivalent(dev, "crop", &h, &c, r#"{"startY":5,"width":23,"height":12,"depth":3}"#, 0.0, 0.0);
    });
  }
}
