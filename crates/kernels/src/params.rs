//! Processor options as they arrive from JavaScript (a JSON object with camelCase keys), read
//! with defaults and typed errors. Unknown keys are refused: a misspelt option must not silently
//! fall back to its default.

use serde_json::{Map, Value};
use stackbridge_core::{SbError, SbResult};

pub struct Params<'a> {
  processor: &'a str,
  map: Map<String, Value>,
}

impl<'a> Params<'a> {
  /// Parses `json` (an object, or empty / `null` for "all defaults") and checks every key is one of `allowed`.
  pub fn parse(processor: &'a str, json: &str, allowed: &[&str]) -> SbResult<Params<'a>> {
    let value: Value = if json.trim().is_empty() {
      Value::Null
    } else {
      serde_json::from_str(json).map_err(|e| SbError::invalid(format!("{processor}: options are not valid JSON: {e}")))?
    };
    let map = match value {
      Value::Null => Map::new(),
      Value::Object(m) => m,
      other => return Err(SbError::invalid(format!("{processor}: options must be an object, got {other}"))),
    };
    for key in map.keys() {
      if !allowed.contains(&key.as_str()) {
        return Err(
          SbError::invalid(format!("{processor}: unknown option {key:?}; expected one of {}", allowed.join(", "))).with("option", key.as_str()),
        );
      }
    }
    Ok(Params { processor, map })
  }

  fn get(&self, key: &str) -> Option<&Value> {
    self.map.get(key).filter(|v| !v.is_null())
  }

  fn bad(&self, key: &str, want: &str, got: &Value) -> SbError {
    SbError::invalid(format!("{}: option {key} must be {want}, got {got}", self.processor)).with("option", key)
  }

  /// A finite number.
  pub fn f64(&self, key: &str, default: f64) -> SbResult<f64> {
    match self.get(key) {
      None => Ok(default),
      Some(v) => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.bad(key, "a finite number", v)),
    }
  }

  /// A non-negative integer (a JS number with no fractional part).
  pub fn usize(&self, key: &str, default: usize) -> SbResult<usize> {
    match self.get(key) {
      None => Ok(default),
      Some(v) => v
        .as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0 && x.fract() == 0.0 && *x <= (1u64 << 48) as f64)
        .map(|x| x as usize)
        .ok_or_else(|| self.bad(key, "a non-negative integer", v)),
    }
  }

  pub fn bool(&self, key: &str, default: bool) -> SbResult<bool> {
    match self.get(key) {
      None => Ok(default),
      Some(v) => v.as_bool().ok_or_else(|| self.bad(key, "a boolean", v)),
    }
  }

  /// One of `choices`.
  pub fn choice(&self, key: &str, default: &'static str, choices: &[&'static str]) -> SbResult<&'static str> {
    match self.get(key) {
      None => Ok(default),
      Some(v) => v
        .as_str()
        .and_then(|s| choices.iter().find(|c| **c == s).copied())
        .ok_or_else(|| self.bad(key, &format!("one of {}", choices.join(", ")), v)),
    }
  }

  /// An optional list of finite numbers.
  pub fn f64_list(&self, key: &str) -> SbResult<Option<Vec<f64>>> {
    match self.get(key) {
      None => Ok(None),
      Some(Value::Array(items)) => items
        .iter()
        .map(|v| v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.bad(key, "an array of finite numbers", v)))
        .collect::<SbResult<Vec<f64>>>()
        .map(Some),
      Some(v) => Err(self.bad(key, "an array of finite numbers", v)),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  #[test]
  fn defaults_values_and_errors() {
    let p = Params::parse("t", r#"{"a": 2.5, "n": 3, "b": true, "m": "max", "w": [1, 2]}"#, &["a", "n", "b", "m", "w", "z"]).unwrap();
    assert_eq!(p.f64("a", 0.0).unwrap(), 2.5);
    assert_eq!(p.f64("z", 7.0).unwrap(), 7.0);
    assert_eq!(p.usize("n", 0).unwrap(), 3);
    assert!(p.bool("b", false).unwrap());
    assert_eq!(p.choice("m", "min", &["min", "max"]).unwrap(), "max");
    assert_eq!(p.f64_list("w").unwrap(), Some(vec![1.0, 2.0]));
    assert_eq!(p.usize("a", 0).unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(p.choice("m", "min", &["min"]).unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(Params::parse("t", r#"{"typo": 1}"#, &["a"]).err().unwrap().code, ErrorCode::InvalidArgument);
    assert_eq!(Params::parse("t", "[1]", &["a"]).err().unwrap().code, ErrorCode::InvalidArgument);
    assert!(Params::parse("t", "", &[]).is_ok());
    let neg = Params::parse("t", r#"{"n": -1}"#, &["n"]).unwrap();
    assert_eq!(neg.usize("n", 0).unwrap_err().code, ErrorCode::InvalidArgument);
  }
}
