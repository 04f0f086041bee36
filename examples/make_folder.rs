//! Writes a folder of synthetic colour pictures for trying folder training at scale: each a
//! shaded background with one to three discs, boxes or rings in random colours.
//!
//! `cargo run --release --example make_folder -- OUT COUNT [SIZE] [CORRUPT]`: COUNT PNGs of
//! SIZE×SIZE pixels (64), numbered, and CORRUPT (0) files named like images that are not.

use image::{Rgb, RgbImage};

/// splitmix64: a seedable stream, so the same command writes the same folder.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn colour(&mut self) -> [f32; 3] {
        [self.unit(), self.unit(), self.unit()]
    }
}

fn picture(rng: &mut Rng, size: u32) -> RgbImage {
    let s = size as f32;
    let (top, bottom) = (rng.colour(), rng.colour());
    let shapes: Vec<(u64, [f32; 3], f32, f32, f32)> = (0..1 + rng.next() % 3)
        .map(|_| (rng.next() % 3, rng.colour(), rng.unit() * s, rng.unit() * s, (0.1 + 0.25 * rng.unit()) * s))
        .collect();
    RgbImage::from_fn(size, size, |x, y| {
        let t = y as f32 / s;
        let mut c = [0.0f32; 3];
        for k in 0..3 {
            c[k] = top[k] * (1.0 - t) + bottom[k] * t;
        }
        for &(kind, colour, cx, cy, r) in &shapes {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            let inside = match kind {
                0 => d < r,
                1 => dx.abs() < r && dy.abs() < 0.6 * r,
                _ => (d - r).abs() < 0.25 * r,
            };
            if inside {
                c = colour;
            }
        }
        Rgb(c.map(|v| (v * 255.0).round() as u8))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), Some(count)) = (args.first(), args.get(1).and_then(|c| c.parse::<usize>().ok())) else {
        eprintln!("usage: make_folder OUT COUNT [SIZE] [CORRUPT]");
        std::process::exit(2);
    };
    let size = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    let corrupt = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0usize);
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out).expect("create the folder");
    let mut rng = Rng(42);
    for i in 0..count {
        picture(&mut rng, size).save(out.join(format!("{i:06}.png"))).expect("write a PNG");
    }
    for i in 0..corrupt {
        std::fs::write(out.join(format!("broken{i}.png")), b"\x89PNG\r\n\x1a\nnot really").expect("write");
    }
    eprintln!("wrote {count} {size}x{size} pictures and {corrupt} broken files to {}", out.display());
}
