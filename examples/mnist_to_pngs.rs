//! Writes the first N bundled MNIST training digits as PNGs, one subfolder per class: a folder
//! of images to try `wgan-gpu train --data DIR` on.
//! Usage: cargo run --release --example mnist_to_pngs -- DIR [N]

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: mnist_to_pngs DIR [N]")?);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60000);
    let set = wgan_gpu::data::mnist::train()?;
    let labels = set.labels.as_deref().ok_or("MNIST has labels")?;
    for (i, (label, pixels)) in labels.iter().zip(set.pixels.chunks(784)).take(n).enumerate() {
        let class = dir.join(label.to_string());
        std::fs::create_dir_all(&class)?;
        let pixels = pixels.to_vec();
        let img = image::GrayImage::from_raw(28, 28, pixels).ok_or("28x28")?;
        img.save(class.join(format!("{i:05}.png")))?;
    }
    eprintln!("wrote {} PNGs to {}", n.min(set.count), dir.display());
    Ok(())
}
