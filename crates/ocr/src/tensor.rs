//! Image → network input layout, shared by every stage's preprocessing.

use image::RgbImage;

/// Writes `image` into three consecutive planes (B, G, R) of row length
/// `stride` (≥ the image width; the rest of each row is left as is), mapping
/// each byte `v` of channel `c` to `v * scale[c] + offset[c]`.
pub fn fill_bgr_planes(image: &RgbImage, planes: &mut [f32], stride: usize, scale: [f32; 3], offset: [f32; 3]) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let plane = stride * h;
    debug_assert!(w <= stride && planes.len() >= 3 * plane);
    let (b, rest) = planes.split_at_mut(plane);
    let (g, r) = rest.split_at_mut(plane);
    for (y, row) in image.as_raw().chunks_exact(3 * w).enumerate() {
        let line = y * stride..y * stride + w;
        let (b, g, r) = (&mut b[line.clone()], &mut g[line.clone()], &mut r[line]);
        for (x, px) in row.chunks_exact(3).enumerate() {
            b[x] = f32::from(px[2]) * scale[0] + offset[0];
            g[x] = f32::from(px[1]) * scale[1] + offset[1];
            r[x] = f32::from(px[0]) * scale[2] + offset[2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_bgr_planes_with_padding_untouched() {
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([10 * (x as u8 + 1), 100, 200]));
        let mut planes = vec![-9.0; 9];
        fill_bgr_planes(&img, &mut planes, 3, [1.0, 0.5, 2.0], [0.0, 1.0, -1.0]);
        // Row stride 3: the third column of every plane is padding.
        assert_eq!(planes, vec![200.0, 200.0, -9.0, 51.0, 51.0, -9.0, 19.0, 39.0, -9.0]);
    }
}
