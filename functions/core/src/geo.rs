//! Points on the Earth, great-circle distances, and the geohash cells that index gatherings by place.
//!
//! Gatherings are indexed by the geohash cell of precision 3 they lie in (1.40625° × 1.40625°, about
//! 156 km north–south and 122 km east–west at Washington DC's latitude). A search reads the origin's
//! cell and its 8 neighbours: that block contains every point within [`covered_radius_km`] of the
//! origin, which is more than 100 km anywhere in the contiguous US (75 km at Anchorage). Wider searches
//! use precision-2 cells (5.625° × 11.25°, more than 600 km in the contiguous US). A [`SearchRadius`]
//! is at most [`SearchRadius::MAX_KM`]; north of about 66° latitude even precision-2 blocks no longer
//! cover that much, and the widest searches there may miss the farthest gatherings.

use std::fmt;

/// Mean Earth radius (IUGG), in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Kilometres in one statute mile.
pub const KM_PER_MILE: f64 = 1.609_344;

/// Why coordinates or a radius are not usable.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum GeoError {
    #[error("latitude must be between -90 and 90 degrees")]
    Latitude,
    #[error("longitude must be between -180 and 180 degrees")]
    Longitude,
    #[error("the search distance must be more than 0 and at most {max_km} km")]
    Radius { max_km: f64 },
}

/// A point given by latitude and longitude in decimal degrees (WGS 84), both finite and in range.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawPoint", into = "RawPoint")]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RawPoint {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = GeoError;
    fn try_from(raw: RawPoint) -> Result<Self, GeoError> {
        GeoPoint::new(raw.lat, raw.lon)
    }
}

impl From<GeoPoint> for RawPoint {
    fn from(p: GeoPoint) -> Self {
        RawPoint {
            lat: p.lat,
            lon: p.lon,
        }
    }
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<Self, GeoError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::Latitude);
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(GeoError::Longitude);
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle distance (haversine formula on a sphere of the mean Earth radius).
    pub fn distance_to(self, other: GeoPoint) -> Distance {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        let c = 2.0 * a.sqrt().min(1.0).asin();
        Distance::from_km(EARTH_RADIUS_KM * c)
    }

    /// The geohash of this point with `precision` characters (1 to 12; clamped).
    pub fn geohash(self, precision: usize) -> String {
        let precision = precision.clamp(1, 12);
        // The coordinates are in range by construction, so encoding cannot fail; a failure would only
        // lose index coverage, never panic.
        geohash::encode(
            geohash::Coord {
                x: self.lon,
                y: self.lat,
            },
            precision,
        )
        .unwrap_or_default()
    }
}

/// A non-negative distance.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Distance {
    km: f64,
}

impl Distance {
    pub fn from_km(km: f64) -> Self {
        Self {
            km: if km.is_finite() { km.max(0.0) } else { 0.0 },
        }
    }

    pub fn from_miles(miles: f64) -> Self {
        Self::from_km(miles * KM_PER_MILE)
    }

    pub fn km(self) -> f64 {
        self.km
    }

    pub fn miles(self) -> f64 {
        self.km / KM_PER_MILE
    }
}

impl fmt::Display for Distance {
    /// Miles, the unit US participants read: "0.4 mi", "12 mi".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let miles = self.miles();
        if miles < 10.0 {
            write!(f, "{miles:.1} mi")
        } else {
            write!(f, "{miles:.0} mi")
        }
    }
}

/// How far from an origin a search looks: more than 0 and at most [`SearchRadius::MAX_KM`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct SearchRadius(Distance);

impl SearchRadius {
    /// The widest search the geohash index answers completely (below about 66° latitude).
    pub const MAX_KM: f64 = 500.0;

    pub fn km(km: f64) -> Result<Self, GeoError> {
        if km.is_finite() && km > 0.0 && km <= Self::MAX_KM {
            Ok(Self(Distance::from_km(km)))
        } else {
            Err(GeoError::Radius {
                max_km: Self::MAX_KM,
            })
        }
    }

    pub fn miles(miles: f64) -> Result<Self, GeoError> {
        Self::km(miles * KM_PER_MILE)
    }

    pub fn distance(self) -> Distance {
        self.0
    }

    pub fn contains(self, d: Distance) -> bool {
        d.km() <= self.0.km()
    }
}

/// Geohash precision of the fine index cells (about 156 km).
pub const FINE_PRECISION: usize = 3;
/// Geohash precision of the coarse index cells used for wide searches (about 625 km).
pub const COARSE_PRECISION: usize = 2;

/// Height and width in degrees of a geohash cell of `precision` characters.
fn cell_size_degrees(precision: usize) -> (f64, f64) {
    let bits = 5 * precision as i32;
    let lon_bits = (bits + 1) / 2;
    let lat_bits = bits / 2;
    (180.0 / 2f64.powi(lat_bits), 360.0 / 2f64.powi(lon_bits))
}

/// A radius around `origin` that the 3 × 3 block of cells of `precision` centred on the origin's cell is
/// guaranteed to contain: the smaller of the distance to the block's northern or southern edge (at
/// least one cell height, along a meridian) and to its eastern or western edge (at least one cell width
/// of longitude; the distance to a meridian that far away is `asin(cos φ · sin Δλ)` radians).
pub fn covered_radius(origin: GeoPoint, precision: usize) -> Distance {
    let (h, w) = cell_size_degrees(precision.clamp(1, 12));
    let north_south = EARTH_RADIUS_KM * h.to_radians();
    let east_west = EARTH_RADIUS_KM
        * (origin.lat.to_radians().cos() * w.to_radians().min(90f64.to_radians()).sin()).asin();
    Distance::from_km(north_south.min(east_west))
}

/// The origin's cell of `precision` and its (up to) 8 neighbours, without duplicates.
pub fn cells_around(origin: GeoPoint, precision: usize) -> Vec<String> {
    let centre = origin.geohash(precision);
    let mut cells = vec![centre.clone()];
    if let Ok(n) = geohash::neighbors(&centre) {
        for cell in [n.n, n.ne, n.e, n.se, n.s, n.sw, n.w, n.nw] {
            if !cells.contains(&cell) {
                cells.push(cell);
            }
        }
    }
    cells
}

/// Which cells a search around `origin` within `radius` must read: the fine 3 × 3 block when it covers
/// the radius, the coarse one otherwise.
pub fn search_cells(origin: GeoPoint, radius: SearchRadius) -> (usize, Vec<String>) {
    let precision = if covered_radius(origin, FINE_PRECISION) >= radius.distance() {
        FINE_PRECISION
    } else {
        COARSE_PRECISION
    };
    (precision, cells_around(origin, precision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dc() -> GeoPoint {
        GeoPoint::new(38.9072, -77.0369).unwrap()
    }

    #[test]
    fn washington_to_baltimore_is_about_56_km_or_35_miles() {
        let baltimore = GeoPoint::new(39.2904, -76.6122).unwrap();
        let d = dc().distance_to(baltimore);
        assert!((d.km() - 56.0).abs() < 1.5, "{} km", d.km());
        assert!((d.miles() - 35.0).abs() < 1.0, "{} mi", d.miles());
        assert_eq!(baltimore.distance_to(dc()), d);
    }

    #[test]
    fn new_york_to_los_angeles_is_about_3936_km() {
        let nyc = GeoPoint::new(40.7128, -74.0060).unwrap();
        let la = GeoPoint::new(34.0522, -118.2437).unwrap();
        assert!((nyc.distance_to(la).km() - 3936.0).abs() < 10.0);
    }

    #[test]
    fn a_point_is_no_distance_from_itself() {
        assert_eq!(dc().distance_to(dc()).km(), 0.0);
    }

    #[test]
    fn coordinates_out_of_range_are_refused() {
        assert_eq!(GeoPoint::new(91.0, 0.0), Err(GeoError::Latitude));
        assert_eq!(GeoPoint::new(0.0, -180.5), Err(GeoError::Longitude));
        assert_eq!(GeoPoint::new(f64::NAN, 0.0), Err(GeoError::Latitude));
    }

    #[test]
    fn distances_read_in_miles() {
        assert_eq!(Distance::from_miles(0.42).to_string(), "0.4 mi");
        assert_eq!(Distance::from_miles(12.4).to_string(), "12 mi");
    }

    #[test]
    fn a_search_radius_is_positive_and_at_most_500_km() {
        assert!(SearchRadius::km(25.0).is_ok());
        assert!(SearchRadius::miles(25.0).is_ok());
        assert!(SearchRadius::km(0.0).is_err());
        assert!(SearchRadius::km(501.0).is_err());
        assert!(SearchRadius::km(f64::INFINITY).is_err());
    }

    #[test]
    fn precision_three_cells_are_about_156_km_tall_and_precision_two_about_625() {
        let (h3, w3) = cell_size_degrees(3);
        assert_eq!((h3, w3), (1.40625, 1.40625));
        let (h2, w2) = cell_size_degrees(2);
        assert_eq!((h2, w2), (5.625, 11.25));
        assert!((EARTH_RADIUS_KM * h3.to_radians() - 156.4).abs() < 1.0);
    }

    #[test]
    fn the_fine_block_covers_more_than_100_km_in_the_contiguous_us_and_less_in_alaska() {
        for (lat, lon) in [
            (25.76, -80.19),
            (38.9, -77.0),
            (47.6, -122.3),
            (48.99, -95.0),
        ] {
            let r = covered_radius(GeoPoint::new(lat, lon).unwrap(), FINE_PRECISION);
            assert!(r.km() > 100.0, "{lat}: {} km", r.km());
        }
        let anchorage = covered_radius(GeoPoint::new(61.2, -149.9).unwrap(), FINE_PRECISION);
        assert!(
            anchorage.km() < 100.0 && anchorage.km() > 70.0,
            "{}",
            anchorage.km()
        );
        let coarse = covered_radius(GeoPoint::new(49.0, -95.0).unwrap(), COARSE_PRECISION);
        assert!(coarse.km() > SearchRadius::MAX_KM, "{}", coarse.km());
    }

    #[test]
    fn every_point_within_the_covered_radius_lies_in_the_block() {
        // Walk a ring just inside the covered radius around origins all over the US.
        for (lat, lon) in [
            (38.9, -77.0),
            (29.47, -98.53),
            (37.75, -122.41),
            (61.2, -149.9),
            (44.98, -93.27),
        ] {
            let origin = GeoPoint::new(lat, lon).unwrap();
            for precision in [FINE_PRECISION, COARSE_PRECISION] {
                let cells = cells_around(origin, precision);
                let r = covered_radius(origin, precision).km() * 0.999;
                for step in 0..72 {
                    let bearing = (step as f64 * 5.0).to_radians();
                    let d = r / EARTH_RADIUS_KM;
                    let (p1, l1) = (origin.lat().to_radians(), origin.lon().to_radians());
                    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos()).asin();
                    let l2 = l1
                        + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
                    let point = GeoPoint::new(p2.to_degrees(), l2.to_degrees()).unwrap();
                    assert!(
                        cells.contains(&point.geohash(precision)),
                        "{lat},{lon} p{precision} bearing {step}"
                    );
                }
            }
        }
    }

    #[test]
    fn small_searches_read_nine_fine_cells_and_wide_ones_nine_coarse_cells() {
        let (p, cells) = search_cells(dc(), SearchRadius::km(80.0).unwrap());
        assert_eq!((p, cells.len()), (FINE_PRECISION, 9));
        assert_eq!(cells[0], "dqc");
        let (p, cells) = search_cells(dc(), SearchRadius::km(300.0).unwrap());
        assert_eq!((p, cells.len()), (COARSE_PRECISION, 9));
        assert_eq!(cells[0], "dq");
    }

    #[test]
    fn cells_across_the_antimeridian_are_neighbours() {
        let fiji = GeoPoint::new(-17.0, 179.9).unwrap();
        let cells = cells_around(fiji, FINE_PRECISION);
        let across = GeoPoint::new(-17.0, -179.9)
            .unwrap()
            .geohash(FINE_PRECISION);
        assert!(cells.contains(&across));
    }
}
