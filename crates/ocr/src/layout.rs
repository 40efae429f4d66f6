//! Reading order: rows from top to bottom, each read left to right.

use crate::geometry::Quad;

/// Indices of `quads` in reading order. A box joins the current row when its
/// vertical centre lies within the vertical extent of the row's first box.
pub fn reading_order(quads: &[Quad]) -> Vec<usize> {
    let top = |q: &Quad| q.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
    let bottom = |q: &Quad| q.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
    let left = |q: &Quad| q.iter().map(|p| p[0]).fold(f32::MAX, f32::min);

    let mut by_top: Vec<usize> = (0..quads.len()).collect();
    by_top.sort_by(|&a, &b| top(&quads[a]).total_cmp(&top(&quads[b])));

    let mut order = Vec::with_capacity(quads.len());
    let mut row: Vec<usize> = Vec::new();
    let mut row_span = (0.0f32, 0.0f32);
    for i in by_top {
        let q = &quads[i];
        let centre = (top(q) + bottom(q)) / 2.0;
        if row.is_empty() || centre < row_span.0 || centre > row_span.1 {
            row.sort_by(|&a, &b| left(&quads[a]).total_cmp(&left(&quads[b])));
            order.append(&mut row);
            row_span = (top(q), bottom(q));
        }
        row.push(i);
    }
    row.sort_by(|&a, &b| left(&quads[a]).total_cmp(&left(&quads[b])));
    order.append(&mut row);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Quad {
        [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn rows_top_to_bottom_then_left_to_right() {
        let quads = [
            rect(300.0, 52.0, 380.0, 70.0), // TOTAL's amount, slightly lower
            rect(10.0, 100.0, 90.0, 120.0), // next row
            rect(10.0, 50.0, 120.0, 68.0),  // "TOTAL"
            rect(10.0, 10.0, 200.0, 30.0),  // header
        ];
        assert_eq!(reading_order(&quads), vec![3, 2, 0, 1]);
    }

    #[test]
    fn a_box_centred_below_the_row_starts_a_new_one() {
        let quads = [rect(0.0, 0.0, 50.0, 20.0), rect(60.0, 15.0, 90.0, 35.0)];
        assert_eq!(reading_order(&quads), vec![0, 1]);
        let quads = [rect(60.0, 0.0, 90.0, 20.0), rect(0.0, 5.0, 50.0, 25.0)];
        assert_eq!(reading_order(&quads), vec![1, 0]);
    }

    #[test]
    fn empty_input() {
        assert!(reading_order(&[]).is_empty());
    }
}
