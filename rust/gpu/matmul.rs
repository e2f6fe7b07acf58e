//! Batched matrix multiply on the device: 64x64 output tiles per workgroup,
//! 16-deep K slices staged in workgroup memory, 4x4 outputs per thread.
//! Operands are strided views (transposes cost nothing).

use super::kernels::{empty, launch};
use super::ops::{contiguous, unsupported};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

const SHADER: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

const TS: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, 1024>; // [TS][TK]
var<workgroup> Bs: array<f32, 1024>; // [TK][TS]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let m = info[0];
    let n = info[1];
    let k = info[2];
    let a_base = info[3] + wid.z * info[4];
    let a_rs = info[5];
    let a_cs = info[6];
    let b_base = info[7] + wid.z * info[8];
    let b_rs = info[9];
    let b_cs = info[10];
    let row0 = wid.y * TS;
    let col0 = wid.x * TS;
    let tid = lid.y * 16u + lid.x;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < k; k0 += TK) {
        for (var l = 0u; l < 4u; l++) {
            let e = tid + l * 256u;
            let ar = row0 + e / TK;
            let ak = k0 + e % TK;
            var av = 0.0;
            if (ar < m && ak < k) {
                av = a[a_base + ar * a_rs + ak * a_cs];
            }
            As[e] = av;
            let bk = k0 + e / TS;
            let bc = col0 + e % TS;
            var bv = 0.0;
            if (bk < k && bc < n) {
                bv = b[b_base + bk * b_rs + bc * b_cs];
            }
            Bs[e] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                ar[i] = As[(lid.y * 4u + i) * TK + kk];
                br[i] = Bs[kk * TS + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(ar[i], br[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    let out_base = wid.z * m * n;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + lid.x * 4u + j;
            if (r < m && c < n) {
                out[out_base + r * n + c] = acc[i * 4u + j];
            }
        }
    }
}
"#;

/// `a @ b` for a: (*batch, m, k), b: (*batch, k, n) (strided views).
pub fn bmm(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Result<Tensor> {
    if a.dtype() != DType::F32 {
        return Err(unsupported("matmul", a.dtype()));
    }
    // One batch stride per operand: several batch dims are flattened (copying
    // a view whose batch dims do not merge).
    let flat = |t: &Tensor| -> Result<(Tensor, usize)> {
        let nb = t.ndim() - 2;
        let s = t.strides();
        let merges =
            (0..nb.saturating_sub(1)).all(|d| s[d] == s[d + 1] * t.shape()[d + 1] as isize);
        let t = if merges && s.iter().all(|&v| v >= 0) {
            t.clone()
        } else {
            contiguous(t)?
        };
        let bs = if nb == 0 {
            0
        } else {
            t.strides()[nb - 1] as usize
        };
        Ok((t, bs))
    };
    let (a, a_bs) = flat(a)?;
    let (b, b_bs) = flat(b)?;
    let nb: usize = batch.iter().product();
    if nb > 65_535 {
        return Err(Error::Runtime(format!(
            "wgpu matmul: batch of {nb} matrices exceeds the device's 65535 workgroups"
        )));
    }
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    let out = empty(&shape, DType::F32)?;
    if m == 0 || n == 0 || nb == 0 {
        return Ok(out);
    }
    if k == 0 {
        super::ops::fill(&out, 0.0)?;
        return Ok(out);
    }
    let (ar, ac) = (a.strides()[a.ndim() - 2], a.strides()[a.ndim() - 1]);
    let (br, bc) = (b.strides()[b.ndim() - 2], b.strides()[b.ndim() - 1]);
    let info = [
        m as u32,
        n as u32,
        k as u32,
        a.offset() as u32,
        a_bs as u32,
        ar as u32,
        ac as u32,
        b.offset() as u32,
        b_bs as u32,
        br as u32,
        bc as u32,
    ];
    let groups = [n.div_ceil(64) as u32, m.div_ceil(64) as u32, nb as u32];
    launch("matmul|f32", SHADER, &info, &out, &[&a, &b], groups)?;
    Ok(out)
}
