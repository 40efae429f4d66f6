//! Plane geometry on text boxes: minimum-area rectangles, corner order and
//! the DB "unclip" offset. Polygon work is delegated to `geo`.

use geo::{Area, Buffer, Coord, Euclidean, Length, LineString, MinimumRotatedRect, MultiPoint, Polygon};

/// A point `[x, y]` in pixels.
pub type Point = [f32; 2];

/// Four corners, clockwise from top-left: `[tl, tr, br, bl]`.
pub type Quad = [Point; 4];

/// The smallest rotated rectangle around `points`, corners ordered
/// clockwise from top-left, with the length of its shorter side.
pub fn min_area_rect(points: &[Point]) -> Option<(Quad, f32)> {
    let cloud: MultiPoint<f64> = points.iter().map(|p| geo::Point::new(f64::from(p[0]), f64::from(p[1]))).collect();
    let rect = cloud.minimum_rotated_rect()?;
    let corners: Vec<Point> = rect.exterior().coords().take(4).map(|c| [c.x as f32, c.y as f32]).collect();
    let corners: [Point; 4] = corners.try_into().ok()?;
    let quad = order_clockwise(corners);
    let (w, h) = quad_size(&quad);
    Some((quad, w.min(h)))
}

/// Orders the corners of a rectangle-like quad as `[tl, tr, br, bl]`: the two
/// leftmost points give the left edge (upper one first), the rest the right.
pub fn order_clockwise(mut pts: [Point; 4]) -> Quad {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let (tl, bl) = if pts[0][1] <= pts[1][1] { (pts[0], pts[1]) } else { (pts[1], pts[0]) };
    let (tr, br) = if pts[2][1] <= pts[3][1] { (pts[2], pts[3]) } else { (pts[3], pts[2]) };
    [tl, tr, br, bl]
}

/// Width and height of a quad: the longer of each pair of opposite sides.
pub fn quad_size(q: &Quad) -> (f32, f32) {
    let d = |a: Point, b: Point| (a[0] - b[0]).hypot(a[1] - b[1]);
    let w = d(q[0], q[1]).max(d(q[3], q[2]));
    let h = d(q[0], q[3]).max(d(q[1], q[2]));
    (w, h)
}

/// Grows a detected kernel back to the full text extent, as DB does: the
/// polygon is offset outwards by `area * ratio / perimeter` with round joins.
/// Returns the outline of the grown polygon (empty for degenerate input).
pub fn unclip(quad: &Quad, ratio: f32) -> Vec<Point> {
    let ring: LineString<f64> = quad.iter().map(|p| Coord { x: f64::from(p[0]), y: f64::from(p[1]) }).collect();
    let polygon = Polygon::new(ring, vec![]);
    let perimeter = Euclidean.length(polygon.exterior());
    if perimeter <= f64::EPSILON {
        return Vec::new();
    }
    let distance = polygon.unsigned_area() * f64::from(ratio) / perimeter;
    if distance <= 0.0 {
        return Vec::new();
    }
    polygon
        .buffer(distance)
        .into_iter()
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        .map(|p| p.exterior().coords().map(|c| [c.x as f32, c.y as f32]).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Point, b: Point) -> bool {
        (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3
    }

    #[test]
    fn orders_corners_clockwise_from_top_left() {
        let q = order_clockwise([[10.0, 5.0], [0.0, 0.0], [0.0, 5.0], [10.0, 0.0]]);
        assert_eq!(q, [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]]);
    }

    #[test]
    fn min_area_rect_of_axis_aligned_points() {
        let pts = [[1.0, 1.0], [9.0, 1.0], [9.0, 4.0], [1.0, 4.0], [5.0, 2.0]];
        let (q, short) = min_area_rect(&pts).unwrap();
        assert!(close(q[0], [1.0, 1.0]) && close(q[1], [9.0, 1.0]));
        assert!(close(q[2], [9.0, 4.0]) && close(q[3], [1.0, 4.0]));
        assert!((short - 3.0).abs() < 1e-4);
    }

    #[test]
    fn min_area_rect_of_rotated_square() {
        // A diamond: its minimum rectangle is itself, side sqrt(2).
        let pts = [[1.0, 0.0], [2.0, 1.0], [1.0, 2.0], [0.0, 1.0]];
        let (_, short) = min_area_rect(&pts).unwrap();
        assert!((short - 2f32.sqrt()).abs() < 1e-4);
    }

    #[test]
    fn unclip_grows_each_side_by_the_db_distance() {
        // 100x10 box: area 1000, perimeter 220, ratio 1.5 -> d = 6.818...
        let quad = [[0.0, 0.0], [100.0, 0.0], [100.0, 10.0], [0.0, 10.0]];
        let grown = unclip(&quad, 1.5);
        let (rect, short) = min_area_rect(&grown).unwrap();
        let d = 1000.0 * 1.5 / 220.0;
        assert!((short - (10.0 + 2.0 * d)).abs() < 0.05, "short side {short}");
        let (w, _) = quad_size(&rect);
        assert!((w - (100.0 + 2.0 * d)).abs() < 0.05, "long side {w}");
    }

    #[test]
    fn unclip_of_degenerate_box_is_empty() {
        assert!(unclip(&[[3.0, 3.0]; 4], 1.5).is_empty());
    }
}
