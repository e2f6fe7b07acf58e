//! The order in which PyTorch's TensorIterator visits the elements of its
//! operands (`reorder_dimensions`): where writes collide (`x[i] = v` with a
//! repeated index), the last one visited wins, so that order is part of the
//! answer PyTorch gives.

/// The dims of `shape` from fastest- to slowest-varying, as TensorIterator
/// orders them for operands with these element strides (the first operand
/// first): an insertion sort over the dims taken innermost first, where a
/// dim goes before another when the first operand in which neither is
/// broadcast (stride 0) has a smaller stride there, or an equal stride and
/// a size no larger; ties on every operand keep the order.
pub fn iteration_order(shape: &[usize], strides: &[Vec<isize>]) -> Vec<usize> {
    let nd = shape.len();
    // 1: dim0 goes after dim1; -1: before; 0: undecided
    let should_swap = |d0: usize, d1: usize| -> i32 {
        for s in strides {
            let (s0, s1) = (s[d0], s[d1]);
            if s0 == 0 || s1 == 0 {
                continue;
            }
            if s0 < s1 {
                return -1;
            }
            if s0 > s1 {
                return 1;
            }
            if shape[d0] > shape[d1] {
                return 1;
            }
        }
        0
    };
    let mut perm: Vec<usize> = (0..nd).rev().collect();
    for i in 1..nd {
        let mut d1 = i;
        for d0 in (0..i).rev() {
            match should_swap(perm[d0], perm[d1]) {
                c if c > 0 => {
                    perm.swap(d0, d1);
                    d1 = d0;
                }
                c if c < 0 => break,
                _ => {}
            }
        }
    }
    perm
}

/// The row-major linear positions of `shape`'s elements in the order a
/// loop over `order` (fastest dim first) visits them.
pub fn visit_positions(shape: &[usize], order: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut row_stride = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        row_stride[d] = row_stride[d + 1] * shape[d + 1];
    }
    let mut out = Vec::with_capacity(n);
    let mut counter = vec![0usize; order.len()];
    for _ in 0..n {
        out.push(
            order
                .iter()
                .zip(&counter)
                .map(|(&d, &c)| c * row_stride[d])
                .sum(),
        );
        for (k, &d) in order.iter().enumerate() {
            counter[k] += 1;
            if counter[k] < shape[d] {
                break;
            }
            counter[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_operands_keep_row_major_order() {
        let order = iteration_order(&[2, 3], &[vec![3, 1]]);
        assert_eq!(order, vec![1, 0]);
        assert_eq!(visit_positions(&[2, 3], &order), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_transposed_operand_decides_after_a_broadcast_one() {
        // output broadcast (stride 0), value transposed: column-major visits
        let order = iteration_order(&[2, 2], &[vec![0, 0], vec![1, 2]]);
        assert_eq!(order, vec![0, 1]);
        assert_eq!(visit_positions(&[2, 2], &order), vec![0, 2, 1, 3]);
    }
}
