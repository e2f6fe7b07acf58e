//! `torch.linalg`: inv, det, slogdet, solve, cholesky, qr, eigh, svd, cross.
//!
//! Forward: each matrix of the batch is copied to f64 and factored by
//! `cpu::linalg` (matrices in parallel), the results rounded to the input's
//! dtype. Backward: PyTorch's formulas (FunctionsManual.cpp) written with
//! differentiable tensor ops. Under `create_graph` the decomposition is
//! recomputed from the input with the graph recorded, so gradients of
//! gradients see how the factors depend on the input (the saved outputs
//! are detached, see `SavedTensor::output`).

use super::binary::{add, div, mul, sub};
use super::creation::{eye, scalar_like};
use super::matmul::matmul;
use super::reduce::sum_to;
use super::shape::{cat, expand_to, narrow, squeeze, transpose, unsqueeze};
use super::shape_extra::tri;
use crate::autograd::{is_grad_enabled, record, SavedTensor};
use crate::cpu::linalg as kernels;
use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::access::buffer_from_f64;
use crate::tensor::layout::{broadcast_shapes, wrap_dim};
use crate::tensor::{DType, Tensor};

// ---- shared plumbing ----

/// The matrices of a (*batch, rows, cols) tensor as one row-major f64 buffer.
struct Mats {
    batch: Vec<usize>,
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Mats {
    fn of(x: &Tensor) -> Mats {
        let nd = x.ndim();
        Mats {
            batch: x.shape()[..nd - 2].to_vec(),
            rows: x.shape()[nd - 2],
            cols: x.shape()[nd - 1],
            data: x.to_f64_vec(),
        }
    }
    fn count(&self) -> usize {
        self.batch.iter().product()
    }
    fn get(&self, b: usize) -> &[f64] {
        let size = self.rows * self.cols;
        &self.data[b * size..(b + 1) * size]
    }
    /// The batch shape followed by `dims`.
    fn shape(&self, dims: &[usize]) -> Vec<usize> {
        let mut s = self.batch.clone();
        s.extend_from_slice(dims);
        s
    }
}

fn build(vals: &[f64], shape: &[usize], dtype: DType) -> Tensor {
    Tensor::from_buffer(buffer_from_f64(vals, dtype), shape)
}

/// `f(b)` for every matrix of the batch, in parallel when there is enough
/// work (`work`: rough operations per matrix).
fn per_matrix<R: Send>(count: usize, work: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    if count > 1 && count.saturating_mul(work) >= 1 << 16 {
        parallel::map_tasks(count, f)
    } else {
        (0..count).map(f).collect()
    }
}

/// PyTorch's "(Batch element 3): " prefix of errors about one matrix of a batch.
fn batch_prefix(batched: bool, b: usize) -> String {
    match batched {
        true => format!("(Batch element {b}): "),
        false => String::new(),
    }
}

fn check_matrix(x: &Tensor, op: &str) -> Result<()> {
    if x.ndim() < 2 {
        return Err(Error::Runtime(format!(
            "{op}: The input tensor A must have at least 2 dimensions."
        )));
    }
    if x.is_gpu() {
        return Err(Error::NotImplemented(format!(
            "{op} is not implemented on the wgpu device yet; move the tensor to the CPU with .cpu() first"
        )));
    }
    Ok(())
}

fn check_float(x: &Tensor, op: &str) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::NotImplemented(format!(
            "{op}: Expected a floating point or complex tensor as input. Got {}",
            x.dtype().scalar_name()
        )));
    }
    Ok(())
}

fn check_square(x: &Tensor, op: &str) -> Result<()> {
    check_matrix(x, op)?;
    let nd = x.ndim();
    let (r, c) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    if r != c {
        return Err(Error::Runtime(format!(
            "{op}: A must be batches of square matrices, but they are {r} by {c} matrices"
        )));
    }
    check_float(x, op)
}

fn mt(x: &Tensor) -> Result<Tensor> {
    transpose(x, -2, -1)
}

/// A (*, k) tensor as diagonal (*, k, k) matrices.
fn diag_embed(x: &Tensor) -> Result<Tensor> {
    let k = x.shape()[x.ndim() - 1];
    mul(&unsqueeze(x, -1)?, &eye(k, k, x.dtype()))
}

fn scaled(x: &Tensor, v: f64) -> Result<Tensor> {
    mul(x, &scalar_like(v, x))
}

/// Whether backward must build a graph through the factors (create_graph).
fn graph_through(input: &Tensor) -> bool {
    is_grad_enabled() && input.requires_grad()
}

/// The first failing matrix of a batch: (batch index, code).
fn first_failure<T>(results: &[std::result::Result<T, usize>]) -> Option<(usize, usize)> {
    results
        .iter()
        .enumerate()
        .find_map(|(b, r)| r.as_ref().err().map(|&code| (b, code)))
}

// ---- LU: inv, det, slogdet, solve ----

/// LU factors of each matrix: (factors, pivots, permutation sign, info).
fn lu_each(m: &Mats) -> Vec<(Vec<f64>, Vec<usize>, f64, usize)> {
    let n = m.rows;
    per_matrix(m.count(), n * n * n, |b| {
        let mut f = m.get(b).to_vec();
        let mut piv = vec![0; n];
        let (sign, info) = kernels::lu(&mut f, n, &mut piv);
        (f, piv, sign, info)
    })
}

/// Inverses of a square batch; Err(info) for an exactly singular matrix
/// unless `allow_singular` (its entries are then inf/NaN, as LAPACK's).
fn inverse_values(m: &Mats, allow_singular: bool) -> Vec<std::result::Result<Vec<f64>, usize>> {
    let n = m.rows;
    per_matrix(m.count(), n * n * n, |b| {
        let mut f = m.get(b).to_vec();
        let mut piv = vec![0; n];
        let (_, info) = kernels::lu(&mut f, n, &mut piv);
        if info > 0 && !allow_singular {
            return Err(info);
        }
        let mut x = vec![0.0; n * n];
        for i in 0..n {
            x[i * n + i] = 1.0;
        }
        kernels::lu_solve(&f, &piv, n, &mut x, n);
        Ok(x)
    })
}

/// The inverse without autograd; singular matrices give inf/NaN entries.
fn inverse_raw(a: &Tensor) -> Tensor {
    let m = Mats::of(a);
    let vals: Vec<f64> = inverse_values(&m, true)
        .into_iter()
        .flat_map(|r| r.unwrap_or_default())
        .collect();
    build(&vals, a.shape(), a.dtype())
}

/// `torch.linalg.inv`.
pub fn inv(a: &Tensor) -> Result<Tensor> {
    check_square(a, "linalg.inv")?;
    let m = Mats::of(a);
    let results = inverse_values(&m, false);
    if let Some((b, info)) = first_failure(&results) {
        return Err(Error::LinAlg(format!(
            "linalg.inv: {}The diagonal element {info} is zero, the inversion could not be completed because the input matrix is singular.",
            batch_prefix(a.ndim() > 2, b)
        )));
    }
    let vals: Vec<f64> = results
        .into_iter()
        .flat_map(|r| r.unwrap_or_default())
        .collect();
    let out = build(&vals, a.shape(), a.dtype());
    let (sa, so) = (SavedTensor::new(a), SavedTensor::output(&out));
    record("LinalgInvExBackward0", &[a], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let a = sa.get()?;
        let ainv = match graph_through(a) {
            true => inv(a)?,
            false => so.get()?.clone(),
        };
        let ainv_t = mt(&ainv)?;
        Ok(vec![Some(scaled(
            &matmul(&matmul(&ainv_t, g)?, &ainv_t)?,
            -1.0,
        )?)])
    });
    Ok(out)
}

/// `torch.linalg.det`.
pub fn det(a: &Tensor) -> Result<Tensor> {
    check_square(a, "linalg.det")?;
    let m = Mats::of(a);
    let n = m.rows;
    let vals: Vec<f64> = lu_each(&m)
        .iter()
        .map(|(f, _, sign, _)| (0..n).fold(*sign, |d, i| d * f[i * n + i]))
        .collect();
    let out = build(&vals, &m.batch, a.dtype());
    let (sa, so) = (SavedTensor::new(a), SavedTensor::output(&out));
    record("LinalgDetBackward0", &[a], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let a = sa.get()?;
        // d det / dA = det * A^{-T}; PyTorch's gradient is 0 where det is 0.
        let any_singular = so.get()?.to_f64_vec().contains(&0.0);
        // (a singular matrix has no inverse to differentiate through: its
        // zero gradient is computed without a graph)
        let (d, ainv) = match graph_through(a) && !any_singular {
            true => (det(a)?, inv(a)?),
            false => {
                let d = so.get()?.clone();
                let singular: Vec<bool> = d.to_f64_vec().iter().map(|&v| v == 0.0).collect();
                let mut ainv = Mats::of(&inverse_raw(a));
                let size = n * n;
                for (b, &s) in singular.iter().enumerate() {
                    if s {
                        ainv.data[b * size..(b + 1) * size].fill(0.0);
                    }
                }
                (d, build(&ainv.data, a.shape(), a.dtype()))
            }
        };
        let dg = unsqueeze(&unsqueeze(&mul(g, &d)?, -1)?, -1)?;
        Ok(vec![Some(mul(&dg, &mt(&ainv)?)?)])
    });
    Ok(out)
}

/// `torch.linalg.slogdet`: (sign, log|det|); only the second is differentiable.
pub fn slogdet(a: &Tensor) -> Result<(Tensor, Tensor)> {
    slogdet_named(a, "linalg.slogdet")
}

pub fn slogdet_named(a: &Tensor, op: &str) -> Result<(Tensor, Tensor)> {
    check_square(a, op)?;
    let m = Mats::of(a);
    let n = m.rows;
    let (mut signs, mut logs) = (Vec::new(), Vec::new());
    for (f, _, sign, _) in lu_each(&m) {
        let (mut s, mut l) = (sign, 0.0);
        for i in 0..n {
            let d = f[i * n + i];
            s *= if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                d // 0 or NaN
            };
            l += d.abs().ln();
        }
        signs.push(s);
        logs.push(l);
    }
    let sign = build(&signs, &m.batch, a.dtype());
    let logabs = build(&logs, &m.batch, a.dtype());
    let sa = SavedTensor::new(a);
    record("LinalgSlogdetBackward0", &[a], &[&logabs], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let a = sa.get()?;
        let ainv = match graph_through(a) {
            true => inv(a)?,
            false => inverse_raw(a),
        };
        let g = unsqueeze(&unsqueeze(g, -1)?, -1)?;
        Ok(vec![Some(mul(&g, &mt(&ainv)?)?)])
    });
    Ok((sign, logabs))
}

/// `torch.linalg.solve(A, B, left)`: B is a batch of vectors when it is 1-D
/// or has A's shape without the last dim, else a batch of matrices; batch
/// dims broadcast.
pub fn solve(a: &Tensor, b: &Tensor, left: bool) -> Result<Tensor> {
    check_matrix(a, "linalg.solve")?;
    let nd = a.ndim();
    let (r, c) = (a.shape()[nd - 2], a.shape()[nd - 1]);
    if r != c {
        return Err(Error::Runtime(format!(
            "linalg.solve: A must be batches of square matrices, but they are {r} by {c} matrices"
        )));
    }
    check_float(a, "linalg.solve")?;
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "linalg.solve: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
            a.dtype().scalar_name(),
            b.dtype().scalar_name()
        )));
    }
    let vector = b.ndim() == 1 || (b.ndim() == nd - 1 && b.shape() == &a.shape()[..nd - 1]);
    let bm = if vector { unsqueeze(b, -1)? } else { b.clone() };
    let bn = bm.ndim();
    let (br, bc) = (bm.shape()[bn - 2], bm.shape()[bn - 1]);
    let fits = if left || vector { br == r } else { bc == r };
    if !fits {
        return Err(Error::Runtime(format!(
            "linalg.solve: Incompatible shapes of A and B for the equation {} ({r}x{r} and {br}x{bc})",
            if left { "AX = B" } else { "XA = B" }
        )));
    }
    let x = match (left, vector) {
        (true, _) => solve_matrices(a, &bm)?,
        (false, true) => solve_matrices(&mt(a)?, &bm)?,
        (false, false) => mt(&solve_matrices(&mt(a)?, &mt(&bm)?)?)?,
    };
    match vector {
        true => squeeze(&x, Some(&[-1])),
        false => Ok(x),
    }
}

/// A X = B for A (*a, n, n) and B (*b, n, k), batch dims broadcast.
fn solve_matrices(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (na, nb) = (a.ndim(), b.ndim());
    let n = a.shape()[na - 1];
    let k = b.shape()[nb - 1];
    let batch = broadcast_shapes(&a.shape()[..na - 2], &b.shape()[..nb - 2])?;
    let with = |dims: [usize; 2]| {
        let mut s = batch.to_vec();
        s.extend(dims);
        s
    };
    let ma = Mats::of(&expand_to(&a.detach(), &with([n, n]))?);
    let mb = Mats::of(&expand_to(&b.detach(), &with([n, k]))?);
    let results = per_matrix(ma.count(), n * n * (n + k), |i| {
        let mut f = ma.get(i).to_vec();
        let mut piv = vec![0; n];
        let (_, info) = kernels::lu(&mut f, n, &mut piv);
        if info > 0 {
            return Err(info);
        }
        let mut x = mb.get(i).to_vec();
        kernels::lu_solve(&f, &piv, n, &mut x, k);
        Ok(x)
    });
    if let Some((i, _)) = first_failure(&results) {
        return Err(Error::LinAlg(format!(
            "torch.linalg.solve: {}The solver failed because the input matrix is singular.",
            batch_prefix(!batch.is_empty(), i)
        )));
    }
    let vals: Vec<f64> = results
        .into_iter()
        .flat_map(|r| r.unwrap_or_default())
        .collect();
    let out = build(&vals, &with([n, k]), a.dtype());
    let (sa, sb, so) = (
        SavedTensor::new(a),
        SavedTensor::new(b),
        SavedTensor::output(&out),
    );
    let (a_shape, b_shape) = (a.shape().to_vec(), b.shape().to_vec());
    record("LinalgSolveExBackward0", &[a, b], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let (a, b) = (sa.get()?, sb.get()?);
        let x = match graph_through(a) || graph_through(b) {
            true => solve_matrices(a, b)?,
            false => so.get()?.clone(),
        };
        // gB = A^{-T} g, gA = -gB X^T
        let gb = solve_matrices(&mt(a)?, g)?;
        let ga = scaled(&matmul(&gb, &mt(&x)?)?, -1.0)?;
        Ok(vec![
            Some(sum_to(&ga, &a_shape)?),
            Some(sum_to(&gb, &b_shape)?),
        ])
    });
    Ok(out)
}

// ---- Cholesky ----

/// `torch.linalg.cholesky(A, upper)`.
pub fn cholesky(a: &Tensor, upper: bool) -> Result<Tensor> {
    check_square(a, "linalg.cholesky")?;
    // the upper factor of A is the transposed lower factor of A^T
    let m = Mats::of(&if upper { mt(a)? } else { a.clone() });
    let n = m.rows;
    let results = per_matrix(m.count(), n * n * n, |b| {
        let mut l = vec![0.0; n * n];
        kernels::cholesky(m.get(b), n, &mut l).map(|_| l)
    });
    if let Some((b, order)) = first_failure(&results) {
        return Err(Error::LinAlg(format!(
            "linalg.cholesky: {}The factorization could not be completed because the input is not positive-definite (the leading minor of order {order} is not positive-definite).",
            batch_prefix(a.ndim() > 2, b)
        )));
    }
    let vals: Vec<f64> = results
        .into_iter()
        .flat_map(|r| r.unwrap_or_default())
        .collect();
    let lower = build(&vals, a.shape(), a.dtype());
    let out = if upper {
        mt(&lower)?.contiguous_raw()
    } else {
        lower
    };
    let (sa, so) = (SavedTensor::new(a), SavedTensor::output(&out));
    record("LinalgCholeskyExBackward0", &[a], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let a = sa.get()?;
        let out = match graph_through(a) {
            true => cholesky(a, upper)?,
            false => so.get()?.clone(),
        };
        let (l, gl) = match upper {
            true => (mt(&out)?, mt(g)?),
            false => (out, g.clone()),
        };
        // gA = L^{-T} Phi(L^T gL) L^{-1}, Phi: lower triangle, diagonal halved
        // and mirrored (Murray 2016), as PyTorch's cholesky_backward.
        let phi = tri(&matmul(&mt(&l)?, &gl)?, 0, true)?;
        let phi = scaled(&add(&phi, &mt(&tri(&phi, -1, true)?)?)?, 0.5)?;
        let linv = inv(&l)?;
        Ok(vec![Some(matmul(&matmul(&mt(&linv)?, &phi)?, &linv)?)])
    });
    Ok(out)
}

// ---- QR ----

/// `torch.linalg.qr(A, mode)`: (Q, R); Q is empty for mode 'r'.
pub fn qr(a: &Tensor, mode: &str) -> Result<(Tensor, Tensor)> {
    let (compute_q, complete) = match mode {
        "reduced" => (true, false),
        "complete" => (true, true),
        "r" => (false, false),
        _ => {
            return Err(Error::Runtime(format!(
                "qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
            )))
        }
    };
    check_matrix(a, "linalg.qr")?;
    check_float(a, "linalg.qr")?;
    let m = Mats::of(a);
    let (rows, cols) = (m.rows, m.cols);
    let k = rows.min(cols);
    let q_cols = match (compute_q, complete) {
        (false, _) => 0,
        (true, false) => k,
        (true, true) => rows,
    };
    let r_rows = if complete { rows } else { k };
    let parts = per_matrix(m.count(), rows * cols * k, |b| {
        kernels::qr(m.get(b), rows, cols, q_cols, r_rows)
    });
    let qv: Vec<f64> = parts.iter().flat_map(|p| p.0.iter().copied()).collect();
    let rv: Vec<f64> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    let q = match compute_q {
        true => build(&qv, &m.shape(&[rows, q_cols]), a.dtype()),
        false => build(&[], &[0], a.dtype()),
    };
    let r = build(&rv, &m.shape(&[r_rows, cols]), a.dtype());
    let (sa, sq, sr) = (
        SavedTensor::new(a),
        SavedTensor::output(&q),
        SavedTensor::output(&r),
    );
    let mode = mode.to_string();
    record("LinalgQrBackward0", &[a], &[&q, &r], move |g| {
        if g.iter().all(Option::is_none) {
            return Ok(vec![None]);
        }
        if !compute_q {
            return Err(Error::Runtime(
                "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.".into(),
            ));
        }
        if complete && rows > cols {
            return Err(Error::Runtime(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
                    .into(),
            ));
        }
        let a = sa.get()?;
        let (q, r) = match graph_through(a) {
            true => qr(a, &mode)?,
            false => (sq.get()?.clone(), sr.get()?.clone()),
        };
        let gq = g[0].clone().unwrap_or(mul(&q, &scalar_like(0.0, &q))?);
        let gr = g[1].clone().unwrap_or(mul(&r, &scalar_like(0.0, &r))?);
        Ok(vec![Some(qr_backward(&gq, &gr, &q, &r, rows, cols)?)])
    });
    Ok((q, r))
}

/// Gradient of A = QR (Q: m x k, R: k x n). For m >= n:
/// M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^{-T}; for m < n the
/// trailing columns Y = Q V get gY = Q gV and fold into the square part.
fn qr_backward(
    gq: &Tensor,
    gr: &Tensor,
    q: &Tensor,
    r: &Tensor,
    m: usize,
    n: usize,
) -> Result<Tensor> {
    if m >= n {
        return qr_backward_tall(gq, gr, q, r);
    }
    let (u, v) = (
        narrow(r, -1, 0, m as i64)?,
        narrow(r, -1, m as i64, (n - m) as i64)?,
    );
    let (gu, gv) = (
        narrow(gr, -1, 0, m as i64)?,
        narrow(gr, -1, m as i64, (n - m) as i64)?,
    );
    let y = matmul(q, &v)?;
    let gx = qr_backward_tall(&add(gq, &matmul(&y, &mt(&gv)?)?)?, &gu, q, &u)?;
    let gy = matmul(q, &gv)?;
    cat(&[gx, gy], -1)
}

fn qr_backward_tall(gq: &Tensor, gr: &Tensor, q: &Tensor, r: &Tensor) -> Result<Tensor> {
    let mm = sub(&matmul(r, &mt(gr)?)?, &matmul(&mt(gq)?, q)?)?;
    let low = tri(&mm, 0, true)?;
    let copyltu = add(&low, &mt(&tri(&mm, -1, true)?)?)?;
    let b = add(gq, &matmul(q, &copyltu)?)?;
    // b R^{-T} = (R^{-1} b^T)^T
    mt(&solve_matrices(r, &mt(&b)?)?)
}

// ---- symmetric eigendecomposition ----

/// `torch.linalg.eigh(A, UPLO)`: (eigenvalues ascending, eigenvectors).
pub fn eigh(a: &Tensor, uplo: &str) -> Result<(Tensor, Tensor)> {
    let lower = match uplo {
        "L" | "l" => true,
        "U" | "u" => false,
        _ => {
            return Err(Error::Runtime(format!(
                "Expected UPLO argument to be 'L' or 'U', but got {uplo}"
            )))
        }
    };
    check_matrix(a, "linalg.eigh")?;
    let nd = a.ndim();
    let (r, c) = (a.shape()[nd - 2], a.shape()[nd - 1]);
    if r != c {
        return Err(Error::Runtime(format!(
            "linalg.eigh: A must be batches of square matrices, but they are {r} by {c} matrices"
        )));
    }
    if !a.dtype().is_float() {
        return Err(Error::not_implemented("linalg_eigh_cpu", a.dtype()));
    }
    let m = Mats::of(a);
    let n = m.rows;
    let parts = per_matrix(m.count(), 8 * n * n * n, |b| {
        let mut v = vec![0.0; n * n];
        match kernels::eigh(m.get(b), n, lower, &mut v) {
            Ok(w) => (w, v),
            // non-finite input: NaN results (as LAPACK gives for small ones)
            Err(kernels::NonFinite) => (vec![f64::NAN; n], vec![f64::NAN; n * n]),
        }
    });
    let wv: Vec<f64> = parts.iter().flat_map(|p| p.0.iter().copied()).collect();
    let vv: Vec<f64> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    let w = build(&wv, &m.shape(&[n]), a.dtype());
    let v = build(&vv, &m.shape(&[n, n]), a.dtype());
    let (sa, sw, sv) = (
        SavedTensor::new(a),
        SavedTensor::output(&w),
        SavedTensor::output(&v),
    );
    let uplo = uplo.to_string();
    record("LinalgEighBackward0", &[a], &[&w, &v], move |g| {
        if g.iter().all(Option::is_none) {
            return Ok(vec![None]);
        }
        let a = sa.get()?;
        let (w, v) = match graph_through(a) {
            true => eigh(a, &uplo)?,
            false => (sw.get()?.clone(), sv.get()?.clone()),
        };
        Ok(vec![Some(eigh_backward(
            g[0].as_ref(),
            g[1].as_ref(),
            &w,
            &v,
        )?)])
    });
    Ok((w, v))
}

/// gA = V (diag(gL) + skew(V^T gV) / E) V^T with E_ij = L_j - L_i (PyTorch's
/// linalg_eig_backward for Hermitian input; repeated eigenvalues give inf).
fn eigh_backward(
    gl: Option<&Tensor>,
    gv: Option<&Tensor>,
    w: &Tensor,
    v: &Tensor,
) -> Result<Tensor> {
    let n = w.shape()[w.ndim() - 1];
    let inner = match gv {
        Some(gv) => {
            let vhgv = matmul(&mt(v)?, gv)?;
            let skew = scaled(&sub(&vhgv, &mt(&vhgv)?)?, 0.5)?;
            let e = sub(&unsqueeze(w, -2)?, &unsqueeze(w, -1)?)?;
            let e = add(&e, &eye(n, n, w.dtype()))?;
            let ret = div(&skew, &e)?;
            match gl {
                Some(gl) => add(&ret, &diag_embed(gl)?)?,
                None => ret,
            }
        }
        None => match gl {
            Some(gl) => return matmul(&mul(v, &unsqueeze(gl, -2)?)?, &mt(v)?),
            None => {
                return Err(Error::Runtime(
                    "internal: eigh backward without gradients".into(),
                ))
            }
        },
    };
    matmul(&matmul(v, &inner)?, &mt(v)?)
}

// ---- SVD ----

/// `torch.linalg.svd(A, full_matrices)`: (U, S, Vh).
pub fn svd(a: &Tensor, full_matrices: bool) -> Result<(Tensor, Tensor, Tensor)> {
    check_matrix(a, "linalg.svd")?;
    check_float(a, "linalg.svd")?;
    let m = Mats::of(a);
    let (rows, cols) = (m.rows, m.cols);
    let k = rows.min(cols);
    let results = per_matrix(m.count(), 10 * rows * cols * k, |b| {
        kernels::svd(m.get(b), rows, cols, full_matrices).map_err(|_| 0usize)
    });
    if let Some((b, _)) = first_failure(&results) {
        return Err(Error::LinAlg(format!(
            "linalg.svd: {}The algorithm failed to converge because the input matrix contained non-finite values.",
            batch_prefix(a.ndim() > 2, b)
        )));
    }
    let parts: Vec<_> = results.into_iter().flatten().collect();
    let (uc, vr) = if full_matrices { (rows, cols) } else { (k, k) };
    let collect = |i: usize| -> Vec<f64> {
        parts
            .iter()
            .flat_map(|p| match i {
                0 => p.u.iter(),
                1 => p.s.iter(),
                _ => p.vh.iter(),
            })
            .copied()
            .collect()
    };
    let u = build(&collect(0), &m.shape(&[rows, uc]), a.dtype());
    let s = build(&collect(1), &m.shape(&[k]), a.dtype());
    let vh = build(&collect(2), &m.shape(&[vr, cols]), a.dtype());
    let (sa, su, ss, svh) = (
        SavedTensor::new(a),
        SavedTensor::output(&u),
        SavedTensor::output(&s),
        SavedTensor::output(&vh),
    );
    record("LinalgSvdBackward0", &[a], &[&u, &s, &vh], move |g| {
        if g.iter().all(Option::is_none) {
            return Ok(vec![None]);
        }
        let a = sa.get()?;
        let (u, s, vh) = match graph_through(a) {
            true => svd(a, full_matrices)?,
            false => (su.get()?.clone(), ss.get()?.clone(), svh.get()?.clone()),
        };
        // full_matrices: only the first k singular vectors are determined
        let first_cols = |x: &Tensor| narrow(x, -1, 0, k as i64);
        let first_rows = |x: &Tensor| narrow(x, -2, 0, k as i64);
        let gu = g[0].as_ref().map(first_cols).transpose()?;
        let gvh = g[2].as_ref().map(first_rows).transpose()?;
        let ga = svd_backward(
            gu.as_ref(),
            g[1].as_ref(),
            gvh.as_ref(),
            &first_cols(&u)?,
            &s,
            &first_rows(&vh)?,
        )?;
        Ok(vec![Some(ga)])
    });
    Ok((u, s, vh))
}

/// PyTorch's svd_backward (real case) for the reduced factors.
fn svd_backward(
    gu: Option<&Tensor>,
    gs: Option<&Tensor>,
    gvh: Option<&Tensor>,
    u: &Tensor,
    s: &Tensor,
    vh: &Tensor,
) -> Result<Tensor> {
    let (m, n) = (u.shape()[u.ndim() - 2], vh.shape()[vh.ndim() - 1]);
    let k = s.shape()[s.ndim() - 1];
    let s_row = unsqueeze(s, -2)?;
    let s_col = unsqueeze(s, -1)?;
    if gu.is_none() && gvh.is_none() {
        let Some(gs) = gs else {
            return Err(Error::Runtime(
                "internal: svd backward without gradients".into(),
            ));
        };
        return match m >= n {
            true => matmul(u, &mul(&unsqueeze(gs, -1)?, vh)?),
            false => matmul(&mul(u, &unsqueeze(gs, -2)?)?, vh),
        };
    }
    let skew = |x: Tensor| -> Result<Tensor> { sub(&x, &mt(&x)?) };
    let uhgu = gu.map(|gu| skew(matmul(&mt(u)?, gu)?)).transpose()?;
    let vhgv = gvh.map(|gvh| skew(matmul(vh, &mt(gvh)?)?)).transpose()?;
    let s2 = mul(s, s)?;
    let e = add(
        &sub(&unsqueeze(&s2, -2)?, &unsqueeze(&s2, -1)?)?,
        &eye(k, k, s.dtype()),
    )?;
    let mut ga = match (&uhgu, &vhgv) {
        (Some(x), Some(y)) => div(&add(&mul(x, &s_row)?, &mul(&s_col, y)?)?, &e)?,
        (Some(x), None) => mul(&div(x, &e)?, &s_row)?,
        (None, Some(y)) => mul(&s_col, &div(y, &e)?)?,
        (None, None) => unreachable!("handled above"),
    };
    if let Some(gs) = gs {
        ga = add(&ga, &diag_embed(gs)?)?;
    }
    match (gu, gvh) {
        (Some(gu), _) if m > n => {
            let ga = matmul(u, &ga)?;
            let gusinv = div(gu, &s_row)?;
            let ga = add(&ga, &sub(&gusinv, &matmul(u, &matmul(&mt(u)?, &gusinv)?)?)?)?;
            matmul(&ga, vh)
        }
        (_, Some(gvh)) if m < n => {
            let ga = matmul(&ga, vh)?;
            let sinvgvh = div(gvh, &s_col)?;
            let ga = add(
                &ga,
                &sub(&sinvgvh, &matmul(&matmul(&sinvgvh, &mt(vh)?)?, vh)?)?,
            )?;
            matmul(u, &ga)
        }
        _ if m >= n => matmul(u, &matmul(&ga, vh)?),
        _ => matmul(&matmul(u, &ga)?, vh),
    }
}

// ---- cross product ----

/// `torch.linalg.cross(a, b, dim)`: both of length 3 along `dim`, other dims
/// broadcast.
pub fn cross(a: &Tensor, b: &Tensor, dim: i64) -> Result<Tensor> {
    if a.ndim() != b.ndim() {
        return Err(Error::Runtime(
            "linalg.cross: inputs must have the same number of dimensions.".into(),
        ));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "expected scalar type {} but found {}",
            a.dtype().scalar_name(),
            b.dtype().scalar_name()
        )));
    }
    let d = wrap_dim(dim, a.ndim())?;
    let (la, lb) = (a.shape()[d], b.shape()[d]);
    if la != 3 || lb != 3 {
        return Err(Error::Runtime(format!(
            "linalg.cross: inputs dimension {dim} must have length 3. Got {la} and {lb}"
        )));
    }
    broadcast_shapes(a.shape(), b.shape())?;
    let d = d as i64;
    let part = |x: &Tensor, i: i64| narrow(x, d, i, 1);
    let (a0, a1, a2) = (part(a, 0)?, part(a, 1)?, part(a, 2)?);
    let (b0, b1, b2) = (part(b, 0)?, part(b, 1)?, part(b, 2)?);
    let c0 = sub(&mul(&a1, &b2)?, &mul(&a2, &b1)?)?;
    let c1 = sub(&mul(&a2, &b0)?, &mul(&a0, &b2)?)?;
    let c2 = sub(&mul(&a0, &b1)?, &mul(&a1, &b0)?)?;
    cat(&[c0, c1, c2], d)
}
