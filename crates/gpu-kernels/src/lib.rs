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
];

/// The full source of program `name` (header + body), or `None` for an unknown name.
pub fn source(name: &str) -> Option<String> {
  PROGRAMS.iter().find(|(n, _)| *n == name).map(|(_, body)| format!("{PORTABILITY_H}\n{ELEMENT_H}\n#line 1\n{body}"))
}

#[cfg(test)]
mod tests {
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
