//! Compacts the `zipcodes` crate's dataset at build time into the tables `domain::zip` reads.
//!
//! The crate embeds its dataset as bzip2-compressed JSON and decompresses and parses it on the first
//! lookup in a process: 0.35–0.6 s of CPU and 56 MB in an optimised build, at every cold start of
//! every function that reads a ZIP code or the area code of a phone number (register, host,
//! sms-inbound, the send worker's quiet hours). Here that happens once per build, and the binary
//! gets fixed-size records sorted by ZIP code (binary search, nothing to load), the city names, and
//! the area-code tallies the quiet-hours clock needs.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Bytes per record: ZIP (5 ASCII digits), time zone index, state index, 0, latitude and longitude
/// (i32, millionths of a degree; `i32::MIN` when the dataset has none), city index (u32). Little-endian.
const RECORD: usize = 20;
const NO_COORDINATE: i32 = i32::MIN;

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
    let mut records = Vec::with_capacity(db.len() * RECORD);
    for r in &db {
        let zip = r.zip_code.as_bytes();
        assert!(
            zip.len() == 5 && zip.iter().all(u8::is_ascii_digit),
            "ZIP code {:?} is not five digits",
            r.zip_code
        );
        records.extend_from_slice(zip);
        records.push(small(zones.of(r.timezone.trim()), "time zones"));
        records.push(small(states.of(r.state.trim()), "states"));
        records.push(0);
        records.extend_from_slice(&coordinate(&r.lat).to_le_bytes());
        records.extend_from_slice(&coordinate(&r.long).to_le_bytes());
        records.extend_from_slice(&cities.of(&r.city).to_le_bytes());
    }
    std::fs::write(out.join("zip_records.bin"), &records).expect("write zip_records.bin");
    let mut city_text = String::new();
    let mut city_ends = Vec::new();
    for name in &cities.names {
        city_text.push_str(name);
        let end = u32::try_from(city_text.len()).expect("city names fit in 4 GB");
        city_ends.extend_from_slice(&end.to_le_bytes());
    }
    std::fs::write(out.join("zip_cities.txt"), &city_text).expect("write zip_cities.txt");
    std::fs::write(out.join("zip_city_ends.bin"), &city_ends).expect("write zip_city_ends.bin");

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

    let mut rs = String::new();
    let strings = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(rs, "/// Bytes per record (see build.rs).").unwrap();
    writeln!(rs, "pub const RECORD: usize = {RECORD};").unwrap();
    writeln!(rs, "pub const NO_COORDINATE: i32 = {NO_COORDINATE};").unwrap();
    writeln!(
        rs,
        "pub static RECORDS: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/zip_records.bin\"));"
    )
    .unwrap();
    writeln!(
        rs,
        "pub static CITY_TEXT: &str = include_str!(concat!(env!(\"OUT_DIR\"), \"/zip_cities.txt\"));"
    )
    .unwrap();
    writeln!(
        rs,
        "pub static CITY_ENDS: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/zip_city_ends.bin\"));"
    )
    .unwrap();
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

/// Degrees as millionths (about 11 cm), or `NO_COORDINATE` when the text is not a number.
fn coordinate(text: &str) -> i32 {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= 180.0 => (v * 1e6).round() as i32,
        _ => NO_COORDINATE,
    }
}
