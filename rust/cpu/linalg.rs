//! Dense factorizations of one matrix on plain f64 slices (row-major):
//! LU with partial pivoting, Cholesky, Householder QR (LAPACK's conventions,
//! so Q and R match PyTorch's signs), symmetric eigen by Householder
//! tridiagonalisation + implicit QL (EISPACK tred2/tql2), and a one-sided
//! Jacobi SVD (accurate to full relative precision in the small singular
//! values), started from the eigenvectors of A^T A so it needs few sweeps.
//! f32 tensors are factored in f64 and rounded once at the end.

/// LU of the n x n matrix `a` in place (unit L below the diagonal, U on and
/// above), row `j` swapped with `piv[j]` at step `j`. Returns the sign of the
/// permutation and LAPACK's `info`: the 1-based index of the first exactly
/// zero pivot, 0 when there is none (the factorization still completes).
pub fn lu(a: &mut [f64], n: usize, piv: &mut [usize]) -> (f64, usize) {
    let (mut sign, mut info) = (1.0, 0);
    for j in 0..n {
        let mut p = j;
        let mut best = a[j * n + j].abs();
        for i in j + 1..n {
            let v = a[i * n + j].abs();
            if v > best || (best.is_nan() && !v.is_nan()) {
                best = v;
                p = i;
            }
        }
        piv[j] = p;
        if a[p * n + j] == 0.0 {
            if info == 0 {
                info = j + 1;
            }
            continue;
        }
        if p != j {
            for c in 0..n {
                a.swap(j * n + c, p * n + c);
            }
            sign = -sign;
        }
        let inv = 1.0 / a[j * n + j];
        for i in j + 1..n {
            let l = a[i * n + j] * inv;
            a[i * n + j] = l;
            if l != 0.0 {
                let (top, rest) = a.split_at_mut(i * n);
                let urow = &top[j * n + j + 1..j * n + n];
                for (x, &u) in rest[j + 1..n].iter_mut().zip(urow) {
                    *x -= l * u;
                }
            }
        }
    }
    (sign, info)
}

/// Solve (LU) X = B in place for `b`, n x k row-major, with `lu`/`piv` from [`lu`].
pub fn lu_solve(lu: &[f64], piv: &[usize], n: usize, b: &mut [f64], k: usize) {
    for (j, &p) in piv.iter().enumerate().take(n) {
        if p != j {
            for c in 0..k {
                b.swap(j * k + c, p * k + c);
            }
        }
    }
    // forward: unit lower
    for i in 0..n {
        let (done, rest) = b.split_at_mut(i * k);
        let row = &mut rest[..k];
        for j in 0..i {
            let l = lu[i * n + j];
            if l != 0.0 {
                for (x, &y) in row.iter_mut().zip(&done[j * k..j * k + k]) {
                    *x -= l * y;
                }
            }
        }
    }
    // backward: upper
    for i in (0..n).rev() {
        let (head, tail) = b.split_at_mut((i + 1) * k);
        let row = &mut head[i * k..];
        for j in i + 1..n {
            let u = lu[i * n + j];
            if u != 0.0 {
                let off = (j - i - 1) * k;
                for (x, &y) in row.iter_mut().zip(&tail[off..off + k]) {
                    *x -= u * y;
                }
            }
        }
        let d = 1.0 / lu[i * n + i];
        row.iter_mut().for_each(|x| *x *= d);
    }
}

/// Lower Cholesky factor of the n x n matrix `a` (only its lower triangle is
/// read), written to `l` (upper triangle zeroed). Err(order) names the first
/// leading minor that is not positive-definite (NaN counts as not).
pub fn cholesky(a: &[f64], n: usize, l: &mut [f64]) -> Result<(), usize> {
    l.iter_mut().for_each(|v| *v = 0.0);
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= l[j * n + k] * l[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return Err(j + 1);
        }
        let d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = s / d;
        }
    }
    Ok(())
}

/// Householder QR of the m x n matrix `a` (LAPACK's geqrf reflectors, so R's
/// diagonal has LAPACK's signs). `q_cols` is the number of columns of Q to
/// form (min(m, n) reduced, m complete, 0 for none); `r_rows` the rows of R.
/// Returns (Q: m x q_cols, R: r_rows x n).
pub fn qr(a: &[f64], m: usize, n: usize, q_cols: usize, r_rows: usize) -> (Vec<f64>, Vec<f64>) {
    let k = m.min(n);
    let mut w = a.to_vec();
    let mut taus = vec![0.0; k];
    let mut v = vec![0.0; m];
    for j in 0..k {
        let alpha = w[j * n + j];
        let xnorm = (j + 1..m).map(|i| w[i * n + j].powi(2)).sum::<f64>().sqrt();
        if xnorm == 0.0 {
            continue; // H = I
        }
        let beta = -alpha.hypot(xnorm).copysign(alpha);
        taus[j] = (beta - alpha) / beta;
        let scale = 1.0 / (alpha - beta);
        for i in j + 1..m {
            w[i * n + j] *= scale;
        }
        w[j * n + j] = beta;
        // apply H = I - tau v v^T (v[j] = 1) to the columns right of j
        v[j] = 1.0;
        for i in j + 1..m {
            v[i] = w[i * n + j];
        }
        for c in j + 1..n {
            let dot: f64 = (j..m).map(|i| v[i] * w[i * n + c]).sum();
            let f = taus[j] * dot;
            for i in j..m {
                w[i * n + c] -= f * v[i];
            }
        }
    }
    let mut r = vec![0.0; r_rows * n];
    for i in 0..r_rows.min(m) {
        for c in i..n {
            r[i * n + c] = w[i * n + c];
        }
    }
    let mut q = vec![0.0; m * q_cols];
    if q_cols > 0 {
        for i in 0..m.min(q_cols) {
            q[i * q_cols + i] = 1.0;
        }
        // Q = H_0 H_1 ... H_{k-1} I, applied from the last reflector
        let mut dots = vec![0.0; q_cols];
        for j in (0..k).rev() {
            let tau = taus[j];
            if tau == 0.0 {
                continue;
            }
            v[j] = 1.0;
            for i in j + 1..m {
                v[i] = w[i * n + j];
            }
            dots.iter_mut().for_each(|d| *d = 0.0);
            for i in j..m {
                for (d, &x) in dots.iter_mut().zip(&q[i * q_cols..(i + 1) * q_cols]) {
                    *d += v[i] * x;
                }
            }
            for i in j..m {
                let f = tau * v[i];
                for (x, &d) in q[i * q_cols..(i + 1) * q_cols].iter_mut().zip(&dots) {
                    *x -= f * d;
                }
            }
        }
    }
    (q, r)
}

/// The input of an eigen or singular value decomposition held a NaN or inf.
#[derive(Debug)]
pub struct NonFinite;

/// The factors of an SVD, each row-major.
pub struct Svd {
    pub u: Vec<f64>,
    pub s: Vec<f64>,
    pub vh: Vec<f64>,
}

/// A rotation (c, s) zeroing the off-diagonal of the 2 x 2 symmetric block
/// [[app, apq], [apq, aqq]] (equivalently, orthogonalising two columns with
/// squared norms app, aqq and inner product apq).
fn jacobi_rotation(app: f64, aqq: f64, apq: f64) -> (f64, f64) {
    let theta = (aqq - app) / (2.0 * apq);
    let t = if theta.abs() > 1e150 {
        0.5 / theta
    } else {
        let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
        sign / (theta.abs() + (theta * theta + 1.0).sqrt())
    };
    let c = 1.0 / (t * t + 1.0).sqrt();
    (c, c * t)
}

/// Eigenvalues (ascending) and eigenvectors (columns of the n x n row-major
/// `vectors`) of the symmetric matrix whose lower (`lower`) or upper triangle
/// `a` holds: Householder reduction to tridiagonal form, then implicit QL
/// iterations (EISPACK's tred2 / tql2, as in JAMA).
pub fn eigh(a: &[f64], n: usize, lower: bool, vectors: &mut [f64]) -> Result<Vec<f64>, NonFinite> {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let (r, c) = if (j <= i) == lower { (i, j) } else { (j, i) };
            v[i * n + j] = a[r * n + c];
        }
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(NonFinite);
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    // v becomes Q^T: the QL rotations then combine contiguous rows
    tridiagonalize(&mut v, n, &mut d, &mut e);
    let mut vt = v;
    tridiagonal_ql(&mut vt, n, &mut d, &mut e);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
    for i in 0..n {
        for (dst, &src) in order.iter().enumerate() {
            vectors[i * n + dst] = vt[src * n + i];
        }
    }
    Ok(order.iter().map(|&i| d[i]).collect())
}

/// tred2: `v` (symmetric, n x n) becomes Q^T for the orthogonal Q of
/// A = Q T Q^T, `d` and `e` T's diagonal and subdiagonal (e[0] = 0).
/// (JAMA's loops with the indices of `v` swapped: they walk rows, not columns.)
fn tridiagonalize(v: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64]) {
    for j in 0..n {
        d[j] = v[j * n + n - 1];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[j * n + i - 1];
                v[j * n + i] = 0.0;
                v[i * n + j] = 0.0;
            }
        } else {
            for x in d[..i].iter_mut() {
                *x /= scale;
                h += *x * *x;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].iter_mut().for_each(|x| *x = 0.0);
            for j in 0..i {
                f = d[j];
                v[i * n + j] = f;
                g = e[j] + v[j * n + j] * f;
                for k in j + 1..i {
                    g += v[j * n + k] * d[k];
                    e[k] += v[j * n + k] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for k in j..i {
                    v[j * n + k] -= f * e[k] + g * d[k];
                }
                d[j] = v[j * n + i - 1];
                v[j * n + i] = 0.0;
            }
        }
        d[i] = h;
    }
    // accumulate the transformations
    for i in 0..n - 1 {
        v[i * n + n - 1] = v[i * n + i];
        v[i * n + i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[(i + 1) * n + k] / h;
            }
            for j in 0..=i {
                let g: f64 = (0..=i).map(|k| v[(i + 1) * n + k] * v[j * n + k]).sum();
                for k in 0..=i {
                    v[j * n + k] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[(i + 1) * n + k] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[j * n + n - 1];
        v[j * n + n - 1] = 0.0;
    }
    v[(n - 1) * n + n - 1] = 1.0;
    e[0] = 0.0;
}

/// tql2: eigenvalues of the tridiagonal (d, e) into `d`, the rotations
/// accumulated into the rows of `vt` (the transposed eigenvector matrix).
fn tridiagonal_ql(vt: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64]) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1: f64 = 0.0;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            for _iter in 0..64 {
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in d[l + 2..].iter_mut() {
                    *x -= h;
                }
                f += h;
                // implicit QL transformation
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (lo, hi) = vt.split_at_mut((i + 1) * n);
                    for (x, y) in lo[i * n..].iter_mut().zip(&mut hi[..n]) {
                        let h = *y;
                        *y = s * *x + c * h;
                        *x = c * *x - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

/// SVD of the m x n matrix `a`: (U: m x u_cols, S: min(m, n) descending,
/// Vh: vh_rows x n), with u_cols and vh_rows either min(m, n) (reduced) or
/// m and n (full); columns beyond the rank are completed to an orthonormal
/// basis.
pub fn svd(a: &[f64], m: usize, n: usize, full: bool) -> Result<Svd, NonFinite> {
    if a.iter().any(|v| !v.is_finite()) {
        return Err(NonFinite);
    }
    if m < n {
        // A^T = V S U^T
        let mut at = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                at[j * m + i] = a[i * n + j];
            }
        }
        let Svd { u: u2, s, vh: vh2 } = svd(&at, n, m, full)?;
        // U = (Vh2)^T, Vh = (U2)^T
        let ur = m; // vh2: m x m
        let mut u = vec![0.0; m * ur];
        for i in 0..ur {
            for j in 0..m {
                u[j * ur + i] = vh2[i * m + j];
            }
        }
        let vc = if full { n } else { m }; // u2: n x vc
        let mut vh = vec![0.0; vc * n];
        for i in 0..n {
            for j in 0..vc {
                vh[j * n + i] = u2[i * vc + j];
            }
        }
        return Ok(Svd { u, s, vh });
    }
    // m >= n: one-sided Jacobi on the columns (stored contiguously)
    let mut cols = vec![0.0; n * m];
    for i in 0..m {
        for j in 0..n {
            cols[j * m + i] = a[i * n + j];
        }
    }
    let mut v = vec![0.0; n * n]; // columns of V, contiguous
    for j in 0..n {
        v[j * n + j] = 1.0;
    }
    if n >= 8 {
        precondition(&mut cols, &mut v, m, n);
    }
    let col_norm =
        |cols: &[f64], j: usize| -> f64 { cols[j * m..(j + 1) * m].iter().map(|x| x * x).sum() };
    let mut norms: Vec<f64> = (0..n).map(|j| col_norm(&cols, j)).collect();
    for _sweep in 0..80 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (cp, cq) = (&cols[p * m..(p + 1) * m], &cols[q * m..(q + 1) * m]);
                let gamma: f64 = cp.iter().zip(cq).map(|(x, y)| x * y).sum();
                let (alpha, beta) = (norms[p], norms[q]);
                if gamma == 0.0 || gamma.abs() <= 1e-15 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let (c, s) = jacobi_rotation(alpha, beta, gamma);
                let (lo, hi) = cols.split_at_mut(q * m);
                for (x, y) in lo[p * m..(p + 1) * m].iter_mut().zip(&mut hi[..m]) {
                    let (a0, b0) = (*x, *y);
                    *x = c * a0 - s * b0;
                    *y = s * a0 + c * b0;
                }
                let (lo, hi) = v.split_at_mut(q * n);
                for (x, y) in lo[p * n..(p + 1) * n].iter_mut().zip(&mut hi[..n]) {
                    let (a0, b0) = (*x, *y);
                    *x = c * a0 - s * b0;
                    *y = s * a0 + c * b0;
                }
                // the rotated squared norms, without another pass over the columns
                let t = s / c;
                norms[p] = (alpha - t * gamma).max(0.0);
                norms[q] = (beta + t * gamma).max(0.0);
            }
        }
        // exact norms for the next sweep's tests and the singular values
        for (j, x) in norms.iter_mut().enumerate() {
            *x = col_norm(&cols, j);
        }
        if !rotated {
            break;
        }
    }
    let sv: Vec<f64> = norms.iter().map(|x| x.sqrt()).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| sv[j].total_cmp(&sv[i]));
    let s: Vec<f64> = order.iter().map(|&i| sv[i]).collect();
    let smax = s.first().copied().unwrap_or(0.0);
    let tiny = smax * f64::EPSILON * m as f64;
    // U's columns (contiguous), completed where a singular value vanishes
    let u_cols = if full { m } else { n };
    let mut ucols: Vec<Vec<f64>> = Vec::with_capacity(u_cols);
    let mut missing = Vec::new();
    for (k, &j) in order.iter().enumerate() {
        if s[k] > tiny && s[k] > 0.0 {
            ucols.push(cols[j * m..(j + 1) * m].iter().map(|x| x / s[k]).collect());
        } else {
            ucols.push(vec![0.0; m]);
            missing.push(k);
        }
    }
    missing.extend(n..u_cols);
    ucols.resize(u_cols, vec![0.0; m]);
    complete_basis(&mut ucols, &missing, m);
    let mut u = vec![0.0; m * u_cols];
    for (c, col) in ucols.iter().enumerate() {
        for i in 0..m {
            u[i * u_cols + c] = col[i];
        }
    }
    let mut vh = vec![0.0; n * n];
    for (r, &j) in order.iter().enumerate() {
        vh[r * n..(r + 1) * n].copy_from_slice(&v[j * n..(j + 1) * n]);
    }
    Ok(Svd { u, s, vh })
}

/// Rotate the columns by the eigenvectors of their Gram matrix A^T A, so they
/// start nearly orthogonal and Jacobi needs a sweep or two instead of ~8
/// (the sweeps still decide the accuracy). `v` becomes those eigenvectors.
fn precondition(cols: &mut [f64], v: &mut [f64], m: usize, n: usize) {
    let mut gram = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let ci = &cols[i * m..(i + 1) * m];
            let cj = &cols[j * m..(j + 1) * m];
            gram[i * n + j] = ci.iter().zip(cj).map(|(x, y)| x * y).sum();
        }
    }
    let mut vecs = vec![0.0; n * n];
    if eigh(&gram, n, true, &mut vecs).is_err() {
        return;
    }
    let mut rotated = vec![0.0; n * m];
    for j in 0..n {
        let out = &mut rotated[j * m..(j + 1) * m];
        for k in 0..n {
            let w = vecs[k * n + j];
            if w != 0.0 {
                for (o, &x) in out.iter_mut().zip(&cols[k * m..(k + 1) * m]) {
                    *o += w * x;
                }
            }
        }
        for k in 0..n {
            v[j * n + k] = vecs[k * n + j];
        }
    }
    cols.copy_from_slice(&rotated);
}

/// Fill the columns listed in `missing` with unit vectors orthogonal to all
/// others (Gram-Schmidt, twice, of the standard basis vectors in turn).
fn complete_basis(cols: &mut [Vec<f64>], missing: &[usize], m: usize) {
    let mut candidate = 0;
    for &k in missing {
        while candidate < m {
            let mut e = vec![0.0; m];
            e[candidate] = 1.0;
            candidate += 1;
            for _ in 0..2 {
                for (j, c) in cols.iter().enumerate() {
                    if j == k || (missing.contains(&j) && c.iter().all(|&x| x == 0.0)) {
                        continue;
                    }
                    let d: f64 = c.iter().zip(&e).map(|(x, y)| x * y).sum();
                    e.iter_mut().zip(c).for_each(|(x, y)| *x -= d * y);
                }
            }
            let norm = e.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.5 {
                cols[k] = e.iter().map(|x| x / norm).collect();
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
            }
        }
        c
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-10, "{x} vs {y}");
        }
    }

    #[test]
    fn lu_solves() {
        let a = [2.0, 1.0, 1.0, 4.0, -6.0, 0.0, -2.0, 7.0, 2.0];
        let mut f = a.to_vec();
        let mut piv = [0; 3];
        let (_, info) = lu(&mut f, 3, &mut piv);
        assert_eq!(info, 0);
        let mut b = vec![5.0, -2.0, 9.0];
        lu_solve(&f, &piv, 3, &mut b, 1);
        close(&matmul(&a, &b, 3, 3, 1), &[5.0, -2.0, 9.0]);
    }

    #[test]
    fn qr_and_svd_reconstruct() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, -1.0, 0.5, 2.0];
        for (m, n) in [(4, 3), (3, 4)] {
            let k = m.min(n);
            let (q, r) = qr(&a, m, n, k, k);
            close(&matmul(&q, &r, m, k, n), &a);
            let Svd { u, s, vh } = svd(&a, m, n, false).unwrap();
            let us: Vec<f64> = (0..m * k).map(|i| u[i] * s[i % k]).collect();
            close(&matmul(&us, &vh, m, k, n), &a);
        }
    }

    #[test]
    fn eigh_diagonalises() {
        let a = [4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 1.0];
        let mut v = vec![0.0; 9];
        let w = eigh(&a, 3, true, &mut v).unwrap();
        let av = matmul(&a, &v, 3, 3, 3);
        let vw: Vec<f64> = (0..9).map(|i| v[i] * w[i % 3]).collect();
        close(&av, &vw);
    }
}
