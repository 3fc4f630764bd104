//! OME-XML (the ImageDescription of an OME-TIFF): dimension order, sizes, physical pixel size and
//! channel names of the first `Image`, and the XML written for stacks.

use serde_json::{json, Value};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OmeMeta {
  /// e.g. `XYZCT`: the order pages are stored in is the reverse of its last three letters' nesting.
  pub dimension_order: String,
  pub size_x: usize,
  pub size_y: usize,
  pub size_z: usize,
  pub size_c: usize,
  pub size_t: usize,
  pub physical_size_x: Option<f64>,
  pub physical_size_y: Option<f64>,
  pub physical_size_z: Option<f64>,
  pub physical_size_unit: Option<String>,
  pub channel_names: Vec<Option<String>>,
}

fn attr_usize(n: &roxmltree::Node, name: &str) -> Option<usize> {
  n.attribute(name).and_then(|v| v.trim().parse().ok())
}

fn attr_f64(n: &roxmltree::Node, name: &str) -> Option<f64> {
  n.attribute(name).and_then(|v| v.trim().parse().ok()).filter(|v: &f64| v.is_finite())
}

impl OmeMeta {
  /// Parses OME-XML; `Ok(None)` when the text is not OME (an ordinary ImageDescription).
  pub fn parse(xml: &str) -> Result<Option<OmeMeta>, String> {
    if !xml.trim_start().starts_with('<') || !xml.contains("OME") {
      return Ok(None);
    }
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("OME-XML does not parse: {e}"))?;
    if doc.root_element().tag_name().name() != "OME" {
      return Ok(None);
    }
    let pixels = doc
      .descendants()
      .find(|n| n.tag_name().name() == "Pixels")
      .ok_or("OME-XML has no Image/Pixels element")?;
    let size = |name: &str| attr_usize(&pixels, name).ok_or(format!("OME-XML Pixels lacks a valid {name}"));
    let channel_names = pixels.children().filter(|n| n.tag_name().name() == "Channel").map(|c| c.attribute("Name").map(str::to_owned)).collect();
    Ok(Some(OmeMeta {
      dimension_order: pixels.attribute("DimensionOrder").unwrap_or("XYCZT").to_owned(),
      size_x: size("SizeX")?,
      size_y: size("SizeY")?,
      size_z: size("SizeZ")?,
      size_c: size("SizeC")?,
      size_t: size("SizeT")?,
      physical_size_x: attr_f64(&pixels, "PhysicalSizeX"),
      physical_size_y: attr_f64(&pixels, "PhysicalSizeY"),
      physical_size_z: attr_f64(&pixels, "PhysicalSizeZ"),
      physical_size_unit: pixels.attribute("PhysicalSizeXUnit").map(str::to_owned),
      channel_names,
    }))
  }

  /// Pages an OME-TIFF of these sizes holds (channels are one sample each here).
  pub fn planes(&self) -> usize {
    self.size_z * self.size_c * self.size_t
  }

  pub fn to_json(&self) -> Value {
    json!({
      "dimensionOrder": self.dimension_order,
      "sizes": { "x": self.size_x, "y": self.size_y, "z": self.size_z, "c": self.size_c, "t": self.size_t },
      "physicalSize": { "x": self.physical_size_x, "y": self.physical_size_y, "z": self.physical_size_z, "unit": self.physical_size_unit },
      "channelNames": self.channel_names,
    })
  }

  /// The OME-XML of a single-image file with these sizes, for `pixel_type` (`uint16`, `float`, …).
  pub fn to_xml(&self, pixel_type: &str) -> String {
    // TIFF ASCII tags are 7-bit: anything else becomes a character reference.
    let esc = |s: &str| {
      s.chars()
        .map(|c| match c {
          '&' => "&amp;".to_owned(),
          '<' => "&lt;".to_owned(),
          '>' => "&gt;".to_owned(),
          '"' => "&quot;".to_owned(),
          c if c.is_ascii() && !c.is_ascii_control() => c.to_string(),
          c => format!("&#{};", c as u32),
        })
        .collect::<String>()
    };
    let phys = [("X", self.physical_size_x), ("Y", self.physical_size_y), ("Z", self.physical_size_z)]
      .iter()
      .filter_map(|(a, v)| v.map(|v| format!(" PhysicalSize{a}=\"{v}\"{}", self.physical_size_unit.as_deref().map(|u| format!(" PhysicalSize{a}Unit=\"{}\"", esc(u))).unwrap_or_default())))
      .collect::<String>();
    let channels = (0..self.size_c)
      .map(|c| {
        let name = self.channel_names.get(c).cloned().flatten().map(|n| format!(" Name=\"{}\"", esc(&n))).unwrap_or_default();
        format!("<Channel ID=\"Channel:0:{c}\"{name} SamplesPerPixel=\"1\"/>")
      })
      .collect::<String>();
    let tiff_data = format!("<TiffData IFD=\"0\" PlaneCount=\"{}\"/>", self.planes());
    format!(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
xsi:schemaLocation=\"http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd\" Creator=\"stackbridge\">\
<Image ID=\"Image:0\" Name=\"Image0\"><Pixels ID=\"Pixels:0\" DimensionOrder=\"{}\" Type=\"{pixel_type}\" \
SizeX=\"{}\" SizeY=\"{}\" SizeZ=\"{}\" SizeC=\"{}\" SizeT=\"{}\"{phys} BigEndian=\"false\" Interleaved=\"false\">\
{channels}{tiff_data}</Pixels></Image></OME>",
      esc(&self.dimension_order),
      self.size_x,
      self.size_y,
      self.size_z,
      self.size_c,
      self.size_t
    )
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn round_trips_through_its_own_xml() {
    let m = OmeMeta {
      dimension_order: "XYZCT".into(),
      size_x: 5,
      size_y: 4,
      size_z: 3,
      size_c: 2,
      size_t: 1,
      physical_size_x: Some(0.65),
      physical_size_y: Some(0.65),
      physical_size_z: Some(2.0),
      physical_size_unit: Some("µm".into()),
      channel_names: vec![Some("DAPI & co".into()), None],
    };
    assert_eq!(OmeMeta::parse(&m.to_xml("uint16")).unwrap(), Some(m));
  }

  #[test]
  fn plain_descriptions_are_not_ome() {
    assert_eq!(OmeMeta::parse("ImageJ=1.52\nimages=3").unwrap(), None);
    assert_eq!(OmeMeta::parse("{\"shape\": [3, 4]}").unwrap(), None);
    assert!(OmeMeta::parse("<OME><Image><Pixels SizeX=\"1\"").is_err());
  }
}
