//! stackbridge-gpu-kernels: the device kernel sources, kept once (DESIGN §8). Each program is
//! OpenCL C written against `kernels/portability.h`, so the CUDA domain compiles the same text
//! through NVRTC. Element types and options arrive as preprocessor defines at build time; the
//! domains compile each (program, defines) pair once per device and cache it.

/// The portability header every program starts with.
pub const PORTABILITY_H: &str = include_str!("../kernels/portability.h");
/// The element-type helpers (casts, roundings) that follow it in every program built with `T_IN`.
pub const ELEMENT_H: &str = include_str!("../kernels/element.h");

/// Every program: (name, source without the header).
pub const PROGRAMS: &[(&str, &str)] = &[
  ("elementwise", include_str!("../kernels/elementwise.cl")),
  ("morphology", include_str!("../kernels/morphology.cl")),
  ("resize", include_str!("../kernels/resize.cl")),
  ("blob", include_str!("../kernels/blob.cl")),
  ("filters", include_str!("../kernels/filters.cl")),
  ("histogram", include_str!("../kernels/histogram.cl")),
  ("projection", include_str!("../kernels/projection.cl")),
  ("set", include_str!("../kernels/set.cl")),
  ("set_binary", include_str!("../kernels/set_binary.cl")),
  ("set_filters", include_str!("../kernels/set_filters.cl")),
  ("set_geometry", include_str!("../kernels/set_geometry.cl")),
];

/// The full source of program `name` (header + body), or `None` for an unknown name.
pub fn source(name: &str) -> Option<String> {
  PROGRAMS.iter().find(|(n, _)| *n == name).map(|(_, body)| format!("{PORTABILITY_H}\n{ELEMENT_H}\n#line 1\n{body}"))
}

/// Kernel type names of the engine dtypes (OpenCL C built-ins; `portability.h` typedefs them for CUDA),
/// with whether each is a float.
pub const ELEMENT_TYPES: &[(&str, bool)] =
  &[("uchar", false), ("ushort", false), ("short", false), ("int", false), ("uint", false), ("float", true), ("double", true)];

/// `-D {name}={t} -D {name}_IS_FLOAT=0|1`: how every domain passes an element type to a program.
pub fn type_defines(name: &str, t: &str, is_float: bool) -> String {
  format!("-D {name}={t} -D {name}_IS_FLOAT={}", is_float as u8)
}

/// Every (program, defines) variant the domains may build: each program for each element type, crossed
/// with its extra parameters (the working float type of `filters`/`resize`, the float morphology of
/// the downsampled top-hat, the fused blob LoG). A superset of what one run compiles, so that an
/// ahead-of-time check (the CUDA domain's NVRTC test) covers every kernel that can ever be launched.
pub fn variants() -> Vec<(&'static str, String)> {
  let mut out = Vec::new();
  for &(t, is_float) in ELEMENT_TYPES {
    let d = type_defines("T_IN", t, is_float);
    out.push(("elementwise", d.clone()));
    out.push(("histogram", d.clone()));
    out.push(("projection", d.clone()));
    out.push(("set", d.clone()));
    out.push(("set_binary", d.clone()));
    out.push(("set_filters", d.clone()));
    out.push(("morphology", type_defines("M_T", t, is_float)));
    for w in ["float", "double"] {
      out.push(("filters", format!("{d} -D W={w}")));
      out.push(("resize", format!("{d} -D W_T={w}")));
      out.push(("set_geometry", format!("{d} -D W_T={w}")));
    }
    out.push(("blob", d.clone()));
    out.push(("blob", format!("{d} -D SB_FMA=1")));
  }
  out
}

#[cfg(test)]
mod tests {
  #[test]
  fn variants_cover_every_program_and_element_type() {
    let v = super::variants();
    for (name, _) in super::PROGRAMS {
      for (t, _) in super::ELEMENT_TYPES {
        assert!(v.iter().any(|(p, d)| p == name && d.contains(&format!("={t} "))), "{name} has no {t} variant");
      }
    }
    let mut keys: Vec<_> = v.iter().collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), v.len(), "variants are distinct");
  }

  #[test]
  fn every_program_has_a_unique_name_and_kernels() {
    let mut names: Vec<_> = super::PROGRAMS.iter().map(|p| p.0).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), super::PROGRAMS.len());
    for (name, body) in super::PROGRAMS {
      assert!(body.contains("SB_KERNEL"), "{name} declares no kernel");
      assert!(super::source(name).unwrap().starts_with("/* stackbridge device kernels"));
    }
    assert!(super::source("nope").is_none());
  }
}
